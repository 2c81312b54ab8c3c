//! Environments: create, update, describe, terminate, events, health, settings and platforms.

use std::time::Instant;

use time::OffsetDateTime;

use super::steps::{
    Outcome, config_steps, deploy_outcome, deploy_steps, launch_steps, terminate_steps,
};
use super::validate::{
    cname, default_options, env_id, merge_options, parse_options, validate_cname_prefix,
    validate_env_name, validate_options,
};
use super::{find_env, invalid_state, not_found_env, page};
use crate::eb::bundle::Verdict;
use crate::eb::instance::{DeployJob, Kind};
use crate::eb::params::{ApiError, ApiResult, Params};
use crate::eb::platforms::{self, Platform};
use crate::eb::render;
use crate::eb::state::{Env, EnvStatus, HealthStatus, Severity};
use crate::eb::{Call, Eb};
use crate::xml::Xml;

impl Eb {
    pub(super) fn resolve_platform(&self, p: &Params) -> ApiResult<Option<Platform>> {
        match (p.get("SolutionStackName"), p.get("PlatformArn")) {
            (Some(_), Some(_)) => Err(ApiError::combination(
                "You cannot specify both a solution stack name and a platform ARN.",
            )),
            (Some(s), None) => platforms::find(Some(s), None)
                .map(Some)
                .ok_or_else(|| ApiError::invalid(format!("No Solution Stack named '{s}' found."))),
            (None, Some(a)) => platforms::find(None, Some(a))
                .map(Some)
                .ok_or_else(|| ApiError::invalid(format!("No Platform named '{a}' found."))),
            (None, None) => Ok(None),
        }
    }

    pub(in crate::eb) fn create_environment(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let app_name = c.p.req("ApplicationName")?;
        let name = c.p.req("EnvironmentName")?;
        validate_env_name(name)?;
        let prefix = c.p.get("CNAMEPrefix").unwrap_or(name);
        validate_cname_prefix(prefix)?;
        let create_tags = super::super::tags::parse_tags(&c.p, "Tags")?;
        if let Some(t) = c.p.get("TemplateName") {
            return Err(ApiError::invalid(format!(
                "No Configuration Template named '{app_name}/{t}' found."
            )));
        }
        let platform = self.resolve_platform(&c.p)?.ok_or_else(|| {
            ApiError::combination("You must specify a solution stack name, a platform ARN or a configuration template.")
        })?;
        let tier = match c.p.get("Tier.Name").unwrap_or("WebServer") {
            "WebServer" => ("WebServer", "Standard"),
            "Worker" => ("Worker", "SQS/HTTP"),
            other => {
                return Err(ApiError::invalid(format!(
                    "Invalid environment tier: {other}."
                )));
            }
        };
        let mut options = default_options(&platform);
        merge_options(
            &mut options,
            parse_options(&c.p, "OptionSettings", true)?,
            &parse_options(&c.p, "OptionsToRemove", false)?,
        );
        validate_options(&options)?;
        let version = c.p.get("VersionLabel").map(str::to_string);
        let description = c.p.get("Description").map(str::to_string);
        let fqdn = cname(prefix, c.region);
        let now = self.now();
        let clock = self.ctx.clock.clone();
        let faults = self.ctx.faults.clone();
        let account = self.account().to_string();
        let endpoint = self.endpoint();
        let mut job = None;
        let out = self.with_region(c.region, |r| {
            let app = r.apps.get(app_name).ok_or_else(|| {
                ApiError::invalid(format!("No Application named '{app_name}' found."))
            })?;
            let source = version.as_ref().and_then(|l| {
                app.versions
                    .iter()
                    .find(|v| &v.label == l)
                    .map(|v| (v.bucket.clone(), v.key.clone()))
            });
            let verdict = match &version {
                Some(label) => app
                    .versions
                    .iter()
                    .find(|v| &v.label == label)
                    .map(|v| v.verdict.clone())
                    .ok_or_else(|| {
                        ApiError::invalid(format!("No Application Version named '{label}' found."))
                    })?,
                None => Verdict::Runs,
            };
            if r.live_env(name).is_some() {
                return Err(ApiError::invalid(format!(
                    "Environment {name} already exists."
                )));
            }
            if r.envs
                .iter()
                .any(|e| e.cname == fqdn && e.status != EnvStatus::Terminated)
            {
                return Err(ApiError::invalid(format!(
                    "DNS name ({fqdn}) is not available."
                )));
            }
            let real = self.instances.is_some() && source.is_some();
            let outcome = if real {
                Outcome::Real
            } else {
                deploy_outcome(&faults, name, &verdict)
            };
            let mut env = Env {
                id: env_id(),
                name: name.to_string(),
                app: app_name.to_string(),
                description,
                version,
                platform,
                cname: fqdn,
                tier,
                created: now,
                updated: now,
                status: EnvStatus::Launching,
                health: HealthStatus::Pending,
                causes: Vec::new(),
                options,
                timeline: Default::default(),
                terminated_at: None,
                refreshed: now,
                tags: create_tags.clone(),
            };
            let steps = launch_steps(&env, c.region, &account, &outcome, c.request_id);
            env.schedule(&clock, steps);
            if let (true, Some((bucket, key)), Some(label)) = (real, source, env.version.clone()) {
                job = Some(deploy_job(&env, c, Kind::Launch, label, bucket, key));
            }
            let mut x = Xml::new();
            render::env_fields(&mut x, &env, c.region, &account, &endpoint);
            r.envs.push(env);
            r.tick(Instant::now(), self.now());
            Ok(Some(x.finish()))
        });
        self.spawn_deploy(job);
        out
    }

