//! `[https]`: the ACM certificate for the target's domain(s), in the target's region (the EB
//! environment's load balancer and the App Runner service live there; an ALB can only use a
//! certificate of its own region), DNS-validated through the zone [`crate::dns`] finds.

use std::time::Duration;

use deploykit_acm::{CertificateSpec, EnsureOptions};
use deploykit_config::{Https, ResolvedTarget};
use deploykit_report::{Reporter, WaitOptions};

use crate::{Error, Result, Session};

pub use deploykit_acm::{CertPlan, Certificate, CertificateCheck, CertificateOutcome};

/// `[https]` as deploykit-acm's spec.
pub fn spec(h: &Https) -> CertificateSpec {
    CertificateSpec::new(h.domain.clone(), h.alternative_names.clone())
}

/// How often to ask ACM: the local cloud issues within seconds, AWS within minutes.
fn poll(t: &ResolvedTarget) -> Duration {
    if t.local {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(15)
    }
}

/// The target's `[https]`; refused (before any call) when deploy.toml has none.
pub fn config(t: &ResolvedTarget) -> Result<&Https> {
    t.https.as_ref().ok_or_else(|| Error::NoHttpsSection {
        target: t.name.clone(),
    })
}

/// The session's ACM client (the target's region).
pub fn client(s: &Session) -> aws_sdk_acm::Client {
    aws_sdk_acm::Client::new(&s.sdk)
}

/// The options `ensure` uses for the target: its `[https] hosted_zone` and `timeout`.
pub fn options(t: &ResolvedTarget, h: &Https) -> EnsureOptions {
    EnsureOptions {
        zone: crate::dns::zone_ref(Some(&h.hosted_zone)),
        wait: WaitOptions {
            poll: poll(t),
            timeout: h.timeout,
        },
    }
}

/// The certificate against deploy.toml: reuse or request, its status, its validation records
/// against Route 53. Reads only (the dry run and `status`).
pub async fn status(s: &Session) -> Result<CertificateCheck> {
    let h = config(&s.target)?;
    let zone = crate::dns::zone_ref(Some(&h.hosted_zone));
    Ok(
        deploykit_acm::certificate_status(&client(s), &crate::dns::client(s), &spec(h), &zone)
            .await?,
    )
}

/// Reuses or requests the certificate, writes its validation records, waits until ISSUED.
/// A second run changes nothing.
pub async fn ensure(s: &Session, r: &dyn Reporter) -> Result<CertificateOutcome> {
    let h = config(&s.target)?;
    Ok(deploykit_acm::ensure_certificate(
        &client(s),
        &crate::dns::client(s),
        &spec(h),
        &options(&s.target, h),
        r,
    )
    .await?)
}

/// The ARN of an ISSUED certificate in the session's region that covers `domain` (its own,
/// or a wildcard over it), for a load balancer's HTTPS listener. Reads only; refused with
/// [`deploykit_acm::AcmError::NoCertificate`] when there is none (`ensure` makes one).
pub async fn certificate_for(s: &Session, domain: &str) -> Result<String> {
    let d = crate::dns::check_domain(domain, true)?;
    Ok(deploykit_acm::issued_certificate(&client(s), &d).await?.arn)
}
