//! One diagnostic shape for every library error.
//!
//! Each crate keeps its own `thiserror` enum with context fields; it also implements
//! [`Diagnostic`], which says what *class* of failure the error is ([`Category`], which the
//! CLI maps to an exit code with one exhaustive match) and what to do next ([`Diagnostic::help`]).
//! Help is advice in plain words ("create the secret first", "raise `[eb] wait_timeout`"),
//! never a command line of a particular front end: the CLI adds its own command names.

use serde::Serialize;

/// The class of a failure. Stable: front ends map each class to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A bug, an I/O failure or a local tool (Docker, PostgreSQL) that failed unexpectedly.
    Internal,
    /// Bad configuration, arguments or app tree; nothing was changed.
    Input,
    /// AWS (or the local cloud) refused or failed a call: credentials, permissions, quotas.
    Aws,
    /// The change failed and was rolled back: the previous version serves.
    RolledBack,
    /// The change failed and so did the rollback: the service needs a human.
    RollbackFailed,
    /// A bounded wait ran out before the service settled.
    Timeout,
    /// A check found a difference: drift, migrations behind head, an unhealthy service.
    CheckFailed,
    /// The user interrupted the operation (Ctrl-C, SIGTERM).
    Interrupted,
}

/// What every library error offers its caller besides `Display` and `source()`.
pub trait Diagnostic: std::error::Error {
    /// The class of the failure.
    fn category(&self) -> Category;

    /// What to do next, in plain words, when the library knows.
    fn help(&self) -> Option<String> {
        None
    }
}
