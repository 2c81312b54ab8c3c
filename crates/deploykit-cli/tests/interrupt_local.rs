//! The real thing on the local cloud: `deploy eb` of a fresh environment is interrupted with a
//! real SIGINT once its apply has recorded itself in the in-flight journal (its first change
//! is next); it exits 130 naming the label in flight, keeps the journal and releases the lock;
//! the same deploy run again reports the interrupted run, converges and removes the journal.
//!
//! Uses the local cloud `cargo xtask test` started (deploykit-testsupport), with its own names,
//! from a private project directory whose `target/localcloud` and `target/venvs` are the
//! shared cloud's. Unix only (it sends signals with `kill`).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use deploykit::journal;
use deploykit_testsupport::{LocalCloud, local_cloud, unique_name};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace")
}

/// A project directory sharing the running local cloud (and its venvs).
fn project(dir: &Path, cloud: &LocalCloud, base: &str) {
    let state_dir = cloud
        .state_file
        .parent()
        .expect("state.json has a directory");
    let target = dir.join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(state_dir, target.join("localcloud")).unwrap();
    let venvs = state_dir
        .parent()
        .map(|t| t.join("venvs"))
        .expect("the cloud's target/");
    std::os::unix::fs::symlink(venvs, target.join("venvs")).unwrap();
    let edge = cloud.edge_url.trim_start_matches("http://");
    let text = format!(
        r#"default_target = "local"

[app]
name = "{base}"
path = "{app}"
health_path = "/healthz"

[targets.local]
region = "us-east-1"
local = true
endpoint_url = "{edge_url}"
http_resolve = "{edge}"

[eb]
application = "{base}"
environment = "{base}"
service_role = "{base}-eb-service"
instance_profile = "{base}-eb-ec2"

[database]
instance = "{base}-db"
db_name = "{db_name}"
username = "app"

[secrets]
SECRET_KEY = {{ secret = "{base}/secret-key" }}
DATABASE_URL = {{ secret = "{base}/db-url" }}
"#,
        app = workspace().join("examples/budgetsync").display(),
        edge_url = cloud.edge_url,
        // The local cloud's instances share one PostgreSQL cluster: a database name of our own.
        db_name = base.replace('-', "_"),
    );
    std::fs::write(dir.join("deploy.toml"), text).unwrap();
}

fn deploy(dir: &Path, cloud: &LocalCloud) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deploykit"));
    c.current_dir(dir)
        .arg("--config")
        .arg(dir.join("deploy.toml"))
        .args(["--output", "json", "deploy", "eb"])
        .env_remove("DEPLOYKIT_TARGET")
        .env_remove("DEPLOYKIT_CONFIG")
        .env_remove("AWS_PROFILE")
        .env("DEPLOYKIT_LOCAL_STATE", &cloud.state_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits (bounded) until `path` exists while `child` runs.
fn wait_for_file(child: &mut Child, path: &Path, within: Duration) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if path.exists() {
            return Ok(());
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Err(format!(
                "the deploy ended ({status}) before {}",
                path.display()
            ));
        }
        if started.elapsed() > within {
            return Err(format!("no {} within {within:?}", path.display()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_eb_deploy_exits_130_and_the_rerun_converges() {
    let cloud = local_cloud().await;
    let base = unique_name("irq");
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), &cloud, &base);
    let inflight = journal::path(dir.path(), "local", &base);

    let mut child = deploy(dir.path(), &cloud).spawn().expect("spawn deploykit");
    if let Err(why) = wait_for_file(&mut child, &inflight, Duration::from_secs(600)) {
        let _ = child.kill();
        let out = child.wait_with_output().expect("output");
        panic!("{why}\n{}", text(&out));
    }
    let entry = journal::read(dir.path(), "local", &base)
        .expect("readable")
        .expect("the entry");
    assert_eq!(entry.pid, child.id());
    assert_eq!(
        entry.previous, None,
        "a fresh environment ran nothing before"
    );
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
    let sent = Instant::now();
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "{:?}",
        sent.elapsed()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"code\":130")
            && stdout.contains(&format!("deploying {} to {base}", entry.deploying))
            && stdout.contains("deploy eb"),
        "{}",
        text(&out)
    );
    assert!(inflight.exists(), "the interrupted run's journal stays");
    let lock = deploykit::lock::lock_path(dir.path(), "local", &base);
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap_or_default(),
        "",
        "the lock was released"
    );

    // The same deploy again: it names the interrupted run, converges and clears the journal.
    let again = deploy(dir.path(), &cloud).output().expect("re-run");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("stopped before it finished") && stderr.contains(&entry.deploying),
        "{}",
        text(&again)
    );
    assert!(!inflight.exists(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains(&entry.deploying),
        "{}",
        text(&again)
    );
}
