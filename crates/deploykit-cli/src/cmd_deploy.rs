//! `cargo xtask deploy eb`, `rollback eb`, `eb status|events|versions|prune|env`: Route A.
//!
//! Maps deploy.toml to deploykit-eb's plain input, builds the bundle, prints the plan, applies
//! it and renders the outcome. No deploy logic lives here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use deploykit::eb::{self, EbDeployRequest, EbDeployed, EbPlanning, EbSession};
use deploykit_eb::{DeployOptions, EbError};
use deploykit_report::Reporter;
use secrecy::ExposeSecret;

use crate::interrupt::Interruptible;
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
    /// Break a deploy lock left by a deploy that no longer runs (warns; refused while it runs).
    #[arg(long)]
    pub force_unlock: bool,
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
    /// Break a deploy lock left by a deploy that no longer runs (warns; refused while it runs).
    #[arg(long)]
    pub force_unlock: bool,
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
        /// KEY=VALUE for plain settings; a KEY alone reads its value from stdin (or a hidden
        /// prompt), as a secret-looking value must be given: never in argv.
        #[arg(required = true, value_parser = parse_kv)]
        pairs: Vec<(String, Option<String>)>,
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

fn parse_kv(s: &str) -> Result<(String, Option<String>), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), Some(v.to_string()))),
        None if !s.is_empty() => Ok((s.to_string(), None)),
        _ => Err(format!(
            "expected KEY=VALUE (or KEY alone to read the value from stdin), got `{}`",
            s.split('=').next().unwrap_or(s)
        )),
    }
}

/// `eb env set`'s settings: literals that look secret are refused (argv is visible to every
/// process on the machine and lands in shell history); a KEY alone reads its value from stdin.
fn env_settings(
    pairs: Vec<(String, Option<String>)>,
) -> Result<BTreeMap<String, String>, CliError> {
    use deploykit::secretrules::{is_secret_name, scan_content, url_has_password};
    let from_stdin: Vec<&String> = pairs
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k)
        .collect();
    if from_stdin.len() > 1 {
        return Err(CliError::new(
            Exit::Config,
            format!(
                "only one KEY can read its value from stdin, got {}; nothing was changed",
                from_stdin
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_hint("run `cargo xtask eb env set KEY` once per secret-looking variable"));
    }
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        let value = match value {
            Some(v) => {
                if is_secret_name(&key)
                    || url_has_password(&v)
                    || !scan_content(v.as_bytes()).is_empty()
                {
                    return Err(CliError::new(
                        Exit::Config,
                        format!("`{key}` looks secret and its value was given on the command line; nothing was changed"),
                    )
                    .with_hint(format!(
                        "keep it in Secrets Manager (`cargo xtask secrets set NAME`, then reference it under [secrets] in deploy.toml), or pass `{key}` alone to read the value from stdin"
                    )));
                }
                v
            }
            None => crate::cmd_secrets::read_value(&key)?
                .expose_secret()
                .to_string(),
        };
        out.insert(key, value);
    }
    Ok(out)
}

pub fn run_deploy(cmd: DeployCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    match cmd {
        DeployCommand::Eb(args) => crate::runtime().block_on(crate::interrupt::run(
            deploy_eb(args, global, r),
            Interruptible::deploy("eb", global.target.as_deref()),
        )),
        DeployCommand::Apprunner(args) => crate::cmd_apprunner::deploy(args, global, r),
        DeployCommand::Ecs(args) => crate::cmd_ecs::deploy(args, global, r),
    }
}

