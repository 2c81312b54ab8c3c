//! The one error type of this crate: what failed, why, and the fix.

use std::time::Duration;

use deploykit_aws::Classified;

/// Everything that can go wrong planning or running an RDS operation.
#[derive(Debug, thiserror::Error)]
pub enum RdsError {
    #[error("database setting `{field}` = `{value}` is not allowed: {reason}\n  fix: {fix}")]
    InvalidSpec {
        field: &'static str,
        value: String,
        reason: String,
        fix: String,
    },
    #[error("`{value}` is not a valid {what}: {reason}\n  fix: {fix}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
        fix: &'static str,
    },
    #[error("RDS {operation} for `{resource}` failed: {error}\n  fix: {hint}", hint = error.hint())]
    Aws {
        operation: &'static str,
        resource: String,
        error: Classified,
    },
    #[error("EC2 {operation} for `{resource}` failed: {error}\n  fix: {hint}", hint = error.hint())]
    Ec2 {
        operation: &'static str,
        resource: String,
        error: Classified,
    },
    #[error("security group `{group}` cannot be used for the database: {reason}\n  fix: {fix}")]
    SecurityGroup {
        group: String,
        reason: String,
        fix: String,
    },
    #[error("Secrets Manager {operation} for `{secret}` failed: {reason}\n  fix: {fix}")]
    Secret {
        operation: &'static str,
        secret: String,
        reason: String,
        fix: String,
    },
    #[error(
        "database instance `{identifier}` does not exist\n  fix: create it with `cargo xtask db create`"
    )]
    InstanceNotFound { identifier: String },
    #[error(
        "snapshot `{identifier}` does not exist\n  fix: list the snapshots with `cargo xtask db snapshots`"
    )]
    SnapshotNotFound { identifier: String },
    #[error(
        "instance `{identifier}` has no snapshot to restore from\n  fix: take one with `cargo xtask db snapshot --wait`"
    )]
    NoSnapshot { identifier: String },
    #[error("instance `{identifier}` is `{status}`, {reason}\n  fix: {fix}")]
    InvalidState {
        identifier: String,
        status: String,
        reason: String,
        fix: String,
    },
    #[error("gave up waiting for {what} after {}s (bound {}s); last status `{last}`\n  fix: raise the database timeout in deploy.toml, or check the resource in the RDS console", waited.as_secs(), timeout.as_secs())]
    Timeout {
        what: String,
        last: String,
        waited: Duration,
        timeout: Duration,
    },
    #[error(
        "{what} ended in status `{status}` instead of `available`\n  fix: check the RDS events of `{resource}` in the console (`aws rds describe-events`)"
    )]
    Failed {
        what: String,
        resource: String,
        status: String,
    },
    #[error(
        "cannot connect to database `{database}` at {host}:{port} as `{user}`: {reason}\n  fix: {fix}"
    )]
    Connect {
        host: String,
        port: u16,
        database: String,
        user: String,
        reason: String,
        fix: &'static str,
    },
    #[error("restore check of snapshot `{snapshot}` failed: {reason}")]
    Check { snapshot: String, reason: String },
    #[error("restore check was cancelled; temporary instance `{instance}` {cleanup}")]
    Cancelled { instance: String, cleanup: String },
    #[error(
        "the restore check failed ({check}) and deleting temporary instance `{instance}` failed too: {cleanup}\n  fix: delete it by hand: `aws rds delete-db-instance --db-instance-identifier {instance} --skip-final-snapshot`"
    )]
    CleanupFailed {
        check: String,
        instance: String,
        cleanup: String,
    },
}

impl RdsError {
    /// The AWS classification, when an AWS call failed.
    pub fn classified(&self) -> Option<&Classified> {
        match self {
            RdsError::Aws { error, .. } | RdsError::Ec2 { error, .. } => Some(error),
            _ => None,
        }
    }

    pub(crate) fn aws<E>(
        operation: &'static str,
        resource: impl Into<String>,
        err: &aws_sdk_rds::error::SdkError<E, aws_sdk_rds::config::http::HttpResponse>,
    ) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        RdsError::Aws {
            operation,
            resource: resource.into(),
            error: deploykit_aws::classify(err),
        }
    }

    pub(crate) fn ec2<E>(
        operation: &'static str,
        resource: impl Into<String>,
        err: &aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>,
    ) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        RdsError::Ec2 {
            operation,
            resource: resource.into(),
            error: deploykit_aws::classify(err),
        }
    }
}
