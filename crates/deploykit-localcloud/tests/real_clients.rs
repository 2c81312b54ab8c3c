//! Real clients nobody here wrote, unchanged, against the local cloud: the EB CLI (`awsebcli`)
//! and the AWS CLI (`awscli`), pip-installed (pinned) into `target/venvs/clients` by the test
//! itself on first use, driven as subprocesses with only `AWS_ENDPOINT_URL` pointing them at a
//! private edge of this test's own (with real workloads for the EB CLI session).
//!
//! Every AWS CLI call also passes `--endpoint-url`: AWS CLI v1 ignores `AWS_ENDPOINT_URL` for a
//! few services (rds, sqs, ... in us-east-1, see `awscli/customizations/overridesslcommonname.py`)
//! and would otherwise reach real AWS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deploykit_localcloud::{Edge, WorkloadConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AWSEBCLI: &str = "awsebcli==3.27.5";
const AWSCLI: &str = "awscli==1.46.3";
const PLATFORM_IMAGE: &str = "deploykit-local/python:3.11-bookworm";
/// One CLI command, including the EB CLI's own waits for real containers.
const CMD_BOUND: Duration = Duration::from_secs(240);

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Makes (once) the pinned clients venv; later runs only check the stamp.
fn ensure_clients_venv() -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let venv = target_dir().join("venvs/clients");
    let want = format!("{AWSEBCLI} {AWSCLI}");
    let stamp = venv.join(".deploykit-installed");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want)
        && venv.join("bin/eb").exists()
        && venv.join("bin/aws").exists()
    {
        return venv;
    }
    if !venv.join("bin/python").exists() {
        let python = std::env::var("DEPLOYKIT_PYTHON").unwrap_or_else(|_| "python3".into());
        let st = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap_or_else(|e| panic!("{python} -m venv {}: {e}", venv.display()));
        assert!(st.success(), "{python} -m venv {} failed", venv.display());
    }
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
            AWSEBCLI,
            AWSCLI,
        ])
        .output()
        .expect("running pip");
    assert!(
        out.status.success(),
        "pip install {want} failed (PyPI must be reachable on first use): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, &want).expect("writing the venv stamp");
    venv
}

/// A client session: the venv's `eb` / `aws` with the environment a user would set.
struct Clients {
    venv: PathBuf,
    home: PathBuf,
    endpoint: String,
}

struct Out {
    ok: bool,
    text: String,
    took: Duration,
}

impl Clients {
    fn new(venv: PathBuf, home: PathBuf, edge: &Edge) -> Self {
        std::fs::create_dir_all(&home).expect("client home");
        Self {
            venv,
            home,
            endpoint: edge.url(),
        }
    }

    fn command(&self, prog: &str, cwd: &Path) -> Command {
        let mut c = Command::new(self.venv.join("bin").join(prog));
        let path = format!(
            "{}:{}",
            self.venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.current_dir(cwd)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "dummy")
            .env("AWS_SECRET_ACCESS_KEY", "dummy")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("GIT_AUTHOR_NAME", "real-clients-test")
            .env("GIT_AUTHOR_EMAIL", "test@localhost")
            .env("GIT_COMMITTER_NAME", "real-clients-test")
            .env("GIT_COMMITTER_EMAIL", "test@localhost")
            .stdin(Stdio::null());
        c
    }

