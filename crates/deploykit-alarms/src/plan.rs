//! The pure planner: desired state against what CloudWatch and SNS report.

use std::fmt;

use serde::Serialize;

use crate::spec::{AlarmSpec, Desired, Skipped};

/// One SNS subscription of the topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    /// `email`, `https`, `sqs`, ...
    pub protocol: String,
    pub endpoint: String,
    /// The subscription ARN, or `PendingConfirmation` until the address confirms it.
    pub arn: String,
}

impl Subscription {
    pub fn is_pending(&self) -> bool {
        self.arn == "PendingConfirmation" || !self.arn.starts_with("arn:")
    }
}

/// What exists: the topic, its subscriptions, and the alarms deploykit owns (by name).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Observed {
    pub topic_exists: bool,
    pub subscriptions: Vec<Subscription>,
    /// Only alarms whose names deploykit owns ([`Desired::owned_names`]).
    pub alarms: Vec<AlarmSpec>,
}

/// One field that differs: its name as CloudWatch spells the parameter, wanted and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {}, expected {}",
            self.field, self.actual, self.expected
        )
    }
}

/// What happens to the topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum TopicChange {
    Create { name: String },
    Unchanged { arn: String },
}

/// What happens to the email subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum SubscriptionChange {
    Subscribe {
        email: String,
    },
    /// Subscribed; the address has not confirmed yet (SNS sent it a confirmation mail).
    Pending {
        email: String,
    },
    Confirmed {
        email: String,
    },
}

/// What happens to one alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum AlarmChange {
    Create {
        alarm: AlarmSpec,
    },
    /// PutMetricAlarm with the desired settings; `fields` lists what differs.
    Update {
        alarm: AlarmSpec,
        fields: Vec<FieldChange>,
    },
    Unchanged {
        name: String,
    },
    /// An alarm deploykit owns that the configuration no longer wants (another route's).
    Delete {
        name: String,
    },
}

impl AlarmChange {
    pub fn name(&self) -> &str {
        match self {
            AlarmChange::Create { alarm } | AlarmChange::Update { alarm, .. } => &alarm.name,
            AlarmChange::Unchanged { name } | AlarmChange::Delete { name } => name,
        }
    }
}

impl fmt::Display for AlarmChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlarmChange::Create { alarm } => write!(
                f,
                "create alarm {} ({} {} {} {})",
                alarm.name,
                alarm.metric_name,
                alarm.statistic,
                op_symbol(&alarm.comparison_operator),
                alarm.threshold
            ),
            AlarmChange::Update { alarm, fields } => write!(
                f,
                "update alarm {}: {}",
                alarm.name,
                fields
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            AlarmChange::Unchanged { name } => write!(f, "alarm {name} unchanged"),
            AlarmChange::Delete { name } => {
                write!(f, "delete alarm {name} (no longer configured)")
            }
        }
    }
}

fn op_symbol(op: &str) -> &str {
    match op {
        "GreaterThanThreshold" => ">",
        "GreaterThanOrEqualToThreshold" => ">=",
        "LessThanThreshold" => "<",
        "LessThanOrEqualToThreshold" => "<=",
        other => other,
    }
}

/// One difference between what exists and the configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "drift", rename_all = "kebab-case")]
pub enum Drift {
    TopicMissing {
        name: String,
    },
    SubscriptionMissing {
        email: String,
    },
    AlarmMissing {
        name: String,
    },
    AlarmChanged {
        name: String,
        fields: Vec<FieldChange>,
    },
    AlarmUnwanted {
        name: String,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::TopicMissing { name } => write!(f, "SNS topic {name} does not exist"),
            Drift::SubscriptionMissing { email } => {
                write!(f, "{email} is not subscribed to the alarm topic")
            }
            Drift::AlarmMissing { name } => write!(f, "alarm {name} does not exist"),
            Drift::AlarmChanged { name, fields } => write!(
                f,
                "alarm {name} changed: {}",
                fields
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Drift::AlarmUnwanted { name } => {
                write!(f, "alarm {name} exists but is no longer configured")
            }
        }
    }
}

/// The plan: what to do with the topic, the subscription and each alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub topic: TopicChange,
    pub subscription: SubscriptionChange,
    pub alarms: Vec<AlarmChange>,
    pub skipped: Vec<Skipped>,
}

impl Plan {
    /// The differences, in plan order. Empty: nothing to change.
    pub fn drift(&self) -> Vec<Drift> {
        let mut out = Vec::new();
        if let TopicChange::Create { name } = &self.topic {
            out.push(Drift::TopicMissing { name: name.clone() });
        }
        if let SubscriptionChange::Subscribe { email } = &self.subscription {
            out.push(Drift::SubscriptionMissing {
                email: email.clone(),
            });
        }
        for a in &self.alarms {
            match a {
                AlarmChange::Create { alarm } => out.push(Drift::AlarmMissing {
                    name: alarm.name.clone(),
                }),
                AlarmChange::Update { alarm, fields } => out.push(Drift::AlarmChanged {
                    name: alarm.name.clone(),
                    fields: fields.clone(),
                }),
                AlarmChange::Delete { name } => {
                    out.push(Drift::AlarmUnwanted { name: name.clone() })
                }
                AlarmChange::Unchanged { .. } => {}
            }
        }
        out
    }

