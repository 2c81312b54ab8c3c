//! Hosted zones themselves: find the public zone that holds a domain or create one for it
//! (retry-safe through a stable `CallerReference`), and the name servers to give the
//! registrar.
//!
//! [`plan_zone`] is pure over what the lookup found; [`ensure_zone`] applies it. A second run
//! finds the zone the first created and changes nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use deploykit_aws::ErrorKind;
use deploykit_report::{Event, Reporter, StepTimer};

use crate::{DnsError, Zone, ZoneRef, aws_err, find_zone, normalize_name, zone_id};

/// Longest `CallerReference` Route 53 accepts.
const CALLER_REFERENCE_MAX: usize = 128;

/// What `dns zone ensure` would do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ZonePlan {
    /// A public zone already holds the domain: the domain's own zone, or a parent's
    /// (`parent: true`: records for the domain go into that zone; nothing to create).
    Exists { zone: Zone, parent: bool },
    /// No public zone holds the domain: create one named after it.
    Create {
        name: String,
        caller_reference: String,
    },
}

impl ZonePlan {
    pub fn is_create(&self) -> bool {
        matches!(self, ZonePlan::Create { .. })
    }
}

/// A zone and its delegation set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZoneInfo {
    pub zone: Zone,
    /// The name servers to set at the domain's registrar (empty when Route 53 gave none).
    pub name_servers: Vec<String>,
}

/// The end of `ensure_zone`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZoneOutcome {
    #[serde(flatten)]
    pub info: ZoneInfo,
    /// True when this run created the zone.
    pub created: bool,
    /// True when the zone found is a parent of the domain (the domain is a name inside it).
    pub parent: bool,
}

impl ZoneOutcome {
    pub fn unchanged(&self) -> bool {
        !self.created
    }
}

/// The `CallerReference` for creating `domain`'s zone on day `day` (days since 1970): the same
/// within a day, so a retried request (after a timeout, or a second run racing the first)
/// cannot create a second zone; a new one the next day, because Route 53 refuses a reference
/// used before, even for a zone since deleted.
pub fn caller_reference(domain: &str, day: u64) -> String {
    let d = normalize_name(domain);
    let suffix = format!("-d{day}");
    let room = CALLER_REFERENCE_MAX - "deploykit-".len() - suffix.len();
    let name: String = d.chars().take(room).collect();
    format!("deploykit-{name}{suffix}")
}

/// Today, as days since 1970 (UTC).
pub fn today() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

/// Decides from what the lookup found. Pure.
pub fn plan_zone(domain: &str, found: Option<&Zone>, day: u64) -> ZonePlan {
    let d = normalize_name(domain);
    match found {
        Some(z) => ZonePlan::Exists {
            parent: z.name != d,
            zone: z.clone(),
        },
        None => ZonePlan::Create {
            caller_reference: caller_reference(&d, day),
            name: d,
        },
    }
}

