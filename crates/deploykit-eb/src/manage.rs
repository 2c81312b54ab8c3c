//! After a deploy: rollback, status, events, pruning versions and environment variable changes.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use aws_sdk_elasticbeanstalk::types::{EnvironmentHealthAttribute, OptionSpecification};
use aws_smithy_types::DateTime;
use deploykit_aws::classify;
use deploykit_report::{Event, Reporter};

use super::{
    DeployOptions, Eb, EnvChange, EventLine, PruneSummary, RollError, RollbackSummary,
    StatusReport, WaitError, prune_plan, request_time, rollback_candidate, to_sdk,
};
use crate::error::{EbError, RollbackOutcome};
use crate::lb::SettingsUndo;
use crate::model::*;
use crate::plan;
use crate::rollback::{Resume, describe_undo, rollback_allowed};

impl Eb {
    /// `rollback eb [--to LABEL]`: redeploys `to`, or the newest other version the application
    /// has, and waits for it. With `resume` (an interrupted deploy's journal) and the
    /// environment still on that deploy's version or its previous one, the previous version
    /// goes back with the settings the deploy changed as they were; a stale record (someone
    /// deployed since) is reported and ignored.
    pub async fn rollback(
        &self,
        t: &EbTarget,
        to: Option<&str>,
        resume: Option<&Resume>,
        reporter: &dyn Reporter,
    ) -> Result<RollbackSummary, EbError> {
        let started = Instant::now();
        let env = self.require_env(t).await?;
        let current = env.version_label.clone().unwrap_or_default();
        let versions = self.versions(&t.application).await?;
        let resume = resume.filter(|r| {
            let fits = to.is_none_or(|l| l == r.previous);
            match rollback_allowed(env.version_label.as_deref(), &r.deploying, &r.previous) {
                Ok(()) if fits => true,
                Ok(()) => false,
                Err(why) => {
                    reporter.report(Event::warn(format!(
                        "the interrupted deploy of {} is not resumed: {why}",
                        r.deploying
                    )));
                    false
                }
            }
        });
        let target = match (to, resume) {
            (_, Some(r)) => r.previous.clone(),
            (Some(l), None) => {
                if !versions.iter().any(|v| v.label == l) {
                    return Err(EbError::NoVersion {
                        application: t.application.clone(),
                        label: l.to_string(),
                    });
                }
                l.to_string()
            }
            (None, None) => rollback_candidate(&versions, &current).ok_or_else(|| {
                EbError::NoRollbackTarget {
                    environment: t.environment.clone(),
                    current: current.clone(),
                }
            })?,
        };
        let undo: SettingsUndo = resume.map(|r| r.restore.clone()).unwrap_or_default();
        let ours = resume.map(|r| r.deploying.as_str());
        if env.is_busy() {
            self.wait_not_busy(t, reporter).await?;
        }
        match self
            .restore(
                t,
                ours,
                Some(&target),
                &target,
                &undo,
                t.timeouts.deploy,
                reporter,
            )
            .await
        {
            Ok(()) => Ok(RollbackSummary {
                environment: t.environment.clone(),
                from: current,
                to: target,
                restored: describe_undo(&undo),
                elapsed: started.elapsed(),
            }),
            Err(RollError::Refused(reason)) => Err(EbError::DeployFailed {
                environment: t.environment.clone(),
                label: target,
                reason: "the environment changed hands".into(),
                events: vec![],
                rollback: RollbackOutcome::Refused { reason },
            }),
            Err(RollError::Failed(reason)) => Err(EbError::DeployFailed {
                environment: t.environment.clone(),
                label: target.clone(),
                reason: "the rollback did not become healthy".into(),
                events: vec![],
                rollback: RollbackOutcome::Failed { to: target, reason },
            }),
        }
    }

    /// `eb status`.
    pub async fn status(&self, t: &EbTarget) -> Result<StatusReport, EbError> {
        let env = self.require_env(t).await?;
        let causes = match self
            .eb
            .describe_environment_health()
            .environment_name(&t.environment)
            .attribute_names(EnvironmentHealthAttribute::All)
            .send()
            .await
        {
            Ok(h) => h.causes().to_vec(),
            Err(_) => vec![],
        };
        Ok(StatusReport {
            url: env.cname.as_ref().map(|c| format!("http://{c}/")),
            environment: env,
            causes,
        })
    }

