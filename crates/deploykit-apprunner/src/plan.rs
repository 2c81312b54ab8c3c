//! The service spec, the view of what exists, and the pure planner over them.

use std::collections::BTreeMap;

use super::error::AppRunnerError;

/// The service we want, in App Runner's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    /// `host/repository:tag` in ECR.
    pub image: String,
    /// IAM role App Runner uses to pull from private ECR.
    pub access_role_arn: Option<String>,
    /// IAM role the running service assumes (`InstanceConfiguration.InstanceRoleArn`): it is
    /// what reads `secrets` at start, so a service with secrets needs one.
    pub instance_role_arn: Option<String>,
    pub port: u16,
    pub env: BTreeMap<String, String>,
    /// Environment variable name -> Secrets Manager / SSM ARN.
    pub secrets: BTreeMap<String, String>,
    /// e.g. `1 vCPU`, `2 GB`.
    pub cpu: String,
    pub memory: String,
    pub health_path: String,
    pub min_size: u32,
    pub max_size: u32,
    /// VPC egress (to reach a private RDS): a VPC connector is ensured for these.
    pub vpc: Option<VpcEgress>,
}

/// Subnets and security groups of a service's VPC connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcEgress {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

/// Name of the VPC connector for `service` and `vpc`: content-addressed, because App Runner
/// keeps one active revision per name and a connector in use cannot be deleted, so changed
/// subnets or groups get a new connector (and the service moves to it) instead of an edit.
/// At most 40 characters: letter or digit first, then letters, digits, `-` and `_`.
pub fn vpc_connector_name(service: &str, vpc: &VpcEgress) -> String {
    use sha2::{Digest, Sha256};
    let mut subnets = vpc.subnets.clone();
    subnets.sort();
    let mut groups = vpc.security_groups.clone();
    groups.sort();
    let mut h = Sha256::new();
    h.update(subnets.join(",").as_bytes());
    h.update(b"|");
    h.update(groups.join(",").as_bytes());
    let digest = hex::encode(h.finalize());
    let base: String = service
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(31)
        .collect();
    format!("{base}-{}", &digest[..8])
}

/// What exists now, as far as planning cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    pub arn: String,
    pub status: String,
    pub image: Option<String>,
    pub url: Option<String>,
    pub auto_deployments: bool,
    /// The running configuration, when DescribeService returned it.
    pub config: Option<LiveConfig>,
}

/// The parts of a running service's configuration a deploy sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveConfig {
    pub port: Option<String>,
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub health_path: Option<String>,
    /// Auto scaling bounds of the service's auto scaling configuration.
    pub min_size: Option<u32>,
    pub max_size: Option<u32>,
    /// Name of the VPC connector the service egresses through; `None`: default egress.
    pub vpc_connector: Option<String>,
    pub instance_role_arn: Option<String>,
    pub access_role_arn: Option<String>,
}

/// The name in a VPC connector ARN
/// (`arn:aws:apprunner:REGION:ACCOUNT:vpcconnector/NAME/REVISION/ID`).
pub fn vpc_connector_name_of_arn(arn: &str) -> Option<&str> {
    arn.split_once(":vpcconnector/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|n| !n.is_empty())
}

/// App Runner answers CPU and memory as `1024` / `2048` whatever spelling created them
/// (`1 vCPU`, `2 GB`): both sides go through this before comparing.
pub(super) fn normalize_size(v: &str) -> String {
    let v = v.trim();
    let lower = v.to_ascii_lowercase();
    let (num, unit) = lower
        .split_once(' ')
        .map(|(n, u)| (n.to_string(), u.trim().to_string()))
        .unwrap_or((lower.clone(), String::new()));
    match (num.parse::<f64>(), unit.as_str()) {
        (Ok(n), "vcpu" | "gb") => format!("{}", (n * 1024.0).round() as u64),
        _ => v.to_string(),
    }
}

/// Whether the running configuration is what `spec` asks for: everything a deploy sends
/// (image configuration, instance size and role, health check, auto scaling, egress, access
/// role) is compared, so a change to any one of them alone plans an update.
pub(super) fn config_matches(spec: &ServiceSpec, live: &LiveConfig) -> bool {
    let wanted_connector = spec.vpc.as_ref().map(|v| vpc_connector_name(&spec.name, v));
    live.port.as_deref() == Some(spec.port.to_string().as_str())
        && live.min_size == Some(spec.min_size)
        && live.max_size == Some(spec.max_size)
        && live.vpc_connector == wanted_connector
        && live.instance_role_arn == spec.instance_role_arn
        && live.access_role_arn == spec.access_role_arn
        && live.env == spec.env
        && live.secrets == spec.secrets
        && live.cpu.as_deref().map(normalize_size) == Some(normalize_size(&spec.cpu))
        && live.memory.as_deref().map(normalize_size) == Some(normalize_size(&spec.memory))
        && live.health_path.as_deref().unwrap_or("/") == spec.health_path
}

/// What a deploy will do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create,
    /// Delete the CREATE_FAILED service, then create it again.
    Recreate,
    /// UpdateService to a new image (and configuration).
    Update {
        from_image: Option<String>,
    },
    /// Same image identifier, configuration unknown: StartDeployment pulls it again.
    Redeploy,
    /// Same image and the same configuration: nothing to send (the URL is still checked).
    Unchanged,
}

