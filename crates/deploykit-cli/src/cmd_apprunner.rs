//! `cargo xtask deploy apprunner` (Route B: build -> push -> App Runner) and
//! `cargo xtask apprunner status | logs | domain add NAME`.
//!
//! Thin: maps deploy.toml to the image/ecr/apprunner crates' plain inputs and renders results.

use std::time::Duration;

use deploykit_apprunner::{AppRunnerError, ContainerPlatform, Probe, WaitOptions};
use deploykit_config::ResolvedTarget;
use deploykit_report::Reporter;

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum AppRunnerCommand {
    /// The service's status, URL, image and recent operations.
    Status,
    /// Where the service's logs are (CloudWatch log groups); `logs apprunner` reads them.
    Logs,
    /// Custom domains.
    #[command(subcommand)]
    Domain(DomainCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum DomainCommand {
    /// Associate a domain with the service; upsert its DNS records in Route 53 when
    /// `[apprunner] hosted_zone` is set, otherwise print them to create by hand.
    Add(DomainAddArgs),
}

/// Arguments of `cargo xtask apprunner domain add`.
#[derive(Debug, clap::Args)]
pub struct DomainAddArgs {
    /// The domain, e.g. app.example.com (default: `[apprunner] domain`).
    pub name: Option<String>,
    /// Associate www.NAME as well.
    #[arg(long)]
    pub www: bool,
    /// Do not touch Route 53, even with a hosted zone configured: print the records.
    #[arg(long)]
    pub no_dns: bool,
    /// Wait until Route 53 is INSYNC and App Runner has validated the certificate (ACTIVE).
    #[arg(long)]
    pub wait: bool,
    /// Bound on each wait, in seconds (default: `[apprunner] timeout`).
    #[arg(long)]
    pub timeout: Option<u64>,
}

/// Arguments of `cargo xtask deploy apprunner`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Print the plan and stop: nothing is built, pushed or changed.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete a CREATE_FAILED service and create it again (its URL changes).
    #[arg(long)]
    pub recreate: bool,
    /// Bound on waiting for the App Runner operation, in seconds (default: deploy.toml's timeout).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Write the generated Dockerfile into the app when it has none, then build with it.
    #[arg(long)]
    pub write_dockerfile: bool,
    /// Seconds between operation polls.
    #[arg(long, default_value_t = 5)]
    pub poll: u64,
    /// Break a deploy lock left by a deploy that no longer runs (warns; refused while it runs).
    #[arg(long)]
    pub force_unlock: bool,
}

pub(crate) struct Ctx {
    pub target: ResolvedTarget,
    pub sdk: aws_types::SdkConfig,
}

/// The Route B context on `--target` (the local cloud started when the target is local).
pub(crate) async fn context(global: &GlobalArgs, r: &Renderer) -> Result<Ctx, CliError> {
    let s = crate::session::session(global, r).await?;
    Ok(Ctx {
        target: s.target,
        sdk: s.sdk,
    })
}

/// A Route B library error for the user: its exit code, plus the command to run where the
/// library's advice names none.
pub(crate) fn apprunner_err(e: &AppRunnerError) -> CliError {
    let err = CliError::from_diagnostic(e);
    match e {
        AppRunnerError::NotAvailableForAccount { .. } => err.add_hint(
            "`cargo xtask iam ensure --route ecs` makes ECS Express's roles, then `cargo xtask deploy ecs` deploys",
        ),
        AppRunnerError::NotYetSupported { .. } => {
            err.add_hint("`cargo xtask deploy eb` deploys the app with Route A")
        }
        AppRunnerError::RolledBack { .. } => {
            err.add_hint("`cargo xtask apprunner logs` says where the application logs are")
        }
        AppRunnerError::CreateFailed { .. } => err.add_hint(
            "`cargo xtask deploy apprunner --recreate` deletes the failed service and creates it again",
        ),
        AppRunnerError::RollbackFailed { .. }
        | AppRunnerError::Timeout { .. }
        | AppRunnerError::Blocked { .. } => err.add_hint(
            "`cargo xtask apprunner status` (or `ecs status`) shows what the service runs now; deploys take --timeout",
        ),
        _ => err,
    }
}

pub(crate) use deploykit::container::OnPlatform;

#[derive(serde::Serialize)]
struct DryRun<'a> {
    #[serde(flatten)]
    plan: &'a deploykit_apprunner::Plan,
    caller: &'a deploykit_aws::CallerIdentity,
    secrets: &'a [deploykit::preflight::SecretArn],
    iam: &'a [deploykit::preflight::RoleRef],
}

