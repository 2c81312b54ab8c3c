//! App Runner services behind a [`ContainerPlatform`] seam: create, update, operations, rollback states.
//!
//! Build and push never see this crate: they produce an image reference (`host/repo:tag`), and
//! a platform runs it: [`ContainerPlatform::AppRunner`] or [`ContainerPlatform::EcsExpress`]
//! (ECS Express Mode, `CreateExpressGatewayService`: App Runner's successor for new AWS
//! accounts, see [`ecs`]). Both share [`ServiceSpec`], [`Plan`], [`DeployOutcome`],
//! [`StatusReport`], the bounded waits and the health check.
//!
//! Plan then execute: [`plan_service`] is pure over a [`ServiceView`] of what exists.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_sdk_apprunner::types::{
    AuthenticationConfiguration, EgressConfiguration, EgressType, HealthCheckConfiguration,
    HealthCheckProtocol, ImageConfiguration, ImageRepository, ImageRepositoryType,
    InstanceConfiguration, NetworkConfiguration, OperationStatus, ServiceStatus,
    SourceConfiguration,
};
use deploykit_aws::{Classified, ErrorKind, classify};
use deploykit_report::{Event, Level, Reporter, StepTimer};

mod diagnostic;
mod domain;
pub mod ecs;
pub mod rollback;
pub use domain::{DnsRecord, DomainRecords, associate_domain, describe_domain, wait_domain};
pub use ecs::{EcsExpress, EcsRoles, plan_ecs};

/// Error codes with which AWS refuses App Runner to accounts that may not use it.
pub const NOT_AVAILABLE_CODES: &[&str] = &[
    "SubscriptionRequiredException",
    "OptInRequired",
    "AccountNotSupportedException",
];

#[derive(Debug, thiserror::Error)]
pub enum AppRunnerError {
    #[error("App Runner {operation} failed for service {service}: {classified}")]
    Aws {
        operation: &'static str,
        service: String,
        classified: Box<Classified>,
    },
    #[error(
        "AWS refused App Runner to this account ({code} on {operation}): App Runner is closed to new AWS customers"
    )]
    NotAvailableForAccount {
        operation: &'static str,
        code: String,
    },
    #[error("{platform} is not yet supported by deploykit")]
    NotYetSupported { platform: &'static str },
    #[error(
        "deploy of {image} to {service} failed: operation {operation_id} ended {status}. The service still runs the previous image{previous}"
    )]
    RolledBack {
        service: String,
        image: String,
        operation_id: String,
        status: String,
        previous: String,
    },
    #[error(
        "ROLLBACK FAILED on {service}: operation {operation_id} could not restore the previous image. The service may be down"
    )]
    RollbackFailed {
        service: String,
        operation_id: String,
    },
    #[error(
        "service {service} is CREATE_FAILED{why}. App Runner cannot update a service in this state"
    )]
    CreateFailed { service: String, why: String },
    #[error("service {service} is {status}; deploykit cannot deploy to it now")]
    Blocked {
        service: String,
        status: String,
        /// Why, and what to do; [`deploykit_report::Diagnostic::help`] returns it.
        what_to_do: String,
    },
    #[error("timed out after {}s waiting for {what}", waited.as_secs())]
    Timeout { what: String, waited: Duration },
    #[error("service {service} is RUNNING but {url}{path} did not answer 200 within {}s (last: {last})", waited.as_secs())]
    Unhealthy {
        service: String,
        url: String,
        path: String,
        last: String,
        waited: Duration,
    },
    #[error("invalid service definition for {service}: {message}")]
    Invalid { service: String, message: String },
    #[error("ECS {operation} failed for service {service}: {classified}")]
    EcsAws {
        operation: &'static str,
        service: String,
        classified: Box<Classified>,
    },
    #[error(
        "deploy of {image} to {service} failed and ECS rolled back (deployment {deployment}: {reason}). \
         The service still runs the previous revision{previous}"
    )]
    EcsRolledBack {
        service: String,
        image: String,
        deployment: String,
        reason: String,
        previous: String,
    },
    #[error(
        "deployment {deployment} of {image} to {service} ended {status}: {reason}. Nothing healthy serves the new revision \
         (on a first deployment there is nothing to roll back to)"
    )]
    EcsDeploymentFailed {
        service: String,
        image: String,
        deployment: String,
        status: String,
        reason: String,
    },
    #[error("ECR {operation} failed for repository {repository}: {classified}")]
    Ecr {
        operation: &'static str,
        repository: String,
        classified: Box<Classified>,
    },
    #[error("cannot roll back {service}: {reason}")]
    NoRollbackTarget {
        service: String,
        reason: String,
        /// What to do; [`deploykit_report::Diagnostic::help`] returns it.
        fix: String,
    },
}

