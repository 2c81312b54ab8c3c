//! ACM for deploykit: the certificate a load balancer (or anything else in the service's
//! region) serves HTTPS with. Request it with DNS validation, or reuse a matching one; write
//! its validation CNAMEs to Route 53 through deploykit-dns; wait, bounded, until `ISSUED`.
//!
//! Plan then apply: [`plan_certificate`] is pure over the certificates that exist
//! ([`Certificate`]s), so "reuse or request" is tested without AWS. A second
//! [`ensure_certificate`] finds the first one's certificate and changes nothing. Libraries
//! never print: progress goes to the [`Reporter`] passed in.
//!
//! [`Reporter`]: deploykit_report::Reporter

use std::collections::BTreeSet;
use std::time::Duration;

use deploykit_aws::{Classified, ErrorKind, classify};
use deploykit_dns::{DnsError, normalize_name};
use sha2::{Digest, Sha256};

mod diagnostic;
mod ensure;

pub use deploykit_report::WaitOptions;
pub use ensure::{
    CertificateCheck, CertificateOutcome, EnsureOptions, certificate_status, describe,
    ensure_certificate, find_certificates, issued_certificate, request, validation_records,
    wait_issued,
};

/// ACM's statuses a certificate can be reused in: it serves, or it will once validated.
pub const REUSABLE: &[&str] = &["ISSUED", "PENDING_VALIDATION"];

#[derive(Debug, thiserror::Error)]
pub enum AcmError {
    #[error("ACM {operation} failed for {subject}: {classified}")]
    Aws {
        operation: &'static str,
        /// The certificate ARN or domain the call was about.
        subject: String,
        classified: Box<Classified>,
    },
    #[error(transparent)]
    Dns(#[from] DnsError),
    #[error("certificate {arn} for {domain} is {status}{}", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    NotIssuable {
        arn: String,
        domain: String,
        status: String,
        reason: Option<String>,
    },
    #[error("no ISSUED certificate in this region covers {domain}")]
    NoCertificate { domain: String },
    #[error("timed out after {}s waiting for {what}", waited.as_secs())]
    Timeout { what: String, waited: Duration },
}

impl AcmError {
    /// The AWS error kind, when this is an AWS error (of ACM or Route 53).
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            AcmError::Aws { classified, .. } => Some(classified.kind),
            AcmError::Dns(d) => d.aws_kind(),
            _ => None,
        }
    }
}

pub(crate) fn aws_err<E>(
    operation: &'static str,
    subject: &str,
    err: &aws_sdk_acm::error::SdkError<E, aws_sdk_acm::config::http::HttpResponse>,
) -> AcmError
where
    E: aws_sdk_acm::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    AcmError::Aws {
        operation,
        subject: subject.to_string(),
        classified: Box::new(classify(err)),
    }
}

/// The certificate wanted: a domain and its other names (SANs), all DNS-validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateSpec {
    pub domain: String,
    /// Other names the certificate covers (`www.example.com`, `*.example.com`); the domain
    /// itself need not be repeated.
    pub alternative_names: Vec<String>,
}

impl CertificateSpec {
    pub fn new(domain: impl Into<String>, alternative_names: Vec<String>) -> Self {
        CertificateSpec {
            domain: domain.into(),
            alternative_names,
        }
    }

    /// The domain, normalized (lowercase, no trailing dot).
    pub fn domain(&self) -> String {
        normalize_name(&self.domain)
    }

    /// Every name the certificate covers, the domain included, normalized and sorted.
    pub fn names(&self) -> BTreeSet<String> {
        std::iter::once(&self.domain)
            .chain(&self.alternative_names)
            .map(|n| normalize_name(n))
            .collect()
    }

    /// The SANs to request: the names other than the domain, sorted.
    pub fn requested_alternative_names(&self) -> Vec<String> {
        let d = self.domain();
        self.names().into_iter().filter(|n| *n != d).collect()
    }

