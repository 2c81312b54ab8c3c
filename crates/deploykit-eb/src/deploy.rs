//! Preparing and applying a plan: lifecycle, storage bucket, application version, environment.

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_elasticbeanstalk::types::{
    ApplicationResourceLifecycleConfig, ApplicationVersionLifecycleConfig, MaxCountRule, S3Location,
};
use deploykit_aws::{ErrorKind, classify};
use deploykit_report::{Event, Reporter, StepTimer};

use super::{
    DeployOptions, DeployOutcome, Eb, RollError, WaitError, build_err, request_time, to_sdk,
};
use crate::error::{EbError, RollbackOutcome};
use crate::model::*;
use crate::plan::{self, EnvStep, Plan, VersionStep};
use crate::rollback::describe_undo;

impl Eb {
    /// Reads the state and plans. Nothing is changed.
    pub async fn prepare(
        &self,
        t: &EbTarget,
        bundle: &BundleRef,
    ) -> Result<(CurrentState, Plan), EbError> {
        // Limits first: a plan that cannot be applied must not cost an API call.
        if let Err(problems) = check_env_limits(&t.env, &t.secrets) {
            return Err(EbError::EnvLimits { problems });
        }
        let state = self.read_state(t).await?;
        let p = plan::plan(&state, t, bundle)?;
        Ok((state, p))
    }

