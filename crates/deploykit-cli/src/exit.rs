//! Exit codes and the CLI error type. The codes are documented in README.md.

use std::fmt;
use std::process::ExitCode;

use deploykit_report::{Category, Diagnostic};

/// Process exit codes. Stable: scripts and CI depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// 0: success (or nothing to do).
    Success = 0,
    /// 1: an unexpected failure (I/O, Docker, a bug).
    Failure = 1,
    /// 2: bad configuration or arguments; nothing was changed.
    Config = 2,
    /// 3: an AWS call failed (permissions, quota, service error).
    Aws = 3,
    /// 4: the deploy failed and was rolled back to the previous version.
    RolledBack = 4,
    /// 5: the deploy failed and the rollback failed too: the service needs attention.
    RollbackFailed = 5,
    /// 6: a bounded wait ran out.
    Timeout = 6,
    /// 7: a check failed (drift, migration behind head, restore check).
    CheckFailed = 7,
    /// 130: interrupted (Ctrl-C); what was in flight is said before exiting.
    Interrupted = 130,
}

impl From<Category> for Exit {
    fn from(c: Category) -> Self {
        match c {
            Category::Internal => Exit::Failure,
            Category::Input => Exit::Config,
            Category::Aws => Exit::Aws,
            Category::RolledBack => Exit::RolledBack,
            Category::RollbackFailed => Exit::RollbackFailed,
            Category::Timeout => Exit::Timeout,
            Category::CheckFailed => Exit::CheckFailed,
            Category::Interrupted => Exit::Interrupted,
        }
    }
}

impl Exit {
    /// The failure class this exit code stands for (`None` for success).
    pub fn category(self) -> Option<Category> {
        match self {
            Exit::Success => None,
            Exit::Failure => Some(Category::Internal),
            Exit::Config => Some(Category::Input),
            Exit::Aws => Some(Category::Aws),
            Exit::RolledBack => Some(Category::RolledBack),
            Exit::RollbackFailed => Some(Category::RollbackFailed),
            Exit::Timeout => Some(Category::Timeout),
            Exit::CheckFailed => Some(Category::CheckFailed),
            Exit::Interrupted => Some(Category::Interrupted),
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error for the user: what failed, why, and what to do next.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    /// What failed and why (usually the library error's Display, with its causes).
    pub message: String,
    /// What to do next, when we know.
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A library error for the user: its category picks the exit code, its help the hint.
    pub fn from_diagnostic<E: Diagnostic + 'static>(err: &E) -> Self {
        let mut e = Self::from_error(err.category().into(), err);
        e.hint = err.help();
        e
    }

    /// Adds advice after what is there (the CLI's command after the library's words).
    pub fn add_hint(mut self, more: impl Into<String>) -> Self {
        let more = more.into();
        self.hint = Some(match self.hint.take() {
            Some(h) => format!("{h}; {more}"),
            None => more,
        });
        self
    }

    /// Builds a message from an error and its whole `source()` chain.
    pub fn from_error(exit: Exit, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            let s_text = s.to_string();
            if !message.contains(&s_text) {
                message.push_str(": ");
                message.push_str(&s_text);
            }
            source = s.source();
        }
        Self::new(exit, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

pub type CliResult = Result<Exit, CliError>;
