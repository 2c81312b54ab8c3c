//! The README's main command on a local target that has nothing yet: `deploy eb --dry-run`
//! says what a real run makes first and changes nothing; `deploy eb` then makes the database,
//! the `[secrets]` and the IAM roles, deploys, and the app itself answers through the edge with
//! its database reachable; a second `deploy eb` changes nothing. Runs the real xtask binary
//! against the local cloud `cargo xtask test` started (its own names, so it never touches the
//! repository's `budgetsync` resources). Then `check`, the seed's "Am I done?" list, passes
//! every applicable item once the bucket, static files, a snapshot and a restore check exist,
//! and breaking one thing (a public bucket, a database behind the app's migrations) fails
//! exactly that item.

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

[s3]
bucket = "{bucket}"
static_dir = "app/static"

[alarms]
email = "ops@example.com"

[secrets]
SECRET_KEY = {{ secret = "{secret_key}" }}
DATABASE_URL = {{ secret = "{db_url}" }}
"#,
        base = n.base,
        bucket = n.base.to_ascii_lowercase(),
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

/// Everything every command printed, for the canary check at the end.
static PRINTED: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

fn xtask(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
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
        .expect("running the xtask binary");
    let mut all = PRINTED.lock().unwrap_or_else(|e| e.into_inner());
    all.extend_from_slice(&out.stdout);
    all.extend_from_slice(&out.stderr);
    out
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

    checklist_passes_then_fails_exactly_what_breaks(dir.path(), &cloud, &n).await;
    if cloud.state.workloads.is_some() {
        the_instance_logs_come_through_elastic_beanstalk(dir.path());
    }
    let listed = xtask(dir.path(), &["--output", "json", "eb", "env", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    no_secret_value_was_printed_or_written(dir.path(), &secrets, &n).await;
}

/// The canary: the values of the secrets this run made (the app's SECRET_KEY, the database
/// URL with its password) never appear in anything a command printed (text or JSON, stdout or
/// stderr) or in any file the runs left in the project (target/: bundles, journal, locks).
async fn no_secret_value_was_printed_or_written(
    dir: &Path,
    secrets: &deploykit_secrets::Secrets,
    n: &Names,
) {
    use secrecy::ExposeSecret;
    let mut canaries = Vec::new();
    for name in [&n.secret_key, &n.db_url] {
        let v = secrets.get_string(name).await.expect("GetSecretValue");
        canaries.push(v.expose_secret().to_string());
    }
    // The password inside the URL, too (it is what a leak would show on its own).
    if let Some(pw) = canaries[1]
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, pw)| pw.to_string())
    {
        canaries.push(pw);
    }
    assert!(
        canaries.iter().all(|c| c.len() >= 8),
        "canaries too short to be meaningful"
    );
    let printed = PRINTED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let printed = String::from_utf8_lossy(&printed);
    for c in &canaries {
        assert!(!printed.contains(c.as_str()), "a secret value was printed");
    }
    let mut files = vec![dir.to_path_buf()];
    let mut scanned = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).expect("read_dir").flatten() {
                files.push(e.path());
            }
        } else if let Ok(bytes) = std::fs::read(&p) {
            scanned += 1;
            let text = String::from_utf8_lossy(&bytes);
            for c in &canaries {
                assert!(
                    !text.contains(c.as_str()),
                    "a secret value is in {}",
                    p.display()
                );
            }
        }
    }
    assert!(
        scanned > 3,
        "the project holds the runs' files ({scanned} scanned)"
    );
}

