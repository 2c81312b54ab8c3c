//! The deploykit command line: `deploykit <command>` (and `cargo xtask <command>` in this
//! repository, which delegates here).
//!
//! Thin by rule: each subcommand maps its arguments to library calls and renders what the
//! libraries report. clap types, command names and exit codes live here and nowhere else.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cmd_alarms;
mod cmd_apprunner;
mod cmd_bundle;
mod cmd_check;
mod cmd_cost;
mod cmd_db;
mod cmd_deploy;
mod cmd_dns;
mod cmd_ecs;
mod cmd_https;
mod cmd_iam;
mod cmd_init;
pub mod cmd_local;
mod cmd_logs;
mod cmd_s3;
mod cmd_secrets;
mod exit;
mod interrupt;
mod local_prepare;
pub mod render;
mod session;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{Parser, Subcommand};

pub use cmd_db::{APP_VENV_ENV, app_venv};
pub use exit::{CliError, CliResult, Exit};

/// deploykit: take a Flask + Postgres app to AWS (or to the local cloud).
#[derive(Debug, Parser)]
#[command(
    name = "deploykit",
    version,
    about = "deploykit: take a Flask + Postgres app to AWS (or to the local cloud)",
    long_about = None
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Path to deploy.toml; its directory is the project (the app, `target/` state and venvs).
    #[arg(
        long,
        global = true,
        default_value = "deploy.toml",
        env = "DEPLOYKIT_CONFIG"
    )]
    pub config: PathBuf,
    /// Target from deploy.toml (local, dev, prod). Defaults to deploy.toml's `default_target`.
    #[arg(long, short = 't', global = true, env = "DEPLOYKIT_TARGET")]
    pub target: Option<String>,
    /// How to print progress and the result.
    #[arg(long, global = true, value_enum, default_value_t = render::OutputFormat::Auto)]
    pub output: render::OutputFormat,
}

/// The product's commands (everything but this repository's own chores).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build artifacts without deploying them (Elastic Beanstalk source bundles).
    #[command(subcommand)]
    Bundle(cmd_bundle::BundleCommand),
    /// Deploy the app (Route A: eb, Route B: apprunner or ecs).
    #[command(subcommand)]
    Deploy(cmd_deploy::DeployCommand),
    /// Roll an environment back to an earlier version.
    #[command(subcommand)]
    Rollback(cmd_deploy::RollbackCommand),
    /// Elastic Beanstalk operations: status, events, versions, prune, env vars.
    #[command(subcommand)]
    Eb(cmd_deploy::EbCommand),
    /// App Runner operations: status, logs, custom domains.
    #[command(subcommand)]
    Apprunner(cmd_apprunner::AppRunnerCommand),
    /// ECS Express Mode operations: status, logs.
    #[command(subcommand)]
    Ecs(cmd_ecs::EcsCommand),
    /// Database operations: create, status, snapshots, restore checks, URLs, migrations.
    #[command(subcommand)]
    Db(cmd_db::DbCommand),
    /// Secrets Manager: set a secret (value from stdin or a prompt), list the app's [secrets].
    #[command(subcommand)]
    Secrets(cmd_secrets::SecretsCommand),
    /// IAM: the roles each route needs (ensure, status, policy; --deployer for your own).
    #[command(subcommand)]
    Iam(cmd_iam::IamCommand),
    /// The local cloud: moto, localcloud, a registry and PostgreSQL on loopback.
    #[command(subcommand)]
    Local(cmd_local::LocalCommand),
    /// The app's S3 bucket: ensure (public access blocked, encrypted, TLS only), status (drift).
    #[command(subcommand)]
    S3(cmd_s3::S3Command),
    /// The app's static files in its bucket: sync.
    #[command(subcommand)]
    Static(cmd_s3::StaticCommand),
    /// Route 53: the public hosted zone for a domain (ensure, status) and its name servers.
    #[command(subcommand)]
    Dns(cmd_dns::DnsCommand),
    /// The ACM certificate for `[https] domain`: ensure (request or reuse, DNS validation,
    /// wait for ISSUED), status.
    #[command(subcommand)]
    Https(cmd_https::HttpsCommand),
    /// CloudWatch alarms (CPU, 5xx, health, latency, RDS) and their SNS topic: ensure, status.
    #[command(subcommand)]
    Alarms(cmd_alarms::AlarmsCommand),
    /// The app's CloudWatch log lines (eb | apprunner | ecs), interleaved by time; --follow.
    Logs(cmd_logs::LogsArgs),
    /// Monthly cost estimate of a target, line by line (or two side by side).
    Cost(cmd_cost::CostArgs),
    /// Write deploykit's files into another Flask app (deploy.toml, hooks, Dockerfile, workflow).
    Init(cmd_init::InitArgs),
    /// The seed's "Am I done?" checklist against the target's live state (exit 7 if any fails).
    Check(cmd_check::CheckArgs),
}

