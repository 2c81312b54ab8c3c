//! The Elastic Beanstalk operations.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::bundle::{self, Verdict};
use super::instance::{DeployJob, Kind};
use super::params::{ApiError, ApiResult, Params};
use super::platforms::{self, Platform};
use super::render;
use super::state::{
    App, Env, EnvStatus, HealthStatus, Lifecycle, OptionSetting, Region, Rule, Severity, Step,
    Version, timing,
};
use super::{Call, Eb};
use crate::forward::Download;
use crate::xml::Xml;

/// Namespace of environment properties (environment variables).
const ENV_NS: &str = "aws:elasticbeanstalk:application:environment";
const MAX_ENV_KEY: usize = 128;
const MAX_ENV_VALUE: usize = 256;
const MAX_ENV_TOTAL: usize = 4096;

/// The refusal of a source bundle over the size limit (EB documents "Not exceed 500 MB"; its
/// exact API error is not documented: InvalidParameterValue, naming the size and the limit).
pub(super) fn too_large(bucket: &str, key: &str, bytes: u64, max: u64) -> ApiError {
    ApiError::invalid(format!(
        "Source bundle s3://{bucket}/{key} is {bytes} bytes; Elastic Beanstalk source bundles must not exceed {max} bytes ({} MB). Make the bundle smaller.",
        max / (1024 * 1024)
    ))
}

fn validate_app_name(name: &str) -> ApiResult<()> {
    if name.chars().count() > 100 {
        return Err(ApiError::validation(
            name,
            "applicationName",
            "Member must have length less than or equal to 100",
        ));
    }
    Ok(())
}

fn validate_label(label: &str) -> ApiResult<()> {
    if label.chars().count() > 100 {
        return Err(ApiError::validation(
            label,
            "versionLabel",
            "Member must have length less than or equal to 100",
        ));
    }
    if label.contains('/') {
        return Err(ApiError::invalid(format!(
            "Invalid version label '{label}': it must not contain '/'."
        )));
    }
    Ok(())
}

