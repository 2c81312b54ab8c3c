//! Real App Runner instances: with workloads on, a deployment runs the service's image.
//!
//! A deployment (CreateService, UpdateService, StartDeployment, ResumeService) whose image is
//! in the local registry, whose secrets exist and which no `fail-next-deploy` fault targets
//! starts a container from `ImageIdentifier` with `PORT`, `RuntimeEnvironmentVariables` and the
//! values of `RuntimeEnvironmentSecrets` (read from the local Secrets Manager / SSM), then waits
//! for its health check (`HTTP` on the path, or `TCP`): healthy, the service's URL is routed to
//! it and the previous container stops (`SUCCEEDED`, service `RUNNING`); unhealthy, the new
//! container stops and the previous one keeps serving (`ROLLBACK_SUCCEEDED` for an update,
//! `FAILED` / `CREATE_FAILED` for a create). The operation stays `IN_PROGRESS` until then, and
//! never ends before its scaled service time.
//!
//! The container's stdout/stderr go to `/aws/apprunner/<service>/<service id>/application`
//! and the deployment's events to `/aws/apprunner/<service>/<service id>/service`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::{
    CREATE_TAKES, DEPLOY_TAKES, OpStatus, OpType, Plan, RESUME_TAKES, ROLLBACK_TAKES,
    ServiceConfig, ServiceStatus, State, Step,
};
use crate::core::Ctx;
use crate::workload::logs::{self, LogSink, LogTarget};
use crate::workload::{Running, WorkloadError, WorkloadSpec, Workloads};

/// Real time a new instance gets to pass its health check at least, whatever the time scale
/// (an app needs a few real seconds to boot even when the service clock runs 300x).
const HEALTH_MIN_REAL: Duration = Duration::from_secs(60);
/// Real time a new instance gets at most (at time scale 1 the service budget is minutes).
const HEALTH_CAP_REAL: Duration = Duration::from_secs(10 * 60);
/// How long one Secrets Manager / SSM read may take.
const SECRET_TIMEOUT: Duration = Duration::from_secs(30);

/// One deployment to run in the background.
#[derive(Debug)]
pub(super) struct Job {
    pub arn: String,
    pub name: String,
    pub service_id: String,
    pub url: String,
    pub kind: OpType,
    pub op_id: String,
    pub config: ServiceConfig,
    pub started: Instant,
}

/// Starts `job` on a background task; it records the operation's outcome in `state`.
pub(super) fn spawn(state: Arc<Mutex<State>>, ctx: Ctx, workloads: Workloads, job: Job) {
    tokio::spawn(async move {
        let events = ctx.moto_url.as_deref().map(|m| {
            LogSink::new(LogTarget::apprunner_service(
                m,
                &ctx.default_region,
                &job.name,
                &job.service_id,
            ))
        });
        let say = |lines: Vec<String>| {
            let events = events.clone();
            async move {
                if let Some(sink) = events {
                    let _ = sink.put_lines(&lines).await;
                }
            }
        };
        say(vec![format!(
            "[AppRunner] Deployment with ID : {} started. Triggering event : {}",
            job.op_id,
            job.kind.as_str()
        )])
        .await;
        let outcome = run(&ctx, &workloads, &job).await;
        match &outcome {
            Ok(_) => {
                say(vec![
                    "[AppRunner] Health check is successful. Routing traffic to application."
                        .to_string(),
                    format!(
                        "[AppRunner] Deployment with ID : {} was completed successfully.",
                        job.op_id
                    ),
                ])
                .await
            }
            Err(reason) => {
                say(vec![
                    format!("[AppRunner] {reason}"),
                    format!("[AppRunner] Deployment with ID : {} failed.", job.op_id),
                ])
                .await
            }
        }
        finish(&state, &ctx, &workloads, &job, outcome).await;
    });
}

