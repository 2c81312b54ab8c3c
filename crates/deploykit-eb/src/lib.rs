//! Elastic Beanstalk deploys: plan, application versions, environments, waits, rollback.
//!
//! Flow: [`Eb::read_state`] -> [`plan::plan`] (pure) -> [`Eb::apply`] -> wait -> (rollback).
//! Invariants:
//! - Nothing mutating is sent before the plan is computed; configuration problems (missing
//!   service role, env var limits, no platform) are errors before any mutating call.
//! - Every step is idempotent: a version label that exists is reused, an object with the same
//!   SHA-256 is not uploaded again, an environment already on our version is only verified.
//! - Never an overlapping update: a busy environment is waited for (bounded) or refused.
//! - Every wait is bounded ([`Timeouts`]) and reports `Event::Waiting`; Elastic Beanstalk
//!   events since our request are relayed as `Event::Remote`.
//! - Success means Ready, Green, our version, and (when configured) HTTP 200 from the app.
//!   Ready with Red health is a failure.
// EbError::DeployFailed carries the failing events and the rollback outcome for the CLI;
// errors are rare and off the hot path, so their size does not matter.
#![allow(clippy::result_large_err)]

mod diagnostic;
pub mod error;
use deploykit_aws::http_check::{self, Scheme};
pub mod model;
pub mod plan;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::types::{
    ApplicationResourceLifecycleConfig, ApplicationVersionLifecycleConfig,
    ConfigurationOptionSetting, EnvironmentHealthAttribute, EventSeverity, MaxCountRule,
    OptionSpecification, S3Location,
};
use aws_smithy_types::DateTime;
use deploykit_aws::{ErrorKind, classify};
use deploykit_report::{Event, Level, Reporter, StepTimer};
use serde::Serialize;

pub use error::{EbError, RollbackOutcome};
pub use model::*;
pub use plan::{EnvStep, Plan, Setting, VersionStep, plan};

/// Clock skew allowed when asking for "events since our request" by the local clock (only
/// when the service's answer carried no time of its own).
const EVENT_SKEW: Duration = Duration::from_secs(5);

/// When our request happened, by the service's clock: the environment's `DateUpdated` in the
/// answer to it (events of our request are stamped at or after it; `StartTime` is inclusive),
/// else our clock less [`EVENT_SKEW`]. Events are stamped by the service's clock, so a laptop
/// clock that runs behind would replay the previous deploy's events (after a failed deploy:
/// its errors, under the rollback) as ours, and one that runs ahead would drop ours.
fn request_time(server: Option<&DateTime>, local: SystemTime) -> SystemTime {
    match server.and_then(|d| SystemTime::try_from(*d).ok()) {
        Some(t) => t,
        None => local.checked_sub(EVENT_SKEW).unwrap_or(local),
    }
}
/// Consecutive failed HTTP checks on a Ready/Green environment before the deploy fails.
const HTTP_FAILURES_ALLOWED: u32 = 5;

/// Elastic Beanstalk (and S3, for bundles) clients for one region.
#[derive(Debug, Clone)]
pub struct Eb {
    pub eb: Client,
    pub s3: aws_sdk_s3::Client,
    pub upload: deploykit_s3::UploadOptions,
}

/// How a deploy behaves when things go wrong.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Redeploy the previous version when the deploy fails.
    pub rollback: bool,
    /// Wait (bounded) for a busy environment instead of refusing.
    pub wait_busy: bool,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            rollback: true,
            wait_busy: true,
        }
    }
}

/// What a successful deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployOutcome {
    pub application: String,
    pub environment: String,
    pub label: String,
    pub version_created: bool,
    /// `None` when the version existed and no upload was needed.
    pub upload: Option<deploykit_s3::UploadSummary>,
    pub environment_created: bool,
    pub environment_updated: bool,
    pub cname: Option<String>,
    pub url: Option<String>,
    pub previous_version: Option<String>,
    /// Time spent in our own code and API calls, outside waits on Elastic Beanstalk.
    #[serde(with = "millis")]
    pub tool_time: Duration,
    /// Time spent waiting for the environment.
    #[serde(with = "millis")]
    pub wait_time: Duration,
}

/// Why a wait did not end in success.
#[derive(Debug)]
enum WaitError {
    Failed { reason: String, events: Vec<String> },
    Timeout { last: String },
    Other(EbError),
}

