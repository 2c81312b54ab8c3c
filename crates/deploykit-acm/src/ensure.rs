//! The calls: list and describe certificates, request one, write its validation records to
//! Route 53 (deploykit-dns), wait bounded for `ISSUED`.

use std::time::Instant;

use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, ValidationMethod};
use deploykit_dns::{PlannedRecord, UpsertOutcome, Zone, ZoneRef, normalize_name};
use deploykit_report::{Event, Level, Reporter, StepTimer, WaitOptions};

use crate::{
    AcmError, CertPlan, Certificate, CertificateSpec, REUSABLE, ValidationRecord, aws_err,
    plan_certificate, records_to_write,
};

/// How `ensure_certificate` finds the zone and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsureOptions {
    /// Where the validation records go: a zone id, or the longest public zone per record.
    pub zone: ZoneRef,
    /// Bounds both waits: for ACM to publish the validation records, and for `ISSUED`.
    pub wait: WaitOptions,
}

/// The end of `ensure_certificate`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateOutcome {
    pub certificate: Certificate,
    pub plan: CertPlan,
    /// True when this run requested the certificate.
    pub requested: bool,
    /// True when the certificate was ISSUED before this run.
    pub was_issued: bool,
    /// One upsert per hosted zone the validation records went to.
    pub dns: Vec<UpsertOutcome>,
}

impl CertificateOutcome {
    /// Nothing was requested, no record written, and the certificate was ISSUED already.
    pub fn unchanged(&self) -> bool {
        !self.requested && self.was_issued && self.dns.iter().all(UpsertOutcome::unchanged)
    }
}

/// What `status` (and a dry run) sees: the plan, the certificate it would use, and what the
/// validation records would need.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateCheck {
    pub spec: CertificateSpec,
    pub plan: CertPlan,
    /// The certificate the plan reuses; `None` when one would be requested.
    pub certificate: Option<Certificate>,
    /// The validation records against their zones (empty without a certificate).
    pub records: Vec<PlannedRecord>,
}

impl CertificateCheck {
    /// ISSUED, and its validation records are in place (ACM renews with them).
    pub fn is_clean(&self) -> bool {
        self.certificate
            .as_ref()
            .is_some_and(Certificate::is_issued)
            && self
                .records
                .iter()
                .all(|r| r.action == deploykit_dns::RecordAction::Unchanged)
    }
}

fn certificate_of(d: &CertificateDetail) -> Certificate {
    let domain = normalize_name(d.domain_name().unwrap_or_default());
    let mut names: Vec<String> = d
        .subject_alternative_names()
        .iter()
        .map(|n| normalize_name(n))
        .collect();
    if !names.contains(&domain) {
        names.push(domain.clone());
    }
    names.sort();
    names.dedup();
    Certificate {
        arn: d.certificate_arn().unwrap_or_default().to_string(),
        domain,
        names,
        status: d
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        failure_reason: d.failure_reason().map(|f| f.as_str().to_string()),
        in_use_by: d.in_use_by().to_vec(),
        validation: d
            .domain_validation_options()
            .iter()
            .filter_map(|v| {
                let rr = v.resource_record()?;
                Some(ValidationRecord {
                    domain: normalize_name(v.domain_name()),
                    name: rr.name().to_string(),
                    record_type: rr.r#type().as_str().to_string(),
                    value: rr.value().to_string(),
                    status: v.validation_status().map(|s| s.as_str().to_string()),
                })
            })
            .collect(),
    }
}

/// Whether every name of `d` has its validation record (ACM adds them shortly after the
/// request).
fn records_complete(d: &CertificateDetail) -> bool {
    let opts = d.domain_validation_options();
    !opts.is_empty() && opts.iter().all(|v| v.resource_record().is_some())
}

