//! Issue 13's fault matrix, through the binary on the local cloud. Six kinds of fault
//! (throttling, HTTP 500 and 503, a dropped connection, a response lost after the change was
//! made, latency) in three pairs: per pair, one first `deploy eb` of a fresh app in which the
//! first call of *every* operation the run makes gets the pair's first fault and its retry the
//! second (the edge's `each_operation` rules: every step, the database, secrets and roles a
//! first local deploy makes included). Each run must converge (exit 0, the app answering), the
//! same deploy again must change nothing, and nothing may exist twice. Then `db create` and
//! `db snapshot --wait` run under the same matrix.
//!
//! The matrix is faults x steps: the steps are the operations the edge saw, counted from its
//! hits (printed at the end). The faults are armed on the shared edge, so the runs here are
//! serial (cargo runs test binaries one at a time; the tests of this binary take a lock).
#![cfg(unix)]
// The matrix prints its counts (faults x steps, interrupts) for the closing note.
#![allow(clippy::print_stderr)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use deploykit_testsupport::deploykit_localcloud::{FaultHit, FaultKind, FaultRequest};
use deploykit_testsupport::{LocalCloud, local_cloud, unique_name};

/// The edge is shared: one matrix at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every kind of fault the matrix injects, in pairs: in one run, the first call of every
/// operation gets the first kind and its retry the second (deploykit's clients try 5 times).
const PAIRS: &[[&str; 2]] = &[
    ["throttle", "http-500"],
    ["http-503", "drop"],
    ["lost-response", "latency"],
];

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

/// One row of the matrix: what a faulted run did.
struct Row {
    kinds: String,
    steps: BTreeSet<String>,
    hits: Vec<FaultHit>,
}

/// Runs `args` with `kinds` armed on every operation (in that order); returns what the edge hit.
async fn faulted(cloud: &LocalCloud, dir: &Path, kinds: &[&str], args: &[&str]) -> (Output, Row) {
    let admin = cloud.admin();
    admin.clear_faults().await.expect("clear faults");
    for kind in kinds {
        admin.inject_fault(&every_step(kind)).await.expect("arm");
    }
    let out = run(dir, cloud, args).await;
    let hits = admin.fault_hits().await.expect("hits");
    admin.clear_faults().await.expect("clear faults");
    let steps = hits
        .iter()
        .map(|h| format!("{}:{}", h.service, h.operation))
        .collect();
    let kinds = kinds.join("+");
    (out, Row { kinds, steps, hits })
}

/// Every `required` step met the fault, and every step met each kind exactly once.
fn assert_steps(row: &Row, required: &[&str], out: &Output) {
    let missing: Vec<_> = required
        .iter()
        .filter(|s| !row.steps.contains(**s))
        .collect();
    assert!(
        missing.is_empty(),
        "{}: these steps got no fault: {missing:?}; steps seen: {:?}\n{}",
        row.kinds,
        row.steps,
        common::text(out)
    );
    let mut want: Vec<String> = row
        .kinds
        .split('+')
        .map(|k| {
            serde_json::to_value(every_step(k).fault)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .expect("a fault's wire name")
        })
        .collect();
    want.sort();
    for step in &row.steps {
        let mut got: Vec<String> = row
            .hits
            .iter()
            .filter(|h| format!("{}:{}", h.service, h.operation) == *step)
            .map(|h| h.fault.clone())
            .collect();
        got.sort();
        assert_eq!(got, want, "{}: the faults {step} met", row.kinds);
    }
}

/// A new release of `app` deployed by `route` under the same faults: `update_step` meets them
/// too; the run's steps and hits join `row`.
async fn update_under(
    cloud: &LocalCloud,
    dir: &Path,
    app: &Path,
    kinds: &[&str],
    route: &str,
    update_step: &str,
    row: &mut Row,
) {
    common::mark(app, 1);
    let (updated, more) = faulted(cloud, dir, kinds, &["deploy", route]).await;
    let cell = &row.kinds;
    assert_eq!(
        updated.status.code(),
        Some(0),
        "{cell} update: {}",
        common::text(&updated)
    );
    assert!(more.steps.contains(update_step), "{cell}: {:?}", more.steps);
    row.steps.extend(more.steps);
    row.hits.extend(more.hits);
}