impl From<EbError> for WaitError {
    fn from(e: EbError) -> Self {
        WaitError::Other(e)
    }
}

impl Eb {
    /// Clients from a shared config. `force_path_style` for loopback S3 endpoints.
    pub fn new(sdk: &aws_types::SdkConfig, force_path_style: bool) -> Self {
        Self {
            eb: Client::new(sdk),
            s3: deploykit_s3::client(sdk, force_path_style),
            upload: deploykit_s3::UploadOptions::default(),
        }
    }

    /// Reads what exists. `solution_stacks` are listed only when the environment is missing.
    pub async fn read_state(&self, t: &EbTarget) -> Result<CurrentState, EbError> {
        let app = &t.application;
        let apps = self
            .eb
            .describe_applications()
            .application_names(app)
            .send()
            .await
            .map_err(|e| EbError::aws("DescribeApplications", app, classify(&e)))?;
        let mut state = CurrentState::default();
        if let Some(a) = apps.applications().first() {
            state.application_exists = true;
            state.lifecycle_max_count = a
                .resource_lifecycle_config()
                .and_then(|c| c.version_lifecycle_config())
                .and_then(|v| v.max_count_rule())
                .filter(|r| r.enabled())
                .and_then(|r| r.max_count())
                .and_then(|n| u32::try_from(n).ok());
            state.versions = self.versions(app).await?;
            state.environment = self.environment(t).await?;
        }
        if state.environment.is_none() && t.solution_stack.is_none() {
            let out = self
                .eb
                .list_available_solution_stacks()
                .send()
                .await
                .map_err(|e| {
                    EbError::aws("ListAvailableSolutionStacks", &t.region, classify(&e))
                })?;
            state.solution_stacks = out.solution_stacks().to_vec();
        }
        Ok(state)
    }

