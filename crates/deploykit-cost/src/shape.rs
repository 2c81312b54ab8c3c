//! What is estimated: the sizes and counts of one target, as plain data.
//!
//! [`Shape::from_target`] reads them from a resolved deploy.toml target; tests and callers can
//! also build or adjust a `Shape` directly (for example the seed's load-balanced "small prod",
//! which deploy.toml cannot express yet).

use serde::Serialize;

use deploykit_config::{ContainerPlatformKind, ResolvedTarget};

use crate::CostError;

/// Which of the target's two routes to estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// Route A: Elastic Beanstalk (`[eb]`).
    Eb,
    /// Route B: the container platform `[containers] platform` names (App Runner or ECS
    /// Express Mode).
    Containers,
}

/// The compute the route runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Compute {
    Eb {
        instance_type: String,
        /// `false`: a single-instance environment (what deploykit-eb creates today).
        load_balanced: bool,
    },
    AppRunner {
        vcpu: f64,
        memory_gb: f64,
        /// Instances kept provisioned (`[apprunner] min_size`).
        min_instances: u32,
    },
    EcsExpress {
        vcpu: f64,
        memory_gb: f64,
        /// Tasks always running (`[ecs] min_tasks`).
        min_tasks: u32,
    },
}

impl Compute {
    /// Human name of the route, e.g. `Elastic Beanstalk, single instance`.
    pub fn label(&self) -> &'static str {
        match self {
            Compute::Eb {
                load_balanced: false,
                ..
            } => "Elastic Beanstalk, single instance",
            Compute::Eb {
                load_balanced: true,
                ..
            } => "Elastic Beanstalk, load balanced",
            Compute::AppRunner { .. } => "App Runner",
            Compute::EcsExpress { .. } => "ECS Express Mode",
        }
    }
}

/// RDS storage types the estimator prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    Gp2,
    Gp3,
}

impl StorageType {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageType::Gp2 => "gp2",
            StorageType::Gp3 => "gp3",
        }
    }
}

/// The RDS instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseShape {
    pub instance_class: String,
    pub multi_az: bool,
    pub storage_type: StorageType,
    pub allocated_gb: u32,
    /// Storage autoscaling ceiling, when on.
    pub max_allocated_gb: Option<u32>,
    pub backup_retention_days: u32,
}

/// Everything the estimate multiplies prices by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shape {
    /// The deploy.toml target (or any label).
    pub target: String,
    pub region: String,
    /// The local target: nothing is billed; the estimate is what the same shape costs on AWS.
    pub local: bool,
    pub compute: Compute,
    pub database: Option<DatabaseShape>,
    /// Secrets Manager secrets the app reads (`[secrets]`, distinct names).
    pub app_secrets: u32,
    /// RDS keeps the master password in a Secrets Manager secret of its own (billed too).
    pub rds_managed_secret: bool,
    /// The app bucket (`[s3] bucket`, else `[env] S3_BUCKET`), when there is one.
    pub app_bucket: Option<String>,
    /// deploy.toml names a Route 53 hosted zone (`[apprunner] hosted_zone`).
    pub hosted_zone: bool,
    /// Logs reach CloudWatch Logs (`[eb] log_streaming`; App Runner and ECS always stream).
    pub streams_logs: bool,
}

impl Shape {
    /// Reads the shape of `target` for `route`.
    ///
    /// Fixed by the crates that create the resources, not by deploy.toml: EB environments are
    /// single-instance unless `[eb] load_balanced` (an ALB), RDS storage is
    /// gp3 (deploykit-rds) and RDS manages the master password in Secrets Manager.
    pub fn from_target(t: &ResolvedTarget, route: Route) -> Result<Shape, CostError> {
        let compute = match route {
            Route::Eb => Compute::Eb {
                instance_type: t.eb.instance_type.clone(),
                load_balanced: t.eb.load_balanced,
            },
            Route::Containers => match t.platform {
                ContainerPlatformKind::AppRunner => Compute::AppRunner {
                    vcpu: apprunner_vcpu(t)?,
                    memory_gb: apprunner_memory_gb(t)?,
                    min_instances: t.apprunner.min_size,
                },
                ContainerPlatformKind::EcsExpress => Compute::EcsExpress {
                    vcpu: number(t, "[ecs] cpu", &t.ecs.cpu, "CPU units")? / 1024.0,
                    memory_gb: number(t, "[ecs] memory", &t.ecs.memory, "MiB")? / 1024.0,
                    min_tasks: t.ecs.min_tasks,
                },
            },
        };
        let d = &t.database;
        let mut secrets: Vec<&str> = t.secrets.values().map(|s| s.secret.as_str()).collect();
        secrets.sort_unstable();
        secrets.dedup();
        Ok(Shape {
            target: t.name.clone(),
            region: t.region.clone(),
            local: t.local,
            streams_logs: match compute {
                Compute::Eb { .. } => t.eb.log_streaming,
                _ => true,
            },
            compute,
            database: Some(DatabaseShape {
                instance_class: d.instance_class.clone(),
                multi_az: d.multi_az,
                storage_type: StorageType::Gp3,
                allocated_gb: d.allocated_storage_gb,
                max_allocated_gb: d.max_allocated_storage_gb,
                backup_retention_days: d.backup_retention_days,
            }),
            app_secrets: u32::try_from(secrets.len()).unwrap_or(u32::MAX),
            rds_managed_secret: true,
            // `[s3] bucket`, else the bucket the app is told about (`[env] S3_BUCKET`).
            app_bucket: t
                .s3
                .as_ref()
                .map(|s| s.bucket.clone())
                .or_else(|| t.env.get("S3_BUCKET").cloned()),
            hosted_zone: route == Route::Containers && t.apprunner.hosted_zone.is_some(),
        })
    }
}

/// `1 vCPU` / `0.25 vCPU` / `1024` (CPU units).
fn apprunner_vcpu(t: &ResolvedTarget) -> Result<f64, CostError> {
    let v = t.apprunner.cpu.trim();
    match v.strip_suffix("vCPU") {
        Some(n) => number(t, "[apprunner] cpu", n, "vCPU"),
        None => Ok(number(t, "[apprunner] cpu", v, "vCPU")? / 1024.0),
    }
}

/// `2 GB` / `2048` (MB).
fn apprunner_memory_gb(t: &ResolvedTarget) -> Result<f64, CostError> {
    let v = t.apprunner.memory.trim();
    match v.strip_suffix("GB") {
        Some(n) => number(t, "[apprunner] memory", n, "GB"),
        None => Ok(number(t, "[apprunner] memory", v, "GB")? / 1024.0),
    }
}

fn number(
    t: &ResolvedTarget,
    field: &str,
    value: &str,
    expected: &'static str,
) -> Result<f64, CostError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n > 0.0)
        .ok_or_else(|| CostError::Unreadable {
            target: t.name.clone(),
            field: field.to_owned(),
            value: value.to_owned(),
            expected,
        })
}
