//! Placeholder: replaced by the owner of this command.

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum LocalCommand {
    /// Not built yet.
    Todo,
}

pub fn run(_cmd: LocalCommand, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
