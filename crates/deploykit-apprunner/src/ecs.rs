//! ECS Express Mode behind the [`ContainerPlatform`](crate::ContainerPlatform) seam: the same
//! [`ServiceSpec`] → [`Plan`] → deploy → wait → health → rollback shape as App Runner, with
//! `CreateExpressGatewayService` / `UpdateExpressGatewayService` and ECS service deployments
//! (`ListServiceDeployments`) to wait on. Express services run with the deployment circuit
//! breaker and rollback on: a deployment whose tasks do not get healthy ends
//! `ROLLBACK_SUCCESSFUL` and the previous revision keeps serving.
//!
//! Mapping from [`ServiceSpec`]: `cpu`/`memory` become ECS units (`1 vCPU` → `1024`, `2 GB` →
//! `2048`), `port` the container port (and `PORT` in the environment, so an app that honours
//! `PORT` listens on it), `min_size`/`max_size` the scaling target's task counts,
//! `instance_role_arn` the task role, `secrets` the container's `secrets` (read at task start by
//! the execution role), `vpc` the network configuration. `access_role_arn` is not used: the
//! execution role pulls the image.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    ExpressGatewayContainer, ExpressGatewayScalingTarget, ExpressGatewayServiceConfiguration,
    ExpressGatewayServiceNetworkConfiguration, KeyValuePair, Secret, ServiceDeploymentStatus,
};
use deploykit_aws::classify;
use deploykit_report::{Event, Level, Reporter, StepTimer};

mod tags;
mod wait;

use crate::{
    Action, AppRunnerError, DeployOutcome, LiveConfig, Plan, Probe, ServiceSpec, ServiceView,
    VpcEgress, WaitOptions, check_health, config_matches, health_or_rollback, normalize_size,
    vpc_connector_name,
};

/// The two roles every Express service needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsRoles {
    /// Task execution role (trusts `ecs-tasks.amazonaws.com`): pulls the image, reads `secrets`,
    /// writes logs.
    pub execution_role_arn: String,
    /// Infrastructure role (trusts `ecs.amazonaws.com`): lets ECS create the load balancer,
    /// security groups, certificate and scaling for the service.
    pub infrastructure_role_arn: String,
}

/// An ECS Express platform: the client, the roles and the cluster (`None`: `default`).
#[derive(Debug, Clone)]
pub struct EcsExpress {
    pub client: aws_sdk_ecs::Client,
    pub roles: EcsRoles,
    pub cluster: Option<String>,
}

pub(crate) fn ecs_err<E>(
    operation: &'static str,
    service: &str,
    err: &aws_sdk_ecs::error::SdkError<E, aws_sdk_ecs::config::http::HttpResponse>,
) -> AppRunnerError
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    AppRunnerError::EcsAws {
        operation,
        service: service.to_string(),
        classified: Box::new(classify(err)),
    }
}

/// ECS CPU units for an App Runner-style or numeric size (`1 vCPU`, `1024`).
pub fn ecs_units(v: &str) -> String {
    normalize_size(v)
}

/// Checks what ECS Express would refuse, before any call.
fn validate(spec: &ServiceSpec, roles: &EcsRoles) -> Result<(), AppRunnerError> {
    let bad = |m: String| {
        Err(AppRunnerError::Invalid {
            service: spec.name.clone(),
            message: m,
        })
    };
    let name_ok = !spec.name.is_empty()
        && spec.name.len() <= 255
        && spec
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return bad("ECS service names are 1 to 255 letters, digits, '-' and '_'".into());
    }
    if spec.max_size < spec.min_size || spec.max_size == 0 {
        return bad(format!(
            "the scaling target needs min_tasks <= max_tasks and max_tasks >= 1 (got {}..{})",
            spec.min_size, spec.max_size
        ));
    }
    if !spec.health_path.starts_with('/') {
        return bad(format!(
            "health_path must start with '/' (got {:?})",
            spec.health_path
        ));
    }
    for (what, v) in [("cpu", &spec.cpu), ("memory", &spec.memory)] {
        if ecs_units(v).parse::<u32>().is_err() {
            return bad(format!(
                "{what} {v:?} is not an ECS size: use units like \"1024\" or \"1 vCPU\" / \"2 GB\""
            ));
        }
    }
    for (what, arn) in [
        ("execution role", &roles.execution_role_arn),
        ("infrastructure role", &roles.infrastructure_role_arn),
    ] {
        if !arn.starts_with("arn:") || !arn.contains(":role/") {
            return bad(format!("the {what} {arn:?} is not an IAM role ARN"));
        }
    }
    Ok(())
}

