//! Preparing and applying a plan: lifecycle, storage bucket, application version, environment.

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_elasticbeanstalk::types::{
    ApplicationResourceLifecycleConfig, ApplicationVersionLifecycleConfig, MaxCountRule, S3Location,
};
use deploykit_aws::{ErrorKind, classify};
use deploykit_report::{Event, Reporter, StepTimer};

use super::{DeployOptions, DeployOutcome, Eb, WaitError, build_err, request_time, to_sdk};
use crate::error::{EbError, RollbackOutcome};
use crate::model::*;
use crate::plan::{self, EnvStep, Plan, VersionStep};

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
                let out = self
                    .eb
                    .create_environment()
                    .application_name(&t.application)
                    .environment_name(&t.environment)
                    .version_label(&label)
                    .solution_stack_name(solution_stack)
                    .set_option_settings(Some(to_sdk(settings)))
                    .send()
                    .await
                    .map_err(|e| EbError::aws("CreateEnvironment", &t.environment, classify(&e)))?;
                timer.finish(reporter, "requested");
                (
                    true,
                    false,
                    request_time(out.date_updated().or(out.date_created()), local_time),
                )
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
                let out = req
                    .send()
                    .await
                    .map_err(|e| EbError::aws("UpdateEnvironment", &t.environment, classify(&e)))?;
                timer.finish(reporter, "requested");
                (false, true, request_time(out.date_updated(), local_time))
            }
            EnvStep::Unchanged => (false, false, request_time(None, local_time)),
        };

        let w = Instant::now();
        let result = if created || updated {
            match self
                .wait_deployed(t, &label, request_time, "deploy", reporter)
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

        match result {
            Ok(()) => {}
            Err(WaitError::Other(e)) => return Err(e),
            Err(WaitError::Timeout { last }) => {
                return Err(EbError::Timeout {
                    environment: t.environment.clone(),
                    label,
                    waited: t.timeouts.deploy,
                    last,
                });
            }
            Err(WaitError::Failed { reason, events }) if !(created || updated) => {
                let _ = events;
                return Err(EbError::Unhealthy {
                    environment: t.environment.clone(),
                    label,
                    reason,
                });
            }
            Err(WaitError::Failed { reason, events }) => {
                // The previous version (when it changed) and the previous settings go back.
                let version = p.previous_version.clone().filter(|prev| prev != &label);
                let rollback = match (&p.previous_version, opts.rollback) {
                    (_, false) => RollbackOutcome::Disabled,
                    (None, true) => RollbackOutcome::NothingToRollBackTo,
                    (Some(_), true) if version.is_none() && p.undo.is_empty() => {
                        RollbackOutcome::NothingToRollBackTo
                    }
                    (Some(prev), true) => {
                        reporter.report(Event::warn(format!(
                            "deploy of {label} failed ({reason}); rolling back to {prev} and its previous settings"
                        )));
                        match self
                            .restore(t, version.as_deref(), prev, &p.undo, reporter)
                            .await
                        {
                            Ok(()) => RollbackOutcome::RolledBack { to: prev.clone() },
                            Err(e) => RollbackOutcome::Failed {
                                to: prev.clone(),
                                reason: e,
                            },
                        }
                    }
                };
                return Err(EbError::DeployFailed {
                    environment: t.environment.clone(),
                    label,
                    reason,
                    events,
                    rollback,
                });
            }
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
}
