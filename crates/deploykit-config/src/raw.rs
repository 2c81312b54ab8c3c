//! The deploy.toml schema as serde sees it: every field optional and spanned, unknown keys
//! refused. Defaults and rules are applied afterwards in `resolve`, so that every problem is
//! collected, located and explained, not just the first.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

pub(crate) type Opt<T> = Option<Spanned<T>>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub app: Option<RawApp>,
    pub default_target: Opt<String>,
    #[serde(default)]
    pub targets: BTreeMap<String, RawTarget>,
    #[serde(default)]
    pub eb: RawEb,
    #[serde(default)]
    pub apprunner: RawAppRunner,
    #[serde(default)]
    pub containers: RawContainers,
    #[serde(default)]
    pub ecs: RawEcs,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub s3: RawS3,
    #[serde(default)]
    pub https: RawHttps,
    #[serde(default)]
    pub alarms: RawAlarms,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, RawSecret>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApp {
    pub name: Opt<String>,
    pub path: Opt<String>,
    pub health_path: Opt<String>,
    pub port: Opt<u16>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    pub region: Opt<String>,
    pub profile: Opt<String>,
    pub endpoint_url: Opt<String>,
    pub local: Opt<bool>,
    pub http_resolve: Opt<String>,
    pub account_id: Opt<String>,
    #[serde(default)]
    pub eb: RawEb,
    #[serde(default)]
    pub apprunner: RawAppRunner,
    #[serde(default)]
    pub containers: RawContainers,
    #[serde(default)]
    pub ecs: RawEcs,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub s3: RawS3,
    #[serde(default)]
    pub https: RawHttps,
    #[serde(default)]
    pub alarms: RawAlarms,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, RawSecret>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEb {
    pub application: Opt<String>,
    pub environment: Opt<String>,
    pub instance_type: Opt<String>,
    pub platform: Opt<String>,
    pub service_role: Opt<String>,
    pub instance_profile: Opt<String>,
    pub bucket: Opt<String>,
    pub deployment_policy: Opt<String>,
    pub enhanced_health: Opt<bool>,
    pub log_streaming: Opt<bool>,
    pub log_retention_days: Opt<u32>,
    pub keep_versions: Opt<u32>,
    pub timeout: Opt<String>,
    pub health_check: Opt<bool>,
    pub load_balanced: Opt<bool>,
    pub domain: Opt<String>,
    pub hosted_zone: Opt<String>,
    pub certificate_arn: Opt<String>,
    pub ssl_policy: Opt<String>,
    pub min_instances: Opt<u32>,
    pub max_instances: Opt<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAppRunner {
    pub service: Opt<String>,
    pub repository: Opt<String>,
    /// Renamed to `access_role`; kept only to refuse it with the fix.
    pub access_role_arn: Opt<String>,
    pub access_role: Opt<String>,
    pub instance_role: Opt<String>,
    pub port: Opt<u16>,
    pub cpu: Opt<String>,
    pub memory: Opt<String>,
    pub health_path: Opt<String>,
    pub min_size: Opt<u32>,
    pub max_size: Opt<u32>,
    pub vpc_connector: Opt<RawVpcConnector>,
    pub scan_on_push: Opt<bool>,
    pub tag_mutability: Opt<String>,
    pub keep_images: Opt<u32>,
    pub platform: Opt<String>,
    pub timeout: Opt<String>,
    pub build_args: Opt<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub domain: Opt<String>,
    pub hosted_zone: Opt<String>,
}

/// `[containers]`: which platform Route B's image runs on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContainers {
    pub platform: Opt<String>,
}

/// `[ecs]`: ECS Express Mode settings (the image, repository and build come from `[apprunner]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEcs {
    pub service: Opt<String>,
    pub cpu: Opt<String>,
    pub memory: Opt<String>,
    pub port: Opt<u16>,
    pub health_path: Opt<String>,
    pub min_tasks: Opt<u32>,
    pub max_tasks: Opt<u32>,
    pub execution_role: Opt<String>,
    pub infrastructure_role: Opt<String>,
    pub task_role: Opt<String>,
    pub timeout: Opt<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVpcConnector {
    #[serde(default)]
    pub subnets: Vec<Spanned<String>>,
    #[serde(default)]
    pub security_groups: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDatabase {
    pub instance: Opt<String>,
    pub engine_version: Opt<String>,
    pub instance_class: Opt<String>,
    pub allocated_storage_gb: Opt<u32>,
    pub max_allocated_storage_gb: Opt<u32>,
    pub backup_retention_days: Opt<u32>,
    pub db_name: Opt<String>,
    pub username: Opt<String>,
    pub app_security_group: Opt<String>,
    pub subnet_group: Opt<String>,
    pub subnets: Opt<Vec<Spanned<String>>>,
    pub deletion_protection: Opt<bool>,
    pub snapshot_before_deploy: Opt<bool>,
    pub multi_az: Opt<bool>,
    pub timeout: Opt<String>,
    pub ca_bundle: Opt<String>,
}

/// `[s3]`: the app's bucket and static files.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawS3 {
    pub bucket: Opt<String>,
    pub cors: Opt<Vec<RawCors>>,
    pub uploads_prefix: Opt<String>,
    pub uploads_expire_days: Opt<u32>,
    pub uploads_abort_multipart_days: Opt<u32>,
    pub static_dir: Opt<String>,
    pub static_prefix: Opt<String>,
    pub static_cache_control: Opt<String>,
    pub kms_key: Opt<String>,
}

/// `[https]`: the certificate's names and where their DNS records live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttps {
    pub domain: Opt<String>,
    pub alternative_names: Opt<Vec<Spanned<String>>>,
    pub hosted_zone: Opt<String>,
    pub timeout: Opt<String>,
}