/// `logs eb --follow` reads what the app wrote from CloudWatch; `--tail` and `--bundle` ask the
/// instance itself through RequestEnvironmentInfo, as the console's "Request logs" does.
fn the_instance_logs_come_through_elastic_beanstalk(dir: &Path) {
    // --follow prints what the app wrote since the deploy, keeps polling, and stops at its bound.
    let streamed = xtask(
        dir,
        &[
            "logs",
            "eb",
            "--follow",
            "--since",
            "30m",
            "--interval",
            "500ms",
            "--timeout",
            "3s",
        ],
    );
    assert_eq!(streamed.status.code(), Some(0), "{}", text(&streamed));
    assert!(
        String::from_utf8_lossy(&streamed.stdout).contains("web.stdout.log"),
        "{}",
        text(&streamed)
    );

    let tail = xtask(
        dir,
        &[
            "--output",
            "json",
            "logs",
            "eb",
            "--tail",
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(tail.status.code(), Some(0), "{}", text(&tail));
    let out = String::from_utf8_lossy(&tail.stdout);
    assert!(out.contains("\"instance_id\":\"i-"), "{}", text(&tail));
    assert!(
        !out.contains("X-Amz-Signature"),
        "a presigned URL leaked: {}",
        text(&tail)
    );

    let zips = dir.join("logs-out");
    let bundle = xtask(
        dir,
        &[
            "logs",
            "eb",
            "--bundle",
            "--out",
            zips.to_str().expect("utf-8 path"),
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(bundle.status.code(), Some(0), "{}", text(&bundle));
    let files: Vec<_> = std::fs::read_dir(&zips)
        .expect("the bundle directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}\n{}", text(&bundle));
    let head = std::fs::read(&files[0]).expect("the zip");
    assert!(head.starts_with(b"PK"), "not a zip: {} bytes", head.len());
}

/// `check --output json`: the exit code and the ids of the failing items.
fn check(dir: &Path) -> (Option<i32>, Vec<String>, String) {
    let out = xtask(dir, &["--output", "json", "check"]);
    let shown = text(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("result").cloned())
        .unwrap_or_else(|| panic!("no result line\n{shown}"));
    let failing = result["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["verdict"] == "fail")
        .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        .collect();
    (out.status.code(), failing, shown)
}

async fn checklist_passes_then_fails_exactly_what_breaks(
    dir: &Path,
    cloud: &LocalCloud,
    n: &Names,
) {
    // Deployed (the local RDS took its automated snapshot), but no bucket, static files,
    // restore check or runbooks yet.
    let (code, failing, shown) = check(dir);
    assert_eq!(code, Some(7), "{shown}");
    assert_eq!(
        failing,
        [
            "bucket",
            "static-files",
            "restore-check",
            "alarms",
            "runbooks"
        ],
        "{shown}"
    );
    let runbooks = dir.join("docs/runbooks");
    std::fs::create_dir_all(&runbooks).expect("mkdir docs/runbooks");
    for (file, title) in [
        ("deploy.md", "# Deploy"),
        ("rollback.md", "# Roll back"),
        ("rotate-secrets.md", "# Rotate secrets"),
    ] {
        std::fs::write(runbooks.join(file), format!("{title}\n")).expect("writing a runbook");
    }
    for step in [
        &["s3", "ensure"][..],
        &["static", "sync"],
        &["db", "snapshot", "--wait"],
        &["db", "restore-check"],
        &["alarms", "ensure"],
    ] {
        let out = xtask(dir, step);
        assert_eq!(out.status.code(), Some(0), "{step:?}\n{}", text(&out));
    }
    let (code, failing, shown) = check(dir);
    assert_eq!((code, failing.clone()), (Some(0), vec![]), "{shown}");

    // A public bucket fails the bucket item and nothing else.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cloud.sdk_config())
            .force_path_style(true)
            .build(),
    );
    let bucket = n.base.to_ascii_lowercase();
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .block_public_policy(false)
                .ignore_public_acls(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .expect("PutPublicAccessBlock");
    let (code, failing, shown) = check(dir);
    assert_eq!(
        (code, failing),
        (Some(7), vec!["bucket".to_string()]),
        "{shown}"
    );
    let fixed = xtask(dir, &["s3", "ensure"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed));

    // A database behind the app's migrations fails the migrations item and nothing else.
    let url = cloud.database_url_for(&n.base.replace('-', "_"));
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connecting to the app's database");
    let conn = tokio::spawn(conn);
    client
        .execute("DELETE FROM alembic_version", &[])
        .await
        .expect("dropping the migration record");
    drop(client);
    conn.abort();
    let (code, failing, shown) = check(dir);
    assert_eq!(
        (code, failing),
        (Some(7), vec!["migrations".to_string()]),
        "{shown}"
    );
}
