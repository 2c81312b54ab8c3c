//! `cargo xtask deploy ecs` (Route B on ECS Express Mode: the same build -> push as
//! `deploy apprunner`, then CreateExpressGatewayService / UpdateExpressGatewayService) and
//! `cargo xtask ecs status | logs`.
//!
//! Thin: the build, push, plan rendering and result live in `cmd_apprunner::deploy_on`; this
//! file maps `[ecs]` to the platform's inputs.

use deploykit_apprunner::{ContainerPlatform, EcsExpress, EcsRoles};
use deploykit_report::Reporter;

use crate::cmd_apprunner::OnPlatform;
use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum EcsCommand {
    /// The Express service's status, URL, image and recent deployments.
    Status,
    /// Where the service's logs are (the tasks' CloudWatch log group); `logs ecs` reads them.
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
                        "ECS Express service {name}: task output (stdout/stderr) goes to CloudWatch Logs\n  application: {group}\n  read it with: cargo xtask logs ecs [--follow]"
                    )
                });
                Ok(Exit::Success)
            }
        }
    })
}
