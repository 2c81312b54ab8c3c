//! `cargo xtask iam ensure | status | policy`: maps deploy.toml's role names, the app's secret
//! ARNs and bucket to `deploykit_iam` and renders plans, drift and policies. No IAM logic here.

use deploykit_config::ResolvedTarget;
use deploykit_iam::deployer::{DeployerScope, deployer_policy};
use deploykit_iam::github_oidc::{self, GithubOidc, OidcPlan};
use deploykit_iam::{AppRoles, Iam, IamError, IamOutcome, IamPlan, RoleSpec};
use deploykit_report::Reporter;
use serde_json::json;

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum IamCommand {
    /// Create or adopt the roles each route needs and fix any drift (idempotent).
    Ensure {
        /// Show the plan and stop.
        #[arg(long)]
        dry_run: bool,
        /// Only the roles of this route.
        #[arg(long, value_enum, default_value_t = Route::All)]
        route: Route,
    },
    /// List every difference between the roles and their specification (exit 7 if any).
    Status {
        #[arg(long, value_enum, default_value_t = Route::All)]
        route: Route,
    },
    /// Print the roles' policies as JSON; with --deployer, the policy for whoever runs deploykit.
    Policy {
        /// The least-privilege policy of the person or CI role that runs deploykit.
        #[arg(long)]
        deployer: bool,
        #[arg(long, value_enum, default_value_t = Route::All)]
        route: Route,
    },
    /// Let GitHub Actions deploy without access keys: GitHub's OIDC provider and a role that
    /// only one repository's branch may assume, with the deployer policy (idempotent).
    GithubOidc {
        /// The repository allowed to deploy, OWNER/NAME.
        #[arg(long)]
        repo: String,
        /// The one branch allowed to deploy (no wildcards).
        #[arg(long, default_value = "main")]
        branch: String,
        /// The role's name (default `<app>-github-deploy`).
        #[arg(long)]
        role_name: Option<String>,
        /// Show the plan and stop.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Which route's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Route {
    All,
    Eb,
    Apprunner,
    /// ECS Express Mode: the execution and infrastructure roles.
    Ecs,
}

pub fn run(cmd: IamCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    crate::runtime().block_on(run_async(cmd, global, r))
}

/// The AWS SDK config and caller of a target, with the account checked.
struct Ctx {
    target: ResolvedTarget,
    sdk: aws_types::SdkConfig,
    account: String,
    principal: String,
}

async fn context(global: &GlobalArgs, r: &Renderer) -> Result<Ctx, CliError> {
    let c = crate::cmd_apprunner::context(global, r).await?;
    let who = crate::session::caller(&c.target, &c.sdk).await?;
    Ok(Ctx {
        target: c.target,
        sdk: c.sdk,
        account: who.account,
        principal: who.arn,
    })
}

/// deploy.toml's role names for `route` (the library's mapping).
pub fn app_roles(t: &ResolvedTarget, secret_arns: Vec<String>, route: Route) -> AppRoles {
    deploykit::mapping::app_roles(t, secret_arns, route.into())
}

impl From<Route> for deploykit::Route {
    fn from(r: Route) -> Self {
        match r {
            Route::All => deploykit::Route::All,
            Route::Eb => deploykit::Route::Eb,
            Route::Apprunner => deploykit::Route::Apprunner,
            Route::Ecs => deploykit::Route::Ecs,
        }
    }
}

fn iam_err(e: &IamError) -> CliError {
    CliError::from_diagnostic(e)
}

async fn run_async(cmd: IamCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let c = context(global, r).await?;
    let t = &c.target;
    let route = match &cmd {
        IamCommand::Ensure { route, .. }
        | IamCommand::Status { route }
        | IamCommand::Policy { route, .. } => *route,
        IamCommand::GithubOidc {
            repo,
            branch,
            role_name,
            dry_run,
        } => return github_oidc(&c, repo, branch, role_name.as_deref(), *dry_run, r).await,
    };
    if let IamCommand::Policy { deployer: true, .. } = cmd {
        let roles = app_roles(t, Vec::new(), route);
        let specs = deploykit_iam::desired_roles(&roles);
        let doc = deployer_policy(&deployer_scope(t, &c.account, &specs));
        r.result(&doc, || {
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        });
        return Ok(Exit::Success);
    }
    if let IamCommand::Ensure { dry_run: false, .. } = cmd {
        r.report(deploykit_report::Event::info(format!(
            "target {}: account {} as {}",
            t.name, c.account, c.principal
        )));
        let out = deploykit::prepare::ensure_roles(t, &c.sdk, route.into(), r)
            .await
            .map_err(|e| crate::session::lib_err(e, Some(&t.name)))?;
        r.result(&out, || outcome_text(&out));
        return Ok(Exit::Success);
    }
    let secrets = crate::session::resolve_secrets(t, &c.sdk).await?;
    let roles = app_roles(t, secrets.into_iter().map(|s| s.arn).collect(), route);
    let specs = deploykit_iam::desired_roles(&roles);
    let iam = Iam::new(&c.sdk);
    let who = format!("account {} as {}", c.account, c.principal);
    match cmd {
        IamCommand::Policy { .. } => {
            let out: Vec<_> = specs.iter().map(role_json).collect();
            r.result(&out, || {
                serde_json::to_string_pretty(&out).unwrap_or_default()
            });
            Ok(Exit::Success)
        }
        IamCommand::Status { .. } => {
            let states = iam.inspect(&specs).await.map_err(|e| iam_err(&e))?;
            let plan = deploykit_iam::plan(&specs, &states);
            let drift = plan.differences();
            r.result(
                &json!({ "caller": &who, "plan": &plan, "drift": &drift }),
                || {
                    let mut out = vec![format!("target {} ({who})", t.name)];
                    for rp in &plan.roles {
                        out.push(if rp.differences.is_empty() {
                            format!("{}: as specified ({})", rp.role, rp.purpose.describe())
                        } else {
                            format!(
                                "{}: {} difference(s) ({})",
                                rp.role,
                                rp.differences.len(),
                                rp.purpose.describe()
                            )
                        });
                        out.extend(rp.differences.iter().map(|d| format!("  - {d}")));
                    }
                    if !drift.is_empty() {
                        out.push(format!(
                            "{} difference(s); `cargo xtask --target {} iam ensure` fixes them",
                            drift.len(),
                            t.name
                        ));
                    }
                    out.join("\n")
                },
            );
            Ok(if drift.is_empty() {
                Exit::Success
            } else {
                Exit::CheckFailed
            })
        }
        IamCommand::GithubOidc { .. } => unreachable!("handled above"),
        IamCommand::Ensure { .. } => {
            let states = iam.inspect(&specs).await.map_err(|e| iam_err(&e))?;
            let plan = deploykit_iam::plan(&specs, &states);
            iam.check_attachable(&plan).await.map_err(|e| iam_err(&e))?;
            r.result(&json!({ "caller": &who, "plan": &plan }), || {
                format!("plan for target {} ({who}):\n{}", t.name, plan_text(&plan))
            });
            Ok(Exit::Success)
        }
    }
}

/// `iam github-oidc`: the plan, then the role ARN and the line that hands it to the workflow.
async fn github_oidc(
    c: &Ctx,
    repo: &str,
    branch: &str,
    role_name: Option<&str>,
    dry_run: bool,
    r: &Renderer,
) -> CliResult {
    let t = &c.target;
    let specs = deploykit_iam::desired_roles(&app_roles(t, Vec::new(), Route::All));
    let policy = deployer_policy(&deployer_scope(t, &c.account, &specs));
    let desired = GithubOidc::new(
        &t.app.name,
        repo,
        branch,
        role_name,
        partition(&t.region),
        &c.account,
        policy,
    )
    .map_err(|e| CliError::from_diagnostic(&e))?;
    let iam = Iam::new(&c.sdk);
    let who = format!("account {} as {}", c.account, c.principal);
    if dry_run {
        let observed = iam
            .observe_github_oidc(desired.role_name())
            .await
            .map_err(|e| iam_err(&e))?;
        let plan = github_oidc::plan(&desired, &observed);
        r.result(&json!({ "caller": &who, "plan": &plan }), || {
            format!(
                "plan for target {} ({who}):\n{}",
                t.name,
                oidc_plan_text(&plan)
            )
        });
        return Ok(Exit::Success);
    }
    let out = github_oidc::ensure(&iam, &desired, r)
        .await
        .map_err(|e| iam_err(&e))?;
    r.result(&out, || {
        format!(
            "{}\n{}role {} ({})\nset it for the workflow:\n  gh variable set AWS_DEPLOY_ROLE_ARN --body {}",
            oidc_plan_text(&out.plan),
            if out.unchanged {
                "nothing was changed; "
            } else {
                ""
            },
            out.plan.role,
            out.plan.subject,
            out.role_arn
        )
    });
    Ok(Exit::Success)
}

fn oidc_plan_text(plan: &OidcPlan) -> String {
    if plan.is_empty() {
        return format!(
            "  = {} and {} unchanged (admits {})",
            plan.provider_arn, plan.role, plan.subject
        );
    }
    plan.changes
        .iter()
        .map(|c| format!("  {}", c.describe()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn role_json(s: &RoleSpec) -> serde_json::Value {
    json!({
        "role": s.name,
        "purpose": s.purpose,
        "instance_profile": s.instance_profile,
        "trust_policy": s.trust_policy,
        "managed_policies": s.managed_policies,
        "inline_policy": s.inline_policy,
    })
}

fn deployer_scope(t: &ResolvedTarget, account: &str, specs: &[RoleSpec]) -> DeployerScope {
    let mut managed: Vec<String> = specs
        .iter()
        .flat_map(|s| s.managed_policies.iter().cloned())
        .collect();
    managed.sort();
    managed.dedup();
    DeployerScope {
        partition: partition(&t.region).into(),
        region: t.region.clone(),
        account: Some(account.to_owned()),
        eb_application: t.eb.application.clone(),
        eb_environment: t.eb.environment.clone(),
        bundle_bucket: t.eb.bucket.clone(),
        app_bucket: t.s3.as_ref().map(|s| s.bucket.clone()),
        alarm_prefix: t
            .alarms
            .as_ref()
            .map(|_| format!("{}-{}", t.app.name, t.name)),
        ecr_repository: t.apprunner.repository.clone(),
        apprunner_service: t.apprunner.service.clone(),
        ecs_service: t.ecs.service.clone(),
        hosted_zone: match &t.apprunner.hosted_zone {
            Some(deploykit_config::HostedZone::Id(id)) => Some(id.clone()),
            _ => None,
        },
        db_instance: t.database.instance.clone(),
        db_subnet_group: t.database.subnet_group.clone(),
        // Names match every version of the ARN (Secrets Manager's 6-character suffix), so the
        // policy also covers `secrets set` creating them.
        secrets: t.secrets.values().map(|s| s.secret.clone()).collect(),
        roles: specs.iter().map(|s| s.name.clone()).collect(),
        instance_profiles: specs
            .iter()
            .filter_map(|s| s.instance_profile.clone())
            .collect(),
        managed_policies: managed,
        pass_to_services: Vec::new(),
    }
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The plan as lines: `+ create role ...`, or `unchanged` per role.
pub fn plan_text(plan: &IamPlan) -> String {
    let mut out = Vec::new();
    for rp in &plan.roles {
        if rp.changes.is_empty() {
            out.push(format!(
                "  = {} unchanged ({})",
                rp.role,
                rp.purpose.describe()
            ));
        } else {
            out.extend(rp.changes.iter().map(|c| format!("  {}", c.describe())));
        }
    }
    out.join("\n")
}

pub(crate) fn outcome_text(out: &IamOutcome) -> String {
    let mut lines = Vec::new();
    for rp in &out.plan.roles {
        let arn = out
            .role_arns
            .get(&rp.role)
            .map(String::as_str)
            .unwrap_or("-");
        lines.push(if rp.changes.is_empty() {
            format!("{} unchanged ({arn})", rp.role)
        } else if !rp.exists {
            format!("{} created ({arn})", rp.role)
        } else {
            format!(
                "{} updated: {} change(s) ({arn})",
                rp.role,
                rp.changes.len()
            )
        });
    }
    if out.unchanged() {
        lines.push("every role already as specified; nothing was changed".into());
    }
    lines.join("\n")
}
