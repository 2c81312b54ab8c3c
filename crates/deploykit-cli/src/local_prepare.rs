//! The local target only: what a fresh clone's first deploy makes first (the library's
//! `deploykit::prepare`), and how a dry run that needs them ends.

use crate::{CliResult, Exit, render::Renderer};
use deploykit::prepare::Pending;

/// Ends a dry run whose plan needs what is not there yet: says what a real run makes first.
pub fn finish_dry_run(pending: &Pending, r: &Renderer) -> CliResult {
    let text = format!(
        "dry run on the local target: a real run first makes\n{}\nthen plans and deploys with them (the rest of the plan needs their ARNs); nothing was changed",
        pending
            .would_create
            .iter()
            .map(|l| format!("  + {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    r.result(
        &serde_json::json!({ "status": "dry_run", "local_prepare": pending }),
        || text.clone(),
    );
    Ok(Exit::Success)
}