pub fn deploy(args: DeployArgs, global: &GlobalArgs, r: &Renderer) -> CliResult {
    deploy_on(args, global, r, OnPlatform::AppRunner)
}

/// Build -> push -> deploy on `on`: `deploy apprunner` and `deploy ecs` share everything but
/// the preflight's roles, the service spec and the platform.
pub(crate) fn deploy_on(
    args: DeployArgs,
    global: &GlobalArgs,
    r: &Renderer,
    on: OnPlatform,
) -> CliResult {
    crate::runtime().block_on(crate::interrupt::run(
        deploy_async(args, global, r, on),
        crate::interrupt::Interruptible::deploy(on.word(), global.target.as_deref()),
    ))
}

async fn deploy_async(
    args: DeployArgs,
    global: &GlobalArgs,
    r: &Renderer,
    on: OnPlatform,
) -> CliResult {
    use deploykit::container::{self, ContainerDeployRequest, ContainerPlanning};
    let session = crate::session::session(global, r).await?;
    let lib = |e| lib_route_b_err(e, &session.target.name);
    let req = ContainerDeployRequest {
        dry_run: args.dry_run,
        recreate: args.recreate,
        timeout: args.timeout.map(Duration::from_secs),
        poll: Some(Duration::from_secs(args.poll)),
        write_dockerfile: args.write_dockerfile,
        force_unlock: args.force_unlock,
    };
    let p = match container::plan_deploy(&session, on, &req, r)
        .await
        .map_err(lib)?
    {
        ContainerPlanning::NeedsLocalResources(pending) => {
            return crate::local_prepare::finish_dry_run(&pending, r);
        }
        ContainerPlanning::Planned(p) => *p,
    };
    if let Some(path) = &p.wrote_dockerfile {
        r.line(format!("wrote {}", path.display()));
    }
    let t = &session.target;
    let a = &t.apprunner;
    let what = on.service_noun();
    r.line(format!(
        "{}\nPlan for {what} {} ({}):\n  context: {} files, {} excluded, Dockerfile {}\n  image:   {}{}\n  service: {}",
        p.preflight.base,
        p.spec.name,
        t.name,
        p.context.file_count(),
        p.context.excluded.len(),
        match p.context.dockerfile {
            deploykit_image::DockerfileSource::InTree(_) => "from the app",
            deploykit_image::DockerfileSource::Generated(_) => "generated (seed; --write-dockerfile to keep it)",
        },
        p.image,
        p.git_sha.as_deref().map(|s| format!(" (+ tag {s})")).unwrap_or_default(),
        p.plan.action.summary()
    ));
    if let Some(vpc) = &p.spec.vpc {
        r.line(format!(
            "  network: VPC egress through connector {} (subnets {}; security groups {}), created if missing",
            deploykit_apprunner::vpc_connector_name(&p.spec.name, vpc),
            vpc.subnets.join(", "),
            vpc.security_groups.join(", ")
        ));
    }
    if !a.build_args.is_empty() {
        let args: Vec<String> = a
            .build_args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        r.line(format!("  build args: {}", args.join(" ")));
    }
    if args.dry_run {
        r.result(
            &DryRun {
                plan: &p.plan,
                caller: &p.preflight.base.caller,
                secrets: &p.preflight.base.secrets,
                iam: &p.preflight.base.iam,
            },
            || "dry run: nothing built, pushed or changed".into(),
        );
        return Ok(Exit::Success);
    }
    let d = container::apply_deploy(&session, p, &req, r)
        .await
        .map_err(lib)?;
    r.result(&d, || {
        let unchanged = d.outcome.action == deploykit_apprunner::Action::Unchanged;
        format!(
            "{} {} {} {what} {}\n  image:     {}@{}\n  layers:    {} pushed, {} already present\n  operation: {} {}\n  service:   {} at https://{}",
            if unchanged { "Unchanged:" } else { "Deployed" },
            d.outcome.image,
            if unchanged { "already runs on" } else { "to" },
            d.outcome.service,
            d.image,
            d.digest,
            d.layers_pushed,
            d.layers_present,
            if unchanged { "none (nothing to send)" } else { d.outcome.operation_id.as_str() },
            d.outcome.operation_status,
            d.outcome.service_status,
            d.outcome.service_url
        )
    });
    Ok(Exit::Success)
}