    /// Applies a plan from [`Eb::prepare`]: ensures application, version, environment, waits,
    /// and rolls back on failure (unless disabled).
    pub async fn apply(
        &self,
        t: &EbTarget,
        bundle: &BundleRef,
        mut p: Plan,
        opts: &DeployOptions,
        reporter: &dyn Reporter,
    ) -> Result<DeployOutcome, EbError> {
        let started = Instant::now();
        let mut wait_time = Duration::ZERO;

        if let Some(status) = p.busy.clone() {
            if !opts.wait_busy {
                return Err(EbError::Busy {
                    environment: t.environment.clone(),
                    status,
                });
            }
            let w = Instant::now();
            self.wait_not_busy(t, reporter).await?;
            wait_time += w.elapsed();
            // The world moved on while we waited: plan again against what is there now.
            let state = self.read_state(t).await?;
            p = plan::plan(&state, t, bundle)?;
            reporter.report(Event::info(format!("re-planned after the wait:\n{p}")));
        }

        if p.create_application {
            let timer = StepTimer::start(
                reporter,
                "application",
                format!("Creating application {}", t.application),
            );
            match self
                .eb
                .create_application()
                .application_name(&t.application)
                .description("Managed by deploykit")
                .send()
                .await
            {
                Ok(_) => timer.finish(reporter, "created"),
                Err(e) => {
                    let c = classify(&e);
                    // Created by a concurrent or interrupted run: adopt it.
                    if c.kind != ErrorKind::AlreadyExists
                        && c.code.as_deref() != Some("InvalidParameterValue")
                    {
                        return Err(EbError::aws("CreateApplication", &t.application, c));
                    }
                    timer.finish(reporter, "already exists (adopted)");
                }
            }
        }
        if let Some(keep) = p.set_lifecycle {
            self.set_lifecycle(t, keep, reporter).await?;
        }

        let label = p.version.label().to_string();
        let mut upload = None;
        let mut version_created = false;
        if let VersionStep::Create {
            bucket,
            key,
            description,
            ..
        } = &p.version
        {
            let bucket = match bucket {
                Some(b) => {
                    deploykit_s3::ensure_bucket(&self.s3, b, &t.region, reporter).await?;
                    b.clone()
                }
                None => self.storage_bucket(t).await?,
            };
            upload = Some(
                deploykit_s3::upload(
                    &self.s3,
                    &bundle.path,
                    &bucket,
                    key,
                    &bundle.sha256,
                    &self.upload,
                    reporter,
                )
                .await?,
            );
            version_created = self
                .create_version(t, &label, &bucket, key, description, reporter)
                .await?;
        } else {
            reporter.report(Event::StepSkipped {
                step: "version".into(),
                reason: format!("version {label} exists; nothing to upload"),
            });
        }

        let local_time = SystemTime::now();
        let (created, updated, request_time) = match &p.environment_step {
            EnvStep::Create {
                solution_stack,
                settings,
            } => {
                let timer = StepTimer::start(
                    reporter,
                    "environment",
                    format!(
                        "Creating environment {} ({solution_stack}, single instance)",
                        t.environment
                    ),
                );
                let sent = self
                    .eb
                    .create_environment()
                    .application_name(&t.application)
                    .environment_name(&t.environment)
                    .version_label(&label)
                    .solution_stack_name(solution_stack)
                    .set_option_settings(Some(to_sdk(settings)))
                    .set_tags(crate::tags::sdk_tags(&t.create_tags))
                    .send()
                    .await;
                let (server_time, note) = match sent {
                    Ok(out) => (
                        out.date_updated().or(out.date_created()).copied(),
                        "requested",
                    ),
                    Err(e) => {
                        let c = classify(&e);
                        if !self.ours_in_flight(t, &c).await? {
                            return Err(EbError::aws("CreateEnvironment", &t.environment, c));
                        }
                        (None, "already requested (its answer was lost); adopted")
                    }
                };
                timer.finish(reporter, note);
                (true, false, request_time(server_time.as_ref(), local_time))
            }
            EnvStep::Update {
                version_label,
                settings,
                remove,
            } => {
                let timer = StepTimer::start(
                    reporter,
                    "environment",
                    match version_label {
                        Some(l) => format!("Updating {} to {l}", t.environment),
                        None => format!("Updating {} settings", t.environment),
                    },
                );
                let mut req = self
                    .eb
                    .update_environment()
                    .application_name(&t.application)
                    .environment_name(&t.environment)
                    .set_version_label(version_label.clone());
                if !settings.is_empty() {
                    req = req.set_option_settings(Some(to_sdk(settings)));
                }
                if !remove.is_empty() {
                    req = req.set_options_to_remove(Some(crate::restore::to_sdk_remove(remove)));
                }
                let (server_time, note) = match req.send().await {
                    Ok(out) => (out.date_updated().copied(), "requested"),
                    Err(e) => {
                        let c = classify(&e);
                        if !self.ours_in_flight(t, &c).await? {
                            return Err(EbError::aws("UpdateEnvironment", &t.environment, c));
                        }
                        (None, "already requested (its answer was lost); adopted")
                    }
                };
                timer.finish(reporter, note);
                (false, true, request_time(server_time.as_ref(), local_time))
            }
            EnvStep::Unchanged => (false, false, request_time(None, local_time)),
        };

        let w = Instant::now();
        let changed = created || updated;
        let result = if changed {
            match self
                .wait_deployed(
                    t,
                    &label,
                    request_time,
                    "deploy",
                    t.timeouts.deploy,
                    reporter,
                )
                .await
            {
                // Ready and Green on the settings Elastic Beanstalk reverted is a failure.
                Ok(()) => match &p.environment_step {
                    EnvStep::Update {
                        settings, remove, ..
                    } => self.settings_kept(t, settings, remove, request_time).await,
                    _ => Ok(()),
                },
                Err(e) => Err(e),
            }
        } else {
            self.verify(t, &label).await
        };
        wait_time += w.elapsed();

        let failure = match result {
            Ok(()) => None,
            Err(WaitError::Failed { reason, .. }) if !changed => {
                return Err(EbError::Unhealthy {
                    environment: t.environment.clone(),
                    label,
                    reason,
                });
            }
            Err(WaitError::Other(e)) if !changed => return Err(e),
            Err(other) => Some(other),
        };
        if let Some(failure) = failure {
            // Failed, timed out or lost: go back (version and settings) unless told not to.
            let (reason, events) = match &failure {
                WaitError::Failed { reason, events } => (reason.clone(), events.clone()),
                WaitError::Timeout { last } => (
                    format!(
                        "timed out after {}s waiting for it to run {label} Ready and Green (last seen: {last})",
                        t.timeouts.deploy.as_secs()
                    ),
                    vec![],
                ),
                WaitError::Other(e) => (format!("polling the environment failed: {e}"), vec![]),
            };
            let rollback = self
                .auto_rollback(t, &label, &p, opts, &reason, reporter)
                .await;
            let rolled = !matches!(
                rollback,
                RollbackOutcome::Disabled | RollbackOutcome::NothingToRollBackTo
            );
            return Err(match failure {
                WaitError::Timeout { last } if !rolled => EbError::Timeout {
                    environment: t.environment.clone(),
                    label,
                    waited: t.timeouts.deploy,
                    last,
                },
                WaitError::Other(e) if !rolled => e,
                _ => EbError::DeployFailed {
                    environment: t.environment.clone(),
                    label,
                    reason,
                    events,
                    rollback,
                },
            });
        }

        let env = self.describe_env(t).await?;
        let cname = env.as_ref().and_then(|e| e.cname.clone());
        let total = started.elapsed();
        // Load-balanced with a domain: the app's address is HTTPS on the domain.
        let url = match t.load_balancer.as_ref().and_then(|l| l.domain.as_ref()) {
            Some(d) => Some(format!("https://{d}/")),
            None => cname.as_ref().map(|c| format!("http://{c}/")),
        };
        Ok(DeployOutcome {
            application: t.application.clone(),
            environment: t.environment.clone(),
            url,
            endpoint_url: env.as_ref().and_then(|e| e.endpoint_url.clone()),
            cname,
            label,
            version_created,
            upload,
            environment_created: created,
            environment_updated: updated,
            previous_version: p.previous_version.clone(),
            tool_time: total.saturating_sub(wait_time),
            wait_time,
        })
    }

