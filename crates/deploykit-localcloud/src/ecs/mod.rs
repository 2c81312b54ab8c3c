//! Amazon ECS Express Mode emulator (JSON 1.1, `X-Amz-Target:
//! AmazonEC2ContainerServiceV20141113.<Operation>`).
//!
//! moto has ECS but not Express Mode. The edge sends these operations here:
//! `CreateExpressGatewayService`, `UpdateExpressGatewayService`,
//! `DescribeExpressGatewayService`, `DeleteExpressGatewayService`, `ListServiceDeployments`,
//! `DescribeServices` when every service it names is an Express service created here, and
//! `TagResource` / `UntagResource` / `ListTagsForResource` when the resource is one ([`tags`];
//! the rest of ECS, and these operations for other resources, go to moto).
//!
//! # Model
//!
//! A create or update registers a new task definition revision (family = service name) and a
//! new *service revision*, and starts a *service deployment* towards it. The deployment is
//! `IN_PROGRESS` for at least [`DEPLOY_TAKES`] of scaled service time, then:
//! - healthy: `SUCCESSFUL`, the target revision serves;
//! - unhealthy with a previous revision (the deployment circuit breaker with rollback, which
//!   Express services have on): `ROLLBACK_IN_PROGRESS`, then `ROLLBACK_SUCCESSFUL` after
//!   [`ROLLBACK_TAKES`]; the previous revision keeps serving all along;
//! - unhealthy on the first deployment (nothing to roll back to): `ROLLBACK_FAILED`.
//!
//! A deployment is healthy when the image is in the local registry, the secrets resolve in the
//! local Secrets Manager / SSM and no `fail-next-deploy` fault names the service. With
//! workloads on, the image runs for real (`PORT`, `environment`, `secrets` read like ECS's
//! agent does with the execution role) and the container's HTTP health check on
//! `healthCheckPath` decides; the endpoint host is proxied to the serving container.
//!
//! Refused like AWS: missing or unknown execution / infrastructure roles
//! (`InvalidParameterException` / `ClientException`), bad service names, a second service with
//! the same name, updates of a deleted service (`ServiceNotActiveException`).
//!
//! The endpoint is `<name>-<id>.ecs.<region>.localhost` (AWS: `…ecs.<region>.on.aws`).

mod config;
mod runtime;
mod tags;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::apprunner::image::{ImageRef, RegistryProbe};
use crate::core::Ctx;
use crate::secrets_check::{Lookup, parse_arn};
use crate::workload::Running;
use config::{configuration, validate_name};

/// Scaled service time a deployment takes at least (tasks start, target group healthy).
pub(crate) const DEPLOY_TAKES: Duration = Duration::from_secs(3 * 60);
/// Scaled service time a rollback takes.
pub(crate) const ROLLBACK_TAKES: Duration = Duration::from_secs(60);
/// Scaled time a deleted service stays `DRAINING` before `INACTIVE`.
const DRAIN_TAKES: Duration = Duration::from_secs(60);

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The `X-Amz-Target` prefix of every ECS operation.
pub(crate) const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";

/// Operations this emulator owns (the edge sends the rest of ECS to moto).
pub(crate) const EXPRESS_OPERATIONS: &[&str] = &[
    "CreateExpressGatewayService",
    "UpdateExpressGatewayService",
    "DescribeExpressGatewayService",
    "DeleteExpressGatewayService",
    "ListServiceDeployments",
    // Only for our services (see `Ecs::owns`).
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// One ECS error in the JSON 1.1 wire format.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    code: &'static str,
    message: String,
    status: StatusCode,
}

impl ApiError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }
    fn client(message: impl Into<String>) -> Self {
        Self::new("ClientException", message)
    }
    fn server(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            ..Self::new("ServerException", message)
        }
    }
    fn into_response(self) -> Response<Full<Bytes>> {
        let body = json!({ "__type": self.code, "message": self.message });
        let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        h.insert(
            "x-amzn-errortype",
            http::HeaderValue::from_static(self.code),
        );
        resp
    }
}

fn ok(v: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(v.to_string())));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    resp
}

fn epoch(t: OffsetDateTime) -> Value {
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    #[allow(clippy::cast_precision_loss)]
    let secs = millis as f64 / 1000.0;
    json!(secs)
}

