//! Placeholder: replaced by the owner of this command (Route A, Elastic Beanstalk).

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum DeployCommand {
    /// Route A: Elastic Beanstalk (not built yet).
    Eb,
    /// Route B: App Runner (build, push, deploy).
    Apprunner(crate::cmd_apprunner::DeployArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum RollbackCommand {
    /// Not built yet.
    Eb,
}

#[derive(Debug, clap::Subcommand)]
pub enum EbCommand {
    /// Not built yet.
    Status,
}

pub fn run_deploy(cmd: DeployCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    match cmd {
        DeployCommand::Eb => Ok(Exit::Failure),
        DeployCommand::Apprunner(args) => crate::cmd_apprunner::deploy(args, global, r),
    }
}
pub fn run_rollback(_cmd: RollbackCommand, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
pub fn run_eb(_cmd: EbCommand, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
