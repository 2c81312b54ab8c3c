//! `[eb] load_balanced`: the certificate for the environment's HTTPS listener (the seed's
//! upgrade path, deploykit-eb's `lb` module plans the rest).

use deploykit_eb::LoadBalancer;

use crate::{Result, Session};

/// The listener's certificate: `[eb] certificate_arn`, else the ISSUED ACM certificate of the
/// domain (`[eb] domain`, else `[https] domain`) in the target's region: none is refused before
/// any change (`https ensure` makes one). No domain either: `None`, and the planner refuses.
pub(crate) async fn listener_certificate(s: &Session, lb: &LoadBalancer) -> Result<Option<String>> {
    if let Some(arn) = &lb.certificate_arn {
        return Ok(Some(arn.clone()));
    }
    match &lb.domain {
        Some(d) => crate::https::certificate_for(s, d).await.map(Some),
        None => Ok(None),
    }
}

/// After a deploy: the Route 53 record of the domain (`[eb] domain`, else `[https] domain`)
/// in `[eb] hosted_zone` (no zone, no record): an alias A record to the load balancer when load-balanced, a CNAME to the
/// environment's CNAME otherwise, replacing the other kind. A second run makes no change.
pub(crate) async fn domain_record(
    s: &crate::eb::EbSession,
    outcome: &deploykit_eb::DeployOutcome,
    r: &dyn deploykit_report::Reporter,
) -> std::result::Result<Option<deploykit_dns::EnvRecordOutcome>, deploykit_dns::DnsError> {
    let e = &s.session.target.eb;
    let https_domain = s.session.target.https.as_ref().map(|h| &h.domain);
    let (Some(domain), Some(zone)) = (e.domain.as_ref().or(https_domain), &e.hosted_zone) else {
        return Ok(None);
    };
    let target = match (
        &s.target.load_balancer,
        &outcome.endpoint_url,
        &outcome.cname,
    ) {
        (Some(_), Some(alb), _) => {
            let Some(zone_id) = deploykit_dns::env_record::alb_hosted_zone(&s.target.region) else {
                r.report(deploykit_report::Event::warn(format!(
                    "no Application Load Balancer hosted zone is known for {}: point {domain} at {alb} (an alias A record) by hand",
                    s.target.region
                )));
                return Ok(None);
            };
            deploykit_dns::EnvTarget::Alias {
                dns_name: alb.clone(),
                hosted_zone_id: zone_id.to_string(),
            }
        }
        (None, _, Some(cname)) => deploykit_dns::EnvTarget::Cname {
            value: cname.clone(),
        },
        _ => return Ok(None),
    };
    let client = crate::dns::client(&s.session);
    let zone = deploykit_dns::find_zone(&client, domain, &crate::dns::zone_ref(Some(zone))).await?;
    deploykit_dns::ensure_env_record(&client, &zone, domain, &target, None, r)
        .await
        .map(Some)
}