/// A Route B library error: the platform's own advice plus the CLI's commands.
fn lib_route_b_err(e: deploykit::Error, target: &str) -> CliError {
    match e {
        deploykit::Error::Platform(p) => apprunner_err(&p),
        e => crate::cmd_deploy::lock_err(e, Some(target)),
    }
}

pub fn run(cmd: AppRunnerCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    crate::runtime().block_on(async move {
        let ctx = context(global, r).await?;
        let caller = crate::session::caller(&ctx.target, &ctx.sdk).await?;
        r.report(deploykit_report::Event::info(caller.to_string()));
        let client = aws_sdk_apprunner::Client::new(&ctx.sdk);
        let name = ctx.target.apprunner.service.clone();
        match cmd {
            AppRunnerCommand::Status => {
                let s = ContainerPlatform::AppRunner(client).status(&name).await.map_err(|e| apprunner_err(&e))?;
                r.result(&s, || {
                    let mut out = format!(
                        "{}: {}\n  url:   {}\n  image: {}",
                        s.service,
                        s.status,
                        s.url.as_deref().map(|u| format!("https://{u}")).unwrap_or_else(|| "-".into()),
                        s.image.as_deref().unwrap_or("-")
                    );
                    for (id, ty, st) in s.operations.iter().take(5) {
                        out.push_str(&format!("\n  {ty:<16} {st:<20} {id}"));
                    }
                    out
                });
                Ok(if s.status == "NOT_FOUND" { Exit::Failure } else { Exit::Success })
            }
            AppRunnerCommand::Logs => {
                let s = ContainerPlatform::AppRunner(client).status(&name).await.map_err(|e| apprunner_err(&e))?;
                let Some(arn) = s.arn else {
                    return Err(CliError::new(Exit::Failure, format!("service {name} does not exist")).with_hint("deploy it first: cargo xtask deploy apprunner"));
                };
                // arn:aws:apprunner:REGION:ACCOUNT:service/NAME/ID
                let id = arn.rsplit('/').next().unwrap_or_default();
                let groups = [
                    format!("/aws/apprunner/{name}/{id}/application"),
                    format!("/aws/apprunner/{name}/{id}/service"),
                ];
                r.result(&groups, || {
                    format!(
                        "App Runner writes logs to CloudWatch Logs:\n  application: {}\n  service:     {}\nRead them with: cargo xtask logs apprunner [--follow]",
                        groups[0], groups[1]
                    )
                });
                Ok(Exit::Success)
            }
            AppRunnerCommand::Domain(DomainCommand::Add(args)) => domain_add(args, &ctx, client, r).await,
        }
    })
}

fn dns_exit(e: &deploykit_dns::DnsError) -> Exit {
    use deploykit_dns::DnsError as D;
    match e {
        D::Aws { .. } => Exit::Aws,
        D::Timeout { .. } => Exit::Timeout,
        D::NoZone { .. } | D::OutsideZone { .. } | D::AmbiguousZone { .. } => Exit::Config,
        D::Conflict { .. } | D::RecordOutsideZone { .. } => Exit::Failure,
    }
}

#[derive(serde::Serialize)]
struct DomainSummary {
    service: String,
    #[serde(flatten)]
    domain: deploykit_apprunner::DomainRecords,
    /// The Route 53 upsert; `null` when no hosted zone is configured or with --no-dns.
    dns: Option<deploykit_dns::UpsertOutcome>,
}

