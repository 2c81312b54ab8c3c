//! Issue 13's fault matrix, through the binary on the local cloud: for each kind of fault
//! (throttling, HTTP 500 and 503, a dropped connection, a response lost after the change was
//! made, latency), one first `deploy eb` of a fresh app in which the first call of *every*
//! operation the run makes gets that fault (the edge's `each_operation` rule: every step, the
//! database, secrets and roles a first local deploy makes included). Each run must converge
//! (exit 0, the app answering), the same deploy again must change nothing, and nothing may exist
//! twice. Then `db snapshot --wait` runs under the same matrix.
//!
//! The matrix is faults x steps: the steps are the operations the edge saw, counted from its
//! hits (printed at the end). The faults are armed on the shared edge, so the runs here are
//! serial (cargo runs test binaries one at a time; the tests of this binary take a lock).
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::sync::Mutex;
use std::time::Duration;

use deploykit_testsupport::deploykit_localcloud::{FaultHit, FaultKind, FaultRequest};
use deploykit_testsupport::{LocalCloud, local_cloud, unique_name};

/// The edge is shared: one matrix at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The rule that gives `kind` to the first call of every operation.
fn every_step(kind: &str) -> FaultRequest {
    let every = |k| FaultRequest::new("*", k, 1).each_operation();
    match kind {
        "throttle" => every(FaultKind::Throttle),
        "http-500" => every(FaultKind::ServerError),
        "http-503" => {
            let mut f = every(FaultKind::ServerError);
            f.status = Some(503);
            f
        }
        "drop" => every(FaultKind::Drop),
        "lost-response" => every(FaultKind::LostResponse),
        "latency" => every(FaultKind::Latency).delay(Duration::from_millis(200)),
        other => panic!("no fault kind {other}"),
    }
}

/// Runs the binary off the runtime's threads (the test's own edge client stays responsive).
async fn run(dir: &Path, cloud: &LocalCloud, args: &[&str]) -> Output {
    let mut cmd = common::deploykit(dir, cloud, args);
    tokio::task::spawn_blocking(move || cmd.output().expect("run deploykit"))
        .await
        .expect("join")
}

/// One cell row of the matrix: what a faulted run did.
struct Row {
    kind: &'static str,
    steps: BTreeSet<String>,
    hits: Vec<FaultHit>,
}

/// Runs `args` with `fault` armed on every operation; returns what the edge hit.
async fn faulted(
    cloud: &LocalCloud,
    dir: &Path,
    kind: &'static str,
    fault: &FaultRequest,
    args: &[&str],
) -> (Output, Row) {
    let admin = cloud.admin();
    admin.clear_faults().await.expect("clear faults");
    admin.inject_fault(fault).await.expect("arm");
    let out = run(dir, cloud, args).await;
    let hits = admin.fault_hits().await.expect("hits");
    admin.clear_faults().await.expect("clear faults");
    let steps = hits
        .iter()
        .map(|h| format!("{}:{}", h.service, h.operation))
        .collect();
    (out, Row { kind, steps, hits })
}

fn assert_steps(row: &Row, required: &[&str], out: &Output) {
    let missing: Vec<_> = required
        .iter()
        .filter(|s| !row.steps.contains(**s))
        .collect();
    assert!(
        missing.is_empty(),
        "{}: these steps got no fault: {missing:?}; steps seen: {:?}\n{}",
        row.kind,
        row.steps,
        common::text(out)
    );
    assert!(
        row.hits.len() == row.steps.len(),
        "{}: one fault per step, got {} hits for {} steps",
        row.kind,
        row.hits.len(),
        row.steps.len()
    );
}

fn report(what: &str, row: &Row) {
    eprintln!(
        "fault matrix, {what}: {} at {} steps ({} faults): {:?}",
        row.kind,
        row.steps.len(),
        row.hits.len(),
        row.steps
    );
}

/// The mutating steps of a first local `deploy eb` that must each have met the fault.
const EB_FIRST_DEPLOY_STEPS: &[&str] = &[
    "s3:PutObject",
    "elasticbeanstalk:CreateApplication",
    "elasticbeanstalk:CreateApplicationVersion",
    "elasticbeanstalk:CreateEnvironment",
    "elasticbeanstalk:DescribeEvents",
    "rds:CreateDBInstance",
    "secretsmanager:CreateSecret",
    "iam:CreateRole",
];

/// One first `deploy eb` of a fresh app with `kind` at every step, then the same deploy again.
async fn first_eb_deploy_under(kind: &'static str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cloud = local_cloud().await;
    let eb = aws_sdk_elasticbeanstalk::Client::new(&cloud.sdk_config());
    let base = unique_name(&format!("fm-{kind}"));
    let dir = tempfile::tempdir().unwrap();
    common::example_project(dir.path(), &cloud, &base, None, "");
    let (out, row) = faulted(
        &cloud,
        dir.path(),
        kind,
        &every_step(kind),
        &["deploy", "eb"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{kind}: {}", common::text(&out));
    assert_steps(&row, EB_FIRST_DEPLOY_STEPS, &out);

    // Converged: the same deploy again changes nothing.
    let again = run(dir.path(), &cloud, &["deploy", "eb"]).await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "{kind}: {}",
        common::text(&again)
    );
    assert!(
        common::unchanged(&again),
        "{kind}: {}",
        common::text(&again)
    );

    // Nothing twice: one version, one environment.
    let versions = eb
        .describe_application_versions()
        .application_name(&base)
        .send()
        .await
        .expect("versions");
    assert_eq!(versions.application_versions().len(), 1, "{kind}");
    let envs = eb
        .describe_environments()
        .application_name(&base)
        .include_deleted(false)
        .send()
        .await
        .expect("environments");
    assert_eq!(envs.environments().len(), 1, "{kind}");
    report("first deploy eb", &row);
}

macro_rules! first_eb_deploy {
    ($($test:ident: $kind:literal,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            first_eb_deploy_under($kind).await;
        }
    )*};
}

first_eb_deploy! {
    first_eb_deploy_rides_out_throttling_at_every_step: "throttle",
    first_eb_deploy_rides_out_http_500_at_every_step: "http-500",
    first_eb_deploy_rides_out_http_503_at_every_step: "http-503",
    first_eb_deploy_rides_out_dropped_connections_at_every_step: "drop",
    first_eb_deploy_rides_out_lost_responses_at_every_step: "lost-response",
    first_eb_deploy_rides_out_latency_at_every_step: "latency",
}