pub fn run_rollback(cmd: RollbackCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    match cmd {
        RollbackCommand::Eb(a) => crate::runtime().block_on(crate::interrupt::run(
            rollback_eb(a, global, r),
            Interruptible::rollback("eb", global.target.as_deref()),
        )),
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

/// The EB session on `--target`.
async fn context(global: &GlobalArgs, r: &Renderer) -> Result<EbSession, CliError> {
    Ok(EbSession::new(crate::session::session(global, r).await?))
}

/// A library error, with `--force-unlock` named when the deploy lock's holder is gone.
pub(crate) fn lock_err(e: deploykit::Error, target: Option<&str>) -> CliError {
    let stale = matches!(&e, deploykit::Error::Locked { alive, .. } if *alive != Some(true))
        || matches!(&e, deploykit::Error::LockedRemote { .. });
    let err = crate::session::lib_err(e, target);
    if stale {
        err.add_hint("the command takes --force-unlock")
    } else {
        err
    }
}

/// An eb crate error for the user: the library's category and advice, plus the command.
pub(crate) fn eb_err(e: &EbError) -> CliError {
    let err = CliError::from_diagnostic(e);
    let command = match e {
        EbError::Busy { .. } | EbError::BusyTimeout { .. } => {
            Some("`cargo xtask eb events --follow` shows what it is doing")
        }
        EbError::Timeout { .. } => Some(
            "`cargo xtask eb status` shows where it stands; `cargo xtask rollback eb` goes back; deploys take --timeout",
        ),
        EbError::DeployFailed { .. } | EbError::Unhealthy { .. } => Some(
            "`cargo xtask eb events` shows why; `cargo xtask rollback eb --to LABEL` goes back to a version `cargo xtask eb versions` lists",
        ),
        EbError::NoEnvironment { .. } => Some("`cargo xtask deploy eb` creates it"),
        EbError::NoVersion { .. } | EbError::NoRollbackTarget { .. } => {
            Some("`cargo xtask eb versions` lists the versions; pass one with --to LABEL")
        }
        EbError::NoCertificate { .. } => Some(
            "`cargo xtask https ensure` requests the domain's certificate and waits until it is ISSUED",
        ),
        EbError::LogsTimeout { .. } => Some(
            "`cargo xtask eb status` shows the instances' health; `logs eb --tail --timeout 10m` waits longer",
        ),
        EbError::LoadBalancerConfig { .. }
        | EbError::LoadBalancerTypeFixed { .. }
        | EbError::LogDownload { .. } => None,
        EbError::EnvLimits { .. }
        | EbError::MissingForCreate { .. }
        | EbError::NoPlatform { .. }
        | EbError::Aws { .. }
        | EbError::S3(_) => None,
    };
    match command {
        Some(c) => err.add_hint(c),
        None => err,
    }
}

#[derive(Debug, serde::Serialize)]
struct PlannedResult<'a> {
    status: &'static str,
    #[serde(flatten)]
    preflight: &'a deploykit::preflight::Preflight,
    plan: &'a deploykit_eb::Plan,
    db_snapshot: &'a deploykit_rds::PreDeploySnapshot,
    bundle: &'a deploykit_bundle::BundleSummary,
    bundle_ms: u128,
}

#[derive(Debug, serde::Serialize)]
struct DeployedResult<'a> {
    status: &'static str,
    #[serde(flatten)]
    deployed: &'a EbDeployed,
}

async fn deploy_eb(a: DeployEbArgs, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let target = global.target.as_deref();
    let lib = |e| lock_err(e, target);
    let mut s = context(global, r).await?;
    if let Some(t) = a.timeout {
        s.set_timeout(t);
    }
    if let Some(p) = a.poll {
        s.set_poll(p);
    }
    let req = EbDeployRequest {
        no_rollback: a.no_rollback,
        no_wait_busy: a.no_wait_busy,
        from_git: a.git,
        staged: a.staged,
        allow: a.allow.clone(),
        fix_line_endings: a.fix_line_endings,
        dry_run: a.dry_run,
        force_unlock: a.force_unlock,
    };
    let planned = match eb::plan_deploy(&mut s, &req, r).await.map_err(lib)? {
        EbPlanning::NeedsLocalResources(pending) => {
            return crate::local_prepare::finish_dry_run(&pending, r);
        }
        EbPlanning::Planned(p) => *p,
    };
    r.line(format!(
        "{}\n{}\n{}",
        planned.preflight,
        planned.plan.to_string().trim_end(),
        planned.db.decision
    ));
    if a.dry_run {
        r.result(
            &PlannedResult {
                status: "planned",
                preflight: &planned.preflight,
                plan: &planned.plan,
                db_snapshot: &planned.db.decision,
                bundle: &planned.bundle,
                bundle_ms: planned.bundle_time.as_millis(),
            },
            || "dry run: nothing was changed".into(),
        );
        return Ok(Exit::Success);
    }
    let d = eb::apply_deploy(&s, planned, &req, r).await.map_err(lib)?;
    r.result(
        &DeployedResult {
            status: "deployed",
            deployed: &d,
        },
        || {
            let outcome = &d.outcome;
            let upload = match &outcome.upload {
                Some(u) if u.skipped => "upload skipped (same sha256 already in S3)".to_string(),
                Some(u) => format!("uploaded {} bytes", u.bytes_uploaded),
                None => "nothing uploaded (version exists)".to_string(),
            };
            let dns = match &d.dns {
                None => String::new(),
                Some(o) if o.change_id.is_none() => {
                    format!("\n  dns: {} unchanged in {}", o.plan.name, o.zone.name)
                }
                Some(o) => format!(
                    "\n  dns: {} {} in {} (change {})",
                    o.plan.name,
                    match &o.plan.target {
                        deploykit_dns::EnvTarget::Alias { dns_name, .. } => {
                            format!("-> alias {dns_name}")
                        }
                        deploykit_dns::EnvTarget::Cname { value } => format!("-> CNAME {value}"),
                    },
                    o.zone.name,
                    o.status
                ),
            };
            format!(
                "Deployed {label} to {env}: {url}\n  version {created}; {upload}\n  environment {envstate}{dns}\n  time: total {total:.2}s (bundle {bundle:.2}s, tool {tool:.2}s, waiting on Elastic Beanstalk {wait:.2}s)",
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
                total = d.total_time.as_secs_f64(),
                bundle = d.bundle_time.as_secs_f64(),
                tool = outcome.tool_time.as_secs_f64(),
                wait = outcome.wait_time.as_secs_f64(),
            )
        },
    );
    Ok(Exit::Success)
}

