//! `cargo xtask`: the deploykit command line.
//!
//! Thin by rule: each subcommand maps its arguments to library configuration and calls the
//! crates. clap types live here and nowhere else; no deploy logic lives here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cmd_apprunner;
mod cmd_bench;
mod cmd_bundle;
mod cmd_db;
mod cmd_deploy;
mod cmd_ecs;
mod cmd_iam;
mod cmd_local;
mod cmd_secrets;
mod cmd_test;
mod exit;
mod local_prepare;
mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use exit::{CliError, CliResult, Exit};

/// deploykit: take a Flask + Postgres app to AWS (or to the local cloud).
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Path to deploy.toml.
    #[arg(
        long,
        global = true,
        default_value = "deploy.toml",
        env = "DEPLOYKIT_CONFIG"
    )]
    pub config: std::path::PathBuf,
    /// Target from deploy.toml (local, dev, prod). Defaults to deploy.toml's `default_target`.
    #[arg(long, short = 't', global = true, env = "DEPLOYKIT_TARGET")]
    pub target: Option<String>,
    /// How to print progress and the result.
    #[arg(long, global = true, value_enum, default_value_t = render::OutputFormat::Auto)]
    pub output: render::OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build artifacts without deploying them (Elastic Beanstalk source bundles).
    #[command(subcommand)]
    Bundle(cmd_bundle::BundleCommand),
    /// Deploy the app (Route A: eb, Route B: apprunner).
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
    /// Benchmarks that print ratios against peers measured in the same run.
    #[command(subcommand)]
    Bench(cmd_bench::BenchCommand),
    /// Run every test: local cloud up, workspace tests, the example app's tests, local cloud down.
    Test(cmd_test::TestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let renderer = render::Renderer::new(cli.global.output);
    let result = match cli.command {
        Command::Bundle(c) => cmd_bundle::run(c, &cli.global, &renderer),
        Command::Deploy(c) => cmd_deploy::run_deploy(c, &cli.global, &renderer),
        Command::Rollback(c) => cmd_deploy::run_rollback(c, &cli.global, &renderer),
        Command::Eb(c) => cmd_deploy::run_eb(c, &cli.global, &renderer),
        Command::Apprunner(c) => cmd_apprunner::run(c, &cli.global, &renderer),
        Command::Ecs(c) => cmd_ecs::run(c, &cli.global, &renderer),
        Command::Db(c) => cmd_db::run(c, &cli.global, &renderer),
        Command::Secrets(c) => cmd_secrets::run(c, &cli.global, &renderer),
        Command::Iam(c) => cmd_iam::run(c, &cli.global, &renderer),
        Command::Local(c) => cmd_local::run(c, &cli.global, &renderer),
        Command::Bench(c) => cmd_bench::run(c, &cli.global, &renderer),
        Command::Test(a) => cmd_test::run(a, &cli.global, &renderer),
    };
    renderer.finish();
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            renderer.error(&err);
            err.exit.into()
        }
    }
}

/// A tokio runtime for subcommands that call async library code.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}
