//! App Runner emulator (JSON 1.0 protocol, `X-Amz-Target: AppRunner.<Operation>`).
//!
//! # Model
//!
//! Each mutating call (create, update, start deployment, pause, resume, delete) starts an
//! *operation* and schedules its whole timeline up front, in service time converted to real
//! instants by the scaled [`Clock`](crate::core::Clock):
//!
//! | operation | timeline (service time) |
//! |---|---|
//! | `CREATE_SERVICE` | `PENDING` → 5 s `IN_PROGRESS` → 4 min `SUCCEEDED` (service `RUNNING`) or `FAILED` (service `CREATE_FAILED`) |
//! | `UPDATE_SERVICE`, `START_DEPLOYMENT` | `PENDING` → 5 s `IN_PROGRESS` → 3 min `SUCCEEDED` (new configuration live) or `ROLLBACK_IN_PROGRESS` → 4 min `ROLLBACK_SUCCEEDED` (previous configuration kept; `ROLLBACK_FAILED` if the previous image is gone too) |
//! | `PAUSE_SERVICE` | → 1 min `SUCCEEDED`, service `PAUSED` |
//! | `RESUME_SERVICE` | → 2 min `SUCCEEDED`, service `RUNNING` |
//! | `DELETE_SERVICE` | → 1 min `SUCCEEDED`, service `DELETED` |
//!
//! Timelines are applied lazily whenever a request arrives; nothing runs in the background.
//! A deploy is healthy when its image is in the local registry (checked when the operation
//! starts, see [`image`]), its runtime secrets exist (see [`validate`]) and no
//! `fail-next-deploy` fault is queued for the service's name.
//!
//! # App traffic
//!
//! Every service gets `ServiceUrl = <name>.<random>.<region>.awsapprunner.localhost` (no
//! scheme, like AWS). The edge answers requests whose `Host` is that name through
//! [`AppRunner::serve_app`]: connect to the edge's address and send the `Host` header (like
//! `curl --resolve`). It answers `200 ok` while a healthy deployment is live (the service is
//! `RUNNING`, or an update is rolling out over a live deployment), `503` otherwise.
//!
//! # Other resources
//!
//! Auto scaling configurations (with revisions and the account's `DefaultConfiguration`),
//! VPC connectors (required for `EgressType: VPC`, which is how a service reaches RDS) and
//! custom domains (`PENDING_CERTIFICATE_DNS_VALIDATION` with ACM-style CNAME validation records,
//! then `ACTIVE` after 5 service minutes).

mod error;
pub(crate) mod image;
mod model;
pub(crate) mod runtime;
mod validate;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::core::{Clock, Ctx};
use error::ApiError;
use image::{ImageRef, RegistryProbe};
use model::*;

const PENDING_FOR: Duration = Duration::from_secs(5);
const CREATE_TAKES: Duration = Duration::from_secs(4 * 60);
const DEPLOY_TAKES: Duration = Duration::from_secs(3 * 60);
const ROLLBACK_TAKES: Duration = Duration::from_secs(60);
const PAUSE_TAKES: Duration = Duration::from_secs(60);
const RESUME_TAKES: Duration = Duration::from_secs(2 * 60);
const DELETE_TAKES: Duration = Duration::from_secs(60);
const DOMAIN_VALIDATION_TAKES: Duration = Duration::from_secs(5 * 60);

/// App Runner's default quotas (per account and region).
const SERVICE_QUOTA: usize = 30;
const ASC_NAME_QUOTA: usize = 10;
const ASC_REVISION_QUOTA: usize = 5;
const VPC_CONNECTOR_QUOTA: usize = 10;
const CUSTOM_DOMAIN_QUOTA: usize = 5;

const DEFAULT_ASC_NAME: &str = "DefaultConfiguration";

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The App Runner emulator: one per edge.
#[derive(Debug)]
pub struct AppRunner {
    ctx: Ctx,
    probe: RegistryProbe,
    /// Shared with the background deployments of real workloads (see [`runtime`]).
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    services: Vec<Service>,
    scaling: Vec<AutoScaling>,
    connectors: Vec<VpcConnector>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServiceStatus {
    OperationInProgress,
    Running,
    CreateFailed,
    Paused,
    Deleted,
}

impl ServiceStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::OperationInProgress => "OPERATION_IN_PROGRESS",
            Self::Running => "RUNNING",
            Self::CreateFailed => "CREATE_FAILED",
            Self::Paused => "PAUSED",
            Self::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpStatus {
    Pending,
    InProgress,
    Succeeded,
    Failed,
    RollbackInProgress,
    RollbackSucceeded,
    RollbackFailed,
}

impl OpStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            Self::RollbackSucceeded => "ROLLBACK_SUCCEEDED",
            Self::RollbackFailed => "ROLLBACK_FAILED",
        }
    }

    fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::RollbackSucceeded | Self::RollbackFailed
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpType {
    CreateService,
    UpdateService,
    StartDeployment,
    PauseService,
    ResumeService,
    DeleteService,
}

impl OpType {
    fn as_str(self) -> &'static str {
        match self {
            Self::CreateService => "CREATE_SERVICE",
            Self::UpdateService => "UPDATE_SERVICE",
            Self::StartDeployment => "START_DEPLOYMENT",
            Self::PauseService => "PAUSE_SERVICE",
            Self::ResumeService => "RESUME_SERVICE",
            Self::DeleteService => "DELETE_SERVICE",
        }
    }
}

/// Everything `DescribeService` shows besides identity and status.
#[derive(Debug, Clone, PartialEq)]
struct ServiceConfig {
    source: SourceConfiguration,
    instance: InstanceConfiguration,
    health: HealthCheckConfiguration,
    network: NetworkConfiguration,
    observability: ObservabilityConfiguration,
    encryption: Option<EncryptionConfiguration>,
    auto_scaling_arn: String,
}

impl ServiceConfig {
    fn image(&self) -> Option<ImageRef> {
        let id = &self.source.image_repository.as_ref()?.image_identifier;
        ImageRef::parse(id).ok()
    }
}

/// A service configuration as a request gives it, before defaults and validation.
#[derive(Debug)]
struct Requested {
    source: SourceConfiguration,
    instance: InstanceConfiguration,
    health: HealthCheckConfiguration,
    network: NetworkConfiguration,
    observability: ObservabilityConfiguration,
    encryption: Option<EncryptionConfiguration>,
    auto_scaling_arn: Option<String>,
}

