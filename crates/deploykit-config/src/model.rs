//! The validated, defaults-applied configuration that the rest of deploykit consumes.
//! Every value here has already passed validation; consumers never re-check names.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::Problem;

/// A loaded and validated deploy.toml.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was loaded from (as given).
    pub path: PathBuf,
    /// The target used when none is named: `default_target`, else `local`.
    pub default_target: String,
    /// Every target, fully resolved (top-level sections merged with the target's overrides).
    pub targets: BTreeMap<String, ResolvedTarget>,
    /// Things that are allowed but probably wrong (FLASK_ENV, backups outside 7-14 days, ...).
    pub warnings: Vec<Problem>,
}

/// One target with its overrides merged in and defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedTarget {
    pub name: String,
    pub region: String,
    /// Named AWS profile; `None` uses the default credential chain (env, SSO, web identity).
    pub profile: Option<String>,
    /// Endpoint override for every AWS service (the local cloud for `local = true`).
    pub endpoint_url: Option<String>,
    /// `true`: dummy credentials and loopback-only endpoints (the local cloud). A non-local
    /// target never gets dummy credentials.
    pub local: bool,
    /// Address the tool connects to for app health checks instead of resolving the app's
    /// host name (like `curl --resolve`); the local cloud's edge for `local`.
    pub http_resolve: Option<SocketAddr>,
    /// The 12-digit AWS account the target is expected to be, when pinned.
    pub account_id: Option<String>,
    pub app: App,
    pub eb: Eb,
    pub apprunner: AppRunner,
    /// `[containers] platform`: where Route B's image runs.
    pub platform: ContainerPlatformKind,
    pub ecs: Ecs,
    pub database: Database,
    /// `[s3]`: the app's bucket and static files; `None` without an `[s3]` section.
    pub s3: Option<S3>,
    /// `[https]`: the certificate's domain(s); `None` without an `[https]` section.
    pub https: Option<Https>,
    /// `[alarms]`: CloudWatch alarms and their SNS topic; `None` without an `[alarms]` section.
    pub alarms: Option<Alarms>,
    /// Plain environment variables (never secrets; validation refuses secret-looking values).
    pub env: BTreeMap<String, String>,
    /// Environment variables whose values live in Secrets Manager.
    pub secrets: BTreeMap<String, SecretRef>,
}

/// `[app]`: the application being deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub name: String,
    /// App source directory, relative paths resolved against deploy.toml's directory.
    pub path: PathBuf,
    /// HTTP path that answers 200 when the app and its database are up.
    pub health_path: String,
    /// Port the app listens on behind the EB proxy (8000 on the EB Python platform).
    pub port: u16,
}

/// `[eb]`: Route A, Elastic Beanstalk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eb {
    pub application: String,
    pub environment: String,
    pub instance_type: String,
    /// Pinned platform ARN or solution stack; `None` = latest Python on Amazon Linux 2023.
    pub platform: Option<String>,
    pub service_role: Option<String>,
    pub instance_profile: Option<String>,
    /// Bucket for source bundles; `None` = the EB storage bucket (CreateStorageLocation).
    pub bucket: Option<String>,
    pub deployment_policy: DeploymentPolicy,
    pub enhanced_health: bool,
    pub log_streaming: bool,
    pub log_retention_days: u32,
    /// Application versions kept by the lifecycle policy and `eb prune`.
    pub keep_versions: u32,
    /// Bound on waiting for the environment.
    pub timeout: Duration,
    /// Check the environment URL's health path after deploy.
    pub health_check: bool,
    /// The seed's upgrade path: an Application Load Balancer with HTTPS (`false`: one
    /// instance, no load balancer).
    pub load_balanced: bool,
    /// The domain users type; its ACM certificate goes on the HTTPS listener, and its Route 53
    /// record points at the environment (alias when load-balanced, CNAME otherwise).
    pub domain: Option<String>,
    /// Where the domain's record is written; `None`: no record is written.
    pub hosted_zone: Option<HostedZone>,
    /// The certificate for the HTTPS listener; `None`: the ISSUED ACM certificate of `domain`.
    pub certificate_arn: Option<String>,
    /// The HTTPS listener's TLS policy; `None`: deploykit's default.
    pub ssl_policy: Option<String>,
    /// Auto Scaling bounds of a load-balanced environment.
    pub min_instances: u32,
    pub max_instances: u32,
}

/// EB `DeploymentPolicy` option values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentPolicy {
    AllAtOnce,
    Rolling,
    RollingWithAdditionalBatch,
    Immutable,
    TrafficSplitting,
}

