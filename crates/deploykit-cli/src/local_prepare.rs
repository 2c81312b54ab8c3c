//! The local target only: what a fresh clone's first deploy makes first (the library's
//! `deploykit::prepare`), and how a dry run that needs them ends.

use deploykit::prepare::Pending;
use deploykit_config::ResolvedTarget;
use deploykit_report::Reporter;

use crate::cmd_iam::Route;
use crate::{CliError, CliResult, Exit, render::Renderer};

/// Makes what the local target lacks; a dry run only says what it would make.
pub async fn prepare(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
    route: Route,
    dry_run: bool,
    r: &dyn Reporter,
) -> Result<Pending, CliError> {
    deploykit::prepare::prepare_local(t, sdk, route.into(), dry_run, r)
        .await
        .map_err(|e| crate::session::lib_err(e, Some(&t.name)))
}

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
