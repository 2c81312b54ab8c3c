//! The planner as data: desired alarms from plain targets, and plans against observed states.

use deploykit_alarms::{
    AlarmChange, AlarmSpec, AlarmTargets, AppRunnerWatch, Drift, EbWatch, Observed, Subscription,
    SubscriptionChange, Thresholds, TopicChange, TopicSpec, desired, plan_alarms, topic_arn,
    topic_name,
};

const ARN: &str = "arn:aws:sns:us-east-1:123456789012:shop-dev-alarms";

fn targets() -> AlarmTargets {
    AlarmTargets {
        prefix: "shop-dev".into(),
        topic: TopicSpec {
            name: topic_name("shop", "dev"),
            arn: ARN.into(),
            email: "ops@example.com".into(),
        },
        eb: Some(EbWatch {
            environment: "shop-dev".into(),
            autoscaling_group: Some("awseb-e-abc-stack-AWSEBAutoScalingGroup-XYZ".into()),
        }),
        apprunner: None,
        database: Some("shop-db".into()),
        thresholds: Thresholds::default(),
    }
}

fn names(alarms: &[AlarmSpec]) -> Vec<&str> {
    alarms.iter().map(|a| a.name.as_str()).collect()
}

fn everything_in_place(t: &AlarmTargets) -> Observed {
    Observed {
        topic_exists: true,
        subscriptions: vec![Subscription {
            protocol: "email".into(),
            endpoint: "OPS@example.com".into(),
            arn: format!("{ARN}:1111"),
        }],
        alarms: desired(t).alarms,
    }
}

#[test]
fn the_topic_arn_and_name_follow_the_target() {
    assert_eq!(topic_name("shop", "dev"), "shop-dev-alarms");
    assert_eq!(
        topic_arn("us-east-1", "123456789012", "shop-dev-alarms"),
        ARN
    );
    assert_eq!(
        topic_arn("cn-north-1", "123456789012", "t"),
        "arn:aws-cn:sns:cn-north-1:123456789012:t"
    );
}

#[test]
fn desired_alarms_for_eb_and_rds_with_the_default_thresholds() {
    let d = desired(&targets());
    assert_eq!(
        names(&d.alarms),
        [
            "shop-dev-eb-cpu",
            "shop-dev-eb-5xx",
            "shop-dev-eb-health",
            "shop-dev-db-cpu",
            "shop-dev-db-free-storage",
            "shop-dev-db-connections"
        ]
    );
    assert_eq!(
        d.retired,
        ["shop-dev-apprunner-5xx", "shop-dev-apprunner-latency"]
    );
    assert!(d.skipped.is_empty());
    let by = |n: &str| d.alarms.iter().find(|a| a.name == n).expect(n);
    let cpu = by("shop-dev-eb-cpu");
    assert_eq!(
        (cpu.namespace.as_str(), cpu.metric_name.as_str()),
        ("AWS/EC2", "CPUUtilization")
    );
    assert_eq!(cpu.dimensions[0].name, "AutoScalingGroupName");
    assert_eq!(cpu.threshold, 80.0);
    let e5 = by("shop-dev-eb-5xx");
    assert_eq!(e5.namespace, "AWS/ElasticBeanstalk");
    assert_eq!(e5.metric_name, "ApplicationRequests5xx");
    assert_eq!(e5.dimensions[0].name, "EnvironmentName");
    assert_eq!(e5.treat_missing_data, "notBreaching");
    let h = by("shop-dev-eb-health");
    assert_eq!(h.metric_name, "EnvironmentHealth");
    assert_eq!(h.comparison_operator, "GreaterThanOrEqualToThreshold");
    assert_eq!(h.threshold, 20.0);
    let st = by("shop-dev-db-free-storage");
    assert_eq!(st.namespace, "AWS/RDS");
    assert_eq!(st.dimensions[0].name, "DBInstanceIdentifier");
    assert_eq!(st.comparison_operator, "LessThanThreshold");
    assert_eq!(st.threshold, 2.0 * 1024.0 * 1024.0 * 1024.0, "GiB in bytes");
    assert_eq!(by("shop-dev-db-connections").threshold, 60.0);
    for a in &d.alarms {
        assert_eq!(a.alarm_actions, [ARN]);
        assert_eq!(a.ok_actions, [ARN]);
        assert!(a.actions_enabled);
    }
}