/// The public zone with the longest name `domain` ends with, or `None` when there is none.
pub async fn lookup_zone(
    client: &aws_sdk_route53::Client,
    domain: &str,
) -> Result<Option<Zone>, DnsError> {
    match find_zone(client, domain, &ZoneRef::Longest).await {
        Ok(z) => Ok(Some(z)),
        Err(DnsError::NoZone { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The name servers of zone `id` (its delegation set).
pub async fn name_servers(
    client: &aws_sdk_route53::Client,
    zone: &Zone,
) -> Result<Vec<String>, DnsError> {
    let out = client
        .get_hosted_zone()
        .id(&zone.id)
        .send()
        .await
        .map_err(|e| aws_err("GetHostedZone", &zone.id, &e))?;
    Ok(out
        .delegation_set()
        .map(|d| d.name_servers().to_vec())
        .unwrap_or_default())
}

/// The plan for `domain`, read from Route 53. Reads only.
pub async fn plan_zone_for(
    client: &aws_sdk_route53::Client,
    domain: &str,
) -> Result<ZonePlan, DnsError> {
    let found = lookup_zone(client, domain).await?;
    Ok(plan_zone(domain, found.as_ref(), today()))
}

/// The zone that holds `domain` and its name servers; `None` when no public zone does.
pub async fn zone_status(
    client: &aws_sdk_route53::Client,
    domain: &str,
) -> Result<Option<ZoneInfo>, DnsError> {
    let Some(zone) = lookup_zone(client, domain).await? else {
        return Ok(None);
    };
    let name_servers = name_servers(client, &zone).await?;
    Ok(Some(ZoneInfo { zone, name_servers }))
}

/// Finds the public zone that holds `domain`, or creates one named after it; reports the name
/// servers either way. A second run creates nothing and says "unchanged".
pub async fn ensure_zone(
    client: &aws_sdk_route53::Client,
    domain: &str,
    reporter: &dyn Reporter,
) -> Result<ZoneOutcome, DnsError> {
    let timer = StepTimer::start(
        reporter,
        "dns",
        format!("the public hosted zone for {}", normalize_name(domain)),
    );
    let (zone, created, parent) = match plan_zone_for(client, domain).await? {
        ZonePlan::Exists { zone, parent } => {
            reporter.report(Event::StepSkipped {
                step: "dns".into(),
                reason: format!(
                    "unchanged: public zone {} ({}) holds {}",
                    zone.name,
                    zone.id,
                    normalize_name(domain)
                ),
            });
            (zone, false, parent)
        }
        ZonePlan::Create {
            name,
            caller_reference,
        } => {
            reporter.report(Event::info(format!(
                "create public hosted zone {name} (caller reference {caller_reference})"
            )));
            match create(client, &name, &caller_reference).await {
                Ok(zone) => (zone, true, false),
                // The same reference was used already: an earlier attempt created the zone
                // (its answer was lost). Adopt it rather than make another.
                Err(e) if e.aws_kind() == Some(ErrorKind::AlreadyExists) => {
                    match lookup_zone(client, &name).await? {
                        Some(zone) => (zone, false, false),
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    };
    let name_servers = name_servers(client, &zone).await?;
    timer.finish(
        reporter,
        format!(
            "zone {} ({}) {}: name servers {}",
            zone.name,
            zone.id,
            if created { "created" } else { "unchanged" },
            name_servers.join(", ")
        ),
    );
    Ok(ZoneOutcome {
        info: ZoneInfo { zone, name_servers },
        created,
        parent,
    })
}

async fn create(
    client: &aws_sdk_route53::Client,
    name: &str,
    caller_reference: &str,
) -> Result<Zone, DnsError> {
    let out = client
        .create_hosted_zone()
        .name(name)
        .caller_reference(caller_reference)
        .hosted_zone_config(
            aws_sdk_route53::types::HostedZoneConfig::builder()
                .comment("deploykit: dns zone ensure")
                .private_zone(false)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_err("CreateHostedZone", name, &e))?;
    let hz = out.hosted_zone().ok_or_else(|| DnsError::NoZone {
        domain: name.to_string(),
        tried: vec![name.to_string()],
    })?;
    Ok(Zone {
        id: zone_id(hz.id()),
        name: normalize_name(hz.name()),
        private: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: &str, name: &str) -> Zone {
        Zone {
            id: id.into(),
            name: name.into(),
            private: false,
        }
    }

    #[test]
    fn plan_table() {
        let day = 20_789;
        let cases: Vec<(&str, Option<Zone>, ZonePlan)> = vec![
            (
                "Example.com.",
                None,
                ZonePlan::Create {
                    name: "example.com".into(),
                    caller_reference: "deploykit-example.com-d20789".into(),
                },
            ),
            (
                "example.com",
                Some(zone("Z1", "example.com")),
                ZonePlan::Exists {
                    zone: zone("Z1", "example.com"),
                    parent: false,
                },
            ),
            (
                "app.example.com",
                Some(zone("Z1", "example.com")),
                ZonePlan::Exists {
                    zone: zone("Z1", "example.com"),
                    parent: true,
                },
            ),
        ];
        for (domain, found, want) in cases {
            assert_eq!(plan_zone(domain, found.as_ref(), day), want, "{domain}");
        }
        assert!(plan_zone("a.example", None, day).is_create());
    }

    #[test]
    fn caller_reference_is_stable_within_a_day_and_bounded() {
        assert_eq!(
            caller_reference("a.example", 5),
            caller_reference("A.example.", 5)
        );
        assert_ne!(
            caller_reference("a.example", 5),
            caller_reference("a.example", 6)
        );
        let long = format!("{}.example.com", "a".repeat(200));
        let r = caller_reference(&long, 20_789);
        assert!(r.len() <= CALLER_REFERENCE_MAX, "{} > 128", r.len());
        assert!(r.ends_with("-d20789"), "{r}");
    }
}