    /// ACM's `IdempotencyToken` for this spec (`\w{1,32}`): the same names give the same
    /// token, so a request retried within the hour returns the first request's certificate.
    pub fn idempotency_token(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.domain().as_bytes());
        for n in self.names() {
            h.update(b"|");
            h.update(n.as_bytes());
        }
        let hex = hex::encode(h.finalize());
        format!("dk{}", &hex[..30])
    }
}

/// One DNS validation record ACM asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValidationRecord {
    /// The name it validates (`example.com`, `*.example.com`).
    pub domain: String,
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub value: String,
    /// ACM's validation status of that name (`PENDING_VALIDATION`, `SUCCESS`, ...).
    pub status: Option<String>,
}

/// A certificate in ACM, as far as planning cares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Certificate {
    pub arn: String,
    /// Normalized.
    pub domain: String,
    /// Every name it covers (ACM lists the domain among them), normalized and sorted.
    pub names: Vec<String>,
    /// `ISSUED`, `PENDING_VALIDATION`, `FAILED`, ...
    pub status: String,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// The resources using it (load balancers, ...).
    pub in_use_by: Vec<String>,
    /// The DNS validation records (empty until ACM has made them, a few seconds after the
    /// request).
    pub validation: Vec<ValidationRecord>,
}

impl Certificate {
    pub fn is_issued(&self) -> bool {
        self.status == "ISSUED"
    }

    /// Whether it covers exactly the names of `spec`, with the same primary domain.
    pub fn matches(&self, spec: &CertificateSpec) -> bool {
        let mine: BTreeSet<String> = self
            .names
            .iter()
            .map(|n| normalize_name(n))
            .chain(std::iter::once(normalize_name(&self.domain)))
            .collect();
        normalize_name(&self.domain) == spec.domain() && mine == spec.names()
    }
}

/// Reuse a certificate or request one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CertPlan {
    /// A certificate with the same domain and names exists, ISSUED or PENDING_VALIDATION.
    Reuse { arn: String, status: String },
    /// None does: request one (DNS validation) with this idempotency token.
    Request {
        domain: String,
        alternative_names: Vec<String>,
        idempotency_token: String,
    },
}

impl CertPlan {
    pub fn arn(&self) -> Option<&str> {
        match self {
            CertPlan::Reuse { arn, .. } => Some(arn),
            CertPlan::Request { .. } => None,
        }
    }
}

/// Decides whether to reuse one of `existing` or request a new certificate. Pure.
///
/// A certificate is reused when its domain and its set of names equal the spec's (case and
/// trailing dots aside) and it is ISSUED or PENDING_VALIDATION; an ISSUED one is preferred,
/// then the lowest ARN, so the choice is stable. FAILED, EXPIRED, REVOKED, INACTIVE and
/// VALIDATION_TIMED_OUT certificates are never reused: a new one is requested.
pub fn plan_certificate(spec: &CertificateSpec, existing: &[Certificate]) -> CertPlan {
    let best = existing
        .iter()
        .filter(|c| c.matches(spec) && REUSABLE.contains(&c.status.as_str()))
        .min_by(|a, b| (!a.is_issued(), &a.arn).cmp(&(!b.is_issued(), &b.arn)));
    match best {
        Some(c) => CertPlan::Reuse {
            arn: c.arn.clone(),
            status: c.status.clone(),
        },
        None => CertPlan::Request {
            domain: spec.domain(),
            alternative_names: spec.requested_alternative_names(),
            idempotency_token: spec.idempotency_token(),
        },
    }
}

