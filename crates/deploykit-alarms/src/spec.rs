//! What the alarms should be: the seed's alarms for each configured part of the app
//! ([`desired`] from plain [`AlarmTargets`]), with [`Thresholds`] whose defaults are
//! [`Thresholds::default`].
//!
//! | key | metric (namespace, dimensions) | statistic, period | fires when |
//! |---|---|---|---|
//! | `eb-cpu` | `CPUUtilization` (AWS/EC2, `AutoScalingGroupName` of the environment) | Average, 5 min x 3 | > `cpu_percent` (80) |
//! | `eb-5xx` | `ApplicationRequests5xx` (AWS/ElasticBeanstalk, `EnvironmentName`) | Sum, 5 min | > `http_5xx` (10) |
//! | `eb-health` | `EnvironmentHealth` (AWS/ElasticBeanstalk, `EnvironmentName`) | Maximum, 5 min x 2 | >= `eb_health` (20, Degraded) |
//! | `apprunner-5xx` | `5xxStatusResponses` (AWS/AppRunner, `ServiceName`, `ServiceID`) | Sum, 5 min | > `http_5xx` (10) |
//! | `apprunner-latency` | `RequestLatency` (AWS/AppRunner, `ServiceName`, `ServiceID`) | p95, 5 min x 3 | > `latency_ms` (2000) |
//! | `db-cpu` | `CPUUtilization` (AWS/RDS, `DBInstanceIdentifier`) | Average, 5 min x 3 | > `db_cpu_percent` (80) |
//! | `db-free-storage` | `FreeStorageSpace` (AWS/RDS, `DBInstanceIdentifier`) | Minimum, 5 min | < `db_free_storage_gb` (2 GiB) |
//! | `db-connections` | `DatabaseConnections` (AWS/RDS, `DBInstanceIdentifier`) | Maximum, 5 min x 2 | > `db_connections` (60) |
//!
//! EB has no environment-level CPU metric in AWS/ElasticBeanstalk (its CPU metrics are
//! per instance), so `eb-cpu` watches the environment's Auto Scaling group in AWS/EC2, as the
//! EB console's own CPU graph does. Every alarm notifies the topic on ALARM and OK.

use serde::Serialize;

/// CloudWatch's `TreatMissingData` when nothing was measured (no requests: no 5xx data).
pub const NOT_BREACHING: &str = "notBreaching";
/// CloudWatch's default `TreatMissingData`.
pub const MISSING: &str = "missing";

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One metric alarm, as deploykit wants it and as CloudWatch describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric_name: String,
    /// Sorted by name.
    pub dimensions: Vec<Dimension>,
    /// `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, or a percentile such as `p95`
    /// (sent as `ExtendedStatistic`).
    pub statistic: String,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    /// `GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, `LessThanThreshold`, ...
    pub comparison_operator: String,
    pub treat_missing_data: String,
    /// Sorted.
    pub alarm_actions: Vec<String>,
    /// Sorted.
    pub ok_actions: Vec<String>,
    pub actions_enabled: bool,
}

impl AlarmSpec {
    /// Whether the statistic is a percentile (`ExtendedStatistic`).
    pub fn is_extended_statistic(&self) -> bool {
        is_percentile(&self.statistic)
    }

    /// The alarm with its lists in canonical order (dimensions by name, actions sorted).
    pub fn normalized(mut self) -> Self {
        self.dimensions.sort_by(|a, b| a.name.cmp(&b.name));
        self.alarm_actions.sort();
        self.alarm_actions.dedup();
        self.ok_actions.sort();
        self.ok_actions.dedup();
        self
    }
}

/// `p95`, `p99.9`: a percentile statistic.
pub fn is_percentile(s: &str) -> bool {
    s.strip_prefix('p')
        .is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok())
}

/// A metric dimension.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

impl Dimension {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Dimension {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The SNS topic the alarms notify, and who is subscribed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicSpec {
    /// `<app>-<target>-alarms`.
    pub name: String,
    /// `arn:<partition>:sns:<region>:<account>:<name>` (the account from STS).
    pub arn: String,
    /// The email address subscribed (confirmation pending is fine).
    pub email: String,
}

/// The thresholds of the alarms. `Default` is deploykit's recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// EB environment CPU (%), average over 15 minutes.
    pub cpu_percent: f64,
    /// 5xx responses in 5 minutes (EB and App Runner).
    pub http_5xx: f64,
    /// EB `EnvironmentHealth` at or above this (15 Warning, 20 Degraded, 25 Severe).
    pub eb_health: f64,
    /// App Runner p95 request latency (ms) over 15 minutes.
    pub latency_ms: f64,
    /// RDS CPU (%), average over 15 minutes.
    pub db_cpu_percent: f64,
    /// RDS free storage (GiB) below this.
    pub db_free_storage_gb: f64,
    /// RDS connections above this, for 10 minutes.
    pub db_connections: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            cpu_percent: 80.0,
            http_5xx: 10.0,
            eb_health: 20.0,
            latency_ms: 2000.0,
            db_cpu_percent: 80.0,
            db_free_storage_gb: 2.0,
            db_connections: 60.0,
        }
    }
}

