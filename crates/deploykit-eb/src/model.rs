//! Plain input and state types: what the caller wants ([`EbTarget`], [`BundleRef`]) and what
//! Elastic Beanstalk has ([`CurrentState`]). No SDK types here, so the planner is pure data.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub const NS_ENV: &str = "aws:elasticbeanstalk:application:environment";
pub const NS_SECRETS: &str = "aws:elasticbeanstalk:application:environmentsecrets";
pub const NS_LOGS: &str = "aws:elasticbeanstalk:cloudwatch:logs";
pub const NS_COMMAND: &str = "aws:elasticbeanstalk:command";
pub const NS_HEALTH: &str = "aws:elasticbeanstalk:healthreporting:system";
pub const NS_ENVIRONMENT: &str = "aws:elasticbeanstalk:environment";
pub const NS_LAUNCH: &str = "aws:autoscaling:launchconfiguration";
pub const NS_ASG: &str = "aws:autoscaling:asg";
/// The Application Load Balancer's HTTPS listener.
pub const NS_LISTENER_443: &str = "aws:elbv2:listener:443";
/// The default process (port 80 on the instances): its health check.
pub const NS_PROCESS_DEFAULT: &str = "aws:elasticbeanstalk:environment:process:default";

/// EB: longest environment property name.
pub const ENV_KEY_MAX: usize = 128;
/// EB: longest environment property value.
pub const ENV_VALUE_MAX: usize = 256;
/// EB: all `key=value` pairs together.
pub const ENV_TOTAL_MAX: usize = 4096;

/// One Elastic Beanstalk target, mapped by the caller from its configuration.
#[derive(Debug, Clone)]
pub struct EbTarget {
    pub region: String,
    pub application: String,
    pub environment: String,
    /// EC2 instance type, e.g. `t3.micro`.
    pub instance_type: String,
    /// A pinned solution stack name; `None` = the latest Python on Amazon Linux 2023.
    pub solution_stack: Option<String>,
    /// Service role (name or ARN); required to create an environment.
    pub service_role: Option<String>,
    /// EC2 instance profile; required to create an environment.
    pub instance_profile: Option<String>,
    /// Bucket for source bundles; `None` = Elastic Beanstalk's storage bucket.
    pub bucket: Option<String>,
    /// Plain environment variables.
    pub env: BTreeMap<String, String>,
    /// Secrets: variable name -> Secrets Manager / SSM ARN (never the value).
    pub secrets: BTreeMap<String, String>,
    pub stream_logs: bool,
    pub log_retention_days: u32,
    pub deployment_policy: String,
    pub enhanced_health: bool,
    /// Application versions kept by the lifecycle policy and by `prune`.
    pub keep_versions: u32,
    pub health: HealthCheck,
    pub timeouts: Timeouts,
    /// Extra option settings (namespace, name) -> value, from the caller.
    pub extra_settings: BTreeMap<(String, String), String>,
    /// `Some`: a load-balanced environment (an ALB with an HTTPS listener); `None`: a single
    /// instance. See [`crate::lb`].
    pub load_balancer: Option<LoadBalancer>,
    /// Tags a CreateEnvironment sends (the caller's remote deploy lock); not sent on update.
    pub create_tags: BTreeMap<String, String>,
}

/// The load-balanced environment deploy.toml asks for (`[eb] load_balanced = true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    /// The ACM certificate of `domain` for the HTTPS listener; `None` is refused by the planner
    /// before any call.
    pub certificate_arn: Option<String>,
    /// The domain the certificate is for (for messages and the DNS record).
    pub domain: Option<String>,
    /// The listener's TLS policy.
    pub ssl_policy: String,
    /// Auto Scaling group bounds.
    pub min_instances: u32,
    pub max_instances: u32,
    /// The ALB's health check path on the instances (the app's health path).
    pub health_check_path: String,
}

impl LoadBalancer {
    /// The ELB TLS policy deploykit uses unless told otherwise (TLS 1.3 and 1.2).
    pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
}

