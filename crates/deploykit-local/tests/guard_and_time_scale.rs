//! `up` and the admin helpers, without starting any process: a time scale out of range is a
//! clear error before anything starts (never a panic); the admin client built from state.json
//! sends the recorded token, and an edge answers 401 to a missing or wrong one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use deploykit_local::{
    EdgeLauncher, LocalError, LocalState, Paths, PgState, RegistryState, UpOptions,
};
use deploykit_localcloud::{AdminToken, Edge, EdgeConfig, LocalCloudError};
use deploykit_report::{Category, Diagnostic};
use secrecy::SecretString;

fn state(edge_url: &str, token: &str) -> LocalState {
    LocalState {
        schema: deploykit_local::STATE_SCHEMA,
        state_file: PathBuf::from("/nonexistent/state.json"),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        time_scale: 60.0,
        edge_url: edge_url.into(),
        edge_port: 0,
        moto_url: "http://127.0.0.1:9".into(),
        moto_port: 9,
        registry: RegistryState {
            endpoint: "127.0.0.1:9".into(),
            port: 9,
            username: "AWS".into(),
            password: SecretString::from(String::new()),
        },
        pg: PgState {
            host: "127.0.0.1".into(),
            port: 9,
            superuser: "postgres".into(),
            database_url: "postgresql://postgres@127.0.0.1:9/postgres".into(),
            data_dir: "/x".into(),
            socket_dir: "/y".into(),
            bin_dir: "/z".into(),
            tls: None,
        },
        processes: BTreeMap::new(),
        workloads: None,
        admin_token: SecretString::from(token.to_string()),
    }
}

#[test]
fn up_refuses_a_time_scale_out_of_range_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("localcloud");
    let paths = Paths::at(&root, dir.path().join("venvs"), dir.path());
    let launcher = EdgeLauncher {
        program: PathBuf::from("/nonexistent/edge"),
        args: Vec::new(),
    };
    let cases: &[(&str, f64)] = &[
        ("zero", 0.0),
        ("tiny", 0.0001),
        ("huge", 1e9),
        ("negative", -1.0),
        ("nan", f64::NAN),
        ("infinite", f64::INFINITY),
    ];
    for (name, scale) in cases {
        let opts = UpOptions {
            time_scale: *scale,
            ..UpOptions::new(launcher.clone())
        };
        let e =
            deploykit_local::up(&paths, &opts, &deploykit_report::NullReporter).expect_err(name);
        assert!(matches!(e, LocalError::TimeScale(_)), "{name}: {e}");
        let text = e.to_string();
        assert!(
            text.contains(&scale.to_string()) && text.contains("from 1 to 10000"),
            "{name}: the error names the value and the range: {text}"
        );
        assert_eq!(e.category(), Category::Input, "{name}: an input error");
        let help = e.help().unwrap_or_default();
        assert!(
            help.contains("pass a time scale from 1 to 10000"),
            "{name}: {help}"
        );
        assert!(!root.exists(), "{name}: nothing was created");

        // Changing a running edge's scale is refused the same way, before anything is sent
        // (the recorded edge does not exist: sending would be an Admin error instead).
        let e = deploykit_local::set_time_scale(&state("http://127.0.0.1:9", ""), *scale)
            .expect_err(name);
        assert!(matches!(e, LocalError::TimeScale(_)), "{name}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_client_from_state_sends_the_recorded_token() {
    let token = AdminToken::random();
    let edge = Edge::start(EdgeConfig {
        admin_token: token.clone(),
        ..EdgeConfig::default()
    })
    .await
    .unwrap();
    // A URL this process's edge registry does not map (localhost, not 127.0.0.1), so only the
    // token from the state can open the admin path.
    let url = format!("http://localhost:{}", edge.addr().port());
    let wrong = AdminToken::random();
    let cases: &[(&str, &str, Option<u16>)] = &[
        ("recorded-token", token.expose(), None),
        ("other-token", wrong.expose(), Some(401)),
        ("no-token (an edge from before tokens)", "", Some(401)),
    ];
    for (name, recorded, want) in cases {
        let s = state(&url, recorded);
        let admin = deploykit_local::admin_client(&s).expect("client");
        let got = admin.health().await;
        match (got, want) {
            (Ok(h), None) => assert_eq!(h.status, "ok", "{name}"),
            (Err(LocalCloudError::AdminStatus { status, body, .. }), Some(w)) => {
                assert_eq!(status, *w, "{name}: {body}");
                assert!(body.contains("x-localcloud-admin-token"), "{name}: {body}");
            }
            (got, _) => panic!("{name}: {got:?}, want {want:?}"),
        }
    }
    // A token in state.json that is not one (edited by hand) is a bad state, said so.
    let e = deploykit_local::admin_client(&state(&url, "short")).unwrap_err();
    assert!(matches!(e, LocalError::BadState { .. }), "{e}");
    assert!(e.to_string().contains("admin_token"), "{e}");
    edge.shutdown().await;
}
