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
    /// Not rolled back: the environment runs a version that is neither ours nor our previous
    /// one (someone else deployed meanwhile), which a rollback must never replace.
    Refused { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum EbError {
    #[error(
        "Elastic Beanstalk environment variable limits exceeded: {}",
        problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
    )]
    EnvLimits { problems: Vec<EnvLimitProblem> },

    #[error(
        "cannot create environment {environment}: {missing} missing from the target's [eb] section"
    )]
    MissingForCreate {
        environment: String,
        missing: String,
    },

    #[error(
        "no Python platform on Amazon Linux 2023 among the {available} solution stacks of {region}, \
         and the target's [eb] section pins no `solution_stack`"
    )]
    NoPlatform { region: String, available: usize },

    #[error(
        "environment {environment} is to be load-balanced (an HTTPS listener) but no ACM certificate{} \
         is known; nothing was changed",
        domain.as_ref().map(|d| format!(" for {d}")).unwrap_or_default()
    )]
    NoCertificate {
        environment: String,
        domain: Option<String>,
    },

    #[error("environment {environment} cannot be load-balanced as configured: {problem}")]
    LoadBalancerConfig {
        environment: String,
        problem: String,
    },

    #[error(
        "environment {environment} has load balancer type {current} in its configuration; \
         Elastic Beanstalk fixes the type when the environment is created and cannot make it an \
         Application Load Balancer; nothing was changed"
    )]
    LoadBalancerTypeFixed {
        environment: String,
        current: String,
    },

    #[error("Elastic Beanstalk {op} for {resource} failed: {error}")]
    Aws {
        op: &'static str,
        resource: String,
        error: Box<Classified>,
    },

    #[error(transparent)]
    S3(#[from] deploykit_s3::S3Error),

    #[error(
        "environment {environment} is {status} (another deploy or change is in progress); refusing to \
         send an overlapping update"
    )]
    Busy { environment: String, status: String },

    #[error(
        "environment {environment} was still {status} after {}s; nothing was sent",
        waited.as_secs()
    )]
    BusyTimeout {
        environment: String,
        status: String,
        waited: Duration,
    },

    #[error(
        "timed out after {}s waiting for environment {environment} to run {label} Ready and Green \
         (last seen: {last})",
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
            RollbackOutcome::Failed { to, reason } => format!("the rollback to {to} failed too: {reason}"),
            RollbackOutcome::Disabled => "not rolled back (rollback was turned off)".into(),
            RollbackOutcome::NothingToRollBackTo => "there is no earlier version to roll back to".into(),
            RollbackOutcome::Refused { reason } => format!("not rolled back: {reason}"),
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
        "environment {environment} runs {label} but is not healthy: {reason}. Nothing was changed"
    )]
    Unhealthy {
        environment: String,
        label: String,
        reason: String,
    },

    #[error("environment {environment} does not exist in application {application}")]
    NoEnvironment {
        application: String,
        environment: String,
    },

    #[error("application version {label} does not exist in {application}")]
    NoVersion { application: String, label: String },

    #[error(
        "no earlier version to roll back to: environment {environment} runs {current} and \
         no other version exists"
    )]
    NoRollbackTarget {
        environment: String,
        current: String,
    },

    #[error(
        "timed out after {}s waiting for {environment}'s instances to put {what} in S3",
        waited.as_secs()
    )]
    LogsTimeout {
        environment: String,
        what: &'static str,
        waited: Duration,
    },

    #[error("downloading the logs of instance {instance} of {environment} failed: {reason}")]
    LogDownload {
        environment: String,
        instance: String,
        reason: String,
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

    /// Bad configuration or arguments: [`deploykit_report::Category::Input`].
    pub fn is_config(&self) -> bool {
        deploykit_report::Diagnostic::category(self) == deploykit_report::Category::Input
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