/// The spec as compared against a live service: on ECS the execution role takes the place
/// of App Runner's access role (it pulls the image), and `PORT` is part of the environment.
fn comparable(spec: &ServiceSpec, roles: &EcsRoles) -> ServiceSpec {
    let mut s = spec.clone();
    s.access_role_arn = Some(roles.execution_role_arn.clone());
    s.env = env_of(spec);
    s
}

fn env_of(spec: &ServiceSpec) -> BTreeMap<String, String> {
    let mut env = spec.env.clone();
    env.entry("PORT".into())
        .or_insert_with(|| spec.port.to_string());
    env
}

/// Decides the action from what exists. Pure. `existing.status` is `RUNNING` (a revision
/// serves, no deployment in progress), `OPERATION_IN_PROGRESS`, `FAILED` (the last
/// deployment failed with nothing to roll back to) or `DRAINING`.
pub fn plan_ecs(
    spec: &ServiceSpec,
    roles: &EcsRoles,
    existing: Option<&ServiceView>,
) -> Result<Plan, AppRunnerError> {
    validate(spec, roles)?;
    let want = comparable(spec, roles);
    let action = match existing {
        None => Action::Create,
        Some(v) => match v.status.as_str() {
            "RUNNING"
                if v.image.as_deref() == Some(spec.image.as_str())
                    && v.config.as_ref().is_some_and(|c| config_matches(&want, c)) =>
            {
                Action::Unchanged
            }
            "RUNNING" | "FAILED" => Action::Update {
                from_image: v.image.clone().filter(|_| v.status == "RUNNING"),
            },
            "OPERATION_IN_PROGRESS" => {
                return Err(AppRunnerError::Blocked {
                    service: spec.name.clone(),
                    status: v.status.clone(),
                    what_to_do:
                        "a deployment is in progress; wait for it to finish and deploy again".into(),
                });
            }
            other => {
                return Err(AppRunnerError::Blocked {
                    service: spec.name.clone(),
                    status: other.to_string(),
                    what_to_do: "the service is being deleted; wait until it is INACTIVE, then deploy to create it again".into(),
                });
            }
        },
    };
    Ok(Plan {
        service: spec.name.clone(),
        image: spec.image.clone(),
        action,
        existing_arn: existing.map(|v| v.arn.clone()),
        create_tags: std::collections::BTreeMap::new(),
    })
}

fn is_running(s: &ServiceDeploymentStatus) -> bool {
    matches!(
        s,
        ServiceDeploymentStatus::Pending
            | ServiceDeploymentStatus::InProgress
            | ServiceDeploymentStatus::RollbackRequested
            | ServiceDeploymentStatus::RollbackInProgress
            | ServiceDeploymentStatus::StopRequested
    )
}

