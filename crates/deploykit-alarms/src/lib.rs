//! CloudWatch alarms for the app, as the seed's section 4 asks (CPU high, 5xx, RDS free
//! storage and CPU, plus EB health, App Runner latency and RDS connections), notifying an SNS
//! topic `<app>-<target>-alarms` with one email subscription.
//!
//! - [`spec`]: the desired alarms from plain [`AlarmTargets`] (which environment, service and
//!   instance; the thresholds, whose defaults are [`Thresholds::default`]).
//! - [`plan`]: the pure planner [`plan_alarms`] (create / update with the differing fields /
//!   unchanged / delete what is no longer configured; the topic and the subscription), tested
//!   as data, and the [`Drift`] it finds.
//! - [`apply`]: [`status`] (reads only) and [`ensure`] (applies exactly the plan; a second run
//!   makes no mutating call).
//!
//! CloudWatch and SNS are reached through deploykit-aws's Query client ([`cloudwatch`],
//! [`sns`]), not their SDK crates (see docs/ARCHITECTURE.md for the measured reason).

pub mod apply;
pub mod cloudwatch;
mod diagnostic;
mod error;
pub mod plan;
pub mod sns;
pub mod spec;

pub use apply::{AlarmsCheck, Clients, EnsureOutcome, ensure, observe, status};
pub use error::AlarmsError;
pub use plan::{
    AlarmChange, Drift, FieldChange, Observed, Plan, Subscription, SubscriptionChange, TopicChange,
    differences, plan_alarms,
};
pub use spec::{
    AlarmSpec, AlarmTargets, AppRunnerWatch, Desired, Dimension, EbWatch, KEYS, Skipped,
    Thresholds, TopicSpec, alarm_name, desired,
};

/// The alarm topic's name for an app and target: `<app>-<target>-alarms`.
pub fn topic_name(app: &str, target: &str) -> String {
    format!("{app}-{target}-alarms")
}

/// An SNS topic's ARN: `arn:<partition>:sns:<region>:<account>:<name>` (the partition from the
/// region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`).
pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:sns:{region}:{account}:{name}")
}