    async fn run(&self, prog: &str, cwd: &Path, args: &[&str]) -> Out {
        let mut cmd = self.command(prog, cwd);
        if prog == "aws" {
            cmd.args(["--endpoint-url", &self.endpoint, "--output", "json"]);
        }
        cmd.args(args);
        let what = format!("{prog} {}", args.join(" "));
        let started = Instant::now();
        let out = tokio::time::timeout(
            CMD_BOUND,
            tokio::process::Command::from(cmd)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("`{what}` did not finish within {CMD_BOUND:?}"))
        .unwrap_or_else(|e| panic!("`{what}`: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Out {
            ok: out.status.success(),
            text,
            took: started.elapsed(),
        }
    }

    /// Runs and requires success.
    async fn ok(&self, prog: &str, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(prog, cwd, args).await;
        assert!(
            out.ok,
            "`{prog} {}` failed after {:?}:\n{}",
            args.join(" "),
            out.took,
            out.text
        );
        out.text
    }

    /// Runs an interactive EB CLI screen (`eb appversion`) on a pseudo-terminal (`script`),
    /// lets it draw, then quits it with `q` as a user would; returns what it drew.
    async fn interactive(&self, cwd: &Path, eb_args: &str) -> String {
        let base = self.command("eb", cwd);
        let mut c = Command::new("script");
        c.args([
            "-qec",
            &format!("stty rows 50 cols 200; eb {eb_args}"),
            "/dev/null",
        ])
        .env_clear()
        .envs(base.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TERM", "xterm")
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut cmd = tokio::process::Command::from(c);
        let mut child = cmd.kill_on_drop(true).spawn().expect("spawning script");
        let mut stdin = child.stdin.take().expect("stdin");
        tokio::time::sleep(Duration::from_secs(6)).await;
        let _ = stdin.write_all(b"q").await;
        drop(stdin);
        let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("`eb {eb_args}` did not quit on `q`"))
            .expect("eb output");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn aws_json(&self, args: &[&str]) -> serde_json::Value {
        let text = self.ok("aws", &self.home, args).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("aws {args:?}: {e}: {text}"))
    }
}

/// GET through the edge with the app's `Host`: (status, body).
async fn get_app(edge: &Edge, host: &str, path: &str) -> (u16, String) {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(edge.addr()).await.ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, text.split_once("\r\n\r\n")?.1.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .ok()
        .flatten()
        .unwrap_or((0, String::new()))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let name = e.file_name();
        let n = name.to_string_lossy();
        if n == "__pycache__" || n == ".venv" || n == ".pytest_cache" || n == ".elasticbeanstalk" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "real-clients-test")
        .env("GIT_AUTHOR_EMAIL", "test@localhost")
        .env("GIT_COMMITTER_NAME", "real-clients-test")
        .env("GIT_COMMITTER_EMAIL", "test@localhost")
        .stdout(Stdio::null())
        .status()
        .expect("git");
    assert!(st.success(), "git {args:?} in {}", dir.display());
}

fn deployed_version(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.trim().strip_prefix("Deployed Version:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no Deployed Version in:\n{status}"))
}

