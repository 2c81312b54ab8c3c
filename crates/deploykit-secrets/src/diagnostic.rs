//! [`Diagnostic`] for [`SecretsError`]: its class and plain advice.

use deploykit_report::{Category, Diagnostic};

use crate::{MissingReason, SecretsError};

impl Diagnostic for SecretsError {
    fn category(&self) -> Category {
        match self {
            SecretsError::Aws { error, .. } => error.category(),
            SecretsError::Missing { .. }
            | SecretsError::NotString { .. }
            | SecretsError::Format { .. } => Category::Input,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            SecretsError::Aws { error, .. } => error.help().to_string(),
            SecretsError::Missing { missing } => {
                let each: Vec<String> = missing
                    .iter()
                    .map(|m| match m.reason {
                        MissingReason::NotFound => format!(
                            "create the secret `{}` in Secrets Manager (a string value)",
                            m.reference
                        ),
                        MissingReason::ScheduledForDeletion { .. } => format!(
                            "restore the secret `{}` (it is scheduled for deletion) and give it a value",
                            m.reference
                        ),
                    })
                    .collect();
                format!(
                    "{}, in the target's account and region; or correct the references under [secrets]",
                    each.join("; ")
                )
            }
            SecretsError::NotString { secret } => {
                format!("store `{secret}` as a string (SecretString), not binary")
            }
            SecretsError::Format { expected, .. } => format!("store it as JSON like {expected}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use deploykit_aws::{Classified, ErrorKind};

    use super::*;
    use crate::MissingSecret;

    #[test]
    fn category_and_help_per_variant() {
        let missing = |reference: &str, reason| MissingSecret {
            env_var: "SECRET_KEY".into(),
            reference: reference.into(),
            reason,
        };
        let cases: Vec<(SecretsError, Category, Vec<&str>)> = vec![
            (
                SecretsError::Aws {
                    operation: "DescribeSecret",
                    secret: "budgetsync/secret-key".into(),
                    error: Classified {
                        kind: ErrorKind::AccessDenied,
                        code: Some("AccessDeniedException".into()),
                        message: None,
                        request_id: None,
                    },
                },
                Category::Aws,
                vec![ErrorKind::AccessDenied.help()],
            ),
            (
                SecretsError::Missing {
                    missing: vec![
                        missing("budgetsync/secret-key", MissingReason::NotFound),
                        missing(
                            "budgetsync/old",
                            MissingReason::ScheduledForDeletion {
                                arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:budgetsync/old-AbCdEf".into(),
                            },
                        ),
                    ],
                },
                Category::Input,
                vec![
                    "create the secret `budgetsync/secret-key` in Secrets Manager",
                    "restore the secret `budgetsync/old`",
                    "[secrets]",
                ],
            ),
            (
                SecretsError::NotString {
                    secret: "bin".into(),
                },
                Category::Input,
                vec!["store `bin` as a string"],
            ),
            (
                SecretsError::Format {
                    secret: "rds!db-1".into(),
                    expected: r#"{"username": "...", "password": "..."}"#,
                    reason: "missing field".into(),
                },
                Category::Input,
                vec![r#"JSON like {"username""#],
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            let help = err.help().unwrap_or_default();
            for w in words {
                assert!(help.contains(w), "{err:?}: help {help:?} lacks {w:?}");
            }
            let shown = err.to_string();
            assert!(
                !shown.contains("fix:") && !shown.contains("xtask"),
                "{shown}"
            );
        }
    }
}
