//! [`Diagnostic`] for [`AcmError`]: its class and plain advice.

use deploykit_report::{Category, Diagnostic};

use crate::AcmError;

impl Diagnostic for AcmError {
    fn category(&self) -> Category {
        match self {
            AcmError::Aws { classified, .. } => classified.category(),
            AcmError::Dns(d) => d.category(),
            AcmError::NotIssuable { .. } | AcmError::NoCertificate { .. } => Category::CheckFailed,
            AcmError::Timeout { .. } => Category::Timeout,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            AcmError::Aws { classified, .. } => classified.help().to_string(),
            AcmError::Dns(d) => return d.help(),
            AcmError::NotIssuable { .. } => {
                "this certificate will not be issued; the next run requests a new one (check that the domain's CAA records, if any, allow amazon.com)".into()
            }
            AcmError::NoCertificate { .. } => {
                "request one for the domain (DNS validation, in this region) and wait until it is ISSUED".into()
            }
            AcmError::Timeout { .. } => {
                "validation may still complete: check that the validation CNAMEs resolve publicly (the zone's name servers are set at the registrar), then raise the timeout and run again".into()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use deploykit_aws::{Classified, ErrorKind};
    use deploykit_dns::DnsError;

    use super::*;

    #[test]
    fn category_and_help_per_variant() {
        let cases: Vec<(AcmError, Category, &str)> = vec![
            (
                AcmError::Aws {
                    operation: "RequestCertificate",
                    subject: "example.com".into(),
                    classified: Box::new(Classified {
                        kind: ErrorKind::QuotaExceeded,
                        code: Some("LimitExceededException".into()),
                        message: None,
                        request_id: None,
                    }),
                },
                Category::Aws,
                ErrorKind::QuotaExceeded.help(),
            ),
            (
                AcmError::Dns(DnsError::NoZone {
                    domain: "example.com".into(),
                    tried: vec!["example.com".into(), "com".into()],
                }),
                Category::Input,
                "create the hosted zone",
            ),
            (
                AcmError::NotIssuable {
                    arn: "arn:aws:acm:us-east-1:123456789012:certificate/x".into(),
                    domain: "example.com".into(),
                    status: "FAILED".into(),
                    reason: Some("CAA_ERROR".into()),
                },
                Category::CheckFailed,
                "CAA",
            ),
            (
                AcmError::NoCertificate {
                    domain: "example.com".into(),
                },
                Category::CheckFailed,
                "ISSUED",
            ),
            (
                AcmError::Timeout {
                    what: "ISSUED".into(),
                    waited: Duration::from_secs(600),
                },
                Category::Timeout,
                "raise the timeout",
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
                !err.to_string().contains("--"),
                "no flags in Display: {err}"
            );
        }
    }
}
