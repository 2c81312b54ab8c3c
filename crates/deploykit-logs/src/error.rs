//! The crate's one error type and its [`Diagnostic`]: class and plain advice.

use deploykit_aws::{Classified, ErrorKind};
use deploykit_report::{Category, Diagnostic};

/// The advice for a log group that is not there (yet).
const NOT_LOGGED_YET: &str = "the environment has not logged yet / log streaming is off: set [eb] log_streaming = true (App Runner and ECS create their groups when the service first runs)";

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// CloudWatch Logs refused or failed a call.
    #[error("CloudWatch Logs {op} on {group} failed: {error}")]
    Aws {
        op: &'static str,
        group: String,
        error: Box<Classified>,
    },
    /// A log group named in the query does not exist (`ResourceNotFoundException`).
    #[error("log group {group} does not exist")]
    GroupNotFound { group: String },
    /// No log group has the route's prefix.
    #[error("no CloudWatch log group starts with {prefix}")]
    NoGroups { prefix: String },
    /// A retention that CloudWatch Logs does not accept.
    #[error("log retention of {days} days is not one CloudWatch Logs accepts")]
    InvalidRetention { days: u32 },
}

impl LogsError {
    /// `error` of `op` on `group`, with a missing group as [`LogsError::GroupNotFound`].
    pub(crate) fn aws(op: &'static str, group: impl Into<String>, error: Classified) -> Self {
        let group = group.into();
        if error.kind == ErrorKind::NotFound
            && error.code.as_deref() == Some("ResourceNotFoundException")
        {
            return LogsError::GroupNotFound { group };
        }
        LogsError::Aws {
            op,
            group,
            error: Box::new(error),
        }
    }

    /// The classified AWS error, when the failure came from AWS.
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            LogsError::Aws { error, .. } => Some(error.kind),
            LogsError::GroupNotFound { .. } => Some(ErrorKind::NotFound),
            _ => None,
        }
    }
}

impl Diagnostic for LogsError {
    fn category(&self) -> Category {
        match self {
            LogsError::Aws { error, .. } => error.category(),
            LogsError::GroupNotFound { .. }
            | LogsError::NoGroups { .. }
            | LogsError::InvalidRetention { .. } => Category::Input,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            LogsError::Aws { error, .. } => error.help().into(),
            LogsError::GroupNotFound { .. } | LogsError::NoGroups { .. } => NOT_LOGGED_YET.into(),
            LogsError::InvalidRetention { .. } => format!(
                "set log_retention_days to one of {}",
                crate::RETENTION_DAYS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classified(kind: ErrorKind, code: &str) -> Classified {
        Classified {
            kind,
            code: Some(code.into()),
            message: None,
            request_id: None,
        }
    }

    #[test]
    fn category_and_help_per_variant() {
        let cases: Vec<(LogsError, Category, &str)> = vec![
            (
                LogsError::aws(
                    "FilterLogEvents",
                    "/g",
                    classified(ErrorKind::NotFound, "ResourceNotFoundException"),
                ),
                Category::Input,
                "log_streaming = true",
            ),
            (
                LogsError::NoGroups {
                    prefix: "/aws/elasticbeanstalk/e/".into(),
                },
                Category::Input,
                "has not logged yet",
            ),
            (
                LogsError::aws(
                    "FilterLogEvents",
                    "/g",
                    classified(ErrorKind::AccessDenied, "AccessDeniedException"),
                ),
                Category::Aws,
                ErrorKind::AccessDenied.help(),
            ),
            (
                LogsError::InvalidRetention { days: 2 },
                Category::Input,
                "one of 1, 3, 5, 7, 14",
            ),
        ];
        for (e, cat, help) in cases {
            assert_eq!(e.category(), cat, "{e}");
            let h = e.help().unwrap();
            assert!(h.contains(help), "{e}: {h}");
        }
    }

    #[test]
    fn only_resource_not_found_is_a_missing_group() {
        let e = LogsError::aws(
            "FilterLogEvents",
            "/g",
            classified(ErrorKind::NotFound, "SomethingElse"),
        );
        assert!(matches!(e, LogsError::Aws { .. }), "{e:?}");
    }
}