/// `apprunner domain add`: associate (adopting an existing association), upsert the records
/// when a hosted zone is configured, optionally wait, render.
async fn domain_add(
    args: DomainAddArgs,
    ctx: &Ctx,
    client: aws_sdk_apprunner::Client,
    r: &Renderer,
) -> CliResult {
    let a = &ctx.target.apprunner;
    let service = a.service.clone();
    let domain = args.name.clone().or_else(|| a.domain.clone()).ok_or_else(|| {
        CliError::new(Exit::Config, "no domain to add")
            .with_hint("pass it (`cargo xtask apprunner domain add app.example.com`) or set `domain` under [apprunner] in deploy.toml")
    })?;
    deploykit_config::rules::domain_name(&domain).map_err(|e| CliError::new(Exit::Config, e))?;
    let ar_err = |e: AppRunnerError| apprunner_err(&e);
    let s = ContainerPlatform::AppRunner(client.clone())
        .status(&service)
        .await
        .map_err(ar_err)?;
    let Some(arn) = s.arn else {
        return Err(
            CliError::new(Exit::Failure, format!("service {service} does not exist"))
                .with_hint("deploy it first: cargo xtask deploy apprunner"),
        );
    };
    let timeout = args.timeout.map(Duration::from_secs).unwrap_or(a.timeout);
    let mut records =
        deploykit_apprunner::associate_domain(&client, &service, &arn, &domain, args.www, r)
            .await
            .map_err(ar_err)?;

    let zone = match (&a.hosted_zone, args.no_dns) {
        (Some(hz), false) => Some(hz),
        _ => None,
    };
    let dns = match zone {
        Some(hz) => {
            let r53 = aws_sdk_route53::Client::new(&ctx.sdk);
            let dns_err = |e: deploykit_dns::DnsError| CliError::from_error(dns_exit(&e), &e);
            // The same lookup as `https ensure` and `dns zone ensure`.
            let zone = deploykit::dns::find_zone_in(&ctx.sdk, &records.domain, Some(hz))
                .await
                .map_err(dns_err)?;
            let wanted: Vec<deploykit_dns::Record> = records
                .all_records()
                .into_iter()
                .map(|d| deploykit_dns::Record {
                    name: d.name,
                    record_type: d.record_type,
                    value: d.value,
                })
                .collect();
            let wait = args.wait.then_some(deploykit_dns::WaitOptions {
                poll: Duration::from_secs(5),
                timeout,
            });
            Some(
                deploykit_dns::upsert_records(&r53, &zone, &wanted, wait, r)
                    .await
                    .map_err(dns_err)?,
            )
        }
        None => None,
    };
    if args.wait {
        let wait = WaitOptions {
            poll: Duration::from_secs(5),
            timeout,
        };
        records = deploykit_apprunner::wait_domain(&client, &service, &arn, &domain, wait, r)
            .await
            .map_err(ar_err)?;
    }
    let summary = DomainSummary {
        service,
        domain: records,
        dns,
    };
    r.result(&summary, || domain_text(&summary, args.no_dns));
    Ok(Exit::Success)
}

fn domain_text(s: &DomainSummary, no_dns: bool) -> String {
    let d = &s.domain;
    let mut out = format!(
        "{} ({}) {} service {}",
        d.domain,
        d.status,
        if d.newly_associated {
            "associated with"
        } else {
            "was already associated with"
        },
        s.service
    );
    let lines = |out: &mut String| {
        for rec in d.all_records() {
            let note = if rec.value == d.cname_target {
                ""
            } else {
                "   (certificate validation)"
            };
            out.push_str(&format!(
                "\n  {} {} -> {}{note}",
                rec.record_type, rec.name, rec.value
            ));
        }
    };
    match &s.dns {
        Some(u) if u.unchanged() => {
            out.push_str(&format!(
                "\nRoute 53 zone {} ({}): records unchanged",
                u.zone.name, u.zone.id
            ));
            lines(&mut out);
        }
        Some(u) => {
            out.push_str(&format!(
                "\nRoute 53 zone {} ({}): {} record(s) upserted, change {} {}",
                u.zone.name,
                u.zone.id,
                u.records
                    .iter()
                    .filter(|p| p.action != deploykit_dns::RecordAction::Unchanged)
                    .count(),
                u.change_id.as_deref().unwrap_or("-"),
                u.status
            ));
            lines(&mut out);
        }
        None => {
            out.push_str(if no_dns {
                "\nCreate these DNS records (--no-dns):"
            } else {
                "\nCreate these DNS records (set `hosted_zone` under [apprunner] to have Route 53 records upserted):"
            });
            lines(&mut out);
        }
    }
    if !d.is_active() {
        out.push_str("\nApp Runner serves the domain once the certificate is validated (status ACTIVE); `--wait` waits for it.");
    }
    out
}