async fn rollback_eb(a: RollbackEbArgs, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let mut ctx = context(global, r).await?;
    let lib = |e| lock_err(e, global.target.as_deref());
    let caller = ctx.session.caller().await.map_err(lib)?;
    r.report(deploykit_report::Event::info(caller.to_string()));
    if let Some(t) = a.timeout {
        ctx.set_timeout(t);
    }
    // Never roll back under a running deploy: the rollback takes the deploy's lock.
    let env = &ctx.target.environment;
    let _lock = deploykit::lock::acquire(
        &ctx.session.root,
        &ctx.session.target.name,
        env,
        &format!("rollback eb {env}"),
        a.force_unlock,
        r,
    )
    .map_err(lib)?;
    // An interrupted deploy's record: its previous version and the settings it changed.
    let (root, tname) = (&ctx.session.root, &ctx.session.target.name);
    let resume = match deploykit::journal::read(root, tname, env) {
        Ok(Some(entry)) if entry.route == "eb" => entry.resume(),
        Ok(_) => None,
        Err(e) => {
            r.report(deploykit_report::Event::warn(e.to_string()));
            None
        }
    };
    if let Some((_, unknown)) = &resume
        && !unknown.is_empty()
    {
        r.report(deploykit_report::Event::warn(format!(
            "the interrupted deploy also changed {} (secret-looking, so their old values were not kept on disk): they stay as they are; set them with `cargo xtask eb env set KEY` if needed",
            unknown.join(", ")
        )));
    }
    let t = &ctx.target.timeouts;
    let held = deploykit::remote_lock::acquire_eb(
        &ctx.eb,
        &ctx.target,
        tname,
        &format!("rollback eb {env}"),
        deploykit::remote_lock::ttl_for(t.busy + t.deploy),
        a.force_unlock,
        r,
    )
    .await
    .map_err(lib)?;
    let rolled = ctx
        .eb
        .rollback(
            &ctx.target,
            a.to.as_deref(),
            resume.as_ref().map(|(r, _)| r),
            r,
        )
        .await;
    deploykit::remote_lock::release_eb(&ctx.eb, &ctx.target, &held, r).await;
    let s = rolled.map_err(|e| eb_err(&e))?;
    crate::interrupt::settled(&ctx.session.root, &ctx.session.target.name, env, r);
    r.result(&s, || {
        format!(
            "Rolled {} back from {} to {} ({}; {:.1}s); it is Ready and Green",
            s.environment,
            s.from,
            s.to,
            s.restored,
            s.elapsed.as_secs_f64()
        )
    });
    Ok(Exit::Success)
}

async fn eb_cmd(cmd: EbCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    // Limits before anything else: not even the local cloud is started for a refused set.
    let mut settings = None;
    if let EbCommand::Env(EnvCommand::Set { pairs, .. }) = &cmd {
        let set = env_settings(pairs.clone())?;
        if let Err(problems) = deploykit_eb::check_env_limits(&set, &BTreeMap::new()) {
            return Err(eb_err(&EbError::EnvLimits { problems }));
        }
        settings = Some(set);
    }
    let ctx = context(global, r).await?;
    let caller = ctx
        .session
        .caller()
        .await
        .map_err(|e| crate::session::lib_err(e, global.target.as_deref()))?;
    r.report(deploykit_report::Event::info(caller.to_string()));
    let t = &ctx.target;
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
        EbCommand::Env(EnvCommand::Set { no_wait_busy, .. }) => {
            let set = settings.unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::lock_err;
    use crate::Exit;

    fn locked(alive: Option<bool>) -> deploykit::Error {
        deploykit::Error::Locked {
            target: "dev".into(),
            name: "app-dev".into(),
            holder: Some(Box::new(deploykit::lock::Owner {
                user: "ana".into(),
                host: "laptop".into(),
                pid: 4242,
                started_at: "2026-12-02T01:00:00Z".into(),
                command: "deploy eb app-dev".into(),
            })),
            alive,
            path: "target/deploykit/locks/dev-app-dev.lock".into(),
        }
    }

    #[test]
    fn a_held_deploy_lock_exits_7_naming_the_holder_and_force_unlock_only_when_it_is_gone() {
        let running = lock_err(locked(Some(true)), Some("dev"));
        assert_eq!(running.exit, Exit::CheckFailed);
        assert!(
            running
                .message
                .contains("ana@laptop (pid 4242, since 2026-12-02T01:00:00Z"),
            "{}",
            running.message
        );
        let hint = running.hint.unwrap_or_default();
        assert!(
            hint.contains("stop process 4242") && !hint.contains("--force-unlock"),
            "{hint}"
        );
        for alive in [Some(false), None] {
            let gone = lock_err(locked(alive), Some("dev"));
            assert_eq!(gone.exit, Exit::CheckFailed);
            let hint = gone.hint.unwrap_or_default();
            assert!(hint.contains("--force-unlock"), "{hint}");
        }
    }
}