fn live_of(service: &str, c: &ExpressGatewayServiceConfiguration) -> (Option<String>, LiveConfig) {
    let pc = c.primary_container();
    let vpc = c.network_configuration().and_then(|n| {
        let subnets = n.subnets().to_vec();
        let security_groups = n.security_groups().to_vec();
        (!subnets.is_empty()).then(|| {
            vpc_connector_name(
                service,
                &VpcEgress {
                    subnets,
                    security_groups,
                },
            )
        })
    });
    let live = LiveConfig {
        port: pc.and_then(|p| p.container_port()).map(|p| p.to_string()),
        env: pc
            .map(|p| {
                p.environment()
                    .iter()
                    .filter_map(|kv| Some((kv.name()?.to_string(), kv.value()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        secrets: pc
            .map(|p| {
                p.secrets()
                    .iter()
                    .map(|s| (s.name().to_string(), s.value_from().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        cpu: c.cpu().map(str::to_string),
        memory: c.memory().map(str::to_string),
        health_path: c.health_check_path().map(str::to_string),
        min_size: c
            .scaling_target()
            .and_then(|s| s.min_task_count())
            .and_then(|n| u32::try_from(n).ok()),
        max_size: c
            .scaling_target()
            .and_then(|s| s.max_task_count())
            .and_then(|n| u32::try_from(n).ok()),
        vpc_connector: vpc,
        instance_role_arn: c.task_role_arn().map(str::to_string),
        access_role_arn: c.execution_role_arn().map(str::to_string),
    };
    (pc.map(|p| p.image().to_string()), live)
}

fn host_of(endpoint: &str) -> String {
    endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

impl EcsExpress {
    fn cluster(&self) -> &str {
        self.cluster.as_deref().unwrap_or("default")
    }

    /// The Express service named `name`, if one is ACTIVE or DRAINING (INACTIVE ones do not count).
    pub async fn find(&self, name: &str) -> Result<Option<ServiceView>, AppRunnerError> {
        let out = match self
            .client
            .describe_services()
            .cluster(self.cluster())
            .services(name)
            .send()
            .await
        {
            Ok(out) => out,
            // No cluster yet (a fresh account): Express creates `default` with the first service.
            Err(e) if classify(&e).code.as_deref() == Some("ClusterNotFoundException") => {
                return Ok(None);
            }
            Err(e) => return Err(ecs_err("DescribeServices", name, &e)),
        };
        let Some(svc) = out
            .services()
            .iter()
            .find(|s| s.status().is_some_and(|st| st != "INACTIVE"))
        else {
            return Ok(None);
        };
        let arn = svc.service_arn().unwrap_or_default().to_string();
        if svc.status() == Some("DRAINING") {
            return Ok(Some(ServiceView {
                arn,
                status: "DRAINING".into(),
                image: None,
                url: None,
                auto_deployments: false,
                config: None,
            }));
        }
        let d = self
            .client
            .describe_express_gateway_service()
            .service_arn(&arn)
            .send()
            .await
            .map_err(|e| ecs_err("DescribeExpressGatewayService", name, &e))?;
        let Some(express) = d.service() else {
            return Err(AppRunnerError::Invalid {
                service: name.into(),
                message: "an ECS service with this name exists but is not an Express service; pick another name or delete it".into(),
            });
        };
        let deployments = self.deployments(name).await?;
        let status = match deployments.first() {
            Some((_, _, st, _)) if is_running(st) => "OPERATION_IN_PROGRESS",
            Some((
                _,
                _,
                ServiceDeploymentStatus::RollbackFailed | ServiceDeploymentStatus::Stopped,
                _,
            )) if !deployments
                .iter()
                .any(|(_, _, s, _)| *s == ServiceDeploymentStatus::Successful) =>
            {
                "FAILED"
            }
            _ => "RUNNING",
        };
        let active = express.active_configurations().first();
        let (image, config) = match active {
            Some(c) => {
                let (i, l) = live_of(name, c);
                (i, Some(l))
            }
            None => (None, None),
        };
        let url = express
            .active_configurations()
            .iter()
            .flat_map(|c| c.ingress_paths())
            .map(|p| host_of(p.endpoint()))
            .next();
        Ok(Some(ServiceView {
            arn,
            status: status.into(),
            image,
            url,
            auto_deployments: false,
            config,
        }))
    }

    /// The service's deployments, newest first: (arn, target revision, status, reason).
    async fn deployments(
        &self,
        name: &str,
    ) -> Result<Vec<(String, String, ServiceDeploymentStatus, Option<String>)>, AppRunnerError>
    {
        let out = self
            .client
            .list_service_deployments()
            .cluster(self.cluster())
            .service(name)
            .send()
            .await
            .map_err(|e| ecs_err("ListServiceDeployments", name, &e))?;
        Ok(out
            .service_deployments()
            .iter()
            .map(|d| {
                (
                    d.service_deployment_arn().unwrap_or_default().to_string(),
                    d.target_service_revision_arn()
                        .unwrap_or_default()
                        .to_string(),
                    d.status()
                        .cloned()
                        .unwrap_or(ServiceDeploymentStatus::Pending),
                    d.status_reason().map(str::to_string),
                )
            })
            .collect())
    }

    /// Looks at what exists and plans. Read-only.
    pub async fn plan(&self, spec: &ServiceSpec) -> Result<Plan, AppRunnerError> {
        validate(spec, &self.roles)?;
        let existing = self.find(&spec.name).await?;
        plan_ecs(spec, &self.roles, existing.as_ref())
    }

    fn container(spec: &ServiceSpec) -> Result<ExpressGatewayContainer, AppRunnerError> {
        ExpressGatewayContainer::builder()
            .image(&spec.image)
            .container_port(i32::from(spec.port))
            .set_environment(Some(
                env_of(spec)
                    .into_iter()
                    .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                    .collect(),
            ))
            .set_secrets(Some(
                spec.secrets
                    .iter()
                    .map(|(k, v)| Secret::builder().name(k).value_from(v).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AppRunnerError::Invalid {
                        service: spec.name.clone(),
                        message: e.to_string(),
                    })?,
            ))
            .build()
            .map_err(|e| AppRunnerError::Invalid {
                service: spec.name.clone(),
                message: e.to_string(),
            })
    }

    fn scaling(spec: &ServiceSpec) -> ExpressGatewayScalingTarget {
        ExpressGatewayScalingTarget::builder()
            .min_task_count(i32::try_from(spec.min_size).unwrap_or(i32::MAX))
            .max_task_count(i32::try_from(spec.max_size).unwrap_or(i32::MAX))
            .build()
    }

    fn network(spec: &ServiceSpec) -> Option<ExpressGatewayServiceNetworkConfiguration> {
        spec.vpc.as_ref().map(|v| {
            ExpressGatewayServiceNetworkConfiguration::builder()
                .set_subnets(Some(v.subnets.clone()))
                .set_security_groups(Some(v.security_groups.clone()))
                .build()
        })
    }

    /// Executes `plan`, waits for our deployment and checks the service answers.
    pub async fn deploy(
        &self,
        plan: &Plan,
        spec: &ServiceSpec,
        wait: WaitOptions,
        probe: &Probe,
        reporter: &dyn Reporter,
    ) -> Result<DeployOutcome, AppRunnerError> {
        let timer = StepTimer::start(
            reporter,
            "ecs",
            format!(
                "{} ECS Express service {} with {}",
                plan.action.verb(),
                spec.name,
                spec.image
            ),
        );
        let (arn, revision) = match &plan.action {
            Action::Unchanged => {
                let view = self.find(&spec.name).await?;
                let url = view
                    .as_ref()
                    .and_then(|v| v.url.clone())
                    .unwrap_or_default();
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
                    service_arn: plan.existing_arn.clone().unwrap_or_default(),
                    action: Action::Unchanged,
                    operation_id: String::new(),
                    operation_status: "UNCHANGED".into(),
                    service_status: view.map(|v| v.status).unwrap_or_default(),
                    service_url: url,
                    image: spec.image.clone(),
                });
            }
            Action::Create | Action::Recreate => {
                let out = self
                    .client
                    .create_express_gateway_service()
                    .service_name(&spec.name)
                    .cluster(self.cluster())
                    .execution_role_arn(&self.roles.execution_role_arn)
                    .infrastructure_role_arn(&self.roles.infrastructure_role_arn)
                    .set_task_role_arn(spec.instance_role_arn.clone())
                    .health_check_path(&spec.health_path)
                    .primary_container(Self::container(spec)?)
                    .cpu(ecs_units(&spec.cpu))
                    .memory(ecs_units(&spec.memory))
                    .scaling_target(Self::scaling(spec))
                    .set_network_configuration(Self::network(spec))
                    // The caller's remote deploy lock, held from the first moment.
                    .set_tags(tags::ecs_tags(&plan.create_tags))
                    .send()
                    .await
                    .map_err(|e| ecs_err("CreateExpressGatewayService", &spec.name, &e))?;
                let svc = out.service();
                (
                    svc.and_then(|s| s.service_arn())
                        .unwrap_or_default()
                        .to_string(),
                    svc.and_then(|s| s.active_configurations().first())
                        .and_then(|c| c.service_revision_arn())
                        .unwrap_or_default()
                        .to_string(),
                )
            }
            Action::Update { .. } | Action::Redeploy => {
                let arn = plan.existing_arn.clone().unwrap_or_default();
                let rev = self.send_update(spec, &arn).await?;
                (arn, rev)
            }
        };
        reporter.report(Event::info(format!(
            "deployment to service revision {revision} started on {}",
            spec.name
        )));
        let (dep, status, reason) = self
            .wait_deployment(&spec.name, &revision, wait, reporter)
            .await?;
        let previous = match &plan.action {
            Action::Update {
                from_image: Some(i),
            } => format!(" ({i})"),
            _ => String::new(),
        };
        match status {
            ServiceDeploymentStatus::Successful => {}
            ServiceDeploymentStatus::RollbackSuccessful => {
                return Err(AppRunnerError::EcsRolledBack {
                    service: spec.name.clone(),
                    image: spec.image.clone(),
                    deployment: dep,
                    reason: reason.unwrap_or_default(),
                    previous,
                });
            }
            other => {
                reporter.report(Event::Remote {
                    step: "ecs".into(),
                    source: "ecs".into(),
                    level: Level::Error,
                    message: format!("deployment {dep} {}", other.as_str()),
                });
                return Err(AppRunnerError::EcsDeploymentFailed {
                    service: spec.name.clone(),
                    image: spec.image.clone(),
                    deployment: dep,
                    status: other.as_str().to_string(),
                    reason: reason.unwrap_or_default(),
                });
            }
        }
        let view = self.find(&spec.name).await?;
        let url = view
            .as_ref()
            .and_then(|v| v.url.clone())
            .unwrap_or_default();
        let from = match &plan.action {
            Action::Update { from_image } => from_image.as_deref(),
            _ => None,
        };
        let redeploy = async |previous: &str| {
            let mut back = spec.clone();
            back.image = previous.to_string();
            let rev = self.send_update(&back, &arn).await?;
            match self
                .wait_deployment(&spec.name, &rev, wait, reporter)
                .await?
            {
                (_, ServiceDeploymentStatus::Successful, _) => Ok(()),
                (dep, st, reason) => Err(AppRunnerError::EcsDeploymentFailed {
                    service: spec.name.clone(),
                    image: previous.to_string(),
                    deployment: dep,
                    status: st.as_str().to_string(),
                    reason: reason.unwrap_or_default(),
                }),
            }
        };
        let running = async || Ok(self.find(&spec.name).await?.and_then(|v| v.image));
        let (path, image) = (&spec.health_path, &spec.image);
        health_or_rollback(
            &spec.name, &url, path, image, from, probe, wait, reporter, redeploy, running,
        )
        .await?;
        timer.finish(
            reporter,
            format!(
                "{} serves {} at https://{url} (deployment SUCCESSFUL)",
                spec.name, spec.image
            ),
        );
        Ok(DeployOutcome {
            service: spec.name.clone(),
            service_arn: arn,
            action: plan.action.clone(),
            operation_id: dep,
            operation_status: "SUCCESSFUL".into(),
            service_status: view.map(|v| v.status).unwrap_or_default(),
            service_url: url,
            image: spec.image.clone(),
        })
    }

    /// UpdateExpressGatewayService with `spec`; the target service revision.
    async fn send_update(&self, spec: &ServiceSpec, arn: &str) -> Result<String, AppRunnerError> {
        let out = self
            .client
            .update_express_gateway_service()
            .service_arn(arn)
            .execution_role_arn(&self.roles.execution_role_arn)
            .set_task_role_arn(spec.instance_role_arn.clone())
            .health_check_path(&spec.health_path)
            .primary_container(Self::container(spec)?)
            .cpu(ecs_units(&spec.cpu))
            .memory(ecs_units(&spec.memory))
            .scaling_target(Self::scaling(spec))
            .set_network_configuration(Self::network(spec))
            .send()
            .await
            .map_err(|e| ecs_err("UpdateExpressGatewayService", &spec.name, &e))?;
        Ok(out
            .service()
            .and_then(|s| s.target_configuration())
            .and_then(|c| c.service_revision_arn())
            .unwrap_or_default()
            .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            name: "budgetsync".into(),
            image: "127.0.0.1:5000/budgetsync:a".into(),
            access_role_arn: None,
            instance_role_arn: None,
            port: 8000,
            env: BTreeMap::from([("A".into(), "1".into())]),
            secrets: BTreeMap::new(),
            cpu: "1 vCPU".into(),
            memory: "2 GB".into(),
            health_path: "/health".into(),
            min_size: 1,
            max_size: 2,
            vpc: None,
        }
    }

    fn roles() -> EcsRoles {
        EcsRoles {
            execution_role_arn: "arn:aws:iam::123456789012:role/budgetsync-ecs-execution".into(),
            infrastructure_role_arn: "arn:aws:iam::123456789012:role/budgetsync-ecs-infrastructure"
                .into(),
        }
    }

    fn live(s: &ServiceSpec) -> ServiceView {
        ServiceView {
            arn: "arn:aws:ecs:us-east-1:123456789012:service/default/budgetsync".into(),
            status: "RUNNING".into(),
            image: Some(s.image.clone()),
            url: Some("x.ecs.us-east-1.localhost".into()),
            auto_deployments: false,
            config: Some(LiveConfig {
                port: Some("8000".into()),
                env: env_of(s),
                secrets: BTreeMap::new(),
                cpu: Some("1024".into()),
                memory: Some("2048".into()),
                health_path: Some("/health".into()),
                min_size: Some(1),
                max_size: Some(2),
                vpc_connector: None,
                instance_role_arn: None,
                access_role_arn: Some(roles().execution_role_arn),
            }),
        }
    }

    #[test]
    fn plans_create_unchanged_and_update() {
        let s = spec();
        assert_eq!(plan_ecs(&s, &roles(), None).unwrap().action, Action::Create);
        let v = live(&s);
        assert_eq!(
            plan_ecs(&s, &roles(), Some(&v)).unwrap().action,
            Action::Unchanged
        );
        let mut s2 = s.clone();
        s2.image = "127.0.0.1:5000/budgetsync:b".into();
        assert_eq!(
            plan_ecs(&s2, &roles(), Some(&v)).unwrap().action,
            Action::Update {
                from_image: Some(s.image.clone())
            }
        );
        for change in [
            |s: &mut ServiceSpec| s.max_size = 3,
            |s: &mut ServiceSpec| s.health_path = "/".into(),
            |s: &mut ServiceSpec| s.memory = "4 GB".into(),
            |s: &mut ServiceSpec| {
                s.env.insert("B".into(), "2".into());
            },
        ] {
            let mut s3 = s.clone();
            change(&mut s3);
            assert!(matches!(
                plan_ecs(&s3, &roles(), Some(&v)).unwrap().action,
                Action::Update { .. }
            ));
        }
        let mut r = roles();
        r.execution_role_arn = "arn:aws:iam::123456789012:role/other".into();
        assert!(matches!(
            plan_ecs(&s, &r, Some(&v)).unwrap().action,
            Action::Update { .. }
        ));
    }

    #[test]
    fn refuses_before_any_call() {
        let mut s = spec();
        s.name = "bad name".into();
        assert!(matches!(
            plan_ecs(&s, &roles(), None),
            Err(AppRunnerError::Invalid { .. })
        ));
        let mut r = roles();
        r.infrastructure_role_arn = String::new();
        assert!(plan_ecs(&spec(), &r, None).is_err());
        let mut v = live(&spec());
        v.status = "OPERATION_IN_PROGRESS".into();
        assert!(matches!(
            plan_ecs(&spec(), &roles(), Some(&v)),
            Err(AppRunnerError::Blocked { .. })
        ));
    }
}