/// The Elastic Beanstalk environment watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EbWatch {
    pub environment: String,
    /// The environment's Auto Scaling group (`DescribeEnvironmentResources`); `None` when the
    /// environment does not exist yet: `eb-cpu` is skipped.
    pub autoscaling_group: Option<String>,
}

/// The App Runner service watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppRunnerWatch {
    pub service: String,
    /// The service id (the last part of its ARN); `None` when the service does not exist yet:
    /// its alarms are skipped (the metrics carry the id).
    pub service_id: Option<String>,
}

/// What to watch, as plain data (the caller maps deploy.toml to it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmTargets {
    /// The alarm name prefix, `<app>-<target>`; each alarm is `<prefix>-<key>`.
    pub prefix: String,
    pub topic: TopicSpec,
    pub eb: Option<EbWatch>,
    pub apprunner: Option<AppRunnerWatch>,
    /// The RDS instance identifier.
    pub database: Option<String>,
    pub thresholds: Thresholds,
}

/// An alarm that cannot be made yet, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// The desired state: the alarms, the alarm names deploykit owns but does not want now
/// (another route's: deleted when they exist), and the alarms that cannot be made yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Desired {
    pub topic: TopicSpec,
    pub alarms: Vec<AlarmSpec>,
    pub retired: Vec<String>,
    pub skipped: Vec<Skipped>,
}