#[derive(Debug)]
struct Operation {
    id: String,
    kind: OpType,
    status: OpStatus,
    started_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    ended_at: Option<OffsetDateTime>,
}

/// One scheduled transition of a service's current operation.
#[derive(Debug)]
struct Step {
    at: Instant,
    wall: OffsetDateTime,
    op: OpStatus,
    service: Option<ServiceStatus>,
    config: Option<Box<ServiceConfig>>,
    live: Option<bool>,
    deleted: bool,
}

/// A step as planned, in service time from the operation's start.
#[derive(Debug, Default)]
struct Plan {
    after: Duration,
    op: Option<OpStatus>,
    service: Option<ServiceStatus>,
    config: Option<Box<ServiceConfig>>,
    live: Option<bool>,
    deleted: bool,
}

impl Plan {
    fn at(after: Duration, op: OpStatus) -> Self {
        Self {
            after,
            op: Some(op),
            ..Default::default()
        }
    }

    fn service(mut self, status: ServiceStatus) -> Self {
        self.service = Some(status);
        self
    }

    fn live(mut self, live: bool) -> Self {
        self.live = Some(live);
        self
    }

    fn config(mut self, config: ServiceConfig) -> Self {
        self.config = Some(Box::new(config));
        self
    }
}

#[derive(Debug)]
struct Service {
    name: String,
    id: String,
    arn: String,
    url: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
    status: ServiceStatus,
    /// The configuration in effect (a deploy's new configuration replaces it on success).
    config: ServiceConfig,
    /// A healthy deployment is serving traffic.
    live: bool,
    steps: VecDeque<Step>,
    /// Oldest first.
    operations: Vec<Operation>,
    domains: Vec<CustomDomain>,
    /// The container serving the service when workloads are real.
    container: Option<crate::workload::Running>,
}

impl Service {
    fn advance(&mut self, now: Instant) {
        while self.steps.front().is_some_and(|s| s.at <= now) {
            let Some(step) = self.steps.pop_front() else {
                break;
            };
            if let Some(op) = self.operations.last_mut() {
                op.status = step.op;
                op.updated_at = step.wall;
                if step.op.is_terminal() {
                    op.ended_at = Some(step.wall);
                }
            }
            if let Some(status) = step.service {
                self.status = status;
                self.updated_at = step.wall;
            }
            if let Some(config) = step.config {
                self.config = *config;
            }
            if let Some(live) = step.live {
                self.live = live;
            }
            if step.deleted {
                self.deleted_at = Some(step.wall);
                self.domains.clear();
            }
        }
    }

    /// Starts an operation and schedules its timeline; returns the operation id.
    fn start(&mut self, clock: &Clock, kind: OpType, plan: Vec<Plan>) -> String {
        let now = Instant::now();
        let wall = clock.now_utc();
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.operations.push(Operation {
            id: id.clone(),
            kind,
            status: OpStatus::Pending,
            started_at: wall,
            updated_at: wall,
            ended_at: None,
        });
        self.status = ServiceStatus::OperationInProgress;
        self.updated_at = wall;
        let mut last_op = OpStatus::Pending;
        self.steps = plan
            .into_iter()
            .map(|p| {
                let real = clock.real(p.after);
                last_op = p.op.unwrap_or(last_op);
                Step {
                    at: now + real,
                    wall: wall + real,
                    op: last_op,
                    service: p.service,
                    config: p.config,
                    live: p.live,
                    deleted: p.deleted,
                }
            })
            .collect();
        id
    }

    fn is_deleted(&self) -> bool {
        self.status == ServiceStatus::Deleted
    }

    /// Whether a new deploy (update, start deployment) may start now.
    fn check_deployable(&self, what: &str) -> Result<()> {
        match self.status {
            ServiceStatus::Running => Ok(()),
            ServiceStatus::OperationInProgress => Err(ApiError::invalid_state(format!(
                "Service {} has an operation in progress; {what} can be called only when the \
                 service is in RUNNING state",
                self.arn
            ))),
            other => Err(ApiError::invalid_state(format!(
                "Service {} is in {} state; {what} can be called only when the service is in \
                 RUNNING state",
                self.arn,
                other.as_str()
            ))),
        }
    }
}

#[derive(Debug)]
struct AutoScaling {
    arn: String,
    name: String,
    revision: i64,
    active: bool,
    max_concurrency: i64,
    min_size: i64,
    max_size: i64,
    created_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
    is_default: bool,
}

#[derive(Debug)]
struct VpcConnector {
    arn: String,
    name: String,
    revision: i64,
    subnets: Vec<String>,
    security_groups: Vec<String>,
    active: bool,
    created_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct CustomDomain {
    name: String,
    www: bool,
    /// `(record name, record value)`; one for the domain, one for `www.` when enabled.
    records: Vec<(String, String)>,
    active_at: Instant,
}

fn epoch(t: OffsetDateTime) -> Value {
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    // Millisecond precision, as the service reports it; the cast is exact for any real date.
    #[allow(clippy::cast_precision_loss)]
    let secs = millis as f64 / 1000.0;
    json!(secs)
}

fn short_id(len: usize) -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(len);
    id
}

fn parse<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("Request body is not valid: {e}")))
}

fn require(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(ApiError::invalid_request(format!(
            "1 validation error detected: Value null at '{what}' failed to satisfy constraint: \
             Member must not be null"
        )))
    } else {
        Ok(())
    }
}

impl AppRunner {
    pub fn new(ctx: Ctx) -> Self {
        let probe = RegistryProbe::new(ctx.registry.clone());
        let now = ctx.clock.now_utc();
        let default_asc = AutoScaling {
            arn: format!(
                "arn:aws:apprunner:{}:{}:autoscalingconfiguration/{DEFAULT_ASC_NAME}/1/{}",
                ctx.default_region,
                ctx.account_id,
                short_id(32)
            ),
            name: DEFAULT_ASC_NAME.to_string(),
            revision: 1,
            active: true,
            max_concurrency: 100,
            min_size: 1,
            max_size: 25,
            created_at: now,
            deleted_at: None,
            is_default: true,
        };
        Self {
            ctx,
            probe,
            state: Arc::new(Mutex::new(State {
                services: Vec::new(),
                scaling: vec![default_asc],
                connectors: Vec::new(),
            })),
        }
    }

