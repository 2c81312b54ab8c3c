//! Running a plan on App Runner: create or update, the bounded operation wait and the health check.

use std::time::Instant;

use super::error::{AppRunnerError, aws_err};
use super::health::{check_health, health_or_rollback};
use super::plan::{Action, Plan, ServiceSpec};
use super::service::{
    create, describe, ensure_scaling, ensure_vpc_connector, health, network_or_default, source,
};
use super::{DeployOutcome, Probe};
use aws_sdk_apprunner::types::{InstanceConfiguration, OperationStatus};
use deploykit_aws::classify;
use deploykit_report::WaitOptions;
use deploykit_report::{Event, Level, Reporter, StepTimer};

pub(super) async fn deploy_apprunner(
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
            create(
                client,
                spec,
                &scaling,
                connector.as_deref(),
                &plan.create_tags,
            )
            .await?
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
            create(
                client,
                spec,
                &scaling,
                connector.as_deref(),
                &plan.create_tags,
            )
            .await?
        }
        Action::Update { .. } => {
            let arn = plan.existing_arn.clone().unwrap_or_default();
            let op = send_update(client, spec, &arn, connector.as_deref()).await?;
            (arn, op)
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
            // Say what the service runs only after asking it: App Runner's own rollback is
            // what we expect, but the answer is the service's, not the plan's.
            let runs = describe(client, &spec.name, &arn)
                .await
                .ok()
                .and_then(|v| v.image);
            if runs.as_deref() == Some(spec.image.as_str()) {
                return Err(AppRunnerError::Blocked {
                    service: spec.name.clone(),
                    status: other.as_str().to_string(),
                    what_to_do: format!(
                        "operation {op} ended {} but the service reports the new image {}; check its status and health before deploying again",
                        other.as_str(),
                        spec.image
                    ),
                });
            }
            let previous = match runs {
                Some(i) => format!(" ({i}, as the service reports)"),
                None => format!("{previous} (the service's image could not be read back)"),
            };
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
    let from = match &plan.action {
        Action::Update { from_image } => from_image.as_deref(),
        _ => None,
    };
    health_or_rollback(
        &spec.name,
        &url,
        &spec.health_path,
        &spec.image,
        from,
        probe,
        wait,
        reporter,
        async |previous: &str| {
            let mut back = spec.clone();
            back.image = previous.to_string();
            let op = send_update(client, &back, &arn, connector.as_deref()).await?;
            reporter.report(Event::info(format!(
                "rollback operation {op} started on {}",
                spec.name
            )));
            match wait_operation(client, &spec.name, &arn, &op, wait, reporter).await? {
                OperationStatus::Succeeded => Ok(()),
                other => Err(AppRunnerError::Blocked {
                    service: spec.name.clone(),
                    status: other.as_str().to_string(),
                    what_to_do: format!("the rollback operation {op} ended {}", other.as_str()),
                }),
            }
        },
        async || Ok(describe(client, &spec.name, &arn).await?.image),
    )
    .await?;
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

/// UpdateService with `spec` (image, instance, health, scaling, network); the operation id.
async fn send_update(
    client: &aws_sdk_apprunner::Client,
    spec: &ServiceSpec,
    arn: &str,
    connector: Option<&str>,
) -> Result<String, AppRunnerError> {
    let scaling = ensure_scaling(client, spec).await?;
    let out = client
        .update_service()
        .service_arn(arn)
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
        .network_configuration(network_or_default(connector))
        .send()
        .await;
    match out {
        Ok(out) => Ok(out.operation_id().to_string()),
        Err(e) => {
            let refused = aws_err("UpdateService", &spec.name, &e);
            // A retry of our update whose answer was lost finds the service busy with it.
            if classify(&e).code.as_deref() == Some("InvalidStateException")
                && let Some(id) = update_under_way(client, spec, arn).await?
            {
                return Ok(id);
            }
            Err(refused)
        }
    }
}

/// The UPDATE_SERVICE operation in progress on `arn`: our own update, whose answer was lost.
/// Nobody else can have started it: the deploy holds the local and remote locks, and its plan
/// refuses a service with an operation already running. (DescribeService is no witness: whether
/// it shows the new image before the operation ends is not specified.)
async fn update_under_way(
    client: &aws_sdk_apprunner::Client,
    spec: &ServiceSpec,
    arn: &str,
) -> Result<Option<String>, AppRunnerError> {
    let ops = client
        .list_operations()
        .service_arn(arn)
        .send()
        .await
        .map_err(|e| aws_err("ListOperations", &spec.name, &e))?;
    Ok(ops
        .operation_summary_list()
        .iter()
        .find(|o| {
            o.r#type() == Some(&aws_sdk_apprunner::types::OperationType::UpdateService)
                && o.status() == Some(&OperationStatus::InProgress)
        })
        .and_then(|o| o.id())
        .map(str::to_string))
}