    /// Hands a deploy to the real instances (no-op when workloads are simulated).
    pub(super) fn spawn_deploy(&self, job: Option<DeployJob>) {
        if let (Some(job), Some(instances)) = (job, &self.instances) {
            instances.spawn_deploy(job, self.regions.clone(), self.ctx.clock.clone());
        }
    }

    /// Stops a terminated environment's instance and removes its route.
    pub(super) fn stop_instance(&self, env: &Env) {
        if let Some(instances) = &self.instances {
            instances.terminate(&env.id, &env.cname);
        }
    }

    pub(in crate::eb) fn update_environment(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let label = c.p.get("VersionLabel").map(str::to_string);
        if let Some(t) = c.p.get("TemplateName") {
            return Err(ApiError::invalid(format!(
                "No Configuration Template named '{t}' found."
            )));
        }
        let platform = self.resolve_platform(&c.p)?;
        let set = parse_options(&c.p, "OptionSettings", true)?;
        let remove = parse_options(&c.p, "OptionsToRemove", false)?;
        let description = c.p.get("Description").map(str::to_string);
        let now = self.now();
        let clock = self.ctx.clock.clone();
        let faults = self.ctx.faults.clone();
        let account = self.account().to_string();
        let endpoint = self.endpoint();
        let mut job = None;
        let out = self.with_region(c.region, |r| {
            let idx = find_env(r, &c.p)?;
            let env = &r.envs[idx];
            let source_of = |l: &String| {
                r.apps
                    .get(&env.app)
                    .and_then(|a| a.versions.iter().find(|v| &v.label == l))
                    .map(|v| (v.bucket.clone(), v.key.clone()))
            };
            let source = label.as_ref().and_then(source_of);
            // A configuration deploy restarts the running version with the new settings.
            let running = env
                .version
                .clone()
                .and_then(|l| source_of(&l).map(|s| (l, s)));
            if let Some(app) = c.p.get("ApplicationName")
                && app != env.app
            {
                return Err(not_found_env(&c.p));
            }
            if env.status != EnvStatus::Ready {
                return Err(invalid_state(&env.name));
            }
            let verdict = match &label {
                Some(l) => Some(
                    r.apps
                        .get(&env.app)
                        .and_then(|a| a.versions.iter().find(|v| &v.label == l))
                        .map(|v| v.verdict.clone())
                        .ok_or_else(|| {
                            ApiError::invalid(format!("No Application Version named '{l}' found."))
                        })?,
                ),
                None => None,
            };
            let mut options = env.options.clone();
            merge_options(&mut options, set.clone(), &remove);
            validate_options(&options)?;
            let config_change = !set.is_empty() || !remove.is_empty() || platform.is_some();

            let env = &mut r.envs[idx];
            if let Some(d) = description {
                env.description = Some(d);
                env.updated = now;
            }
            env.options = options;
            if let Some(p) = platform {
                env.platform = p;
            }
            let steps = match (&label, verdict) {
                (Some(l), Some(_)) if self.instances.is_some() && source.is_some() => {
                    if let Some((bucket, key)) = source {
                        job = Some(deploy_job(env, c, Kind::Update, l.clone(), bucket, key));
                    }
                    Some(deploy_steps(env, l, &Outcome::Real, c.request_id))
                }
                (Some(l), Some(verdict)) => {
                    let outcome = deploy_outcome(&faults, &env.name, &verdict);
                    Some(deploy_steps(env, l, &outcome, c.request_id))
                }
                _ if config_change && self.instances.is_some() && running.is_some() => {
                    if let Some((l, (bucket, key))) = running {
                        job = Some(deploy_job(env, c, Kind::Config, l, bucket, key));
                    }
                    Some(crate::eb::instance::config_prefix_steps(env, c.request_id))
                }
                _ if config_change => Some(config_steps(env, c.request_id)),
                _ => None,
            };
            if let Some(steps) = steps {
                env.status = EnvStatus::Updating;
                env.updated = now;
                env.schedule(&clock, steps);
            }
            let mut x = Xml::new();
            render::env_fields(&mut x, env, c.region, &account, &endpoint);
            r.tick(Instant::now(), self.now());
            Ok(Some(x.finish()))
        });
        self.spawn_deploy(job);
        out
    }