impl DeploymentPolicy {
    /// The option value as EB spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentPolicy::AllAtOnce => "AllAtOnce",
            DeploymentPolicy::Rolling => "Rolling",
            DeploymentPolicy::RollingWithAdditionalBatch => "RollingWithAdditionalBatch",
            DeploymentPolicy::Immutable => "Immutable",
            DeploymentPolicy::TrafficSplitting => "TrafficSplitting",
        }
    }
}

/// `[apprunner]`: Route B, App Runner (and the container settings shared with ECS Express).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRunner {
    pub service: String,
    /// ECR repository name.
    pub repository: String,
    /// Name of the IAM role App Runner assumes to pull from ECR (its ARN is read from IAM).
    /// Default `<service>-apprunner-ecr-access`.
    pub access_role: String,
    /// Name of the IAM role the running service assumes (reads its runtime secrets); its ARN
    /// is read from IAM. Default `<service>-apprunner-instance`.
    pub instance_role: String,
    pub port: u16,
    /// App Runner spelling: `0.25 vCPU`, `0.5 vCPU`, `1 vCPU`, `2 vCPU`, `4 vCPU`.
    pub cpu: String,
    /// App Runner spelling: `0.5 GB` ... `12 GB`, valid for the chosen cpu.
    pub memory: String,
    pub health_path: String,
    pub min_size: u32,
    pub max_size: u32,
    pub vpc_connector: Option<VpcConnector>,
    pub scan_on_push: bool,
    pub tag_mutability: TagMutability,
    /// Images kept by the ECR lifecycle policy.
    pub keep_images: u32,
    /// Image platform, `linux/amd64` (default) or `linux/arm64`.
    pub platform: String,
    pub timeout: Duration,
    /// Docker build arguments (`ARG` values). Never secrets: they stay in the image history.
    pub build_args: BTreeMap<String, String>,
    /// Default custom domain for `apprunner domain add`, e.g. `app.example.com`.
    pub domain: Option<String>,
    /// Where `apprunner domain add` upserts the DNS records; `None`: print them for a human.
    pub hosted_zone: Option<HostedZone>,
}

/// `[containers] platform`: `"apprunner"` (default) or `"ecs-express"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainerPlatformKind {
    #[default]
    AppRunner,
    EcsExpress,
}

impl ContainerPlatformKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerPlatformKind::AppRunner => "apprunner",
            ContainerPlatformKind::EcsExpress => "ecs-express",
        }
    }
}

/// `[ecs]`: ECS Express Mode (Route B on accounts App Runner no longer accepts). The image is
/// built and pushed like App Runner's (`[apprunner]` repository, platform, build args).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ecs {
    /// ECS service name. Default: `[apprunner] service`.
    pub service: String,
    /// Fargate CPU units (`256` ... `16384`). Default `1024`.
    pub cpu: String,
    /// Memory in MiB, valid for the CPU. Default `2048`.
    pub memory: String,
    /// Container port. Default: `[apprunner] port`.
    pub port: u16,
    /// Load balancer health check path. Default: `[apprunner] health_path`.
    pub health_path: String,
    pub min_tasks: u32,
    pub max_tasks: u32,
    /// Task execution role name (pulls the image, reads the secrets). Default
    /// `<service>-ecs-execution`.
    pub execution_role: String,
    /// Infrastructure role name (ECS manages the load balancer etc.). Default
    /// `<service>-ecs-infrastructure`.
    pub infrastructure_role: String,
    /// Task role name the app's code runs as; `None`: no task role.
    pub task_role: Option<String>,
    pub timeout: Duration,
}

/// The Route 53 hosted zone that holds a custom domain's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostedZone {
    /// `hosted_zone = "auto"`: the public zone with the longest name the domain ends with.
    Auto,
    /// `hosted_zone = "Z0123456789ABCDEFGHIJ"`: this zone id.
    Id(String),
}

/// `[https]`: the ACM certificate the service's HTTPS uses (requested in the target's region,
/// the region of the EB environment's load balancer and of the App Runner service), DNS
/// validated through Route 53.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Https {
    /// The certificate's domain, lowercase without a trailing dot, e.g. `app.example.com`.
    pub domain: String,
    /// Other names it covers (`www.app.example.com`), normalized; never the domain itself.
    pub alternative_names: Vec<String>,
    /// The zone that holds the validation records. Default `auto`.
    pub hosted_zone: HostedZone,
    /// Bound on waiting for the certificate to be ISSUED. Default 30 minutes.
    pub timeout: Duration,
}

