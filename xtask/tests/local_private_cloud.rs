//! `deploykit_local` as another project uses it: a whole private local cloud (PostgreSQL,
//! registry, moto, an edge launched as `xtask local serve-edge`) in a state directory of its
//! own on free ports, next to the shared one, then stopped. Checks that `up` starts every part,
//! that a second `up` is a no-op, that status sees every part healthy, what it says about
//! workloads, and that `down` stops exactly what it started and removes the state.

use std::path::{Path, PathBuf};

use deploykit_local::{EdgeLauncher, Outcome, Part, Paths, UpOptions};
use deploykit_report::{Diagnostic as _, Level, VecReporter};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

#[test]
fn a_private_cloud_starts_is_idempotent_and_stops_exactly_its_parts() {
    let ws = workspace();
    // Under target/ (not /tmp's 0700 directories): PostgreSQL runs as `postgres` when we are root.
    let target = ws.join("target");
    std::fs::create_dir_all(&target).unwrap();
    let dir = tempfile::Builder::new()
        .prefix("localcloud-private-")
        .tempdir_in(&target)
        .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The moto venv is shared with the workspace's (made once).
    let paths = Paths::at(dir.path(), target.join("venvs"), &ws);
    let launcher = EdgeLauncher {
        program: PathBuf::from(env!("CARGO_BIN_EXE_xtask")),
        args: vec!["local".into(), "serve-edge".into()],
    };
    let opts = UpOptions {
        edge_port: free_port(),
        time_scale: 300.0,
        make_base_image: false,
        ..UpOptions::new(launcher)
    };

    let r = VecReporter::new();
    let up = deploykit_local::up(&paths, &opts, &r);
    // Whatever happens next, stop what this test started.
    struct Down<'a>(&'a Paths);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = deploykit_local::down(self.0, None, true, &deploykit_report::NullReporter);
        }
    }
    let _down = Down(&paths);
    let (state, outcomes) = up.unwrap_or_else(|e| panic!("up: {e} ({:?})", e.help()));
    assert_eq!(
        outcomes,
        Part::ALL.map(|p| (p, Outcome::Started)).to_vec(),
        "a fresh state directory starts every part"
    );
    assert_eq!(state.edge_port, opts.edge_port);
    assert_eq!(state.state_file, paths.state);
    assert!(paths.state.exists());
    let shared = deploykit_local::read_state(&Paths::for_project(&ws));
    if let Some(shared) = shared {
        assert_ne!(shared.edge_port, state.edge_port);
        assert_ne!(shared.pg.port, state.pg.port, "its own PostgreSQL");
    }
    // Workloads: real when the Docker Engine and the platform image are there, else a warning
    // that says why.
    let warnings = r.messages(Level::Warn);
    let image_there = deploykit_local::health::docker_ping().is_ok()
        && deploykit_local::base_image::image_present(
            deploykit_local::base_image::LOCAL_PYTHON_IMAGE,
        )
        .unwrap_or(false);
    assert_eq!(state.workloads.is_some(), image_there, "{warnings:?}");
    match &state.workloads {
        Some(w) => {
            assert_eq!(
                w.instance_label,
                deploykit_local::workloads::instance_label(&paths)
            );
            assert_eq!(w.state_dir, paths.root.join("workloads"));
        }
        None => assert!(
            warnings
                .iter()
                .any(|m| m.starts_with("workloads are simulated: ")),
            "{warnings:?}"
        ),
    }

    let (_, parts) = deploykit_local::status(&paths).expect("status after up");
    for p in parts.iter().filter(|p| p.part != "docker") {
        assert!(p.healthy, "{} unhealthy: {}", p.part, p.detail);
    }
    if parts.iter().any(|p| p.part == "docker" && p.healthy) {
        let containers = deploykit_local::workloads::list(&paths, Some(&state)).unwrap();
        assert!(containers.is_empty(), "{containers:?}");
    }

    // A second up changes nothing.
    let (again, outcomes) = deploykit_local::up(&paths, &opts, &VecReporter::new()).unwrap();
    assert_eq!(
        outcomes,
        Part::ALL.map(|p| (p, Outcome::AlreadyRunning)).to_vec()
    );
    assert_eq!(again.edge_url, state.edge_url);
    assert_eq!(again.pg.port, state.pg.port);

    // Down stops the four processes it recorded, and nothing is left.
    let reports = deploykit_local::down(&paths, None, true, &VecReporter::new()).expect("down");
    let stopped: Vec<&str> = reports
        .iter()
        .filter(|d| d.part != "workloads")
        .map(|d| d.part.as_str())
        .collect();
    assert_eq!(stopped, ["edge", "moto", "registry", "postgres"]);
    for d in reports.iter().filter(|d| d.part != "workloads") {
        assert!(
            d.result == "stopped" || d.result.starts_with("killed"),
            "{}: {}",
            d.part,
            d.result
        );
    }
    assert!(!paths.state.exists(), "state.json removed");
    assert!(deploykit_local::status(&paths).is_none());
    for (name, rec) in &state.processes {
        assert_ne!(
            rec.liveness(),
            deploykit_local::procs::Liveness::Ours,
            "{name} still runs"
        );
    }
}
