//! Defaults, overrides and every rule that needs more than a type: names, ranges, combinations.

mod alarms;
mod app;
mod containers;
mod database;
mod eb;
mod env;
mod fields;
mod https;
#[path = "s3.rs"]
pub(crate) mod s3;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde_spanned::Spanned;

use crate::doc::Index;
use crate::model::*;
use crate::raw::*;
use crate::{Problem, rules};
use app::{resolve_app, resolve_target};

pub use env::{check_eb_env_limits, secret_arn_len_bound};

/// EB: longest environment variable key.
pub const EB_ENV_KEY_MAX: usize = 128;
/// EB: longest environment variable value.
pub const EB_ENV_VALUE_MAX: usize = 256;
/// EB: all `key=value` pairs together.
pub const EB_ENV_TOTAL_MAX: usize = 4096;

const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

const CPU_MEMORY: &[(&str, &[&str])] = &[
    ("0.25 vCPU", &["0.5 GB", "1 GB"]),
    ("0.5 vCPU", &["1 GB"]),
    ("1 vCPU", &["2 GB", "3 GB", "4 GB"]),
    ("2 vCPU", &["4 GB", "6 GB"]),
    ("4 vCPU", &["8 GB", "10 GB", "12 GB"]),
];

const DEPLOYMENT_POLICIES: &[(&str, DeploymentPolicy)] = &[
    ("AllAtOnce", DeploymentPolicy::AllAtOnce),
    ("Rolling", DeploymentPolicy::Rolling),
    (
        "RollingWithAdditionalBatch",
        DeploymentPolicy::RollingWithAdditionalBatch,
    ),
    ("Immutable", DeploymentPolicy::Immutable),
    ("TrafficSplitting", DeploymentPolicy::TrafficSplitting),
];

/// Collects problems and warnings with their locations.
pub(crate) struct Ctx<'a> {
    index: &'a Index<'a>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl<'a> Ctx<'a> {
    pub fn new(index: &'a Index<'a>) -> Self {
        Ctx {
            index,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn make(
        &self,
        span: Option<Range<usize>>,
        field: &str,
        message: String,
        fix: String,
    ) -> Problem {
        let (line, column, field) = match &span {
            Some(s) => {
                let (l, c) = self.index.line_col(s.start);
                let path = self.index.entry_at(s).map(|e| e.dotted());
                (Some(l), Some(c), path.unwrap_or_else(|| field.to_owned()))
            }
            None => (None, None, field.to_owned()),
        };
        Problem {
            line,
            column,
            field,
            message,
            fix,
        }
    }

    fn err(
        &mut self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let p = self.make(span, field, message.into(), fix.into());
        self.problems.push(p);
    }

    fn warn(
        &mut self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let p = self.make(span, field, message.into(), fix.into());
        self.warnings.push(p);
    }
}

fn val<T: Clone>(o: &Opt<T>) -> Option<T> {
    o.as_ref().map(|s| s.get_ref().clone())
}

fn span<T>(o: &Opt<T>) -> Option<Range<usize>> {
    o.as_ref().map(Spanned::span)
}

/// Resolves every target; returns the default target name and the resolved targets.
pub(crate) fn resolve(
    raw: &RawConfig,
    base_dir: &Path,
    ctx: &mut Ctx<'_>,
) -> (String, BTreeMap<String, ResolvedTarget>) {
    let app = resolve_app(raw.app.as_ref(), base_dir, ctx);

    if raw.targets.is_empty() {
        ctx.err(
            None,
            "targets",
            "no targets are defined",
            "add at least `[targets.local]` with `region = \"us-east-1\"` and `local = true`",
        );
    }
    let names: Vec<&str> = raw.targets.keys().map(String::as_str).collect();
    let default_target =
        val(&raw.default_target).unwrap_or_else(|| crate::FALLBACK_TARGET.to_owned());
    if !raw.targets.is_empty() && !raw.targets.contains_key(&default_target) {
        let fix = match rules::suggest(&default_target, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if raw.default_target.is_none() => {
                format!("set `default_target` to one of {}", quote_list(&names))
            }
            None => format!(
                "use one of {} or add [targets.{default_target}]",
                quote_list(&names)
            ),
        };
        ctx.err(
            span(&raw.default_target),
            "default_target",
            format!("default target `{default_target}` is not defined under [targets]"),
            fix,
        );
    }

    let mut out = BTreeMap::new();
    for (name, t) in &raw.targets {
        if let Some(r) = resolve_target(name, t, raw, &app, base_dir, ctx) {
            out.insert(name.clone(), r);
        }
    }
    (default_target, out)
}

fn quote_list(v: &[&str]) -> String {
    v.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