fn digits(n: usize) -> String {
    let hex = uuid::Uuid::new_v4().as_u128();
    let s = format!("{:039}", hex);
    s[s.len() - n..].to_string()
}

/// Deployment status, as `ListServiceDeployments` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DepStatus {
    InProgress,
    Successful,
    RollbackInProgress,
    RollbackSuccessful,
    RollbackFailed,
}

impl DepStatus {
    fn as_str(self) -> &'static str {
        match self {
            DepStatus::InProgress => "IN_PROGRESS",
            DepStatus::Successful => "SUCCESSFUL",
            DepStatus::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            DepStatus::RollbackSuccessful => "ROLLBACK_SUCCESSFUL",
            DepStatus::RollbackFailed => "ROLLBACK_FAILED",
        }
    }
    fn is_terminal(self) -> bool {
        !matches!(self, DepStatus::InProgress | DepStatus::RollbackInProgress)
    }
}

/// One service revision: the configuration a deployment rolls out.
#[derive(Debug, Clone)]
pub(crate) struct Revision {
    pub arn: String,
    pub task_definition: String,
    /// `ExpressGatewayServiceConfiguration` as ECS answers it (without `createdAt`).
    pub config: Value,
    pub created: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub arn: String,
    pub id: String,
    pub target: usize,
    pub source: Option<usize>,
    pub status: DepStatus,
    pub reason: Option<String>,
    pub created: OffsetDateTime,
    pub finished: Option<OffsetDateTime>,
    pub started: Instant,
    /// `Some(healthy)` once known (simulated: at start; real workloads: when the check ends).
    pub healthy: Option<bool>,
    pub why_unhealthy: Option<String>,
    /// When the rollback started (real instant).
    rollback_at: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Service {
    pub name: String,
    pub arn: String,
    pub infrastructure_role: String,
    pub endpoint: String,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`.
    pub status: &'static str,
    deleted_at: Option<Instant>,
    pub revisions: Vec<Revision>,
    /// The revision that serves (after its deployment succeeded).
    pub serving: Option<usize>,
    pub deployments: Vec<Deployment>,
    pub container: Option<Running>,
    /// Resource tags (TagResource, or `tags` of the create).
    tags: std::collections::BTreeMap<String, String>,
}

impl Service {
    fn advance(&mut self, ctx: &Ctx, now: Instant) {
        if self.status == "DRAINING"
            && self
                .deleted_at
                .is_some_and(|t| now >= t + ctx.clock.real(DRAIN_TAKES))
        {
            self.status = "INACTIVE";
        }
        let wall = ctx.clock.now_utc();
        let mut newly_serving = None;
        for d in &mut self.deployments {
            let Some(healthy) = d.healthy else { continue };
            let due = d.started + ctx.clock.real(DEPLOY_TAKES);
            match d.status {
                DepStatus::InProgress if now >= due => {
                    if healthy {
                        d.status = DepStatus::Successful;
                        d.finished = Some(wall);
                        newly_serving = Some(d.target);
                    } else if d.source.is_some() {
                        d.status = DepStatus::RollbackInProgress;
                        d.reason = Some(format!(
                            "ECS deployment circuit breaker: tasks failed to start. {}",
                            d.why_unhealthy.clone().unwrap_or_default()
                        ));
                        d.rollback_at = Some(now);
                    } else {
                        d.status = DepStatus::RollbackFailed;
                        d.reason = Some(format!(
                            "ECS deployment circuit breaker: tasks failed to start, and the service has no previous revision to roll back to. {}",
                            d.why_unhealthy.clone().unwrap_or_default()
                        ));
                        d.finished = Some(wall);
                    }
                }
                DepStatus::RollbackInProgress
                    if d.rollback_at
                        .is_some_and(|t| now >= t + ctx.clock.real(ROLLBACK_TAKES)) =>
                {
                    d.status = DepStatus::RollbackSuccessful;
                    d.finished = Some(wall);
                }
                _ => {}
            }
        }
        if let Some(t) = newly_serving {
            self.serving = Some(t);
        }
    }

    fn latest(&self) -> Option<&Deployment> {
        self.deployments.last()
    }

    fn cluster_arn(&self, ctx: &Ctx) -> String {
        format!(
            "arn:aws:ecs:{}:{}:cluster/default",
            ctx.default_region, ctx.account_id
        )
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub services: Vec<Service>,
    /// Task definition revision counters per family.
    families: std::collections::HashMap<String, u32>,
}

/// The ECS Express emulator: one per edge.
#[derive(Debug)]
pub struct Ecs {
    ctx: Ctx,
    probe: RegistryProbe,
    state: Arc<Mutex<State>>,
}

impl Ecs {
    pub fn new(ctx: Ctx) -> Self {
        Self {
            probe: RegistryProbe::new(ctx.registry.clone()),
            ctx,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for svc in &mut s.services {
            svc.advance(&self.ctx, now);
        }
        s
    }

    /// Whether the edge should answer this ECS operation here (`body` decides for
    /// `DescribeServices`: only when every service it names is one of ours).
    pub fn owns(&self, op: &str, body: &[u8]) -> bool {
        if tags::TAG_OPERATIONS.contains(&op) {
            return tags::names_ours(&self.lock(), body);
        }
        if EXPRESS_OPERATIONS.contains(&op) {
            return true;
        }
        if op != "DescribeServices" {
            return false;
        }
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        let Some(names) = v.get("services").and_then(Value::as_array) else {
            return false;
        };
        let state = self.lock();
        !names.is_empty()
            && names
                .iter()
                .all(|n| n.as_str().is_some_and(|n| find(&state, n).is_some()))
    }

    /// Answers one operation (`op` is the part of `X-Amz-Target` after the prefix).
    pub async fn handle(&self, op: &str, body: Bytes) -> Response<Full<Bytes>> {
        let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    return ApiError::new(
                        "SerializationException",
                        format!("Request body is not valid JSON: {e}"),
                    )
                    .into_response();
                }
            }
        };
        let result = match op {
            "CreateExpressGatewayService" => self.create(&input).await,
            "UpdateExpressGatewayService" => self.update(&input).await,
            "DescribeExpressGatewayService" => self.describe(&input),
            "DeleteExpressGatewayService" => self.delete(&input),
            "ListServiceDeployments" => self.list_deployments(&input),
            "DescribeServices" => self.describe_services(&input),
            op if tags::TAG_OPERATIONS.contains(&op) => tags::handle(op, &mut self.lock(), &input),
            other => Err(ApiError::new(
                "UnknownOperationException",
                format!("Operation {other} is not emulated by the local cloud"),
            )),
        };
        match result {
            Ok(v) => ok(&v),
            Err(e) => e.into_response(),
        }
    }

    /// App traffic for an endpoint host when workloads are simulated: `200 ok` while a revision
    /// serves, `503` while none does, `404` for an unknown host.
    pub fn serve_app(&self, host: &str) -> Response<Full<Bytes>> {
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let state = self.lock();
        let svc = state
            .services
            .iter()
            .find(|s| s.status == "ACTIVE" && s.endpoint.eq_ignore_ascii_case(host));
        let (status, body): (StatusCode, &'static [u8]) = match svc {
            Some(s) if s.serving.is_some() => (StatusCode::OK, b"ok"),
            Some(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                b"503 Service Temporarily Unavailable\n",
            ),
            None => (
                StatusCode::NOT_FOUND,
                b"no ECS Express service has this host\n",
            ),
        };
        let mut resp = Response::new(Full::new(Bytes::from_static(body)));
        *resp.status_mut() = status;
        resp
    }

    fn lookup(&self) -> Option<Lookup<'_>> {
        self.ctx.moto_url.as_deref().map(|m| Lookup {
            moto_url: m,
            account_id: &self.ctx.account_id,
            region: &self.ctx.default_region,
        })
    }

    /// ECS refuses roles it cannot assume before it creates anything.
    async fn check_role(&self, what: &str, arn: &str) -> Result<()> {
        if crate::secrets_check::parse_role_arn(arn).is_none() {
            return Err(ApiError::invalid(format!(
                "{what} '{arn}' is not a valid IAM role ARN"
            )));
        }
        let Some(lookup) = self.lookup() else {
            return Ok(());
        };
        match lookup.role_exists(arn).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::client(format!(
                "ECS was unable to assume the role '{arn}' that was provided for {what}. \
                 Verify that the role exists and that its trust policy allows ECS to assume it."
            ))),
            Err(e) => Err(ApiError::server(format!("cannot check {what}: {e}"))),
        }
    }

    /// Whether a deployment of `config` would start healthy tasks (simulated check), and why not.
    async fn precheck(&self, name: &str, config: &Value) -> (bool, Option<String>) {
        let image = config
            .pointer("/primaryContainer/image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let present = match ImageRef::parse(image) {
            Ok(r) => self.probe.image_present(&r).await,
            Err(_) => false,
        };
        if !present {
            return (
                false,
                Some(format!(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): {image}: not found"
                )),
            );
        }
        if let Some(lookup) = self.lookup() {
            for s in config
                .pointer("/primaryContainer/secrets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let from = s.get("valueFrom").and_then(Value::as_str).unwrap_or("");
                let exists = match parse_arn(from) {
                    Some(r) => matches!(lookup.exists(&r).await, Ok(true)),
                    None => false,
                };
                if !exists {
                    return (
                        false,
                        Some(format!(
                            "ResourceInitializationError: unable to pull secrets or registry auth: retrieve secret from {from}: ResourceNotFoundException"
                        )),
                    );
                }
            }
        }
        if self.ctx.faults.take_deploy_failure(name) {
            return (
                false,
                Some("Task failed ELB health checks (injected failure)".into()),
            );
        }
        (true, None)
    }

    fn register(&self, state: &mut State, name: &str, config: &Value) -> Revision {
        let n = state.families.entry(name.to_string()).or_insert(0);
        *n += 1;
        let region = &self.ctx.default_region;
        let acct = &self.ctx.account_id;
        let td = format!("arn:aws:ecs:{region}:{acct}:task-definition/{name}:{n}");
        let arn = format!(
            "arn:aws:ecs:{region}:{acct}:service-revision/default/{name}/{}",
            digits(19)
        );
        let mut config = config.clone();
        config["serviceRevisionArn"] = json!(arn);
        config["taskDefinitionArn"] = json!(td);
        Revision {
            arn,
            task_definition: td,
            config,
            created: self.ctx.clock.now_utc(),
        }
    }

    /// Starts a deployment of revision `target` on `state.services[idx]`; returns its index.
    fn start_deployment(
        &self,
        svc: &mut Service,
        target: usize,
        healthy: Option<bool>,
        why: Option<String>,
    ) -> usize {
        let id = digits(19);
        let d = Deployment {
            arn: format!(
                "arn:aws:ecs:{}:{}:service-deployment/default/{}/{id}",
                self.ctx.default_region, self.ctx.account_id, svc.name
            ),
            id,
            target,
            source: svc.serving,
            status: DepStatus::InProgress,
            reason: None,
            created: self.ctx.clock.now_utc(),
            finished: None,
            started: Instant::now(),
            healthy,
            why_unhealthy: why,
            rollback_at: None,
        };
        svc.deployments.push(d);
        svc.updated = self.ctx.clock.now_utc();
        svc.deployments.len() - 1
    }

    async fn create(&self, input: &Value) -> Result<Value> {
        let s = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
        let name = s("serviceName").unwrap_or_else(|| format!("express-{}", &digits(8)));
        validate_name(&name)?;
        if let Some(c) = s("cluster")
            && c != "default"
            && !c.ends_with(":cluster/default")
        {
            return Err(ApiError::new(
                "ClusterNotFoundException",
                format!("Cluster not found: {c} (the local cloud has the default cluster)"),
            ));
        }
        let exec = s("executionRoleArn")
            .ok_or_else(|| ApiError::invalid("executionRoleArn must not be null"))?;
        let infra = s("infrastructureRoleArn")
            .ok_or_else(|| ApiError::invalid("infrastructureRoleArn must not be null"))?;
        let config = configuration(input, None)?;
        let tags = tags::checked(input.get("tags"))?;
        {
            let state = self.lock();
            if find(&state, &name).is_some_and(|s| s.status != "INACTIVE") {
                return Err(ApiError::invalid(format!(
                    "Creation of service was not idempotent: a service named {name} already exists"
                )));
            }
        }
        self.check_role("executionRoleArn", &exec).await?;
        self.check_role("infrastructureRoleArn", &infra).await?;
        if let Some(task) = s("taskRoleArn") {
            self.check_role("taskRoleArn", &task).await?;
        }
        let (healthy, why) = self.precheck(&name, &config).await;

        let mut state = self.lock();
        if find(&state, &name).is_some_and(|s| s.status != "INACTIVE") {
            return Err(ApiError::invalid(format!(
                "Creation of service was not idempotent: a service named {name} already exists"
            )));
        }
        state.services.retain(|s| s.name != name);
        let rev = self.register(&mut state, &name, &config);
        let label: String = name
            .chars()
            .map(|c| {
                if c == '_' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let now = self.ctx.clock.now_utc();
        let mut svc = Service {
            arn: format!(
                "arn:aws:ecs:{}:{}:service/default/{name}",
                self.ctx.default_region, self.ctx.account_id
            ),
            endpoint: format!(
                "{label}-{}.ecs.{}.localhost",
                &uuid::Uuid::new_v4().simple().to_string()[..8],
                self.ctx.default_region
            ),
            name: name.clone(),
            infrastructure_role: infra,
            created: now,
            updated: now,
            status: "ACTIVE",
            deleted_at: None,
            revisions: vec![rev],
            serving: None,
            deployments: Vec::new(),
            container: None,
            tags,
        };
        let job = self.begin(&mut svc, 0, healthy, why);
        let out = service_json(&self.ctx, &svc);
        state.services.push(svc);
        drop(state);
        self.run(job);
        Ok(json!({ "service": out }))
    }

    /// Starts the deployment; with workloads on and a healthy precheck, returns the job that
    /// runs the container (its health decides the outcome).
    fn begin(
        &self,
        svc: &mut Service,
        target: usize,
        healthy: bool,
        why: Option<String>,
    ) -> Option<runtime::Job> {
        match (&self.ctx.workloads, healthy) {
            (Some(_), true) => {
                let d = self.start_deployment(svc, target, None, None);
                Some(runtime::Job {
                    service_arn: svc.arn.clone(),
                    name: svc.name.clone(),
                    endpoint: svc.endpoint.clone(),
                    deployment_arn: svc.deployments[d].arn.clone(),
                    config: svc.revisions[target].config.clone(),
                })
            }
            _ => {
                self.start_deployment(svc, target, Some(healthy), why);
                None
            }
        }
    }

    fn run(&self, job: Option<runtime::Job>) {
        if let (Some(job), Some(w)) = (job, self.ctx.workloads.clone()) {
            runtime::spawn(self.state.clone(), self.ctx.clone(), w, job);
        }
    }

    async fn update(&self, input: &Value) -> Result<Value> {
        let arn = input
            .get("serviceArn")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid("serviceArn must not be null"))?
            .to_string();
        let (name, current) = {
            let state = self.lock();
            let svc = find(&state, &arn).ok_or_else(|| {
                ApiError::new(
                    "ServiceNotFoundException",
                    format!("Service not found: {arn}"),
                )
            })?;
            if svc.status != "ACTIVE" {
                return Err(ApiError::new(
                    "ServiceNotActiveException",
                    format!("Service {} is {}", svc.name, svc.status),
                ));
            }
            if svc.latest().is_some_and(|d| !d.status.is_terminal()) {
                // ECS would supersede the deployment in progress; deploykit never races one,
                // and the emulator keeps one deployment at a time.
                return Err(ApiError::invalid(format!(
                    "Service {} has a deployment in progress; wait for it to finish",
                    svc.name
                )));
            }
            let current = svc.revisions.last().map(|r| r.config.clone());
            (svc.name.clone(), current)
        };
        let config = configuration(input, current.as_ref())?;
        if let Some(e) = input.get("executionRoleArn").and_then(Value::as_str) {
            self.check_role("executionRoleArn", e).await?;
        }
        if let Some(t) = input.get("taskRoleArn").and_then(Value::as_str) {
            self.check_role("taskRoleArn", t).await?;
        }
        let (healthy, why) = self.precheck(&name, &config).await;
        let mut state = self.lock();
        let rev = self.register(&mut state, &name, &config);
        let svc = find_mut(&mut state, &arn)
            .ok_or_else(|| ApiError::new("ServiceNotFoundException", "Service not found"))?;
        svc.revisions.push(rev);
        let target = svc.revisions.len() - 1;
        let job = self.begin(svc, target, healthy, why);
        let mut target_config = svc.revisions[target].config.clone();
        target_config["createdAt"] = epoch(svc.revisions[target].created);
        let out = json!({
            "serviceArn": svc.arn,
            "cluster": svc.cluster_arn(&self.ctx),
            "serviceName": svc.name,
            "status": { "statusCode": svc.status },
            "targetConfiguration": target_config,
            "createdAt": epoch(svc.created),
            "updatedAt": epoch(svc.updated),
        });
        drop(state);
        self.run(job);
        Ok(json!({ "service": out }))
    }

    fn describe(&self, input: &Value) -> Result<Value> {
        let arn = input
            .get("serviceArn")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid("serviceArn must not be null"))?;
        let state = self.lock();
        let svc = find(&state, arn).ok_or_else(|| {
            ApiError::new(
                "ResourceNotFoundException",
                format!("The Express service {arn} was not found"),
            )
        })?;
        Ok(json!({ "service": service_json(&self.ctx, svc) }))
    }

    fn delete(&self, input: &Value) -> Result<Value> {
        let arn = input
            .get("serviceArn")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid("serviceArn must not be null"))?;
        let mut state = self.lock();
        let svc = find_mut(&mut state, arn).ok_or_else(|| {
            ApiError::new(
                "ServiceNotFoundException",
                format!("Service not found: {arn}"),
            )
        })?;
        if svc.status != "ACTIVE" {
            return Err(ApiError::new(
                "ServiceNotActiveException",
                format!("Service {} is {}", svc.name, svc.status),
            ));
        }
        svc.status = "DRAINING";
        svc.deleted_at = Some(Instant::now());
        svc.updated = self.ctx.clock.now_utc();
        runtime::stop_service(&self.ctx, &svc.endpoint, svc.container.take());
        Ok(json!({ "service": service_json(&self.ctx, svc) }))
    }

    fn list_deployments(&self, input: &Value) -> Result<Value> {
        let name = input
            .get("service")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid("service must not be null"))?;
        let state = self.lock();
        let Some(svc) = find(&state, name) else {
            return Err(ApiError::new(
                "ServiceNotFoundException",
                format!("Service not found: {name}"),
            ));
        };
        let cluster = svc.cluster_arn(&self.ctx);
        let list: Vec<Value> = svc
            .deployments
            .iter()
            .rev()
            .map(|d| {
                let mut v = json!({
                    "serviceDeploymentArn": d.arn,
                    "serviceArn": svc.arn,
                    "clusterArn": cluster,
                    "createdAt": epoch(d.created),
                    "startedAt": epoch(d.created),
                    "targetServiceRevisionArn": svc.revisions[d.target].arn,
                    "status": d.status.as_str(),
                });
                if let Some(r) = &d.reason {
                    v["statusReason"] = json!(r);
                }
                if let Some(f) = d.finished {
                    v["finishedAt"] = epoch(f);
                }
                v
            })
            .collect();
        Ok(json!({ "serviceDeployments": list }))
    }

    fn describe_services(&self, input: &Value) -> Result<Value> {
        let state = self.lock();
        let mut services = Vec::new();
        let mut failures = Vec::new();
        for n in input
            .get("services")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            match find(&state, n) {
                Some(svc) => services.push(ecs_service_json(&self.ctx, svc)),
                None => failures.push(json!({ "arn": n, "reason": "MISSING" })),
            }
        }
        Ok(json!({ "services": services, "failures": failures }))
    }
}

fn find<'a>(state: &'a State, name_or_arn: &str) -> Option<&'a Service> {
    state
        .services
        .iter()
        .rev()
        .find(|s| s.arn == name_or_arn || s.name == name_or_arn)
}

fn find_mut<'a>(state: &'a mut State, name_or_arn: &str) -> Option<&'a mut Service> {
    state
        .services
        .iter_mut()
        .rev()
        .find(|s| s.arn == name_or_arn || s.name == name_or_arn)
}

fn service_json(ctx: &Ctx, svc: &Service) -> Value {
    // Active configurations: the serving one, plus the target of a deployment in progress.
    let mut active: Vec<usize> = svc.serving.into_iter().collect();
    if let Some(d) = svc.latest()
        && !d.status.is_terminal()
        && !active.contains(&d.target)
    {
        active.push(d.target);
    }
    if active.is_empty()
        && let Some(d) = svc.latest()
    {
        active.push(d.target);
    }
    let configs: Vec<Value> = active
        .iter()
        .map(|&i| {
            let r = &svc.revisions[i];
            let mut c = r.config.clone();
            c["createdAt"] = epoch(r.created);
            c["ingressPaths"] = json!([{ "accessType": "PUBLIC", "endpoint": svc.endpoint }]);
            c
        })
        .collect();
    let mut v = json!({
        "cluster": svc.cluster_arn(ctx),
        "serviceName": svc.name,
        "serviceArn": svc.arn,
        "infrastructureRoleArn": svc.infrastructure_role,
        "status": { "statusCode": svc.status },
        "activeConfigurations": configs,
        "tags": tags::to_json(&svc.tags),
        "createdAt": epoch(svc.created),
        "updatedAt": epoch(svc.updated),
    });
    if let Some(d) = svc.latest() {
        v["currentDeployment"] = json!(d.arn);
    }
    v
}

/// The service as `DescribeServices` shows it: deployments with their rollout states.
fn ecs_service_json(ctx: &Ctx, svc: &Service) -> Value {
    let dep = |id: &str,
               status: &str,
               rev: usize,
               rollout: &str,
               reason: Option<&str>,
               at: OffsetDateTime| {
        let mut d = json!({
            "id": format!("ecs-svc/{id}"),
            "status": status,
            "taskDefinition": svc.revisions[rev].task_definition,
            "desiredCount": 1, "pendingCount": 0,
            "runningCount": if rollout == "COMPLETED" { 1 } else { 0 },
            "failedTasks": 0,
            "launchType": "FARGATE",
            "rolloutState": rollout,
            "createdAt": epoch(at), "updatedAt": epoch(at),
        });
        if let Some(r) = reason {
            d["rolloutStateReason"] = json!(r);
        }
        d
    };
    let mut deployments = Vec::new();
    if let Some(d) = svc.latest() {
        match d.status {
            DepStatus::InProgress => {
                deployments.push(dep(
                    &d.id,
                    "PRIMARY",
                    d.target,
                    "IN_PROGRESS",
                    None,
                    d.created,
                ));
                if let Some(s) = d.source {
                    deployments.push(dep("0", "ACTIVE", s, "COMPLETED", None, d.created));
                }
            }
            DepStatus::Successful => deployments.push(dep(
                &d.id,
                "PRIMARY",
                d.target,
                "COMPLETED",
                None,
                d.created,
            )),
            DepStatus::RollbackInProgress | DepStatus::RollbackSuccessful => {
                let done = d.status == DepStatus::RollbackSuccessful;
                if let Some(s) = d.source {
                    deployments.push(dep(
                        &format!("{}r", d.id),
                        "PRIMARY",
                        s,
                        if done { "COMPLETED" } else { "IN_PROGRESS" },
                        None,
                        d.created,
                    ));
                }
                if !done {
                    deployments.push(dep(
                        &d.id,
                        "ACTIVE",
                        d.target,
                        "FAILED",
                        d.reason.as_deref(),
                        d.created,
                    ));
                }
            }
            DepStatus::RollbackFailed => deployments.push(dep(
                &d.id,
                "PRIMARY",
                d.target,
                "FAILED",
                d.reason.as_deref(),
                d.created,
            )),
        }
    }
    let serving_td = svc
        .serving
        .or(svc.latest().map(|d| d.target))
        .map(|i| svc.revisions[i].task_definition.clone());
    json!({
        "serviceArn": svc.arn,
        "serviceName": svc.name,
        "clusterArn": svc.cluster_arn(ctx),
        "status": svc.status,
        "desiredCount": if svc.status == "ACTIVE" { 1 } else { 0 },
        "runningCount": if svc.serving.is_some() && svc.status == "ACTIVE" { 1 } else { 0 },
        "pendingCount": 0,
        "launchType": "FARGATE",
        "taskDefinition": serving_td,
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": { "enable": true, "rollback": true },
            "maximumPercent": 200, "minimumHealthyPercent": 100,
        },
        "deployments": deployments,
        "createdAt": epoch(svc.created),
    })
}
