//! Settings updates that roll back: did Elastic Beanstalk keep the new configuration, and
//! putting the previous version and settings back after a failed update.
//!
//! Elastic Beanstalk reverts a configuration deploy that fails in its stack (a certificate the
//! load balancer cannot use, say) by itself: ERROR events, then "The environment was reverted
//! to the previous configuration setting." and the environment ends Ready, often Green, on
//! the old settings. So Ready and Green are not enough after a settings update: the settings
//! must be the ones we sent.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use aws_sdk_elasticbeanstalk::types::OptionSpecification;
use aws_smithy_types::DateTime;
use deploykit_aws::classify;
use deploykit_report::{Event, NullReporter, Reporter, StepTimer};

use super::{Eb, RollError, WaitError, request_time, to_sdk};
use crate::error::EbError;
use crate::lb::SettingsUndo;
use crate::model::*;
use crate::plan::Setting;
use crate::rollback::rollback_allowed;

pub(crate) fn to_sdk_remove(settings: &[Setting]) -> Vec<OptionSpecification> {
    settings
        .iter()
        .map(|s| {
            OptionSpecification::builder()
                .namespace(&s.namespace)
                .option_name(&s.name)
                .build()
        })
        .collect()
}

/// The settings of `sent` / `removed` that the environment's configuration does not hold.
pub(crate) fn not_kept(
    current: &std::collections::BTreeMap<(String, String), String>,
    sent: &[Setting],
    removed: &[Setting],
) -> Vec<String> {
    let mut out = Vec::new();
    for s in sent {
        let now = current.get(&(s.namespace.clone(), s.name.clone()));
        if now != Some(&s.value) {
            out.push(format!(
                "{}:{} is {} instead of {}",
                s.namespace,
                s.name,
                now.map_or("unset".to_string(), |v| Setting::new(
                    &s.namespace,
                    &s.name,
                    v
                )
                .shown()),
                s.shown()
            ));
        }
    }
    for s in removed {
        if current.contains_key(&(s.namespace.clone(), s.name.clone())) {
            out.push(format!("{}:{} is still set", s.namespace, s.name));
        }
    }
    out
}

impl Eb {
    /// After a wait that ended Ready: `Err(Failed)` with the service's error events when the
    /// environment does not hold the settings we sent (Elastic Beanstalk reverted them).
    pub(super) async fn settings_kept(
        &self,
        t: &EbTarget,
        sent: &[Setting],
        removed: &[Setting],
        since: SystemTime,
    ) -> Result<(), WaitError> {
        if sent.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let Some(env) = self.environment(t).await? else {
            return Err(WaitError::Failed {
                reason: format!("environment {} disappeared", t.environment),
                events: vec![],
            });
        };
        let missing = not_kept(&env.settings, sent, removed);
        if missing.is_empty() {
            return Ok(());
        }
        let mut problems = Vec::new();
        self.relay_events(
            t,
            DateTime::from(since),
            &mut HashSet::new(),
            &mut problems,
            "deploy",
            &NullReporter,
        )
        .await?;
        Err(WaitError::Failed {
            reason: format!(
                "Elastic Beanstalk did not keep the new configuration: {}",
                missing.join("; ")
            ),
            events: problems,
        })
    }

