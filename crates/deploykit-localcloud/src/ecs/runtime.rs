//! Real ECS Express tasks: with workloads on, a deployment runs the revision's image with the
//! same runtime as App Runner (unique loopback `PORT`, `environment`, `secrets` read from the
//! local Secrets Manager / SSM) and its HTTP health check on `healthCheckPath` decides:
//! healthy, the endpoint is routed to the new container and the old one stops; unhealthy, the
//! new one stops and the previous one keeps serving (the circuit breaker's rollback).
//! Container output goes to CloudWatch Logs under `/aws/ecs/default/<service>-<id>` like
//! Express's service log group, stream `ecs/<container>/<task>`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::{DEPLOY_TAKES, State};
use crate::core::Ctx;
use crate::workload::logs::{self, LogTarget};
use crate::workload::{Running, WorkloadSpec, Workloads};

/// Real time a new task gets to pass its health check at least, whatever the time scale.
const HEALTH_MIN_REAL: Duration = Duration::from_secs(60);
/// Real time a new task gets at most.
const HEALTH_CAP_REAL: Duration = Duration::from_secs(10 * 60);

#[derive(Debug)]
pub(super) struct Job {
    pub service_arn: String,
    pub name: String,
    pub endpoint: String,
    pub deployment_arn: String,
    pub config: Value,
}

pub(super) fn spawn(state: Arc<Mutex<State>>, ctx: Ctx, w: Workloads, job: Job) {
    tokio::spawn(async move {
        let outcome = run(&ctx, &w, &job).await;
        let stop = {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            let svc = s
                .services
                .iter_mut()
                .find(|s| s.arn == job.service_arn && s.status == "ACTIVE");
            let found = svc.and_then(|svc| {
                let i = svc
                    .deployments
                    .iter()
                    .position(|d| d.arn == job.deployment_arn)?;
                Some((svc, i))
            });
            match (found, outcome) {
                (Some((svc, i)), Ok(running)) => {
                    svc.deployments[i].healthy = Some(true);
                    ctx.routes.set(&job.endpoint, running.addr);
                    svc.container.replace(running)
                }
                (Some((svc, i)), Err(why)) => {
                    svc.deployments[i].healthy = Some(false);
                    svc.deployments[i].why_unhealthy = Some(why);
                    None
                }
                // The service is gone (deleted, or the edge was reset): nothing may keep running.
                (None, Ok(running)) => Some(running),
                (None, Err(_)) => None,
            }
        };
        if let Some(old) = stop {
            let _ = w.stop(&old.id).await;
        }
    });
}

async fn run(ctx: &Ctx, w: &Workloads, job: &Job) -> Result<Running, String> {
    let pc = job
        .config
        .get("primaryContainer")
        .cloned()
        .unwrap_or(Value::Null);
    let image = pc
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut env: Vec<(String, String)> = pc
        .get("environment")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            Some((
                kv.get("name")?.as_str()?.to_string(),
                kv.get("value")?.as_str()?.to_string(),
            ))
        })
        .collect();
    for s in pc
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
        let from = s
            .get("valueFrom")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = crate::apprunner::runtime::read_secret(ctx, from)
            .await
            .map_err(|e| {
                format!("ResourceInitializationError: unable to pull secrets: {name} ({from}): {e}")
            })?;
        env.push((name.to_string(), value));
    }
    let cmd = pc
        .get("command")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty());
    let spec = WorkloadSpec {
        kind: "ecs",
        owner: job.name.clone(),
        image,
        cmd,
        env,
        mounts: Vec::new(),
        workdir: None,
        registry_auth: ctx
            .registry
            .as_ref()
            .map(|r| (r.username.clone(), r.password.clone())),
    };
    let running = w
        .start(&spec)
        .await
        .map_err(|e| format!("CannotStartContainerError: {e}"))?;
    if let Some(moto) = &ctx.moto_url {
        let task: String = running.id.chars().take(32).collect();
        logs::follow(
            w,
            &running.id,
            LogTarget {
                moto_url: moto.clone(),
                region: ctx.default_region.clone(),
                group: format!("/aws/ecs/default/{}", job.name),
                stream: format!("ecs/main/{task}"),
            },
        );
    }
    let deadline = ctx
        .clock
        .real(DEPLOY_TAKES)
        .clamp(HEALTH_MIN_REAL, HEALTH_CAP_REAL);
    let path = job
        .config
        .get("healthCheckPath")
        .and_then(Value::as_str)
        .unwrap_or("/")
        .to_string();
    match w.wait_healthy(&running, &path, deadline).await {
        Ok(_) => Ok(running),
        Err(e) => {
            let _ = w.stop(&running.id).await;
            Err(format!(
                "Task failed ELB health checks in (target-group {}): path {path}: {e}",
                job.name
            ))
        }
    }
}

/// Stops a deleted service's container and removes its route.
pub(super) fn stop_service(ctx: &Ctx, endpoint: &str, container: Option<Running>) {
    ctx.routes.remove(endpoint);
    if let (Some(w), Some(c)) = (ctx.workloads.clone(), container) {
        tokio::spawn(async move {
            let _ = w.stop(&c.id).await;
        });
    }
}
