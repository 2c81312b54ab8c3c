//! `cargo xtask deploy ecs` (Route B on ECS Express Mode: the same build -> push as
//! `deploy apprunner`, then CreateExpressGatewayService / UpdateExpressGatewayService) and
//! `cargo xtask ecs status | logs`.
//!
//! Thin: the build, push, plan rendering and result live in `cmd_apprunner::deploy_on`; this
//! file maps `[ecs]` to the platform's inputs.

use deploykit_apprunner::{ContainerPlatform, EcsExpress, EcsRoles, ServiceSpec};
use deploykit_report::Reporter;

use crate::cmd_apprunner::{AppRunnerPreflight, Ctx, OnPlatform};
use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum EcsCommand {
    /// The Express service's status, URL, image and recent deployments.
    Status,
    /// Where the service's logs are (the CloudWatch log group of its tasks).
    Logs,
}

/// `cargo xtask deploy ecs`: build, push and deploy on ECS Express Mode.
pub fn deploy(
    args: crate::cmd_apprunner::DeployArgs,
    global: &GlobalArgs,
    r: &Renderer,
) -> CliResult {
    crate::cmd_apprunner::deploy_on(args, global, r, OnPlatform::EcsExpress)
}

/// Before any change (dry run too): the secrets' real ARNs and the ARNs of the execution,
/// infrastructure and (optional) task roles from IAM; a missing one is refused (exit 2)
/// with the command that creates it.
pub(crate) async fn preflight(
    ctx: &Ctx,
    caller: deploykit_aws::CallerIdentity,
) -> Result<AppRunnerPreflight, CliError> {
    let t = &ctx.target;
    let resolved = crate::session::resolve_secrets(t, &ctx.sdk).await?;
    let mut wanted = vec![
        (
            "[ecs] execution_role",
            deploykit::preflight::IamKind::Role,
            t.ecs.execution_role.clone(),
        ),
        (
            "[ecs] infrastructure_role",
            deploykit::preflight::IamKind::Role,
            t.ecs.infrastructure_role.clone(),
        ),
    ];
    if let Some(task) = &t.ecs.task_role {
        wanted.push((
            "[ecs] task_role",
            deploykit::preflight::IamKind::Role,
            task.clone(),
        ));
    }
    let iam = crate::session::require_iam(t, &ctx.sdk, &wanted)
        .await
        .map_err(|e| {
            e.with_hint(format!(
                "create them with `cargo xtask --target {} iam ensure --route ecs`",
                t.name
            ))
        })?;
    let arn_of = |field: &str| iam.iter().find(|i| i.field == field).map(|i| i.arn.clone());
    let roles = EcsRoles {
        execution_role_arn: arn_of("[ecs] execution_role").unwrap_or_default(),
        infrastructure_role_arn: arn_of("[ecs] infrastructure_role").unwrap_or_default(),
    };
    let task = arn_of("[ecs] task_role");
    Ok(AppRunnerPreflight {
        access_role_arn: String::new(),
        instance_role_arn: String::new(),
        ecs: Some((roles, task)),
        base: deploykit::preflight::Preflight {
            caller,
            secrets: resolved
                .iter()
                .map(deploykit::preflight::SecretArn::from)
                .collect(),
            iam,
        },
    })
}

/// `[ecs]` as the platform and the shared [`ServiceSpec`] (secrets by the ARNs the preflight read).
pub(crate) fn platform_and_spec(
    ctx: &Ctx,
    image: String,
    pre: &AppRunnerPreflight,
) -> Result<(ContainerPlatform, ServiceSpec), CliError> {
    let t = &ctx.target;
    let e = &t.ecs;
    let Some((roles, task)) = pre.ecs.clone() else {
        return Err(CliError::new(
            Exit::Failure,
            "internal: the ECS preflight did not run",
        ));
    };
    let mut spec = crate::cmd_apprunner::service_spec(t, image, pre);
    spec.name = e.service.clone();
    spec.access_role_arn = None;
    spec.instance_role_arn = task;
    spec.port = e.port;
    spec.cpu = e.cpu.clone();
    spec.memory = e.memory.clone();
    spec.health_path = e.health_path.clone();
    spec.min_size = e.min_tasks;
    spec.max_size = e.max_tasks;
    let platform = ContainerPlatform::EcsExpress(EcsExpress {
        client: aws_sdk_ecs::Client::new(&ctx.sdk),
        roles,
        cluster: None,
    });
    Ok((platform, spec))
}

pub fn run(cmd: EcsCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    crate::runtime().block_on(async move {
        let ctx = crate::cmd_apprunner::context(global, r).await?;
        let caller = crate::session::caller(&ctx.target, &ctx.sdk).await?;
        r.report(deploykit_report::Event::info(caller.to_string()));
        let name = ctx.target.ecs.service.clone();
        match cmd {
            EcsCommand::Status => {
                // Status reads only: the roles are not needed, so none are looked up.
                let platform = ContainerPlatform::EcsExpress(EcsExpress {
                    client: aws_sdk_ecs::Client::new(&ctx.sdk),
                    roles: EcsRoles {
                        execution_role_arn: String::new(),
                        infrastructure_role_arn: String::new(),
                    },
                    cluster: None,
                });
                let s = platform.status(&name).await.map_err(|e| {
                    crate::cmd_apprunner::apprunner_err(&e)
                })?;
                r.result(&s, || {
                    let mut out = format!(
                        "ECS Express service {}: {}\n  url:   {}\n  image: {}",
                        s.service,
                        s.status,
                        s.url
                            .as_deref()
                            .map(|u| format!("https://{u}"))
                            .unwrap_or_else(|| "-".into()),
                        s.image.as_deref().unwrap_or("-")
                    );
                    for (id, kind, st) in s.operations.iter().take(5) {
                        out.push_str(&format!("\n  {kind} {id}: {st}"));
                    }
                    out
                });
                Ok(if s.arn.is_some() {
                    Exit::Success
                } else {
                    Exit::Failure
                })
            }
            EcsCommand::Logs => {
                let group = format!("/aws/ecs/default/{name}");
                r.result(&serde_json::json!({ "application": group }), || {
                    format!(
                        "ECS Express service {name}: task output (stdout/stderr) goes to CloudWatch Logs\n  application: {group}\n  read it with: aws logs tail {group} --follow"
                    )
                });
                Ok(Exit::Success)
            }
        }
    })
}