    pub(in crate::eb) fn describe_environments(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let app = c.p.get("ApplicationName");
        let version = c.p.get("VersionLabel");
        let ids = c.p.list("EnvironmentIds");
        let names = c.p.list("EnvironmentNames");
        let include_deleted = c.p.bool("IncludeDeleted")?.unwrap_or(true);
        let back_to = c.p.time("IncludedDeletedBackTo")?;
        self.with_region(c.region, |r| {
            let envs: Vec<&Env> = r
                .envs
                .iter()
                .filter(|e| app.is_none_or(|a| a == e.app))
                .filter(|e| version.is_none_or(|v| Some(v) == e.version.as_deref()))
                .filter(|e| ids.is_empty() || ids.contains(&e.id))
                .filter(|e| names.is_empty() || names.contains(&e.name))
                .filter(|e| match e.terminated_at {
                    None => true,
                    Some(t) => include_deleted && back_to.is_none_or(|b| t >= b),
                })
                .collect();
            let (envs, next) = page(envs, &c.p, 1000)?;
            let mut x = Xml::new();
            x.open("Environments");
            for e in envs {
                render::env(
                    &mut x,
                    "member",
                    e,
                    c.region,
                    self.account(),
                    &self.endpoint(),
                );
            }
            x.close("Environments").opt("NextToken", next);
            Ok(Some(x.finish()))
        })
    }

    pub(in crate::eb) fn terminate_environment(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let clock = self.ctx.clock.clone();
        let account = self.account().to_string();
        let endpoint = self.endpoint();
        self.with_region(c.region, |r| {
            let idx = find_env(r, &c.p)?;
            let env = &mut r.envs[idx];
            if env.status == EnvStatus::Terminating {
                return Err(invalid_state(&env.name));
            }
            env.timeline.clear();
            let steps = terminate_steps(env, c.request_id);
            env.status = EnvStatus::Terminating;
            env.schedule(&clock, steps);
            self.stop_instance(env);
            let mut x = Xml::new();
            render::env_fields(&mut x, env, c.region, &account, &endpoint);
            r.tick(Instant::now(), self.now());
            Ok(Some(x.finish()))
        })
    }

