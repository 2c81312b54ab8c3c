//! `cargo xtask deploy eb`, `rollback eb`, `eb status|events|versions|prune|env`: Route A.
//!
//! Maps deploy.toml to deploykit-eb's plain input, builds the bundle, prints the plan, applies
//! it and renders the outcome. No deploy logic lives here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use deploykit_aws::{CallerIdentity, TargetAws};
use deploykit_config::ResolvedTarget;
use deploykit_eb::{
    BundleRef, Category, DeployOptions, Eb, EbError, EbTarget, HealthCheck, Timeouts,
};
use deploykit_report::Reporter;

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum DeployCommand {
    /// Route A: Elastic Beanstalk (bundle, S3, version, single-instance environment, health, rollback).
    Eb(DeployEbArgs),
    /// Route B: App Runner (build, push, deploy).
    Apprunner(crate::cmd_apprunner::DeployArgs),
    /// Route B on ECS Express Mode (the platform AWS offers new accounts): build, push, deploy.
    Ecs(crate::cmd_apprunner::DeployArgs),
}

#[derive(Debug, clap::Args)]
pub struct DeployEbArgs {
    /// Print the plan and stop; nothing is uploaded or changed.
    #[arg(long)]
    pub dry_run: bool,
    /// Bound on waiting for the environment (e.g. 90s, 20m). Default: deploy.toml's eb.timeout.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Time between status polls (e.g. 5s).
    #[arg(long, value_parser = parse_duration)]
    pub poll: Option<Duration>,
    /// On failure, leave the environment as it is instead of redeploying the previous version.
    #[arg(long)]
    pub no_rollback: bool,
    /// Refuse (instead of waiting) when the environment is already updating.
    #[arg(long)]
    pub no_wait_busy: bool,
    /// Ship exactly the files tracked at HEAD.
    #[arg(long, conflicts_with = "staged")]
    pub git: bool,
    /// Ship exactly the files in the git index.
    #[arg(long)]
    pub staged: bool,
    /// Let this path ship although a secret rule matches it (repeatable).
    #[arg(long)]
    pub allow: Vec<PathBuf>,
    /// Turn CRLF into LF in hook scripts and the Procfile instead of refusing them.
    #[arg(long)]
    pub fix_line_endings: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum RollbackCommand {
    /// Redeploy an earlier Elastic Beanstalk version (default: the one before the running one).
    Eb(RollbackEbArgs),
    /// Redeploy an earlier image on App Runner (default: the newest pushed before the running one).
    Apprunner(crate::cmd_apprunner::RollbackArgs),
    /// Redeploy an earlier image on ECS Express (default: the newest pushed before the running one).
    Ecs(crate::cmd_apprunner::RollbackArgs),
}

#[derive(Debug, clap::Args)]
pub struct RollbackEbArgs {
    /// The version label to go back to (`cargo xtask eb versions` lists them).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, clap::Subcommand)]
pub enum EbCommand {
    /// The environment's status, health, version and URL.
    Status,
    /// Recent Elastic Beanstalk events.
    Events(EventsArgs),
    /// Application versions, newest first (the deployed one marked).
    Versions,
    /// Delete old versions, keeping the newest N (never the deployed one).
    Prune(PruneArgs),
    /// Environment variables.
    #[command(subcommand)]
    Env(EnvCommand),
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Keep printing new events until interrupted.
    #[arg(long)]
    pub follow: bool,
    /// How many recent events to show.
    #[arg(long, default_value_t = 30)]
    pub max: i32,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    #[arg(long, default_value_t = 50)]
    pub keep: usize,
    /// Show what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum EnvCommand {
    /// Set variables: KEY=VALUE... (limits checked before any call; waits for the update).
    Set {
        #[arg(required = true, value_parser = parse_kv)]
        pairs: Vec<(String, String)>,
        #[arg(long)]
        no_wait_busy: bool,
    },
    /// Remove variables: KEY...
    Unset {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// List variables (values of secret-looking keys masked) and secret references.
    List,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    deploykit_config::rules::duration(s)
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!(
            "expected KEY=VALUE, got `{}`",
            s.split('=').next().unwrap_or(s)
        )),
    }
}

pub fn run_deploy(cmd: DeployCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    match cmd {
        DeployCommand::Eb(args) => crate::runtime().block_on(deploy_eb(args, global, r)),
        DeployCommand::Apprunner(args) => crate::cmd_apprunner::deploy(args, global, r),
        DeployCommand::Ecs(args) => crate::cmd_ecs::deploy(args, global, r),
    }
}

pub fn run_rollback(cmd: RollbackCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    match cmd {
        RollbackCommand::Eb(a) => crate::runtime().block_on(rollback_eb(a, global, r)),
        RollbackCommand::Apprunner(a) => crate::cmd_apprunner::rollback(
            a,
            global,
            r,
            crate::cmd_apprunner::OnPlatform::AppRunner,
        ),
        RollbackCommand::Ecs(a) => crate::cmd_apprunner::rollback(
            a,
            global,
            r,
            crate::cmd_apprunner::OnPlatform::EcsExpress,
        ),
    }
}

pub fn run_eb(cmd: EbCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    crate::runtime().block_on(eb_cmd(cmd, global, r))
}

/// Everything an eb command needs.
struct Ctx {
    target: ResolvedTarget,
    eb_target: EbTarget,
    eb: Eb,
    /// For the other services a deploy touches (the pre-deploy DB snapshot).
    sdk: aws_types::SdkConfig,
    /// Who the credentials are (STS), checked against the target's `account_id`.
    caller: CallerIdentity,
}

/// Who the credentials are: one STS `GetCallerIdentity` call. When the target's `account_id`
/// is set and differs, refuses (exit 2) before anything is changed. Every command that talks
/// to AWS calls this once, local targets included (the local cloud answers with its account).
pub async fn caller(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
) -> Result<CallerIdentity, CliError> {
    let me = deploykit_aws::caller_identity(sdk).await.map_err(|e| {
        let exit = match &e {
            deploykit_aws::AwsError::CallerIdentity { error }
                if error.kind == deploykit_aws::ErrorKind::Credentials =>
            {
                Exit::Config
            }
            _ => Exit::Aws,
        };
        CliError::from_error(exit, &e)
    })?;
    me.check_account(t.account_id.as_deref()).map_err(|e| {
        CliError::new(Exit::Config, format!("{e}\nnothing was changed")).with_hint(format!(
            "check which credentials target `{}` uses (profile {}, or AWS_PROFILE / AWS_ACCESS_KEY_ID in the environment)",
            t.name,
            t.profile.as_deref().unwrap_or("default")
        ))
    })?;
    Ok(me)
}

/// The IAM role or instance profile name in a config value that is a name or an ARN
/// (`arn:aws:iam::ACCOUNT:role/path/NAME`).
fn iam_name(v: &str) -> &str {
    if v.starts_with("arn:") {
        v.rsplit('/').next().unwrap_or(v)
    } else {
        v
    }
}

/// An IAM role or instance profile a deploy needs, found by name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoleRef {
    /// What it is for, e.g. `[eb] service_role`.
    pub field: &'static str,
    pub name: String,
    pub arn: String,
}

