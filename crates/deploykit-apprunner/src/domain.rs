//! Custom domains: associate a domain with a service (adopting an existing association) and
//! wait until App Runner has validated its certificate.
//!
//! The DNS records themselves are someone else's job (`deploykit-dns`, or a human): this module
//! only says which records App Runner wants, as plain [`DnsRecord`]s.

use std::time::Instant;

use aws_sdk_apprunner::types::CustomDomain;
use deploykit_aws::{ErrorKind, classify};
use deploykit_report::{Event, Level, Reporter};

use crate::{AppRunnerError, WaitOptions, aws_err};

/// One DNS record App Runner asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DnsRecord {
    /// Fully qualified, as App Runner gives it (often with a trailing dot).
    pub name: String,
    /// `CNAME` for everything App Runner asks for today.
    #[serde(rename = "type")]
    pub record_type: String,
    pub value: String,
}

/// A domain's association with a service: where it must point and how its certificate is validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DomainRecords {
    pub domain: String,
    /// The service's DNS target: `domain` (and `www.domain`) need a CNAME to it.
    pub cname_target: String,
    /// Whether `www.<domain>` is associated too.
    pub www: bool,
    /// ACM certificate validation records.
    pub validation: Vec<DnsRecord>,
    /// App Runner's association status, e.g. `PENDING_CERTIFICATE_DNS_VALIDATION`, `ACTIVE`.
    pub status: String,
    /// False when the domain was associated already and this run adopted it.
    pub newly_associated: bool,
}

impl DomainRecords {
    /// Every record to create: the CNAME(s) to the service, then the validation records.
    pub fn all_records(&self) -> Vec<DnsRecord> {
        let mut out = vec![DnsRecord {
            name: self.domain.clone(),
            record_type: "CNAME".into(),
            value: self.cname_target.clone(),
        }];
        if self.www {
            out.push(DnsRecord {
                name: format!("www.{}", self.domain),
                record_type: "CNAME".into(),
                value: self.cname_target.clone(),
            });
        }
        out.extend(self.validation.iter().cloned());
        out
    }

    /// Whether App Runner serves the domain (certificate validated).
    pub fn is_active(&self) -> bool {
        is_active(&self.status)
    }
}

/// App Runner documents lowercase statuses and the SDK models uppercase ones: compare both.
fn is_active(status: &str) -> bool {
    status.eq_ignore_ascii_case("active")
}

/// Statuses from which the association never becomes active by itself.
fn is_failed(status: &str) -> bool {
    ["create_failed", "delete_failed", "deleting"]
        .iter()
        .any(|s| status.eq_ignore_ascii_case(s))
}