impl Desired {
    /// Every alarm name deploykit owns for this prefix (wanted, retired or skipped).
    pub fn owned_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .alarms
            .iter()
            .map(|a| a.name.clone())
            .chain(self.retired.iter().cloned())
            .chain(self.skipped.iter().map(|s| s.name.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Every alarm key deploykit defines, in order.
pub const KEYS: &[&str] = &[
    "eb-cpu",
    "eb-5xx",
    "eb-health",
    "apprunner-5xx",
    "apprunner-latency",
    "db-cpu",
    "db-free-storage",
    "db-connections",
];

/// The alarm name of `key` under `prefix`.
pub fn alarm_name(prefix: &str, key: &str) -> String {
    format!("{prefix}-{key}")
}

struct Metric<'a> {
    key: &'a str,
    what: String,
    namespace: &'a str,
    metric: &'a str,
    dimensions: Vec<Dimension>,
    statistic: &'a str,
    periods: u32,
    threshold: f64,
    comparison: &'a str,
    missing: &'a str,
}

/// The desired alarms for `t`. Pure.
pub fn desired(t: &AlarmTargets) -> Desired {
    let th = &t.thresholds;
    let mut want: Vec<Metric<'_>> = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |key: &str, reason: String| {
        skipped.push(Skipped {
            name: alarm_name(&t.prefix, key),
            reason,
        })
    };
    if let Some(eb) = &t.eb {
        let env = &eb.environment;
        let env_dim = || vec![Dimension::new("EnvironmentName", env)];
        match &eb.autoscaling_group {
            Some(asg) => want.push(Metric {
                key: "eb-cpu",
                what: format!("EB environment {env} CPU above {}%", th.cpu_percent),
                namespace: "AWS/EC2",
                metric: "CPUUtilization",
                dimensions: vec![Dimension::new("AutoScalingGroupName", asg)],
                statistic: "Average",
                periods: 3,
                threshold: th.cpu_percent,
                comparison: "GreaterThanThreshold",
                missing: MISSING,
            }),
            None => skip(
                "eb-cpu",
                format!(
                    "EB environment {env} does not exist yet (its CPU is its Auto Scaling group's)"
                ),
            ),
        }
        want.push(Metric {
            key: "eb-5xx",
            what: format!(
                "EB environment {env}: more than {} 5xx responses in 5 minutes",
                th.http_5xx
            ),
            namespace: "AWS/ElasticBeanstalk",
            metric: "ApplicationRequests5xx",
            dimensions: env_dim(),
            statistic: "Sum",
            periods: 1,
            threshold: th.http_5xx,
            comparison: "GreaterThanThreshold",
            missing: NOT_BREACHING,
        });
        want.push(Metric {
            key: "eb-health",
            what: format!(
                "EB environment {env} health at or above {} (20 Degraded, 25 Severe)",
                th.eb_health
            ),
            namespace: "AWS/ElasticBeanstalk",
            metric: "EnvironmentHealth",
            dimensions: env_dim(),
            statistic: "Maximum",
            periods: 2,
            threshold: th.eb_health,
            comparison: "GreaterThanOrEqualToThreshold",
            missing: MISSING,
        });
    }
    if let Some(ar) = &t.apprunner {
        let svc = &ar.service;
        match &ar.service_id {
            Some(id) => {
                let dims = || {
                    vec![
                        Dimension::new("ServiceID", id),
                        Dimension::new("ServiceName", svc),
                    ]
                };
                want.push(Metric {
                    key: "apprunner-5xx",
                    what: format!(
                        "App Runner service {svc}: more than {} 5xx responses in 5 minutes",
                        th.http_5xx
                    ),
                    namespace: "AWS/AppRunner",
                    metric: "5xxStatusResponses",
                    dimensions: dims(),
                    statistic: "Sum",
                    periods: 1,
                    threshold: th.http_5xx,
                    comparison: "GreaterThanThreshold",
                    missing: NOT_BREACHING,
                });
                want.push(Metric {
                    key: "apprunner-latency",
                    what: format!(
                        "App Runner service {svc}: p95 latency above {} ms",
                        th.latency_ms
                    ),
                    namespace: "AWS/AppRunner",
                    metric: "RequestLatency",
                    dimensions: dims(),
                    statistic: "p95",
                    periods: 3,
                    threshold: th.latency_ms,
                    comparison: "GreaterThanThreshold",
                    missing: NOT_BREACHING,
                });
            }
            None => {
                for key in ["apprunner-5xx", "apprunner-latency"] {
                    skip(
                        key,
                        format!(
                            "App Runner service {svc} does not exist yet (its metrics carry its id)"
                        ),
                    );
                }
            }
        }
    }
    if let Some(db) = &t.database {
        let dims = || vec![Dimension::new("DBInstanceIdentifier", db)];
        want.push(Metric {
            key: "db-cpu",
            what: format!("RDS instance {db} CPU above {}%", th.db_cpu_percent),
            namespace: "AWS/RDS",
            metric: "CPUUtilization",
            dimensions: dims(),
            statistic: "Average",
            periods: 3,
            threshold: th.db_cpu_percent,
            comparison: "GreaterThanThreshold",
            missing: MISSING,
        });
        want.push(Metric {
            key: "db-free-storage",
            what: format!(
                "RDS instance {db} free storage below {} GiB",
                th.db_free_storage_gb
            ),
            namespace: "AWS/RDS",
            metric: "FreeStorageSpace",
            dimensions: dims(),
            statistic: "Minimum",
            periods: 1,
            threshold: th.db_free_storage_gb * GIB,
            comparison: "LessThanThreshold",
            missing: MISSING,
        });
        want.push(Metric {
            key: "db-connections",
            what: format!(
                "RDS instance {db} more than {} connections",
                th.db_connections
            ),
            namespace: "AWS/RDS",
            metric: "DatabaseConnections",
            dimensions: dims(),
            statistic: "Maximum",
            periods: 2,
            threshold: th.db_connections,
            comparison: "GreaterThanThreshold",
            missing: MISSING,
        });
    }
    let actions = vec![t.topic.arn.clone()];
    let alarms: Vec<AlarmSpec> = want
        .into_iter()
        .map(|m| {
            AlarmSpec {
                name: alarm_name(&t.prefix, m.key),
                description: format!("{} (managed by deploykit)", m.what),
                namespace: m.namespace.into(),
                metric_name: m.metric.into(),
                dimensions: m.dimensions,
                statistic: m.statistic.into(),
                period_seconds: 300,
                evaluation_periods: m.periods,
                datapoints_to_alarm: m.periods,
                threshold: m.threshold,
                comparison_operator: m.comparison.into(),
                treat_missing_data: m.missing.into(),
                alarm_actions: actions.clone(),
                ok_actions: actions.clone(),
                actions_enabled: true,
            }
            .normalized()
        })
        .collect();
    let retired = KEYS
        .iter()
        .map(|k| alarm_name(&t.prefix, k))
        .filter(|n| !alarms.iter().any(|a| &a.name == n) && !skipped.iter().any(|s| &s.name == n))
        .collect();
    Desired {
        topic: t.topic.clone(),
        alarms,
        retired,
        skipped,
    }
}
