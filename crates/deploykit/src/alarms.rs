//! The target's CloudWatch alarms (`[alarms]`): status with drift, and ensure.

use deploykit_alarms::Clients;
pub use deploykit_alarms::{
    AlarmChange, AlarmTargets, AlarmsCheck, Drift, EnsureOutcome, Plan, SubscriptionChange,
    Thresholds, TopicChange,
};
use deploykit_config::AlarmRoute;
use deploykit_report::Reporter;

use crate::{Error, Result, Session};

/// The target's alarms: what deploy.toml asks for, resolved against what exists, and the
/// CloudWatch and SNS clients.
#[derive(Debug)]
pub struct AppAlarms {
    pub targets: AlarmTargets,
    clients: Clients,
}

impl AppAlarms {
    /// Resolves `[alarms]` on the session's target: the caller's account (STS) for the topic
    /// ARN, the EB environment's Auto Scaling group and the App Runner service's id when those
    /// routes are watched (missing ones make their alarms skipped, not errors). Refused when
    /// deploy.toml has no `[alarms]` section. Reads only.
    pub async fn for_session(s: &Session) -> Result<AppAlarms> {
        let t = &s.target;
        let Some(cfg) = &t.alarms else {
            return Err(Error::NoAlarmsSection {
                target: t.name.clone(),
            });
        };
        let me = s.caller().await?;
        let asg = if cfg.routes.contains(&AlarmRoute::Eb) {
            let eb = deploykit_eb::Eb::new(&s.sdk, t.local || t.endpoint_url.is_some());
            eb.autoscaling_groups(&crate::mapping::eb_target(t, None))
                .await?
                .and_then(|groups| groups.into_iter().next())
        } else {
            None
        };
        let service_id = if cfg.routes.contains(&AlarmRoute::AppRunner) {
            let client = aws_sdk_apprunner::Client::new(&s.sdk);
            deploykit_apprunner::find_service(&client, &t.apprunner.service)
                .await?
                .and_then(|v| v.arn.rsplit('/').next().map(str::to_string))
        } else {
            None
        };
        let targets = crate::mapping::alarm_targets(t, &me.account, asg, service_id).ok_or(
            Error::NoAlarmsSection {
                target: t.name.clone(),
            },
        )?;
        Ok(AppAlarms {
            targets,
            clients: Clients::new(&s.sdk),
        })
    }

    /// The alarms, topic and subscription against deploy.toml: drift and the plan. Reads only.
    pub async fn status(&self) -> Result<AlarmsCheck> {
        Ok(deploykit_alarms::status(&self.clients, &self.targets).await?)
    }

    /// Applies only what differs; a second run makes no mutating call.
    pub async fn ensure(&self, r: &dyn Reporter) -> Result<EnsureOutcome> {
        Ok(deploykit_alarms::ensure(&self.clients, &self.targets, r).await?)
    }
}
