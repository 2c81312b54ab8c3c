//! `deploy eb --dry-run` and `deploy apprunner --dry-run` on a NON-local target pointed at the
//! local cloud (endpoint_url set, credentials from the environment), as a user runs them: the
//! plan names the caller's account (STS) and the exact ARNs Secrets Manager returned; a
//! deleted secret, a missing role and an account mismatch are refused with exit 2 before
//! anything changes. `secrets set` / `secrets list` round-trip without a value in any output.
//! Needs the local cloud (`cargo xtask local up`); fails with what to run when it is missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use deploykit_testsupport::{LocalCloud, local_cloud, unique_name};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Names this test creates in the local cloud, unique per run.
struct Names {
    base: String,
    secret_key: String,
    db_url: String,
    service_role: String,
    instance_profile: String,
    access_role: String,
    instance_role: String,
}

impl Names {
    fn new() -> Self {
        let base = unique_name("arns");
        Names {
            secret_key: format!("{base}/secret-key"),
            db_url: format!("{base}/db-url"),
            service_role: format!("{base}-eb-service"),
            instance_profile: format!("{base}-eb-ec2"),
            access_role: format!("{base}-ecr-access"),
            instance_role: format!("{base}-instance"),
            base,
        }
    }
}

/// A deploy.toml with one non-local target `cloud` whose endpoint is the local edge.
fn write_config(dir: &Path, cloud: &LocalCloud, n: &Names, account_id: Option<&str>) -> PathBuf {
    let app = workspace().join("examples/budgetsync");
    let account = account_id
        .map(|a| format!("account_id = \"{a}\"\n"))
        .unwrap_or_default();
    let text = format!(
        r#"default_target = "cloud"

[app]
name = "{base}"
path = "{app}"
health_path = "/healthz"

[targets.cloud]
region = "us-east-1"
endpoint_url = "{edge}"
{account}
[eb]
application = "{base}"
environment = "{base}"
service_role = "{service_role}"
instance_profile = "{instance_profile}"

[apprunner]
service = "{base}"
repository = "{base}"
access_role = "{access_role}"
instance_role = "{instance_role}"

[secrets]
SECRET_KEY = {{ secret = "{secret_key}" }}
DATABASE_URL = {{ secret = "{db_url}" }}
"#,
        base = n.base,
        app = app.display(),
        edge = cloud.edge_url,
        service_role = n.service_role,
        instance_profile = n.instance_profile,
        access_role = n.access_role,
        instance_role = n.instance_role,
        secret_key = n.secret_key,
        db_url = n.db_url,
    );
    let path = dir.join("deploy.toml");
    std::fs::write(&path, text).expect("writing deploy.toml");
    path
}

/// The xtask binary with only dummy credentials from the environment and no AWS config files,
/// every endpoint on the local edge.
fn xtask(dir: &Path, cloud: &LocalCloud, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.current_dir(dir)
        .args(args)
        .env("DEPLOYKIT_CONFIG", dir.join("deploy.toml"))
        .env_remove("DEPLOYKIT_TARGET")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_ACCESS_KEY_ID", "dummy")
        .env("AWS_SECRET_ACCESS_KEY", "dummy")
        .env("AWS_ENDPOINT_URL", &cloud.edge_url)
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DEPLOYKIT_LOCAL_STATE", &cloud.state_file)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("running the xtask binary");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("writing stdin");
    }
    child.wait_with_output().expect("waiting for xtask")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_result(o: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("result").cloned())
        .unwrap_or_else(|| panic!("no JSON result line\n{}", text(o)))
}

/// Creates the IAM roles and the instance profile the target names, in the local cloud.
async fn create_iam(cloud: &LocalCloud, n: &Names) {
    let iam = deploykit_iam::Iam::new(&cloud.sdk_config());
    let c = iam.client();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    for role in [&n.service_role, &n.access_role, &n.instance_role] {
        c.create_role()
            .role_name(role)
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap_or_else(|e| panic!("creating role {role}: {e:?}"));
    }
    c.create_instance_profile()
        .instance_profile_name(&n.instance_profile)
        .send()
        .await
        .expect("creating the instance profile");
}