async fn describe_detail(
    client: &aws_sdk_acm::Client,
    arn: &str,
) -> Result<CertificateDetail, AcmError> {
    let out = client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(|e| aws_err("DescribeCertificate", arn, &e))?;
    out.certificate()
        .cloned()
        .ok_or_else(|| AcmError::NotIssuable {
            arn: arn.to_string(),
            domain: String::new(),
            status: "missing".into(),
            reason: Some("DescribeCertificate returned no certificate".into()),
        })
}

/// One certificate, described.
pub async fn describe(client: &aws_sdk_acm::Client, arn: &str) -> Result<Certificate, AcmError> {
    Ok(certificate_of(&describe_detail(client, arn).await?))
}

/// The ARNs and domains of the region's certificates in `statuses`, every page.
async fn list(
    client: &aws_sdk_acm::Client,
    statuses: &[&str],
) -> Result<Vec<(String, String)>, AcmError> {
    let mut pages = client
        .list_certificates()
        .set_certificate_statuses(Some(
            statuses
                .iter()
                .map(|s| CertificateStatus::from(*s))
                .collect(),
        ))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages
        .try_next()
        .await
        .map_err(|e| aws_err("ListCertificates", "the region's certificates", &e))?
    {
        for s in page.certificate_summary_list() {
            if let Some(arn) = s.certificate_arn() {
                out.push((
                    arn.to_string(),
                    normalize_name(s.domain_name().unwrap_or_default()),
                ));
            }
        }
    }
    Ok(out)
}

/// The region's ISSUED and PENDING_VALIDATION certificates for the spec's domain, described
/// (their full list of names and validation records).
pub async fn find_certificates(
    client: &aws_sdk_acm::Client,
    spec: &CertificateSpec,
) -> Result<Vec<Certificate>, AcmError> {
    let domain = spec.domain();
    let mut out = Vec::new();
    for (arn, d) in list(client, REUSABLE).await? {
        if d == domain {
            out.push(describe(client, &arn).await?);
        }
    }
    Ok(out)
}

/// Whether a certificate name covers `domain` (`*.example.com` covers one label).
fn covers(name: &str, domain: &str) -> bool {
    let (n, d) = (normalize_name(name), normalize_name(domain));
    n == d
        || n.strip_prefix("*.")
            .is_some_and(|parent| d.split_once('.').is_some_and(|(_, rest)| rest == parent))
}

/// An ISSUED certificate in the region that covers `domain`: one whose primary domain is
/// `domain` first, else one listing it (or a wildcard over it) among its names; the lowest ARN
/// among equals. [`AcmError::NoCertificate`] when none does. Reads only.
pub async fn issued_certificate(
    client: &aws_sdk_acm::Client,
    domain: &str,
) -> Result<Certificate, AcmError> {
    let d = normalize_name(domain);
    let mut best: Option<Certificate> = None;
    for (arn, _) in list(client, &["ISSUED"]).await? {
        let c = describe(client, &arn).await?;
        if !c.is_issued() || !c.names.iter().any(|n| covers(n, &d)) {
            continue;
        }
        let key = |c: &Certificate| (c.domain != d, c.arn.clone());
        if best.as_ref().is_none_or(|b| key(&c) < key(b)) {
            best = Some(c);
        }
    }
    best.ok_or(AcmError::NoCertificate { domain: d })
}

/// Requests a DNS-validated certificate for the spec, with its idempotency token.
pub async fn request(
    client: &aws_sdk_acm::Client,
    spec: &CertificateSpec,
) -> Result<String, AcmError> {
    let sans = spec.requested_alternative_names();
    let out = client
        .request_certificate()
        .domain_name(spec.domain())
        .validation_method(ValidationMethod::Dns)
        .set_subject_alternative_names((!sans.is_empty()).then_some(sans))
        .idempotency_token(spec.idempotency_token())
        .send()
        .await
        .map_err(|e| aws_err("RequestCertificate", &spec.domain(), &e))?;
    out.certificate_arn()
        .map(str::to_string)
        .ok_or_else(|| AcmError::NotIssuable {
            arn: String::new(),
            domain: spec.domain(),
            status: "missing".into(),
            reason: Some("RequestCertificate returned no ARN".into()),
        })
}