/// 4-40 characters, letters, digits and hyphens, not starting or ending with a hyphen.
pub(crate) fn validate_env_name(name: &str) -> ApiResult<()> {
    let len = name.chars().count();
    if len < 4 {
        return Err(ApiError::invalid(format!(
            "Value {name} at 'EnvironmentName' failed to satisfy constraint: Member must have length greater than or equal to 4"
        )));
    }
    if len > 40 {
        return Err(ApiError::invalid(format!(
            "Value {name} at 'EnvironmentName' failed to satisfy constraint: Member must have length less than or equal to 40"
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Err(ApiError::invalid(format!(
            "Value {name} at 'EnvironmentName' failed to satisfy constraint: Member must contain only letters, digits, and the dash character and may not start or end with a dash"
        )));
    }
    Ok(())
}

/// CNAME prefixes: 4-63 characters, letters, digits and hyphens, no leading/trailing hyphen.
fn validate_cname_prefix(prefix: &str) -> ApiResult<()> {
    let len = prefix.len();
    if !(4..=63).contains(&len)
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        || prefix.starts_with('-')
        || prefix.ends_with('-')
    {
        return Err(ApiError::invalid(format!(
            "Value {prefix} at 'CNAMEPrefix' failed to satisfy constraint: Member must be 4 to 63 letters, digits or dashes and may not start or end with a dash"
        )));
    }
    Ok(())
}

fn cname(prefix: &str, region: &str) -> String {
    format!("{prefix}.{region}.elasticbeanstalk.localhost").to_ascii_lowercase()
}

fn env_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("e-{}", &u[..10])
}

fn parse_rule(p: &Params, prefix: &str, value_tag: &str, default: Rule) -> ApiResult<Rule> {
    if !p.has_prefix(prefix) {
        return Ok(default);
    }
    let enabled = p
        .bool(&format!("{prefix}.Enabled"))?
        .ok_or_else(|| ApiError::missing(&format!("{prefix}.Enabled")))?;
    let value = p
        .int(&format!("{prefix}.{value_tag}"))?
        .unwrap_or(default.value);
    if value < 1 {
        return Err(ApiError::invalid(format!(
            "{prefix}.{value_tag} must be at least 1, got {value}."
        )));
    }
    let delete_source = p
        .bool(&format!("{prefix}.DeleteSourceFromS3"))?
        .unwrap_or(false);
    Ok(Rule {
        enabled,
        value,
        delete_source,
    })
}

fn parse_lifecycle(p: &Params) -> ApiResult<Option<Lifecycle>> {
    const PREFIX: &str = "ResourceLifecycleConfig";
    if !p.has_prefix(PREFIX) {
        return Ok(None);
    }
    let d = Lifecycle::default();
    Ok(Some(Lifecycle {
        service_role: p
            .get("ResourceLifecycleConfig.ServiceRole")
            .map(str::to_string),
        max_count: parse_rule(
            p,
            "ResourceLifecycleConfig.VersionLifecycleConfig.MaxCountRule",
            "MaxCount",
            d.max_count,
        )?,
        max_age: parse_rule(
            p,
            "ResourceLifecycleConfig.VersionLifecycleConfig.MaxAgeRule",
            "MaxAgeInDays",
            d.max_age,
        )?,
    }))
}

fn parse_options(p: &Params, prefix: &str, need_value: bool) -> ApiResult<Vec<OptionSetting>> {
    p.structs(prefix)
        .into_iter()
        .map(|m| {
            let (Some(ns), Some(name)) = (m.get("Namespace"), m.get("OptionName")) else {
                return Err(ApiError::invalid(format!(
                    "Each {prefix} entry needs a Namespace and an OptionName."
                )));
            };
            Ok(OptionSetting {
                namespace: ns.clone(),
                name: name.clone(),
                value: if need_value {
                    m.get("Value").cloned().unwrap_or_default()
                } else {
                    String::new()
                },
                resource: m.get("ResourceName").cloned(),
            })
        })
        .collect()
}

fn merge_options(
    current: &mut Vec<OptionSetting>,
    set: Vec<OptionSetting>,
    remove: &[OptionSetting],
) {
    current.retain(|o| {
        !remove
            .iter()
            .any(|r| r.namespace == o.namespace && r.name == o.name && r.resource == o.resource)
    });
    for s in set {
        match current
            .iter_mut()
            .find(|o| o.namespace == s.namespace && o.name == s.name && o.resource == s.resource)
        {
            Some(o) => o.value = s.value,
            None => current.push(s),
        }
    }
}

/// The quotas on environment properties and the single-instance/ACM rule.
fn validate_options(options: &[OptionSetting]) -> ApiResult<()> {
    let mut total = 0usize;
    for o in options.iter().filter(|o| o.namespace == ENV_NS) {
        if o.name.len() > MAX_ENV_KEY {
            return Err(ApiError::invalid(format!(
                "Environment property name {} is longer than {MAX_ENV_KEY} characters.",
                o.name
            )));
        }
        if o.value.len() > MAX_ENV_VALUE {
            return Err(ApiError::invalid(format!(
                "Environment property {} has a value longer than {MAX_ENV_VALUE} characters.",
                o.name
            )));
        }
        total += o.name.len() + o.value.len() + 1;
    }
    if total > MAX_ENV_TOTAL {
        return Err(ApiError::invalid(format!(
            "The combined size of all environment properties ({total} bytes) exceeds the limit of {MAX_ENV_TOTAL} bytes."
        )));
    }
    let single = options.iter().any(|o| {
        o.namespace == "aws:elasticbeanstalk:environment"
            && o.name == "EnvironmentType"
            && o.value == "SingleInstance"
    });
    if single
        && let Some(o) = options.iter().find(|o| {
            (o.namespace.starts_with("aws:elbv2:listener")
                || o.namespace.starts_with("aws:elb:listener"))
                && matches!(o.name.as_str(), "SSLCertificateArns" | "SSLCertificateId")
        })
    {
        return Err(ApiError::combination(format!(
            "A single-instance environment has no load balancer and cannot use an ACM certificate ({}:{}).",
            o.namespace, o.name
        )));
    }
    Ok(())
}

fn default_options(p: &Platform) -> Vec<OptionSetting> {
    let o = |ns: &str, name: &str, value: &str| OptionSetting {
        namespace: ns.to_string(),
        name: name.to_string(),
        value: value.to_string(),
        resource: None,
    };
    vec![
        o(
            "aws:elasticbeanstalk:environment",
            "EnvironmentType",
            "LoadBalanced",
        ),
        o(
            "aws:elasticbeanstalk:healthreporting:system",
            "SystemType",
            "enhanced",
        ),
        o(
            "aws:elasticbeanstalk:container:python",
            "WSGIPath",
            "application",
        ),
        o("aws:ec2:instances", "InstanceTypes", "t3.micro, t3.small"),
        o(
            "aws:elasticbeanstalk:command",
            "DeploymentPolicy",
            "AllAtOnce",
        ),
        o(
            "aws:elasticbeanstalk:environment:proxy",
            "ProxyServer",
            if p.python.is_empty() { "none" } else { "nginx" },
        ),
    ]
}

fn step(request_id: &str, severity: Severity, message: impl Into<String>) -> Step {
    Step {
        event: Some((severity, message.into())),
        request_id: request_id.to_string(),
        ..Step::default()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// How a deploy will end.
enum Outcome {
    Healthy,
    Fails(Vec<String>),
    /// A real instance runs the deploy; its outcome is scheduled when it is known.
    Real,
}

fn transition(from: HealthStatus, to: HealthStatus, why: &str) -> String {
    format!(
        "Environment health has transitioned from {} to {}. {why}",
        from.as_str(),
        to.as_str()
    )
}

fn launch_steps(
    env: &Env,
    region: &str,
    account: &str,
    outcome: &Outcome,
    rid: &str,
) -> Vec<(Duration, Step)> {
    let mut steps = vec![
        (
            secs(0),
            step(rid, Severity::Info, "createEnvironment is starting."),
        ),
        (
            secs(2),
            step(
                rid,
                Severity::Info,
                format!(
                    "Using elasticbeanstalk-{region}-{account} as Amazon S3 storage bucket for environment data."
                ),
            ),
        ),
        (
            secs(20),
            step(
                rid,
                Severity::Info,
                format!("Created security group named: {}", env.security_group()),
            ),
        ),
        (
            secs(35),
            step(rid, Severity::Info, "Created EIP: 127.0.0.1"),
        ),
        (
            secs(60),
            step(
                rid,
                Severity::Info,
                "Waiting for EC2 instances to launch. This may take a few minutes.",
            ),
        ),
    ];
    let end = timing::LAUNCH;
    match outcome {
        Outcome::Healthy => {
            steps.push((
                secs(240),
                step(
                    rid,
                    Severity::Info,
                    "Instance deployment completed successfully.",
                ),
            ));
            steps.push((
                secs(280),
                step(
                    rid,
                    Severity::Info,
                    format!("Application available at {}.", env.cname),
                ),
            ));
            let mut health = step(
                rid,
                Severity::Info,
                transition(
                    HealthStatus::Pending,
                    HealthStatus::Ok,
                    "Initialization completed 12 seconds ago and took 4 minutes.",
                ),
            );
            health.health = Some(HealthStatus::Ok);
            health.causes = Some(Vec::new());
            steps.push((end, health));
            let mut ready = step(
                rid,
                Severity::Info,
                format!("Successfully launched environment: {}", env.name),
            );
            ready.status = Some(EnvStatus::Ready);
            steps.push((end, ready));
        }
        Outcome::Real => {}
        Outcome::Fails(causes) => {
            steps.push((
                secs(240),
                step(
                    rid,
                    Severity::Error,
                    "Instance deployment failed. For details, see 'eb-engine.log'.",
                ),
            ));
            let mut done = step(
                rid,
                Severity::Error,
                "Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.",
            );
            done.status = Some(EnvStatus::Ready);
            done.health = Some(HealthStatus::Severe);
            done.causes = Some(causes.clone());
            steps.push((end, done));
            steps.push((
                end,
                step(
                    rid,
                    Severity::Error,
                    transition(
                        HealthStatus::Pending,
                        HealthStatus::Severe,
                        &causes.join(" "),
                    ),
                ),
            ));
        }
    }
    steps
}

fn deploy_steps(env: &Env, label: &str, outcome: &Outcome, rid: &str) -> Vec<(Duration, Step)> {
    let mut steps = vec![
        (
            secs(0),
            step(rid, Severity::Info, "Environment update is starting."),
        ),
        (
            secs(5),
            step(rid, Severity::Info, "Deploying new version to instance(s)."),
        ),
    ];
    let end = timing::UPDATE;
    let before = env.health;
    match outcome {
        Outcome::Real => {}
        Outcome::Healthy => {
            steps.push((
                secs(60),
                step(
                    rid,
                    Severity::Info,
                    "Instance deployment completed successfully.",
                ),
            ));
            steps.push((
                secs(75),
                step(
                    rid,
                    Severity::Info,
                    "New application version was deployed to running EC2 instances.",
                ),
            ));
            let mut done = step(
                rid,
                Severity::Info,
                "Environment update completed successfully.",
            );
            done.status = Some(EnvStatus::Ready);
            done.version = Some(Some(label.to_string()));
            done.health = Some(HealthStatus::Ok);
            done.causes = Some(Vec::new());
            steps.push((end, done));
            if before != HealthStatus::Ok {
                steps.push((
                    end,
                    step(
                        rid,
                        Severity::Info,
                        transition(
                            before,
                            HealthStatus::Ok,
                            "Application update completed 3 seconds ago and took 90 seconds.",
                        ),
                    ),
                ));
            }
        }
        Outcome::Fails(causes) => {
            steps.push((
                secs(60),
                step(
                    rid,
                    Severity::Error,
                    "Instance deployment failed. For details, see 'eb-engine.log'.",
                ),
            ));
            steps.push((
                secs(70),
                step(
                    rid,
                    Severity::Error,
                    "During an aborted deployment, some instances may have deployed the new application version. To ensure all instances are running the same version, re-deploy the appropriate application version.",
                ),
            ));
            let mut done = step(rid, Severity::Error, "Failed to deploy application.");
            done.status = Some(EnvStatus::Ready);
            done.health = Some(HealthStatus::Severe);
            done.causes = Some(causes.clone());
            steps.push((end, done));
            if before != HealthStatus::Severe {
                steps.push((
                    end,
                    step(
                        rid,
                        Severity::Error,
                        transition(before, HealthStatus::Severe, &causes.join(" ")),
                    ),
                ));
            }
        }
    }
    steps
}

fn config_steps(env: &Env, rid: &str) -> Vec<(Duration, Step)> {
    let mut done = step(
        rid,
        Severity::Info,
        "Environment update completed successfully.",
    );
    done.status = Some(EnvStatus::Ready);
    vec![
        (
            secs(0),
            step(rid, Severity::Info, "Environment update is starting."),
        ),
        (
            secs(10),
            step(
                rid,
                Severity::Info,
                format!(
                    "Updating environment {}'s configuration settings.",
                    env.name
                ),
            ),
        ),
        (
            secs(50),
            step(
                rid,
                Severity::Info,
                "Successfully deployed new configuration to environment.",
            ),
        ),
        (timing::CONFIG_UPDATE, done),
    ]
}

fn terminate_steps(env: &Env, rid: &str) -> Vec<(Duration, Step)> {
    let mut done = step(
        rid,
        Severity::Info,
        "terminateEnvironment completed successfully.",
    );
    done.status = Some(EnvStatus::Terminated);
    done.health = Some(HealthStatus::Unknown);
    vec![
        (
            secs(0),
            step(rid, Severity::Info, "terminateEnvironment is starting."),
        ),
        (
            secs(30),
            step(rid, Severity::Info, "Deleted EIP: 127.0.0.1"),
        ),
        (
            secs(60),
            step(
                rid,
                Severity::Info,
                format!("Deleted security group named: {}", env.security_group()),
            ),
        ),
        (timing::TERMINATE, done),
    ]
}

fn not_found_env(p: &Params) -> ApiError {
    match (p.get("EnvironmentName"), p.get("EnvironmentId")) {
        (Some(n), _) => {
            ApiError::invalid(format!("No Environment found for EnvironmentName = '{n}'."))
        }
        (None, Some(id)) => {
            ApiError::invalid(format!("No Environment found for EnvironmentId = '{id}'."))
        }
        (None, None) => ApiError::combination(
            "You must specify either the EnvironmentId or the EnvironmentName.",
        ),
    }
}

/// The live (not terminated) environment the request names.
pub(super) fn find_env(r: &Region, p: &Params) -> ApiResult<usize> {
    let found = match (p.get("EnvironmentName"), p.get("EnvironmentId")) {
        (Some(n), _) => r.live_env(n),
        (None, Some(id)) => r.live_env_by_id(id),
        (None, None) => None,
    };
    found.ok_or_else(|| not_found_env(p))
}

fn invalid_state(name: &str) -> ApiError {
    ApiError::invalid(format!(
        "Environment named {name} is in an invalid state for this operation. Must be Ready."
    ))
}

pub(super) fn page<T>(
    items: Vec<T>,
    p: &Params,
    default_max: usize,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let max = match p.int("MaxRecords")? {
        Some(m) if (1..=1000).contains(&m) => m as usize,
        Some(m) => {
            return Err(ApiError::invalid(format!(
                "MaxRecords must be between 1 and 1000, got {m}."
            )));
        }
        None => default_max,
    };
    let start = match p.get("NextToken") {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("Invalid NextToken: {t}")))?,
        None => 0,
    };
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + out.len() < total).then(|| (start + out.len()).to_string());
    Ok((out, next))
}

impl Eb {
    fn now(&self) -> OffsetDateTime {
        self.ctx.clock.now_utc()
    }

    fn account(&self) -> &str {
        &self.ctx.account_id
    }

    /// The instance address reported as `EndpointURL` (the edge's host).
    fn endpoint(&self) -> String {
        self.ctx
            .edge_addr
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_else(|| self.ctx.edge_addr.clone())
    }

    fn moto(&self) -> ApiResult<&crate::forward::Moto> {
        self.moto.as_ref().ok_or_else(|| {
            ApiError::service(
                "This local cloud has no S3 (moto) configured; start the edge with a moto URL.",
            )
        })
    }

    pub(super) fn create_application(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let name = c.p.req("ApplicationName")?;
        validate_app_name(name)?;
        let description = c.p.get("Description").map(str::to_string);
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 200)
        {
            return Err(ApiError::validation(
                "...",
                "description",
                "Member must have length less than or equal to 200",
            ));
        }
        let lifecycle = parse_lifecycle(&c.p)?.unwrap_or_default();
        let now = self.now();
        self.with_region(c.region, |r| {
            if r.apps.contains_key(name) {
                return Err(ApiError::invalid(format!(
                    "Application {name} already exists."
                )));
            }
            let app = App {
                name: name.to_string(),
                description,
                created: now,
                updated: now,
                versions: Vec::new(),
                lifecycle,
            };
            let mut x = Xml::new();
            render::app(&mut x, "Application", &app, c.region, self.account());
            r.apps.insert(name.to_string(), app);
            Ok(Some(x.finish()))
        })
    }

    pub(super) fn describe_applications(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let names = c.p.list("ApplicationNames");
        self.with_region(c.region, |r| {
            let mut x = Xml::new();
            x.open("Applications");
            for app in r
                .apps
                .values()
                .filter(|a| names.is_empty() || names.contains(&a.name))
            {
                render::app(&mut x, "member", app, c.region, self.account());
            }
            x.close("Applications");
            Ok(Some(x.finish()))
        })
    }

    pub(super) fn delete_application(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let name = c.p.req("ApplicationName")?;
        let force = c.p.bool("TerminateEnvByForce")?.unwrap_or(false);
        let clock = self.ctx.clock.clone();
        self.with_region(c.region, |r| {
            if !r.apps.contains_key(name) {
                return Err(ApiError::invalid(format!("No Application named '{name}' found.")));
            }
            let live: Vec<usize> = (0..r.envs.len())
                .filter(|&i| r.envs[i].app == name && r.envs[i].status != EnvStatus::Terminated)
                .collect();
            if !live.is_empty() && !force {
                let names: Vec<&str> = live.iter().map(|&i| r.envs[i].name.as_str()).collect();
                return Err(ApiError::new(
                    "OperationInProgressFailure",
                    format!(
                        "Unable to delete application {name} because it has running environments: {}. Terminate them first or set TerminateEnvByForce.",
                        names.join(", ")
                    ),
                ));
            }
            for i in live {
                let env = &mut r.envs[i];
                if env.status != EnvStatus::Terminating {
                    env.timeline.clear();
                    let steps = terminate_steps(env, c.request_id);
                    env.status = EnvStatus::Terminating;
                    env.schedule(&clock, steps);
                    self.stop_instance(env);
                }
            }
            r.apps.remove(name);
            r.tick(Instant::now(), self.now());
            Ok(None)
        })
    }

    pub(super) fn update_application_resource_lifecycle(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let name = c.p.req("ApplicationName")?;
        let lifecycle =
            parse_lifecycle(&c.p)?.ok_or_else(|| ApiError::missing("ResourceLifecycleConfig"))?;
        let now = self.now();
        self.with_region(c.region, |r| {
            let app = r.apps.get_mut(name).ok_or_else(|| {
                ApiError::invalid(format!("No Application named '{name}' found."))
            })?;
            app.lifecycle = lifecycle;
            app.updated = now;
            let mut x = Xml::new();
            x.leaf("ApplicationName", name);
            render::lifecycle(&mut x, &app.lifecycle);
            Ok(Some(x.finish()))
        })
    }

    /// Checks that a new version may be created; `Ok(())` before any S3 traffic.
    fn check_new_version(
        &self,
        r: &Region,
        app: &str,
        label: &str,
        auto_create: bool,
    ) -> ApiResult<()> {
        match r.apps.get(app) {
            None if !auto_create => {
                return Err(ApiError::invalid(format!(
                    "No Application named '{app}' found."
                )));
            }
            Some(a) if a.versions.iter().any(|v| v.label == label) => {
                return Err(ApiError::invalid(format!(
                    "Application Version {label} already exists."
                )));
            }
            _ => {}
        }
        if r.version_count() >= self.version_quota as usize {
            return Err(ApiError::new(
                "TooManyApplicationVersionsException",
                format!(
                    "You cannot have more than {} Application Versions. Either remove some Application Versions or request a limit increase.",
                    self.version_quota
                ),
            ));
        }
        Ok(())
    }

    pub(super) async fn create_application_version(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let app_name = c.p.req("ApplicationName")?;
        validate_app_name(app_name)?;
        let label = c.p.req("VersionLabel")?;
        validate_label(label)?;
        let auto_create = c.p.bool("AutoCreateApplication")?.unwrap_or(false);
        let process = c.p.bool("Process")?.unwrap_or(false);
        let description = c.p.get("Description").map(str::to_string);
        if c.p.has_prefix("SourceBuildInformation") {
            return Err(ApiError::combination(
                "SourceBuildInformation (CodeCommit/CodeBuild) is not supported by the local cloud; use SourceBundle.",
            ));
        }
        self.with_region(c.region, |r| {
            self.check_new_version(r, app_name, label, auto_create)
        })?;

        let (bucket, key, verdict) = match (
            c.p.get("SourceBundle.S3Bucket"),
            c.p.get("SourceBundle.S3Key"),
        ) {
            (Some(b), Some(k)) => {
                // Sized by HEAD first: an oversized bundle is refused without being read; the
                // rest is streamed to a scratch file (never held in memory) and inspected there.
                let scratch = std::env::temp_dir().join(format!(
                    "deploykit-localcloud-bundle-{}.zip",
                    uuid::Uuid::new_v4().simple()
                ));
                let got = self
                    .moto()?
                    .s3_download(c.region, b, k, self.max_bundle_bytes, &scratch)
                    .await
                    .map_err(|e| {
                        ApiError::combination(format!(
                            "Unable to download from S3 location (Bucket: {b}  Key: {k}). Reason: {e}"
                        ))
                    });
                let verdict = match got? {
                    Download::NotFound => {
                        return Err(ApiError::combination(format!(
                            "Unable to download from S3 location (Bucket: {b}  Key: {k}). Reason: Not Found"
                        )));
                    }
                    Download::TooLarge { bytes } => {
                        return Err(too_large(b, k, bytes, self.max_bundle_bytes));
                    }
                    Download::Saved { .. } => {
                        let path = scratch.clone();
                        let v = tokio::task::spawn_blocking(move || bundle::inspect_file(&path))
                            .await
                            .unwrap_or_else(|e| {
                                Verdict::Fails(vec![format!("inspecting the bundle failed: {e}")])
                            });
                        let _ = tokio::fs::remove_file(&scratch).await;
                        v
                    }
                };
                (b.to_string(), k.to_string(), verdict)
            }
            (None, None) => (
                format!("elasticbeanstalk-samples-{}", c.region),
                "python-sample.zip".to_string(),
                Verdict::Runs,
            ),
            (Some(_), None) => return Err(ApiError::missing("SourceBundle.S3Key")),
            (None, Some(_)) => return Err(ApiError::missing("SourceBundle.S3Bucket")),
        };

        let now = self.now();
        let (xml, delete) = self.with_region(c.region, |r| {
            // Re-check: another request may have won the race while we read S3.
            self.check_new_version(r, app_name, label, auto_create)?;
            let in_use: Vec<String> = r
                .envs
                .iter()
                .filter(|e| e.app == app_name && e.status != EnvStatus::Terminated)
                .filter_map(|e| e.version.clone())
                .collect();
            let app = r.apps.entry(app_name.to_string()).or_insert_with(|| App {
                name: app_name.to_string(),
                description: None,
                created: now,
                updated: now,
                versions: Vec::new(),
                lifecycle: Lifecycle::default(),
            });
            let status = match (&verdict, process) {
                (_, false) => "Unprocessed",
                (Verdict::Fails(causes), true)
                    if causes.iter().any(|c| c.contains("not a valid zip")) =>
                {
                    "Failed"
                }
                (_, true) => "Processed",
            };
            let version = Version {
                label: label.to_string(),
                description,
                bucket,
                key,
                created: now,
                status,
                verdict,
            };
            let mut x = Xml::new();
            render::version(
                &mut x,
                "ApplicationVersion",
                app_name,
                &version,
                c.region,
                self.account(),
            );
            app.versions.push(version);
            app.updated = now;
            let delete = apply_lifecycle(app, &in_use, now);
            Ok::<_, ApiError>((x.finish(), delete))
        })?;
        // Lifecycle clean-up of source bundles is best effort, as in the service.
        if let Some(moto) = &self.moto {
            for (b, k) in delete {
                let _ = moto.s3_delete(c.region, &b, &k).await;
            }
        }
        Ok(Some(xml))
    }

    pub(super) fn describe_application_versions(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let app = c.p.get("ApplicationName");
        let labels = c.p.list("VersionLabels");
        self.with_region(c.region, |r| {
            let mut all: Vec<(&str, &Version)> = r
                .apps
                .values()
                .filter(|a| app.is_none_or(|n| n == a.name))
                .flat_map(|a| a.versions.iter().map(move |v| (a.name.as_str(), v)))
                .filter(|(_, v)| labels.is_empty() || labels.contains(&v.label))
                .collect();
            all.sort_by_key(|v| std::cmp::Reverse(v.1.created));
            let (items, next) = page(all, &c.p, 1000)?;
            let mut x = Xml::new();
            x.open("ApplicationVersions");
            for (app, v) in items {
                render::version(&mut x, "member", app, v, c.region, self.account());
            }
            x.close("ApplicationVersions").opt("NextToken", next);
            Ok(Some(x.finish()))
        })
    }

    pub(super) async fn delete_application_version(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let app_name = c.p.req("ApplicationName")?;
        let label = c.p.req("VersionLabel")?;
        let delete_source = c.p.bool("DeleteSourceBundle")?.unwrap_or(false);
        let removed = self.with_region(c.region, |r| {
            let users: Vec<String> = r
                .envs
                .iter()
                .filter(|e| e.app == app_name && e.status != EnvStatus::Terminated)
                .filter(|e| {
                    e.version.as_deref() == Some(label)
                        || e.timeline
                            .iter()
                            .any(|(_, s)| s.version.as_ref().is_some_and(|v| v.as_deref() == Some(label)))
                })
                .map(|e| e.name.clone())
                .collect();
            let app = r
                .apps
                .get_mut(app_name)
                .ok_or_else(|| ApiError::invalid(format!("No Application named '{app_name}' found.")))?;
            let idx = app
                .versions
                .iter()
                .position(|v| v.label == label)
                .ok_or_else(|| ApiError::invalid(format!("No Application Version named '{label}' found.")))?;
            if !users.is_empty() {
                return Err(ApiError::invalid(format!(
                    "Unable to delete application version {label} because it is being used by environment(s): {}.",
                    users.join(", ")
                )));
            }
            Ok(app.versions.remove(idx))
        })?;
        if delete_source {
            self.moto()?
                .s3_delete(c.region, &removed.bucket, &removed.key)
                .await
                .map_err(|e| ApiError::new("SourceBundleDeletionFailure", e))?;
        }
        Ok(None)
    }

    pub(super) async fn create_storage_location(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let bucket = format!("elasticbeanstalk-{}-{}", c.region, self.account());
        self.moto()?
            .s3_ensure_bucket(c.region, &bucket)
            .await
            .map_err(ApiError::service)?;
        let mut x = Xml::new();
        x.leaf("S3Bucket", bucket);
        Ok(Some(x.finish()))
    }

    pub(super) fn check_dns_availability(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let prefix = c.p.req("CNAMEPrefix")?;
        validate_cname_prefix(prefix)?;
        let fqdn = cname(prefix, c.region);
        self.with_region(c.region, |r| {
            let available = !r
                .envs
                .iter()
                .any(|e| e.cname == fqdn && e.status != EnvStatus::Terminated);
            let mut x = Xml::new();
            x.leaf("Available", available.to_string())
                .leaf("FullyQualifiedCNAME", &fqdn);
            Ok(Some(x.finish()))
        })
    }

    fn resolve_platform(&self, p: &Params) -> ApiResult<Option<Platform>> {
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

    pub(super) fn create_environment(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let app_name = c.p.req("ApplicationName")?;
        let name = c.p.req("EnvironmentName")?;
        validate_env_name(name)?;
        let prefix = c.p.get("CNAMEPrefix").unwrap_or(name);
        validate_cname_prefix(prefix)?;
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
    fn spawn_deploy(&self, job: Option<DeployJob>) {
        if let (Some(job), Some(instances)) = (job, &self.instances) {
            instances.spawn_deploy(job, self.regions.clone(), self.ctx.clock.clone());
        }
    }

    /// Stops a terminated environment's instance and removes its route.
    fn stop_instance(&self, env: &Env) {
        if let Some(instances) = &self.instances {
            instances.terminate(&env.id, &env.cname);
        }
    }

    pub(super) fn update_environment(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
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
                    Some(super::instance::config_prefix_steps(env, c.request_id))
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

    pub(super) fn describe_environments(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
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

    pub(super) fn terminate_environment(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
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

    pub(super) fn describe_events(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
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

    pub(super) fn describe_environment_health(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
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

    pub(super) fn describe_configuration_settings(
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

    pub(super) fn list_platform_versions(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
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

    pub(super) fn describe_platform_version(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let arn = c.p.req("PlatformArn")?;
        let p = platforms::find(None, Some(arn))
            .ok_or_else(|| ApiError::invalid(format!("No Platform named '{arn}' found.")))?;
        let created = OffsetDateTime::from_unix_timestamp(1_760_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut x = Xml::new();
        render::platform_description(&mut x, &p, c.region, created);
        Ok(Some(x.finish()))
    }

    pub(super) fn list_available_solution_stacks(
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

    pub(super) fn describe_account_attributes(&self) -> ApiResult<Option<String>> {
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
fn deploy_job(
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

/// A deploy fails when the bundle cannot run or the admin path scripted a failure.
fn deploy_outcome(faults: &crate::core::Faults, env: &str, verdict: &Verdict) -> Outcome {
    let scripted = faults.take_deploy_failure(env);
    match verdict {
        Verdict::Fails(causes) => Outcome::Fails(causes.clone()),
        Verdict::Runs if scripted => Outcome::Fails(vec![
            "Application update failed: the application did not start (failure injected by localcloud).".to_string(),
            "Following services are not running: web.".to_string(),
        ]),
        Verdict::Runs => Outcome::Healthy,
    }
}

/// Applies the application's version lifecycle after a new version; returns S3 objects to delete.
fn apply_lifecycle(app: &mut App, in_use: &[String], now: OffsetDateTime) -> Vec<(String, String)> {
    let mut delete = Vec::new();
    let lc = app.lifecycle.clone();
    let mut keep_newest = usize::MAX;
    if lc.max_count.enabled {
        keep_newest = lc.max_count.value.max(1) as usize;
    }
    let total = app.versions.len();
    let mut removed: BTreeMap<usize, bool> = BTreeMap::new();
    for (i, v) in app.versions.iter().enumerate() {
        if in_use.contains(&v.label) || i + 1 == total {
            continue;
        }
        let newer = total - i - 1;
        if newer >= keep_newest {
            removed.insert(i, lc.max_count.delete_source);
            continue;
        }
        if lc.max_age.enabled
            && now - v.created > Duration::from_secs(lc.max_age.value.max(1) as u64 * 86_400)
        {
            removed.insert(i, lc.max_age.delete_source);
        }
    }
    for (i, delete_source) in removed.into_iter().rev() {
        let v = app.versions.remove(i);
        if delete_source {
            delete.push((v.bucket, v.key));
        }
    }
    delete
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_name_rules() {
        let ok = ["abcd", "budgetsync-dev", "A1-b2-C3", &"x".repeat(40)];
        for n in ok {
            assert!(validate_env_name(n).is_ok(), "{n}");
        }
        let bad = [
            ("abc", "greater than or equal to 4"),
            (&"x".repeat(41) as &str, "less than or equal to 40"),
            ("-abcd", "may not start or end with a dash"),
            ("abcd-", "may not start or end with a dash"),
            ("ab_cd", "only letters, digits"),
            ("ab cd", "only letters, digits"),
        ];
        for (n, why) in bad {
            let e = validate_env_name(n).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValue");
            assert!(e.message.contains(why), "{n}: {}", e.message);
        }
    }

    #[test]
    fn env_property_quotas() {
        let o = |name: &str, value: &str| OptionSetting {
            namespace: ENV_NS.into(),
            name: name.into(),
            value: value.into(),
            resource: None,
        };
        assert!(validate_options(&[o("A", "b")]).is_ok());
        let cases = [
            (vec![o(&"K".repeat(129), "v")], "longer than 128"),
            (vec![o("K", &"v".repeat(257))], "longer than 256"),
            (
                (0..20)
                    .map(|i| o(&format!("K{i}"), &"v".repeat(250)))
                    .collect::<Vec<_>>(),
                "exceeds the limit of 4096",
            ),
        ];
        for (opts, why) in cases {
            let e = validate_options(&opts).unwrap_err();
            assert!(e.message.contains(why), "{}", e.message);
        }
        let single_with_cert = vec![
            OptionSetting {
                namespace: "aws:elasticbeanstalk:environment".into(),
                name: "EnvironmentType".into(),
                value: "SingleInstance".into(),
                resource: None,
            },
            OptionSetting {
                namespace: "aws:elbv2:listener:443".into(),
                name: "SSLCertificateArns".into(),
                value: "arn:aws:acm:us-east-1:000000000000:certificate/x".into(),
                resource: None,
            },
        ];
        assert_eq!(
            validate_options(&single_with_cert).unwrap_err().code,
            "InvalidParameterCombination"
        );
    }

    #[test]
    fn options_merge_and_remove() {
        let o = |ns: &str, name: &str, value: &str| OptionSetting {
            namespace: ns.into(),
            name: name.into(),
            value: value.into(),
            resource: None,
        };
        let mut cur = vec![o(ENV_NS, "A", "1"), o(ENV_NS, "B", "2")];
        merge_options(
            &mut cur,
            vec![o(ENV_NS, "A", "9"), o(ENV_NS, "C", "3")],
            &[o(ENV_NS, "B", "")],
        );
        assert_eq!(cur, vec![o(ENV_NS, "A", "9"), o(ENV_NS, "C", "3")]);
    }

    #[test]
    fn lifecycle_keeps_newest_and_in_use() {
        let now = OffsetDateTime::now_utc();
        let v = |label: &str| Version {
            label: label.into(),
            description: None,
            bucket: "b".into(),
            key: format!("{label}.zip"),
            created: now,
            status: "Unprocessed",
            verdict: Verdict::Runs,
        };
        let mut app = App {
            name: "a".into(),
            description: None,
            created: now,
            updated: now,
            versions: ["v1", "v2", "v3", "v4"].into_iter().map(v).collect(),
            lifecycle: Lifecycle {
                service_role: None,
                max_count: Rule {
                    enabled: true,
                    value: 2,
                    delete_source: true,
                },
                max_age: Lifecycle::default().max_age,
            },
        };
        let deleted = apply_lifecycle(&mut app, &["v1".to_string()], now);
        let labels: Vec<_> = app.versions.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(labels, ["v1", "v3", "v4"]);
        assert_eq!(deleted, vec![("b".to_string(), "v2.zip".to_string())]);
    }
}
