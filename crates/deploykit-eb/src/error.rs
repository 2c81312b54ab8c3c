//! The crate's one error type.

use std::time::Duration;

use deploykit_aws::{Classified, ErrorKind};
use serde::Serialize;

use crate::model::EnvLimitProblem;

/// What happened to the rollback after a failed deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rollback", rename_all = "snake_case")]
pub enum RollbackOutcome {
    /// The previous version runs again, Ready and Green.
    RolledBack { to: String },
    /// The rollback itself failed or did not become healthy.
    Failed { to: String, reason: String },
    /// `--no-rollback`.
    Disabled,
    /// There was no earlier version (first deploy).
    NothingToRollBackTo,
}

/// Broad outcome classes, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Bad configuration or arguments; nothing was changed.
    Config,
    /// An AWS call failed.
    Aws,
    /// The deploy failed and the previous version was restored.
    RolledBack,
    /// The deploy failed and so did the rollback.
    RollbackFailed,
    /// A bounded wait ran out.
    Timeout,
    /// The deploy failed (no rollback), or the environment is unhealthy.
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum EbError {
    #[error(
        "Elastic Beanstalk environment variable limits exceeded: {}",
        problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
    )]
    EnvLimits { problems: Vec<EnvLimitProblem> },

    #[error(
        "cannot create environment {environment}: {missing} missing from the target's [eb] section; \
         set `service_role` (e.g. \"aws-elasticbeanstalk-service-role\") and `instance_profile` \
         (e.g. \"aws-elasticbeanstalk-ec2-role\") in deploy.toml; the EB console creates both once per account"
    )]
    MissingForCreate {
        environment: String,
        missing: String,
    },

    #[error(
        "no Python platform on Amazon Linux 2023 among the {available} solution stacks of {region}; \
         pin one with `solution_stack = \"...\"` in the target's [eb] section"
    )]
    NoPlatform { region: String, available: usize },

    #[error("Elastic Beanstalk {op} for {resource} failed: {error}; {}", error.hint())]
    Aws {
        op: &'static str,
        resource: String,
        error: Box<Classified>,
    },

    #[error(transparent)]
    S3(#[from] deploykit_s3::S3Error),

    #[error(
        "environment {environment} is {status} (another deploy or change is in progress); refusing to \
         send an overlapping update. Run again without --no-wait-busy to wait for it, or watch it \
         with `cargo xtask eb events --follow`"
    )]
    Busy { environment: String, status: String },

    #[error(
        "environment {environment} was still {status} after {}s; nothing was sent. Watch it with \
         `cargo xtask eb events --follow`, then run again",
        waited.as_secs()
    )]
    BusyTimeout {
        environment: String,
        status: String,
        waited: Duration,
    },

    #[error(
        "timed out after {}s waiting for environment {environment} to run {label} Ready and Green \
         (last seen: {last}). It may still finish: `cargo xtask eb status`; once it is Ready, \
         `cargo xtask rollback eb` restores the previous version. Raise the bound with --timeout",
        waited.as_secs()
    )]
    Timeout {
        environment: String,
        label: String,
        waited: Duration,
        last: String,
    },

    #[error(
        "deploy of {label} to {environment} failed: {reason}{}; {}",
        if events.is_empty() { String::new() } else { format!("; events: {}", events.join(" | ")) },
        match rollback {
            RollbackOutcome::RolledBack { to } => format!("rolled back to {to}, which is Ready and Green"),
            RollbackOutcome::Failed { to, reason } => format!("the rollback to {to} failed too: {reason}; the environment needs attention (`cargo xtask eb status`)"),
            RollbackOutcome::Disabled => "not rolled back (--no-rollback); `cargo xtask rollback eb` restores the previous version".into(),
            RollbackOutcome::NothingToRollBackTo => "no earlier version to roll back to; fix the app and deploy again".into(),
        }
    )]
    DeployFailed {
        environment: String,
        label: String,
        reason: String,
        /// Error and warning events from Elastic Beanstalk since our request.
        events: Vec<String>,
        rollback: RollbackOutcome,
    },

    #[error(
        "environment {environment} runs {label} but is not healthy: {reason}. Nothing was changed; \
         see `cargo xtask eb events`, fix the app and deploy, or `cargo xtask rollback eb --to LABEL`"
    )]
    Unhealthy {
        environment: String,
        label: String,
        reason: String,
    },

    #[error(
        "environment {environment} does not exist in application {application}; \
         `cargo xtask deploy eb` creates it"
    )]
    NoEnvironment {
        application: String,
        environment: String,
    },

    #[error(
        "application version {label} does not exist in {application}; `cargo xtask eb versions` lists them"
    )]
    NoVersion { application: String, label: String },

    #[error(
        "no earlier version to roll back to: environment {environment} runs {current} and \
         no other version exists; pass --to LABEL"
    )]
    NoRollbackTarget {
        environment: String,
        current: String,
    },
}

impl EbError {
    pub(crate) fn aws(op: &'static str, resource: impl Into<String>, error: Classified) -> Self {
        EbError::Aws {
            op,
            resource: resource.into(),
            error: Box::new(error),
        }
    }

    pub fn category(&self) -> Category {
        match self {
            EbError::EnvLimits { .. }
            | EbError::MissingForCreate { .. }
            | EbError::NoPlatform { .. }
            | EbError::NoEnvironment { .. }
            | EbError::NoVersion { .. }
            | EbError::NoRollbackTarget { .. } => Category::Config,
            EbError::Aws { .. } | EbError::S3(_) => Category::Aws,
            EbError::Busy { .. } | EbError::Unhealthy { .. } => Category::Failed,
            EbError::BusyTimeout { .. } | EbError::Timeout { .. } => Category::Timeout,
            EbError::DeployFailed { rollback, .. } => match rollback {
                RollbackOutcome::RolledBack { .. } => Category::RolledBack,
                RollbackOutcome::Failed { .. } => Category::RollbackFailed,
                _ => Category::Failed,
            },
        }
    }

    pub fn is_config(&self) -> bool {
        self.category() == Category::Config
    }

    /// The classified AWS error, when the failure came from an AWS call.
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            EbError::Aws { error, .. } => Some(error.kind),
            EbError::S3(e) => e.aws_kind(),
            _ => None,
        }
    }
}
