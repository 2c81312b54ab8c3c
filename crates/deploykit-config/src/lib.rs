//! deploy.toml schema, loading and validation with `file:line:column` diagnostics.
//!
//! ```no_run
//! let config = deploykit_config::load(std::path::Path::new("deploy.toml"))?;
//! let target = config.target(None)?; // default_target, else `local`
//! assert!(target.eb.environment.len() >= 4);
//! # Ok::<(), deploykit_config::ConfigError>(())
//! ```
//!
//! Loading validates everything before anything else runs: unknown keys at any depth, value
//! types, AWS naming rules, EB environment variable limits, secret-looking literals, for every
//! target (each target's overrides merged field by field over the top-level sections). All
//! problems are collected and reported together, each with its location, field path and fix.

mod diagnostic;
mod doc;
mod error;
mod model;
mod raw;
mod resolve;
pub mod rules;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

pub use error::{ConfigError, Problem};
pub use model::{
    AlarmRoute, Alarms, App, AppRunner, Config, ContainerPlatformKind, Database, DeploymentPolicy,
    Eb, Ecs, HostedZone, Https, ResolvedTarget, S3, S3Cors, SecretRef, TagMutability, VpcConnector,
};
pub use resolve::{
    EB_ENV_KEY_MAX, EB_ENV_TOTAL_MAX, EB_ENV_VALUE_MAX, check_eb_env_limits, secret_arn_len_bound,
};

/// The target used when neither `--target` nor `default_target` names one.
pub const FALLBACK_TARGET: &str = "local";

/// Reads and validates a deploy.toml.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Validates deploy.toml text; `path` is used for messages and to resolve `app.path`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let invalid = |problems| ConfigError::Invalid {
        path: path.to_path_buf(),
        problems,
    };

    let (mut root, syntax) = toml::de::DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let index = doc::Index::empty(text);
        let problems = syntax.iter().map(|e| schema_problem(e, &index)).collect();
        return Err(invalid(problems));
    }

    // Deserialize; on a schema error, record it, drop the offending entry and go again, so
    // that one run reports every unknown key and mistyped value.
    let mut problems = Vec::new();
    let index = doc::Index::new(text, root.get_ref());
    let mut raw = None;
    for _ in 0..200 {
        match raw::RawConfig::deserialize(toml::de::Deserializer::from(root.clone())) {
            Ok(r) => {
                raw = Some(r);
                break;
            }
            Err(e) => {
                problems.push(schema_problem(&e, &index));
                let entry = e.span().and_then(|s| index.entry_at(&s).cloned());
                match entry {
                    Some(entry) if doc::remove(&mut root, &entry.path) => {}
                    _ => break,
                }
            }
        }
    }

    let base_dir = path.parent().unwrap_or(Path::new(""));
    let mut ctx = resolve::Ctx::new(&index);
    let resolved = raw.map(|raw| resolve::resolve(&raw, base_dir, &mut ctx));
    problems.extend(ctx.problems);
    dedup(&mut problems);
    match resolved {
        Some((default_target, targets)) if problems.is_empty() => {
            let mut warnings = ctx.warnings;
            dedup(&mut warnings);
            Ok(Config {
                path: path.to_path_buf(),
                default_target,
                targets,
                warnings,
            })
        }
        _ => Err(invalid(problems)),
    }
}

fn dedup(problems: &mut Vec<Problem>) {
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert((p.line, p.column, p.field.clone(), p.message.clone())));
    problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column.unwrap_or(0)));
}

/// Turns a toml/serde error into a located problem with a fix.
fn schema_problem(e: &toml::de::Error, index: &doc::Index<'_>) -> Problem {
    let msg = e.message().trim().to_owned();
    let span = e.span();
    let (line, column) = match &span {
        Some(s) => {
            let (l, c) = index.line_col(s.start);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    let field = span
        .as_ref()
        .and_then(|s| index.entry_at(s))
        .map(|e| e.dotted())
        .unwrap_or_default();
    let (message, fix) = explain(&msg, &field);
    Problem {
        line,
        column,
        field,
        message,
        fix,
    }
}

/// Message and fix for the serde/toml error shapes we produce.
fn explain(msg: &str, field: &str) -> (String, String) {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed = backticked(expected);
        let list = allowed
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let suggestion = rules::suggest(name, allowed.iter().map(String::as_str));
        let fix = match (suggestion, allowed.is_empty()) {
            (Some(s), _) => format!("did you mean `{s}`? (allowed here: {list})"),
            (None, false) => format!("remove or rename it; allowed here: {list}"),
            (None, true) => "remove it; this table takes no keys".to_owned(),
        };
        let message = format!("unknown field `{name}`, expected one of {list}");
        return (message, fix);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let fix = if name == "secret" {
            "write it as `KEY = { secret = \"name-or-arn\" }`".to_owned()
        } else {
            format!("add `{name} = ...`")
        };
        return (msg.to_owned(), fix);
    }
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        let expected = msg.rsplit("expected ").next().unwrap_or("");
        let fix = if expected.contains("string") {
            if field.starts_with("env.") || field.contains(".env.") {
                "environment values are strings: quote it, e.g. `PORT = \"8080\"`".to_owned()
            } else {
                "write a quoted string".to_owned()
            }
        } else if expected.contains("bool") {
            "write `true` or `false` (no quotes)".to_owned()
        } else if expected.starts_with('u') || expected.contains("integer") {
            format!(
                "write a whole number without quotes{}",
                match expected {
                    "u16" => " from 1 to 65535",
                    "u32" => " (0 or more)",
                    _ => "",
                }
            )
        } else if expected.contains("struct") || expected.contains("map") {
            "write a table, e.g. `[section]` with `key = value` lines".to_owned()
        } else if expected.contains("sequence") {
            "write an array, e.g. `[\"a\", \"b\"]`".to_owned()
        } else {
            format!("write a value of the expected type ({expected})")
        };
        return (msg.to_owned(), fix);
    }
    (
        msg.to_owned(),
        "fix the TOML syntax at this position".to_owned(),
    )
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

impl Config {
    /// The named target, or the default (`default_target`, else `local`).
    pub fn target(&self, name: Option<&str>) -> Result<ResolvedTarget, ConfigError> {
        let name = name.unwrap_or(&self.default_target);
        self.targets.get(name).cloned().ok_or_else(|| {
            let available: Vec<String> = self.targets.keys().cloned().collect();
            ConfigError::UnknownTarget {
                path: self.path.clone(),
                name: name.to_owned(),
                suggestion: rules::suggest(name, available.iter().map(String::as_str))
                    .map(str::to_owned),
                available,
            }
        })
    }

    /// Target names in file order-independent (sorted) order.
    pub fn target_names(&self) -> Vec<&str> {
        self.targets.keys().map(String::as_str).collect()
    }
}

/// The longest `key=value` length each environment variable of a target can have as EB
/// receives it: plain values as written, each secret reference as its longest ARN (see
/// [`secret_arn_len_bound`]). Used for the 4,096-byte check.
pub fn eb_env_len_bounds(t: &ResolvedTarget) -> BTreeMap<String, usize> {
    let mut all: BTreeMap<String, usize> = t
        .env
        .iter()
        .map(|(k, v)| (k.clone(), k.len() + 1 + v.len()))
        .collect();
    for (k, s) in &t.secrets {
        all.insert(
            k.clone(),
            k.len() + 1 + resolve::secret_arn_len_bound(&s.secret, &t.region),
        );
    }
    all
}
