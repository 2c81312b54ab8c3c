//! Elastic Beanstalk conformance: the real `aws-sdk-elasticbeanstalk` client against the edge,
//! for every emulated operation and error. Time runs 300x faster (a five-minute launch takes a
//! second).

mod edge_support;

use std::time::{Duration, Instant};

use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::error::ProvideErrorMetadata;
use aws_sdk_elasticbeanstalk::primitives::DateTime;
use aws_sdk_elasticbeanstalk::types::{
    ApplicationResourceLifecycleConfig, ApplicationVersionLifecycleConfig,
    ApplicationVersionStatus, ConfigurationOptionSetting, EnvironmentDescription,
    EnvironmentHealthAttribute, EventSeverity, MaxCountRule, OptionSpecification, PlatformFilter,
    S3Location,
};
use deploykit_localcloud::{AdminClient, FaultKind, FaultRequest};
use edge_support::*;

const STACK: &str = "64bit Amazon Linux 2023 v4.7.3 running Python 3.12";
const ENV_NS: &str = "aws:elasticbeanstalk:application:environment";

/// The service error code of an SDK error (panics on success).
fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, E>,
) -> (String, String) {
    let e = r.expect_err("the call must fail");
    (
        e.code()
            .unwrap_or_else(|| panic!("no error code in {e:?}"))
            .to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

async fn describe(eb: &Client, env: &str) -> EnvironmentDescription {
    eb.describe_environments()
        .environment_names(env)
        .include_deleted(true)
        .send()
        .await
        .expect("DescribeEnvironments")
        .environments()
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("environment {env} not listed"))
}

/// Polls until the environment reaches `status` and `color` (bounded: 15 s real time).
async fn wait_for(eb: &Client, env: &str, status: &str, color: &str) -> EnvironmentDescription {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = describe(eb, env).await;
        let (s, h) = (
            d.status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            d.health()
                .map(|h| h.as_str().to_string())
                .unwrap_or_default(),
        );
        if s == status && h == color {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "{env} stuck at {s}/{h}, wanted {status}/{color}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn messages_since(eb: &Client, env: &str, since: DateTime) -> Vec<(String, String)> {
    eb.describe_events()
        .environment_name(env)
        .start_time(since)
        .send()
        .await
        .expect("DescribeEvents")
        .events()
        .iter()
        .map(|e| {
            (
                e.severity()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                e.message().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn has(events: &[(String, String)], severity: &str, message: &str) -> bool {
    events
        .iter()
        .any(|(s, m)| s == severity && m.starts_with(message))
}

fn now() -> DateTime {
    DateTime::from(std::time::SystemTime::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_versions_storage_and_quota() {
    let moto = start_moto().await;
    let edge = start_edge_with(Some(&moto), |c| c.eb_version_quota = 4).await;
    let eb = eb(&edge, true);
    let s3 = s3(&edge);

    // CreateStorageLocation creates the bucket on S3.
    let bucket = eb
        .create_storage_location()
        .send()
        .await
        .expect("CreateStorageLocation")
        .s3_bucket()
        .unwrap_or_default()
        .to_string();
    assert_eq!(bucket, "elasticbeanstalk-us-east-1-000000000000");
    s3.head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket exists on moto");
    // Idempotent.
    eb.create_storage_location()
        .send()
        .await
        .expect("second CreateStorageLocation");
    put_object(&s3, &bucket, "app/v1.zip", good_bundle()).await;
    put_object(&s3, &bucket, "app/v2.zip", good_bundle()).await;
    put_object(&s3, &bucket, "app/not-a-zip.zip", b"garbage".to_vec()).await;

    // Applications.
    let app = eb
        .create_application()
        .application_name("budgetsync")
        .description("BudgetSync")
        .send()
        .await
        .expect("CreateApplication")
        .application()
        .cloned()
        .expect("application");
    assert_eq!(app.application_name(), Some("budgetsync"));
    assert_eq!(
        app.application_arn(),
        Some("arn:aws:elasticbeanstalk:us-east-1:000000000000:application/budgetsync")
    );
    let (c, m) = code(
        eb.create_application()
            .application_name("budgetsync")
            .send()
            .await,
    );
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "InvalidParameterValue",
            "Application budgetsync already exists."
        )
    );
    let (c, m) = code(
        eb.create_application()
            .application_name("x".repeat(101))
            .send()
            .await,
    );
    assert_eq!(c, "ValidationError");
    assert!(m.contains("less than or equal to 100"), "{m}");
    eb.create_application()
        .application_name("other")
        .send()
        .await
        .expect("second app");
    let apps = eb
        .describe_applications()
        .application_names("budgetsync")
        .send()
        .await
        .expect("DescribeApplications");
    assert_eq!(apps.applications().len(), 1);
    assert_eq!(apps.applications()[0].description(), Some("BudgetSync"));
    let all = eb
        .describe_applications()
        .send()
        .await
        .expect("DescribeApplications all");
    assert_eq!(all.applications().len(), 2);

    // Versions.
    let loc = |key: &str| S3Location::builder().s3_bucket(&bucket).s3_key(key).build();
    let v1 = eb
        .create_application_version()
        .application_name("budgetsync")
        .version_label("v1")
        .description("first")
        .source_bundle(loc("app/v1.zip"))
        .process(true)
        .send()
        .await
        .expect("CreateApplicationVersion v1")
        .application_version()
        .cloned()
        .expect("version");
    assert_eq!(v1.version_label(), Some("v1"));
    assert_eq!(v1.status(), Some(&ApplicationVersionStatus::Processed));
    assert_eq!(
        v1.source_bundle().and_then(|s| s.s3_key()),
        Some("app/v1.zip")
    );
    let v2 = eb
        .create_application_version()
        .application_name("budgetsync")
        .version_label("v2")
        .source_bundle(loc("app/v2.zip"))
        .send()
        .await
        .expect("CreateApplicationVersion v2");
    assert_eq!(
        v2.application_version().and_then(|v| v.status()),
        Some(&ApplicationVersionStatus::Unprocessed)
    );
    let garbage = eb
        .create_application_version()
        .application_name("budgetsync")
        .version_label("garbage")
        .source_bundle(loc("app/not-a-zip.zip"))
        .process(true)
        .send()
        .await
        .expect("a non-zip bundle is accepted, then fails processing");
    assert_eq!(
        garbage.application_version().and_then(|v| v.status()),
        Some(&ApplicationVersionStatus::Failed)
    );

    let cases: Vec<(&str, &str, &str, &str, &str)> = vec![
        // (app, label, key, code, message)
        (
            "budgetsync",
            "v1",
            "app/v1.zip",
            "InvalidParameterValue",
            "Application Version v1 already exists.",
        ),
        (
            "budgetsync",
            "v9",
            "app/missing.zip",
            "InvalidParameterCombination",
            "Unable to download from S3 location (Bucket: elasticbeanstalk-us-east-1-000000000000  Key: app/missing.zip). Reason: Not Found",
        ),
        (
            "nope",
            "v1",
            "app/v1.zip",
            "InvalidParameterValue",
            "No Application named 'nope' found.",
        ),
    ];
    for (app, label, key, want_code, want_msg) in cases {
        let (c, m) = code(
            eb.create_application_version()
                .application_name(app)
                .version_label(label)
                .source_bundle(loc(key))
                .send()
                .await,
        );
        assert_eq!(
            (c.as_str(), m.as_str()),
            (want_code, want_msg),
            "{app}/{label}"
        );
    }

    let versions = eb
        .describe_application_versions()
        .application_name("budgetsync")
        .send()
        .await
        .expect("DescribeApplicationVersions");
    let labels: Vec<_> = versions
        .application_versions()
        .iter()
        .filter_map(|v| v.version_label())
        .collect();
    assert_eq!(labels, ["garbage", "v2", "v1"], "newest first");
    let one = eb
        .describe_application_versions()
        .application_name("budgetsync")
        .version_labels("v1")
        .send()
        .await
        .expect("DescribeApplicationVersions v1");
    assert_eq!(one.application_versions().len(), 1);
    let paged = eb
        .describe_application_versions()
        .application_name("budgetsync")
        .max_records(2)
        .send()
        .await
        .expect("paged");
    assert_eq!(paged.application_versions().len(), 2);
    let rest = eb
        .describe_application_versions()
        .application_name("budgetsync")
        .max_records(2)
        .next_token(paged.next_token().expect("a next token"))
        .send()
        .await
        .expect("page 2");
    assert_eq!(rest.application_versions().len(), 1);
    assert_eq!(rest.next_token(), None);

    // The quota (4 here) counts every application's versions; AutoCreateApplication creates apps.
    eb.create_application_version()
        .application_name("auto")
        .auto_create_application(true)
        .version_label("a1")
        .source_bundle(loc("app/v1.zip"))
        .send()
        .await
        .expect("auto-created application");
    let err = eb
        .create_application_version()
        .application_name("budgetsync")
        .version_label("v5")
        .source_bundle(loc("app/v1.zip"))
        .send()
        .await
        .expect_err("over quota");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_too_many_application_versions_exception()),
        "{err:?}"
    );
    let quotas = eb
        .describe_account_attributes()
        .send()
        .await
        .expect("DescribeAccountAttributes");
    assert_eq!(
        quotas
            .resource_quotas()
            .and_then(|q| q.application_version_quota())
            .and_then(|q| q.maximum()),
        Some(4)
    );

    // DeleteApplicationVersion, with and without the source bundle.
    eb.delete_application_version()
        .application_name("budgetsync")
        .version_label("v2")
        .delete_source_bundle(true)
        .send()
        .await
        .expect("DeleteApplicationVersion v2");
    let gone = s3
        .head_object()
        .bucket(&bucket)
        .key("app/v2.zip")
        .send()
        .await;
    assert!(gone.is_err(), "source bundle deleted");
    let (c, m) = code(
        eb.delete_application_version()
            .application_name("budgetsync")
            .version_label("v2")
            .send()
            .await,
    );
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "InvalidParameterValue",
            "No Application Version named 'v2' found."
        )
    );

    // Lifecycle: stored, echoed, applied on the next version.
    let lc = ApplicationResourceLifecycleConfig::builder()
        .service_role("arn:aws:iam::000000000000:role/aws-elasticbeanstalk-service-role")
        .version_lifecycle_config(
            ApplicationVersionLifecycleConfig::builder()
                .max_count_rule(
                    MaxCountRule::builder()
                        .enabled(true)
                        .max_count(1)
                        .delete_source_from_s3(false)
                        .build()
                        .expect("rule"),
                )
                .build(),
        )
        .build();
    let echoed = eb
        .update_application_resource_lifecycle()
        .application_name("budgetsync")
        .resource_lifecycle_config(lc.clone())
        .send()
        .await
        .expect("UpdateApplicationResourceLifecycle");
    assert_eq!(echoed.application_name(), Some("budgetsync"));
    let rule = echoed
        .resource_lifecycle_config()
        .and_then(|c| c.version_lifecycle_config())
        .and_then(|v| v.max_count_rule())
        .expect("max count rule echoed");
    assert_eq!((rule.enabled(), rule.max_count()), (true, Some(1)));
    let (c, _) = code(
        eb.update_application_resource_lifecycle()
            .application_name("nope")
            .resource_lifecycle_config(lc)
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");
    eb.create_application_version()
        .application_name("budgetsync")
        .version_label("v3")
        .source_bundle(loc("app/v1.zip"))
        .send()
        .await
        .expect("v3 under the lifecycle");
    let left = eb
        .describe_application_versions()
        .application_name("budgetsync")
        .send()
        .await
        .expect("after lifecycle");
    let labels: Vec<_> = left
        .application_versions()
        .iter()
        .filter_map(|v| v.version_label())
        .collect();
    assert_eq!(labels, ["v3"], "MaxCount 1 keeps only the newest");
    let described = eb
        .describe_applications()
        .application_names("budgetsync")
        .send()
        .await
        .expect("apps");
    assert_eq!(
        described.applications()[0]
            .resource_lifecycle_config()
            .and_then(|c| c.service_role()),
        Some("arn:aws:iam::000000000000:role/aws-elasticbeanstalk-service-role")
    );

    // DeleteApplication.
    eb.delete_application()
        .application_name("other")
        .send()
        .await
        .expect("DeleteApplication");
    let (c, m) = code(
        eb.delete_application()
            .application_name("other")
            .send()
            .await,
    );
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "InvalidParameterValue",
            "No Application named 'other' found."
        )
    );

    edge.shutdown().await;
}

#[tokio::test]
async fn platforms_and_solution_stacks() {
    let edge = start_edge(None).await;
    let eb = eb(&edge, true);

    let stacks = eb
        .list_available_solution_stacks()
        .send()
        .await
        .expect("ListAvailableSolutionStacks");
    assert!(
        stacks.solution_stacks().iter().any(|s| s == STACK),
        "{:?}",
        stacks.solution_stacks()
    );
    assert!(
        stacks
            .solution_stacks()
            .iter()
            .all(|s| s.contains("Amazon Linux 2023") && s.contains("Python"))
    );
    assert_eq!(
        stacks.solution_stack_details().len(),
        stacks.solution_stacks().len()
    );
    assert_eq!(
        stacks.solution_stack_details()[0].permitted_file_types(),
        ["zip"]
    );

    let all = eb
        .list_platform_versions()
        .send()
        .await
        .expect("ListPlatformVersions");
    assert!(all.platform_summary_list().len() >= 4);
    let py312 = eb
        .list_platform_versions()
        .filters(
            PlatformFilter::builder()
                .r#type("PlatformBranchName")
                .operator("=")
                .values("Python 3.12 running on 64bit Amazon Linux 2023")
                .build(),
        )
        .filters(
            PlatformFilter::builder()
                .r#type("PlatformLifecycleState")
                .operator("=")
                .values("Recommended")
                .build(),
        )
        .send()
        .await
        .expect("filtered ListPlatformVersions");
    let summaries = py312.platform_summary_list();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let arn = summaries[0].platform_arn().expect("arn").to_string();
    assert_eq!(
        arn,
        "arn:aws:elasticbeanstalk:us-east-1::platform/Python 3.12 running on 64bit Amazon Linux 2023/4.7.3"
    );
    assert_eq!(
        summaries[0].supported_tier_list(),
        ["WebServer/Standard", "Worker/SQS/HTTP"]
    );
    let (c, _) = code(
        eb.list_platform_versions()
            .filters(
                PlatformFilter::builder()
                    .r#type("Bogus")
                    .operator("=")
                    .values("x")
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");

    let desc = eb
        .describe_platform_version()
        .platform_arn(&arn)
        .send()
        .await
        .expect("DescribePlatformVersion")
        .platform_description()
        .cloned()
        .expect("description");
    assert_eq!(desc.solution_stack_name(), Some(STACK));
    assert_eq!(desc.platform_version(), Some("4.7.3"));
    assert_eq!(desc.programming_languages()[0].version(), Some("3.12"));
    let (c, m) = code(
        eb.describe_platform_version()
            .platform_arn("arn:aws:elasticbeanstalk:us-east-1::platform/PHP 8.1 running on 64bit Amazon Linux 2023/4.0.0")
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");
    assert!(m.contains("PHP 8.1"), "{m}");
    edge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_lifecycle_deploys_failures_and_recovery() {
    let moto = start_moto().await;
    let edge = start_edge(Some(&moto)).await;
    let eb = eb(&edge, true);
    let s3 = s3(&edge);
    let admin = AdminClient::new(&edge.url()).expect("admin client");
    let bucket = eb
        .create_storage_location()
        .send()
        .await
        .expect("CreateStorageLocation")
        .s3_bucket()
        .unwrap_or_default()
        .to_string();
    put_object(&s3, &bucket, "good.zip", good_bundle()).await;
    put_object(&s3, &bucket, "bad.zip", bad_bundle()).await;
    eb.create_application()
        .application_name("budgetsync")
        .send()
        .await
        .expect("app");
    for (label, key) in [
        ("good-1", "good.zip"),
        ("bad-1", "bad.zip"),
        ("good-2", "good.zip"),
        ("good-3", "good.zip"),
    ] {
        eb.create_application_version()
            .application_name("budgetsync")
            .version_label(label)
            .source_bundle(S3Location::builder().s3_bucket(&bucket).s3_key(key).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("version {label}: {e:?}"));
    }

    // Create: Launching/Grey -> Ready/Green, with the service's events.
    let t0 = now();
    let created = eb
        .create_environment()
        .application_name("budgetsync")
        .environment_name("budgetsync-dev")
        .solution_stack_name(STACK)
        .version_label("good-1")
        .option_settings(
            ConfigurationOptionSetting::builder()
                .namespace("aws:elasticbeanstalk:environment")
                .option_name("EnvironmentType")
                .value("SingleInstance")
                .build(),
        )
        .option_settings(
            ConfigurationOptionSetting::builder()
                .namespace(ENV_NS)
                .option_name("APP_MODE")
                .value("dev")
                .build(),
        )
        .send()
        .await
        .expect("CreateEnvironment");
    assert_eq!(created.status().map(|s| s.as_str()), Some("Launching"));
    assert_eq!(created.health().map(|h| h.as_str()), Some("Grey"));
    assert_eq!(
        created.cname(),
        Some("budgetsync-dev.us-east-1.elasticbeanstalk.localhost")
    );
    assert_eq!(created.solution_stack_name(), Some(STACK));
    let env_id = created.environment_id().expect("id").to_string();
    assert!(env_id.starts_with("e-") && env_id.len() == 12, "{env_id}");

    // An update while launching is refused.
    let (c, m) = code(
        eb.update_environment()
            .environment_name("budgetsync-dev")
            .version_label("good-2")
            .send()
            .await,
    );
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "InvalidParameterValue",
            "Environment named budgetsync-dev is in an invalid state for this operation. Must be Ready."
        )
    );
    let (status, _) = http_get(
        &edge.addr(),
        "budgetsync-dev.us-east-1.elasticbeanstalk.localhost",
        "/",
    )
    .await
    .unwrap();
    assert_eq!(status, 503, "not serving while launching");

    let ready = wait_for(&eb, "budgetsync-dev", "Ready", "Green").await;
    assert_eq!(ready.health_status().map(|h| h.as_str()), Some("Ok"));
    assert_eq!(ready.version_label(), Some("good-1"));
    let events = messages_since(&eb, "budgetsync-dev", t0).await;
    for msg in [
        "createEnvironment is starting.",
        "Created security group named: ",
        "Environment health has transitioned from Pending to Ok.",
        "Successfully launched environment: budgetsync-dev",
    ] {
        assert!(has(&events, "INFO", msg), "missing {msg:?} in {events:?}");
    }
    assert_eq!(
        events[0].1, "Successfully launched environment: budgetsync-dev",
        "newest first"
    );
    let (status, body) = http_get(
        &edge.addr(),
        "budgetsync-dev.us-east-1.elasticbeanstalk.localhost:80",
        "/healthz",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("good-1"), "{body}");

    // Health API.
    let health = eb
        .describe_environment_health()
        .environment_name("budgetsync-dev")
        .attribute_names(EnvironmentHealthAttribute::All)
        .send()
        .await
        .expect("DescribeEnvironmentHealth");
    assert_eq!(health.health_status(), Some("Ok"));
    assert_eq!(health.color(), Some("Green"));
    assert_eq!(health.status().map(|s| s.as_str()), Some("Ready"));
    assert!(health.causes().is_empty());
    assert_eq!(health.instances_health().and_then(|i| i.ok()), Some(1));
    let only_color = eb
        .describe_environment_health()
        .environment_id(&env_id)
        .attribute_names(EnvironmentHealthAttribute::Color)
        .send()
        .await
        .expect("DescribeEnvironmentHealth by id");
    assert_eq!(
        (only_color.color(), only_color.health_status()),
        (Some("Green"), None)
    );
    let err = eb
        .describe_environment_health()
        .environment_name("nope-env")
        .attribute_names(EnvironmentHealthAttribute::All)
        .send()
        .await
        .expect_err("unknown environment");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_invalid_request_exception()),
        "{err:?}"
    );

    // Configuration update (option settings only).
    let t1 = now();
    let upd = eb
        .update_environment()
        .environment_name("budgetsync-dev")
        .option_settings(
            ConfigurationOptionSetting::builder()
                .namespace(ENV_NS)
                .option_name("FEATURE_X")
                .value("on")
                .build(),
        )
        .options_to_remove(
            OptionSpecification::builder()
                .namespace(ENV_NS)
                .option_name("APP_MODE")
                .build(),
        )
        .send()
        .await
        .expect("UpdateEnvironment options");
    assert_eq!(upd.status().map(|s| s.as_str()), Some("Updating"));
    assert_eq!(upd.health().map(|h| h.as_str()), Some("Grey"));
    wait_for(&eb, "budgetsync-dev", "Ready", "Green").await;
    let events = messages_since(&eb, "budgetsync-dev", t1).await;
    assert!(
        has(
            &events,
            "INFO",
            "Updating environment budgetsync-dev's configuration settings."
        ),
        "{events:?}"
    );
    let settings = eb
        .describe_configuration_settings()
        .application_name("budgetsync")
        .environment_name("budgetsync-dev")
        .send()
        .await
        .expect("DescribeConfigurationSettings");
    let cs = &settings.configuration_settings()[0];
    let opts: Vec<(String, String, String)> = cs
        .option_settings()
        .iter()
        .map(|o| {
            (
                o.namespace().unwrap_or_default().to_string(),
                o.option_name().unwrap_or_default().to_string(),
                o.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        opts.contains(&(ENV_NS.into(), "FEATURE_X".into(), "on".into())),
        "{opts:?}"
    );
    assert!(!opts.iter().any(|o| o.1 == "APP_MODE"), "removed: {opts:?}");
    assert!(
        opts.contains(&(
            "aws:elasticbeanstalk:environment".into(),
            "EnvironmentType".into(),
            "SingleInstance".into()
        )),
        "{opts:?}"
    );
    assert_eq!(cs.solution_stack_name(), Some(STACK));
    let (c, _) = code(
        eb.describe_configuration_settings()
            .application_name("budgetsync")
            .environment_name("nope-env")
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");

    // A good deploy.
    let t2 = now();
    eb.update_environment()
        .environment_name("budgetsync-dev")
        .version_label("good-2")
        .send()
        .await
        .expect("deploy good-2");
    let (c, m) = code(
        eb.update_environment()
            .environment_name("budgetsync-dev")
            .version_label("good-3")
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");
    assert!(
        m.ends_with("is in an invalid state for this operation. Must be Ready."),
        "{m}"
    );
    let d = wait_for(&eb, "budgetsync-dev", "Ready", "Green").await;
    assert_eq!(d.version_label(), Some("good-2"));
    let events = messages_since(&eb, "budgetsync-dev", t2).await;
    for msg in [
        "Environment update is starting.",
        "Deploying new version to instance(s).",
        "New application version was deployed to running EC2 instances.",
        "Environment update completed successfully.",
    ] {
        assert!(has(&events, "INFO", msg), "missing {msg:?} in {events:?}");
    }

    // A bad bundle: Ready but Red, ERROR events, causes; the app answers 503.
    let t3 = now();
    eb.update_environment()
        .environment_name("budgetsync-dev")
        .version_label("bad-1")
        .send()
        .await
        .expect("deploy bad-1");
    let d = wait_for(&eb, "budgetsync-dev", "Ready", "Red").await;
    assert_eq!(d.health_status().map(|h| h.as_str()), Some("Severe"));
    assert_eq!(
        d.version_label(),
        Some("good-2"),
        "an aborted deployment keeps the previous version"
    );
    let events = messages_since(&eb, "budgetsync-dev", t3).await;
    for msg in [
        "During an aborted deployment, some instances may have deployed the new application version.",
        "Failed to deploy application.",
        "Environment health has transitioned from Ok to Severe.",
    ] {
        assert!(has(&events, "ERROR", msg), "missing {msg:?} in {events:?}");
    }
    let errors_only = eb
        .describe_events()
        .environment_name("budgetsync-dev")
        .severity(EventSeverity::Error)
        .send()
        .await
        .expect("DescribeEvents ERROR");
    assert!(!errors_only.events().is_empty());
    assert!(
        errors_only
            .events()
            .iter()
            .all(|e| e.severity() == Some(&EventSeverity::Error))
    );
    let health = eb
        .describe_environment_health()
        .environment_name("budgetsync-dev")
        .attribute_names(EnvironmentHealthAttribute::Causes)
        .attribute_names(EnvironmentHealthAttribute::HealthStatus)
        .send()
        .await
        .expect("health after failure");
    assert_eq!(health.health_status(), Some("Severe"));
    assert!(
        health
            .causes()
            .iter()
            .any(|c| c == "Following services are not running: web."),
        "{:?}",
        health.causes()
    );
    let (status, _) = http_get(
        &edge.addr(),
        "budgetsync-dev.us-east-1.elasticbeanstalk.localhost",
        "/",
    )
    .await
    .unwrap();
    assert_eq!(status, 503);

    // A good deploy brings it back.
    let t4 = now();
    eb.update_environment()
        .environment_name("budgetsync-dev")
        .version_label("good-3")
        .send()
        .await
        .expect("deploy good-3");
    let d = wait_for(&eb, "budgetsync-dev", "Ready", "Green").await;
    assert_eq!(d.version_label(), Some("good-3"));
    let events = messages_since(&eb, "budgetsync-dev", t4).await;
    assert!(
        has(
            &events,
            "INFO",
            "Environment health has transitioned from Severe to Ok."
        ),
        "{events:?}"
    );
    assert_eq!(
        http_get(
            &edge.addr(),
            "budgetsync-dev.us-east-1.elasticbeanstalk.localhost",
            "/"
        )
        .await
        .unwrap()
        .0,
        200
    );

    // A scripted failure of a good version, then recovery by redeploying it.
    admin
        .fail_next_deploy("budgetsync-dev", 1)
        .await
        .expect("fail-next-deploy");
    eb.update_environment()
        .environment_name("budgetsync-dev")
        .version_label("good-2")
        .send()
        .await
        .expect("deploy good-2 (scripted failure)");
    wait_for(&eb, "budgetsync-dev", "Ready", "Red").await;
    eb.update_environment()
        .environment_name("budgetsync-dev")
        .version_label("good-2")
        .send()
        .await
        .expect("redeploy good-2");
    let d = wait_for(&eb, "budgetsync-dev", "Ready", "Green").await;
    assert_eq!(d.version_label(), Some("good-2"));

    // Versions in use cannot be deleted; the app cannot be deleted with live environments.
    let (c, m) = code(
        eb.delete_application_version()
            .application_name("budgetsync")
            .version_label("good-2")
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");
    assert!(m.contains("budgetsync-dev"), "{m}");
    let err = eb
        .delete_application()
        .application_name("budgetsync")
        .send()
        .await
        .expect_err("live envs");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_operation_in_progress_exception()),
        "{err:?}"
    );

    // Event filters: StartTime, newest first, RequestId.
    let late = eb
        .describe_events()
        .application_name("budgetsync")
        .start_time(t4)
        .send()
        .await
        .expect("DescribeEvents since t4");
    let dates: Vec<_> = late
        .events()
        .iter()
        .filter_map(|e| e.event_date().cloned())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] > w[1]),
        "newest first: {dates:?}"
    );
    assert!(dates.iter().all(|d| d.secs() >= t4.secs()));
    let rid = late.events()[0]
        .request_id()
        .expect("request id")
        .to_string();
    let by_rid = eb
        .describe_events()
        .request_id(&rid)
        .send()
        .await
        .expect("by request id");
    assert!(
        by_rid
            .events()
            .iter()
            .all(|e| e.request_id() == Some(rid.as_str()))
    );
    let (c, _) = code(eb.describe_events().max_records(0).send().await);
    assert_eq!(c, "InvalidParameterValue");

    // Terminate: Terminating -> Terminated; hidden with IncludeDeleted=false.
    let t5 = now();
    let term = eb
        .terminate_environment()
        .environment_name("budgetsync-dev")
        .send()
        .await
        .expect("TerminateEnvironment");
    assert_eq!(term.status().map(|s| s.as_str()), Some("Terminating"));
    let (c, _) = code(
        eb.terminate_environment()
            .environment_name("budgetsync-dev")
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");
    wait_for(&eb, "budgetsync-dev", "Terminated", "Grey").await;
    let events = messages_since(&eb, "budgetsync-dev", t5).await;
    assert!(
        has(
            &events,
            "INFO",
            "terminateEnvironment completed successfully."
        ),
        "{events:?}"
    );
    let live = eb
        .describe_environments()
        .application_name("budgetsync")
        .include_deleted(false)
        .send()
        .await
        .expect("live only");
    assert!(live.environments().is_empty(), "{:?}", live.environments());
    let by_id = eb
        .describe_environments()
        .environment_ids(&env_id)
        .send()
        .await
        .expect("by id");
    assert_eq!(by_id.environments().len(), 1);
    let (c, m) = code(
        eb.update_environment()
            .environment_name("budgetsync-dev")
            .version_label("good-1")
            .send()
            .await,
    );
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "InvalidParameterValue",
            "No Environment found for EnvironmentName = 'budgetsync-dev'."
        )
    );
    assert_eq!(
        http_get(
            &edge.addr(),
            "budgetsync-dev.us-east-1.elasticbeanstalk.localhost",
            "/"
        )
        .await
        .unwrap()
        .0,
        404
    );

    // Now the version is free and the application deletable.
    eb.delete_application_version()
        .application_name("budgetsync")
        .version_label("good-2")
        .send()
        .await
        .expect("delete good-2 after termination");
    eb.delete_application()
        .application_name("budgetsync")
        .send()
        .await
        .expect("DeleteApplication");
    edge.shutdown().await;
}