impl Action {
    /// The step's verb for progress lines: "Create", "Update", ...
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create => "Create",
            Action::Recreate => "Recreate",
            Action::Update { .. } => "Update",
            Action::Redeploy => "Redeploy",
            Action::Unchanged => "Check unchanged",
        }
    }

    /// The plan line: "create", "update (running IMAGE now)", "unchanged (nothing to send)".
    pub fn summary(&self) -> String {
        match self {
            Action::Create => "create".into(),
            Action::Recreate => {
                "recreate (delete the CREATE_FAILED service, create it again)".into()
            }
            Action::Update {
                from_image: Some(i),
            } => format!("update (running {i} now)"),
            Action::Update { from_image: None } => "update".into(),
            Action::Redeploy => "redeploy the same image (pull it again)".into(),
            Action::Unchanged => "unchanged (same image and configuration: nothing to send)".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    pub service: String,
    pub image: String,
    pub action: Action,
    pub existing_arn: Option<String>,
    /// Tags a create sends (`Tags` of CreateService): the caller's deploy lock, so a first
    /// deploy is locked from its first moment. Not sent on update.
    #[serde(skip)]
    pub create_tags: std::collections::BTreeMap<String, String>,
}

/// Decides the action from what exists. Pure.
pub fn plan_service(
    spec: &ServiceSpec,
    existing: Option<&ServiceView>,
    recreate: bool,
) -> Result<Plan, AppRunnerError> {
    validate(spec)?;
    let action = match existing {
        None => Action::Create,
        Some(v) => match v.status.as_str() {
            "CREATE_FAILED" if recreate => Action::Recreate,
            "CREATE_FAILED" => {
                return Err(AppRunnerError::CreateFailed {
                    service: spec.name.clone(),
                    why: " from an earlier deploy".into(),
                });
            }
            "RUNNING" if v.image.as_deref() == Some(spec.image.as_str()) && !v.auto_deployments => {
                match &v.config {
                    Some(live) if config_matches(spec, live) => Action::Unchanged,
                    Some(_) => Action::Update {
                        from_image: v.image.clone(),
                    },
                    None => Action::Redeploy,
                }
            }
            "RUNNING" => Action::Update {
                from_image: v.image.clone(),
            },
            "OPERATION_IN_PROGRESS" => {
                return Err(AppRunnerError::Blocked {
                    service: spec.name.clone(),
                    status: v.status.clone(),
                    what_to_do: "another operation is running; wait for it to finish (the service's status shows it) and deploy again".into(),
                });
            }
            "PAUSED" => {
                return Err(AppRunnerError::Blocked {
                    service: spec.name.clone(),
                    status: v.status.clone(),
                    what_to_do: "resume it first (ResumeService / the console), then deploy".into(),
                });
            }
            other => {
                return Err(AppRunnerError::Blocked {
                    service: spec.name.clone(),
                    status: other.to_string(),
                    what_to_do: "wait until it is RUNNING or deleted".into(),
                });
            }
        },
    };
    Ok(Plan {
        service: spec.name.clone(),
        image: spec.image.clone(),
        action,
        existing_arn: existing.map(|v| v.arn.clone()),
        create_tags: std::collections::BTreeMap::new(),
    })
}

pub(super) fn validate(spec: &ServiceSpec) -> Result<(), AppRunnerError> {
    let bad = |m: String| {
        Err(AppRunnerError::Invalid {
            service: spec.name.clone(),
            message: m,
        })
    };
    if spec.name.len() < 4 || spec.name.len() > 40 {
        return bad("the service name must be 4 to 40 characters".into());
    }
    if spec.min_size < 1 || spec.max_size < spec.min_size {
        return bad(format!(
            "auto scaling needs 1 <= min_size <= max_size (got {}..{})",
            spec.min_size, spec.max_size
        ));
    }
    if !spec.health_path.starts_with('/') {
        return bad(format!(
            "health_path must start with '/' (got {:?})",
            spec.health_path
        ));
    }
    if !spec.secrets.is_empty() && spec.instance_role_arn.is_none() {
        let names: Vec<&str> = spec.secrets.keys().map(String::as_str).collect();
        return bad(format!(
            "the service has runtime secrets ({}) but no instance role: App Runner reads them with the instance role, so the service could not start; give it an instance role allowed secretsmanager:GetSecretValue on them",
            names.join(", ")
        ));
    }
    if spec.image.contains(".dkr.ecr.") && spec.access_role_arn.is_none() {
        return bad(
            "an image in private ECR needs access_role_arn (a role App Runner assumes to pull)"
                .into(),
        );
    }
    Ok(())
}