    /// The mutating calls the plan needs (CreateTopic, Subscribe, PutMetricAlarm, DeleteAlarms).
    pub fn mutating_calls(&self) -> usize {
        let topic = usize::from(matches!(self.topic, TopicChange::Create { .. }));
        let sub = usize::from(matches!(
            self.subscription,
            SubscriptionChange::Subscribe { .. }
        ));
        let puts = self
            .alarms
            .iter()
            .filter(|a| matches!(a, AlarmChange::Create { .. } | AlarmChange::Update { .. }))
            .count();
        let deletes = self
            .alarms
            .iter()
            .any(|a| matches!(a, AlarmChange::Delete { .. }));
        topic + sub + puts + usize::from(deletes)
    }

    /// Nothing to change.
    pub fn is_clean(&self) -> bool {
        self.mutating_calls() == 0
    }
}

/// Compares the desired state with the observed one. Pure.
pub fn plan_alarms(desired: &Desired, observed: &Observed) -> Plan {
    let topic = if observed.topic_exists {
        TopicChange::Unchanged {
            arn: desired.topic.arn.clone(),
        }
    } else {
        TopicChange::Create {
            name: desired.topic.name.clone(),
        }
    };
    let email = desired.topic.email.clone();
    let found = observed
        .subscriptions
        .iter()
        .filter(|s| s.protocol == "email" && s.endpoint.eq_ignore_ascii_case(&email))
        .min_by_key(|s| s.is_pending());
    let subscription = match found {
        None => SubscriptionChange::Subscribe { email },
        Some(s) if s.is_pending() => SubscriptionChange::Pending { email },
        Some(_) => SubscriptionChange::Confirmed { email },
    };
    let mut alarms = Vec::new();
    for want in &desired.alarms {
        match observed.alarms.iter().find(|a| a.name == want.name) {
            None => alarms.push(AlarmChange::Create {
                alarm: want.clone(),
            }),
            Some(have) => {
                let fields = differences(want, have);
                alarms.push(if fields.is_empty() {
                    AlarmChange::Unchanged {
                        name: want.name.clone(),
                    }
                } else {
                    AlarmChange::Update {
                        alarm: want.clone(),
                        fields,
                    }
                });
            }
        }
    }
    for name in &desired.retired {
        if observed.alarms.iter().any(|a| &a.name == name) {
            alarms.push(AlarmChange::Delete { name: name.clone() });
        }
    }
    Plan {
        topic,
        subscription,
        alarms,
        skipped: desired.skipped.clone(),
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Thresholds compare with a relative tolerance: CloudWatch stores a double and answers it
/// in decimal text.
fn same_number(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The fields of `have` that differ from `want`, each with both values.
pub fn differences(want: &AlarmSpec, have: &AlarmSpec) -> Vec<FieldChange> {
    let want = want.clone().normalized();
    let have = have.clone().normalized();
    let mut out = Vec::new();
    let mut diff = |field: &'static str, expected: String, actual: String| {
        if expected != actual {
            out.push(FieldChange {
                field,
                expected,
                actual,
            });
        }
    };
    diff("Namespace", want.namespace, have.namespace);
    diff("MetricName", want.metric_name, have.metric_name);
    let dims = |d: &[crate::spec::Dimension]| {
        d.iter()
            .map(|d| format!("{}={}", d.name, d.value))
            .collect::<Vec<_>>()
    };
    diff(
        "Dimensions",
        list(&dims(&want.dimensions)),
        list(&dims(&have.dimensions)),
    );
    diff("Statistic", want.statistic, have.statistic);
    diff(
        "Period",
        want.period_seconds.to_string(),
        have.period_seconds.to_string(),
    );
    diff(
        "EvaluationPeriods",
        want.evaluation_periods.to_string(),
        have.evaluation_periods.to_string(),
    );
    diff(
        "DatapointsToAlarm",
        want.datapoints_to_alarm.to_string(),
        have.datapoints_to_alarm.to_string(),
    );
    if !same_number(want.threshold, have.threshold) {
        diff(
            "Threshold",
            want.threshold.to_string(),
            have.threshold.to_string(),
        );
    }
    diff(
        "ComparisonOperator",
        want.comparison_operator,
        have.comparison_operator,
    );
    diff(
        "TreatMissingData",
        want.treat_missing_data,
        have.treat_missing_data,
    );
    diff(
        "AlarmActions",
        list(&want.alarm_actions),
        list(&have.alarm_actions),
    );
    diff("OKActions", list(&want.ok_actions), list(&have.ok_actions));
    diff(
        "ActionsEnabled",
        want.actions_enabled.to_string(),
        have.actions_enabled.to_string(),
    );
    diff("AlarmDescription", want.description, have.description);
    out
}