    /// The automatic rollback after a failed, timed-out or lost deploy of `ours`: the previous
    /// version (when it changed) with the settings the deploy changed as they were
    /// (`plan.undo`), never over someone else's version, bounded by `timeouts.rollback`.
    async fn auto_rollback(
        &self,
        t: &EbTarget,
        ours: &str,
        p: &Plan,
        opts: &DeployOptions,
        reason: &str,
        reporter: &dyn Reporter,
    ) -> RollbackOutcome {
        let version = p.previous_version.clone().filter(|prev| prev != ours);
        let prev = match (&p.previous_version, opts.rollback) {
            (_, false) => return RollbackOutcome::Disabled,
            (None, true) => return RollbackOutcome::NothingToRollBackTo,
            (Some(_), true) if version.is_none() && p.undo.is_empty() => {
                return RollbackOutcome::NothingToRollBackTo;
            }
            (Some(prev), true) => prev,
        };
        reporter.report(Event::warn(format!(
            "deploy of {ours} failed ({reason}); rolling back to {prev} ({})",
            describe_undo(&p.undo)
        )));
        match self
            .restore(
                t,
                Some(ours),
                version.as_deref(),
                prev,
                &p.undo,
                t.timeouts.rollback,
                reporter,
            )
            .await
        {
            Ok(()) => RollbackOutcome::RolledBack { to: prev.clone() },
            Err(RollError::Refused(reason)) => {
                reporter.report(Event::warn(format!("not rolled back: {reason}")));
                RollbackOutcome::Refused { reason }
            }
            Err(RollError::Failed(reason)) => RollbackOutcome::Failed {
                to: prev.clone(),
                reason,
            },
        }
    }

