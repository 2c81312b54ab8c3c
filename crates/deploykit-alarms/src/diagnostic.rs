//! [`Diagnostic`] for [`AlarmsError`]: the category and plain advice (no command names).

use deploykit_aws::ErrorKind;
use deploykit_report::{Category, Diagnostic};

use crate::AlarmsError;

impl Diagnostic for AlarmsError {
    fn category(&self) -> Category {
        match self {
            AlarmsError::Aws { error, .. } => error.category(),
            AlarmsError::TopicArn { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            AlarmsError::Aws { op, error, .. } => match (error.kind, *op) {
                (ErrorKind::AccessDenied, _) => format!(
                    "the credentials may not call {op}: the deployer policy needs the CloudWatch alarm and SNS topic actions (see the deployer policy)"
                ),
                (ErrorKind::Validation, "Subscribe") => {
                    "check [alarms] email: SNS accepts one plain address such as ops@example.com".into()
                }
                _ => error.help().into(),
            },
            AlarmsError::TopicArn { .. } => {
                "the topic ARN is built from the caller's account and the target's region; check that the credentials and region are the target's".into()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deploykit_aws::Classified;

    #[test]
    fn category_and_help_per_variant() {
        let aws = |op, kind| AlarmsError::Aws {
            op,
            resource: "r".into(),
            error: Box::new(Classified {
                kind,
                code: Some("X".into()),
                message: None,
                request_id: None,
            }),
        };
        let cases = [
            (
                aws("PutMetricAlarm", ErrorKind::AccessDenied),
                Category::Aws,
                "deployer policy",
            ),
            (
                aws("Subscribe", ErrorKind::Validation),
                Category::Aws,
                "email",
            ),
            (
                AlarmsError::TopicArn {
                    name: "t".into(),
                    expected: "a".into(),
                    actual: "b".into(),
                },
                Category::Internal,
                "region",
            ),
        ];
        for (e, cat, words) in cases {
            assert_eq!(e.category(), cat, "{e}");
            let h = e.help().unwrap_or_default();
            assert!(h.contains(words), "{e}: {h}");
            assert!(!h.contains("xtask"));
        }
    }
}
