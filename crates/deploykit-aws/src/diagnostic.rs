//! [`Diagnostic`] for [`AwsError`]: its class and plain advice (no front end's command names).

use deploykit_report::{Category, Diagnostic};

use crate::{AwsError, ENDPOINT_ENV};

impl Diagnostic for AwsError {
    fn category(&self) -> Category {
        match self {
            AwsError::LocalEndpointMissing
            | AwsError::NotLoopback { .. }
            | AwsError::InvalidEndpoint { .. }
            | AwsError::InvalidRegion { .. }
            | AwsError::InvalidSetting { .. }
            | AwsError::WrongAccount { .. } => Category::Input,
            AwsError::CallerIdentity { error } => error.category(),
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            AwsError::LocalEndpointMissing => format!(
                "set `endpoint_url = \"http://127.0.0.1:4566\"` under the local target (or {ENDPOINT_ENV}) and start the local cloud"
            ),
            AwsError::NotLoopback { .. } => "point the local target's endpoint_url at 127.0.0.1 or localhost, or use a non-local target with real credentials".into(),
            AwsError::InvalidEndpoint { .. } => {
                "write the endpoint as a full URL, like `http://127.0.0.1:4566`".into()
            }
            AwsError::InvalidRegion { .. } => {
                "set the target's region to an AWS region code, e.g. `us-east-1`".into()
            }
            AwsError::InvalidSetting { field, min, .. } => format!("raise {field} to {min} or more"),
            AwsError::CallerIdentity { error } => error.help().into(),
            AwsError::WrongAccount { expected, .. } => format!(
                "use credentials (profile, SSO session, environment) for account {expected}, or correct the target's `account_id`"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Classified, ErrorKind};

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
        // (error, category, words the help must contain)
        let cases: Vec<(AwsError, Category, &[&str])> = vec![
            (
                AwsError::LocalEndpointMissing,
                Category::Input,
                &["endpoint_url", "AWS_ENDPOINT_URL", "start the local cloud"],
            ),
            (
                AwsError::NotLoopback {
                    url: "http://10.0.0.5:4566".into(),
                    host: "10.0.0.5".into(),
                },
                Category::Input,
                &["127.0.0.1", "non-local target"],
            ),
            (
                AwsError::InvalidEndpoint {
                    url: "ftp://x".into(),
                    reason: "scheme".into(),
                },
                Category::Input,
                &["http://127.0.0.1:4566"],
            ),
            (
                AwsError::InvalidRegion {
                    region: "useast1".into(),
                },
                Category::Input,
                &["us-east-1"],
            ),
            (
                AwsError::InvalidSetting {
                    field: "max_attempts",
                    value: "0".into(),
                    min: "1".into(),
                },
                Category::Input,
                &["raise max_attempts to 1"],
            ),
            (
                AwsError::CallerIdentity {
                    error: classified(ErrorKind::Credentials, "ExpiredToken"),
                },
                Category::Aws,
                &["no valid credentials"],
            ),
            (
                AwsError::CallerIdentity {
                    error: classified(ErrorKind::Throttling, "Throttling"),
                },
                Category::Aws,
                &["rate limiting"],
            ),
            (
                AwsError::WrongAccount {
                    expected: "210987654321".into(),
                    actual: "123456789012".into(),
                    arn: "arn:aws:iam::123456789012:user/ci".into(),
                },
                Category::Input,
                &["account 210987654321", "account_id"],
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            let help = err.help().unwrap_or_default();
            for w in *words {
                assert!(help.contains(w), "{err:?}: help {help:?} lacks {w:?}");
            }
            for text in [err.to_string(), help] {
                assert!(!text.contains("xtask") && !text.contains("fix:"), "{text}");
            }
        }
    }

    #[test]
    fn display_keeps_the_facts() {
        let e = AwsError::WrongAccount {
            expected: "210987654321".into(),
            actual: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/ci".into(),
        };
        let s = e.to_string();
        assert!(
            s.contains("210987654321") && s.contains("arn:aws:iam::123456789012:user/ci"),
            "{s}"
        );
        let e = AwsError::CallerIdentity {
            error: classified(ErrorKind::Credentials, "ExpiredToken"),
        };
        assert!(e.to_string().contains("ExpiredToken"), "{e}");
    }
}