#[test]
fn app_runner_alarms_carry_name_and_id_or_are_skipped_before_the_service_exists() {
    let mut t = targets();
    t.eb = None;
    t.database = None;
    t.thresholds.latency_ms = 1500.0;
    t.apprunner = Some(AppRunnerWatch {
        service: "shop".into(),
        service_id: Some("8fe1e10304f84fd2b0df550fe98a71fa".into()),
    });
    let d = desired(&t);
    assert_eq!(
        names(&d.alarms),
        ["shop-dev-apprunner-5xx", "shop-dev-apprunner-latency"]
    );
    let lat = &d.alarms[1];
    assert_eq!(
        (lat.namespace.as_str(), lat.metric_name.as_str()),
        ("AWS/AppRunner", "RequestLatency")
    );
    assert!(lat.is_extended_statistic(), "p95 is an ExtendedStatistic");
    assert_eq!(lat.threshold, 1500.0);
    let dims: Vec<&str> = lat.dimensions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(dims, ["ServiceID", "ServiceName"]);
    assert_eq!(d.alarms[0].metric_name, "5xxStatusResponses");

    t.apprunner = Some(AppRunnerWatch {
        service: "shop".into(),
        service_id: None,
    });
    let d = desired(&t);
    assert!(d.alarms.is_empty());
    assert_eq!(d.skipped.len(), 2);
    assert!(d.skipped[0].reason.contains("does not exist yet"));
    assert!(
        !d.retired.contains(&"shop-dev-apprunner-5xx".to_string()),
        "a skipped alarm is not deleted"
    );
}

#[test]
fn nothing_exists_creates_topic_subscription_and_every_alarm() {
    let t = targets();
    let plan = plan_alarms(&desired(&t), &Observed::default());
    assert_eq!(
        plan.topic,
        TopicChange::Create {
            name: "shop-dev-alarms".into()
        }
    );
    assert_eq!(
        plan.subscription,
        SubscriptionChange::Subscribe {
            email: "ops@example.com".into()
        }
    );
    assert!(
        plan.alarms
            .iter()
            .all(|a| matches!(a, AlarmChange::Create { .. }))
    );
    assert_eq!(plan.mutating_calls(), 2 + 6);
    assert_eq!(plan.drift().len(), 8);
}

#[test]
fn everything_in_place_is_unchanged_and_clean() {
    let t = targets();
    let plan = plan_alarms(&desired(&t), &everything_in_place(&t));
    assert!(plan.is_clean(), "{plan:#?}");
    assert!(plan.drift().is_empty());
    assert_eq!(plan.mutating_calls(), 0);
    assert!(
        plan.alarms
            .iter()
            .all(|a| matches!(a, AlarmChange::Unchanged { .. }))
    );
    assert!(matches!(
        plan.subscription,
        SubscriptionChange::Confirmed { .. }
    ));
}

#[test]
fn a_pending_subscription_is_not_subscribed_again() {
    let t = targets();
    let mut seen = everything_in_place(&t);
    seen.subscriptions[0].arn = "PendingConfirmation".into();
    let plan = plan_alarms(&desired(&t), &seen);
    assert!(matches!(
        plan.subscription,
        SubscriptionChange::Pending { .. }
    ));
    assert!(plan.is_clean());
    // Another address (or another protocol) does not count.
    seen.subscriptions[0].endpoint = "someone@example.com".into();
    seen.subscriptions.push(Subscription {
        protocol: "sms".into(),
        endpoint: "ops@example.com".into(),
        arn: format!("{ARN}:2"),
    });
    let plan = plan_alarms(&desired(&t), &seen);
    assert!(matches!(
        plan.subscription,
        SubscriptionChange::Subscribe { .. }
    ));
}