fn report(what: &str, row: &Row) {
    eprintln!(
        "fault matrix, {what}: {} at {} steps ({} faults): {:?}",
        row.kinds,
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

/// One first `deploy eb` of a fresh app with `kinds` at every step, then the same deploy again,
/// then an update to a new version under the same faults.
async fn first_eb_deploy_under(kinds: [&str; 2]) {
    let _serial = SERIAL.lock().await;
    let cloud = local_cloud().await;
    let eb = aws_sdk_elasticbeanstalk::Client::new(&cloud.sdk_config());
    let base = unique_name("fm");
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_copy(dir.path());
    common::example_project(dir.path(), &cloud, &base, Some(&app), "");
    let (out, mut row) = faulted(&cloud, dir.path(), &kinds, &["deploy", "eb"]).await;
    let cell = &row.kinds;
    assert_eq!(out.status.code(), Some(0), "{cell}: {}", common::text(&out));
    assert_steps(&row, EB_FIRST_DEPLOY_STEPS, &out);

    // Converged: the same deploy again changes nothing.
    let again = run(dir.path(), &cloud, &["deploy", "eb"]).await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "{cell}: {}",
        common::text(&again)
    );
    assert!(
        common::unchanged(&again),
        "{cell}: {}",
        common::text(&again)
    );

    // Nothing twice: one version, one environment.
    let versions = eb
        .describe_application_versions()
        .application_name(&base)
        .send()
        .await
        .expect("versions");
    assert_eq!(versions.application_versions().len(), 1, "{cell}");
    let envs = eb
        .describe_environments()
        .application_name(&base)
        .include_deleted(false)
        .send()
        .await
        .expect("environments");
    assert_eq!(envs.environments().len(), 1, "{cell}");

    // An update (a new version) under the same faults.
    let update = "elasticbeanstalk:UpdateEnvironment";
    update_under(&cloud, dir.path(), &app, &kinds, "eb", update, &mut row).await;
    let versions = eb
        .describe_application_versions()
        .application_name(&base)
        .send()
        .await
        .expect("versions");
    assert_eq!(
        versions.application_versions().len(),
        2,
        "{}: one per release",
        row.kinds
    );
    report("first deploy eb, then an update", &row);
}

macro_rules! first_eb_deploy {
    ($($test:ident: $pair:expr,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            first_eb_deploy_under($pair).await;
        }
    )*};
}

first_eb_deploy! {
    first_eb_deploy_rides_out_throttling_then_http_500_at_every_step: PAIRS[0],
    first_eb_deploy_rides_out_http_503_then_a_dropped_connection_at_every_step: PAIRS[1],
    first_eb_deploy_rides_out_a_lost_response_then_latency_at_every_step: PAIRS[2],
}

/// The steps of `db create` then `db snapshot --wait` that must each have met the fault.
const DB_STEPS: &[&str] = &[
    "rds:CreateDBInstance",
    "rds:DescribeDBInstances",
    "rds:CreateDBSnapshot",
    "rds:DescribeDBSnapshots",
];

/// `db create` and `db snapshot --wait` of a fresh instance, each run with every kind of fault
/// at every step: one instance and one snapshot per kind, and `db create` again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_create_and_snapshot_ride_out_every_fault_at_every_step() {
    let _serial = SERIAL.lock().await;
    let cloud = local_cloud().await;
    let rds = aws_sdk_rds::Client::new(&cloud.sdk_config());
    for kinds in PAIRS {
        let base = unique_name("fmdb");
        let dir = tempfile::tempdir().unwrap();
        common::example_project(dir.path(), &cloud, &base, None, "");
        let (created, mut row) = faulted(&cloud, dir.path(), kinds, &["db", "create"]).await;
        let kind = row.kinds.clone();
        assert_eq!(
            created.status.code(),
            Some(0),
            "{kind}: {}",
            common::text(&created)
        );
        let args = ["db", "snapshot", "--wait"];
        let (snap, more) = faulted(&cloud, dir.path(), kinds, &args).await;
        assert_eq!(
            snap.status.code(),
            Some(0),
            "{kind}: {}",
            common::text(&snap)
        );
        row.steps.extend(more.steps);
        row.hits.extend(more.hits);
        let missing: Vec<_> = DB_STEPS
            .iter()
            .filter(|s| !row.steps.contains(**s))
            .collect();
        assert!(
            missing.is_empty(),
            "{kind}: no fault at {missing:?}: {:?}",
            row.steps
        );

        let again = run(dir.path(), &cloud, &["db", "create"]).await;
        assert_eq!(
            again.status.code(),
            Some(0),
            "{kind}: {}",
            common::text(&again)
        );
        let instance = format!("{base}-db");
        let snapshots = rds
            .describe_db_snapshots()
            .db_instance_identifier(&instance)
            .snapshot_type("manual")
            .send()
            .await
            .expect("snapshots");
        assert_eq!(snapshots.db_snapshots().len(), 1, "{kind}: one snapshot");
        let instances = rds.describe_db_instances().send().await.expect("instances");
        let ours = instances
            .db_instances()
            .iter()
            .filter(|i| i.db_instance_identifier() == Some(instance.as_str()))
            .count();
        assert_eq!(ours, 1, "{kind}: one instance");
        report("db create + db snapshot --wait", &row);
    }
}

