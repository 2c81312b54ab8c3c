//! Issue 13's interrupts, through the binary on the local cloud: `deploy eb` and
//! `deploy apprunner` are killed with a real SIGKILL (no handler runs, no journal clean-up, the
//! remote lock tag stays) at each step of a first deploy and of an update, while the edge holds that step's request, either before
//! AWS served it or after (the change made, its answer never read). The same deploy run again
//! must converge, and at the end one more run changes nothing. One run of each is interrupted
//! with SIGINT instead and must exit 130.
//!
//! Steps are held with the edge's `latency` (before serving) and `slow_response` (after) rules
//! on one operation; the test kills once the edge reports the hold.
#![cfg(unix)]
// The matrix prints its counts (faults x steps, interrupts) for the closing note.
#![allow(clippy::print_stderr)]

mod common;

use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use deploykit::journal;
use deploykit_testsupport::deploykit_localcloud::{FaultKind, FaultRequest};
use deploykit_testsupport::{LocalCloud, local_cloud, unique_name};

/// The faults are armed on the shared edge: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long the edge holds the request: far longer than the test waits before it kills.
const HOLD: Duration = Duration::from_secs(120);

/// Where a run is killed: the operation held, whether AWS served it first, and how many calls
/// of it pass before the one held.
struct Step {
    operation: &'static str,
    served: bool,
    skip: u32,
    signal: &'static str,
}

const FIRST_DEPLOY: &[Step] = &[
    Step {
        operation: "CreateApplicationVersion",
        served: false,
        skip: 0,
        signal: "KILL",
    },
    Step {
        operation: "CreateEnvironment",
        served: true,
        skip: 0,
        signal: "KILL",
    },
];

const UPDATE: &[Step] = &[
    Step {
        operation: "PutObject",
        served: false,
        skip: 0,
        signal: "KILL",
    },
    Step {
        operation: "CreateApplicationVersion",
        served: true,
        skip: 0,
        signal: "KILL",
    },
    Step {
        operation: "UpdateEnvironment",
        served: false,
        skip: 0,
        signal: "KILL",
    },
    Step {
        operation: "UpdateEnvironment",
        served: true,
        skip: 0,
        signal: "KILL",
    },
    Step {
        operation: "DescribeEvents",
        served: false,
        skip: 1,
        signal: "KILL",
    },
    Step {
        operation: "UpdateEnvironment",
        served: true,
        skip: 0,
        signal: "INT",
    },
];

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -{sig} {}", child.id());
}

/// Starts `deploy <route>` with `step` held, kills it there, and returns its output.
async fn interrupted(cloud: &LocalCloud, dir: &Path, route: &str, step: &Step) -> Output {
    let admin = cloud.admin();
    admin.clear_faults().await.expect("clear");
    let kind = if step.served {
        FaultKind::SlowResponse
    } else {
        FaultKind::Latency
    };
    let fault = FaultRequest::new("*", kind, 1)
        .operation(step.operation)
        .skip(step.skip)
        .delay(HOLD);
    admin.inject_fault(&fault).await.expect("arm");
    let mut child = common::deploykit(dir, cloud, &["deploy", route])
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        let hits = admin.fault_hits().await.expect("hits");
        if hits.iter().any(|h| h.operation == step.operation) {
            break;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            let out = child.wait_with_output().expect("output");
            panic!(
                "the deploy ended ({status}) before {} was held\n{}",
                step.operation,
                common::text(&out)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{} was never held",
            step.operation
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&child, step.signal);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("output"))
        .await
        .expect("join");
    admin.clear_faults().await.expect("clear");
    out
}

async fn deploy(cloud: &LocalCloud, dir: &Path, route: &str) -> Output {
    let mut cmd = common::deploykit(dir, cloud, &["deploy", route]);
    tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join")
}

