//! The crate's one error type. Its [`deploykit_report::Diagnostic`] is in `diagnostic.rs`.

use deploykit_aws::Classified;

/// Everything that can go wrong managing alarms.
#[derive(Debug, thiserror::Error)]
pub enum AlarmsError {
    /// A CloudWatch or SNS call failed (classified by error code).
    #[error("{op} on {resource} failed: {error}")]
    Aws {
        op: &'static str,
        resource: String,
        error: Box<Classified>,
    },
    /// CreateTopic answered another ARN than the one the alarms point at.
    #[error("CreateTopic {name} answered {actual}, but the alarms point at {expected}")]
    TopicArn {
        name: String,
        expected: String,
        actual: String,
    },
}

impl AlarmsError {
    pub(crate) fn aws(op: &'static str, resource: impl Into<String>, error: Classified) -> Self {
        AlarmsError::Aws {
            op,
            resource: resource.into(),
            error: Box::new(error),
        }
    }
}