/// The whole Route A session a user would type, step by step, on a copy of the example app,
/// with real containers: init, create, status, health, events, setenv/printenv, deploy (a new
/// version serves), logs, list, appversion, terminate; and the AWS CLI's Elastic Beanstalk
/// commands on the live environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eb_cli_session() {
    let venv = tokio::task::spawn_blocking(ensure_clients_venv)
        .await
        .expect("venv task");
    let cloud = deploykit_testsupport::local_cloud().await;
    let name = deploykit_testsupport::unique_name("ebcli");
    let label = format!("test-{name}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut wc = WorkloadConfig::new(target_dir().join("localcloud-tests/workloads"), &label);
    wc.platform_image = PLATFORM_IMAGE.to_string();
    let edge = cloud
        .private_edge(|c| {
            c.time_scale = 300.0;
            c.workloads = Some(wc);
        })
        .await;
    let db = cloud.fresh_database(&name).await;
    let app_dir = tmp.path().join("budgetsync");
    copy_dir(&repo_root().join("examples/budgetsync"), &app_dir);
    git(&app_dir, &["init", "-q"]);
    git(&app_dir, &["add", "-A"]);
    git(&app_dir, &["commit", "-qm", "budgetsync"]);
    let cli = Clients::new(venv, tmp.path().join("home"), &edge);
    let (app, env) = (name.clone(), format!("{name}-env"));
    let host = format!("{env}.us-east-1.elasticbeanstalk.localhost");
    let dir = app_dir.as_path();

    // eb init: ListPlatformBranches, ListPlatformVersions filters, CreateApplication.
    let out = cli
        .ok(
            "eb",
            dir,
            &["init", &app, "-p", "python-3.13", "--region", "us-east-1"],
        )
        .await;
    let config = std::fs::read_to_string(dir.join(".elasticbeanstalk/config.yml"))
        .unwrap_or_else(|e| panic!("eb init wrote no config ({e}):\n{out}"));
    assert!(
        config.contains(&format!("application_name: {app}")),
        "{config}"
    );
    assert!(config.contains("Python 3.13"), "{config}");

    // eb create: the environment launches on a real instance and serves the app.
    let envvars = format!("SECRET_KEY=local-test-key,DATABASE_URL={db}");
    let out = cli
        .ok(
            "eb",
            dir,
            &[
                "create",
                &env,
                "--single",
                "--instance_type",
                "t3.micro",
                "--envvars",
                &envvars,
            ],
        )
        .await;
    assert!(
        out.contains(&format!("Successfully launched environment: {env}")),
        "{out}"
    );
    let (code, body) = get_app(&edge, &host, "/healthz").await;
    assert_eq!(code, 200, "GET /healthz after eb create: {body}");
    assert!(body.contains(r#""status":"ok""#), "{body}");

    // eb status
    let status = cli.ok("eb", dir, &["status"]).await;
    assert!(status.contains("Status: Ready"), "{status}");
    assert!(status.contains("Health: Green"), "{status}");
    let first = deployed_version(&status);

    // eb health: DescribeEnvironmentHealth + DescribeInstancesHealth + Tier.
    let health = cli.ok("eb", dir, &["health"]).await;
    assert!(health.contains(&env) && health.contains("Ok"), "{health}");
    assert!(
        health.contains("i-") && health.contains("t3.micro"),
        "{health}"
    );

    // eb events
    let events = cli.ok("eb", dir, &["events"]).await;
    assert!(
        events.contains(&format!("Successfully launched environment: {env}")),
        "{events}"
    );

    // eb setenv / eb printenv
    cli.ok("eb", dir, &["setenv", "REAL_CLIENTS_MARK=hello-from-eb"])
        .await;
    let printenv = cli.ok("eb", dir, &["printenv"]).await;
    assert!(
        printenv.contains("REAL_CLIENTS_MARK = hello-from-eb"),
        "{printenv}"
    );

    // eb deploy: a new commit becomes a new version that goes live and serves.
    std::fs::write(dir.join("CHANGE.txt"), "a change\n").expect("change");
    git(dir, &["add", "CHANGE.txt"]);
    git(dir, &["commit", "-qm", "a change"]);
    let out = cli.ok("eb", dir, &["deploy"]).await;
    assert!(
        out.contains("Environment update completed successfully."),
        "{out}"
    );
    let status = cli.ok("eb", dir, &["status"]).await;
    let second = deployed_version(&status);
    assert_ne!(first, second, "eb deploy left the old version:\n{status}");
    assert!(status.contains("Health: Green"), "{status}");
    let (code, body) = get_app(&edge, &host, "/healthz").await;
    assert_eq!(code, 200, "GET /healthz after eb deploy: {body}");
    assert!(body.contains(r#""db":"ok""#), "{body}");

    // eb logs: RequestEnvironmentInfo, its events, RetrieveEnvironmentInfo, the S3 URL.
    let logs = cli.ok("eb", dir, &["logs"]).await;
    assert!(logs.contains("/var/log/eb-engine.log"), "{logs}");
    assert!(logs.contains("i-"), "{logs}");

    // eb list
    let list = cli.ok("eb", dir, &["list"]).await;
    assert!(list.contains(&format!("* {env}")), "{list}");

    // eb appversion (listing)
    let versions = cli.interactive(dir, "appversion").await;
    assert!(
        versions.contains(&first) && versions.contains(&second),
        "{versions}"
    );

    // The AWS CLI on the same environment.
    let v = cli
        .aws_json(&[
            "elasticbeanstalk",
            "describe-environments",
            "--application-name",
            &app,
        ])
        .await;
    let e = &v["Environments"][0];
    assert_eq!(e["EnvironmentName"], env.as_str(), "{v}");
    assert_eq!(e["Status"], "Ready", "{v}");
    assert_eq!(e["Health"], "Green", "{v}");
    assert_eq!(e["VersionLabel"], second.as_str(), "{v}");
    assert_eq!(e["Tier"]["Name"], "WebServer", "{v}");
    let v = cli
        .aws_json(&[
            "elasticbeanstalk",
            "describe-application-versions",
            "--application-name",
            &app,
        ])
        .await;
    let labels: Vec<&str> = v["ApplicationVersions"]
        .as_array()
        .expect("ApplicationVersions")
        .iter()
        .filter_map(|x| x["VersionLabel"].as_str())
        .collect();
    assert_eq!(
        labels,
        [second.as_str(), first.as_str()],
        "newest first: {v}"
    );
    let v = cli
        .aws_json(&[
            "elasticbeanstalk",
            "describe-events",
            "--environment-name",
            &env,
            "--max-items",
            "5",
        ])
        .await;
    assert_eq!(v["Events"].as_array().map(Vec::len), Some(5), "{v}");
    assert!(v["NextToken"].is_string(), "paginated: {v}");
    let bad = cli
        .run(
            "aws",
            dir,
            &[
                "elasticbeanstalk",
                "describe-environment-health",
                "--environment-name",
                "no-such-env",
                "--attribute-names",
                "All",
            ],
        )
        .await;
    assert!(
        !bad.ok && bad.text.contains("InvalidRequestException"),
        "{}",
        bad.text
    );

    // eb terminate --force
    let out = cli.ok("eb", dir, &["terminate", "--force"]).await;
    assert!(
        out.contains("terminateEnvironment completed successfully."),
        "{out}"
    );
    let list = cli.run("eb", dir, &["list"]).await;
    assert!(!list.text.contains(&env), "{}", list.text);
    let (code, body) = get_app(&edge, &host, "/healthz").await;
    assert_ne!(code, 200, "a terminated environment serves no app: {body}");
}

/// The AWS CLI for the services the edge answers itself (App Runner, RDS, ECR): the common
/// commands return what AWS would, errors included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_apprunner_rds_ecr() {
    let venv = tokio::task::spawn_blocking(ensure_clients_venv)
        .await
        .expect("venv task");
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 300.0).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let cli = Clients::new(venv, tmp.path().join("home"), &edge);

    // aws apprunner list-services: a fresh edge has none.
    let v = cli.aws_json(&["apprunner", "list-services"]).await;
    assert_eq!(v["ServiceSummaryList"], serde_json::json!([]), "{v}");

    // aws apprunner describe-service on a missing service: ResourceNotFoundException.
    let arn = format!(
        "arn:aws:apprunner:us-east-1:{}:service/nope/0123456789abcdef0123456789abcdef",
        cloud.account_id
    );
    let out = cli
        .run(
            "aws",
            tmp.path(),
            &["apprunner", "describe-service", "--service-arn", &arn],
        )
        .await;
    assert!(
        !out.ok && out.text.contains("ResourceNotFoundException"),
        "{}",
        out.text
    );

    // aws rds describe-db-instances: a list (empty or not), and a real error for a missing one.
    let v = cli.aws_json(&["rds", "describe-db-instances"]).await;
    assert!(v["DBInstances"].is_array(), "{v}");
    let out = cli
        .run(
            "aws",
            tmp.path(),
            &[
                "rds",
                "describe-db-instances",
                "--db-instance-identifier",
                "no-such-db-real-clients",
            ],
        )
        .await;
    assert!(
        !out.ok && out.text.contains("DBInstanceNotFound"),
        "{}",
        out.text
    );

    // aws ecr get-login-password: the registry's password, usable as `docker login` input.
    let out = cli
        .ok("aws", tmp.path(), &["ecr", "get-login-password"])
        .await;
    assert_eq!(
        out.trim(),
        cloud.registry.password(),
        "the local registry's password"
    );
}