    pub(in crate::eb) fn describe_events(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let app = c.p.get("ApplicationName");
        let version = c.p.get("VersionLabel");
        let env_name = c.p.get("EnvironmentName");
        let env_id = c.p.get("EnvironmentId");
        let request_id = c.p.get("RequestId");
        let severity = match c.p.get("Severity") {
            None => None,
            Some(s) => Some(Severity::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Value {s} at 'Severity' failed to satisfy constraint: Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]"
                ))
            })?),
        };
        let start = c.p.time("StartTime")?;
        let end = c.p.time("EndTime")?;
        self.with_region(c.region, |r| {
            // An id names one environment (terminated ones included); events carry names.
            let id_name = env_id.map(|id| {
                r.envs
                    .iter()
                    .find(|e| e.id == id)
                    .map(|e| e.name.clone())
                    .unwrap_or_default()
            });
            let events: Vec<_> = r
                .events
                .iter()
                .rev()
                .filter(|e| app.is_none_or(|a| a == e.application))
                .filter(|e| version.is_none_or(|v| Some(v) == e.version.as_deref()))
                .filter(|e| env_name.is_none_or(|n| Some(n) == e.environment.as_deref()))
                .filter(|e| {
                    id_name
                        .as_deref()
                        .is_none_or(|n| Some(n) == e.environment.as_deref())
                })
                .filter(|e| request_id.is_none_or(|id| id == e.request_id))
                .filter(|e| severity.is_none_or(|s| e.severity >= s))
                .filter(|e| start.is_none_or(|t| e.date >= t))
                .filter(|e| end.is_none_or(|t| e.date < t))
                .collect();
            let (events, next) = page(events, &c.p, 1000)?;
            let mut x = Xml::new();
            x.open("Events");
            for e in events {
                render::event(&mut x, "member", e);
            }
            x.close("Events").opt("NextToken", next);
            Ok(Some(x.finish()))
        })
    }

    pub(in crate::eb) fn describe_environment_health(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let attrs = c.p.list("AttributeNames");
        const KNOWN: &[&str] = &[
            "Status",
            "Color",
            "Causes",
            "ApplicationMetrics",
            "InstancesHealth",
            "All",
            "HealthStatus",
            "RefreshedAt",
        ];
        if let Some(bad) = attrs.iter().find(|a| !KNOWN.contains(&a.as_str())) {
            return Err(ApiError::invalid(format!(
                "Value {bad} at 'AttributeNames' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                KNOWN.join(", ")
            )));
        }
        let want = |a: &str| attrs.iter().any(|x| x == a || x == "All");
        self.with_region(c.region, |r| {
            let idx = find_env(r, &c.p)
                .map_err(|e| ApiError::new("InvalidRequestException", e.message))?;
            let e = &r.envs[idx];
            let mut x = Xml::new();
            x.leaf("EnvironmentName", &e.name);
            if want("HealthStatus") {
                x.leaf("HealthStatus", e.health.as_str());
            }
            if want("Status") {
                x.leaf("Status", e.status.as_str());
            }
            if want("Color") {
                x.leaf("Color", e.color());
            }
            if want("Causes") {
                x.members("Causes", &e.causes);
            }
            if want("ApplicationMetrics") {
                x.open("ApplicationMetrics")
                    .leaf("Duration", "10")
                    .leaf("RequestCount", "0")
                    .close("ApplicationMetrics");
            }
            if want("InstancesHealth") {
                let running = !matches!(e.status, EnvStatus::Launching | EnvStatus::Terminated);
                x.open("InstancesHealth");
                for h in [
                    HealthStatus::NoData,
                    HealthStatus::Unknown,
                    HealthStatus::Pending,
                    HealthStatus::Ok,
                    HealthStatus::Info,
                    HealthStatus::Warning,
                    HealthStatus::Degraded,
                    HealthStatus::Severe,
                ] {
                    let n = u32::from(
                        (running && h == e.health)
                            || (e.status == EnvStatus::Launching && h == HealthStatus::Pending),
                    );
                    x.leaf(h.as_str(), n.to_string());
                }
                x.close("InstancesHealth");
            }
            if want("RefreshedAt") {
                x.leaf("RefreshedAt", render::ts(e.refreshed));
            }
            Ok(Some(x.finish()))
        })
    }

    pub(in crate::eb) fn describe_configuration_settings(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let app = c.p.req("ApplicationName")?;
        if let Some(t) = c.p.get("TemplateName") {
            return Err(ApiError::invalid(format!(
                "No Configuration Template named '{app}/{t}' found."
            )));
        }
        let name = c.p.req("EnvironmentName")?;
        self.with_region(c.region, |r| {
            let e = r
                .live_env(name)
                .map(|i| &r.envs[i])
                .filter(|e| e.app == app)
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "No Environment found for EnvironmentName = '{name}'."
                    ))
                })?;
            let mut x = Xml::new();
            x.open("ConfigurationSettings")
                .open("member")
                .leaf("SolutionStackName", e.platform.solution_stack())
                .leaf("PlatformArn", e.platform.arn(c.region))
                .leaf("ApplicationName", &e.app)
                .opt("Description", e.description.as_deref())
                .leaf("EnvironmentName", &e.name)
                .leaf("DeploymentStatus", "deployed")
                .leaf("DateCreated", render::ts(e.created))
                .leaf("DateUpdated", render::ts(e.updated));
            // Not in the public API model, but the service returns it and the EB CLI's own
            // model (and its `eb health` screen) reads it.
            render::tier(&mut x, e);
            render::option_settings(&mut x, &e.options);
            x.close("member").close("ConfigurationSettings");
            Ok(Some(x.finish()))
        })
    }

    pub(in crate::eb) fn list_platform_versions(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let filters: Vec<(String, String, Vec<String>)> =
            c.p.structs("Filters")
                .into_iter()
                .map(|m| {
                    let mut values: Vec<(u32, String)> = m
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.strip_prefix("Values.member.")?.parse().ok()?, v.clone()))
                        })
                        .collect();
                    values.sort();
                    (
                        m.get("Type").cloned().unwrap_or_default(),
                        m.get("Operator")
                            .cloned()
                            .unwrap_or_else(|| "=".to_string()),
                        values.into_iter().map(|(_, v)| v).collect(),
                    )
                })
                .collect();
        let mut out = Vec::new();
        for p in platforms::all() {
            let mut keep = true;
            for (kind, op, values) in &filters {
                keep &= platforms::matches(&p, kind, op, values).map_err(ApiError::invalid)?;
            }
            if keep {
                out.push(p);
            }
        }
        let (out, next) = page(out, &c.p, 100)?;
        let mut x = Xml::new();
        x.open("PlatformSummaryList");
        for p in &out {
            render::platform_summary(&mut x, p, c.region);
        }
        x.close("PlatformSummaryList").opt("NextToken", next);
        Ok(Some(x.finish()))
    }

    pub(in crate::eb) fn describe_platform_version(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let arn = c.p.req("PlatformArn")?;
        let p = platforms::find(None, Some(arn))
            .ok_or_else(|| ApiError::invalid(format!("No Platform named '{arn}' found.")))?;
        let created = OffsetDateTime::from_unix_timestamp(1_760_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut x = Xml::new();
        render::platform_description(&mut x, &p, c.region, created);
        Ok(Some(x.finish()))
    }

    pub(in crate::eb) fn list_available_solution_stacks(
        &self,
        _c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let all = platforms::all();
        let mut x = Xml::new();
        x.members("SolutionStacks", all.iter().map(Platform::solution_stack));
        x.open("SolutionStackDetails");
        for p in &all {
            x.open("member")
                .leaf("SolutionStackName", p.solution_stack())
                .members("PermittedFileTypes", ["zip"])
                .close("member");
        }
        x.close("SolutionStackDetails");
        Ok(Some(x.finish()))
    }

    pub(in crate::eb) fn describe_account_attributes(&self) -> ApiResult<Option<String>> {
        let mut x = Xml::new();
        x.open("ResourceQuotas");
        for (tag, max) in [
            ("ApplicationQuota", 75u32),
            ("ApplicationVersionQuota", self.version_quota),
            ("EnvironmentQuota", 200),
            ("ConfigurationTemplateQuota", 2000),
            ("CustomPlatformQuota", 50),
        ] {
            x.open(tag).leaf("Maximum", max.to_string()).close(tag);
        }
        x.close("ResourceQuotas");
        Ok(Some(x.finish()))
    }
}

/// What a real instance needs to deploy `label` to `env`.
pub(super) fn deploy_job(
    env: &Env,
    c: &Call<'_>,
    kind: Kind,
    label: String,
    bucket: String,
    key: String,
) -> DeployJob {
    DeployJob {
        kind,
        region: c.region.to_string(),
        env_id: env.id.clone(),
        env_name: env.name.clone(),
        cname: env.cname.clone(),
        label,
        bucket,
        key,
        options: env.options.clone(),
        request_id: c.request_id.to_string(),
        health_before: env.health,
    }
}