impl EbTarget {
    /// A target with the defaults the seed asks for (single t3.micro, logs streamed for 7 days,
    /// AllAtOnce, enhanced health, keep 50 versions).
    pub fn new(
        region: impl Into<String>,
        application: impl Into<String>,
        environment: impl Into<String>,
    ) -> Self {
        Self {
            region: region.into(),
            application: application.into(),
            environment: environment.into(),
            instance_type: "t3.micro".into(),
            solution_stack: None,
            service_role: None,
            instance_profile: None,
            bucket: None,
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            stream_logs: true,
            log_retention_days: 7,
            deployment_policy: "AllAtOnce".into(),
            enhanced_health: true,
            keep_versions: 50,
            health: HealthCheck::default(),
            timeouts: Timeouts::default(),
            extra_settings: BTreeMap::new(),
            load_balancer: None,
            create_tags: BTreeMap::new(),
        }
    }
}

/// The HTTP check made after the environment is Ready and Green.
#[derive(Debug, Clone, Default)]
pub struct HealthCheck {
    /// Path to GET on the environment's CNAME (e.g. `/healthz`); `None` = no HTTP check.
    pub path: Option<String>,
    /// Connect here instead of resolving the CNAME (the local cloud's edge), sending the CNAME
    /// as the Host header.
    pub resolve: Option<SocketAddr>,
}

/// Every bound on waiting.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// How long a deploy (or `rollback eb`) may take to become Ready, Green and ours.
    pub deploy: Duration,
    /// How long the automatic rollback after a failed or timed-out deploy may take (its own
    /// budget: a deploy that used up its time must still be able to go back).
    pub rollback: Duration,
    /// How long to wait for an environment that is already busy before we start.
    pub busy: Duration,
    /// Time between polls.
    pub poll: Duration,
    /// One HTTP health request.
    pub http: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            deploy: Duration::from_secs(20 * 60),
            rollback: Duration::from_secs(20 * 60),
            busy: Duration::from_secs(20 * 60),
            poll: Duration::from_secs(5),
            http: Duration::from_secs(5),
        }
    }
}

/// The bundle to deploy (built by deploykit-bundle).
#[derive(Debug, Clone)]
pub struct BundleRef {
    pub path: PathBuf,
    /// Hex SHA-256 of the zip.
    pub sha256: String,
    /// Content-addressed version label.
    pub label: String,
    pub git_sha: Option<String>,
    pub git_dirty: bool,
}

impl BundleRef {
    /// The version description: what it was built from.
    pub fn description(&self) -> String {
        let mut d = format!(
            "deploykit sha256:{}",
            &self.sha256[..self.sha256.len().min(16)]
        );
        if let Some(g) = &self.git_sha {
            d.push_str(&format!(" git:{g}"));
            if self.git_dirty {
                d.push_str(" (dirty)");
            }
        }
        d
    }
}

/// One application version as Elastic Beanstalk reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    pub label: String,
    pub description: Option<String>,
    /// Seconds since the epoch.
    pub created: Option<i64>,
    pub status: Option<String>,
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// One environment as Elastic Beanstalk reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvInfo {
    pub name: String,
    pub id: Option<String>,
    /// `Launching`, `Updating`, `Ready`, `Terminating`, `Terminated`, `Aborting`...
    pub status: String,
    /// `Green`, `Yellow`, `Red`, `Grey`.
    pub health: String,
    /// Enhanced health status (`Ok`, `Degraded`, `Severe`...), when known.
    pub health_status: Option<String>,
    pub version_label: Option<String>,
    pub cname: Option<String>,
    /// The load balancer's DNS name (load-balanced) or the instance's address.
    pub endpoint_url: Option<String>,
    pub solution_stack: Option<String>,
    /// Current option settings, (namespace, option name) -> value.
    #[serde(skip)]
    pub settings: BTreeMap<(String, String), String>,
}

impl EnvInfo {
    pub fn is_busy(&self) -> bool {
        matches!(
            self.status.as_str(),
            "Launching" | "Updating" | "Terminating" | "Aborting" | "LinkingFrom" | "LinkingTo"
        )
    }

    pub fn is_gone(&self) -> bool {
        matches!(self.status.as_str(), "Terminated" | "Terminating")
    }