/// Fails when the certificate can never become ISSUED by waiting.
fn check_issuable(c: &Certificate) -> Result<(), AcmError> {
    if REUSABLE.contains(&c.status.as_str()) {
        return Ok(());
    }
    Err(AcmError::NotIssuable {
        arn: c.arn.clone(),
        domain: c.domain.clone(),
        status: c.status.clone(),
        reason: c.failure_reason.clone(),
    })
}

/// Polls until `done` says the certificate is where we want it, bounded by `wait.timeout`.
async fn poll(
    client: &aws_sdk_acm::Client,
    arn: &str,
    what: &str,
    wait: WaitOptions,
    reporter: &dyn Reporter,
    done: impl Fn(&CertificateDetail) -> bool,
) -> Result<Certificate, AcmError> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        match describe_detail(client, arn).await {
            Ok(d) => {
                let c = certificate_of(&d);
                if c.status != last {
                    reporter.report(Event::Remote {
                        step: "https".into(),
                        source: "acm".into(),
                        level: Level::Info,
                        message: format!("certificate {arn}: {}", c.status),
                    });
                    last = c.status.clone();
                }
                if done(&d) {
                    return Ok(c);
                }
                check_issuable(&c)?;
            }
            Err(e) if e.aws_kind().is_some_and(|k| k.is_retryable()) => {
                reporter.report(Event::warn(format!("{e}; polling again")));
            }
            Err(e) => return Err(e),
        }
        let waited = started.elapsed();
        if waited >= wait.timeout {
            return Err(AcmError::Timeout {
                what: what.to_string(),
                waited,
            });
        }
        reporter.report(Event::Waiting {
            step: "https".into(),
            for_what: format!(
                "{what} ({})",
                if last.is_empty() {
                    "not seen yet"
                } else {
                    &last
                }
            ),
            waited,
            timeout: wait.timeout,
        });
        tokio::time::sleep(wait.poll.min(wait.timeout.saturating_sub(waited))).await;
    }
}

/// The certificate once ACM has published its DNS validation records (or it is ISSUED
/// already, as an imported certificate is without any).
pub async fn validation_records(
    client: &aws_sdk_acm::Client,
    arn: &str,
    wait: WaitOptions,
    reporter: &dyn Reporter,
) -> Result<Certificate, AcmError> {
    let what = format!("ACM to publish the DNS validation records of {arn}");
    poll(client, arn, &what, wait, reporter, |d| {
        records_complete(d) || d.status() == Some(&CertificateStatus::Issued)
    })
    .await
}

/// Waits until the certificate is ISSUED; fails at once when it becomes FAILED, EXPIRED,
/// REVOKED, INACTIVE or VALIDATION_TIMED_OUT.
pub async fn wait_issued(
    client: &aws_sdk_acm::Client,
    arn: &str,
    domain: &str,
    wait: WaitOptions,
    reporter: &dyn Reporter,
) -> Result<Certificate, AcmError> {
    let what = format!("ACM certificate for {domain} to be ISSUED (DNS validation of {arn})");
    poll(client, arn, &what, wait, reporter, |d| {
        d.status() == Some(&CertificateStatus::Issued)
    })
    .await
}

/// The zone of each record, records grouped by zone in first-seen order.
async fn zones_for(
    r53: &aws_sdk_route53::Client,
    records: &[deploykit_dns::Record],
    zone: &ZoneRef,
) -> Result<Vec<(Zone, Vec<deploykit_dns::Record>)>, AcmError> {
    let mut out: Vec<(Zone, Vec<deploykit_dns::Record>)> = Vec::new();
    for r in records {
        let z = deploykit_dns::find_zone(r53, &r.name, zone).await?;
        match out.iter_mut().find(|(oz, _)| oz.id == z.id) {
            Some((_, rs)) => rs.push(r.clone()),
            None => out.push((z, vec![r.clone()])),
        }
    }
    Ok(out)
}

