//! The one error type of this crate: what failed and why in `Display`; what to do next in
//! [`Diagnostic::help`] (plain advice, no front end's command names); the class of the failure
//! in [`Diagnostic::category`].

use std::time::Duration;

use deploykit_aws::Classified;
use deploykit_report::{Category, Diagnostic};

/// Everything that can go wrong planning or running an RDS operation.
#[derive(Debug, thiserror::Error)]
pub enum RdsError {
    #[error("database setting `{field}` = `{value}` is not allowed: {reason}")]
    InvalidSpec {
        field: &'static str,
        value: String,
        reason: String,
        fix: String,
    },
    #[error("`{value}` is not a valid {what}: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
        fix: &'static str,
    },
    #[error("RDS {operation} for `{resource}` failed: {error}")]
    Aws {
        operation: &'static str,
        resource: String,
        error: Classified,
    },
    #[error("EC2 {operation} for `{resource}` failed: {error}")]
    Ec2 {
        operation: &'static str,
        resource: String,
        error: Classified,
    },
    #[error("security group `{group}` cannot be used for the database: {reason}")]
    SecurityGroup {
        group: String,
        reason: String,
        fix: String,
    },
    #[error("Secrets Manager {operation} for `{secret}` failed: {reason}")]
    Secret {
        operation: &'static str,
        secret: String,
        reason: String,
        fix: String,
    },
    #[error("database instance `{identifier}` does not exist")]
    InstanceNotFound { identifier: String },
    #[error("snapshot `{identifier}` does not exist")]
    SnapshotNotFound { identifier: String },
    #[error("instance `{identifier}` has no snapshot to restore from")]
    NoSnapshot { identifier: String },
    #[error("instance `{identifier}` is `{status}`, {reason}")]
    InvalidState {
        identifier: String,
        status: String,
        reason: String,
        fix: String,
    },
    #[error("gave up waiting for {what} after {}s (bound {}s); last status `{last}`", waited.as_secs(), timeout.as_secs())]
    Timeout {
        what: String,
        last: String,
        waited: Duration,
        timeout: Duration,
    },
    #[error("{what} ended in status `{status}` instead of `available`")]
    Failed {
        what: String,
        resource: String,
        status: String,
    },
    #[error("cannot connect to database `{database}` at {host}:{port} as `{user}`: {reason}")]
    Connect {
        host: String,
        port: u16,
        database: String,
        user: String,
        reason: String,
        fix: &'static str,
    },
    #[error("TLS to database {endpoint} failed: {reason} (trusted: {trust})")]
    Tls {
        /// `host:port/database`.
        endpoint: String,
        trust: String,
        reason: String,
        fix: String,
    },
    #[error("the database CA bundle {source_name} cannot be used: {reason}")]
    TrustStore {
        source_name: String,
        reason: String,
        fix: String,
    },
    #[error("restore check of snapshot `{snapshot}` failed: {reason}")]
    Check {
        snapshot: String,
        reason: String,
        /// What to do about it, when known.
        fix: Option<String>,
    },
    #[error("restore check was cancelled; temporary instance `{instance}` {cleanup}")]
    Cancelled { instance: String, cleanup: String },
    #[error(
        "the restore check failed ({check}) and deleting temporary instance `{instance}` failed too: {cleanup}"
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

    /// An AWS call refused because what it creates exists already.
    pub(crate) fn already_exists(&self) -> bool {
        matches!(self, RdsError::Aws { error, .. } if error.kind == deploykit_aws::ErrorKind::AlreadyExists)
    }

    /// A failed EC2 call (already classified by its error code, see [`crate::ec2`]).
    pub(crate) fn ec2(
        operation: &'static str,
        resource: impl Into<String>,
        error: Classified,
    ) -> Self {
        RdsError::Ec2 {
            operation,
            resource: resource.into(),
            error,
        }
    }
}

