//! A real SIGINT / SIGTERM to the real `deploykit` binary in the middle of `deploy eb`: it
//! stops waiting, exits 130 with an error object under `--output json`, says what was in
//! flight (from the in-flight journal) and how to finish or roll back, and leaves the journal.
//!
//! The deploy waits on an "AWS" that accepts connections and never answers (a listener on
//! loopback that this test owns): the signal is sent once the binary is inside that call.
//! Needs no local cloud; Unix only (it sends signals with `kill`).
#![cfg(unix)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use deploykit::journal::{self, InFlight};

/// A loopback listener that accepts and holds every connection, never answering; each accept
/// is announced on the returned channel.
fn black_hole() -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let port = listener.local_addr().expect("local addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
            let _ = tx.send(());
        }
    });
    (port, rx)
}

fn project(dir: &Path, port: u16) {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("app/wsgi.py"),
        "from flask import Flask\napp = Flask(__name__)\n",
    )
    .unwrap();
    std::fs::write(dir.join("app/requirements.txt"), "flask\n").unwrap();
    // A valid EB app: the bundle (judged before any AWS call) must pass for the deploy to
    // reach the black hole.
    std::fs::write(dir.join("app/Procfile"), "web: gunicorn wsgi:app\n").unwrap();
    std::fs::write(
        dir.join("deploy.toml"),
        format!(
            r#"default_target = "dev"

[app]
name = "irqtest"
path = "app"

[targets.dev]
region = "us-east-1"
endpoint_url = "http://127.0.0.1:{port}"

[eb]
application = "irqtest"
environment = "irqtest-dev"
"#
        ),
    )
    .unwrap();
}

fn spawn_deploy(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_deploykit"))
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("deploy.toml"))
        .args(["--output", "json", "deploy", "eb"])
        .env_remove("DEPLOYKIT_TARGET")
        .env_remove("DEPLOYKIT_CONFIG")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the deploykit binary")
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("running kill")
        .success();
    assert!(ok, "kill {sig} failed");
}

/// Waits (bounded) for the child to end; returns its exit code, stdout and stderr.
fn finish(mut child: Child, within: Duration) -> (Option<i32>, String, String) {
    let started = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("the deploy did not end within {within:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `{"error": ...}` object of the JSON output.
fn error_object(stdout: &str) -> serde_json::Value {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("error").cloned())
        .unwrap_or_else(|| panic!("no error object in\n{stdout}"))
}

#[test]
fn sigint_mid_deploy_exits_130_naming_what_was_in_flight_and_keeps_the_journal() {
    let (port, accepted) = black_hole();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), port);
    let child = spawn_deploy(dir.path());
    accepted
        .recv_timeout(Duration::from_secs(120))
        .expect("the deploy never called AWS");
    // What the binary's apply records before its first change, as this process's entry.
    let entry = InFlight {
        pid: child.id(),
        ..InFlight::new(
            "dev",
            "eb",
            "irqtest-dev",
            "irqtest-v9",
            Some("irqtest-v8".into()),
        )
    };
    journal::write(dir.path(), &entry).unwrap();
    let sent = Instant::now();
    signal(&child, "-INT");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(130), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(sent.elapsed() < Duration::from_secs(10));
    let err = error_object(&stdout);
    assert_eq!(err["code"], 130, "{err}");
    assert_eq!(err["category"], "interrupted", "{err}");
    let message = err["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("deploying irqtest-v9 to irqtest-dev")
            && message.contains("it ran irqtest-v8 before")
            && message.contains("dev-irqtest-dev.json"),
        "{message}"
    );
    let help = err["help"].as_str().unwrap_or_default();
    assert!(
        help.contains("deploykit --target dev deploy eb")
            && help.contains("converges")
            && help.contains("deploykit --target dev rollback eb --to irqtest-v8"),
        "{help}"
    );
    assert_eq!(
        journal::read(dir.path(), "dev", "irqtest-dev").unwrap(),
        Some(entry),
        "the journal stays for the next run"
    );
}

#[test]
fn sigterm_before_any_change_exits_130_with_nothing_in_flight() {
    let (port, accepted) = black_hole();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), port);
    // An entry an earlier, dead run left is not this run's.
    let mut old = InFlight::new("dev", "eb", "irqtest-dev", "irqtest-v7", None);
    old.pid = u32::MAX;
    journal::write(dir.path(), &old).unwrap();
    let child = spawn_deploy(dir.path());
    accepted
        .recv_timeout(Duration::from_secs(120))
        .expect("the deploy never called AWS");
    signal(&child, "-TERM");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(130), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let err = error_object(&stdout);
    let message = err["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("nothing was in flight") && !message.contains("irqtest-v7"),
        "{message}"
    );
    // The plan reported the earlier run's entry (an event, on stderr) before it called AWS.
    assert!(
        stderr.contains("stopped before it finished") && stderr.contains("irqtest-v7"),
        "{stderr}"
    );
}
