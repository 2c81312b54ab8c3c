//! deploykit as a library: the pipelines that take a Flask + Postgres app to AWS (or to the
//! local cloud), for any front end.
//!
//! ```text
//! Project::load("deploy.toml") -> Project::connect(target) -> Session
//!   eb::plan_deploy(session) -> EbPlanned (show it) -> eb::apply_deploy(planned)
//! ```
//!
//! Invariants: nothing here prints (progress goes to the caller's
//! [`deploykit_report::Reporter`]); nothing here parses arguments or names a command line;
//! every error is an [`Error`] with a [`deploykit_report::Diagnostic`] category and help; the
//! config-to-library mapping lives in [`mapping`] and nowhere else.

pub mod alarms;
pub mod check;
pub mod container;
pub mod cost;
pub mod db;
pub mod dns;
pub mod eb;
mod eb_alb;
mod error;
pub mod https;
pub mod journal;
pub mod lock;
pub mod logs;
pub mod mapping;
pub mod preflight;
pub mod prepare;
mod project;
pub mod remote_lock;
pub mod s3;
pub mod source;

pub use error::{Error, Result};
pub use mapping::Route;
pub use project::{LocalCloud, Project, Session, aws_target};

/// Re-exported so front ends name one version of each.
pub use deploykit_config as config;
pub use deploykit_init as init;
pub use deploykit_local as local;
pub use deploykit_report as report;
pub use deploykit_secretrules as secretrules;

/// Serializes a duration as whole milliseconds (the JSON shape's `*_ms` fields).
pub(crate) fn millis<S: serde::Serializer>(
    d: &std::time::Duration,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_millis())
}