/// Reads only: the plan, the certificate it would reuse, and its validation records against
/// Route 53.
pub async fn certificate_status(
    acm: &aws_sdk_acm::Client,
    r53: &aws_sdk_route53::Client,
    spec: &CertificateSpec,
    zone: &ZoneRef,
) -> Result<CertificateCheck, AcmError> {
    let existing = find_certificates(acm, spec).await?;
    let plan = plan_certificate(spec, &existing);
    let certificate = plan
        .arn()
        .and_then(|arn| existing.iter().find(|c| c.arn == arn).cloned());
    let mut records = Vec::new();
    if let Some(c) = &certificate {
        for (z, rs) in zones_for(r53, &records_to_write(&c.validation), zone).await? {
            let names: Vec<String> = rs.iter().map(|r| r.name.clone()).collect();
            let existing = deploykit_dns::existing_records(r53, &z, &names).await?;
            records.extend(deploykit_dns::plan_changes(&z.name, &rs, &existing)?);
        }
    }
    Ok(CertificateCheck {
        spec: spec.clone(),
        plan,
        certificate,
        records,
    })
}

/// Reuses or requests the certificate, writes its validation records to Route 53 and waits
/// until it is ISSUED. A second run requests nothing, writes nothing and says "unchanged".
pub async fn ensure_certificate(
    acm: &aws_sdk_acm::Client,
    r53: &aws_sdk_route53::Client,
    spec: &CertificateSpec,
    opts: &EnsureOptions,
    reporter: &dyn Reporter,
) -> Result<CertificateOutcome, AcmError> {
    let names: Vec<String> = spec.names().into_iter().collect();
    let timer = StepTimer::start(
        reporter,
        "https",
        format!("an ACM certificate for {}", names.join(", ")),
    );
    let existing = find_certificates(acm, spec).await?;
    let plan = plan_certificate(spec, &existing);
    let (arn, requested, was_issued) = match &plan {
        CertPlan::Reuse { arn, status } => {
            reporter.report(Event::info(format!("reuse certificate {arn} ({status})")));
            (arn.clone(), false, status == "ISSUED")
        }
        CertPlan::Request {
            idempotency_token, ..
        } => {
            let arn = request(acm, spec).await?;
            reporter.report(Event::info(format!(
                "requested certificate {arn} (DNS validation, idempotency token {idempotency_token})"
            )));
            (arn, true, false)
        }
    };
    let cert = validation_records(acm, &arn, opts.wait, reporter).await?;
    let mut dns = Vec::new();
    for (z, rs) in zones_for(r53, &records_to_write(&cert.validation), &opts.zone).await? {
        dns.push(deploykit_dns::upsert_records(r53, &z, &rs, None, reporter).await?);
    }
    let certificate = if cert.is_issued() {
        cert
    } else {
        wait_issued(acm, &arn, &spec.domain(), opts.wait, reporter).await?
    };
    let out = CertificateOutcome {
        certificate,
        plan,
        requested,
        was_issued,
        dns,
    };
    if out.unchanged() {
        reporter.report(Event::StepSkipped {
            step: "https".into(),
            reason: format!("unchanged: certificate {arn} is ISSUED and its records are in place"),
        });
    }
    timer.finish(reporter, format!("certificate {arn} ISSUED"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        let cases = [
            ("example.com", "example.com", true),
            ("Example.com.", "example.com", true),
            ("*.example.com", "app.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "a.b.example.com", false),
            ("app.example.com", "www.app.example.com", false),
        ];
        for (name, domain, want) in cases {
            assert_eq!(covers(name, domain), want, "{name} covers {domain}");
        }
    }
}
