//! `cargo xtask`: this repository's driver.
//!
//! The product's commands (`deploy`, `db`, `local`, ...) are deploykit-cli's, the same as the
//! installed `deploykit` binary; xtask adds only the repository's own chores: `test` (the
//! README's test command) and `bench`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cmd_bench;
mod cmd_test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use deploykit_cli::render::Renderer;
pub use deploykit_cli::{CliError, CliResult, Exit, GlobalArgs, runtime};

/// deploykit: take a Flask + Postgres app to AWS (or to the local cloud).
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "deploykit: take a Flask + Postgres app to AWS (or to the local cloud)",
    long_about = None
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Product(deploykit_cli::Command),
    /// Benchmarks that print ratios against peers measured in the same run.
    #[command(subcommand)]
    Bench(cmd_bench::BenchCommand),
    /// Run every test: local cloud up, workspace tests, the example app's tests, local cloud down.
    Test(cmd_test::TestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let renderer = Renderer::for_program(cli.global.output, "cargo xtask");
    deploykit_cli::set_project_root(&cli.global.config);
    let result = match cli.command {
        Command::Product(c) => deploykit_cli::run(c, &cli.global, &renderer),
        Command::Bench(c) => cmd_bench::run(c, &cli.global, &renderer),
        Command::Test(a) => cmd_test::run(a, &cli.global, &renderer),
    };
    deploykit_cli::finish(result, &renderer)
}
