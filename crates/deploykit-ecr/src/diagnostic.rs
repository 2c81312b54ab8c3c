//! [`Diagnostic`] for [`EcrError`]: its class and plain advice.

use deploykit_report::{Category, Diagnostic};

use crate::EcrError;

impl Diagnostic for EcrError {
    fn category(&self) -> Category {
        match self {
            EcrError::Aws { classified, .. } => classified.category(),
            EcrError::Token { .. } | EcrError::Push { .. } => Category::Aws,
            EcrError::Docker { .. } => Category::Internal,
            EcrError::Timeout { .. } => Category::Timeout,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            EcrError::Aws { classified, .. } => classified.help().to_string(),
            EcrError::Token { .. } => {
                "retry; if it persists, check the ECR endpoint (the target's endpoint_url or AWS_ENDPOINT_URL)".into()
            }
            EcrError::Push { hint, .. } => hint.clone(),
            EcrError::Docker { .. } => {
                "check the Docker Engine (`docker info`) and that the image exists locally".into()
            }
            EcrError::Timeout { .. } => {
                "raise the push timeout, or check the network between the Docker daemon and the registry".into()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use deploykit_aws::{Classified, ErrorKind};

    use super::*;

    fn aws(kind: ErrorKind, code: &str) -> EcrError {
        EcrError::Aws {
            operation: "CreateRepository",
            repository: "budgetsync".into(),
            classified: Box::new(Classified {
                kind,
                code: Some(code.into()),
                message: None,
                request_id: Some("req-1".into()),
            }),
        }
    }

    #[test]
    fn category_and_help_per_variant() {
        let cases: Vec<(EcrError, Category, &str)> = vec![
            (
                aws(ErrorKind::AccessDenied, "AccessDeniedException"),
                Category::Aws,
                ErrorKind::AccessDenied.help(),
            ),
            (
                aws(ErrorKind::QuotaExceeded, "LimitExceededException"),
                Category::Aws,
                "quota",
            ),
            (
                EcrError::Token {
                    reason: "not base64".into(),
                },
                Category::Aws,
                "AWS_ENDPOINT_URL",
            ),
            (
                EcrError::Push {
                    image: "r/budgetsync:abc".into(),
                    message: "unauthorized".into(),
                    hint: crate::push_hint("unauthorized: authentication required"),
                },
                Category::Aws,
                "fresh token",
            ),
            (
                EcrError::Timeout {
                    image: "r/budgetsync:abc".into(),
                    timeout: Duration::from_secs(1800),
                },
                Category::Timeout,
                "raise the push timeout",
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            let help = err.help().unwrap_or_default();
            assert!(
                help.contains(words),
                "{err:?}: help {help:?} lacks {words:?}"
            );
            assert!(
                !err.to_string().contains(&help),
                "advice is not repeated in Display: {err}"
            );
        }
        // Display keeps what failed: operation, repository, code, request id.
        let s = aws(ErrorKind::AccessDenied, "AccessDeniedException").to_string();
        for fact in [
            "CreateRepository",
            "budgetsync",
            "AccessDeniedException",
            "req-1",
        ] {
            assert!(s.contains(fact), "{s} lacks {fact}");
        }
    }
}
