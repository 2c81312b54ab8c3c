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
mod lookup;
mod model;
mod resources;
pub(crate) mod runtime;
mod services;
mod tags;
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
    /// Resource tags.
    tags: std::collections::BTreeMap<String, String>,
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
            "ListTagsForResource" => self.list_tags_for_resource(&body),
            "TagResource" => self.tag_resource(&body),
            "UntagResource" => self.untag_resource(&body),
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
        let image = svc.and_then(|s| {
            s.config
                .source
                .image_repository
                .as_ref()
                .map(|r| r.image_identifier.clone())
        });
        let broken = image
            .as_deref()
            .is_some_and(|i| self.ctx.faults.is_unhealthy_image(i));
        let (status, body): (StatusCode, &'static [u8]) = match svc {
            Some(s) if s.live && broken => (
                StatusCode::INTERNAL_SERVER_ERROR,
                b"Internal Server Error (this image was marked unhealthy)\n",
            ),
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
        if let Some(v) = image.and_then(|i| http::HeaderValue::from_str(&i).ok()) {
            resp.headers_mut().insert("x-localcloud-image", v);
        }
        resp
    }
}

fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(t) = next {
        v["NextToken"] = json!(t);
    }
    v
}