fn aws_err<E>(
    operation: &'static str,
    service: &str,
    err: &aws_sdk_apprunner::error::SdkError<E, aws_sdk_apprunner::config::http::HttpResponse>,
) -> AppRunnerError
where
    E: aws_sdk_apprunner::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let classified = classify(err);
    if let Some(code) = classified.code.as_deref()
        && NOT_AVAILABLE_CODES.contains(&code)
    {
        return AppRunnerError::NotAvailableForAccount {
            operation,
            code: code.to_string(),
        };
    }
    AppRunnerError::Aws {
        operation,
        service: service.to_string(),
        classified: Box::new(classified),
    }
}

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

/// The ARN of the active VPC connector for `vpc`, created when missing.
pub async fn ensure_vpc_connector(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    vpc: &VpcEgress,
    reporter: &dyn Reporter,
) -> Result<String, AppRunnerError> {
    let name = vpc_connector_name(service, vpc);
    let mut pages = client.list_vpc_connectors().into_paginator().send();
    while let Some(out) = pages
        .try_next()
        .await
        .map_err(|e| aws_err("ListVpcConnectors", service, &e))?
    {
        if let Some(c) = out.vpc_connectors().iter().find(|c| {
            c.vpc_connector_name() == Some(name.as_str())
                && c.status() == Some(&aws_sdk_apprunner::types::VpcConnectorStatus::Active)
        }) {
            let arn = c.vpc_connector_arn().unwrap_or_default().to_string();
            reporter.report(Event::info(format!("VPC connector {name} exists: {arn}")));
            return Ok(arn);
        }
    }
    let out = client
        .create_vpc_connector()
        .vpc_connector_name(&name)
        .set_subnets(Some(vpc.subnets.clone()))
        .set_security_groups(Some(vpc.security_groups.clone()))
        .send()
        .await
        .map_err(|e| aws_err("CreateVpcConnector", service, &e))?;
    let arn = out
        .vpc_connector()
        .and_then(|c| c.vpc_connector_arn())
        .unwrap_or_default()
        .to_string();
    reporter.report(Event::info(format!(
        "created VPC connector {name} ({} subnets, {} security groups): {arn}",
        vpc.subnets.len(),
        vpc.security_groups.len()
    )));
    Ok(arn)
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
fn normalize_size(v: &str) -> String {
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
fn config_matches(spec: &ServiceSpec, live: &LiveConfig) -> bool {
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
    })
}

fn validate(spec: &ServiceSpec) -> Result<(), AppRunnerError> {
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

pub use deploykit_report::WaitOptions;

/// How to reach the service URL for the health check.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// Connect here instead of resolving the service host (the local edge), like `curl --resolve`.
    pub resolve: Option<SocketAddr>,
}

/// The end of a successful deploy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeployOutcome {
    pub service: String,
    pub service_arn: String,
    pub action: Action,
    pub operation_id: String,
    pub operation_status: String,
    pub service_status: String,
    pub service_url: String,
    pub image: String,
}

/// The service's current state, for `apprunner status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusReport {
    pub service: String,
    pub arn: Option<String>,
    pub status: String,
    pub url: Option<String>,
    pub image: Option<String>,
    /// Most recent first: (id, type, status).
    pub operations: Vec<(String, String, String)>,
}

/// The seam between "an image exists" and "it runs somewhere".
#[derive(Debug, Clone)]
pub enum ContainerPlatform {
    AppRunner(aws_sdk_apprunner::Client),
    /// ECS Express Mode (CreateExpressGatewayService in aws-sdk-ecs).
    EcsExpress(EcsExpress),
}

impl ContainerPlatform {
    fn client(&self) -> Result<&aws_sdk_apprunner::Client, AppRunnerError> {
        match self {
            ContainerPlatform::AppRunner(c) => Ok(c),
            ContainerPlatform::EcsExpress(_) => Err(AppRunnerError::NotYetSupported {
                platform: "this App Runner operation on ECS Express Mode",
            }),
        }
    }

