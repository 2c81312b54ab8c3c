//! [`Diagnostic`] for [`DnsError`]: its class and plain advice.

use deploykit_report::{Category, Diagnostic};

use crate::DnsError;

impl Diagnostic for DnsError {
    fn category(&self) -> Category {
        match self {
            DnsError::Aws { classified, .. } => classified.category(),
            DnsError::NoZone { .. }
            | DnsError::OutsideZone { .. }
            | DnsError::AmbiguousZone { .. }
            | DnsError::Conflict { .. } => Category::Input,
            // The caller asked for a record its own zone cannot hold: a bug, not the user's.
            DnsError::RecordOutsideZone { .. } => Category::Internal,
            DnsError::Timeout { .. } => Category::Timeout,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            DnsError::Aws { classified, .. } => classified.help().to_string(),
            DnsError::NoZone { .. } => "create the hosted zone (a public zone named after the domain or a parent of it), set `hosted_zone` to its id, or leave DNS out and create the records by hand".into(),
            DnsError::OutsideZone { .. } => {
                "set `hosted_zone` to the zone that holds the domain, or to `auto`".into()
            }
            DnsError::AmbiguousZone { .. } => {
                "set `hosted_zone` to the id of the right zone".into()
            }
            DnsError::Conflict { name, .. } => {
                format!("delete the record at {name} (or pick another domain) and run again")
            }
            DnsError::RecordOutsideZone { .. } => return None,
            DnsError::Timeout { .. } => {
                "the change may still complete; wait longer (raise the timeout) and check again".into()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use deploykit_aws::{Classified, ErrorKind};

    use super::*;

    #[test]
    fn category_and_help_per_variant() {
        // (error, category, words the help must contain; None: no help)
        let cases: Vec<(DnsError, Category, Option<&str>)> = vec![
            (
                DnsError::Aws {
                    operation: "ChangeResourceRecordSets",
                    subject: "Z1".into(),
                    classified: Box::new(Classified {
                        kind: ErrorKind::Throttling,
                        code: Some("Throttling".into()),
                        message: None,
                        request_id: None,
                    }),
                },
                Category::Aws,
                Some(ErrorKind::Throttling.help()),
            ),
            (
                DnsError::NoZone {
                    domain: "app.example.com".into(),
                    tried: vec!["app.example.com".into(), "example.com".into()],
                },
                Category::Input,
                Some("create the hosted zone"),
            ),
            (
                DnsError::OutsideZone {
                    domain: "app.example.org".into(),
                    zone_id: "Z1".into(),
                    zone_name: "example.com.".into(),
                },
                Category::Input,
                Some("`auto`"),
            ),
            (
                DnsError::AmbiguousZone {
                    domain: "app.example.com".into(),
                    zone_name: "example.com.".into(),
                    ids: vec!["Z1".into(), "Z2".into()],
                },
                Category::Input,
                Some("id of the right zone"),
            ),
            (
                DnsError::Conflict {
                    name: "app.example.com.".into(),
                    existing_type: "A".into(),
                    zone_name: "example.com.".into(),
                },
                Category::Input,
                Some("delete the record at app.example.com."),
            ),
            (
                DnsError::RecordOutsideZone {
                    name: "app.example.com".into(),
                    zone_name: "example.org.".into(),
                },
                Category::Internal,
                None,
            ),
            (
                DnsError::Timeout {
                    what: "change C1 to be INSYNC".into(),
                    waited: Duration::from_secs(300),
                },
                Category::Timeout,
                Some("raise the timeout"),
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            let help = err.help();
            assert_eq!(help.is_some(), words.is_some(), "{err:?}: {help:?}");
            if let (Some(h), Some(w)) = (&help, words) {
                assert!(h.contains(w), "{err:?}: help {h:?} lacks {w:?}");
            }
            let shown = err.to_string();
            assert!(
                !shown.contains("--"),
                "no command-line flags in Display: {shown}"
            );
        }
    }
}