/// Starts the container and waits for its health check. `Err` is the reason, as a log line.
async fn run(ctx: &Ctx, w: &Workloads, job: &Job) -> Result<Running, String> {
    let image = job
        .config
        .source
        .image_repository
        .as_ref()
        .ok_or_else(|| "The service has no image repository.".to_string())?;
    let image_config = image.image_configuration.clone().unwrap_or_default();
    let mut env: Vec<(String, String)> = image_config
        .runtime_environment_variables
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    for (name, reference) in image_config
        .runtime_environment_secrets
        .clone()
        .unwrap_or_default()
    {
        let value = read_secret(ctx, &reference)
            .await
            .map_err(|e| format!("Failed to read the secret {name} ({reference}): {e}"))?;
        env.push((name, value));
    }
    let spec = WorkloadSpec {
        kind: "apprunner",
        owner: job.name.clone(),
        image: image.image_identifier.clone(),
        cmd: image_config
            .start_command
            .as_deref()
            .map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .filter(|c| !c.is_empty()),
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
        .map_err(|e| format!("Failed to start the instance: {e}"))?;
    if let Some(moto) = &ctx.moto_url {
        let instance = running.id.chars().take(12).collect::<String>();
        logs::follow(
            w,
            &running.id,
            LogTarget::apprunner_application(
                moto,
                &ctx.default_region,
                &job.name,
                &job.service_id,
                &instance,
            ),
        );
    }
    let budget = match job.kind {
        OpType::CreateService => CREATE_TAKES,
        OpType::ResumeService => RESUME_TAKES,
        _ => DEPLOY_TAKES,
    };
    let deadline = ctx
        .clock
        .real(budget)
        .clamp(HEALTH_MIN_REAL, HEALTH_CAP_REAL);
    let health = &job.config.health;
    let checked = if health.protocol.as_deref() == Some("HTTP") {
        let path = health.path.clone().unwrap_or_else(|| "/".to_string());
        w.wait_healthy(&running, &path, deadline)
            .await
            .map(|_| ())
            .map_err(|e| health_failure(&e, &format!("HTTP, path '{path}'")))
    } else {
        w.wait_listening(&running, deadline)
            .await
            .map_err(|e| health_failure(&e, "TCP"))
    };
    match checked {
        Ok(()) => Ok(running),
        Err(reason) => {
            let _ = w.stop(&running.id).await;
            Err(reason)
        }
    }
}

fn health_failure(e: &WorkloadError, check: &str) -> String {
    format!(
        "Health check failed on protocol {check}. Check your configured port number and health \
         check path. Cause: {e}"
    )
}

/// Records the outcome: route switch and timeline on success, rollback or failure otherwise.
async fn finish(
    state: &Arc<Mutex<State>>,
    ctx: &Ctx,
    w: &Workloads,
    job: &Job,
    outcome: Result<Running, String>,
) {
    let ok = outcome.is_ok();
    if let Ok(running) = outcome {
        // Route to the new container, then stop the old one before the operation ends.
        let stop = switch(state, ctx, job, running);
        let gone = stop.as_ref().is_some_and(|(_, gone)| *gone);
        if let Some((c, _)) = stop {
            let _ = w.stop(&c.id).await;
        }
        if gone {
            return;
        }
    }
    record(state, ctx, job, ok);
}

/// The service's operation (still `job.op_id`) or `None` when it is gone or superseded.
fn current<'a>(state: &'a mut State, job: &Job) -> Option<&'a mut super::Service> {
    state
        .services
        .iter_mut()
        .find(|s| s.arn == job.arn && s.operations.last().is_some_and(|o| o.id == job.op_id))
}

/// Routes the service's URL to `running`; returns the container to stop and whether the
/// service is gone (then the container to stop is `running` itself).
fn switch(
    state: &Arc<Mutex<State>>,
    ctx: &Ctx,
    job: &Job,
    running: Running,
) -> Option<(Running, bool)> {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    // The service is gone (reset, or deleted meanwhile): nothing may keep running.
    let Some(svc) = current(&mut state, job) else {
        return Some((running, true));
    };
    ctx.routes.set(&job.url, running.addr);
    svc.container.replace(running).map(|old| (old, false))
}

/// Schedules the operation's end: success, or the failure/rollback App Runner reports.
fn record(state: &Arc<Mutex<State>>, ctx: &Ctx, job: &Job, ok: bool) {
    {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(svc) = current(&mut state, job) else {
            return;
        };
        let real = |d: Duration| ctx.clock.real(d);
        let plan = match (ok, job.kind) {
            (true, kind) => {
                let budget = match kind {
                    OpType::CreateService => CREATE_TAKES,
                    OpType::ResumeService => RESUME_TAKES,
                    _ => DEPLOY_TAKES,
                };
                vec![
                    Plan::at(budget, OpStatus::Succeeded)
                        .service(ServiceStatus::Running)
                        .config(job.config.clone())
                        .live(true),
                ]
            }
            (false, OpType::CreateService) => {
                vec![Plan::at(CREATE_TAKES, OpStatus::Failed).service(ServiceStatus::CreateFailed)]
            }
            (false, OpType::ResumeService) => {
                vec![Plan::at(RESUME_TAKES, OpStatus::Failed).service(ServiceStatus::Paused)]
            }
            (false, _) => {
                let serving = svc.container.is_some();
                let end = if serving {
                    Plan::at(DEPLOY_TAKES + ROLLBACK_TAKES, OpStatus::RollbackSucceeded)
                        .service(ServiceStatus::Running)
                } else {
                    Plan::at(DEPLOY_TAKES + ROLLBACK_TAKES, OpStatus::RollbackFailed)
                        .service(ServiceStatus::Running)
                        .live(false)
                };
                vec![Plan::at(DEPLOY_TAKES, OpStatus::RollbackInProgress), end]
            }
        };
        let now = Instant::now();
        let wall_now = ctx.clock.now_utc();
        let mut last_op = OpStatus::InProgress;
        for p in plan {
            let at = (job.started + real(p.after)).max(now);
            last_op = p.op.unwrap_or(last_op);
            svc.steps.push_back(Step {
                at,
                wall: wall_now + (at - now),
                op: last_op,
                service: p.service,
                config: p.config,
                live: p.live,
                deleted: p.deleted,
            });
        }
    }
}

