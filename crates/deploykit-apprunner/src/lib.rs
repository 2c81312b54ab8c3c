//! App Runner services behind a [`ContainerPlatform`] seam: create, update, operations, rollback states.
//!
//! Build and push never see this crate: they produce an image reference (`host/repo:tag`), and
//! a platform runs it: [`ContainerPlatform::AppRunner`] or [`ContainerPlatform::EcsExpress`]
//! (ECS Express Mode, `CreateExpressGatewayService`: App Runner's successor for new AWS
//! accounts, see [`ecs`]). Both share [`ServiceSpec`], [`Plan`], [`DeployOutcome`],
//! [`StatusReport`], the bounded waits and the health check.
//!
//! Plan then execute: [`plan_service`] is pure over a [`ServiceView`] of what exists.

mod deploy;
mod diagnostic;
mod domain;
pub mod ecs;
mod error;
pub mod health;
mod plan;
pub mod rollback;
mod service;
pub mod tags;

use std::net::SocketAddr;

use deploykit_report::Reporter;

use deploy::deploy_apprunner;
use error::aws_err;
use health::{check_health, health_or_rollback};
use plan::{config_matches, normalize_size};

pub use deploy::{is_terminal, wait_operation};
pub use domain::{DnsRecord, DomainRecords, associate_domain, describe_domain, wait_domain};
pub use ecs::{EcsExpress, EcsRoles, plan_ecs};
pub use error::{AppRunnerError, NOT_AVAILABLE_CODES};
pub use plan::{
    Action, LiveConfig, Plan, ServiceSpec, ServiceView, VpcEgress, plan_service,
    vpc_connector_name, vpc_connector_name_of_arn,
};
pub use service::{ensure_vpc_connector, find_service, scaling_config_name};

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

    /// [`Self::plan`], after waiting (bounded by `wait`) for an operation already running on
    /// the service to end: an interrupted deploy's create or update, or a rollback. A deploy
    /// follows it instead of refusing; the plan is made from what the service runs then.
    pub async fn plan_when_idle(
        &self,
        spec: &ServiceSpec,
        recreate: bool,
        wait: WaitOptions,
        reporter: &dyn Reporter,
    ) -> Result<Plan, AppRunnerError> {
        let started = std::time::Instant::now();
        loop {
            match self.plan(spec, recreate).await {
                Err(AppRunnerError::Blocked { status, .. })
                    if status == "OPERATION_IN_PROGRESS" && started.elapsed() < wait.timeout =>
                {
                    let waited = started.elapsed();
                    reporter.report(deploykit_report::Event::Waiting {
                        step: "apprunner".into(),
                        for_what: format!(
                            "the operation already running on {} to end before planning",
                            spec.name
                        ),
                        waited,
                        timeout: wait.timeout,
                    });
                    tokio::time::sleep(wait.poll.min(wait.timeout.saturating_sub(waited))).await;
                }
                other => return other,
            }
        }
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

/// `ErrorKind` re-exported for callers mapping errors to exits.
pub use deploykit_aws::ErrorKind as AwsErrorKind;