    /// Locks the state and applies every transition that is due.
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for svc in &mut state.services {
            svc.advance(now);
        }
        state
    }

    /// Answers one JSON 1.0 operation (`op` is the part of `X-Amz-Target` after `AppRunner.`).
    pub async fn handle(&self, op: &str, body: Bytes) -> Response<Full<Bytes>> {
        let result = match op {
            "CreateService" => self.create_service(&body).await,
            "UpdateService" => self.update_service(&body).await,
            "StartDeployment" => self.start_deployment(&body).await,
            "DescribeService" => self.describe_service(&body),
            "ListServices" => self.list_services(&body),
            "DeleteService" => self.delete_service(&body),
            "PauseService" => self.pause_service(&body),
            "ResumeService" => self.resume_service(&body),
            "ListOperations" => self.list_operations(&body),
            "CreateAutoScalingConfiguration" => self.create_asc(&body),
            "DescribeAutoScalingConfiguration" => self.describe_asc(&body),
            "ListAutoScalingConfigurations" => self.list_ascs(&body),
            "DeleteAutoScalingConfiguration" => self.delete_asc(&body),
            "CreateVpcConnector" => self.create_connector(&body),
            "DescribeVpcConnector" => self.describe_connector(&body),
            "ListVpcConnectors" => self.list_connectors(&body),
            "DeleteVpcConnector" => self.delete_connector(&body),
            "AssociateCustomDomain" => self.associate_domain(&body),
            "DescribeCustomDomains" => self.describe_domains(&body),
            "DisassociateCustomDomain" => self.disassociate_domain(&body),
            other => Err(ApiError::unknown_operation(other)),
        };
        match result {
            Ok(v) => error::ok(&v),
            Err(e) => e.into_response(),
        }
    }

    /// Serves app traffic for a service's `ServiceUrl` host (port ignored): `200 ok` while a
    /// healthy deployment is live, `503` while none is (creating, failed, paused, deleted),
    /// `404` for a host no service has.
    pub async fn serve_app(&self, host: &str, _path: &str) -> Response<Full<Bytes>> {
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let state = self.lock();
        let svc = state
            .services
            .iter()
            .filter(|s| !s.is_deleted())
            .find(|s| s.url.eq_ignore_ascii_case(host));
        let (status, body): (StatusCode, &'static [u8]) = match svc {
            Some(s) if s.live => (StatusCode::OK, b"ok"),
            Some(_) => (StatusCode::SERVICE_UNAVAILABLE, b"Service Unavailable\n"),
            None => (
                StatusCode::NOT_FOUND,
                b"no App Runner service has this host\n",
            ),
        };
        let mut resp = Response::new(Full::new(Bytes::from_static(body)));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        resp
    }

    // -----------------------------------------------------------------------------------------
    // Services.

    /// Whether a deploy of `config` for the service `name` would pass its health check.
    async fn deploy_is_healthy(&self, name: &str, config: &ServiceConfig) -> bool {
        let present = match config.image() {
            Some(image) => self.probe.image_present(&image).await,
            None => false,
        };
        // Instances read their runtime secrets when they start (see `validate`).
        let present = present && self.secrets_resolve(config).await;
        // Take the fault only for deploys that would otherwise succeed, so a queued failure
        // is not spent on a deploy that fails anyway.
        present && !self.ctx.faults.take_deploy_failure(name)
    }

    /// Validates a full service configuration against the current resources.
    fn resolve_config(state: &State, requested: Requested) -> Result<ServiceConfig> {
        let Requested {
            source,
            instance,
            health,
            network,
            observability,
            encryption,
            auto_scaling_arn,
        } = requested;
        source.validate()?;
        validate::require_instance_role(&source, &instance)?;
        let network = network.resolve()?;
        if let Some(arn) = network.vpc_connector_arn() {
            let active = state.connectors.iter().any(|c| c.arn == arn && c.active);
            if !active {
                return Err(ApiError::invalid_request(format!(
                    "VPC connector {arn} does not exist or is not ACTIVE"
                )));
            }
        }
        if observability.observability_enabled
            && observability.observability_configuration_arn.is_none()
        {
            return Err(ApiError::invalid_request(
                "ObservabilityConfigurationArn is required when ObservabilityEnabled is true",
            ));
        }
        let auto_scaling_arn = match auto_scaling_arn {
            // CreateService/UpdateService have no ResourceNotFoundException: App Runner
            // reports an unknown configuration as an invalid request.
            Some(arn) => state
                .asc_index(&arn)
                .map(|i| state.scaling[i].arn.clone())
                .map_err(|e| ApiError::invalid_request(e.message))?,
            None => state.default_asc_arn(),
        };
        Ok(ServiceConfig {
            source: source.resolved(),
            instance: instance.resolve()?,
            health: health.resolve()?,
            network,
            observability,
            encryption,
            auto_scaling_arn,
        })
    }

    async fn create_service(&self, body: &Bytes) -> Result<Value> {
        let input: CreateServiceInput = parse(body)?;
        validate_name("serviceName", &input.service_name, 4, 40)?;
        let Some(source) = input.source_configuration else {
            return Err(ApiError::invalid_request(
                "1 validation error detected: Value null at 'sourceConfiguration' failed to \
                 satisfy constraint: Member must not be null",
            ));
        };
        let config = {
            let state = self.lock();
            state.check_new_service(&input.service_name)?;
            Self::resolve_config(
                &state,
                Requested {
                    source,
                    instance: input.instance_configuration.unwrap_or_default(),
                    health: input.health_check_configuration.unwrap_or_default(),
                    network: input.network_configuration.unwrap_or_default(),
                    observability: input.observability_configuration.unwrap_or_default(),
                    encryption: input.encryption_configuration,
                    auto_scaling_arn: input.auto_scaling_configuration_arn,
                },
            )?
        };
        self.check_instance_role(&config).await?;
        let healthy = self.deploy_is_healthy(&input.service_name, &config).await;

        let mut state = self.lock();
        state.check_new_service(&input.service_name)?;
        let region = &self.ctx.default_region;
        let id = short_id(32);
        let url_label: String = input
            .service_name
            .chars()
            .map(|c| {
                if c == '_' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let wall = self.ctx.clock.now_utc();
        let mut svc = Service {
            arn: format!(
                "arn:aws:apprunner:{region}:{}:service/{}/{id}",
                self.ctx.account_id, input.service_name
            ),
            url: format!(
                "{url_label}.{}.{region}.awsapprunner.localhost",
                short_id(10)
            ),
            name: input.service_name,
            id,
            created_at: wall,
            updated_at: wall,
            deleted_at: None,
            status: ServiceStatus::OperationInProgress,
            config,
            live: false,
            steps: VecDeque::new(),
            operations: Vec::new(),
            domains: Vec::new(),
            container: None,
        };
        if healthy && let Some(w) = self.ctx.workloads.clone() {
            // Real workloads: the container's health decides how the operation ends.
            let op_id = svc.start(
                &self.ctx.clock,
                OpType::CreateService,
                vec![Plan::at(PENDING_FOR, OpStatus::InProgress)],
            );
            let job = runtime::Job {
                arn: svc.arn.clone(),
                name: svc.name.clone(),
                service_id: svc.id.clone(),
                url: svc.url.clone(),
                kind: OpType::CreateService,
                op_id: op_id.clone(),
                config: svc.config.clone(),
                started: Instant::now(),
            };
            state.services.push(svc);
            let svc = state.services.last().map(|s| state.service_json(s));
            runtime::spawn(self.state.clone(), self.ctx.clone(), w, job);
            return Ok(json!({ "Service": svc, "OperationId": op_id }));
        }
        let done = if healthy {
            Plan::at(CREATE_TAKES, OpStatus::Succeeded)
                .service(ServiceStatus::Running)
                .live(true)
        } else {
            Plan::at(CREATE_TAKES, OpStatus::Failed).service(ServiceStatus::CreateFailed)
        };
        let op_id = svc.start(
            &self.ctx.clock,
            OpType::CreateService,
            vec![Plan::at(PENDING_FOR, OpStatus::InProgress), done],
        );
        state.services.push(svc);
        let svc = state.services.last().map(|s| state.service_json(s));
        Ok(json!({ "Service": svc, "OperationId": op_id }))
    }

    /// Shared by UpdateService and StartDeployment: deploys `new` over the live configuration.
    fn deploy_plan(new: ServiceConfig, healthy: bool, rollback_ok: bool) -> Vec<Plan> {
        let start = Plan::at(PENDING_FOR, OpStatus::InProgress);
        if healthy {
            return vec![
                start,
                Plan::at(DEPLOY_TAKES, OpStatus::Succeeded)
                    .service(ServiceStatus::Running)
                    .config(new)
                    .live(true),
            ];
        }
        let end = if rollback_ok {
            Plan::at(DEPLOY_TAKES + ROLLBACK_TAKES, OpStatus::RollbackSucceeded)
                .service(ServiceStatus::Running)
        } else {
            Plan::at(DEPLOY_TAKES + ROLLBACK_TAKES, OpStatus::RollbackFailed)
                .service(ServiceStatus::Running)
                .live(false)
        };
        vec![
            start,
            Plan::at(DEPLOY_TAKES, OpStatus::RollbackInProgress),
            end,
        ]
    }

    /// Runs the health and rollback checks for a deploy and starts it.
    async fn deploy(&self, arn: &str, kind: OpType, new: ServiceConfig) -> Result<(Value, String)> {
        let (name, previous) = {
            let state = self.lock();
            let svc = state.service(arn)?;
            (svc.name.clone(), svc.config.clone())
        };
        let healthy = self.deploy_is_healthy(&name, &new).await;
        let rollback_ok = healthy
            || match previous.image() {
                Some(image) => self.probe.image_present(&image).await,
                None => false,
            };

        let mut state = self.lock();
        let what = match kind {
            OpType::UpdateService => "UpdateService",
            _ => "StartDeployment",
        };
        let idx = state.service_index(arn)?;
        state.services[idx].check_deployable(what)?;
        if healthy && let Some(w) = self.ctx.workloads.clone() {
            // Real workloads: the new container's health decides how the operation ends.
            let svc = &mut state.services[idx];
            let op_id = svc.start(
                &self.ctx.clock,
                kind,
                vec![Plan::at(PENDING_FOR, OpStatus::InProgress)],
            );
            let job = runtime::Job {
                arn: svc.arn.clone(),
                name: svc.name.clone(),
                service_id: svc.id.clone(),
                url: svc.url.clone(),
                kind,
                op_id: op_id.clone(),
                config: new,
                started: Instant::now(),
            };
            runtime::spawn(self.state.clone(), self.ctx.clone(), w, job);
            return Ok((state.service_json(&state.services[idx]), op_id));
        }
        let plan = Self::deploy_plan(new, healthy, rollback_ok);
        let svc = &mut state.services[idx];
        let op_id = svc.start(&self.ctx.clock, kind, plan);
        Ok((state.service_json(&state.services[idx]), op_id))
    }

    async fn update_service(&self, body: &Bytes) -> Result<Value> {
        let input: UpdateServiceInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let new = {
            let state = self.lock();
            let svc = state.service(&input.service_arn)?;
            svc.check_deployable("UpdateService")?;
            let current = &svc.config;
            let source = match input.source_configuration {
                Some(mut s) => {
                    // An update that names a new image keeps the access role it already had.
                    if s.authentication_configuration.is_none() {
                        s.authentication_configuration =
                            current.source.authentication_configuration.clone();
                    }
                    s
                }
                None => current.source.clone(),
            };
            Self::resolve_config(
                &state,
                Requested {
                    source,
                    instance: input
                        .instance_configuration
                        .unwrap_or_else(|| current.instance.clone()),
                    health: input
                        .health_check_configuration
                        .unwrap_or_else(|| current.health.clone()),
                    network: input
                        .network_configuration
                        .unwrap_or_else(|| current.network.clone()),
                    observability: input
                        .observability_configuration
                        .unwrap_or_else(|| current.observability.clone()),
                    encryption: current.encryption.clone(),
                    auto_scaling_arn: Some(
                        input
                            .auto_scaling_configuration_arn
                            .unwrap_or_else(|| current.auto_scaling_arn.clone()),
                    ),
                },
            )?
        };
        self.check_instance_role(&new).await?;
        let (service, op_id) = self
            .deploy(&input.service_arn, OpType::UpdateService, new)
            .await?;
        Ok(json!({ "Service": service, "OperationId": op_id }))
    }

    async fn start_deployment(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let current = {
            let state = self.lock();
            let svc = state.service(&input.service_arn)?;
            svc.check_deployable("StartDeployment")?;
            svc.config.clone()
        };
        let (_, op_id) = self
            .deploy(&input.service_arn, OpType::StartDeployment, current)
            .await?;
        Ok(json!({ "OperationId": op_id }))
    }

    fn describe_service(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let state = self.lock();
        let svc = state.service(&input.service_arn)?;
        Ok(json!({ "Service": state.service_json(svc) }))
    }

    fn list_services(&self, body: &Bytes) -> Result<Value> {
        let input: PageInput = parse(body)?;
        let page = max_results(input.max_results, 20)?;
        let state = self.lock();
        let all: Vec<Value> = state
            .services
            .iter()
            .filter(|s| !s.is_deleted())
            .map(|s| {
                json!({
                    "ServiceName": s.name,
                    "ServiceId": s.id,
                    "ServiceArn": s.arn,
                    "ServiceUrl": s.url,
                    "CreatedAt": epoch(s.created_at),
                    "UpdatedAt": epoch(s.updated_at),
                    "Status": s.status.as_str(),
                })
            })
            .collect();
        let (items, next) = paginate(all, input.next_token.as_deref(), page)?;
        Ok(with_token(json!({ "ServiceSummaryList": items }), next))
    }

    fn delete_service(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let mut state = self.lock();
        let idx = state.service_index(&input.service_arn)?;
        let svc = &mut state.services[idx];
        match svc.status {
            ServiceStatus::OperationInProgress => {
                return Err(ApiError::invalid_state(format!(
                    "Service {} has an operation in progress and can't be deleted now",
                    svc.arn
                )));
            }
            ServiceStatus::Deleted => {
                return Err(ApiError::invalid_state(format!(
                    "Service {} is already deleted",
                    svc.arn
                )));
            }
            ServiceStatus::Running | ServiceStatus::Paused | ServiceStatus::CreateFailed => {}
        }
        runtime::stop_service(&self.ctx, &svc.url, svc.container.take());
        let op_id = svc.start(
            &self.ctx.clock,
            OpType::DeleteService,
            vec![
                Plan::at(PENDING_FOR, OpStatus::InProgress),
                Plan {
                    deleted: true,
                    ..Plan::at(DELETE_TAKES, OpStatus::Succeeded)
                        .service(ServiceStatus::Deleted)
                        .live(false)
                },
            ],
        );
        Ok(json!({ "Service": state.service_json(&state.services[idx]), "OperationId": op_id }))
    }

    fn pause_service(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let mut state = self.lock();
        let idx = state.service_index(&input.service_arn)?;
        state.services[idx].check_deployable("PauseService")?;
        let svc = &mut state.services[idx];
        runtime::stop_service(&self.ctx, &svc.url, svc.container.take());
        let op_id = state.services[idx].start(
            &self.ctx.clock,
            OpType::PauseService,
            vec![
                Plan::at(PENDING_FOR, OpStatus::InProgress),
                Plan::at(PAUSE_TAKES, OpStatus::Succeeded)
                    .service(ServiceStatus::Paused)
                    .live(false),
            ],
        );
        Ok(json!({ "Service": state.service_json(&state.services[idx]), "OperationId": op_id }))
    }

    fn resume_service(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let mut state = self.lock();
        let idx = state.service_index(&input.service_arn)?;
        let svc = &mut state.services[idx];
        if svc.status != ServiceStatus::Paused {
            return Err(ApiError::invalid_state(format!(
                "Service {} is in {} state; ResumeService can be called only when the service \
                 is in PAUSED state",
                svc.arn,
                svc.status.as_str()
            )));
        }
        if let Some(w) = self.ctx.workloads.clone() {
            let op_id = svc.start(
                &self.ctx.clock,
                OpType::ResumeService,
                vec![Plan::at(PENDING_FOR, OpStatus::InProgress)],
            );
            let job = runtime::Job {
                arn: svc.arn.clone(),
                name: svc.name.clone(),
                service_id: svc.id.clone(),
                url: svc.url.clone(),
                kind: OpType::ResumeService,
                op_id: op_id.clone(),
                config: svc.config.clone(),
                started: Instant::now(),
            };
            runtime::spawn(self.state.clone(), self.ctx.clone(), w, job);
            return Ok(
                json!({ "Service": state.service_json(&state.services[idx]), "OperationId": op_id }),
            );
        }
        let op_id = svc.start(
            &self.ctx.clock,
            OpType::ResumeService,
            vec![
                Plan::at(PENDING_FOR, OpStatus::InProgress),
                Plan::at(RESUME_TAKES, OpStatus::Succeeded)
                    .service(ServiceStatus::Running)
                    .live(true),
            ],
        );
        Ok(json!({ "Service": state.service_json(&state.services[idx]), "OperationId": op_id }))
    }

    fn list_operations(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let page = max_results(input.max_results, 20)?;
        let state = self.lock();
        let svc = state.service(&input.service_arn)?;
        let all: Vec<Value> = svc
            .operations
            .iter()
            .rev()
            .map(|op| {
                let mut v = json!({
                    "Id": op.id,
                    "Type": op.kind.as_str(),
                    "Status": op.status.as_str(),
                    "TargetArn": svc.arn,
                    "StartedAt": epoch(op.started_at),
                    "UpdatedAt": epoch(op.updated_at),
                });
                if let Some(ended) = op.ended_at {
                    v["EndedAt"] = epoch(ended);
                }
                v
            })
            .collect();
        let (items, next) = paginate(all, input.next_token.as_deref(), page)?;
        Ok(with_token(json!({ "OperationSummaryList": items }), next))
    }

    // -----------------------------------------------------------------------------------------
    // Auto scaling configurations.

    fn create_asc(&self, body: &Bytes) -> Result<Value> {
        let input: CreateAutoScalingConfigurationInput = parse(body)?;
        let name = input.auto_scaling_configuration_name;
        validate_name("autoScalingConfigurationName", &name, 4, 32)?;
        let bounded = |what: &str, v: Option<i64>, default: i64, max: i64| -> Result<i64> {
            let v = v.unwrap_or(default);
            if (1..=max).contains(&v) {
                Ok(v)
            } else {
                Err(ApiError::invalid_request(format!(
                    "1 validation error detected: Value '{v}' at '{what}' failed to satisfy \
                     constraint: Member must have value between 1 and {max}"
                )))
            }
        };
        let max_concurrency = bounded("maxConcurrency", input.max_concurrency, 100, 200)?;
        let min_size = bounded("minSize", input.min_size, 1, 25)?;
        let max_size = bounded("maxSize", input.max_size, 25, 25)?;
        if min_size > max_size {
            return Err(ApiError::invalid_request(format!(
                "MinSize ({min_size}) can't be greater than MaxSize ({max_size})"
            )));
        }
        let mut state = self.lock();
        let revisions = state
            .scaling
            .iter()
            .filter(|a| a.name == name && a.active)
            .count();
        if revisions >= ASC_REVISION_QUOTA {
            return Err(ApiError::quota(format!(
                "You have reached the maximum number of revisions ({ASC_REVISION_QUOTA}) for \
                 auto scaling configuration {name}"
            )));
        }
        let names = {
            let mut n: Vec<&str> = state
                .scaling
                .iter()
                .filter(|a| a.active && !a.is_default)
                .map(|a| a.name.as_str())
                .collect();
            n.sort_unstable();
            n.dedup();
            n.len()
        };
        if revisions == 0 && name != DEFAULT_ASC_NAME && names >= ASC_NAME_QUOTA {
            return Err(ApiError::quota(format!(
                "You have reached the maximum number of auto scaling configurations \
                 ({ASC_NAME_QUOTA})"
            )));
        }
        let revision = state
            .scaling
            .iter()
            .filter(|a| a.name == name)
            .map(|a| a.revision)
            .max()
            .unwrap_or(0)
            + 1;
        let asc = AutoScaling {
            arn: format!(
                "arn:aws:apprunner:{}:{}:autoscalingconfiguration/{name}/{revision}/{}",
                self.ctx.default_region,
                self.ctx.account_id,
                short_id(32)
            ),
            name,
            revision,
            active: true,
            max_concurrency,
            min_size,
            max_size,
            created_at: self.ctx.clock.now_utc(),
            deleted_at: None,
            is_default: false,
        };
        state.scaling.push(asc);
        let idx = state.scaling.len() - 1;
        Ok(json!({ "AutoScalingConfiguration": state.asc_json(idx) }))
    }

    fn describe_asc(&self, body: &Bytes) -> Result<Value> {
        let input: AutoScalingConfigurationArnInput = parse(body)?;
        require(
            "autoScalingConfigurationArn",
            &input.auto_scaling_configuration_arn,
        )?;
        let state = self.lock();
        let idx = state.asc_index_any(&input.auto_scaling_configuration_arn)?;
        Ok(json!({ "AutoScalingConfiguration": state.asc_json(idx) }))
    }

    fn list_ascs(&self, body: &Bytes) -> Result<Value> {
        let input: ListAutoScalingConfigurationsInput = parse(body)?;
        let page = max_results(input.max_results, 100)?;
        let state = self.lock();
        let all: Vec<Value> = (0..state.scaling.len())
            .filter(|&i| {
                let a = &state.scaling[i];
                a.active
                    && input
                        .auto_scaling_configuration_name
                        .as_ref()
                        .is_none_or(|n| *n == a.name)
                    && (!input.latest_only || state.asc_is_latest(i))
            })
            .map(|i| state.asc_summary_json(i))
            .collect();
        let (items, next) = paginate(all, input.next_token.as_deref(), page)?;
        Ok(with_token(
            json!({ "AutoScalingConfigurationSummaryList": items }),
            next,
        ))
    }

    fn delete_asc(&self, body: &Bytes) -> Result<Value> {
        let input: AutoScalingConfigurationArnInput = parse(body)?;
        require(
            "autoScalingConfigurationArn",
            &input.auto_scaling_configuration_arn,
        )?;
        let mut state = self.lock();
        let idx = state.asc_index(&input.auto_scaling_configuration_arn)?;
        let name = state.scaling[idx].name.clone();
        if state.scaling[idx].is_default {
            return Err(ApiError::invalid_request(format!(
                "The default auto scaling configuration {name} can't be deleted"
            )));
        }
        let targets: Vec<usize> = if input.delete_all_revisions {
            (0..state.scaling.len())
                .filter(|&i| state.scaling[i].name == name && state.scaling[i].active)
                .collect()
        } else {
            vec![idx]
        };
        if let Some(&busy) = targets.iter().find(|&&i| state.asc_in_use(i)) {
            return Err(ApiError::invalid_request(format!(
                "Auto scaling configuration {} is associated with a service and can't be deleted",
                state.scaling[busy].arn
            )));
        }
        let now = self.ctx.clock.now_utc();
        for &i in &targets {
            state.scaling[i].active = false;
            state.scaling[i].deleted_at = Some(now);
        }
        Ok(json!({ "AutoScalingConfiguration": state.asc_json(idx) }))
    }

    // -----------------------------------------------------------------------------------------
    // VPC connectors.

    fn create_connector(&self, body: &Bytes) -> Result<Value> {
        let input: CreateVpcConnectorInput = parse(body)?;
        let name = input.vpc_connector_name;
        validate_name("vpcConnectorName", &name, 4, 40)?;
        if input.subnets.is_empty() {
            return Err(ApiError::invalid_request(
                "1 validation error detected: Value at 'subnets' failed to satisfy constraint: \
                 Member must have at least 1 subnet",
            ));
        }
        let mut state = self.lock();
        if state.connectors.iter().any(|c| c.name == name && c.active) {
            return Err(ApiError::invalid_request(format!(
                "A VPC connector with the name {name} already exists"
            )));
        }
        if state.connectors.iter().filter(|c| c.active).count() >= VPC_CONNECTOR_QUOTA {
            return Err(ApiError::quota(format!(
                "You have reached the maximum number of VPC connectors ({VPC_CONNECTOR_QUOTA})"
            )));
        }
        let revision = state
            .connectors
            .iter()
            .filter(|c| c.name == name)
            .map(|c| c.revision)
            .max()
            .unwrap_or(0)
            + 1;
        state.connectors.push(VpcConnector {
            arn: format!(
                "arn:aws:apprunner:{}:{}:vpcconnector/{name}/{revision}/{}",
                self.ctx.default_region,
                self.ctx.account_id,
                short_id(32)
            ),
            name,
            revision,
            subnets: input.subnets,
            security_groups: input.security_groups.unwrap_or_default(),
            active: true,
            created_at: self.ctx.clock.now_utc(),
            deleted_at: None,
        });
        let c = state.connectors.last().map(connector_json);
        Ok(json!({ "VpcConnector": c }))
    }

    fn describe_connector(&self, body: &Bytes) -> Result<Value> {
        let input: VpcConnectorArnInput = parse(body)?;
        require("vpcConnectorArn", &input.vpc_connector_arn)?;
        let state = self.lock();
        let c = state.connector(&input.vpc_connector_arn)?;
        Ok(json!({ "VpcConnector": connector_json(c) }))
    }

    fn list_connectors(&self, body: &Bytes) -> Result<Value> {
        let input: PageInput = parse(body)?;
        let page = max_results(input.max_results, 100)?;
        let state = self.lock();
        let all: Vec<Value> = state.connectors.iter().map(connector_json).collect();
        let (items, next) = paginate(all, input.next_token.as_deref(), page)?;
        Ok(with_token(json!({ "VpcConnectors": items }), next))
    }

    fn delete_connector(&self, body: &Bytes) -> Result<Value> {
        let input: VpcConnectorArnInput = parse(body)?;
        require("vpcConnectorArn", &input.vpc_connector_arn)?;
        let mut state = self.lock();
        let idx = state
            .connectors
            .iter()
            .position(|c| c.arn == input.vpc_connector_arn && c.active)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "VPC connector {} doesn't exist or is already deleted",
                    input.vpc_connector_arn
                ))
            })?;
        let arn = state.connectors[idx].arn.clone();
        let in_use = state.services.iter().any(|s| {
            !s.is_deleted()
                && (s.config.network.vpc_connector_arn() == Some(arn.as_str())
                    || s.steps.iter().any(|st| {
                        st.config
                            .as_ref()
                            .is_some_and(|c| c.network.vpc_connector_arn() == Some(arn.as_str()))
                    }))
        });
        if in_use {
            return Err(ApiError::invalid_request(format!(
                "VPC connector {arn} is used by a service and can't be deleted"
            )));
        }
        let c = &mut state.connectors[idx];
        c.active = false;
        c.deleted_at = Some(self.ctx.clock.now_utc());
        Ok(json!({ "VpcConnector": connector_json(c) }))
    }

    // -----------------------------------------------------------------------------------------
    // Custom domains.

    fn associate_domain(&self, body: &Bytes) -> Result<Value> {
        let input: CustomDomainInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        require("domainName", &input.domain_name)?;
        let domain = input.domain_name.trim_end_matches('.').to_ascii_lowercase();
        if !valid_domain(&domain) {
            return Err(ApiError::invalid_request(format!(
                "Value '{}' at 'domainName' is not a valid domain name",
                input.domain_name
            )));
        }
        let www = input.enable_www_subdomain.unwrap_or(true);
        let mut state = self.lock();
        let idx = state.service_index(&input.service_arn)?;
        let svc = &mut state.services[idx];
        if svc.status != ServiceStatus::Running {
            return Err(ApiError::invalid_state(format!(
                "Service {} is in {} state; custom domains can be associated only with a \
                 RUNNING service",
                svc.arn,
                svc.status.as_str()
            )));
        }
        if svc.domains.iter().any(|d| d.name == domain) {
            return Err(ApiError::invalid_request(format!(
                "Domain {domain} is already associated with service {}",
                svc.arn
            )));
        }
        if svc.domains.len() >= CUSTOM_DOMAIN_QUOTA {
            return Err(ApiError::invalid_request(format!(
                "Service {} already has the maximum of {CUSTOM_DOMAIN_QUOTA} custom domains",
                svc.arn
            )));
        }
        let record = |name: &str| {
            (
                format!("_{}.{name}.", short_id(32)),
                format!("_{}.{}.acm-validations.aws.", short_id(32), short_id(10)),
            )
        };
        let mut records = vec![record(&domain)];
        if www {
            records.push(record(&format!("www.{domain}")));
        }
        svc.domains.push(CustomDomain {
            name: domain,
            www,
            records,
            active_at: self.ctx.clock.after(DOMAIN_VALIDATION_TAKES),
        });
        let d = svc.domains.last().map(|d| domain_json(d, None));
        Ok(json!({
            "DNSTarget": svc.url,
            "ServiceArn": svc.arn,
            "CustomDomain": d,
            "VpcDNSTargets": [],
        }))
    }

    fn describe_domains(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let page = max_results(input.max_results, 5)?;
        let state = self.lock();
        let svc = state.service(&input.service_arn)?;
        let all: Vec<Value> = svc.domains.iter().map(|d| domain_json(d, None)).collect();
        let (items, next) = paginate(all, input.next_token.as_deref(), page)?;
        Ok(with_token(
            json!({
                "DNSTarget": svc.url,
                "ServiceArn": svc.arn,
                "CustomDomains": items,
                "VpcDNSTargets": [],
            }),
            next,
        ))
    }

    fn disassociate_domain(&self, body: &Bytes) -> Result<Value> {
        let input: CustomDomainInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        require("domainName", &input.domain_name)?;
        let domain = input.domain_name.trim_end_matches('.').to_ascii_lowercase();
        let mut state = self.lock();
        let idx = state.service_index(&input.service_arn)?;
        let svc = &mut state.services[idx];
        let pos = svc
            .domains
            .iter()
            .position(|d| d.name == domain)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "Domain {domain} is not associated with service {}",
                    svc.arn
                ))
            })?;
        let d = svc.domains.remove(pos);
        Ok(json!({
            "DNSTarget": svc.url,
            "ServiceArn": svc.arn,
            "CustomDomain": domain_json(&d, Some("DELETING")),
            "VpcDNSTargets": [],
        }))
    }
}

fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(t) = next {
        v["NextToken"] = json!(t);
    }
    v
}

fn valid_domain(d: &str) -> bool {
    (1..=255).contains(&d.len())
        && d.contains('.')
        && d.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn domain_json(d: &CustomDomain, status_override: Option<&str>) -> Value {
    let active = Instant::now() >= d.active_at;
    let status = status_override.unwrap_or(if active {
        "ACTIVE"
    } else {
        "PENDING_CERTIFICATE_DNS_VALIDATION"
    });
    let record_status = if active {
        "SUCCESS"
    } else {
        "PENDING_VALIDATION"
    };
    let records: Vec<Value> = d
        .records
        .iter()
        .map(|(name, value)| {
            json!({ "Name": name, "Type": "CNAME", "Value": value, "Status": record_status })
        })
        .collect();
    json!({
        "DomainName": d.name,
        "EnableWWWSubdomain": d.www,
        "CertificateValidationRecords": records,
        "Status": status,
    })
}

fn connector_json(c: &VpcConnector) -> Value {
    let mut v = json!({
        "VpcConnectorName": c.name,
        "VpcConnectorArn": c.arn,
        "VpcConnectorRevision": c.revision,
        "Subnets": c.subnets,
        "SecurityGroups": c.security_groups,
        "Status": if c.active { "ACTIVE" } else { "INACTIVE" },
        "CreatedAt": epoch(c.created_at),
    });
    if let Some(t) = c.deleted_at {
        v["DeletedAt"] = epoch(t);
    }
    v
}

impl State {
    fn service_index(&self, arn: &str) -> Result<usize> {
        if !arn.starts_with("arn:") {
            return Err(ApiError::invalid_request(format!(
                "Value '{arn}' at 'serviceArn' is not a valid ARN"
            )));
        }
        self.services
            .iter()
            .position(|s| s.arn == arn)
            .ok_or_else(|| ApiError::not_found(format!("Service {arn} not found")))
    }

    fn service(&self, arn: &str) -> Result<&Service> {
        self.service_index(arn).map(|i| &self.services[i])
    }

    fn check_new_service(&self, name: &str) -> Result<()> {
        let live: Vec<&Service> = self.services.iter().filter(|s| !s.is_deleted()).collect();
        if live.iter().any(|s| s.name == name) {
            return Err(ApiError::invalid_request(format!(
                "Service with the provided name already exists: {name}"
            )));
        }
        if live.len() >= SERVICE_QUOTA {
            return Err(ApiError::quota(format!(
                "You have reached the maximum number of services ({SERVICE_QUOTA})"
            )));
        }
        Ok(())
    }

    fn connector(&self, arn: &str) -> Result<&VpcConnector> {
        self.connectors
            .iter()
            .find(|c| c.arn == arn)
            .ok_or_else(|| ApiError::not_found(format!("VPC connector {arn} not found")))
    }

    fn default_asc_arn(&self) -> String {
        self.scaling
            .iter()
            .find(|a| a.is_default)
            .map(|a| a.arn.clone())
            .unwrap_or_default()
    }

    /// Resolves an auto scaling configuration ARN: full (`.../name/rev/id`), or partial
    /// (`.../name` for the latest active revision, `.../name/rev`), like App Runner. Only active
    /// revisions.
    fn asc_index(&self, arn: &str) -> Result<usize> {
        self.asc_lookup(arn, false)
    }

    /// Like [`Self::asc_index`], but a full ARN also finds deleted (INACTIVE) revisions.
    fn asc_index_any(&self, arn: &str) -> Result<usize> {
        self.asc_lookup(arn, true)
    }

    fn asc_lookup(&self, arn: &str, include_inactive: bool) -> Result<usize> {
        let not_found =
            || ApiError::not_found(format!("Auto scaling configuration {arn} not found"));
        if let Some(i) = self
            .scaling
            .iter()
            .position(|a| a.arn == arn && (a.active || include_inactive))
        {
            return Ok(i);
        }
        let tail = arn
            .split_once(":autoscalingconfiguration/")
            .map(|(_, t)| t)
            .ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "Value '{arn}' at 'autoScalingConfigurationArn' is not a valid ARN"
                ))
            })?;
        let mut parts = tail.trim_end_matches('/').split('/');
        let name = parts.next().unwrap_or_default();
        let revision = parts.next().map(str::parse::<i64>);
        let candidates = self
            .scaling
            .iter()
            .enumerate()
            .filter(|(_, a)| a.active && a.name == name);
        match revision {
            None => candidates
                .max_by_key(|(_, a)| a.revision)
                .map(|(i, _)| i)
                .ok_or_else(not_found),
            Some(Ok(rev)) => candidates
                .filter(|(_, a)| a.revision == rev)
                .map(|(i, _)| i)
                .next()
                .ok_or_else(not_found),
            Some(Err(_)) => Err(not_found()),
        }
    }

    fn asc_is_latest(&self, idx: usize) -> bool {
        let a = &self.scaling[idx];
        a.active
            && !self
                .scaling
                .iter()
                .any(|b| b.active && b.name == a.name && b.revision > a.revision)
    }

    fn asc_in_use(&self, idx: usize) -> bool {
        let arn = &self.scaling[idx].arn;
        self.services.iter().any(|s| {
            !s.is_deleted()
                && (s.config.auto_scaling_arn == *arn
                    || s.steps.iter().any(|st| {
                        st.config
                            .as_ref()
                            .is_some_and(|c| c.auto_scaling_arn == *arn)
                    }))
        })
    }

    fn asc_summary_json(&self, idx: usize) -> Value {
        let a = &self.scaling[idx];
        json!({
            "AutoScalingConfigurationArn": a.arn,
            "AutoScalingConfigurationName": a.name,
            "AutoScalingConfigurationRevision": a.revision,
            "Status": if a.active { "ACTIVE" } else { "INACTIVE" },
            "CreatedAt": epoch(a.created_at),
            "HasAssociatedService": self.asc_in_use(idx),
            "IsDefault": a.is_default,
        })
    }

    fn asc_json(&self, idx: usize) -> Value {
        let a = &self.scaling[idx];
        let mut v = json!({
            "AutoScalingConfigurationArn": a.arn,
            "AutoScalingConfigurationName": a.name,
            "AutoScalingConfigurationRevision": a.revision,
            "Latest": self.asc_is_latest(idx),
            "Status": if a.active { "ACTIVE" } else { "INACTIVE" },
            "MaxConcurrency": a.max_concurrency,
            "MinSize": a.min_size,
            "MaxSize": a.max_size,
            "CreatedAt": epoch(a.created_at),
            "HasAssociatedService": self.asc_in_use(idx),
            "IsDefault": a.is_default,
        });
        if let Some(t) = a.deleted_at {
            v["DeletedAt"] = epoch(t);
        }
        v
    }

    fn service_json(&self, s: &Service) -> Value {
        let c = &s.config;
        let mut v = json!({
            "ServiceName": s.name,
            "ServiceId": s.id,
            "ServiceArn": s.arn,
            "ServiceUrl": s.url,
            "CreatedAt": epoch(s.created_at),
            "UpdatedAt": epoch(s.updated_at),
            "Status": s.status.as_str(),
            "SourceConfiguration": c.source,
            "InstanceConfiguration": c.instance,
            "HealthCheckConfiguration": c.health,
            "NetworkConfiguration": c.network,
            "ObservabilityConfiguration": c.observability,
        });
        if let Some(t) = s.deleted_at {
            v["DeletedAt"] = epoch(t);
        }
        if let Some(e) = &c.encryption {
            v["EncryptionConfiguration"] = json!(e);
        }
        if let Some(i) = self
            .scaling
            .iter()
            .position(|a| a.arn == c.auto_scaling_arn)
        {
            v["AutoScalingConfigurationSummary"] = self.asc_summary_json(i);
        }
        v
    }
}