/// What kind of IAM entity a [`RoleRef`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamKind {
    Role,
    InstanceProfile,
}

/// Looks up each `(field, kind, name or ARN)` in IAM; refuses (exit 2) listing every missing
/// one with the command that creates them, before any change.
pub async fn require_iam(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
    wanted: &[(&'static str, IamKind, String)],
) -> Result<Vec<RoleRef>, CliError> {
    let iam = deploykit_iam::Iam::new(sdk);
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for (field, kind, value) in wanted {
        let name = iam_name(value).to_string();
        let arn = match kind {
            IamKind::Role => iam.role_arn(&name).await,
            IamKind::InstanceProfile => iam.instance_profile_arn(&name).await,
        }
        .map_err(|e| CliError::from_error(Exit::Aws, &e).with_hint(e.help().to_string()))?;
        match arn {
            Some(arn) => found.push(RoleRef { field, name, arn }),
            None => missing.push(format!(
                "{} `{name}` ({field})",
                match kind {
                    IamKind::Role => "IAM role",
                    IamKind::InstanceProfile => "instance profile",
                }
            )),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(CliError::new(
            Exit::Config,
            format!(
                "{} does not exist in this account; nothing was changed",
                missing.join(", ")
            ),
        )
        .with_hint(format!(
            "create it with `cargo xtask --target {} iam ensure`",
            t.name
        )))
    }
}

async fn context(global: &GlobalArgs, r: &Renderer) -> Result<Ctx, CliError> {
    let config = deploykit_config::load(&global.config)
        .map_err(|e| CliError::from_error(Exit::Config, &e))?;
    for w in &config.warnings {
        r.report(deploykit_report::Event::warn(w.to_string()));
    }
    let target = config
        .target(global.target.as_deref())
        .map_err(|e| CliError::from_error(Exit::Config, &e))?;
    let (aws, resolve) = if target.local {
        let state = crate::cmd_local::ensure_up(r)?;
        let edge: Option<SocketAddr> = state
            .edge_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .ok();
        (
            TargetAws::local(target.region.clone(), state.edge_url.clone()),
            edge.or(target.http_resolve),
        )
    } else {
        (TargetAws::from(&target), target.http_resolve)
    };
    let sdk = deploykit_aws::sdk_config(&aws)
        .await
        .map_err(|e| CliError::from_error(Exit::Config, &e))?;
    let caller = caller(&target, &sdk).await?;
    let eb_target = eb_target(&target, resolve);
    Ok(Ctx {
        eb: Eb::new(&sdk, target.local || target.endpoint_url.is_some()),
        target,
        eb_target,
        sdk,
        caller,
    })
}

/// deploy.toml's target as the eb crate's plain input. `secrets` is empty: a deploy fills it
/// with the ARNs [`crate::cmd_secrets::resolve_target_secrets`] returns.
pub fn eb_target(t: &ResolvedTarget, resolve: Option<SocketAddr>) -> EbTarget {
    let e = &t.eb;
    let mut out = EbTarget::new(&t.region, &e.application, &e.environment);
    out.instance_type = e.instance_type.clone();
    out.solution_stack = e.platform.clone();
    out.service_role = e.service_role.clone();
    out.instance_profile = e.instance_profile.clone();
    out.bucket = e.bucket.clone();
    out.env = t.env.clone();
    out.stream_logs = e.log_streaming;
    out.log_retention_days = e.log_retention_days;
    out.deployment_policy = e.deployment_policy.as_str().to_string();
    out.enhanced_health = e.enhanced_health;
    out.keep_versions = e.keep_versions;
    out.health = HealthCheck {
        path: e.health_check.then(|| t.app.health_path.clone()),
        resolve,
    };
    out.timeouts = Timeouts {
        deploy: e.timeout,
        busy: e.timeout,
        poll: if t.local {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(5)
        },
        http: Duration::from_secs(5),
    };
    out
}

/// An eb crate error as a CLI error with the right exit code.
fn eb_err(e: &EbError) -> CliError {
    let exit = match e.category() {
        Category::Config => Exit::Config,
        Category::Aws => Exit::Aws,
        Category::RolledBack => Exit::RolledBack,
        Category::RollbackFailed => Exit::RollbackFailed,
        Category::Timeout => Exit::Timeout,
        Category::Failed => Exit::Failure,
    };
    CliError::from_error(exit, e)
}

#[derive(Debug, serde::Serialize)]
struct DeployResult<'a> {
    status: &'static str,
    /// Who the credentials are (STS GetCallerIdentity).
    caller: &'a CallerIdentity,
    /// `[secrets]` with the ARNs Secrets Manager returned.
    secrets: &'a [SecretArn],
    /// The IAM roles and instance profile the environment uses, as found in IAM.
    iam: &'a [RoleRef],
    plan: &'a deploykit_eb::Plan,
    db_snapshot: &'a deploykit_rds::PreDeploySnapshot,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a deploykit_eb::DeployOutcome>,
    bundle: &'a deploykit_bundle::BundleSummary,
    bundle_ms: u128,
    total_ms: u128,
}

async fn deploy_eb(a: DeployEbArgs, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let started = Instant::now();
    let mut ctx = context(global, r).await?;
    if let Some(t) = a.timeout {
        ctx.eb_target.timeouts.deploy = t;
        ctx.eb_target.timeouts.busy = t;
    }
    if let Some(p) = a.poll {
        ctx.eb_target.timeouts.poll = p;
    }
    let pending = crate::local_prepare::prepare(
        &ctx.target,
        &ctx.sdk,
        crate::cmd_iam::Route::Eb,
        a.dry_run,
        r,
    )
    .await?;
    if !pending.is_empty() {
        return pending.finish_dry_run(r);
    }
    let pre = eb_preflight(&mut ctx).await?;
    // Limits before anything else, the bundle included.
    if let Err(problems) =
        deploykit_eb::check_env_limits(&ctx.eb_target.env, &ctx.eb_target.secrets)
    {
        return Err(eb_err(&EbError::EnvLimits { problems }));
    }

    let bundle_started = Instant::now();
    let (summary, git) = build_bundle(&ctx.target, &a, r)?;
    let bundle_ms = bundle_started.elapsed().as_millis();
    let git_sha = git.as_ref().map(|g| g.sha.chars().take(7).collect());
    let git_dirty = git.as_ref().is_some_and(|g| g.dirty);
    let bundle = BundleRef {
        path: summary.path.clone(),
        sha256: summary.sha256.clone(),
        label: summary.label.clone(),
        git_sha,
        git_dirty,
    };

    let (_state, plan) = ctx
        .eb
        .prepare(&ctx.eb_target, &bundle)
        .await
        .map_err(|e| eb_err(&e))?;
    // The environment update runs the app's migrations: snapshot the database first if asked.
    let db = crate::cmd_db::PreDeployDb::plan(&ctx.target, &ctx.sdk, plan.changes_environment(), r)
        .await?;
    r.line(format!(
        "{}\n{}\n{}",
        pre.text(),
        plan.to_string().trim_end(),
        db.decision
    ));
    if a.dry_run {
        r.result(
            &DeployResult {
                status: "planned",
                caller: &ctx.caller,
                secrets: &pre.secrets,
                iam: &pre.iam,
                plan: &plan,
                db_snapshot: &db.decision,
                outcome: None,
                bundle: &summary,
                bundle_ms,
                total_ms: started.elapsed().as_millis(),
            },
            || "dry run: nothing was changed".into(),
        );
        return Ok(Exit::Success);
    }
    let db_snapshot = db.take(&ctx.target, r).await?;
    let opts = DeployOptions {
        rollback: !a.no_rollback,
        wait_busy: !a.no_wait_busy,
    };
    let outcome = ctx
        .eb
        .apply(&ctx.eb_target, &bundle, plan.clone(), &opts, r)
        .await
        .map_err(|e| eb_err(&e))?;
    let total_ms = started.elapsed().as_millis();
    r.result(
        &DeployResult {
            status: "deployed",
            caller: &ctx.caller,
            secrets: &pre.secrets,
            iam: &pre.iam,
            plan: &plan,
            db_snapshot: &db_snapshot,
            outcome: Some(&outcome),
            bundle: &summary,
            bundle_ms,
            total_ms,
        },
        || {
            let upload = match &outcome.upload {
                Some(u) if u.skipped => "upload skipped (same sha256 already in S3)".to_string(),
                Some(u) => format!("uploaded {} bytes", u.bytes_uploaded),
                None => "nothing uploaded (version exists)".to_string(),
            };
            format!(
                "Deployed {label} to {env}: {url}\n  version {created}; {upload}\n  environment {envstate}\n  time: total {total:.2}s (bundle {bundle:.2}s, tool {tool:.2}s, waiting on Elastic Beanstalk {wait:.2}s)",
                label = outcome.label,
                env = outcome.environment,
                url = outcome.url.as_deref().unwrap_or("(no URL yet)"),
                created = if outcome.version_created { "created" } else { "reused" },
                envstate = if outcome.environment_created {
                    "created"
                } else if outcome.environment_updated {
                    "updated"
                } else {
                    "unchanged (verified Ready, Green, healthy)"
                },
                total = total_ms as f64 / 1000.0,
                bundle = bundle_ms as f64 / 1000.0,
                tool = outcome.tool_time.as_secs_f64(),
                wait = outcome.wait_time.as_secs_f64(),
            )
        },
    );
    Ok(Exit::Success)
}

/// A `[secrets]` entry with the ARN Secrets Manager returned.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SecretArn {
    pub env_var: String,
    pub name: String,
    pub arn: String,
}

impl From<&deploykit_secrets::ResolvedSecret> for SecretArn {
    fn from(s: &deploykit_secrets::ResolvedSecret) -> Self {
        SecretArn {
            env_var: s.env_var.clone(),
            name: s.name.clone(),
            arn: s.arn.clone(),
        }
    }
}

/// What a deploy checked against AWS before planning: the caller, the secrets' real ARNs and
/// the IAM roles it needs.
pub struct Preflight {
    pub caller: CallerIdentity,
    pub secrets: Vec<SecretArn>,
    pub iam: Vec<RoleRef>,
}

impl Preflight {
    /// The plan's header lines.
    pub fn text(&self) -> String {
        let mut out = format!("Checked before planning:\n  {}", self.caller);
        for s in &self.secrets {
            out.push_str(&format!("\n  secret {} <- {}", s.env_var, s.arn));
        }
        for i in &self.iam {
            out.push_str(&format!("\n  {} {}: {}", i.field, i.name, i.arn));
        }
        out
    }
}

/// Before any change (dry run too): resolve `[secrets]` to their real ARNs into the EB input,
/// and check `[eb] service_role` and `instance_profile` exist. A local target's secrets must
/// exist by then as well (they are prepared before this is called).
async fn eb_preflight(ctx: &mut Ctx) -> Result<Preflight, CliError> {
    let resolved = crate::cmd_secrets::resolve_target_secrets(&ctx.target, &ctx.sdk).await?;
    ctx.eb_target.secrets = resolved
        .iter()
        .map(|s| (s.env_var.clone(), s.arn.clone()))
        .collect();
    let e = &ctx.target.eb;
    let mut wanted = Vec::new();
    if let Some(role) = &e.service_role {
        wanted.push(("[eb] service_role", IamKind::Role, role.clone()));
    }
    if let Some(p) = &e.instance_profile {
        wanted.push(("[eb] instance_profile", IamKind::InstanceProfile, p.clone()));
    }
    let iam = require_iam(&ctx.target, &ctx.sdk, &wanted).await?;
    Ok(Preflight {
        caller: ctx.caller.clone(),
        secrets: resolved.iter().map(SecretArn::from).collect(),
        iam,
    })
}

/// Builds the bundle into target/deploykit/bundles/ (from a git export with --git/--staged).
fn build_bundle(
    t: &ResolvedTarget,
    a: &DeployEbArgs,
    r: &Renderer,
) -> Result<
    (
        deploykit_bundle::BundleSummary,
        Option<crate::cmd_bundle::GitInfo>,
    ),
    CliError,
> {
    let out_dir = PathBuf::from("target/deploykit/bundles");
    std::fs::create_dir_all(&out_dir).map_err(|e| {
        CliError::new(
            Exit::Failure,
            format!("creating {}: {e}", out_dir.display()),
        )
    })?;
    let git = crate::cmd_bundle::GitInfo::probe(&t.app.path);
    let (export, source) =
        crate::cmd_bundle::source_tree(&t.app.path, git.as_ref(), a.git || a.staged, a.staged)?;
    let app_dir = export
        .as_ref()
        .map_or_else(|| t.app.path.clone(), |d| d.path().to_path_buf());
    let mut opts = deploykit_bundle::BundleOptions::new(app_dir, &out_dir);
    opts.label_prefix = t.app.name.clone();
    opts.allow = a.allow.clone();
    opts.fix_line_endings = a.fix_line_endings;
    opts.source = source;
    opts.git_sha = git.as_ref().map(|g| g.sha.clone());
    opts.git_dirty = git.as_ref().is_some_and(|g| g.dirty) && export.is_none();
    let summary = deploykit_bundle::build(&opts, r).map_err(|e| {
        let exit = if e.is_refusal() {
            Exit::Config
        } else {
            Exit::Failure
        };
        CliError::from_error(exit, &e)
    })?;
    Ok((summary, git))
}

async fn rollback_eb(a: RollbackEbArgs, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let mut ctx = context(global, r).await?;
    r.report(deploykit_report::Event::info(ctx.caller.to_string()));
    if let Some(t) = a.timeout {
        ctx.eb_target.timeouts.deploy = t;
        ctx.eb_target.timeouts.busy = t;
    }
    let s = ctx
        .eb
        .rollback(&ctx.eb_target, a.to.as_deref(), r)
        .await
        .map_err(|e| eb_err(&e))?;
    r.result(&s, || {
        format!(
            "Rolled {} back from {} to {} ({:.1}s); it is Ready and Green",
            s.environment,
            s.from,
            s.to,
            s.elapsed.as_secs_f64()
        )
    });
    Ok(Exit::Success)
}

async fn eb_cmd(cmd: EbCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    // Limits before anything else: not even the local cloud is started for a refused set.
    if let EbCommand::Env(EnvCommand::Set { pairs, .. }) = &cmd {
        let set: BTreeMap<String, String> = pairs.iter().cloned().collect();
        if let Err(problems) = deploykit_eb::check_env_limits(&set, &BTreeMap::new()) {
            return Err(eb_err(&EbError::EnvLimits { problems }));
        }
    }
    let ctx = context(global, r).await?;
    r.report(deploykit_report::Event::info(ctx.caller.to_string()));
    let t = &ctx.eb_target;
    match cmd {
        EbCommand::Status => {
            let s = ctx.eb.status(t).await.map_err(|e| eb_err(&e))?;
            r.result(&s, || {
                let e = &s.environment;
                let mut out = format!(
                    "{}: {} / {}{}\n  version {}\n  platform {}\n  url {}",
                    e.name,
                    e.status,
                    e.health,
                    e.health_status
                        .as_deref()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default(),
                    e.version_label.as_deref().unwrap_or("-"),
                    e.solution_stack.as_deref().unwrap_or("-"),
                    s.url.as_deref().unwrap_or("-"),
                );
                for c in &s.causes {
                    out.push_str(&format!("\n  cause: {c}"));
                }
                out
            });
            let healthy = s.environment.status == "Ready" && s.environment.health == "Green";
            Ok(if healthy {
                Exit::Success
            } else {
                Exit::CheckFailed
            })
        }
        EbCommand::Events(a) => {
            let evs = ctx
                .eb
                .events(t, None, a.max)
                .await
                .map_err(|e| eb_err(&e))?;
            let print = |evs: &[deploykit_eb::EventLine]| {
                for e in evs {
                    if r.is_json() {
                        r.result(e, String::new);
                    } else {
                        r.line(format!("{} {:<5} {}", e.time, e.severity, e.message));
                    }
                }
            };
            print(&evs);
            if a.follow {
                let mut since = SystemTime::now();
                let mut seen: std::collections::HashSet<(String, String)> = evs
                    .iter()
                    .map(|e| (e.time.clone(), e.message.clone()))
                    .collect();
                loop {
                    tokio::time::sleep(t.timeouts.poll.max(Duration::from_secs(1))).await;
                    let now = SystemTime::now();
                    let evs = ctx
                        .eb
                        .events(t, Some(since - Duration::from_secs(5)), 100)
                        .await
                        .map_err(|e| eb_err(&e))?;
                    let new: Vec<_> = evs
                        .into_iter()
                        .filter(|e| seen.insert((e.time.clone(), e.message.clone())))
                        .collect();
                    print(&new);
                    since = now;
                }
            }
            Ok(Exit::Success)
        }
        EbCommand::Versions => {
            let vs = ctx
                .eb
                .versions(&t.application)
                .await
                .map_err(|e| eb_err(&e))?;
            let deployed = ctx
                .eb
                .environment(t)
                .await
                .map_err(|e| eb_err(&e))?
                .and_then(|e| e.version_label);
            r.result(
                &serde_json::json!({"versions": vs, "deployed": deployed}),
                || {
                    vs.iter()
                        .map(|v| {
                            format!(
                                "{} {:<40} {}",
                                if Some(&v.label) == deployed.as_ref() {
                                    "*"
                                } else {
                                    " "
                                },
                                v.label,
                                v.description.as_deref().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
            Ok(Exit::Success)
        }
        EbCommand::Prune(a) => {
            let s = ctx
                .eb
                .prune(t, a.keep, a.dry_run, r)
                .await
                .map_err(|e| eb_err(&e))?;
            r.result(&s, || {
                format!(
                    "{} {} version(s), kept {} (deployed: {})",
                    if s.dry_run { "would delete" } else { "deleted" },
                    s.deleted.len(),
                    s.kept,
                    s.deployed.as_deref().unwrap_or("-")
                )
            });
            Ok(Exit::Success)
        }
        EbCommand::Env(EnvCommand::List) => {
            let env = ctx
                .eb
                .environment(t)
                .await
                .map_err(|e| eb_err(&e))?
                .ok_or_else(|| {
                    eb_err(&EbError::NoEnvironment {
                        application: t.application.clone(),
                        environment: t.environment.clone(),
                    })
                })?;
            let vars: BTreeMap<String, String> = env
                .env_vars()
                .into_iter()
                .map(|(k, v)| {
                    let shown = deploykit_eb::shown_value(&k, &v);
                    (k, shown)
                })
                .collect();
            let secrets = env.secrets();
            r.result(
                &serde_json::json!({"env": vars, "secrets": secrets}),
                || {
                    let mut lines: Vec<String> =
                        vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    lines.extend(secrets.iter().map(|(k, v)| format!("{k} <- {v} (secret)")));
                    lines.join("\n")
                },
            );
            Ok(Exit::Success)
        }
        EbCommand::Env(EnvCommand::Set {
            pairs,
            no_wait_busy,
        }) => {
            let set: BTreeMap<String, String> = pairs.into_iter().collect();
            let opts = DeployOptions {
                rollback: false,
                wait_busy: !no_wait_busy,
            };
            let s = ctx
                .eb
                .env_change(t, &set, &[], &opts, r)
                .await
                .map_err(|e| eb_err(&e))?;
            r.result(&s, || {
                if s.set.is_empty() {
                    "nothing to change".into()
                } else {
                    format!("set {} on {}", s.set.join(", "), s.environment)
                }
            });
            Ok(Exit::Success)
        }
        EbCommand::Env(EnvCommand::Unset { keys }) => {
            let s = ctx
                .eb
                .env_change(t, &BTreeMap::new(), &keys, &DeployOptions::default(), r)
                .await
                .map_err(|e| eb_err(&e))?;
            r.result(&s, || {
                if s.unset.is_empty() {
                    "nothing to remove".into()
                } else {
                    format!("removed {} from {}", s.unset.join(", "), s.environment)
                }
            });
            Ok(Exit::Success)
        }
    }
}