    /// Looks at what exists and plans the deploy. Read-only.
    pub async fn plan(&self, spec: &ServiceSpec, recreate: bool) -> Result<Plan, AppRunnerError> {
        if let ContainerPlatform::EcsExpress(e) = self {
            return e.plan(spec).await;
        }
        let client = self.client()?;
        let existing = find_service(client, &spec.name).await?;
        plan_service(spec, existing.as_ref(), recreate)
    }

    /// Executes `plan`, waits for our operation and checks the service answers.
    pub async fn deploy(
        &self,
        plan: &Plan,
        spec: &ServiceSpec,
        wait: WaitOptions,
        probe: &Probe,
        reporter: &dyn Reporter,
    ) -> Result<DeployOutcome, AppRunnerError> {
        if let ContainerPlatform::EcsExpress(e) = self {
            return e.deploy(plan, spec, wait, probe, reporter).await;
        }
        let client = self.client()?;
        deploy_apprunner(client, plan, spec, wait, probe, reporter).await
    }

    /// The service and its recent operations.
    pub async fn status(&self, name: &str) -> Result<StatusReport, AppRunnerError> {
        if let ContainerPlatform::EcsExpress(e) = self {
            return e.status(name).await;
        }
        let client = self.client()?;
        let Some(view) = find_service(client, name).await? else {
            return Ok(StatusReport {
                service: name.into(),
                arn: None,
                status: "NOT_FOUND".into(),
                url: None,
                image: None,
                operations: vec![],
            });
        };
        let ops = client
            .list_operations()
            .service_arn(&view.arn)
            .send()
            .await
            .map_err(|e| aws_err("ListOperations", name, &e))?;
        let operations = ops
            .operation_summary_list()
            .iter()
            .map(|o| {
                (
                    o.id().unwrap_or_default().to_string(),
                    o.r#type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    o.status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        Ok(StatusReport {
            service: name.into(),
            arn: Some(view.arn),
            status: view.status,
            url: view.url,
            image: view.image,
            operations,
        })
    }
}

/// The service named `name`, if it exists (deleted ones do not count).
pub async fn find_service(
    client: &aws_sdk_apprunner::Client,
    name: &str,
) -> Result<Option<ServiceView>, AppRunnerError> {
    let mut pages = client.list_services().into_paginator().send();
    while let Some(out) = pages
        .try_next()
        .await
        .map_err(|e| aws_err("ListServices", name, &e))?
    {
        for s in out.service_summary_list() {
            if s.service_name() == Some(name) && s.status() != Some(&ServiceStatus::Deleted) {
                let arn = s.service_arn().unwrap_or_default().to_string();
                return describe(client, name, &arn).await.map(Some);
            }
        }
    }
    Ok(None)
}

async fn describe(
    client: &aws_sdk_apprunner::Client,
    name: &str,
    arn: &str,
) -> Result<ServiceView, AppRunnerError> {
    let out = client
        .describe_service()
        .service_arn(arn)
        .send()
        .await
        .map_err(|e| aws_err("DescribeService", name, &e))?;
    let svc = out.service().ok_or_else(|| AppRunnerError::Invalid {
        service: name.into(),
        message: "DescribeService returned no service".into(),
    })?;
    let src = svc.source_configuration();
    let image_cfg = src
        .and_then(|s| s.image_repository())
        .and_then(|r| r.image_configuration());
    let config = image_cfg.map(|c| LiveConfig {
        port: c.port().map(str::to_string),
        env: c
            .runtime_environment_variables()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        secrets: c
            .runtime_environment_secrets()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        cpu: svc
            .instance_configuration()
            .and_then(|i| i.cpu())
            .map(str::to_string),
        memory: svc
            .instance_configuration()
            .and_then(|i| i.memory())
            .map(str::to_string),
        health_path: svc
            .health_check_configuration()
            .and_then(|h| h.path())
            .map(str::to_string),
        min_size: None,
        max_size: None,
        vpc_connector: svc
            .network_configuration()
            .and_then(|n| n.egress_configuration())
            .filter(|e| e.egress_type() == Some(&EgressType::Vpc))
            .and_then(|e| e.vpc_connector_arn())
            .and_then(vpc_connector_name_of_arn)
            .map(str::to_string),
        instance_role_arn: svc
            .instance_configuration()
            .and_then(|i| i.instance_role_arn())
            .map(str::to_string),
        access_role_arn: src
            .and_then(|s| s.authentication_configuration())
            .and_then(|a| a.access_role_arn())
            .map(str::to_string),
    });
    // DescribeService names the auto scaling configuration, not its bounds: read them.
    let config = match (config, svc.auto_scaling_configuration_summary()) {
        (Some(mut c), Some(asc)) => {
            if let Some(asc_arn) = asc.auto_scaling_configuration_arn() {
                let d = client
                    .describe_auto_scaling_configuration()
                    .auto_scaling_configuration_arn(asc_arn)
                    .send()
                    .await
                    .map_err(|e| aws_err("DescribeAutoScalingConfiguration", name, &e))?;
                if let Some(a) = d.auto_scaling_configuration() {
                    c.min_size = a.min_size().and_then(|n| u32::try_from(n).ok());
                    c.max_size = a.max_size().and_then(|n| u32::try_from(n).ok());
                }
            }
            Some(c)
        }
        (c, _) => c,
    };
    Ok(ServiceView {
        arn: svc.service_arn().to_string(),
        status: svc.status().as_str().to_string(),
        image: src
            .and_then(|s| s.image_repository())
            .map(|r| r.image_identifier().to_string()),
        url: svc.service_url().map(str::to_string),
        auto_deployments: src
            .and_then(|s| s.auto_deployments_enabled())
            .unwrap_or(false),
        config,
    })
}

fn source(spec: &ServiceSpec) -> Result<SourceConfiguration, AppRunnerError> {
    let image_cfg = ImageConfiguration::builder()
        .port(spec.port.to_string())
        .set_runtime_environment_variables(Some(spec.env.clone().into_iter().collect()))
        .set_runtime_environment_secrets(Some(spec.secrets.clone().into_iter().collect()))
        .build();
    let repo_type = if spec.image.starts_with("public.ecr.aws/") {
        ImageRepositoryType::EcrPublic
    } else {
        ImageRepositoryType::Ecr
    };
    let repo = ImageRepository::builder()
        .image_identifier(&spec.image)
        .image_repository_type(repo_type)
        .image_configuration(image_cfg)
        .build()
        .map_err(|e| AppRunnerError::Invalid {
            service: spec.name.clone(),
            message: e.to_string(),
        })?;
    let mut b = SourceConfiguration::builder()
        .image_repository(repo)
        .auto_deployments_enabled(false);
    if let Some(role) = &spec.access_role_arn {
        b = b.authentication_configuration(
            AuthenticationConfiguration::builder()
                .access_role_arn(role)
                .build(),
        );
    }
    Ok(b.build())
}

fn health(spec: &ServiceSpec) -> HealthCheckConfiguration {
    HealthCheckConfiguration::builder()
        .protocol(HealthCheckProtocol::Http)
        .path(&spec.health_path)
        .interval(10)
        .timeout(5)
        .healthy_threshold(1)
        .unhealthy_threshold(5)
        .build()
}

fn network(connector_arn: Option<&str>) -> Option<NetworkConfiguration> {
    connector_arn.map(|arn| {
        NetworkConfiguration::builder()
            .egress_configuration(
                EgressConfiguration::builder()
                    .egress_type(EgressType::Vpc)
                    .vpc_connector_arn(arn)
                    .build(),
            )
            .build()
    })
}

/// [`network`], or explicit default (internet) egress when there is no connector.
fn network_or_default(connector_arn: Option<&str>) -> NetworkConfiguration {
    network(connector_arn).unwrap_or_else(|| {
        NetworkConfiguration::builder()
            .egress_configuration(
                EgressConfiguration::builder()
                    .egress_type(EgressType::Default)
                    .build(),
            )
            .build()
    })
}

/// Name of the auto scaling configuration deploykit keeps for a service (4..32 chars).
pub fn scaling_config_name(service: &str) -> String {
    let mut n: String = service
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(28)
        .collect();
    n.push_str("-asc");
    n
}

async fn ensure_scaling(
    client: &aws_sdk_apprunner::Client,
    spec: &ServiceSpec,
) -> Result<String, AppRunnerError> {
    let name = scaling_config_name(&spec.name);
    let out = client
        .list_auto_scaling_configurations()
        .auto_scaling_configuration_name(&name)
        .latest_only(true)
        .send()
        .await
        .map_err(|e| aws_err("ListAutoScalingConfigurations", &spec.name, &e))?;
    if let Some(arn) = out
        .auto_scaling_configuration_summary_list()
        .first()
        .and_then(|s| s.auto_scaling_configuration_arn())
    {
        let d = client
            .describe_auto_scaling_configuration()
            .auto_scaling_configuration_arn(arn)
            .send()
            .await
            .map_err(|e| aws_err("DescribeAutoScalingConfiguration", &spec.name, &e))?;
        if let Some(c) = d.auto_scaling_configuration()
            && c.min_size() == Some(spec.min_size as i32)
            && c.max_size() == Some(spec.max_size as i32)
        {
            return Ok(arn.to_string());
        }
    }
    let out = client
        .create_auto_scaling_configuration()
        .auto_scaling_configuration_name(&name)
        .min_size(spec.min_size as i32)
        .max_size(spec.max_size as i32)
        .send()
        .await
        .map_err(|e| aws_err("CreateAutoScalingConfiguration", &spec.name, &e))?;
    Ok(out
        .auto_scaling_configuration()
        .and_then(|c| c.auto_scaling_configuration_arn())
        .unwrap_or_default()
        .to_string())
}

async fn create(
    client: &aws_sdk_apprunner::Client,
    spec: &ServiceSpec,
    scaling: &str,
    connector: Option<&str>,
) -> Result<(String, String), AppRunnerError> {
    let out = client
        .create_service()
        .service_name(&spec.name)
        .source_configuration(source(spec)?)
        .instance_configuration(
            InstanceConfiguration::builder()
                .cpu(&spec.cpu)
                .memory(&spec.memory)
                .set_instance_role_arn(spec.instance_role_arn.clone())
                .build(),
        )
        .health_check_configuration(health(spec))
        .auto_scaling_configuration_arn(scaling)
        .set_network_configuration(network(connector))
        .send()
        .await
        .map_err(|e| aws_err("CreateService", &spec.name, &e))?;
    let arn = out
        .service()
        .map(|s| s.service_arn().to_string())
        .unwrap_or_default();
    Ok((arn, out.operation_id().to_string()))
}

async fn deploy_apprunner(
    client: &aws_sdk_apprunner::Client,
    plan: &Plan,
    spec: &ServiceSpec,
    wait: WaitOptions,
    probe: &Probe,
    reporter: &dyn Reporter,
) -> Result<DeployOutcome, AppRunnerError> {
    let timer = StepTimer::start(
        reporter,
        "apprunner",
        format!(
            "{} App Runner service {} with {}",
            plan.action.verb(),
            spec.name,
            spec.image
        ),
    );
    if plan.action == Action::Unchanged {
        let arn = plan.existing_arn.clone().unwrap_or_default();
        let view = describe(client, &spec.name, &arn).await?;
        let url = view.url.clone().unwrap_or_default();
        check_health(&spec.name, &url, &spec.health_path, probe, wait, reporter).await?;
        timer.finish(
            reporter,
            format!(
                "{} already runs {} with this configuration: nothing to deploy (https://{url} answers)",
                spec.name, spec.image
            ),
        );
        return Ok(DeployOutcome {
            service: spec.name.clone(),
            service_arn: arn,
            action: Action::Unchanged,
            operation_id: String::new(),
            operation_status: "UNCHANGED".into(),
            service_status: view.status,
            service_url: url,
            image: spec.image.clone(),
        });
    }
    let connector = match (&spec.vpc, &plan.action) {
        (Some(vpc), Action::Create | Action::Recreate | Action::Update { .. }) => {
            Some(ensure_vpc_connector(client, &spec.name, vpc, reporter).await?)
        }
        _ => None,
    };
    let (arn, op) = match &plan.action {
        Action::Create => {
            let scaling = ensure_scaling(client, spec).await?;
            create(client, spec, &scaling, connector.as_deref()).await?
        }
        Action::Recreate => {
            let old = plan.existing_arn.clone().unwrap_or_default();
            let out = client
                .delete_service()
                .service_arn(&old)
                .send()
                .await
                .map_err(|e| aws_err("DeleteService", &spec.name, &e))?;
            let del_op = out.operation_id().to_string();
            reporter.report(Event::warn(format!(
                "deleting CREATE_FAILED service {} (operation {del_op})",
                spec.name
            )));
            let st = wait_operation(client, &spec.name, &old, &del_op, wait, reporter).await?;
            if st != OperationStatus::Succeeded {
                return Err(AppRunnerError::Blocked {
                    service: spec.name.clone(),
                    status: format!("DELETE {}", st.as_str()),
                    what_to_do: "the failed service could not be deleted; delete it in the console and retry".into(),
                });
            }
            let scaling = ensure_scaling(client, spec).await?;
            create(client, spec, &scaling, connector.as_deref()).await?
        }
        Action::Update { .. } => {
            let arn = plan.existing_arn.clone().unwrap_or_default();
            let scaling = ensure_scaling(client, spec).await?;
            let out = client
                .update_service()
                .service_arn(&arn)
                .source_configuration(source(spec)?)
                .instance_configuration(
                    InstanceConfiguration::builder()
                        .cpu(&spec.cpu)
                        .memory(&spec.memory)
                        .set_instance_role_arn(spec.instance_role_arn.clone())
                        .build(),
                )
                .health_check_configuration(health(spec))
                .auto_scaling_configuration_arn(scaling)
                // Always sent on update, so removing the connector returns to default egress.
                .network_configuration(network_or_default(connector.as_deref()))
                .send()
                .await
                .map_err(|e| aws_err("UpdateService", &spec.name, &e))?;
            (arn, out.operation_id().to_string())
        }
        Action::Unchanged => {
            // Answered before any call above; kept so the match stays exhaustive.
            return Err(AppRunnerError::Invalid {
                service: spec.name.clone(),
                message: "an unchanged plan has nothing to send".into(),
            });
        }
        Action::Redeploy => {
            let arn = plan.existing_arn.clone().unwrap_or_default();
            let out = client
                .start_deployment()
                .service_arn(&arn)
                .send()
                .await
                .map_err(|e| aws_err("StartDeployment", &spec.name, &e))?;
            (arn, out.operation_id().to_string())
        }
    };
    reporter.report(Event::info(format!(
        "operation {op} started on {}",
        spec.name
    )));
    let status = wait_operation(client, &spec.name, &arn, &op, wait, reporter).await?;
    let previous = match &plan.action {
        Action::Update {
            from_image: Some(i),
        } => format!(" ({i})"),
        _ => String::new(),
    };
    match status {
        OperationStatus::Succeeded => {}
        OperationStatus::RollbackFailed => {
            reporter.report(Event::Remote {
                step: "apprunner".into(),
                source: "apprunner".into(),
                level: Level::Error,
                message: format!("ROLLBACK_FAILED on {}", spec.name),
            });
            return Err(AppRunnerError::RollbackFailed {
                service: spec.name.clone(),
                operation_id: op,
            });
        }
        OperationStatus::Failed if matches!(plan.action, Action::Create | Action::Recreate) => {
            return Err(AppRunnerError::CreateFailed {
                service: spec.name.clone(),
                why: format!(
                    ": operation {op} FAILED (is the image {} in the registry, and can the access role pull it?)",
                    spec.image
                ),
            });
        }
        other => {
            return Err(AppRunnerError::RolledBack {
                service: spec.name.clone(),
                image: spec.image.clone(),
                operation_id: op,
                status: other.as_str().to_string(),
                previous,
            });
        }
    }
    let view = describe(client, &spec.name, &arn).await?;
    if view.status != "RUNNING" {
        return Err(AppRunnerError::Blocked {
            service: spec.name.clone(),
            status: view.status,
            what_to_do:
                "the operation succeeded but the service is not RUNNING; check the service's status"
                    .into(),
        });
    }
    let url = view.url.clone().unwrap_or_default();
    check_health(&spec.name, &url, &spec.health_path, probe, wait, reporter).await?;
    timer.finish(
        reporter,
        format!(
            "{} RUNNING at https://{url} (operation {op} SUCCEEDED)",
            spec.name
        ),
    );
    Ok(DeployOutcome {
        service: spec.name.clone(),
        service_arn: arn,
        action: plan.action.clone(),
        operation_id: op,
        operation_status: "SUCCEEDED".into(),
        service_status: view.status,
        service_url: url,
        image: spec.image.clone(),
    })
}

/// Whether an operation status is final.
pub fn is_terminal(s: &OperationStatus) -> bool {
    matches!(
        s,
        OperationStatus::Succeeded
            | OperationStatus::Failed
            | OperationStatus::RollbackSucceeded
            | OperationStatus::RollbackFailed
    )
}

/// Polls ListOperations until OUR operation ends. Throttling and transient errors keep polling.
pub async fn wait_operation(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    arn: &str,
    operation_id: &str,
    wait: WaitOptions,
    reporter: &dyn Reporter,
) -> Result<OperationStatus, AppRunnerError> {
    let started = Instant::now();
    let mut last: Option<OperationStatus> = None;
    loop {
        match client.list_operations().service_arn(arn).send().await {
            Ok(out) => {
                let ours = out
                    .operation_summary_list()
                    .iter()
                    .find(|o| o.id() == Some(operation_id));
                if let Some(st) = ours.and_then(|o| o.status()).cloned() {
                    if last.as_ref() != Some(&st) {
                        let level = match st {
                            OperationStatus::Failed | OperationStatus::RollbackFailed => {
                                Level::Error
                            }
                            OperationStatus::RollbackInProgress
                            | OperationStatus::RollbackSucceeded => Level::Warn,
                            _ => Level::Info,
                        };
                        reporter.report(Event::Remote {
                            step: "apprunner".into(),
                            source: "apprunner".into(),
                            level,
                            message: format!("operation {operation_id}: {}", st.as_str()),
                        });
                        last = Some(st.clone());
                    }
                    if is_terminal(&st) {
                        return Ok(st);
                    }
                }
            }
            Err(e) => {
                let c = classify(&e);
                if !c.kind.is_retryable() {
                    return Err(aws_err("ListOperations", service, &e));
                }
                reporter.report(Event::warn(format!(
                    "ListOperations for {service}: {c}; polling again"
                )));
            }
        }
        let waited = started.elapsed();
        if waited >= wait.timeout {
            return Err(AppRunnerError::Timeout {
                what: format!("operation {operation_id} on {service}"),
                waited,
            });
        }
        reporter.report(Event::Waiting {
            step: "apprunner".into(),
            for_what: format!(
                "operation {operation_id} on {service} ({})",
                last.as_ref()
                    .map(|s| s.as_str())
                    .unwrap_or("not listed yet")
            ),
            waited,
            timeout: wait.timeout,
        });
        tokio::time::sleep(wait.poll.min(wait.timeout.saturating_sub(waited))).await;
    }
}

/// GETs `http://<url><path>` (through `probe.resolve` when set) until it answers 200.
async fn check_health(
    service: &str,
    url: &str,
    path: &str,
    probe: &Probe,
    wait: WaitOptions,
    reporter: &dyn Reporter,
) -> Result<(), AppRunnerError> {
    use deploykit_aws::http_check::{Scheme, get_status};
    let started = Instant::now();
    let mut last: String;
    loop {
        // App Runner URLs are HTTPS only; the local edge (probe.resolve) answers plain HTTP.
        match get_status(
            Scheme::Https,
            url,
            path,
            probe.resolve,
            Duration::from_secs(10),
        )
        .await
        {
            Ok(200) => {
                reporter.report(Event::info(format!("https://{url}{path} answered 200")));
                return Ok(());
            }
            Ok(code) => last = format!("HTTP {code}"),
            Err(e) => last = e,
        }
        let waited = started.elapsed();
        if waited >= wait.timeout {
            return Err(AppRunnerError::Unhealthy {
                service: service.into(),
                url: url.into(),
                path: path.into(),
                last,
                waited,
            });
        }
        reporter.report(Event::Waiting {
            step: "health".into(),
            for_what: format!("https://{url}{path} to answer 200 ({last})"),
            waited,
            timeout: wait.timeout,
        });
        tokio::time::sleep(wait.poll.min(Duration::from_secs(2))).await;
    }
}

/// `ErrorKind` re-exported for callers mapping errors to exits.
pub use deploykit_aws::ErrorKind as AwsErrorKind;

impl AppRunnerError {
    /// The AWS error kind, when this is an AWS error.
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            AppRunnerError::Aws { classified, .. }
            | AppRunnerError::EcsAws { classified, .. }
            | AppRunnerError::Ecr { classified, .. } => Some(classified.kind),
            _ => None,
        }
    }
}
