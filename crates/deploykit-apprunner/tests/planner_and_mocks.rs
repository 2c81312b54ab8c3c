//! The pure planner over data, and rare AWS error paths over mocked responses.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_apprunner::Client;
use aws_sdk_apprunner::error::ErrorMetadata;
use aws_sdk_apprunner::operation::list_services::{ListServicesError, ListServicesOutput};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use deploykit_apprunner::{
    Action, AppRunnerError, ContainerPlatform, LiveConfig, ServiceSpec, ServiceView, plan_service,
    scaling_config_name,
};

fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "budgetsync".into(),
        image: "127.0.0.1:5000/budgetsync:abc".into(),
        access_role_arn: None,
        port: 8080,
        env: BTreeMap::new(),
        secrets: BTreeMap::new(),
        cpu: "1 vCPU".into(),
        memory: "2 GB".into(),
        health_path: "/healthz".into(),
        min_size: 1,
        max_size: 2,
        vpc: None,
    }
}

fn view(status: &str, image: &str) -> ServiceView {
    ServiceView {
        arn: "arn:svc".into(),
        status: status.into(),
        image: Some(image.into()),
        url: Some("u".into()),
        auto_deployments: false,
        config: None,
    }
}

/// A running service whose configuration is `spec()`'s, as DescribeService spells it.
fn live(image: &str, f: impl FnOnce(&mut LiveConfig)) -> ServiceView {
    let mut config = LiveConfig {
        port: Some("8080".into()),
        env: BTreeMap::new(),
        secrets: BTreeMap::new(),
        cpu: Some("1024".into()),
        memory: Some("2048".into()),
        health_path: Some("/healthz".into()),
    };
    f(&mut config);
    ServiceView {
        config: Some(config),
        ..view("RUNNING", image)
    }
}