/// `[alarms]`: CloudWatch alarms and the SNS topic they notify.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlarms {
    pub email: Opt<String>,
    pub routes: Opt<Vec<Spanned<String>>>,
    pub database: Opt<bool>,
    pub cpu_percent: Opt<f64>,
    pub http_5xx: Opt<f64>,
    pub eb_health: Opt<String>,
    pub latency_ms: Opt<f64>,
    pub db_cpu_percent: Opt<f64>,
    pub db_free_storage_gb: Opt<f64>,
    pub db_connections: Opt<f64>,
}

/// One `[[s3.cors]]` rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCors {
    pub allowed_origins: Vec<Spanned<String>>,
    pub allowed_methods: Vec<Spanned<String>>,
    #[serde(default)]
    pub allowed_headers: Vec<Spanned<String>>,
    #[serde(default)]
    pub expose_headers: Vec<Spanned<String>>,
    pub max_age_seconds: Opt<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecret {
    pub secret: Spanned<String>,
}

/// Field-by-field override: a field set in `over` wins, otherwise `base`'s value is kept.
macro_rules! merge_fields {
    ($ty:ident { $($f:ident),* $(,)? }) => {
        impl $ty {
            pub(crate) fn merged(&self, over: &$ty) -> $ty {
                $ty { $($f: over.$f.clone().or_else(|| self.$f.clone()),)* }
            }
        }
    };
}

merge_fields!(RawEb {
    application,
    environment,
    instance_type,
    platform,
    service_role,
    instance_profile,
    bucket,
    deployment_policy,
    enhanced_health,
    log_streaming,
    log_retention_days,
    keep_versions,
    timeout,
    health_check,
    load_balanced,
    domain,
    hosted_zone,
    certificate_arn,
    ssl_policy,
    min_instances,
    max_instances,
});
merge_fields!(RawContainers { platform });
merge_fields!(RawEcs {
    service,
    cpu,
    memory,
    port,
    health_path,
    min_tasks,
    max_tasks,
    execution_role,
    infrastructure_role,
    task_role,
    timeout,
});
merge_fields!(RawAppRunner {
    service,
    repository,
    access_role_arn,
    access_role,
    instance_role,
    port,
    cpu,
    memory,
    health_path,
    min_size,
    max_size,
    vpc_connector,
    scan_on_push,
    tag_mutability,
    keep_images,
    platform,
    timeout,
    build_args,
    domain,
    hosted_zone,
});
merge_fields!(RawDatabase {
    instance,
    engine_version,
    instance_class,
    allocated_storage_gb,
    max_allocated_storage_gb,
    backup_retention_days,
    db_name,
    username,
    app_security_group,
    subnet_group,
    subnets,
    deletion_protection,
    snapshot_before_deploy,
    multi_az,
    timeout,
    ca_bundle,
});
merge_fields!(RawS3 {
    bucket,
    cors,
    uploads_prefix,
    uploads_expire_days,
    uploads_abort_multipart_days,
    static_dir,
    static_prefix,
    static_cache_control,
    kms_key,
});
merge_fields!(RawHttps {
    domain,
    alternative_names,
    hosted_zone,
    timeout,
});
merge_fields!(RawAlarms {
    email,
    routes,
    database,
    cpu_percent,
    http_5xx,
    eb_health,
    latency_ms,
    db_cpu_percent,
    db_free_storage_gb,
    db_connections,
});