impl Diagnostic for RdsError {
    fn category(&self) -> Category {
        match self {
            RdsError::InvalidSpec { .. }
            | RdsError::InvalidName { .. }
            | RdsError::SecurityGroup { .. }
            | RdsError::InstanceNotFound { .. }
            | RdsError::SnapshotNotFound { .. }
            | RdsError::NoSnapshot { .. }
            | RdsError::Tls { .. }
            | RdsError::TrustStore { .. } => Category::Input,
            RdsError::Aws { error, .. } | RdsError::Ec2 { error, .. } => error.category(),
            RdsError::Secret { .. } | RdsError::InvalidState { .. } | RdsError::Failed { .. } => {
                Category::Aws
            }
            RdsError::Timeout { .. } => Category::Timeout,
            RdsError::Connect { .. } => Category::Internal,
            RdsError::Check { .. } | RdsError::CleanupFailed { .. } => Category::CheckFailed,
            RdsError::Cancelled { .. } => Category::Interrupted,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            RdsError::InvalidSpec { fix, .. }
            | RdsError::SecurityGroup { fix, .. }
            | RdsError::Secret { fix, .. }
            | RdsError::InvalidState { fix, .. }
            | RdsError::Tls { fix, .. }
            | RdsError::TrustStore { fix, .. } => fix.clone(),
            RdsError::InvalidName { fix, .. } | RdsError::Connect { fix, .. } => fix.to_string(),
            RdsError::Aws { error, .. } | RdsError::Ec2 { error, .. } => error.help().to_string(),
            RdsError::InstanceNotFound { .. } => {
                "create the database first; nothing else works on an instance that does not exist"
                    .into()
            }
            RdsError::SnapshotNotFound { .. } => {
                "list the instance's snapshots and use one of their names".into()
            }
            RdsError::NoSnapshot { .. } => {
                "take a snapshot of the instance (and wait for it to be available) first".into()
            }
            RdsError::Timeout { .. } => {
                "raise the database wait timeout in deploy.toml, or check the instance in the RDS console"
                    .into()
            }
            RdsError::Failed { resource, .. } => {
                format!("check the RDS events of `{resource}` in the RDS console")
            }
            RdsError::Check { fix, .. } => return fix.clone(),
            RdsError::Cancelled { .. } => return None,
            RdsError::CleanupFailed { instance, .. } => format!(
                "delete the temporary instance `{instance}` by hand (RDS console, without a final snapshot): it costs money while it runs"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use deploykit_aws::ErrorKind;

    use super::*;

    fn classified(kind: ErrorKind, code: &str) -> Classified {
        Classified {
            kind,
            code: Some(code.into()),
            message: Some("said AWS".into()),
            request_id: Some("req-1".into()),
        }
    }

    /// Every variant: its category, that Display says what failed without advice or any
    /// command line, and that help (when there is some) is plain advice.
    #[test]
    fn every_variant_has_a_category_and_plain_help() {
        let s = String::from;
        let cases: Vec<(RdsError, Category, Option<&str>)> = vec![
            (
                RdsError::InvalidSpec {
                    field: "instance_class",
                    value: s("db.x"),
                    reason: s("unknown class"),
                    fix: s("use db.t4g.micro"),
                },
                Category::Input,
                Some("use db.t4g.micro"),
            ),
            (
                RdsError::InvalidName {
                    what: "snapshot name",
                    value: s("-x"),
                    reason: s("starts with a hyphen"),
                    fix: "start with a letter",
                },
                Category::Input,
                Some("start with a letter"),
            ),
            (
                RdsError::ec2(
                    "CreateSecurityGroup",
                    "db-db",
                    classified(ErrorKind::AccessDenied, "UnauthorizedOperation"),
                ),
                Category::Aws,
                Some(ErrorKind::AccessDenied.help()),
            ),
            (
                RdsError::Aws {
                    operation: "DescribeDBInstances",
                    resource: s("db"),
                    error: classified(ErrorKind::Throttling, "Throttling"),
                },
                Category::Aws,
                Some(ErrorKind::Throttling.help()),
            ),
            (
                RdsError::SecurityGroup {
                    group: s("sg-1"),
                    reason: s("other VPC"),
                    fix: s("pick a group in the database's VPC"),
                },
                Category::Input,
                Some("pick a group in the database's VPC"),
            ),
            (
                RdsError::Secret {
                    operation: "lookup",
                    secret: s("x"),
                    reason: s("not managed"),
                    fix: s("turn on the managed master password"),
                },
                Category::Aws,
                Some("turn on the managed master password"),
            ),
            (
                RdsError::InstanceNotFound {
                    identifier: s("db"),
                },
                Category::Input,
                Some("create the database first"),
            ),
            (
                RdsError::SnapshotNotFound {
                    identifier: s("snap"),
                },
                Category::Input,
                Some("list the instance's snapshots"),
            ),
            (
                RdsError::NoSnapshot {
                    identifier: s("db"),
                },
                Category::Input,
                Some("take a snapshot"),
            ),
            (
                RdsError::InvalidState {
                    identifier: s("db"),
                    status: s("modifying"),
                    reason: s("and RDS only snapshots available instances"),
                    fix: s("wait for it to become available, then run again"),
                },
                Category::Aws,
                Some("wait for it to become available"),
            ),
            (
                RdsError::Timeout {
                    what: s("db to be available"),
                    last: s("creating"),
                    waited: Duration::from_secs(60),
                    timeout: Duration::from_secs(60),
                },
                Category::Timeout,
                Some("raise the database wait timeout"),
            ),
            (
                RdsError::Failed {
                    what: s("create of db"),
                    resource: s("db"),
                    status: s("failed"),
                },
                Category::Aws,
                Some("RDS events of `db`"),
            ),
            (
                RdsError::Connect {
                    host: s("127.0.0.1"),
                    port: 5432,
                    database: s("app"),
                    user: s("app"),
                    reason: s("refused"),
                    fix: "check that the instance is reachable",
                },
                Category::Internal,
                Some("check that the instance is reachable"),
            ),
            (
                RdsError::Tls {
                    endpoint: s("db.example:5432/app"),
                    trust: s("the shipped Amazon RDS CA bundle"),
                    reason: s("unknown issuer"),
                    fix: s("refresh the bundle"),
                },
                Category::Input,
                Some("refresh the bundle"),
            ),
            (
                RdsError::TrustStore {
                    source_name: s("ca.pem"),
                    reason: s("it holds no certificate"),
                    fix: s("start the local cloud again"),
                },
                Category::Input,
                Some("start the local cloud again"),
            ),
            (
                RdsError::Check {
                    snapshot: s("snap"),
                    reason: s("table `user` is missing"),
                    fix: Some(s("restore a newer snapshot")),
                },
                Category::CheckFailed,
                Some("restore a newer snapshot"),
            ),
            (
                RdsError::Check {
                    snapshot: s("snap"),
                    reason: s("count failed"),
                    fix: None,
                },
                Category::CheckFailed,
                None,
            ),
            (
                RdsError::Cancelled {
                    instance: s("db-rc"),
                    cleanup: s("was deleted"),
                },
                Category::Interrupted,
                None,
            ),
            (
                RdsError::CleanupFailed {
                    check: s("missing table"),
                    instance: s("db-rc"),
                    cleanup: s("AccessDenied"),
                },
                Category::CheckFailed,
                Some("delete the temporary instance `db-rc` by hand"),
            ),
        ];
        for (e, category, help) in cases {
            let shown = e.to_string();
            assert_eq!(e.category(), category, "{shown}");
            match (e.help(), help) {
                (Some(h), Some(want)) => assert!(h.contains(want), "{shown}: help {h:?}"),
                (None, None) => {}
                (got, want) => panic!("{shown}: help {got:?}, expected {want:?}"),
            }
            for text in [Some(shown.clone()), e.help()].into_iter().flatten() {
                assert!(
                    !text.contains("xtask") && !text.contains("fix:"),
                    "{shown}: {text}"
                );
            }
        }
    }
}
