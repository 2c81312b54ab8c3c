//! Observe, plan, and apply exactly the plan: [`observe`], [`status`] (reads only) and
//! [`ensure`] (a second run makes no mutating call).

use aws_types::SdkConfig;
use deploykit_report::{Event, Reporter, StepTimer};
use serde::Serialize;

use crate::cloudwatch::CloudWatch;
use crate::error::AlarmsError;
use crate::plan::{
    AlarmChange, Drift, Observed, Plan, SubscriptionChange, TopicChange, plan_alarms,
};
use crate::sns::Sns;
use crate::spec::{AlarmTargets, Desired, desired};

const STEP: &str = "alarms";

/// The CloudWatch and SNS clients, from one SdkConfig.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cloudwatch: CloudWatch,
    pub sns: Sns,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Clients {
            cloudwatch: CloudWatch::new(sdk),
            sns: Sns::new(sdk),
        }
    }
}

/// What [`status`] found: the drift (empty when everything is as configured) and the plan
/// [`ensure`] would apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmsCheck {
    pub topic_arn: String,
    pub drift: Vec<Drift>,
    pub plan: Plan,
}

impl AlarmsCheck {
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty()
    }
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnsureOutcome {
    pub topic_arn: String,
    /// The plan applied (its drift is what was found before any change).
    pub plan: Plan,
    /// Every mutating call made, in order, as sentences. Empty: nothing changed.
    pub applied: Vec<String>,
}

impl EnsureOutcome {
    pub fn unchanged(&self) -> bool {
        self.applied.is_empty()
    }
}

/// Reads the topic, its subscriptions and the alarms deploykit owns. Reads only.
pub async fn observe(c: &Clients, want: &Desired, prefix: &str) -> Result<Observed, AlarmsError> {
    let topic_exists = c.sns.topic_exists(&want.topic.arn).await?;
    let subscriptions = if topic_exists {
        c.sns.subscriptions(&want.topic.arn).await?
    } else {
        Vec::new()
    };
    let owned = want.owned_names();
    let alarms = c
        .cloudwatch
        .alarms_with_prefix(&format!("{prefix}-"))
        .await?
        .into_iter()
        .filter(|a| owned.contains(&a.name))
        .collect();
    Ok(Observed {
        topic_exists,
        subscriptions,
        alarms,
    })
}

/// The alarms against the configuration: drift and the plan that fixes it. Reads only.
pub async fn status(c: &Clients, t: &AlarmTargets) -> Result<AlarmsCheck, AlarmsError> {
    let want = desired(t);
    let observed = observe(c, &want, &t.prefix).await?;
    let plan = plan_alarms(&want, &observed);
    Ok(AlarmsCheck {
        topic_arn: t.topic.arn.clone(),
        drift: plan.drift(),
        plan,
    })
}

/// Creates the topic and subscription when missing, creates or updates the alarms that
/// differ, deletes the ones no longer configured; nothing else. A second run changes nothing.
pub async fn ensure(
    c: &Clients,
    t: &AlarmTargets,
    r: &dyn Reporter,
) -> Result<EnsureOutcome, AlarmsError> {
    let want = desired(t);
    let observed = observe(c, &want, &t.prefix).await?;
    let plan = plan_alarms(&want, &observed);
    for s in &plan.skipped {
        r.report(Event::StepSkipped {
            step: STEP.into(),
            reason: format!("{}: {}", s.name, s.reason),
        });
    }
    let mut applied = Vec::new();
    if plan.is_clean() {
        r.report(Event::StepSkipped {
            step: STEP.into(),
            reason: format!(
                "topic {}, its subscription and {} alarm(s) unchanged",
                want.topic.name,
                want.alarms.len()
            ),
        });
        return Ok(EnsureOutcome {
            topic_arn: want.topic.arn.clone(),
            plan,
            applied,
        });
    }
    let timer = StepTimer::start(
        r,
        STEP,
        format!("Applying {} alarm change(s)", plan.mutating_calls()),
    );
    let arn = &want.topic.arn;
    if let TopicChange::Create { name } = &plan.topic {
        let actual = c.sns.create_topic(name).await?;
        if &actual != arn {
            return Err(AlarmsError::TopicArn {
                name: name.clone(),
                expected: arn.clone(),
                actual,
            });
        }
        let line = format!("created SNS topic {arn}");
        r.report(Event::info(line.clone()));
        applied.push(line);
    }
    match &plan.subscription {
        SubscriptionChange::Subscribe { email } => {
            c.sns.subscribe_email(arn, email).await?;
            let line = format!("subscribed {email} to {} (SNS mails a confirmation link)", want.topic.name);
            r.report(Event::info(line.clone()));
            applied.push(line);
        }
        SubscriptionChange::Pending { email } => r.report(Event::warn(format!(
            "{email} has not confirmed its subscription to {} yet: alarm mails arrive only after the link in SNS's mail is followed",
            want.topic.name
        ))),
        SubscriptionChange::Confirmed { .. } => {}
    }
    let mut deletes = Vec::new();
    for change in &plan.alarms {
        match change {
            AlarmChange::Create { alarm } | AlarmChange::Update { alarm, .. } => {
                c.cloudwatch.put_alarm(alarm).await?;
                let line = change.to_string();
                r.report(Event::info(line.clone()));
                applied.push(line);
            }
            AlarmChange::Delete { name } => deletes.push(name.clone()),
            AlarmChange::Unchanged { .. } => {}
        }
    }
    if !deletes.is_empty() {
        c.cloudwatch.delete_alarms(&deletes).await?;
        let line = format!(
            "deleted alarm(s) {} (no longer configured)",
            deletes.join(", ")
        );
        r.report(Event::info(line.clone()));
        applied.push(line);
    }
    timer.finish(r, format!("{} change(s) applied", applied.len()));
    Ok(EnsureOutcome {
        topic_arn: arn.clone(),
        plan,
        applied,
    })
}
