//! Waiting on ECS Express deployments, and the service's status.

use std::time::Instant;

use aws_sdk_ecs::types::ServiceDeploymentStatus;
use deploykit_report::{Event, Level, Reporter};

use super::{EcsExpress, is_running};
use crate::{AppRunnerError, StatusReport, WaitOptions};

impl EcsExpress {
    /// Polls ListServiceDeployments until the deployment to `revision` ends (bounded).
    /// Throttling and transient errors keep polling.
    pub async fn wait_deployment(
        &self,
        service: &str,
        revision: &str,
        wait: WaitOptions,
        reporter: &dyn Reporter,
    ) -> Result<(String, ServiceDeploymentStatus, Option<String>), AppRunnerError> {
        let started = Instant::now();
        let mut last: Option<ServiceDeploymentStatus> = None;
        loop {
            match self.deployments(service).await {
                Ok(list) => {
                    let ours = list
                        .into_iter()
                        .find(|(_, rev, _, _)| revision.is_empty() || rev == revision);
                    if let Some((arn, _, st, reason)) = ours {
                        if last.as_ref() != Some(&st) {
                            let level = match st {
                                ServiceDeploymentStatus::RollbackFailed
                                | ServiceDeploymentStatus::Stopped => Level::Error,
                                ServiceDeploymentStatus::RollbackInProgress
                                | ServiceDeploymentStatus::RollbackSuccessful => Level::Warn,
                                _ => Level::Info,
                            };
                            reporter.report(Event::Remote {
                                step: "ecs".into(),
                                source: "ecs".into(),
                                level,
                                message: format!(
                                    "deployment {}: {}{}",
                                    arn.rsplit('/').next().unwrap_or(&arn),
                                    st.as_str(),
                                    reason
                                        .as_deref()
                                        .map(|r| format!(" ({r})"))
                                        .unwrap_or_default()
                                ),
                            });
                            last = Some(st.clone());
                        }
                        if !is_running(&st) {
                            return Ok((arn, st, reason));
                        }
                    }
                }
                Err(e) if e.aws_kind().is_some_and(|k| k.is_retryable()) => {
                    reporter.report(Event::warn(format!(
                        "ListServiceDeployments for {service}: {e}; polling again"
                    )));
                }
                Err(e) => return Err(e),
            }
            let waited = started.elapsed();
            if waited >= wait.timeout {
                return Err(AppRunnerError::Timeout {
                    what: format!("the deployment of {service} to revision {revision}"),
                    waited,
                });
            }
            reporter.report(Event::Waiting {
                step: "ecs".into(),
                for_what: format!(
                    "deployment of {service} ({})",
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

    /// The service and its recent deployments (id, `DEPLOYMENT`, status).
    pub async fn status(&self, name: &str) -> Result<StatusReport, AppRunnerError> {
        let Some(view) = self.find(name).await? else {
            return Ok(StatusReport {
                service: name.into(),
                arn: None,
                status: "NOT_FOUND".into(),
                url: None,
                image: None,
                operations: vec![],
            });
        };
        let operations = if view.status == "DRAINING" {
            Vec::new()
        } else {
            self.deployments(name)
                .await?
                .into_iter()
                .map(|(arn, _, st, _)| {
                    (
                        arn.rsplit('/').next().unwrap_or(&arn).to_string(),
                        "DEPLOYMENT".to_string(),
                        st.as_str().to_string(),
                    )
                })
                .collect()
        };
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
