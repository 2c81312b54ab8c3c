//! Route 53 for the pipelines: the one zone lookup every command that writes records uses
//! (`https ensure`, `apprunner domain add`), and the hosted zone itself (`dns zone ensure`).

use deploykit_config::HostedZone;
use deploykit_dns::{Zone, ZoneInfo, ZoneOutcome, ZonePlan, ZoneRef};
use deploykit_report::Reporter;

use crate::{Error, Result, Session};

/// deploy.toml's `hosted_zone` as deploykit-dns's lookup: an id, or (`auto`, unset) the public
/// zone with the longest name the domain ends with.
pub fn zone_ref(hosted_zone: Option<&HostedZone>) -> ZoneRef {
    match hosted_zone {
        Some(HostedZone::Id(id)) => ZoneRef::Id(id.clone()),
        Some(HostedZone::Auto) | None => ZoneRef::Longest,
    }
}

/// The session's Route 53 client.
pub fn client(s: &Session) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&s.sdk)
}

/// Refuses what is not a domain name (before any call). A zone is never a wildcard.
pub fn check_domain(domain: &str, wildcard_ok: bool) -> Result<String> {
    let bad = |why: String| Error::BadDomain {
        domain: domain.to_string(),
        why,
    };
    deploykit_config::rules::domain_name(domain).map_err(bad)?;
    if !wildcard_ok && domain.starts_with("*.") {
        return Err(bad(format!(
            "`{domain}` is a wildcard; a hosted zone is named after a domain, like `example.com`"
        )));
    }
    Ok(deploykit_dns::normalize_name(domain))
}

/// The hosted zone that holds `domain`: the one lookup of every command that writes records
/// (`https ensure`'s validation records, `apprunner domain add`'s), by deploy.toml's
/// `hosted_zone` (an id, or `auto`/unset: the longest public zone the domain ends with).
pub async fn find_zone(
    s: &Session,
    domain: &str,
    hosted_zone: Option<&HostedZone>,
) -> Result<Zone> {
    Ok(find_zone_in(&s.sdk, domain, hosted_zone).await?)
}

/// [`find_zone`] for a caller holding only an `SdkConfig`; keeps deploykit-dns's error.
pub async fn find_zone_in(
    sdk: &aws_types::SdkConfig,
    domain: &str,
    hosted_zone: Option<&HostedZone>,
) -> std::result::Result<Zone, deploykit_dns::DnsError> {
    deploykit_dns::find_zone(
        &aws_sdk_route53::Client::new(sdk),
        domain,
        &zone_ref(hosted_zone),
    )
    .await
}

/// What `zone ensure` would do for `domain`. Reads only.
pub async fn plan_zone(s: &Session, domain: &str) -> Result<ZonePlan> {
    let d = check_domain(domain, false)?;
    Ok(deploykit_dns::zone::plan_zone_for(&client(s), &d).await?)
}

/// The public zone that holds `domain` and its name servers; `None` when there is none.
pub async fn zone_status(s: &Session, domain: &str) -> Result<Option<ZoneInfo>> {
    let d = check_domain(domain, false)?;
    Ok(deploykit_dns::zone_status(&client(s), &d).await?)
}

/// Finds or creates the public zone for `domain`, with the name servers to give the registrar.
pub async fn ensure_zone(s: &Session, domain: &str, r: &dyn Reporter) -> Result<ZoneOutcome> {
    let d = check_domain(domain, false)?;
    Ok(deploykit_dns::ensure_zone(&client(s), &d, r).await?)
}