    /// Recent events (newest last), optionally only those after `since`.
    pub async fn events(
        &self,
        t: &EbTarget,
        since: Option<SystemTime>,
        max: i32,
    ) -> Result<Vec<EventLine>, EbError> {
        let out = self
            .eb
            .describe_events()
            .application_name(&t.application)
            .environment_name(&t.environment)
            .set_start_time(since.map(DateTime::from))
            .max_records(max)
            .send()
            .await
            .map_err(|e| EbError::aws("DescribeEvents", &t.environment, classify(&e)))?;
        Ok(out
            .events()
            .iter()
            .rev()
            .map(|e| EventLine {
                time: e
                    .event_date()
                    .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_default(),
                severity: e
                    .severity()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect())
    }

    /// `eb prune --keep N`: deletes the oldest versions beyond `keep`, never the deployed one.
    pub async fn prune(
        &self,
        t: &EbTarget,
        keep: usize,
        dry_run: bool,
        reporter: &dyn Reporter,
    ) -> Result<PruneSummary, EbError> {
        let versions = self.versions(&t.application).await?;
        let deployed = self.describe_env(t).await?.and_then(|e| e.version_label);
        let doomed = prune_plan(&versions, keep, deployed.as_deref());
        if !dry_run {
            for label in &doomed {
                self.eb
                    .delete_application_version()
                    .application_name(&t.application)
                    .version_label(label)
                    .delete_source_bundle(true)
                    .send()
                    .await
                    .map_err(|e| EbError::aws("DeleteApplicationVersion", label, classify(&e)))?;
                reporter.report(Event::info(format!("deleted version {label}")));
            }
        }
        Ok(PruneSummary {
            kept: versions.len() - doomed.len(),
            deleted: doomed,
            deployed,
            dry_run,
        })
    }

    /// `eb env set` / `eb env unset`: limits checked before any call, only changes sent,
    /// then waits for the environment to be Ready and Green again.
    pub async fn env_change(
        &self,
        t: &EbTarget,
        set: &BTreeMap<String, String>,
        unset: &[String],
        opts: &DeployOptions,
        reporter: &dyn Reporter,
    ) -> Result<EnvChange, EbError> {
        if let Err(problems) = check_env_limits(set, &BTreeMap::new()) {
            return Err(EbError::EnvLimits { problems });
        }
        let env = self
            .environment(t)
            .await?
            .ok_or_else(|| EbError::NoEnvironment {
                application: t.application.clone(),
                environment: t.environment.clone(),
            })?;
        let mut merged = env.env_vars();
        for k in unset {
            merged.remove(k);
        }
        merged.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Err(problems) = check_env_limits(&merged, &env.secrets()) {
            return Err(EbError::EnvLimits { problems });
        }
        let changes = plan::env_set_changes(&env.env_vars(), set);
        let removals: Vec<String> = unset
            .iter()
            .filter(|k| env.env_vars().contains_key(*k))
            .cloned()
            .collect();
        let summary = EnvChange {
            environment: t.environment.clone(),
            set: changes.iter().map(|s| s.name.clone()).collect(),
            unset: removals.clone(),
        };
        if changes.is_empty() && removals.is_empty() {
            reporter.report(Event::StepSkipped {
                step: "env".into(),
                reason: "the environment already has these values".into(),
            });
            return Ok(summary);
        }
        if env.is_busy() {
            if !opts.wait_busy {
                return Err(EbError::Busy {
                    environment: t.environment.clone(),
                    status: env.status,
                });
            }
            self.wait_not_busy(t, reporter).await?;
        }
        let local_time = SystemTime::now();
        let out = self
            .eb
            .update_environment()
            .application_name(&t.application)
            .environment_name(&t.environment)
            .set_option_settings(Some(to_sdk(&changes)))
            .set_options_to_remove(Some(
                removals
                    .iter()
                    .map(|k| {
                        OptionSpecification::builder()
                            .namespace(NS_ENV)
                            .option_name(k)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| EbError::aws("UpdateEnvironment", &t.environment, classify(&e)))?;
        let request_time = request_time(out.date_updated(), local_time);
        let label = env.version_label.clone().unwrap_or_default();
        match self
            .wait_deployed(t, &label, request_time, "env", t.timeouts.deploy, reporter)
            .await
        {
            Ok(()) => Ok(summary),
            Err(WaitError::Other(e)) => Err(e),
            Err(WaitError::Timeout { last }) => Err(EbError::Timeout {
                environment: t.environment.clone(),
                label,
                waited: t.timeouts.deploy,
                last,
            }),
            Err(WaitError::Failed { reason, events }) => Err(EbError::DeployFailed {
                environment: t.environment.clone(),
                label,
                reason: format!("after changing environment variables: {reason}"),
                events,
                rollback: RollbackOutcome::Disabled,
            }),
        }
    }
}