    /// Every version of `app`, newest first.
    pub async fn versions(&self, app: &str) -> Result<Vec<VersionInfo>, EbError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .eb
                .describe_application_versions()
                .application_name(app)
                .max_records(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| EbError::aws("DescribeApplicationVersions", app, classify(&e)))?;
            for v in page.application_versions() {
                out.push(VersionInfo {
                    label: v.version_label().unwrap_or_default().to_string(),
                    description: v.description().map(str::to_string),
                    created: v.date_created().map(|d| d.secs()),
                    status: v.status().map(|s| s.as_str().to_string()),
                    bucket: v
                        .source_bundle()
                        .and_then(|s| s.s3_bucket())
                        .map(str::to_string),
                    key: v
                        .source_bundle()
                        .and_then(|s| s.s3_key())
                        .map(str::to_string),
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(b.label.cmp(&a.label)));
        Ok(out)
    }

    /// The environment with its settings, `None` when missing or terminated.
    pub async fn environment(&self, t: &EbTarget) -> Result<Option<EnvInfo>, EbError> {
        let Some(mut env) = self.describe_env(t).await? else {
            return Ok(None);
        };
        if env.is_gone() {
            return Ok(None);
        }
        let cfg = self
            .eb
            .describe_configuration_settings()
            .application_name(&t.application)
            .environment_name(&t.environment)
            .send()
            .await
            .map_err(|e| {
                EbError::aws(
                    "DescribeConfigurationSettings",
                    &t.environment,
                    classify(&e),
                )
            })?;
        if let Some(c) = cfg.configuration_settings().first() {
            for o in c.option_settings() {
                if let (Some(ns), Some(name)) = (o.namespace(), o.option_name()) {
                    env.settings.insert(
                        (ns.to_string(), name.to_string()),
                        o.value().unwrap_or_default().to_string(),
                    );
                }
            }
        }
        Ok(Some(env))
    }

    /// The target's environment, or [`EbError::NoEnvironment`] when it does not exist.
    async fn require_env(&self, t: &EbTarget) -> Result<EnvInfo, EbError> {
        self.describe_env(t)
            .await?
            .ok_or_else(|| EbError::NoEnvironment {
                application: t.application.clone(),
                environment: t.environment.clone(),
            })
    }

    async fn describe_env(&self, t: &EbTarget) -> Result<Option<EnvInfo>, EbError> {
        let out = self
            .eb
            .describe_environments()
            .application_name(&t.application)
            .environment_names(&t.environment)
            .include_deleted(false)
            .send()
            .await
            .map_err(|e| EbError::aws("DescribeEnvironments", &t.environment, classify(&e)))?;
        Ok(out
            .environments()
            .iter()
            .find(|e| {
                e.environment_name() == Some(t.environment.as_str())
                    && e.status().map(|s| s.as_str()) != Some("Terminated")
            })
            .map(|e| EnvInfo {
                name: t.environment.clone(),
                id: e.environment_id().map(str::to_string),
                status: e
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                health: e
                    .health()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                health_status: e.health_status().map(|s| s.as_str().to_string()),
                version_label: e.version_label().map(str::to_string),
                cname: e.cname().map(str::to_string),
                solution_stack: e.solution_stack_name().map(str::to_string),
                settings: BTreeMap::new(),
            }))
    }

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
            self.wait_deployed(t, &label, request_time, "deploy", reporter)
                .await
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
                let rollback = match (&p.previous_version, opts.rollback) {
                    (_, false) => RollbackOutcome::Disabled,
                    (None, true) => RollbackOutcome::NothingToRollBackTo,
                    (Some(prev), true) if prev == &label => RollbackOutcome::NothingToRollBackTo,
                    (Some(prev), true) => {
                        reporter.report(Event::warn(format!(
                            "deploy of {label} failed ({reason}); rolling back to {prev}"
                        )));
                        match self.roll_to(t, prev, reporter).await {
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
        Ok(DeployOutcome {
            application: t.application.clone(),
            environment: t.environment.clone(),
            url: cname.as_ref().map(|c| format!("http://{c}/")),
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

    async fn set_lifecycle(
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

    async fn storage_bucket(&self, t: &EbTarget) -> Result<String, EbError> {
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
    async fn create_version(
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

    /// Waits (bounded by `timeouts.busy`) until the environment is not busy.
    async fn wait_not_busy(&self, t: &EbTarget, reporter: &dyn Reporter) -> Result<(), EbError> {
        let start = Instant::now();
        loop {
            let env = self.describe_env(t).await?;
            let status = match env {
                Some(e) if e.is_busy() => e.status,
                _ => return Ok(()),
            };
            let waited = start.elapsed();
            if waited >= t.timeouts.busy {
                return Err(EbError::BusyTimeout {
                    environment: t.environment.clone(),
                    status,
                    waited,
                });
            }
            reporter.report(Event::Waiting {
                step: "wait-busy".into(),
                for_what: format!("{} to finish its current {status}", t.environment),
                waited,
                timeout: t.timeouts.busy,
            });
            tokio::time::sleep(t.timeouts.poll).await;
        }
    }

    /// One look: Ready, Green, our version, HTTP 200. Used when nothing was changed.
    async fn verify(&self, t: &EbTarget, label: &str) -> Result<(), WaitError> {
        let env = self.describe_env(t).await?.ok_or_else(|| {
            WaitError::Other(EbError::NoEnvironment {
                application: t.application.clone(),
                environment: t.environment.clone(),
            })
        })?;
        if env.status != "Ready" || env.health != "Green" {
            let causes = self.health_causes(t).await;
            return Err(WaitError::Failed {
                reason: format!("{} with health {}{}", env.status, env.health, causes),
                events: vec![],
            });
        }
        if env.version_label.as_deref() != Some(label) {
            return Err(WaitError::Failed {
                reason: format!(
                    "it runs {}",
                    env.version_label.as_deref().unwrap_or("no version")
                ),
                events: vec![],
            });
        }
        if let (Some(path), Some(cname)) = (&t.health.path, &env.cname) {
            match http_check::get_status(
                Scheme::Http,
                cname,
                path,
                t.health.resolve,
                t.timeouts.http,
            )
            .await
            {
                Ok(200) => {}
                Ok(code) => {
                    return Err(WaitError::Failed {
                        reason: format!("GET http://{cname}{path} answered {code}"),
                        events: vec![],
                    });
                }
                Err(e) => {
                    return Err(WaitError::Failed {
                        reason: e,
                        events: vec![],
                    });
                }
            }
        }
        Ok(())
    }

    async fn health_causes(&self, t: &EbTarget) -> String {
        match self
            .eb
            .describe_environment_health()
            .environment_name(&t.environment)
            .attribute_names(EnvironmentHealthAttribute::All)
            .send()
            .await
        {
            Ok(h) if !h.causes().is_empty() => format!(" ({})", h.causes().join("; ")),
            _ => String::new(),
        }
    }

    /// Polls until the environment runs `label` Ready and Green (and answers HTTP 200 when
    /// configured), relaying events since `since`. Bounded by `timeouts.deploy`.
    async fn wait_deployed(
        &self,
        t: &EbTarget,
        label: &str,
        since: SystemTime,
        step: &str,
        reporter: &dyn Reporter,
    ) -> Result<(), WaitError> {
        let start = Instant::now();
        let since = DateTime::from(since);
        let mut seen: HashSet<(i64, u32, String)> = HashSet::new();
        let mut problems: Vec<String> = Vec::new();
        let mut saw_busy = false;
        let mut polls = 0u32;
        let mut http_failures = 0u32;
        let mut last: String;
        loop {
            polls += 1;
            self.relay_events(t, since, &mut seen, &mut problems, step, reporter)
                .await?;
            let env = self.describe_env(t).await?;
            let Some(env) = env else {
                return Err(WaitError::Failed {
                    reason: format!("environment {} disappeared", t.environment),
                    events: problems,
                });
            };
            last = format!(
                "{} / {} / {}",
                env.status,
                env.health,
                env.version_label.as_deref().unwrap_or("no version")
            );
            if env.is_busy() {
                saw_busy = true;
            } else if env.status == "Ready" {
                let ours = env.version_label.as_deref() == Some(label);
                match env.health.as_str() {
                    "Red" => {
                        let causes = self.health_causes(t).await;
                        // Pick up the events that explain it.
                        self.relay_events(t, since, &mut seen, &mut problems, step, reporter)
                            .await?;
                        return Err(WaitError::Failed {
                            reason: format!("environment is Ready but health is Red{causes}"),
                            events: problems,
                        });
                    }
                    "Green" if ours => {
                        let Some(path) = &t.health.path else {
                            return Ok(());
                        };
                        let cname = env.cname.clone().unwrap_or_default();
                        match http_check::get_status(
                            Scheme::Http,
                            &cname,
                            path,
                            t.health.resolve,
                            t.timeouts.http,
                        )
                        .await
                        {
                            Ok(200) => {
                                reporter.report(Event::info(format!(
                                    "GET http://{cname}{path} answered 200"
                                )));
                                return Ok(());
                            }
                            Ok(code) => {
                                http_failures += 1;
                                last = format!("{last}; GET {path} answered {code}");
                            }
                            Err(e) => {
                                http_failures += 1;
                                last = format!("{last}; {e}");
                            }
                        }
                        if http_failures >= HTTP_FAILURES_ALLOWED {
                            return Err(WaitError::Failed {
                                reason: format!(
                                    "Ready and Green, but the HTTP check failed {http_failures} times: {last}"
                                ),
                                events: problems,
                            });
                        }
                    }
                    _ if !ours && (saw_busy || polls >= 3) => {
                        self.relay_events(t, since, &mut seen, &mut problems, step, reporter)
                            .await?;
                        return Err(WaitError::Failed {
                            reason: format!(
                                "environment is Ready but runs {} instead of {label}",
                                env.version_label.as_deref().unwrap_or("no version")
                            ),
                            events: problems,
                        });
                    }
                    _ => {}
                }
            } else if env.is_gone() {
                return Err(WaitError::Failed {
                    reason: format!("environment is {}", env.status),
                    events: problems,
                });
            }
            let waited = start.elapsed();
            if waited >= t.timeouts.deploy {
                return Err(WaitError::Timeout { last });
            }
            reporter.report(Event::Waiting {
                step: step.to_string(),
                for_what: format!(
                    "{} to run {label} Ready and Green (now {last})",
                    t.environment
                ),
                waited,
                timeout: t.timeouts.deploy,
            });
            tokio::time::sleep(t.timeouts.poll).await;
        }
    }

    async fn relay_events(
        &self,
        t: &EbTarget,
        since: DateTime,
        seen: &mut HashSet<(i64, u32, String)>,
        problems: &mut Vec<String>,
        step: &str,
        reporter: &dyn Reporter,
    ) -> Result<(), EbError> {
        let out = self
            .eb
            .describe_events()
            .application_name(&t.application)
            .environment_name(&t.environment)
            .start_time(since)
            .send()
            .await
            .map_err(|e| EbError::aws("DescribeEvents", &t.environment, classify(&e)))?;
        // Newest first on the wire; relay in order.
        for ev in out.events().iter().rev() {
            let date = ev
                .event_date()
                .map(|d| (d.secs(), d.subsec_nanos()))
                .unwrap_or_default();
            let message = ev.message().unwrap_or_default().to_string();
            if !seen.insert((date.0, date.1, message.clone())) {
                continue;
            }
            let level = match ev.severity() {
                Some(EventSeverity::Error | EventSeverity::Fatal) => Level::Error,
                Some(EventSeverity::Warn) => Level::Warn,
                Some(EventSeverity::Debug | EventSeverity::Trace) => Level::Debug,
                _ => Level::Info,
            };
            if level >= Level::Warn {
                problems.push(message.clone());
            }
            reporter.report(Event::Remote {
                step: step.to_string(),
                source: "elasticbeanstalk".into(),
                level,
                message,
            });
        }
        Ok(())
    }

    /// Sends the environment back to `label` and waits; the error is a sentence for the report.
    async fn roll_to(
        &self,
        t: &EbTarget,
        label: &str,
        reporter: &dyn Reporter,
    ) -> Result<(), String> {
        // Never overlap: the failed update must be finished first.
        self.wait_not_busy(t, reporter)
            .await
            .map_err(|e| e.to_string())?;
        let timer = StepTimer::start(
            reporter,
            "rollback",
            format!("Rolling {} back to {label}", t.environment),
        );
        let local_time = SystemTime::now();
        let out = self
            .eb
            .update_environment()
            .application_name(&t.application)
            .environment_name(&t.environment)
            .version_label(label)
            .send()
            .await
            .map_err(|e| {
                EbError::aws("UpdateEnvironment", &t.environment, classify(&e)).to_string()
            })?;
        let request_time = request_time(out.date_updated(), local_time);
        match self
            .wait_deployed(t, label, request_time, "rollback", reporter)
            .await
        {
            Ok(()) => {
                timer.finish(reporter, format!("{} runs {label} again", t.environment));
                Ok(())
            }
            Err(WaitError::Failed { reason, events }) => Err(if events.is_empty() {
                reason
            } else {
                format!("{reason}; events: {}", events.join(" | "))
            }),
            Err(WaitError::Timeout { last }) => Err(format!(
                "timed out after {}s (last seen: {last})",
                t.timeouts.deploy.as_secs()
            )),
            Err(WaitError::Other(e)) => Err(e.to_string()),
        }
    }

    /// `rollback eb [--to LABEL]`: redeploys `to`, or the newest other version the application
    /// has, and waits for it.
    pub async fn rollback(
        &self,
        t: &EbTarget,
        to: Option<&str>,
        reporter: &dyn Reporter,
    ) -> Result<RollbackSummary, EbError> {
        let started = Instant::now();
        let env = self.require_env(t).await?;
        let current = env.version_label.clone().unwrap_or_default();
        let versions = self.versions(&t.application).await?;
        let target = match to {
            Some(l) => {
                if !versions.iter().any(|v| v.label == l) {
                    return Err(EbError::NoVersion {
                        application: t.application.clone(),
                        label: l.to_string(),
                    });
                }
                l.to_string()
            }
            None => rollback_candidate(&versions, &current).ok_or_else(|| {
                EbError::NoRollbackTarget {
                    environment: t.environment.clone(),
                    current: current.clone(),
                }
            })?,
        };
        if env.is_busy() {
            self.wait_not_busy(t, reporter).await?;
        }
        match self.roll_to(t, &target, reporter).await {
            Ok(()) => Ok(RollbackSummary {
                environment: t.environment.clone(),
                from: current,
                to: target,
                elapsed: started.elapsed(),
            }),
            Err(reason) => Err(EbError::DeployFailed {
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
            .wait_deployed(t, &label, request_time, "env", reporter)
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

/// The version `rollback eb` picks without `--to`: the newest one older than `current`
/// (`versions` is newest first). A newer version than the running one is never picked: after
/// an automatic rollback, the newer one is the broken one.
pub fn rollback_candidate(versions: &[VersionInfo], current: &str) -> Option<String> {
    match versions.iter().position(|v| v.label == current) {
        Some(i) => versions.get(i + 1).map(|v| v.label.clone()),
        None => versions.first().map(|v| v.label.clone()),
    }
}

/// Labels `prune --keep N` deletes: all but the newest `keep`, never `deployed`.
pub fn prune_plan(versions: &[VersionInfo], keep: usize, deployed: Option<&str>) -> Vec<String> {
    versions
        .iter()
        .skip(keep)
        .filter(|v| Some(v.label.as_str()) != deployed)
        .map(|v| v.label.clone())
        .collect()
}

fn to_sdk(settings: &[Setting]) -> Vec<ConfigurationOptionSetting> {
    settings
        .iter()
        .map(|s| {
            ConfigurationOptionSetting::builder()
                .namespace(&s.namespace)
                .option_name(&s.name)
                .value(&s.value)
                .build()
        })
        .collect()
}

fn build_err(e: impl std::fmt::Display) -> deploykit_aws::Classified {
    deploykit_aws::Classified {
        kind: ErrorKind::Validation,
        code: None,
        message: Some(e.to_string()),
        request_id: None,
    }
}

/// What `rollback eb` did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackSummary {
    pub environment: String,
    pub from: String,
    pub to: String,
    #[serde(with = "millis")]
    pub elapsed: Duration,
}

/// `eb status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub environment: EnvInfo,
    pub url: Option<String>,
    pub causes: Vec<String>,
}

/// One event for `eb events`.
#[derive(Debug, Clone, Serialize)]
pub struct EventLine {
    pub time: String,
    pub severity: String,
    pub message: String,
}

/// What `eb prune` did (or would do).
#[derive(Debug, Clone, Serialize)]
pub struct PruneSummary {
    pub deleted: Vec<String>,
    pub kept: usize,
    pub deployed: Option<String>,
    pub dry_run: bool,
}

/// What `eb env set/unset` changed (names only: values may be secret).
#[derive(Debug, Clone, Serialize)]
pub struct EnvChange {
    pub environment: String,
    pub set: Vec<String>,
    pub unset: Vec<String>,
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_clock_wins_over_ours() {
        let ours = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // The service's clock is an hour ahead of ours (or ours an hour behind).
        let theirs = DateTime::from_secs(1_000_000 + 3600);
        assert_eq!(
            request_time(Some(&theirs), ours),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_003_600)
        );
        // Without an answer from the service: our clock, less the allowed skew.
        assert_eq!(request_time(None, ours), ours - EVENT_SKEW);
    }

    fn v(label: &str) -> VersionInfo {
        VersionInfo {
            label: label.into(),
            description: None,
            created: None,
            status: None,
            bucket: None,
            key: None,
        }
    }

    #[test]
    fn prune_never_deletes_the_deployed_version() {
        let vs: Vec<VersionInfo> = ["v5", "v4", "v3", "v2", "v1"].map(v).to_vec();
        let cases: &[(usize, Option<&str>, &[&str])] = &[
            (2, Some("v5"), &["v3", "v2", "v1"]),
            (2, Some("v1"), &["v3", "v2"]),
            (0, Some("v3"), &["v5", "v4", "v2", "v1"]),
            (10, Some("v1"), &[]),
            (4, None, &["v1"]),
        ];
        for (keep, deployed, expect) in cases {
            assert_eq!(
                prune_plan(&vs, *keep, *deployed),
                expect.to_vec(),
                "keep {keep} deployed {deployed:?}"
            );
        }
    }

    #[test]
    fn rollback_picks_the_version_before_the_running_one() {
        let vs: Vec<VersionInfo> = ["v3", "v2", "v1"].map(v).to_vec();
        assert_eq!(rollback_candidate(&vs, "v3").as_deref(), Some("v2"));
        assert_eq!(rollback_candidate(&vs, "v2").as_deref(), Some("v1"));
        assert_eq!(rollback_candidate(&vs, "v1"), None);
        assert_eq!(rollback_candidate(&vs, "gone").as_deref(), Some("v3"));
    }
}
