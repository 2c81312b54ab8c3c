//! What the CLI's local-cloud tests share: a private project directory that joins the running
//! local cloud, the example app's deploy.toml for it, and the binary run from there.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use deploykit_testsupport::LocalCloud;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace")
}

/// Makes `dir/target/localcloud` (and `dir/target/venvs`) the running cloud's, so commands
/// run from `dir` find it.
pub fn share_cloud(dir: &Path, cloud: &LocalCloud) {
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
}

/// A project deploying the example app (`app`, default examples/budgetsync) with its own
/// names, all derived from `base`, plus `extra` TOML.
pub fn example_project(
    dir: &Path,
    cloud: &LocalCloud,
    base: &str,
    app: Option<&Path>,
    extra: &str,
) {
    share_cloud(dir, cloud);
    let edge = cloud.edge_url.trim_start_matches("http://");
    let app = app.map_or_else(
        || workspace().join("examples/budgetsync"),
        Path::to_path_buf,
    );
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
{extra}"#,
        app = app.display(),
        edge_url = cloud.edge_url,
        // The local cloud's instances share one PostgreSQL cluster: a database name of our own.
        db_name = base.replace('-', "_"),
    );
    std::fs::write(dir.join("deploy.toml"), text).unwrap();
}

/// `[apprunner]` for a service and repository named `base`, built on the local platform image.
pub fn apprunner_section(base: &str) -> String {
    format!(
        "\n[apprunner]\nservice = \"{base}\"\nrepository = \"{base}\"\nport = 8080\n\n[targets.local.apprunner]\nbuild_args = {{ PYTHON_IMAGE = \"{}\" }}\n",
        deploykit_testsupport::deploykit_local::base_image::LOCAL_PYTHON_IMAGE
    )
}

/// The binary, run from `dir` with its deploy.toml, JSON output and the cloud's state.
pub fn deploykit(dir: &Path, cloud: &LocalCloud, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deploykit"));
    c.current_dir(dir)
        .arg("--config")
        .arg(dir.join("deploy.toml"))
        .args(["--output", "json"])
        .args(args)
        .env_remove("DEPLOYKIT_TARGET")
        .env_remove("DEPLOYKIT_CONFIG")
        .env_remove("AWS_PROFILE")
        .env("DEPLOYKIT_LOCAL_STATE", &cloud.state_file)
        .env("DEPLOYKIT_LOCAL_HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The last JSON line of stdout (the command's result or error object).
pub fn result_json(out: &Output) -> serde_json::Value {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null)
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether a `deploy eb --output json` result changed nothing (same version, same environment).
pub fn unchanged(out: &Output) -> bool {
    let r = &result_json(out)["result"];
    r["plan"]["environment_step"]["action"] == "unchanged"
        && r["outcome"]["version_created"] == false
}

/// A copy of the example app whose content (and so version label) `mark` changes.
pub fn app_copy(dir: &Path) -> std::path::PathBuf {
    let app = dir.join("app");
    let src = workspace().join("examples/budgetsync");
    let ok = std::process::Command::new("cp")
        .args(["-R"])
        .arg(&src)
        .arg(&app)
        .status()
        .expect("cp")
        .success();
    assert!(ok);
    // Nothing the app's own tests or venvs left behind.
    for junk in [".venv", ".pytest_cache", "__pycache__"] {
        let _ = std::fs::remove_dir_all(app.join(junk));
    }
    app
}

pub fn mark(app: &Path, n: usize) {
    std::fs::write(app.join("RELEASE"), format!("release {n}\n")).unwrap();
}