/// Kills a run at `step`, runs the same deploy again and asserts it converged.
async fn kill_and_rerun(cloud: &LocalCloud, dir: &Path, route: &str, phase: &str, step: &Step) {
    let out = interrupted(cloud, dir, route, step).await;
    let what = format!(
        "deploy {route}, {phase}, SIG{} at {} ({} it was served)",
        step.signal,
        step.operation,
        if step.served { "after" } else { "before" }
    );
    // Both leave the in-flight journal for the re-run; SIGINT also says what was in flight.
    let entry = journal::list(dir)
        .expect("readable journal")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{what}: no in-flight journal\n{}", common::text(&out)));
    match step.signal {
        "INT" => {
            assert_eq!(
                out.status.code(),
                Some(130),
                "{what}: {}",
                common::text(&out)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.contains("\"code\":130")
                    && stdout.contains(&format!("deploying {} to", entry.deploying))
                    && stdout.contains(&format!("deploy {route}")),
                "{what}: {}",
                common::text(&out)
            );
            let lock = deploykit::lock::lock_path(dir, "local", &entry.name);
            let holder = std::fs::read_to_string(&lock).unwrap_or_default();
            assert_eq!(holder, "", "{what}: the local lock was released");
        }
        _ => assert_eq!(out.status.code(), None, "{what}: killed, no exit code"),
    }
    let again = deploy(cloud, dir, route).await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "{what}: the re-run: {}",
        common::text(&again)
    );
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("stopped before it finished") && stderr.contains(&entry.deploying),
        "{what}: the re-run names the interrupted run: {}",
        common::text(&again)
    );
    assert!(
        journal::list(dir).expect("readable").is_empty(),
        "{what}: the re-run clears the journal"
    );
    eprintln!("converged after {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eb_deploy_killed_at_any_step_converges_when_run_again() {
    let _serial = SERIAL.lock().await;
    let cloud = local_cloud().await;
    let mut interrupts = 0;
    // A first deploy, killed at each of its steps: a fresh app each time.
    let mut last = None;
    for step in FIRST_DEPLOY {
        let dir = tempfile::tempdir().unwrap();
        let app = common::app_copy(dir.path());
        common::example_project(dir.path(), &cloud, &unique_name("kill"), Some(&app), "");
        kill_and_rerun(&cloud, dir.path(), "eb", "first deploy", step).await;
        interrupts += 1;
        last = Some((dir, app));
    }
    // Updates of the last one, each with a new release, killed at each step.
    let (dir, app) = last.expect("a first deploy ran");
    for (n, step) in UPDATE.iter().enumerate() {
        common::mark(&app, n + 1);
        kill_and_rerun(&cloud, dir.path(), "eb", "update", step).await;
        interrupts += 1;
    }
    let last = deploy(&cloud, dir.path(), "eb").await;
    assert_eq!(last.status.code(), Some(0), "{}", common::text(&last));
    assert!(common::unchanged(&last), "{}", common::text(&last));
    // Nothing twice: one version per release, whatever was killed when.
    let base = common::result_json(&last)["result"]["plan"]["application"]
        .as_str()
        .expect("the application")
        .to_string();
    let versions = aws_sdk_elasticbeanstalk::Client::new(&cloud.sdk_config())
        .describe_application_versions()
        .application_name(&base)
        .send()
        .await
        .expect("versions");
    assert_eq!(versions.application_versions().len(), UPDATE.len() + 1);
    eprintln!("kill matrix: {interrupts} interrupts, each followed by a converging re-run");
}

const APPRUNNER_FIRST_DEPLOY: &[Step] = &[Step {
    operation: "CreateService",
    served: true,
    skip: 0,
    signal: "KILL",
}];

const APPRUNNER_UPDATE: &[Step] = &[
    Step {
        operation: "UpdateService",
        served: false,
        skip: 0,
        signal: "KILL",
    },
    Step {
        operation: "UpdateService",
        served: true,
        skip: 0,
        signal: "KILL",
    },
    Step {
        operation: "ListOperations",
        served: false,
        skip: 1,
        signal: "KILL",
    },
    Step {
        operation: "UpdateService",
        served: true,
        skip: 0,
        signal: "INT",
    },
];

/// Route B the same way: `deploy apprunner` killed at CreateService (served), then updates
/// killed before and after UpdateService and in the operation wait, and one SIGINT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apprunner_deploy_killed_at_any_step_converges_when_run_again() {
    let _serial = SERIAL.lock().await;
    let cloud = local_cloud().await;
    let base = unique_name("killar");
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_copy(dir.path());
    let extra = common::apprunner_section(&base);
    common::example_project(dir.path(), &cloud, &base, Some(&app), &extra);
    let mut interrupts = 0;
    for (phase, steps) in [
        ("first deploy", APPRUNNER_FIRST_DEPLOY),
        ("update", APPRUNNER_UPDATE),
    ] {
        for step in steps {
            interrupts += 1;
            common::mark(&app, interrupts);
            kill_and_rerun(&cloud, dir.path(), "apprunner", phase, step).await;
        }
    }
    let last = deploy(&cloud, dir.path(), "apprunner").await;
    assert_eq!(last.status.code(), Some(0), "{}", common::text(&last));
    assert!(
        common::result_json(&last)
            .to_string()
            .contains("\"unchanged\""),
        "{}",
        common::text(&last)
    );
    eprintln!(
        "kill matrix, deploy apprunner: {interrupts} interrupts, each followed by a converging re-run"
    );
}