#[tokio::test]
async fn name_rules_and_creation_errors() {
    let edge = start_edge(None).await;
    let eb = eb(&edge, true);
    eb.create_application()
        .application_name("names")
        .send()
        .await
        .expect("app");

    let create = |name: &str| {
        eb.create_environment()
            .application_name("names")
            .environment_name(name)
            .solution_stack_name(STACK)
            .send()
    };
    let cases = [
        ("abc", "Member must have length greater than or equal to 4"),
        (
            "a-very-long-environment-name-that-breaks-40",
            "Member must have length less than or equal to 40",
        ),
        ("-lead", "may not start or end with a dash"),
        ("trail-", "may not start or end with a dash"),
        (
            "under_score",
            "only letters, digits, and the dash character",
        ),
    ];
    for (name, why) in cases {
        let (c, m) = code(create(name).await);
        assert_eq!(c, "InvalidParameterValue", "{name}");
        assert!(m.contains(why), "{name}: {m}");
    }

    // The sample application (no version label) launches.
    let first = create("names-one").await.expect("valid name");
    assert_eq!(first.version_label(), None);
    let (c, m) = code(create("names-one").await);
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "InvalidParameterValue",
            "Environment names-one already exists."
        )
    );

    // CNAME prefixes are unique.
    let dns = eb
        .check_dns_availability()
        .cname_prefix("names-one")
        .send()
        .await
        .expect("CheckDNSAvailability");
    assert_eq!(dns.available(), Some(false));
    assert_eq!(
        dns.fully_qualified_cname(),
        Some("names-one.us-east-1.elasticbeanstalk.localhost")
    );
    let free = eb
        .check_dns_availability()
        .cname_prefix("free-prefix")
        .send()
        .await
        .expect("free");
    assert_eq!(free.available(), Some(true));
    let (c, m) = code(
        eb.create_environment()
            .application_name("names")
            .environment_name("names-two")
            .cname_prefix("names-one")
            .solution_stack_name(STACK)
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");
    assert_eq!(
        m,
        "DNS name (names-one.us-east-1.elasticbeanstalk.localhost) is not available."
    );

    let other_errors: Vec<(Result<_, _>, &str, &str)> = vec![
        (
            eb.create_environment()
                .application_name("nope")
                .environment_name("names-three")
                .solution_stack_name(STACK)
                .send()
                .await,
            "InvalidParameterValue",
            "No Application named 'nope' found.",
        ),
        (
            eb.create_environment()
                .application_name("names")
                .environment_name("names-three")
                .solution_stack_name("64bit Amazon Linux 2 v3.0.0 running Python 3.7")
                .send()
                .await,
            "InvalidParameterValue",
            "No Solution Stack named '64bit Amazon Linux 2 v3.0.0 running Python 3.7' found.",
        ),
        (
            eb.create_environment()
                .application_name("names")
                .environment_name("names-three")
                .solution_stack_name(STACK)
                .version_label("v404")
                .send()
                .await,
            "InvalidParameterValue",
            "No Application Version named 'v404' found.",
        ),
        (
            eb.create_environment()
                .application_name("names")
                .environment_name("names-three")
                .send()
                .await,
            "InvalidParameterCombination",
            "You must specify a solution stack name, a platform ARN or a configuration template.",
        ),
    ];
    for (result, want_code, want_msg) in other_errors {
        let (c, m) = code(result);
        assert_eq!((c.as_str(), m.as_str()), (want_code, want_msg));
    }

    // Quotas on environment properties and the single-instance/ACM rule.
    let (c, m) = code(
        eb.create_environment()
            .application_name("names")
            .environment_name("names-four")
            .solution_stack_name(STACK)
            .option_settings(
                ConfigurationOptionSetting::builder()
                    .namespace(ENV_NS)
                    .option_name("BIG")
                    .value("v".repeat(257))
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterValue");
    assert!(m.contains("longer than 256"), "{m}");
    let (c, _) = code(
        eb.create_environment()
            .application_name("names")
            .environment_name("names-four")
            .solution_stack_name(STACK)
            .option_settings(
                ConfigurationOptionSetting::builder()
                    .namespace("aws:elasticbeanstalk:environment")
                    .option_name("EnvironmentType")
                    .value("SingleInstance")
                    .build(),
            )
            .option_settings(
                ConfigurationOptionSetting::builder()
                    .namespace("aws:elbv2:listener:443")
                    .option_name("SSLCertificateArns")
                    .value("arn:aws:acm:us-east-1:000000000000:certificate/abc")
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(c, "InvalidParameterCombination");

    // Platform ARN works as well as a stack name; the app can be force-deleted.
    let by_arn = eb
        .create_environment()
        .application_name("names")
        .environment_name("names-arn")
        .platform_arn("arn:aws:elasticbeanstalk:us-east-1::platform/Python 3.11 running on 64bit Amazon Linux 2023/4.7.3")
        .send()
        .await
        .expect("by platform ARN");
    assert_eq!(
        by_arn.solution_stack_name(),
        Some("64bit Amazon Linux 2023 v4.7.3 running Python 3.11")
    );
    eb.delete_application()
        .application_name("names")
        .terminate_env_by_force(true)
        .send()
        .await
        .expect("force delete");
    let d = describe(&eb, "names-arn").await;
    assert_eq!(d.status().map(|s| s.as_str()), Some("Terminating"));
    edge.shutdown().await;
}

#[tokio::test]
async fn injected_faults_use_the_real_wire_format() {
    let edge = start_edge(None).await;
    let eb_no_retry = eb(&edge, false);
    let admin = AdminClient::new(&edge.url()).expect("admin");

    admin
        .inject_fault(&FaultRequest::new(
            "elasticbeanstalk",
            FaultKind::Throttle,
            1,
        ))
        .await
        .expect("inject throttle");
    let (c, m) = code(eb_no_retry.describe_applications().send().await);
    assert_eq!((c.as_str(), m.as_str()), ("Throttling", "Rate exceeded"));
    eb_no_retry
        .describe_applications()
        .send()
        .await
        .expect("the fault was used up");

    // Retrying clients ride over a throttle.
    admin
        .inject_fault(&FaultRequest::new(
            "elasticbeanstalk",
            FaultKind::Throttle,
            2,
        ))
        .await
        .expect("inject throttle x2");
    eb(&edge, true)
        .describe_applications()
        .send()
        .await
        .expect("retried past throttling");

    let mut five_oh_three = FaultRequest::new("*", FaultKind::ServerError, 1);
    five_oh_three.status = Some(503);
    admin
        .inject_fault(&five_oh_three)
        .await
        .expect("inject 503");
    let err = eb_no_retry
        .describe_applications()
        .send()
        .await
        .expect_err("503");
    assert_eq!(err.code(), Some("InternalFailure"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));

    admin
        .inject_fault(&FaultRequest::new("elasticbeanstalk", FaultKind::Drop, 1))
        .await
        .expect("inject drop");
    let err = eb_no_retry
        .describe_applications()
        .send()
        .await
        .expect_err("dropped");
    assert!(
        matches!(
            err,
            aws_sdk_elasticbeanstalk::error::SdkError::DispatchFailure(_)
        ),
        "{err:?}"
    );

    let mut slow = FaultRequest::new("elasticbeanstalk", FaultKind::Latency, 1);
    slow.delay_ms = Some(300);
    admin.inject_fault(&slow).await.expect("inject latency");
    let started = Instant::now();
    eb_no_retry
        .describe_applications()
        .send()
        .await
        .expect("slow but fine");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    // Faults for another service do not touch EB.
    admin
        .inject_fault(&FaultRequest::new("apprunner", FaultKind::Throttle, 1))
        .await
        .expect("inject apprunner throttle");
    eb_no_retry
        .describe_applications()
        .send()
        .await
        .expect("EB unaffected");

    // Unknown actions answer the query protocol's InvalidAction.
    let (c, _) = code(
        eb_no_retry
            .abort_environment_update()
            .environment_name("whatever")
            .send()
            .await,
    );
    assert_eq!(c, "InvalidAction");
    edge.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Environment secrets, against the shared local cloud's moto behind a private edge.

const SECRETS_NS: &str = "aws:elasticbeanstalk:application:environmentsecrets";

fn secret_setting(name: &str, arn: &str) -> ConfigurationOptionSetting {
    ConfigurationOptionSetting::builder()
        .namespace(SECRETS_NS)
        .option_name(name)
        .value(arn)
        .build()
}

/// A secret in moto's Secrets Manager through `edge`; returns its (suffixed) ARN.
async fn create_secret(
    cloud: &deploykit_testsupport::LocalCloud,
    edge: &deploykit_localcloud::Edge,
    name: &str,
) -> String {
    let sm = aws_sdk_secretsmanager::Client::new(&cloud.sdk_config_for(&edge.url()));
    let arn = sm
        .create_secret()
        .name(name)
        .secret_string("local-test-value")
        .send()
        .await
        .expect("CreateSecret in moto")
        .arn()
        .expect("secret ARN")
        .to_string();
    let prefix = format!(
        "arn:aws:secretsmanager:{}:{}:secret:{name}-",
        cloud.region, cloud.account_id
    );
    assert!(
        arn.starts_with(&prefix) && arn.len() == prefix.len() + 6,
        "Secrets Manager ARNs end in -<6 characters>: {arn}"
    );
    arn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eb_refuses_malformed_and_fails_on_missing_environment_secrets() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|_| {}).await;
    let eb = eb(&edge, true);
    let app = deploykit_testsupport::unique_name("eb-secrets");
    eb.create_application()
        .application_name(&app)
        .send()
        .await
        .expect("app");
    let env = deploykit_testsupport::unique_name("ebsec");

    // Not an ARN: refused before anything is created.
    let (c, m) = code(
        eb.create_environment()
            .application_name(&app)
            .environment_name(&env)
            .solution_stack_name(STACK)
            .option_settings(secret_setting("SECRET_KEY", "budgetsync/secret-key"))
            .send()
            .await,
    );
    assert_eq!(c, "ConfigurationValidationException", "{m}");
    assert!(
        m.contains("Invalid option value: 'budgetsync/secret-key'") && m.contains(SECRETS_NS),
        "{m}"
    );
    let listed = eb
        .describe_environments()
        .application_name(&app)
        .send()
        .await
        .expect("DescribeEnvironments");
    assert!(listed.environments().is_empty(), "nothing was created");

    // A well-formed ARN of a secret that does not exist: accepted, then the instances cannot
    // fetch it while bootstrapping and the launch ends Red with the secret as the cause.
    let missing = format!(
        "arn:aws:secretsmanager:{}:{}:secret:{app}/never-created-AbCdEf",
        cloud.region, cloud.account_id
    );
    let t0 = now();
    eb.create_environment()
        .application_name(&app)
        .environment_name(&env)
        .solution_stack_name(STACK)
        .option_settings(secret_setting("SECRET_KEY", &missing))
        .send()
        .await
        .expect("CreateEnvironment is accepted");
    let d = wait_for(&eb, &env, "Ready", "Red").await;
    assert_eq!(d.health_status().map(|h| h.as_str()), Some("Severe"));
    let events = messages_since(&eb, &env, t0).await;
    assert!(
        has(
            &events,
            "ERROR",
            "Instance deployment failed to get environment secrets"
        ),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(_, m)| m.contains(&missing)),
        "the event names the secret: {events:?}"
    );
    assert!(has(
        &events,
        "ERROR",
        "Create environment operation is complete, but with errors."
    ));
    let health = eb
        .describe_environment_health()
        .environment_name(&env)
        .attribute_names(EnvironmentHealthAttribute::All)
        .send()
        .await
        .expect("DescribeEnvironmentHealth");
    assert!(
        health.causes().iter().any(|c| c.contains(&missing)),
        "{:?}",
        health.causes()
    );

    // A partial ARN that names no secret fails a configuration update the same way.
    let real = create_secret(&cloud, &edge, &format!("{app}/real")).await;
    let env = deploykit_testsupport::unique_name("ebsec");
    eb.create_environment()
        .application_name(&app)
        .environment_name(&env)
        .solution_stack_name(STACK)
        .option_settings(secret_setting("SECRET_KEY", &real))
        .send()
        .await
        .expect("CreateEnvironment with an existing secret");
    wait_for(&eb, &env, "Ready", "Green").await;
    let t1 = now();
    let gone = format!(
        "arn:aws:secretsmanager:{}:{}:secret:{app}/other",
        cloud.region, cloud.account_id
    );
    eb.update_environment()
        .environment_name(&env)
        .option_settings(secret_setting("OTHER", &gone))
        .send()
        .await
        .expect("UpdateEnvironment is accepted");
    wait_for(&eb, &env, "Ready", "Red").await;
    let events = messages_since(&eb, &env, t1).await;
    assert!(
        has(&events, "ERROR", "Failed to deploy configuration."),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eb_accepts_existing_environment_secrets() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|_| {}).await;
    let eb = eb(&edge, true);
    let app = deploykit_testsupport::unique_name("eb-secrets-ok");
    eb.create_application()
        .application_name(&app)
        .send()
        .await
        .expect("app");
    let full = create_secret(&cloud, &edge, &format!("{app}/db-url")).await;
    let other = create_secret(&cloud, &edge, &format!("{app}/secret-key")).await;
    // Without the 6-character suffix the ARN is partial; Secrets Manager resolves it by name.
    let partial = other[..other.len() - 7].to_string();
    let env = deploykit_testsupport::unique_name("ebsecok");
    eb.create_environment()
        .application_name(&app)
        .environment_name(&env)
        .solution_stack_name(STACK)
        .option_settings(secret_setting("DATABASE_URL", &full))
        .option_settings(secret_setting("SECRET_KEY", &partial))
        .send()
        .await
        .expect("CreateEnvironment");
    let d = wait_for(&eb, &env, "Ready", "Green").await;
    assert_eq!(d.health_status().map(|h| h.as_str()), Some("Ok"));
    let settings = eb
        .describe_configuration_settings()
        .application_name(&app)
        .environment_name(&env)
        .send()
        .await
        .expect("DescribeConfigurationSettings");
    let secrets: Vec<(String, String)> = settings
        .configuration_settings()
        .iter()
        .flat_map(|c| c.option_settings())
        .filter(|o| o.namespace() == Some(SECRETS_NS))
        .map(|o| {
            (
                o.option_name().unwrap_or_default().to_string(),
                o.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        secrets.contains(&("DATABASE_URL".to_string(), full)),
        "{secrets:?}"
    );
    assert!(
        secrets.contains(&("SECRET_KEY".to_string(), partial)),
        "{secrets:?}"
    );
}
