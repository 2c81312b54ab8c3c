//! Placeholder: replaced by the owner of this command.

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum DeployCommand {
    /// Not built yet.
    Eb,
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

pub fn run_deploy(_cmd: DeployCommand, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
pub fn run_rollback(_cmd: RollbackCommand, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
pub fn run_eb(_cmd: EbCommand, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