    pub(super) async fn set_lifecycle(
        &self,
        t: &EbTarget,
        keep: u32,
        reporter: &dyn Reporter,
    ) -> Result<(), EbError> {
        let rule = MaxCountRule::builder()
            .enabled(true)
            .max_count(i32::try_from(keep).unwrap_or(i32::MAX))
            .delete_source_from_s3(true)
            .build()
            .map_err(|e| {
                EbError::aws(
                    "UpdateApplicationResourceLifecycle",
                    &t.application,
                    build_err(e),
                )
            })?;
        let cfg = ApplicationResourceLifecycleConfig::builder()
            .set_service_role(t.service_role.clone())
            .version_lifecycle_config(
                ApplicationVersionLifecycleConfig::builder()
                    .max_count_rule(rule)
                    .build(),
            )
            .build();
        self.eb
            .update_application_resource_lifecycle()
            .application_name(&t.application)
            .resource_lifecycle_config(cfg)
            .send()
            .await
            .map_err(|e| {
                EbError::aws(
                    "UpdateApplicationResourceLifecycle",
                    &t.application,
                    classify(&e),
                )
            })?;
        reporter.report(Event::info(format!(
            "version lifecycle of {}: keep the newest {keep} versions",
            t.application
        )));
        Ok(())
    }

    pub(super) async fn storage_bucket(&self, t: &EbTarget) -> Result<String, EbError> {
        let out = self
            .eb
            .create_storage_location()
            .send()
            .await
            .map_err(|e| EbError::aws("CreateStorageLocation", &t.region, classify(&e)))?;
        out.s3_bucket().map(str::to_string).ok_or_else(|| {
            EbError::aws(
                "CreateStorageLocation",
                &t.region,
                deploykit_aws::Classified {
                    kind: ErrorKind::Other,
                    code: None,
                    message: Some("the answer named no bucket".into()),
                    request_id: None,
                },
            )
        })
    }

    /// Creates the version; `false` when it appeared meanwhile (an interrupted or concurrent run).
    pub(super) async fn create_version(
        &self,
        t: &EbTarget,
        label: &str,
        bucket: &str,
        key: &str,
        description: &str,
        reporter: &dyn Reporter,
    ) -> Result<bool, EbError> {
        let timer = StepTimer::start(
            reporter,
            "version",
            format!("Creating application version {label}"),
        );
        let res = self
            .eb
            .create_application_version()
            .application_name(&t.application)
            .version_label(label)
            .description(description)
            .source_bundle(S3Location::builder().s3_bucket(bucket).s3_key(key).build())
            .process(false)
            .send()
            .await;
        match res {
            Ok(_) => {
                timer.finish(reporter, format!("created {label}"));
                Ok(true)
            }
            Err(e) => {
                let c = classify(&e);
                if c.kind == ErrorKind::AlreadyExists
                    || self
                        .versions(&t.application)
                        .await?
                        .iter()
                        .any(|v| v.label == label)
                {
                    timer.finish(reporter, format!("{label} exists (reused)"));
                    return Ok(false);
                }
                Err(EbError::aws("CreateApplicationVersion", label, c))
            }
        }
    }

    /// After a create or update of the environment was refused as a parameter error or a
    /// conflict: whether the environment is already rolling out what we asked, because the SDK
    /// retried a request whose first answer was lost on the way back. It is ours: the plan
    /// found the environment missing or settled, and the deploy locks keep anyone else from
    /// having started something since.
    async fn ours_in_flight(
        &self,
        t: &EbTarget,
        refusal: &deploykit_aws::Classified,
    ) -> Result<bool, EbError> {
        let conflict = refusal.kind == ErrorKind::AlreadyExists
            || refusal.code.as_deref() == Some("InvalidParameterValue");
        if !conflict {
            return Ok(false);
        }
        let Some(env) = self.describe_env(t).await? else {
            return Ok(false);
        };
        if env.is_gone() {
            return Ok(false);
        }
        // Only a rollout under way is ours: a Ready environment that refused the request may
        // have refused it for a real reason (an invalid setting), which must not be masked.
        // (Which version DescribeEnvironments shows during a rollout is not specified.)
        Ok(env.is_busy())
    }
}