/// VPC egress for the service (needed to reach RDS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcConnector {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

/// ECR image tag mutability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMutability {
    Immutable,
    Mutable,
}

impl TagMutability {
    pub fn as_str(self) -> &'static str {
        match self {
            TagMutability::Immutable => "IMMUTABLE",
            TagMutability::Mutable => "MUTABLE",
        }
    }
}

/// `[database]`: the RDS PostgreSQL instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub instance: String,
    /// Major (or major.minor) PostgreSQL version, e.g. `16`.
    pub engine_version: String,
    pub instance_class: String,
    pub allocated_storage_gb: u32,
    /// Storage autoscaling ceiling; `None` disables autoscaling.
    pub max_allocated_storage_gb: Option<u32>,
    pub backup_retention_days: u32,
    pub db_name: String,
    pub username: String,
    /// Security group of the app (EB instances or the VPC connector) allowed in on 5432.
    pub app_security_group: Option<String>,
    pub subnet_group: Option<String>,
    pub subnets: Vec<String>,
    pub deletion_protection: bool,
    pub snapshot_before_deploy: bool,
    pub multi_az: bool,
    pub timeout: Duration,
    /// The Amazon RDS CA bundle of the target's region (absolute, from a path relative to
    /// deploy.toml); `None`: the bundle deploykit ships, which covers us-east-1 only.
    pub ca_bundle: Option<std::path::PathBuf>,
}

/// A reference to a Secrets Manager secret, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// Secret name (`budgetsync/db-url`) or full ARN.
    pub secret: String,
}

impl SecretRef {
    /// Whether `secret` is a full ARN rather than a name.
    pub fn is_arn(&self) -> bool {
        self.secret.starts_with("arn:")
    }
}

/// `[s3]`: the app's bucket (public access blocked, encrypted, ACLs off, TLS only) and where
/// its static files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3 {
    pub bucket: String,
    /// `None`: CORS is left as it is; `Some(vec![])` (`cors = []`): no CORS.
    pub cors: Option<Vec<S3Cors>>,
    /// The prefix the app writes uploads under (lifecycle rule), e.g. `receipts/`.
    pub uploads_prefix: Option<String>,
    /// Uploads expire this many days after creation.
    pub uploads_expire_days: Option<u32>,
    /// Incomplete multipart uploads under the prefix are aborted after this many days.
    pub uploads_abort_multipart_days: Option<u32>,
    /// The app's static directory (relative paths resolved against the app's path).
    /// Default `<app.path>/static`.
    pub static_dir: PathBuf,
    /// Key prefix of the static files, empty or ending in `/`. Default `static/`.
    pub static_prefix: String,
    /// Cache-Control of static files without a content hash in their name.
    /// Default `public, max-age=300`.
    pub static_cache_control: String,
    /// SSE-KMS key (id, ARN or `alias/...`); `None`: SSE-S3.
    pub kms_key: Option<String>,
}

/// One CORS rule of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Cors {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

/// `[alarms]`: the seed's CloudWatch alarms for the configured routes and the database,
/// notifying the SNS topic `<app>-<target>-alarms` with one email subscription. A threshold
/// left out is `None`: deploykit-alarms' default applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarms {
    /// The address subscribed to the topic (it must confirm SNS's mail).
    pub email: String,
    /// The app services watched (default: `eb`).
    pub routes: Vec<AlarmRoute>,
    /// RDS alarms for `[database] instance` (default true).
    pub database: bool,
    /// EB environment CPU (%).
    pub cpu_percent: Option<f64>,
    /// 5xx responses in 5 minutes (EB and App Runner).
    pub http_5xx: Option<f64>,
    /// EB `EnvironmentHealth` at or above: 15 (`warning`), 20 (`degraded`), 25 (`severe`).
    pub eb_health: Option<f64>,
    /// App Runner p95 latency (ms).
    pub latency_ms: Option<f64>,
    /// RDS CPU (%).
    pub db_cpu_percent: Option<f64>,
    /// RDS free storage (GiB) below this.
    pub db_free_storage_gb: Option<f64>,
    /// RDS connections above this.
    pub db_connections: Option<f64>,
}

/// An app service `[alarms] routes` can watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmRoute {
    /// The Elastic Beanstalk environment (`[eb] environment`).
    Eb,
    /// The App Runner service (`[apprunner] service`).
    AppRunner,
}
