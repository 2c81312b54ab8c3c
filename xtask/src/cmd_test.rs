//! Placeholder: replaced by the owner of this command.

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Args)]
pub struct TestArgs {}

pub fn run(_args: TestArgs, _global: &GlobalArgs, _r: &Renderer) -> CliResult {
    Ok(Exit::Failure)
}
