//! Services and their operations: create, update, deploy, pause, resume, delete, describe, list.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Value, json};

use super::error::ApiError;
use super::model::*;
use super::{
    AppRunner, CREATE_TAKES, DELETE_TAKES, DEPLOY_TAKES, OpStatus, OpType, PAUSE_TAKES,
    PENDING_FOR, Plan, RESUME_TAKES, ROLLBACK_TAKES, Requested, Result, Service, ServiceConfig,
    ServiceStatus, State, epoch, parse, require, short_id, with_token,
};
use super::{runtime, validate};

impl AppRunner {
    // -----------------------------------------------------------------------------------------
    // Services.

    /// Whether a deploy of `config` for the service `name` would pass its health check.
    pub(super) async fn deploy_is_healthy(&self, name: &str, config: &ServiceConfig) -> bool {
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
    pub(super) fn resolve_config(state: &State, requested: Requested) -> Result<ServiceConfig> {
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

    pub(super) async fn create_service(&self, body: &Bytes) -> Result<Value> {
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
            tags: super::tags::checked(input.tags.as_deref().unwrap_or_default())?,
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
    pub(super) fn deploy_plan(new: ServiceConfig, healthy: bool, rollback_ok: bool) -> Vec<Plan> {
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
    pub(super) async fn deploy(
        &self,
        arn: &str,
        kind: OpType,
        new: ServiceConfig,
    ) -> Result<(Value, String)> {
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

    pub(super) async fn update_service(&self, body: &Bytes) -> Result<Value> {
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

    pub(super) async fn start_deployment(&self, body: &Bytes) -> Result<Value> {
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

    pub(super) fn describe_service(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let state = self.lock();
        let svc = state.service(&input.service_arn)?;
        Ok(json!({ "Service": state.service_json(svc) }))
    }

    pub(super) fn list_services(&self, body: &Bytes) -> Result<Value> {
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

    pub(super) fn delete_service(&self, body: &Bytes) -> Result<Value> {
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

    pub(super) fn pause_service(&self, body: &Bytes) -> Result<Value> {
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

    pub(super) fn resume_service(&self, body: &Bytes) -> Result<Value> {
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

    pub(super) fn list_operations(&self, body: &Bytes) -> Result<Value> {
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
}