static PROJECT_ROOT: OnceLock<PathBuf> = OnceLock::new();

/// The project this run works on: the directory holding `--config` (deploy.toml), else the
/// current directory. The local cloud's state, the venvs and caches live under its `target/`.
pub fn project_root() -> PathBuf {
    PROJECT_ROOT
        .get()
        .cloned()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
}

/// Fixes [`project_root`] for this process from the `--config` path (first call wins).
pub fn set_project_root(config: &Path) {
    let dir = std::fs::canonicalize(config)
        .ok()
        .and_then(|c| c.parent().map(Path::to_path_buf))
        .or_else(|| std::env::current_dir().ok());
    if let Some(dir) = dir {
        let _ = PROJECT_ROOT.set(dir);
    }
}

/// Runs one product command; the caller renders the returned error.
pub fn run(command: Command, global: &GlobalArgs, renderer: &render::Renderer) -> CliResult {
    set_project_root(&global.config);
    match command {
        Command::Bundle(c) => cmd_bundle::run(c, global, renderer),
        Command::Deploy(c) => cmd_deploy::run_deploy(c, global, renderer),
        Command::Rollback(c) => cmd_deploy::run_rollback(c, global, renderer),
        Command::Eb(c) => cmd_deploy::run_eb(c, global, renderer),
        Command::Apprunner(c) => cmd_apprunner::run(c, global, renderer),
        Command::Ecs(c) => cmd_ecs::run(c, global, renderer),
        Command::Db(c) => cmd_db::run(c, global, renderer),
        Command::Secrets(c) => cmd_secrets::run(c, global, renderer),
        Command::Iam(c) => cmd_iam::run(c, global, renderer),
        Command::Local(c) => cmd_local::run(c, global, renderer),
        Command::S3(c) => cmd_s3::run(c, global, renderer),
        Command::Static(c) => cmd_s3::run_static(c, global, renderer),
        Command::Dns(c) => cmd_dns::run(c, global, renderer),
        Command::Https(c) => cmd_https::run(c, global, renderer),
        Command::Alarms(c) => cmd_alarms::run(c, global, renderer),
        Command::Logs(a) => cmd_logs::run(a, global, renderer),
        Command::Cost(a) => cmd_cost::run(a, global, renderer),
        Command::Init(a) => cmd_init::run(a, global, renderer),
        Command::Check(a) => cmd_check::run(a, global, renderer),
    }
}

/// Renders a command's outcome and turns it into the process's exit code.
pub fn finish(result: CliResult, renderer: &render::Renderer) -> ExitCode {
    renderer.finish();
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            renderer.error(&err);
            err.exit.into()
        }
    }
}

/// The `deploykit` binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let renderer = render::Renderer::for_program(cli.global.output, "deploykit");
    let result = run(cli.command, &cli.global, &renderer);
    finish(result, &renderer)
}

/// A tokio runtime for subcommands that call async library code.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}