    /// Puts `version` (when it changed) and the settings in `undo` back, and waits (bounded
    /// by `deadline`) for the environment to run `label` Ready and Green. Settings the
    /// environment already holds are not sent again (Elastic Beanstalk may have reverted them
    /// itself). With `ours`, first checks the environment runs `ours` or `label`
    /// ([`rollback_allowed`]) and refuses otherwise, sending nothing.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn restore(
        &self,
        t: &EbTarget,
        ours: Option<&str>,
        version: Option<&str>,
        label: &str,
        undo: &SettingsUndo,
        deadline: Duration,
        reporter: &dyn Reporter,
    ) -> Result<(), RollError> {
        let failed = |e: String| RollError::Failed(e);
        // Never overlap: the failed update must be finished first.
        self.wait_not_busy(t, reporter)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let env = self
            .environment(t)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if let Some(ours) = ours {
            rollback_allowed(
                env.as_ref().and_then(|e| e.version_label.as_deref()),
                ours,
                label,
            )
            .map_err(RollError::Refused)?;
        }
        let current = env.map(|e| e.settings).unwrap_or_default();
        let restore: Vec<Setting> = undo
            .restore
            .iter()
            .filter(|s| current.get(&(s.namespace.clone(), s.name.clone())) != Some(&s.value))
            .cloned()
            .collect();
        let remove: Vec<Setting> = undo
            .remove
            .iter()
            .filter(|s| current.contains_key(&(s.namespace.clone(), s.name.clone())))
            .cloned()
            .collect();
        if version.is_none() && restore.is_empty() && remove.is_empty() {
            reporter.report(Event::info(format!(
                "{} already holds its previous configuration (Elastic Beanstalk reverted it)",
                t.environment
            )));
            return self.verify(t, label).await.map_err(|e| {
                failed(match e {
                    WaitError::Failed { reason, .. } => reason,
                    WaitError::Timeout { last } => last,
                    WaitError::Other(e) => e.to_string(),
                })
            });
        }
        let timer = StepTimer::start(
            reporter,
            "rollback",
            format!(
                "Rolling {} back to {label} ({} setting(s) restored, {} removed)",
                t.environment,
                restore.len(),
                remove.len()
            ),
        );
        let local_time = SystemTime::now();
        let mut req = self
            .eb
            .update_environment()
            .application_name(&t.application)
            .environment_name(&t.environment)
            .set_version_label(version.map(str::to_string));
        if !restore.is_empty() {
            req = req.set_option_settings(Some(to_sdk(&restore)));
        }
        if !remove.is_empty() {
            req = req.set_options_to_remove(Some(to_sdk_remove(&remove)));
        }
        let out = req.send().await.map_err(|e| {
            failed(EbError::aws("UpdateEnvironment", &t.environment, classify(&e)).to_string())
        })?;
        let since = request_time(out.date_updated(), local_time);
        let waited = match self
            .wait_deployed(t, label, since, "rollback", deadline, reporter)
            .await
        {
            Ok(()) => self.settings_kept(t, &restore, &remove, since).await,
            Err(e) => Err(e),
        };
        match waited {
            Ok(()) => {
                timer.finish(
                    reporter,
                    format!("{} runs {label} with its previous settings", t.environment),
                );
                Ok(())
            }
            Err(WaitError::Failed { reason, events }) => Err(failed(if events.is_empty() {
                reason
            } else {
                format!("{reason}; events: {}", events.join(" | "))
            })),
            Err(WaitError::Timeout { last }) => Err(failed(format!(
                "timed out after {}s (last seen: {last})",
                deadline.as_secs()
            ))),
            Err(WaitError::Other(e)) => Err(failed(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_kept_names_reverted_and_leftover_settings() {
        let cur: std::collections::BTreeMap<(String, String), String> = [
            (
                (NS_ENVIRONMENT.to_string(), "EnvironmentType".to_string()),
                "SingleInstance".to_string(),
            ),
            (
                (NS_LISTENER_443.to_string(), "Protocol".to_string()),
                "HTTPS".to_string(),
            ),
        ]
        .into();
        let sent = [
            Setting::new(NS_ENVIRONMENT, "EnvironmentType", "LoadBalanced"),
            Setting::new(NS_ASG, "MinSize", "2"),
        ];
        let got = not_kept(
            &cur,
            &sent,
            &[Setting::new(NS_LISTENER_443, "Protocol", "")],
        );
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0].contains("SingleInstance instead of LoadBalanced"),
            "{got:?}"
        );
        assert!(got[1].contains("unset"), "{got:?}");
        assert!(got[2].contains("still set"), "{got:?}");
        assert!(not_kept(&cur, &sent[..0], &[]).is_empty());
    }
}
