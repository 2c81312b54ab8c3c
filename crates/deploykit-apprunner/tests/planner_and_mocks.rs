//! The pure planner over data, and rare AWS error paths over mocked responses.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_apprunner::Client;
use aws_sdk_apprunner::error::ErrorMetadata;
use aws_sdk_apprunner::operation::list_services::{ListServicesError, ListServicesOutput};
use deploykit_apprunner::{
    Action, AppRunnerError, ContainerPlatform, LiveConfig, ServiceSpec, ServiceView, plan_service,
    scaling_config_name,
};
use deploykit_testsupport::mocks::{RuleMode, mock, mock_client};

fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "budgetsync".into(),
        image: "127.0.0.1:5000/budgetsync:abc".into(),
        access_role_arn: None,
        instance_role_arn: None,
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
        min_size: Some(1),
        max_size: Some(2),
        vpc_connector: None,
        instance_role_arn: None,
        access_role_arn: None,
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
            Err("recreate the service"),
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
            // What to do is the error's help, not its message.
            (Err(e), Err(frag)) => {
                let help = deploykit_report::Diagnostic::help(&e).unwrap_or_default();
                assert!(help.contains(frag), "{existing:?}: {e}; help: {help}");
            }
            (got, want) => panic!("{existing:?}: got {got:?}, want {want:?}"),
        }
    }
}

/// Everything the service carries is compared: a change to any one of them alone (in the
/// spec or in what runs) plans an update, never "unchanged".
#[test]
fn each_setting_changed_alone_plans_an_update() {
    use deploykit_apprunner::{VpcEgress, vpc_connector_name};
    let vpc = VpcEgress {
        subnets: vec!["subnet-0abc".into()],
        security_groups: vec!["sg-0def".into()],
    };
    let connector = vpc_connector_name("budgetsync", &vpc);
    let role = "arn:aws:iam::123456789012:role/budgetsync-apprunner-instance".to_string();
    let pull = "arn:aws:iam::123456789012:role/budgetsync-apprunner-ecr-access".to_string();
    type SpecTweak = Box<dyn Fn(&mut ServiceSpec)>;
    type LiveTweak = Box<dyn Fn(&mut LiveConfig)>;
    let none_s: fn() -> SpecTweak = || Box::new(|_| {});
    let none_l: fn() -> LiveTweak = || Box::new(|_| {});
    // (what changed, spec tweak, live tweak)
    let (r1, r2, p1, p2, c1) = (
        role.clone(),
        role.clone(),
        pull.clone(),
        pull.clone(),
        connector.clone(),
    );
    let v1 = vpc.clone();
    let v2 = vpc.clone();
    let cases: Vec<(&str, SpecTweak, LiveTweak)> = vec![
        ("min_size up", Box::new(|s| s.min_size = 2), none_l()),
        ("max_size up", Box::new(|s| s.max_size = 5), none_l()),
        (
            "live min_size differs",
            none_s(),
            Box::new(|c| c.min_size = Some(3)),
        ),
        (
            "live max_size unknown",
            none_s(),
            Box::new(|c| c.max_size = None),
        ),
        (
            "VPC connector added",
            Box::new(move |s| s.vpc = Some(v1.clone())),
            none_l(),
        ),
        (
            "VPC connector removed",
            none_s(),
            Box::new(move |c| c.vpc_connector = Some(c1.clone())),
        ),
        (
            "VPC subnets changed",
            Box::new(move |s| s.vpc = Some(v2.clone())),
            Box::new(|c| c.vpc_connector = Some("budgetsync-00000000".into())),
        ),
        (
            "instance role added",
            Box::new(move |s| s.instance_role_arn = Some(r1.clone())),
            none_l(),
        ),
        (
            "instance role removed",
            none_s(),
            Box::new(move |c| c.instance_role_arn = Some(r2.clone())),
        ),
        (
            "access role added",
            Box::new(move |s| s.access_role_arn = Some(p1.clone())),
            none_l(),
        ),
        (
            "access role changed",
            none_s(),
            Box::new(move |c| c.access_role_arn = Some(p2.clone())),
        ),
        (
            "secret ARN changed",
            Box::new(|s| {
                s.instance_role_arn = Some("arn:aws:iam::123456789012:role/r".into());
                s.secrets.insert(
                    "K".into(),
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf".into(),
                );
            }),
            Box::new(|c| {
                c.instance_role_arn = Some("arn:aws:iam::123456789012:role/r".into());
                c.secrets.insert(
                    "K".into(),
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-ZyXwVu".into(),
                );
            }),
        ),
        (
            "health path",
            Box::new(|s| s.health_path = "/ready".into()),
            none_l(),
        ),
        (
            "cpu",
            Box::new(|s| {
                s.cpu = "2 vCPU".into();
                s.memory = "4 GB".into();
            }),
            Box::new(|c| c.memory = Some("4096".into())),
        ),
    ];
    for (what, tweak_spec, tweak_live) in cases {
        let mut s = spec();
        tweak_spec(&mut s);
        let v = live(&s.image, |c| tweak_live(c));
        let got = plan_service(&s, Some(&v), false).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            got.action,
            Action::Update {
                from_image: Some(s.image.clone())
            },
            "{what}"
        );
    }

    // And the same settings on both sides are unchanged.
    let mut s = spec();
    s.vpc = Some(vpc.clone());
    s.instance_role_arn = Some(role.clone());
    s.access_role_arn = Some(pull.clone());
    s.min_size = 2;
    s.max_size = 4;
    let v = live(&s.image, |c| {
        c.vpc_connector = Some(connector.clone());
        c.instance_role_arn = Some(role.clone());
        c.access_role_arn = Some(pull.clone());
        c.min_size = Some(2);
        c.max_size = Some(4);
    });
    assert_eq!(
        plan_service(&s, Some(&v), false).unwrap().action,
        Action::Unchanged
    );
}

#[test]
fn vpc_connector_names_come_out_of_their_arns() {
    assert_eq!(
        deploykit_apprunner::vpc_connector_name_of_arn(
            "arn:aws:apprunner:us-east-1:123456789012:vpcconnector/budgetsync-1a2b3c4d/1/0123456789abcdef"
        ),
        Some("budgetsync-1a2b3c4d")
    );
    assert_eq!(
        deploykit_apprunner::vpc_connector_name_of_arn("arn:aws:apprunner:x"),
        None
    );
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
        (
            Box::new(|s| {
                s.secrets.insert(
                    "SECRET_KEY".into(),
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf".into(),
                );
            }),
            "runtime secrets (SECRET_KEY) but no instance role",
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
    assert!(msg.contains("closed to new AWS customers"), "{msg}");
    let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
    assert!(help.contains("ECS Express Mode"), "{help}");
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

#[test]
fn new_account_refusal_names_ecs_express() {
    let err = AppRunnerError::NotAvailableForAccount {
        operation: "CreateService",
        code: "SubscriptionRequiredException".into(),
    };
    let msg = err.to_string();
    assert!(msg.contains("SubscriptionRequiredException"), "{msg}");
    let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
    assert!(
        help.contains("ECS Express") && help.contains("platform = \"ecs-express\""),
        "{help}"
    );
    // Advice, not CLI wording: the CLI adds `deploy ecs` (its apprunner_err).
    assert!(
        !msg.contains("cargo xtask") && !help.contains("cargo xtask"),
        "{help}"
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