#[test]
fn planner_decides_from_what_exists() {
    let s = spec();
    // (existing, recreate, expected action or error fragment)
    let cases: Vec<(Option<ServiceView>, bool, Result<Action, &str>)> = vec![
        (None, false, Ok(Action::Create)),
        (
            Some(view("RUNNING", "127.0.0.1:5000/budgetsync:old")),
            false,
            Ok(Action::Update {
                from_image: Some("127.0.0.1:5000/budgetsync:old".into()),
            }),
        ),
        (Some(view("RUNNING", &s.image)), false, Ok(Action::Redeploy)),
        (Some(live(&s.image, |_| {})), false, Ok(Action::Unchanged)),
        (
            Some(live(&s.image, |c| {
                c.cpu = Some("1 vCPU".into());
                c.memory = Some("2 GB".into());
            })),
            false,
            Ok(Action::Unchanged),
        ),
        (
            Some(live(&s.image, |c| {
                c.env.insert("NEW".into(), "1".into());
            })),
            false,
            Ok(Action::Update {
                from_image: Some(s.image.clone()),
            }),
        ),
        (
            Some(live(&s.image, |c| c.memory = Some("4096".into()))),
            false,
            Ok(Action::Update {
                from_image: Some(s.image.clone()),
            }),
        ),
        (
            Some(live(&s.image, |c| c.port = Some("8000".into()))),
            false,
            Ok(Action::Update {
                from_image: Some(s.image.clone()),
            }),
        ),
        (
            Some(view("CREATE_FAILED", &s.image)),
            true,
            Ok(Action::Recreate),
        ),
        (
            Some(view("CREATE_FAILED", &s.image)),
            false,
            Err("--recreate"),
        ),
        (
            Some(view("OPERATION_IN_PROGRESS", &s.image)),
            false,
            Err("another operation is running"),
        ),
        (
            Some(view("PAUSED", &s.image)),
            false,
            Err("resume it first"),
        ),
    ];
    for (existing, recreate, want) in cases {
        let got = plan_service(&s, existing.as_ref(), recreate);
        match (got, want) {
            (Ok(p), Ok(a)) => assert_eq!(p.action, a, "{existing:?}"),
            (Err(e), Err(frag)) => assert!(e.to_string().contains(frag), "{existing:?}: {e}"),
            (got, want) => panic!("{existing:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn auto_deployments_on_means_update_not_start_deployment() {
    let s = spec();
    let mut v = view("RUNNING", &s.image);
    v.auto_deployments = true;
    assert!(matches!(
        plan_service(&s, Some(&v), false).expect("plan").action,
        Action::Update { .. }
    ));
}

#[test]
fn invalid_specs_are_refused_with_the_fix() {
    type Mutation = Box<dyn Fn(&mut ServiceSpec)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (Box::new(|s| s.min_size = 0), "1 <= min_size"),
        (Box::new(|s| s.max_size = 0), "1 <= min_size"),
        (
            Box::new(|s| s.health_path = "healthz".into()),
            "must start with '/'",
        ),
        (Box::new(|s| s.name = "ab".into()), "4 to 40"),
        (
            Box::new(|s| s.image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1".into()),
            "access_role_arn",
        ),
    ];
    for (tweak, frag) in cases {
        let mut s = spec();
        tweak(&mut s);
        let err = plan_service(&s, None, false).expect_err(frag).to_string();
        assert!(err.contains(frag), "{err}");
    }
}

#[test]
fn scaling_config_names_fit_app_runner_limits() {
    for name in ["budgetsync", "a-very-long-service-name-that-goes-on-and-on"] {
        let n = scaling_config_name(name);
        assert!((4..=32).contains(&n.len()), "{n}");
    }
}

#[tokio::test]
async fn new_account_refusal_points_to_ecs_express() {
    let refuse = mock!(Client::list_services).then_error(|| {
        ListServicesError::generic(
            ErrorMetadata::builder()
                .code("SubscriptionRequiredException")
                .message("The AWS Access Key Id needs a subscription for the service")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_apprunner, RuleMode::MatchAny, [&refuse]);
    let err = ContainerPlatform::AppRunner(client)
        .plan(&spec(), false)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, AppRunnerError::NotAvailableForAccount { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("closed to new AWS customers") && msg.contains("ECS Express Mode"),
        "{msg}"
    );
}

#[tokio::test]
async fn access_denied_is_not_mistaken_for_the_refusal() {
    let deny = mock!(Client::list_services).then_error(|| {
        ListServicesError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("no")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_apprunner, RuleMode::MatchAny, [&deny]);
    let err = ContainerPlatform::AppRunner(client)
        .plan(&spec(), false)
        .await
        .expect_err("denied");
    assert!(matches!(err, AppRunnerError::Aws { .. }), "{err:?}");
    assert!(err.to_string().contains("ListServices"), "{err}");
}

#[tokio::test]
async fn ecs_express_is_a_clear_not_yet() {
    let err = ContainerPlatform::EcsExpress
        .plan(&spec(), false)
        .await
        .expect_err("stub");
    assert!(
        err.to_string()
            .contains("ECS Express Mode is not yet supported"),
        "{err}"
    );
    let _ = ListServicesOutput::builder().build();
    let _ = Duration::ZERO;
}

#[test]
fn vpc_connector_names_are_valid_and_content_addressed() {
    use deploykit_apprunner::{VpcEgress, vpc_connector_name};
    let v = |s: &[&str], g: &[&str]| VpcEgress {
        subnets: s.iter().map(|x| x.to_string()).collect(),
        security_groups: g.iter().map(|x| x.to_string()).collect(),
    };
    let long = "a".repeat(40);
    for service in ["budgetsync", long.as_str(), "svc_with_underscore"] {
        let n = vpc_connector_name(service, &v(&["subnet-1"], &["sg-1"]));
        assert!((4..=40).contains(&n.len()), "{n}");
        assert!(
            n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()),
            "{n}"
        );
        assert!(
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{n}"
        );
    }
    let a = vpc_connector_name("s", &v(&["subnet-1", "subnet-2"], &["sg-1"]));
    assert_eq!(
        a,
        vpc_connector_name("s", &v(&["subnet-2", "subnet-1"], &["sg-1"]))
    );
    assert_ne!(a, vpc_connector_name("s", &v(&["subnet-1"], &["sg-1"])));
    assert_ne!(
        a,
        vpc_connector_name("s", &v(&["subnet-1", "subnet-2"], &["sg-2"]))
    );
}