/// The steps of a first local `deploy apprunner` that must each have met the fault.
const APPRUNNER_FIRST_DEPLOY_STEPS: &[&str] = &[
    "ecr:GetAuthorizationToken",
    "apprunner:CreateService",
    "apprunner:ListOperations",
    "apprunner:DescribeService",
    "rds:CreateDBInstance",
    "secretsmanager:CreateSecret",
    "iam:CreateRole",
];

/// Route B: one first `deploy apprunner` of a fresh service (and repository) per pair, the
/// image built by the real Docker Engine; the same deploy again changes nothing and there is one
/// service of the name; then an update to a new image under the same faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_apprunner_deploys_ride_out_every_fault_at_every_step() {
    let _serial = SERIAL.lock().await;
    let cloud = local_cloud().await;
    let apprunner = aws_sdk_apprunner::Client::new(&cloud.sdk_config());
    for kinds in PAIRS {
        let base = unique_name("fmar");
        let dir = tempfile::tempdir().unwrap();
        let extra = common::apprunner_section(&base);
        let app = common::app_copy(dir.path());
        common::example_project(dir.path(), &cloud, &base, Some(&app), &extra);
        let (out, mut row) = faulted(&cloud, dir.path(), kinds, &["deploy", "apprunner"]).await;
        let cell = &row.kinds;
        assert_eq!(out.status.code(), Some(0), "{cell}: {}", common::text(&out));
        assert_steps(&row, APPRUNNER_FIRST_DEPLOY_STEPS, &out);

        let again = run(dir.path(), &cloud, &["deploy", "apprunner"]).await;
        assert_eq!(
            again.status.code(),
            Some(0),
            "{cell}: {}",
            common::text(&again)
        );
        let result = common::result_json(&again);
        assert!(
            result.to_string().contains("\"unchanged\""),
            "{cell}: {}",
            common::text(&again)
        );
        let services = apprunner.list_services().send().await.expect("services");
        let named = services
            .service_summary_list()
            .iter()
            .filter(|s| s.service_name() == Some(base.as_str()))
            .count();
        assert_eq!(named, 1, "{cell}: one service");

        // An update (a new image) under the same faults.
        let update = "apprunner:UpdateService";
        update_under(
            &cloud,
            dir.path(),
            &app,
            kinds,
            "apprunner",
            update,
            &mut row,
        )
        .await;
        report("first deploy apprunner, then an update", &row);
    }
}

/// `local fault` arms a rule by operation, `hits` lists what it did, `clear` disarms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_fault_commands_arm_by_operation_list_hits_and_clear() {
    let _serial = SERIAL.lock().await;
    let cloud = local_cloud().await;
    let dir = tempfile::tempdir().unwrap();
    common::example_project(dir.path(), &cloud, &unique_name("lf"), None, "");
    fn cmd<'a>(rest: &[&'a str]) -> Vec<&'a str> {
        [&["local", "fault"][..], rest].concat()
    }
    let clear = run(dir.path(), &cloud, &cmd(&["clear"])).await;
    assert_eq!(clear.status.code(), Some(0), "{}", common::text(&clear));
    let args = cmd(&[
        "throttle",
        "sts",
        "--operation",
        "GetCallerIdentity",
        "--count",
        "2",
    ]);
    let armed = run(dir.path(), &cloud, &args).await;
    assert_eq!(armed.status.code(), Some(0), "{}", common::text(&armed));

    // Two throttles, then the SDK's third attempt answers.
    let me = deploykit_aws::caller_identity(&cloud.sdk_config()).await;
    assert!(me.is_ok(), "{me:?}");
    let hits = run(dir.path(), &cloud, &cmd(&["hits"])).await;
    let listed = common::result_json(&hits)["result"].clone();
    assert_eq!(
        listed,
        serde_json::json!([
            { "service": "sts", "operation": "GetCallerIdentity", "fault": "throttle" },
            { "service": "sts", "operation": "GetCallerIdentity", "fault": "throttle" },
        ]),
        "{}",
        common::text(&hits)
    );
    let cleared = run(dir.path(), &cloud, &cmd(&["clear"])).await;
    assert_eq!(cleared.status.code(), Some(0), "{}", common::text(&cleared));
    let none = run(dir.path(), &cloud, &cmd(&["hits"])).await;
    assert_eq!(common::result_json(&none)["result"], serde_json::json!([]));
}
