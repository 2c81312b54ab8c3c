//! The real thing on the local cloud: `deploy eb` of a fresh environment is interrupted with a
//! real SIGINT once its apply has recorded itself in the in-flight journal (its first change
//! is next); it exits 130 naming the label in flight, keeps the journal and releases the lock;
//! the same deploy run again reports the interrupted run, converges and removes the journal.
//!
//! Uses the local cloud `cargo xtask test` started (deploykit-testsupport), with its own names,
//! from a private project directory whose `target/localcloud` and `target/venvs` are the
//! shared cloud's. Unix only (it sends signals with `kill`).
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use deploykit::journal;
use deploykit_testsupport::{LocalCloud, local_cloud, unique_name};

fn deploy(dir: &Path, cloud: &LocalCloud) -> Command {
    common::deploykit(dir, cloud, &["deploy", "eb"])
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
    common::example_project(dir.path(), &cloud, &base, None, "");
    let inflight = journal::path(dir.path(), "local", &base);

    let mut child = deploy(dir.path(), &cloud).spawn().expect("spawn deploykit");
    if let Err(why) = wait_for_file(&mut child, &inflight, Duration::from_secs(600)) {
        let _ = child.kill();
        let out = child.wait_with_output().expect("output");
        panic!("{why}\n{}", common::text(&out));
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
    assert_eq!(out.status.code(), Some(130), "{}", common::text(&out));
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
        common::text(&out)
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
    assert_eq!(again.status.code(), Some(0), "{}", common::text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("stopped before it finished") && stderr.contains(&entry.deploying),
        "{}",
        common::text(&again)
    );
    assert!(!inflight.exists(), "{}", common::text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains(&entry.deploying),
        "{}",
        common::text(&again)
    );
}
