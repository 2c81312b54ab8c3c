//! Placeholder: replaced by the owner of this command.

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Not built yet.
    Todo,
}

pub fn run(_cmd: BenchCommand, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
