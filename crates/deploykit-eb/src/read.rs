//! Reading what exists: the application, its versions and the environment.

use std::collections::BTreeMap;

use deploykit_aws::classify;

use super::Eb;
use crate::error::EbError;
use crate::model::*;

impl Eb {
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
    pub(super) async fn require_env(&self, t: &EbTarget) -> Result<EnvInfo, EbError> {
        self.describe_env(t)
            .await?
            .ok_or_else(|| EbError::NoEnvironment {
                application: t.application.clone(),
                environment: t.environment.clone(),
            })
    }

    /// The environment's Auto Scaling group names (whose AWS/EC2 `CPUUtilization` is the
    /// environment's CPU); `None` when the environment does not exist.
    pub async fn autoscaling_groups(&self, t: &EbTarget) -> Result<Option<Vec<String>>, EbError> {
        let Some(env) = self.describe_env(t).await? else {
            return Ok(None);
        };
        if env.is_gone() {
            return Ok(None);
        }
        let out = self
            .eb
            .describe_environment_resources()
            .environment_name(&t.environment)
            .send()
            .await
            .map_err(|e| {
                EbError::aws("DescribeEnvironmentResources", &t.environment, classify(&e))
            })?;
        Ok(Some(
            out.environment_resources()
                .map(|r| {
                    r.auto_scaling_groups()
                        .iter()
                        .filter_map(|g| g.name().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        ))
    }

    pub(super) async fn describe_env(&self, t: &EbTarget) -> Result<Option<EnvInfo>, EbError> {
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
                endpoint_url: e.endpoint_url().map(str::to_string),
                solution_stack: e.solution_stack_name().map(str::to_string),
                settings: BTreeMap::new(),
            }))
    }
}