/// Stops a service's container and removes its route (PauseService, DeleteService).
pub(super) fn stop_service(ctx: &Ctx, url: &str, container: Option<Running>) {
    ctx.routes.remove(url);
    if let (Some(w), Some(c)) = (ctx.workloads.clone(), container) {
        tokio::spawn(async move {
            let _ = w.stop(&c.id).await;
        });
    }
}

/// Reads a `RuntimeEnvironmentSecrets` value the way an App Runner instance does: a Secrets
/// Manager ARN (optionally `:json-key:version-stage:version-id`) or an SSM parameter ARN/name.
pub(crate) async fn read_secret(ctx: &Ctx, reference: &str) -> Result<String, String> {
    let moto = ctx
        .moto_url
        .as_deref()
        .ok_or_else(|| "no Secrets Manager is configured".to_string())?;
    let parts: Vec<&str> = reference.splitn(6, ':').collect();
    let (service, region, resource) = match parts.as_slice() {
        ["arn", _, service, region, _, resource] => (*service, *region, *resource),
        _ => ("ssm", ctx.default_region.as_str(), reference),
    };
    match service {
        "secretsmanager" => {
            let rest = resource.strip_prefix("secret:").unwrap_or(resource);
            let mut fields = rest.split(':');
            let name = fields.next().unwrap_or_default();
            let json_key = fields.next().filter(|s| !s.is_empty());
            let stage = fields.next().filter(|s| !s.is_empty());
            let version = fields.next().filter(|s| !s.is_empty());
            let id = reference
                .find(":secret:")
                .map(|i| format!("{}:secret:{name}", &reference[..i]))
                .unwrap_or_else(|| name.to_string());
            let mut body = json!({ "SecretId": id });
            if let Some(s) = stage {
                body["VersionStage"] = json!(s);
            }
            if let Some(v) = version {
                body["VersionId"] = json!(v);
            }
            let out = call(
                moto,
                region,
                "secretsmanager",
                "secretsmanager.GetSecretValue",
                body,
            )
            .await?;
            let value = out
                .get("SecretString")
                .and_then(Value::as_str)
                .ok_or_else(|| "the secret has no SecretString".to_string())?;
            match json_key {
                None => Ok(value.to_string()),
                Some(key) => {
                    let doc: Value = serde_json::from_str(value)
                        .map_err(|_| format!("the secret is not JSON, so it has no key {key}"))?;
                    match doc.get(key) {
                        Some(Value::String(s)) => Ok(s.clone()),
                        Some(other) => Ok(other.to_string()),
                        None => Err(format!("the secret has no JSON key {key}")),
                    }
                }
            }
        }
        "ssm" => {
            let name = match resource.strip_prefix("parameter/") {
                Some(rest) if rest.contains('/') => format!("/{rest}"),
                Some(rest) => rest.to_string(),
                None => resource.to_string(),
            };
            let out = call(
                moto,
                region,
                "ssm",
                "AmazonSSM.GetParameter",
                json!({ "Name": name, "WithDecryption": true }),
            )
            .await?;
            out.pointer("/Parameter/Value")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| "the parameter has no value".to_string())
        }
        other => Err(format!("{other} ARNs cannot hold runtime secrets")),
    }
}

/// One JSON 1.1 call to moto. Errors name the AWS error code, never the secret's value.
async fn call(
    moto: &str,
    region: &str,
    service: &str,
    target: &str,
    body: Value,
) -> Result<Value, String> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let day = {
        let d = time::OffsetDateTime::now_utc();
        format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
    };
    let req = http::Request::post(format!("{}/", moto.trim_end_matches('/')))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/{day}/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
            ),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(SECRET_TIMEOUT, client.request(req))
        .await
        .map_err(|_| format!("no answer within {} s", SECRET_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = tokio::time::timeout(SECRET_TIMEOUT, resp.into_body().collect())
        .await
        .map_err(|_| "the answer timed out".to_string())?
        .map_err(|e| e.to_string())?
        .to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(v);
    }
    let code = v
        .get("__type")
        .and_then(Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .unwrap_or_else(|| format!("HTTP {status}"));
    Err(code)
}
