//! Placeholder: replaced by the owner of this command (Route B, App Runner).

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum AppRunnerCommand {
    /// Not built yet.
    Status,
}

/// Arguments of `cargo xtask deploy apprunner`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {}

pub fn run(_cmd: AppRunnerCommand, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}

pub fn deploy(_args: DeployArgs, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