/// The validation records to write: one per record name (ACM gives `example.com` and
/// `*.example.com` the same record), in a stable order. Pure.
pub fn records_to_write(validation: &[ValidationRecord]) -> Vec<deploykit_dns::Record> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for v in validation {
        if seen.insert(normalize_name(&v.name)) {
            out.push(deploykit_dns::Record {
                name: v.name.clone(),
                record_type: v.record_type.clone(),
                value: v.value.clone(),
            });
        }
    }
    out.sort_by_key(|a| normalize_name(&a.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(arn: &str, domain: &str, names: &[&str], status: &str) -> Certificate {
        Certificate {
            arn: arn.into(),
            domain: domain.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            status: status.into(),
            failure_reason: None,
            in_use_by: vec![],
            validation: vec![],
        }
    }

    #[test]
    fn plan_table() {
        let spec = CertificateSpec::new("App.Example.com.", vec!["www.app.example.com".into()]);
        let request = CertPlan::Request {
            domain: "app.example.com".into(),
            alternative_names: vec!["www.app.example.com".into()],
            idempotency_token: spec.idempotency_token(),
        };
        let reuse = |arn: &str, status: &str| CertPlan::Reuse {
            arn: arn.into(),
            status: status.into(),
        };
        let both = ["app.example.com", "www.app.example.com"];
        let cases: Vec<(&str, Vec<Certificate>, CertPlan)> = vec![
            ("nothing there", vec![], request.clone()),
            (
                "issued, same names (ACM lists the domain among them)",
                vec![cert("arn:1", "app.example.com", &both, "ISSUED")],
                reuse("arn:1", "ISSUED"),
            ),
            (
                "pending validation is reused too",
                vec![cert(
                    "arn:1",
                    "app.example.com.",
                    &["WWW.app.example.com."],
                    "PENDING_VALIDATION",
                )],
                reuse("arn:1", "PENDING_VALIDATION"),
            ),
            (
                "issued preferred over pending, whatever the order",
                vec![
                    cert("arn:0", "app.example.com", &both, "PENDING_VALIDATION"),
                    cert("arn:9", "app.example.com", &both, "ISSUED"),
                ],
                reuse("arn:9", "ISSUED"),
            ),
            (
                "failed and expired ones are not reused",
                vec![
                    cert("arn:1", "app.example.com", &both, "FAILED"),
                    cert("arn:2", "app.example.com", &both, "EXPIRED"),
                    cert("arn:3", "app.example.com", &both, "VALIDATION_TIMED_OUT"),
                ],
                request.clone(),
            ),
            (
                "a missing SAN is another certificate",
                vec![cert(
                    "arn:1",
                    "app.example.com",
                    &["app.example.com"],
                    "ISSUED",
                )],
                request.clone(),
            ),
            (
                "an extra SAN is another certificate",
                vec![cert(
                    "arn:1",
                    "app.example.com",
                    &["app.example.com", "www.app.example.com", "x.example.com"],
                    "ISSUED",
                )],
                request.clone(),
            ),
            (
                "same names, other primary domain",
                vec![cert("arn:1", "www.app.example.com", &both, "ISSUED")],
                request.clone(),
            ),
        ];
        for (name, existing, want) in cases {
            assert_eq!(plan_certificate(&spec, &existing), want, "{name}");
        }
    }

    #[test]
    fn idempotency_token_is_stable_and_valid() {
        let a = CertificateSpec::new("example.com", vec!["www.example.com".into()]);
        let b = CertificateSpec::new(
            "Example.com.",
            vec!["www.example.com".into(), "example.com".into()],
        );
        let c = CertificateSpec::new("example.com", vec![]);
        assert_eq!(a.idempotency_token(), b.idempotency_token());
        assert_ne!(a.idempotency_token(), c.idempotency_token());
        let t = a.idempotency_token();
        assert_eq!(t.len(), 32, "{t}");
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()), "{t}");
        assert_eq!(b.requested_alternative_names(), ["www.example.com"]);
    }

    #[test]
    fn validation_records_deduplicated_by_name() {
        let v = |domain: &str, name: &str| ValidationRecord {
            domain: domain.into(),
            name: name.into(),
            record_type: "CNAME".into(),
            value: "_x.acm-validations.aws.".into(),
            status: None,
        };
        let out = records_to_write(&[
            v("*.example.com", "_a.example.com."),
            v("www.example.com", "_b.www.example.com."),
            v("example.com", "_A.example.com"),
        ]);
        let names: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["_a.example.com.", "_b.www.example.com."]);
    }
}