    /// Environment variables currently set.
    pub fn env_vars(&self) -> BTreeMap<String, String> {
        self.settings
            .iter()
            .filter(|((ns, _), _)| ns == NS_ENV)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn secrets(&self) -> BTreeMap<String, String> {
        self.settings
            .iter()
            .filter(|((ns, _), _)| ns == NS_SECRETS)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Everything the planner needs to know about what exists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CurrentState {
    pub application_exists: bool,
    /// The version lifecycle's max-count rule, when enabled.
    pub lifecycle_max_count: Option<u32>,
    /// Newest first.
    pub versions: Vec<VersionInfo>,
    /// `None` when missing or terminated.
    pub environment: Option<EnvInfo>,
    /// Solution stacks available in the region (read only when an environment must be created).
    #[serde(skip)]
    pub solution_stacks: Vec<String>,
}

impl CurrentState {
    pub fn has_version(&self, label: &str) -> bool {
        self.versions.iter().any(|v| v.label == label)
    }

    /// The existing version carrying the same content as `label`: the label itself, or one
    /// whose `-`-separated parts include the bundle's 12-hex content hash. Labels append the git
    /// revision, so the same bytes committed again (or in another checkout) reuse that version
    /// instead of creating one per commit.
    pub fn version_with_content(&self, label: &str, sha256: &str) -> Option<&str> {
        if let Some(v) = self.versions.iter().find(|v| v.label == label) {
            return Some(v.label.as_str());
        }
        let hash12 = sha256.get(..12)?;
        self.versions
            .iter()
            .find(|v| v.label.split('-').any(|part| part == hash12))
            .map(|v| v.label.as_str())
    }
}

/// The value as it may be shown in every listing, plan and event: masked when its name or
/// value looks secret (deploykit-secretrules' one rule).
pub fn shown_value(key: &str, value: &str) -> String {
    deploykit_secretrules::mask_if_secret(key, value)
}

/// A violation of Elastic Beanstalk's environment property limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvLimitProblem {
    pub key: Option<String>,
    pub problem: String,
    pub fix: String,
}

impl std::fmt::Display for EnvLimitProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (fix: {})", self.problem, self.fix)
    }
}

/// Elastic Beanstalk's limits: names <= 128 characters, values <= 256, all `key=value` pairs
/// (secret references counted as their ARNs) <= 4,096 bytes. Returns every violation.
pub fn check_env_limits(
    env: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<(), Vec<EnvLimitProblem>> {
    let mut problems = Vec::new();
    let mut total = 0usize;
    for (k, v) in env.iter().chain(secrets.iter()) {
        total += k.len() + 1 + v.len();
        if k.chars().count() > ENV_KEY_MAX {
            problems.push(EnvLimitProblem {
                key: Some(k.clone()),
                problem: format!(
                    "variable name `{}...` is {} characters; Elastic Beanstalk allows {ENV_KEY_MAX}",
                    k.chars().take(24).collect::<String>(),
                    k.chars().count()
                ),
                fix: "shorten the name".into(),
            });
        }
        if v.chars().count() > ENV_VALUE_MAX {
            problems.push(EnvLimitProblem {
                key: Some(k.clone()),
                problem: format!(
                    "value of `{k}` is {} characters; Elastic Beanstalk allows {ENV_VALUE_MAX}",
                    v.chars().count()
                ),
                fix:
                    "shorten it, or keep large values in S3 or Secrets Manager and pass a reference"
                        .into(),
            });
        }
    }
    if total > ENV_TOTAL_MAX {
        problems.push(EnvLimitProblem {
            key: None,
            problem: format!(
                "environment variables total {total} bytes as `key=value` (secrets counted as their ARNs); Elastic Beanstalk allows {ENV_TOTAL_MAX}"
            ),
            fix: format!(
                "remove {} bytes: drop unused variables or group values into one Secrets Manager secret",
                total - ENV_TOTAL_MAX
            ),
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The newest "Python on Amazon Linux 2023" stack in `stacks`, by platform then Python version.
pub fn latest_python_al2023(stacks: &[String]) -> Option<String> {
    fn nums(s: &str) -> Vec<u32> {
        s.trim_start_matches('v')
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    }
    stacks
        .iter()
        .filter(|s| s.contains("Amazon Linux 2023") && s.contains("running Python"))
        .max_by_key(|s| {
            let words: Vec<&str> = s.split_whitespace().collect();
            let platform = words
                .iter()
                .find(|w| w.starts_with('v') && w[1..].starts_with(|c: char| c.is_ascii_digit()))
                .map(|w| nums(w))
                .unwrap_or_default();
            let python = words.last().map(|w| nums(w)).unwrap_or_default();
            (platform, python)
        })
        .cloned()
}