/// Arguments of `cargo xtask rollback apprunner` and `cargo xtask rollback ecs`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The image tag to go back to; it must be in the ECR repository `[apprunner] repository`
    /// (default: the newest image pushed there before the one the service runs).
    #[arg(long)]
    pub to: Option<String>,
    /// Print the plan ("roll back from X to Y") and stop: nothing is changed.
    #[arg(long)]
    pub dry_run: bool,
    /// Bound on waiting for the deployment, e.g. 600 or 10m (default: deploy.toml's timeout).
    #[arg(long, value_parser = crate::cmd_deploy::parse_duration)]
    pub timeout: Option<Duration>,
    /// Break a deploy lock left by a deploy that no longer runs (warns; refused while it runs).
    #[arg(long)]
    pub force_unlock: bool,
}

/// The platform and spec `on` runs `image` with: the deploy's own spec building.

#[derive(serde::Serialize)]
struct RollbackDryRun<'a> {
    rollback: &'a deploykit_apprunner::rollback::RollbackPlan,
    #[serde(flatten)]
    plan: &'a deploykit_apprunner::Plan,
    caller: &'a deploykit_aws::CallerIdentity,
}

#[derive(serde::Serialize)]
struct RollbackSummary {
    caller: deploykit_aws::CallerIdentity,
    rollback: deploykit_apprunner::rollback::RollbackPlan,
    outcome: deploykit_apprunner::DeployOutcome,
}

/// `rollback apprunner|ecs`: pick the earlier image in ECR, then deploy it through the same
/// plan / deploy / wait / health path as `deploy apprunner|ecs`, with deploy.toml's configuration.
pub(crate) fn rollback(
    args: RollbackArgs,
    global: &GlobalArgs,
    r: &Renderer,
    on: OnPlatform,
) -> CliResult {
    crate::runtime().block_on(crate::interrupt::run(
        rollback_async(args, global, r, on),
        crate::interrupt::Interruptible::rollback(on.word(), global.target.as_deref()),
    ))
}

