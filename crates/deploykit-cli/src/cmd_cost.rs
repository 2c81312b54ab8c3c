//! `cargo xtask cost`: the monthly estimate of a target, or two side by side.

use std::path::PathBuf;

use deploykit::cost::{self, Route, render};

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Args)]
pub struct CostArgs {
    /// Which route to price: Elastic Beanstalk, or the containers (App Runner / ECS Express).
    #[arg(long, value_enum, default_value_t = RouteArg::Eb)]
    pub route: RouteArg,
    /// Two targets side by side, e.g. `dev,prod`.
    #[arg(long, value_delimiter = ',', conflicts_with = "compare")]
    pub targets: Vec<String>,
    /// Another deploy.toml: what changing to it would cost (same target name).
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RouteArg {
    Eb,
    Containers,
}

pub fn run(a: CostArgs, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let route = match a.route {
        RouteArg::Eb => Route::Eb,
        RouteArg::Containers => Route::Containers,
    };
    let project = crate::session::project(global)?;
    let lib = |e| crate::session::lib_err(e, global.target.as_deref());
    if !a.targets.is_empty() && a.targets.len() != 2 {
        return Err(crate::CliError::new(
            Exit::Config,
            format!("--targets takes two targets, got {}", a.targets.len()),
        )
        .with_hint("e.g. `cargo xtask cost --targets dev,prod`"));
    }
    let comparison = if let [left, right] = a.targets.as_slice() {
        let l = cost::estimate(&project, Some(left), route).map_err(lib)?;
        let rt = cost::estimate(&project, Some(right), route).map_err(lib)?;
        Some(cost::compare(&l, &rt))
    } else if let Some(path) = &a.compare {
        let other = deploykit::Project::load(path).map_err(lib)?;
        let target = global.target.as_deref();
        let l = cost::estimate(&project, target, route).map_err(lib)?;
        let rt = cost::estimate(&other, target, route).map_err(lib)?;
        Some(cost::compare(&l, &rt))
    } else {
        None
    };
    match comparison {
        Some(c) => r.result(&c, || render::comparison_text(&c)),
        None => {
            let e = cost::estimate(&project, global.target.as_deref(), route).map_err(lib)?;
            r.result(&e, || render::estimate_text(&e));
        }
    }
    Ok(Exit::Success)
}
