//! Alarms against the local cloud (the edge forwards `monitoring` and `sns` to moto): ensure
//! creates the topic, the subscription and the alarms; a second ensure sends no mutating call;
//! alarms deleted or changed out of band are drift, and ensure repairs exactly those.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_types::SdkConfig;
use deploykit_alarms::{
    AlarmChange, AlarmTargets, Clients, Drift, EbWatch, SubscriptionChange, Thresholds, TopicSpec,
    ensure, status, topic_arn, topic_name,
};
use deploykit_report::VecReporter;
use deploykit_testsupport::{local_cloud, unique_name};

/// Records the `Action` of every Query request, then sends it on.
#[derive(Debug, Clone)]
struct Recording {
    inner: SharedHttpClient,
    actions: Arc<Mutex<Vec<String>>>,
}

#[derive(Debug)]
struct RecordingConnector {
    inner: SharedHttpConnector,
    actions: Arc<Mutex<Vec<String>>>,
}

impl HttpClient for Recording {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RecordingConnector {
            inner: self.inner.http_connector(settings, components),
            actions: self.actions.clone(),
        })
    }
}

impl HttpConnector for RecordingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().unwrap_or_default();
        let action = String::from_utf8_lossy(body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action=").map(str::to_string));
        if let Some(a) = action {
            self.actions.lock().unwrap().push(a);
        }
        self.inner.call(request)
    }
}

impl Recording {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.actions.lock().unwrap())
    }
}

const READS: &[&str] = &[
    "GetTopicAttributes",
    "ListSubscriptionsByTopic",
    "DescribeAlarms",
];

async fn setup() -> (SdkConfig, Recording, String) {
    let cloud = local_cloud().await;
    let base = cloud.sdk_config();
    let account = deploykit_aws::caller_identity(&base)
        .await
        .expect("STS on the local cloud")
        .account;
    let rec = Recording {
        inner: base.http_client().expect("testsupport's loopback client"),
        actions: Arc::default(),
    };
    let sdk = base
        .to_builder()
        .http_client(SharedHttpClient::new(rec.clone()))
        .build();
    (sdk, rec, account)
}

fn targets(prefix: &str, account: &str) -> AlarmTargets {
    let topic = topic_name(prefix, "local");
    AlarmTargets {
        prefix: format!("{prefix}-local"),
        topic: TopicSpec {
            arn: topic_arn("us-east-1", account, &topic),
            name: topic,
            email: "alarms@example.com".into(),
        },
        eb: Some(EbWatch {
            environment: format!("{prefix}-env"),
            autoscaling_group: Some(format!("awseb-{prefix}-AWSEBAutoScalingGroup")),
        }),
        apprunner: None,
        database: Some(format!("{prefix}-db")),
        thresholds: Thresholds::default(),
    }
}

#[tokio::test]
async fn ensure_twice_then_drift_out_of_band_then_repair() {
    let (sdk, rec, account) = setup().await;
    let c = Clients::new(&sdk);
    let t = targets(&unique_name("al"), &account);
    let r = VecReporter::default();

    // Nothing exists: status is drift, ensure makes everything.
    let before = status(&c, &t).await.expect("status");
    assert!(!before.is_clean());
    assert_eq!(before.drift.len(), 2 + 6, "{:#?}", before.drift);
    rec.take();
    let first = ensure(&c, &t, &r).await.expect("first ensure");
    assert_eq!(first.applied.len(), 2 + 6, "{:#?}", first.applied);
    let calls = rec.take();
    for a in ["CreateTopic", "Subscribe", "PutMetricAlarm"] {
        assert!(calls.iter().any(|c| c == a), "{a} in {calls:?}");
    }
    assert_eq!(calls.iter().filter(|c| *c == "PutMetricAlarm").count(), 6);
    assert_eq!(first.topic_arn, t.topic.arn);

    // A second run reads only and reports unchanged.
    let second = ensure(&c, &t, &r).await.expect("second ensure");
    assert!(second.unchanged(), "{:#?}", second.applied);
    assert!(
        second
            .plan
            .alarms
            .iter()
            .all(|a| matches!(a, AlarmChange::Unchanged { .. }))
    );
    assert!(matches!(
        second.plan.subscription,
        SubscriptionChange::Pending { .. } | SubscriptionChange::Confirmed { .. }
    ));
    let calls = rec.take();
    assert!(
        calls.iter().all(|c| READS.contains(&c.as_str())),
        "a second ensure sent a mutating call: {calls:?}"
    );
    assert!(status(&c, &t).await.expect("status").is_clean());

    // Out of band: one alarm deleted, another's threshold changed and actions removed.
    let want = deploykit_alarms::desired(&t);
    let gone = want.alarms[1].name.clone();
    c.cloudwatch
        .delete_alarms(std::slice::from_ref(&gone))
        .await
        .expect("delete by hand");
    let mut edited = want
        .alarms
        .iter()
        .find(|a| a.name.ends_with("-db-cpu"))
        .expect("db-cpu")
        .clone();
    edited.threshold = 99.0;
    edited.alarm_actions.clear();
    c.cloudwatch.put_alarm(&edited).await.expect("edit by hand");
    rec.take();

    let check = status(&c, &t).await.expect("status");
    assert_eq!(check.drift.len(), 2, "{:#?}", check.drift);
    assert!(
        check
            .drift
            .contains(&Drift::AlarmMissing { name: gone.clone() })
    );
    let changed = check
        .drift
        .iter()
        .find_map(|d| match d {
            Drift::AlarmChanged { name, fields } if name == &edited.name => Some(fields),
            _ => None,
        })
        .expect("db-cpu changed");
    let fields: Vec<&str> = changed.iter().map(|f| f.field).collect();
    assert_eq!(fields, ["Threshold", "AlarmActions"]);
    assert!(
        rec.take().iter().all(|c| READS.contains(&c.as_str())),
        "status reads only"
    );

    let repaired = ensure(&c, &t, &r).await.expect("repair");
    assert_eq!(repaired.applied.len(), 2, "{:#?}", repaired.applied);
    let calls = rec.take();
    assert_eq!(
        calls
            .iter()
            .filter(|c| !READS.contains(&c.as_str()))
            .collect::<Vec<_>>(),
        ["PutMetricAlarm", "PutMetricAlarm"]
    );
    assert!(status(&c, &t).await.expect("status").is_clean());

    // The route is no longer watched: its alarms are deleted, in one call.
    let mut db_only = t.clone();
    db_only.eb = None;
    let moved = ensure(&c, &db_only, &r).await.expect("drop the EB alarms");
    let deleted: Vec<&str> = moved
        .plan
        .alarms
        .iter()
        .filter(|a| matches!(a, AlarmChange::Delete { .. }))
        .map(|a| a.name())
        .collect();
    assert_eq!(deleted.len(), 3, "{deleted:?}");
    assert!(deleted.iter().all(|n| n.contains("-eb-")));
    let calls = rec.take();
    assert_eq!(calls.iter().filter(|c| *c == "DeleteAlarms").count(), 1);
    assert!(status(&c, &db_only).await.expect("status").is_clean());
    assert!(
        ensure(&c, &db_only, &r).await.expect("again").unchanged(),
        "and a second run is unchanged"
    );
}