async fn rollback_async(
    args: RollbackArgs,
    global: &GlobalArgs,
    r: &Renderer,
    on: OnPlatform,
) -> CliResult {
    let session = crate::session::session(global, r).await?;
    let pre = deploykit::container::preflight(&session, on)
        .await
        .map_err(|e| lib_route_b_err(e, &session.target.name))?;
    let ctx = &session;
    let t = &ctx.target;
    let a = &t.apprunner;
    let ar = |e: AppRunnerError| apprunner_err(&e);
    let (what, name, timeout, cmd) = match on {
        OnPlatform::AppRunner => (
            "App Runner service",
            a.service.clone(),
            a.timeout,
            "apprunner",
        ),
        OnPlatform::EcsExpress => (
            "ECS Express service",
            t.ecs.service.clone(),
            t.ecs.timeout,
            "ecs",
        ),
    };
    let ecr = aws_sdk_ecr::Client::new(&ctx.sdk);
    let registry = deploykit_ecr::AuthCache::new(ecr.clone())
        .get()
        .await
        .map_err(|e| CliError::from_error(Exit::Aws, &e))?;
    let platform = deploykit::container::platform(&session, on, &pre);
    let status = platform.status(&name).await.map_err(ar)?;
    let images = deploykit_apprunner::rollback::list_images(&ecr, &a.repository)
        .await
        .map_err(ar)?;
    let rb = deploykit_apprunner::rollback::plan_rollback(
        &name,
        &a.repository,
        registry.host(),
        &images,
        status.arn.as_ref().and(status.image.as_deref()),
        args.to.as_deref(),
    )
    .map_err(|e| {
        let hint = match &e {
            AppRunnerError::NoRollbackTarget { .. } if status.arn.is_none() => {
                format!("deploy it first: cargo xtask deploy {cmd}")
            }
            _ => format!(
                "pick a tag with `cargo xtask rollback {cmd} --to TAG` (aws ecr describe-images --repository-name {} lists them)",
                a.repository
            ),
        };
        ar(e).with_hint(hint)
    })?;
    let spec = deploykit::container::service_spec(t, on, rb.to.clone(), &pre);
    let plan = platform.plan(&spec, false).await.map_err(ar)?;
    r.line(format!(
        "{}\nRoll back {what} {name} ({}) from {} to {}\n  target:  {} pushed at {}{}\n  service: {}",
        pre.base,
        t.name,
        rb.from,
        rb.to,
        rb.to_digest,
        time::OffsetDateTime::from_unix_timestamp(i64::try_from(rb.to_pushed_at).unwrap_or(i64::MAX))
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| format!("{} (unix)", rb.to_pushed_at)),
        if rb.explicit { ", named with --to" } else { ", the image pushed before the running one" },
        plan.action.summary()
    ));
    if args.dry_run {
        r.result(
            &RollbackDryRun {
                rollback: &rb,
                plan: &plan,
                caller: &pre.base.caller,
            },
            || {
                format!(
                    "dry run: would roll back {name} from {} to {}; nothing changed",
                    rb.from, rb.to
                )
            },
        );
        return Ok(Exit::Success);
    }
    // Never roll back under a running deploy: the rollback takes the deploy's locks (local and
    // remote), released however it ends.
    let wait = WaitOptions {
        poll: Duration::from_secs(5),
        timeout: args.timeout.unwrap_or(timeout),
    };
    let probe = Probe {
        resolve: ctx.resolve,
    };
    let outcome = deploykit::container::apply_rollback(
        &session.root,
        &t.name,
        on,
        &platform,
        &plan,
        &spec,
        wait,
        &probe,
        args.force_unlock,
        r,
    )
    .await
    .map_err(|e| lib_route_b_err(e, &t.name))?;
    crate::interrupt::settled(&session.root, &t.name, &name, r);
    let summary = RollbackSummary {
        caller: pre.base.caller.clone(),
        rollback: rb,
        outcome,
    };
    r.result(&summary, || {
        let o = &summary.outcome;
        format!(
            "{} {what} {} from {} to {}\n  operation: {} {}\n  service:   {} at https://{}",
            if o.action == deploykit_apprunner::Action::Unchanged {
                "Unchanged (already runs the target):"
            } else {
                "Rolled back"
            },
            o.service,
            summary.rollback.from,
            summary.rollback.to,
            if o.operation_id.is_empty() {
                "none"
            } else {
                o.operation_id.as_str()
            },
            o.operation_status,
            o.service_status,
            o.service_url
        )
    });
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use deploykit_apprunner::AppRunnerError;

    use super::apprunner_err;
    use crate::Exit;

    #[test]
    fn a_new_accounts_refusal_names_deploy_ecs() {
        let e = apprunner_err(&AppRunnerError::NotAvailableForAccount {
            operation: "CreateService",
            code: "SubscriptionRequiredException".into(),
        });
        assert_eq!(e.exit, Exit::Aws);
        let hint = e.hint.unwrap_or_default();
        assert!(
            format!("{} {hint}", e.message).contains("ecs-express"),
            "{} / {hint}",
            e.message
        );
        assert!(
            hint.contains("cargo xtask deploy ecs") && hint.contains("iam ensure --route ecs"),
            "{hint}"
        );
    }
}