fn normalize(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

fn records_of(domain: &str, target: &str, d: &CustomDomain, newly: bool) -> DomainRecords {
    DomainRecords {
        domain: normalize(domain),
        cname_target: target.to_string(),
        www: d.enable_www_subdomain(),
        validation: d
            .certificate_validation_records()
            .iter()
            .map(|v| DnsRecord {
                name: v.name().unwrap_or_default().to_string(),
                record_type: v.r#type().unwrap_or("CNAME").to_string(),
                value: v.value().unwrap_or_default().to_string(),
            })
            .collect(),
        status: d.status().as_str().to_string(),
        newly_associated: newly,
    }
}

/// The association of `domain` with the service at `service_arn`, if any.
pub async fn describe_domain(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    service_arn: &str,
    domain: &str,
) -> Result<Option<DomainRecords>, AppRunnerError> {
    let want = normalize(domain);
    let mut pages = client
        .describe_custom_domains()
        .service_arn(service_arn)
        .into_paginator()
        .send();
    while let Some(out) = pages
        .try_next()
        .await
        .map_err(|e| aws_err("DescribeCustomDomains", service, &e))?
    {
        if let Some(d) = out
            .custom_domains()
            .iter()
            .find(|d| normalize(d.domain_name()) == want)
        {
            return Ok(Some(records_of(&want, out.dns_target(), d, false)));
        }
    }
    Ok(None)
}

/// Associates `domain` (and `www.domain` when `www`) with the service at `service_arn`.
///
/// Idempotent: when AWS refuses because the domain is already associated, the existing
/// association is read back and its records are returned (`newly_associated: false`).
pub async fn associate_domain(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    service_arn: &str,
    domain: &str,
    www: bool,
    reporter: &dyn Reporter,
) -> Result<DomainRecords, AppRunnerError> {
    let want = normalize(domain);
    match client
        .associate_custom_domain()
        .service_arn(service_arn)
        .domain_name(&want)
        .enable_www_subdomain(www)
        .send()
        .await
    {
        Ok(out) => {
            let records = match out.custom_domain() {
                Some(d) => records_of(&want, out.dns_target(), d, true),
                None => DomainRecords {
                    domain: want.clone(),
                    cname_target: out.dns_target().to_string(),
                    www,
                    validation: Vec::new(),
                    status: String::new(),
                    newly_associated: true,
                },
            };
            reporter.report(Event::info(format!(
                "associated {want} with {service} ({})",
                records.status
            )));
            Ok(records)
        }
        Err(e) => {
            // "Already associated" comes back as a validation error (InvalidRequestException);
            // whether that is what happened is decided by looking, not by the message.
            let c = classify(&e);
            if matches!(c.kind, ErrorKind::Validation | ErrorKind::AlreadyExists)
                && let Some(existing) = describe_domain(client, service, service_arn, &want).await?
            {
                if existing.www != www {
                    reporter.report(Event::warn(format!(
                        "{want} is associated already with www subdomain {}; keeping it (disassociate it to change that)",
                        if existing.www { "on" } else { "off" }
                    )));
                }
                reporter.report(Event::info(format!(
                    "{want} is associated with {service} already ({}); reusing its records",
                    existing.status
                )));
                return Ok(existing);
            }
            Err(aws_err("AssociateCustomDomain", service, &e))
        }
    }
}

/// Polls DescribeCustomDomains until `domain` is active (certificate validated), bounded by
/// `wait.timeout`. A failed or vanished association ends the wait with an error.
pub async fn wait_domain(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    service_arn: &str,
    domain: &str,
    wait: WaitOptions,
    reporter: &dyn Reporter,
) -> Result<DomainRecords, AppRunnerError> {
    let want = normalize(domain);
    let started = Instant::now();
    let mut last: Option<String> = None;
    loop {
        match describe_domain(client, service, service_arn, &want).await {
            Ok(Some(d)) => {
                if last.as_deref() != Some(d.status.as_str()) {
                    let level = if is_failed(&d.status) {
                        Level::Error
                    } else {
                        Level::Info
                    };
                    reporter.report(Event::Remote {
                        step: "domain".into(),
                        source: "apprunner".into(),
                        level,
                        message: format!("{want}: {}", d.status),
                    });
                    last = Some(d.status.clone());
                }
                if d.is_active() {
                    return Ok(d);
                }
                if is_failed(&d.status) {
                    return Err(AppRunnerError::Blocked {
                        service: service.to_string(),
                        status: format!("custom domain {want} {}", d.status),
                        what_to_do: "disassociate the domain (console or `aws apprunner disassociate-custom-domain`) and add it again".into(),
                    });
                }
            }
            Ok(None) => {
                return Err(AppRunnerError::Invalid {
                    service: service.to_string(),
                    message: format!(
                        "custom domain {want} is not associated with the service; associate it first (App Runner custom domains)"
                    ),
                });
            }
            Err(e) if e.aws_kind().is_some_and(ErrorKind::is_retryable) => {
                reporter.report(Event::warn(format!(
                    "DescribeCustomDomains for {service}: {e}; polling again"
                )));
            }
            Err(e) => return Err(e),
        }
        let waited = started.elapsed();
        if waited >= wait.timeout {
            return Err(AppRunnerError::Timeout {
                what: format!(
                    "custom domain {want} to become active ({}); are the validation records in DNS?",
                    last.as_deref().unwrap_or("not listed yet")
                ),
                waited,
            });
        }
        reporter.report(Event::Waiting {
            step: "domain".into(),
            for_what: format!(
                "certificate of {want} on {service} ({})",
                last.as_deref().unwrap_or("not listed yet")
            ),
            waited,
            timeout: wait.timeout,
        });
        tokio::time::sleep(wait.poll.min(wait.timeout.saturating_sub(waited))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_compare_in_either_case() {
        assert!(is_active("ACTIVE") && is_active("active"));
        assert!(!is_active("PENDING_CERTIFICATE_DNS_VALIDATION"));
        assert!(is_failed("create_failed") && is_failed("CREATE_FAILED"));
        assert!(!is_failed("binding_certificate"));
    }

    #[test]
    fn all_records_lists_cnames_then_validation() {
        let d = DomainRecords {
            domain: "app.example.com".into(),
            cname_target: "abc.us-east-1.awsapprunner.com".into(),
            www: true,
            validation: vec![DnsRecord {
                name: "_x.app.example.com.".into(),
                record_type: "CNAME".into(),
                value: "_y.acm-validations.aws.".into(),
            }],
            status: "PENDING_CERTIFICATE_DNS_VALIDATION".into(),
            newly_associated: true,
        };
        let names: Vec<String> = d.all_records().into_iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "app.example.com",
                "www.app.example.com",
                "_x.app.example.com."
            ]
        );
    }
}
