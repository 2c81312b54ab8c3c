//! Monthly cost estimates of a project's targets (deploykit-cost's price table, shipped as data).

pub use deploykit_cost::{Comparison, Estimate, Route, render};

use crate::{Project, Result};

/// The estimate for `target` (`None`: deploy.toml's default) on `route`.
pub fn estimate(project: &Project, target: Option<&str>, route: Route) -> Result<Estimate> {
    Ok(deploykit_cost::estimate_target(
        &project.target(target)?,
        route,
    )?)
}

/// Two estimates side by side, line by line, with each line's difference.
pub fn compare(left: &Estimate, right: &Estimate) -> Comparison {
    deploykit_cost::compare(left, right)
}
