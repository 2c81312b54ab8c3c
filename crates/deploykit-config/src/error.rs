//! The crate's error type and the [`Problem`] record every diagnostic is made of.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while loading or using a deploy.toml.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid deploy.toml. Every problem found is listed.
    #[error("{}", render_invalid(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    /// The requested target (or `default_target`) names a target that deploy.toml does not define.
    #[error(
        "{}: unknown target `{name}`; deploy.toml defines {}",
        path.display(),
        list_or_none(available)
    )]
    UnknownTarget {
        path: PathBuf,
        name: String,
        available: Vec<String>,
        suggestion: Option<String>,
    },
}

impl ConfigError {
    /// The problems behind an [`ConfigError::Invalid`], empty for other variants.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "no targets".to_owned()
    } else {
        v.iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub(crate) fn unknown_target_fix(
    name: &str,
    available: &[String],
    suggestion: Option<&str>,
) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`? Or add a [targets.{name}] table to deploy.toml"),
        None if available.is_empty() => format!("add a [targets.{name}] table to deploy.toml"),
        None => format!("use one of the defined targets, or add a [targets.{name}] table"),
    }
}

fn render_invalid(path: &std::path::Path, problems: &[Problem]) -> String {
    let file = path.display().to_string();
    let mut out = format!(
        "{file} is invalid ({} problem{}):",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.render(&file));
    }
    out
}

/// One diagnostic: where, which field, what is wrong and how to fix it.
///
/// `line` and `column` are 1-based and `None` when the problem has no place in a file (for
/// example [`crate::check_eb_env_limits`] called on values typed on a command line, or a
/// required field that is missing altogether).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted field path, e.g. `eb.environment` or `targets.prod.database.instance`.
    pub field: String,
    /// What is wrong, and why.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl Problem {
    /// A problem with no file location.
    pub fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Problem {
            line: None,
            column: None,
            field: field.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// `FILE:LINE:COL: FIELD: MESSAGE` and an indented `fix:` line.
    pub fn render(&self, file: &str) -> String {
        let loc = match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file.to_owned(),
        };
        let field = if self.field.is_empty() {
            String::new()
        } else {
            format!(" {}:", self.field)
        };
        if self.fix.is_empty() {
            format!("{loc}:{field} {}", self.message)
        } else {
            format!("{loc}:{field} {}\n    fix: {}", self.message, self.fix)
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render("deploy.toml"))
    }
}
