//! The crate error: every failure with its context, and how AWS errors are wrapped.

use std::time::Duration;

use deploykit_aws::{Classified, ErrorKind, classify};

/// Error codes with which AWS refuses App Runner to accounts that may not use it.
pub const NOT_AVAILABLE_CODES: &[&str] = &[
    "SubscriptionRequiredException",
    "OptInRequired",
    "AccountNotSupportedException",
];

#[derive(Debug, thiserror::Error)]
pub enum AppRunnerError {
    #[error("App Runner {operation} failed for service {service}: {classified}")]
    Aws {
        operation: &'static str,
        service: String,
        classified: Box<Classified>,
    },
    #[error(
        "AWS refused App Runner to this account ({code} on {operation}): App Runner is closed to new AWS customers"
    )]
    NotAvailableForAccount {
        operation: &'static str,
        code: String,
    },
    #[error("{platform} is not yet supported by deploykit")]
    NotYetSupported { platform: &'static str },
    #[error(
        "deploy of {image} to {service} failed: operation {operation_id} ended {status}. The service still runs the previous image{previous}"
    )]
    RolledBack {
        service: String,
        image: String,
        operation_id: String,
        status: String,
        previous: String,
    },
    #[error(
        "ROLLBACK FAILED on {service}: operation {operation_id} could not restore the previous image. The service may be down"
    )]
    RollbackFailed {
        service: String,
        operation_id: String,
    },
    #[error(
        "service {service} is CREATE_FAILED{why}. App Runner cannot update a service in this state"
    )]
    CreateFailed { service: String, why: String },
    #[error("service {service} is {status}; deploykit cannot deploy to it now")]
    Blocked {
        service: String,
        status: String,
        /// Why, and what to do; [`deploykit_report::Diagnostic::help`] returns it.
        what_to_do: String,
    },
    #[error("timed out after {}s waiting for {what}", waited.as_secs())]
    Timeout { what: String, waited: Duration },
    #[error("service {service} is RUNNING but {url}{path} did not answer 200 within {}s (last: {last})", waited.as_secs())]
    Unhealthy {
        service: String,
        url: String,
        path: String,
        last: String,
        waited: Duration,
    },
    #[error(
        "{image} on {service}: the deploy succeeded but {why}; rolled back to {previous}, which the service reports it runs and which answers its health check"
    )]
    HealthRolledBack {
        service: String,
        image: String,
        previous: String,
        why: String,
    },
    #[error(
        "ROLLBACK FAILED on {service}: {image} failed its health check after the deploy succeeded ({why}), and going back to {previous} failed: {reason}. The service may be down"
    )]
    HealthRollbackFailed {
        service: String,
        image: String,
        previous: String,
        why: String,
        reason: String,
    },
    #[error("{image} on {service}: {why}; not rolled back: {reason}")]
    RollbackRefused {
        service: String,
        image: String,
        why: String,
        reason: String,
    },
    #[error("invalid service definition for {service}: {message}")]
    Invalid { service: String, message: String },
    #[error("ECS {operation} failed for service {service}: {classified}")]
    EcsAws {
        operation: &'static str,
        service: String,
        classified: Box<Classified>,
    },
    #[error(
        "deploy of {image} to {service} failed and ECS rolled back (deployment {deployment}: {reason}). \
         The service still runs the previous revision{previous}"
    )]
    EcsRolledBack {
        service: String,
        image: String,
        deployment: String,
        reason: String,
        previous: String,
    },
    #[error(
        "deployment {deployment} of {image} to {service} ended {status}: {reason}. Nothing healthy serves the new revision \
         (on a first deployment there is nothing to roll back to)"
    )]
    EcsDeploymentFailed {
        service: String,
        image: String,
        deployment: String,
        status: String,
        reason: String,
    },
    #[error("ECR {operation} failed for repository {repository}: {classified}")]
    Ecr {
        operation: &'static str,
        repository: String,
        classified: Box<Classified>,
    },
    #[error("cannot roll back {service}: {reason}")]
    NoRollbackTarget {
        service: String,
        reason: String,
        /// What to do; [`deploykit_report::Diagnostic::help`] returns it.
        fix: String,
    },
}

pub(super) fn aws_err<E>(
    operation: &'static str,
    service: &str,
    err: &aws_sdk_apprunner::error::SdkError<E, aws_sdk_apprunner::config::http::HttpResponse>,
) -> AppRunnerError
where
    E: aws_sdk_apprunner::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let classified = classify(err);
    if let Some(code) = classified.code.as_deref()
        && NOT_AVAILABLE_CODES.contains(&code)
    {
        return AppRunnerError::NotAvailableForAccount {
            operation,
            code: code.to_string(),
        };
    }
    AppRunnerError::Aws {
        operation,
        service: service.to_string(),
        classified: Box::new(classified),
    }
}

impl AppRunnerError {
    /// The AWS error kind, when this is an AWS error.
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            AppRunnerError::Aws { classified, .. }
            | AppRunnerError::EcsAws { classified, .. }
            | AppRunnerError::Ecr { classified, .. } => Some(classified.kind),
            _ => None,
        }
    }
}
