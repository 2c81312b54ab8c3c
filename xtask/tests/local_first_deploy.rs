//! The README's main command on a local target that has nothing yet: `deploy eb --dry-run`
//! says what a real run makes first and changes nothing; `deploy eb` then makes the database,
//! the `[secrets]` and the IAM roles, deploys, and the app itself answers through the edge with
//! its database reachable; a second `deploy eb` changes nothing. Runs the real xtask binary
//! against the local cloud `cargo xtask test` started (its own names, so it never touches the
//! repository's `budgetsync` resources).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use deploykit_testsupport::{LocalCloud, local_cloud, unique_name};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

struct Names {
    base: String,
    secret_key: String,
    db_url: String,
    service_role: String,
    instance_profile: String,
}

fn write_config(dir: &Path, cloud: &LocalCloud, n: &Names) -> PathBuf {
    let app = workspace().join("examples/budgetsync");
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
service_role = "{service_role}"
instance_profile = "{instance_profile}"

[database]
instance = "{base}-db"
db_name = "{db_name}"
username = "app"

[secrets]
SECRET_KEY = {{ secret = "{secret_key}" }}
DATABASE_URL = {{ secret = "{db_url}" }}
"#,
        base = n.base,
        // The local cloud's instances share one PostgreSQL cluster: one database each.
        db_name = n.base.replace('-', "_"),
        app = app.display(),
        edge_url = cloud.edge_url,
        service_role = n.service_role,
        instance_profile = n.instance_profile,
        secret_key = n.secret_key,
        db_url = n.db_url,
    );
    let path = dir.join("deploy.toml");
    std::fs::write(&path, text).expect("writing deploy.toml");
    path
}

fn xtask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("deploy.toml"))
        .args(args)
        // The local cloud `cargo xtask test` started (the workspace's), not one of the temp dir's.
        .env("DEPLOYKIT_LOCAL_HOME", workspace())
        .env_remove("DEPLOYKIT_TARGET")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("running the xtask binary")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// GET `path` on the environment's host through the edge, as a browser behind DNS would.
fn get_through_edge(cloud: &LocalCloud, host: &str, path: &str) -> (u16, String, String) {
    let addr = cloud.edge_url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connecting to the edge");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("writing the request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("reading the answer");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_local_target_gets_its_database_secrets_and_roles_and_serves_the_app() {
    let cloud = local_cloud().await;
    let base = unique_name("first");
    let n = Names {
        secret_key: format!("{base}/secret-key"),
        db_url: format!("{base}/db-url"),
        service_role: format!("{base}-eb-service"),
        instance_profile: format!("{base}-eb-ec2"),
        base,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(dir.path(), &cloud, &n);
    let refs = vec![
        ("SECRET_KEY".to_string(), n.secret_key.clone()),
        ("DATABASE_URL".to_string(), n.db_url.clone()),
    ];
    let secrets = deploykit_secrets::Secrets::new(&cloud.sdk_config());
    let iam = deploykit_iam::Iam::new(&cloud.sdk_config());

    // The dry run names what a real run makes first, and makes none of it.
    let dry = xtask(
        dir.path(),
        &["--output", "json", "deploy", "eb", "--dry-run"],
    );
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let stdout = String::from_utf8_lossy(&dry.stdout);
    for want in [
        n.secret_key.as_str(),
        n.db_url.as_str(),
        n.service_role.as_str(),
        n.instance_profile.as_str(),
    ] {
        assert!(
            stdout.contains(want),
            "{want} not in the dry run\n{}",
            text(&dry)
        );
    }
    assert!(stdout.contains("\"local_prepare\""), "{}", text(&dry));
    let after_dry = secrets.list_refs(&refs).await.expect("DescribeSecret");
    assert!(
        after_dry.iter().all(Result::is_err),
        "the dry run created a secret"
    );
    assert_eq!(iam.role_arn(&n.service_role).await.expect("GetRole"), None);

    // The real run makes them, deploys, and the deploy's own check of /healthz answered 200.
    let first = xtask(dir.path(), &["deploy", "eb"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let made = secrets
        .resolve(&refs)
        .await
        .expect("both secrets exist now");
    assert!(made.iter().all(|s| s.arn.contains(":secret:")));
    assert!(
        iam.role_arn(&n.service_role)
            .await
            .expect("GetRole")
            .is_some()
    );
    assert!(
        iam.instance_profile_arn(&n.instance_profile)
            .await
            .expect("GetInstanceProfile")
            .is_some()
    );

    // With real workloads the answer is the app's own (gunicorn), its database reachable.
    if cloud.state.workloads.is_some() {
        let host = format!("{}.us-east-1.elasticbeanstalk.localhost", n.base);
        let (status, head, body) = get_through_edge(&cloud, &host, "/healthz");
        assert_eq!(status, 200, "{head}\n{body}");
        assert!(head.contains("server: gunicorn"), "{head}");
        assert!(body.contains("\"db\":\"ok\""), "{body}");
    }

    // Nothing changed: nothing is sent.
    let again = xtask(dir.path(), &["deploy", "eb"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("environment unchanged"),
        "{}",
        text(&again)
    );
}