#[test]
fn actions_removed_and_threshold_changed_are_drift_with_the_fields_listed() {
    let t = targets();
    let mut seen = everything_in_place(&t);
    let cpu = seen
        .alarms
        .iter_mut()
        .find(|a| a.name == "shop-dev-db-cpu")
        .unwrap();
    cpu.alarm_actions.clear();
    cpu.threshold = 95.0;
    seen.alarms.retain(|a| a.name != "shop-dev-eb-5xx");
    let plan = plan_alarms(&desired(&t), &seen);
    let drift = plan.drift();
    assert_eq!(drift.len(), 2, "{drift:#?}");
    assert_eq!(
        drift[0],
        Drift::AlarmMissing {
            name: "shop-dev-eb-5xx".into()
        }
    );
    let Drift::AlarmChanged { name, fields } = &drift[1] else {
        panic!("{drift:?}")
    };
    assert_eq!(name, "shop-dev-db-cpu");
    let f: Vec<(&str, &str, &str)> = fields
        .iter()
        .map(|f| (f.field, f.expected.as_str(), f.actual.as_str()))
        .collect();
    assert_eq!(
        f,
        [("Threshold", "80", "95"), ("AlarmActions", ARN, "none")]
    );
    assert_eq!(plan.mutating_calls(), 2);
    assert!(
        drift[1]
            .to_string()
            .contains("AlarmActions is none, expected arn:aws:sns")
    );
}

#[test]
fn thresholds_compare_as_numbers_and_lists_as_sets() {
    let t = targets();
    let mut seen = everything_in_place(&t);
    for a in &mut seen.alarms {
        // CloudWatch answers 2 GiB as 2.147483648E9; the same double.
        a.threshold = format!("{:E}", a.threshold).parse().unwrap();
        a.dimensions.reverse();
    }
    assert!(plan_alarms(&desired(&t), &seen).is_clean());
}

#[test]
fn another_routes_alarms_are_deleted_and_our_configured_thresholds_apply() {
    let mut t = targets();
    // The target used App Runner before; its alarms are still there.
    let mut before = t.clone();
    before.eb = None;
    before.apprunner = Some(AppRunnerWatch {
        service: "shop".into(),
        service_id: Some("id1".into()),
    });
    let mut seen = everything_in_place(&t);
    seen.alarms.extend(desired(&before).alarms);
    t.thresholds.db_free_storage_gb = 5.0;
    let plan = plan_alarms(&desired(&t), &seen);
    let deletes: Vec<&str> = plan
        .alarms
        .iter()
        .filter(|a| matches!(a, AlarmChange::Delete { .. }))
        .map(|a| a.name())
        .collect();
    assert_eq!(
        deletes,
        ["shop-dev-apprunner-5xx", "shop-dev-apprunner-latency"]
    );
    let update = plan
        .alarms
        .iter()
        .find(|a| matches!(a, AlarmChange::Update { .. }))
        .expect("an update");
    assert_eq!(update.name(), "shop-dev-db-free-storage");
    // One PutMetricAlarm, one DeleteAlarms for both.
    assert_eq!(plan.mutating_calls(), 2);
}

#[test]
fn a_missing_topic_is_created_and_the_address_subscribed() {
    let t = targets();
    let mut seen = everything_in_place(&t);
    seen.topic_exists = false;
    seen.subscriptions.clear();
    let plan = plan_alarms(&desired(&t), &seen);
    assert_eq!(
        plan.drift(),
        [
            Drift::TopicMissing {
                name: "shop-dev-alarms".into()
            },
            Drift::SubscriptionMissing {
                email: "ops@example.com".into()
            }
        ]
    );
}