const VALUE: &str = "hunter2-do-not-print";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_plan_with_the_callers_account_and_real_secret_arns() {
    let cloud = local_cloud().await;
    let n = Names::new();
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(dir.path(), &cloud, &n, None);

    // Nothing exists yet: every secret is refused by name, with the command that creates it.
    let none = xtask(dir.path(), &cloud, &["deploy", "eb", "--dry-run"], None);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
    let err = String::from_utf8_lossy(&none.stderr);
    for name in [&n.secret_key, &n.db_url] {
        assert!(err.contains(name.as_str()), "{}", text(&none));
        assert!(
            err.contains(&format!("secrets set {name}")),
            "{}",
            text(&none)
        );
    }

    // `secrets set` from stdin: the value is stored, never printed.
    for name in [&n.secret_key, &n.db_url] {
        let set = xtask(
            dir.path(),
            &cloud,
            &["secrets", "set", name],
            Some(&format!("{VALUE}\n")),
        );
        assert_eq!(set.status.code(), Some(0), "{}", text(&set));
        assert!(!text(&set).contains(VALUE), "{}", text(&set));
    }
    let secrets = deploykit_secrets::Secrets::new(&cloud.sdk_config());
    let stored = secrets.get_string(&n.secret_key).await.expect("stored");
    use deploykit_secrets::ExposeSecret;
    assert_eq!(
        stored.expose_secret(),
        VALUE,
        "one trailing newline is dropped"
    );
    let want = secrets
        .resolve(&[
            ("DATABASE_URL".into(), n.db_url.clone()),
            ("SECRET_KEY".into(), n.secret_key.clone()),
        ])
        .await
        .expect("resolving");
    let me = deploykit_aws::caller_identity(&cloud.sdk_config())
        .await
        .expect("sts");

    // `secrets list --output json`: names, ARNs, last changed; no values.
    let list = xtask(
        dir.path(),
        &cloud,
        &["--output", "json", "secrets", "list"],
        None,
    );
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    assert!(!text(&list).contains(VALUE));
    let listed = json_result(&list);
    let entries = listed["secrets"].as_array().expect("secrets array");
    for w in &want {
        let e = entries
            .iter()
            .find(|e| e["env_var"] == w.env_var.as_str())
            .unwrap_or_else(|| panic!("{} listed: {listed}", w.env_var));
        assert_eq!(e["arn"], w.arn.as_str());
        assert_eq!(e["status"], "ok");
        assert!(e["last_changed"].is_string(), "{e}");
    }

    // Secrets exist but the roles do not: refused, naming them and `iam ensure`.
    let no_roles = xtask(dir.path(), &cloud, &["deploy", "eb", "--dry-run"], None);
    assert_eq!(no_roles.status.code(), Some(2), "{}", text(&no_roles));
    let err = String::from_utf8_lossy(&no_roles.stderr);
    assert!(
        err.contains(&n.service_role) && err.contains(&n.instance_profile),
        "{}",
        text(&no_roles)
    );
    assert!(err.contains("iam ensure"), "{}", text(&no_roles));

    create_iam(&cloud, &n).await;

    // EB: the plan shows the caller and the exact ARNs (text and JSON).
    let eb = xtask(dir.path(), &cloud, &["deploy", "eb", "--dry-run"], None);
    assert_eq!(eb.status.code(), Some(0), "{}", text(&eb));
    let out = String::from_utf8_lossy(&eb.stdout);
    assert!(
        out.contains(&format!("account {} as {}", me.account, me.arn)),
        "{}",
        text(&eb)
    );
    for w in &want {
        assert!(w.arn.len() == w.arn.trim_end().len() && w.arn.contains(&me.account));
        assert!(
            out.contains(&format!("secret {} <- {}", w.env_var, w.arn)),
            "{}",
            text(&eb)
        );
    }
    assert!(!out.contains("000000000000"), "{}", text(&eb));
    let eb_json = xtask(
        dir.path(),
        &cloud,
        &["--output", "json", "deploy", "eb", "--dry-run"],
        None,
    );
    assert_eq!(eb_json.status.code(), Some(0), "{}", text(&eb_json));
    let res = json_result(&eb_json);
    assert_eq!(res["status"], "planned");
    assert_eq!(res["caller"]["account"], me.account.as_str());
    assert_eq!(res["caller"]["arn"], me.arn.as_str());
    for w in &want {
        let s = res["secrets"]
            .as_array()
            .expect("secrets")
            .iter()
            .find(|s| s["env_var"] == w.env_var.as_str())
            .unwrap_or_else(|| panic!("{res}"));
        assert_eq!(s["arn"], w.arn.as_str());
    }

    // App Runner: the same account and ARNs, and the roles' ARNs from IAM.
    let ar = xtask(
        dir.path(),
        &cloud,
        &["--output", "json", "deploy", "apprunner", "--dry-run"],
        None,
    );
    assert_eq!(ar.status.code(), Some(0), "{}", text(&ar));
    let res = json_result(&ar);
    assert_eq!(res["action"]["action"], "create", "{res}");
    assert_eq!(res["caller"]["account"], me.account.as_str());
    for w in &want {
        assert!(
            res["secrets"]
                .as_array()
                .expect("secrets")
                .iter()
                .any(|s| s["env_var"] == w.env_var.as_str() && s["arn"] == w.arn.as_str()),
            "{res}"
        );
    }
    let iam = res["iam"].as_array().expect("iam");
    assert!(
        iam.iter().any(|i| i["name"] == n.instance_role.as_str()
            && i["arn"]
                .as_str()
                .is_some_and(|a| a.ends_with(&format!(":role/{}", n.instance_role)))),
        "{res}"
    );
    let ar_text = xtask(
        dir.path(),
        &cloud,
        &["deploy", "apprunner", "--dry-run"],
        None,
    );
    assert_eq!(ar_text.status.code(), Some(0), "{}", text(&ar_text));
    assert!(
        String::from_utf8_lossy(&ar_text.stdout)
            .contains(&format!("account {} as {}", me.account, me.arn)),
        "{}",
        text(&ar_text)
    );

    // Deleting one secret makes both dry runs refuse, naming it (and not the other).
    let sm = aws_sdk_secretsmanager::Client::new(&cloud.sdk_config());
    sm.delete_secret()
        .secret_id(&n.db_url)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("deleting");
    for route in ["eb", "apprunner"] {
        let o = xtask(dir.path(), &cloud, &["deploy", route, "--dry-run"], None);
        assert_eq!(o.status.code(), Some(2), "{route}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&n.db_url) && err.contains("DATABASE_URL"),
            "{route}: {}",
            text(&o)
        );
        assert!(!err.contains(&n.secret_key), "{route}: {}", text(&o));
        assert!(
            err.contains(&format!("secrets set {}", n.db_url)),
            "{route}: {}",
            text(&o)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_credentials_are_refused_before_any_change() {
    let cloud = local_cloud().await;
    let n = Names::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let me = deploykit_aws::caller_identity(&cloud.sdk_config())
        .await
        .expect("sts");
    let other = if me.account == "111122223333" {
        "444455556666"
    } else {
        "111122223333"
    };
    write_config(dir.path(), &cloud, &n, Some(other));
    for args in [
        &["deploy", "eb", "--dry-run"][..],
        &["deploy", "apprunner", "--dry-run"][..],
        &["eb", "status"][..],
        &["apprunner", "status"][..],
        &["secrets", "list"][..],
    ] {
        let o = xtask(dir.path(), &cloud, args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(other) && err.contains(&me.account),
            "{args:?}: {}",
            text(&o)
        );
    }
    // The value is refused before anything is read or written, too.
    let o = xtask(
        dir.path(),
        &cloud,
        &["secrets", "set", &n.secret_key],
        Some(VALUE),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let secrets = deploykit_secrets::Secrets::new(&cloud.sdk_config());
    assert!(
        secrets
            .resolve(&[("SECRET_KEY".into(), n.secret_key.clone())])
            .await
            .is_err(),
        "nothing was written for the wrong account"
    );

    // The matching account passes the check (and then meets the missing secrets).
    write_config(dir.path(), &cloud, &n, Some(&me.account));
    let o = xtask(dir.path(), &cloud, &["deploy", "eb", "--dry-run"], None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&n.secret_key),
        "{}",
        text(&o)
    );
}
