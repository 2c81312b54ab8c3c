//! The record of an Elastic Beanstalk environment's domain (seed §6): an alias A record to the
//! environment's Application Load Balancer when it is load-balanced, a CNAME to the
//! environment's CNAME when it is a single instance. Switching between the two replaces the
//! other kind in the same batch (a CNAME cannot sit beside an A record).
//!
//! [`plan_env_record`] is pure over what exists; the CNAME case goes through [`plan_changes`].

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};
use deploykit_report::{Event, Reporter, StepTimer, WaitOptions};

use super::{
    DnsError, ExistingRecord, Record, RecordAction, Zone, aws_err, in_zone, normalize_name,
    plan_changes, record_set, wait_change,
};

/// What the domain points at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EnvTarget {
    /// An alias A record to a load balancer (its DNS name and canonical hosted zone).
    Alias {
        dns_name: String,
        hosted_zone_id: String,
    },
    /// A CNAME to the environment's CNAME.
    Cname { value: String },
}

/// A record set that exists under the name, with its alias target when it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingSet {
    pub name: String,
    pub record_type: String,
    pub values: Vec<String>,
    /// `(dns name, hosted zone id)` of an alias record.
    pub alias: Option<(String, String)>,
}

/// What to do with the domain's record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnvRecordPlan {
    pub name: String,
    pub target: EnvTarget,
    #[serde(flatten)]
    pub action: RecordAction,
    /// Record types deleted in the same batch (the other kind: an alias A before a CNAME, a
    /// CNAME before an alias A).
    pub replaces: Vec<String>,
}

impl EnvRecordPlan {
    pub fn unchanged(&self) -> bool {
        self.action == RecordAction::Unchanged && self.replaces.is_empty()
    }
}

/// The canonical hosted zone of Application Load Balancers in `region` (AWS's published
/// table of Elastic Load Balancing endpoints), for alias records. `None`: not in the table.
pub fn alb_hosted_zone(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-1" => "Z35SXDOTRQ7X7K",
        "us-east-2" => "Z3AADJGX6KTTL2",
        "us-west-1" => "Z368ELLRRE2KJ0",
        "us-west-2" => "Z1H1FL5HABSF5",
        "ca-central-1" => "ZQSVJUPU6J1EY",
        "eu-west-1" => "Z32O12XQLNTSW2",
        "eu-west-2" => "ZHURV8PSTC4K8",
        "eu-west-3" => "Z3Q77PNBQS71R4",
        "eu-central-1" => "Z215JYRZR1TBD5",
        "eu-north-1" => "Z23TAZ7KKX3UFT",
        "ap-northeast-1" => "Z14GRHDCWA56QT",
        "ap-northeast-2" => "ZWKZPGTI48KDX",
        "ap-south-1" => "ZP97RAFLXTNZK",
        "ap-southeast-1" => "Z1LMS91P8CMLE5",
        "ap-southeast-2" => "Z1GM3OXH4ZPM65",
        "sa-east-1" => "Z2P70J7HTTTPLU",
        _ => return None,
    })
}

fn is_alias_address(e: &ExistingSet) -> bool {
    e.alias.is_some() && matches!(e.record_type.to_ascii_uppercase().as_str(), "A" | "AAAA")
}

/// Decides the domain's record. Pure.
pub fn plan_env_record(
    zone_name: &str,
    name: &str,
    target: &EnvTarget,
    existing: &[ExistingSet],
) -> Result<EnvRecordPlan, DnsError> {
    let n = normalize_name(name);
    if !in_zone(&n, zone_name) {
        return Err(DnsError::RecordOutsideZone {
            name: n,
            zone_name: normalize_name(zone_name),
        });
    }
    let here: Vec<&ExistingSet> = existing
        .iter()
        .filter(|e| normalize_name(&e.name) == n)
        .collect();
    match target {
        EnvTarget::Cname { value } => {
            // Our alias goes; anything else beside a CNAME is the planner's conflict.
            let (replaced, rest): (Vec<&ExistingSet>, Vec<&ExistingSet>) =
                here.into_iter().partition(|e| is_alias_address(e));
            let rest: Vec<ExistingRecord> = rest
                .into_iter()
                .map(|e| ExistingRecord {
                    name: e.name.clone(),
                    record_type: e.record_type.clone(),
                    values: e.values.clone(),
                    alias: e.alias.is_some(),
                })
                .collect();
            let planned = plan_changes(zone_name, &[Record::cname(&n, value)], &rest)?;
            Ok(EnvRecordPlan {
                name: n,
                target: target.clone(),
                action: planned
                    .into_iter()
                    .next()
                    .map_or(RecordAction::Create, |p| p.action),
                replaces: replaced.iter().map(|e| e.record_type.clone()).collect(),
            })
        }
        EnvTarget::Alias {
            dns_name,
            hosted_zone_id,
        } => {
            let replaces: Vec<String> = here
                .iter()
                .filter(|e| e.record_type.eq_ignore_ascii_case("CNAME"))
                .map(|e| e.record_type.clone())
                .collect();
            let current = here
                .iter()
                .find(|e| e.record_type.eq_ignore_ascii_case("A"));
            let action = match current {
                None => RecordAction::Create,
                Some(e) => match &e.alias {
                    Some((d, z))
                        if normalize_name(d) == normalize_name(dns_name)
                            && z.trim_start_matches("/hostedzone/") == hosted_zone_id =>
                    {
                        RecordAction::Unchanged
                    }
                    Some((d, _)) => RecordAction::Update {
                        from: vec![format!("ALIAS {}", normalize_name(d))],
                    },
                    None => RecordAction::Update {
                        from: e.values.clone(),
                    },
                },
            };
            Ok(EnvRecordPlan {
                name: n,
                target: target.clone(),
                action,
                replaces,
            })
        }
    }
}

/// The end of [`ensure_env_record`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnvRecordOutcome {
    pub zone: Zone,
    pub plan: EnvRecordPlan,
    /// `None` when nothing had to change.
    pub change_id: Option<String>,
    /// `unchanged`, `PENDING` or `INSYNC`.
    pub status: String,
}

/// Writes the domain's record in one batch (deleting the other kind), skipping the call when
/// it already points there; waits for INSYNC when `wait` is given.
pub async fn ensure_env_record(
    client: &aws_sdk_route53::Client,
    zone: &Zone,
    name: &str,
    target: &EnvTarget,
    wait: Option<WaitOptions>,
    reporter: &dyn Reporter,
) -> Result<EnvRecordOutcome, DnsError> {
    let n = normalize_name(name);
    let page = client
        .list_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .start_record_name(format!("{n}."))
        .max_items(20)
        .send()
        .await
        .map_err(|e| aws_err("ListResourceRecordSets", &zone.name, &e))?;
    let raw: Vec<ResourceRecordSet> = page
        .resource_record_sets()
        .iter()
        .filter(|rs| normalize_name(rs.name()) == n)
        .cloned()
        .collect();
    let existing: Vec<ExistingSet> = raw
        .iter()
        .map(|rs| ExistingSet {
            name: n.clone(),
            record_type: rs.r#type().as_str().to_string(),
            values: rs
                .resource_records()
                .iter()
                .map(|r| r.value().to_string())
                .collect(),
            alias: rs
                .alias_target()
                .map(|a| (a.dns_name().to_string(), a.hosted_zone_id().to_string())),
        })
        .collect();
    let plan = plan_env_record(&zone.name, &n, target, &existing)?;
    if plan.unchanged() {
        reporter.report(Event::StepSkipped {
            step: "dns".into(),
            reason: format!("unchanged: {n} already points at the environment"),
        });
        return Ok(EnvRecordOutcome {
            zone: zone.clone(),
            plan,
            change_id: None,
            status: "unchanged".into(),
        });
    }
    let timer = StepTimer::start(
        reporter,
        "dns",
        format!("{n} in Route 53 zone {} ({})", zone.name, zone.id),
    );
    let mut changes = Vec::new();
    for rs in raw
        .iter()
        .filter(|rs| plan.replaces.iter().any(|t| t == rs.r#type().as_str()))
    {
        reporter.report(Event::info(format!(
            "delete {} {n} (replaced)",
            rs.r#type().as_str()
        )));
        changes.push(change(ChangeAction::Delete, rs.clone()));
    }
    let wanted = match target {
        EnvTarget::Cname { value } => record_set(&Record::cname(&n, value)),
        EnvTarget::Alias {
            dns_name,
            hosted_zone_id,
        } => ResourceRecordSet::builder()
            .name(&n)
            .r#type(RrType::A)
            .alias_target(
                AliasTarget::builder()
                    .hosted_zone_id(hosted_zone_id)
                    .dns_name(dns_name)
                    .evaluate_target_health(true)
                    .build()
                    .map_err(|e| DnsError::RecordOutsideZone {
                        name: format!("{n} ({e})"),
                        zone_name: zone.name.clone(),
                    })?,
            )
            .build()
            .map_err(|e| DnsError::RecordOutsideZone {
                name: format!("{n} ({e})"),
                zone_name: zone.name.clone(),
            })?,
    };
    reporter.report(Event::info(match target {
        EnvTarget::Cname { value } => format!("upsert CNAME {n} -> {value}"),
        EnvTarget::Alias { dns_name, .. } => format!("upsert A {n} -> ALIAS {dns_name}"),
    }));
    changes.push(change(ChangeAction::Upsert, wanted));
    let batch = ChangeBatch::builder()
        .comment("deploykit: the Elastic Beanstalk environment's domain")
        .set_changes(Some(changes))
        .build()
        .map_err(|e| DnsError::RecordOutsideZone {
            name: format!("{n} ({e})"),
            zone_name: zone.name.clone(),
        })?;
    let out = client
        .change_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| aws_err("ChangeResourceRecordSets", &zone.name, &e))?;
    let info = out.change_info();
    let change_id = info
        .map(|c| c.id().trim_start_matches("/change/").to_string())
        .unwrap_or_default();
    let mut status = info
        .map(|c| c.status().as_str().to_string())
        .unwrap_or_default();
    if let Some(w) = wait
        && status != "INSYNC"
    {
        status = wait_change(client, &change_id, w, reporter)
            .await?
            .as_str()
            .to_string();
    }
    timer.finish(reporter, format!("change {change_id} {status}"));
    Ok(EnvRecordOutcome {
        zone: zone.clone(),
        plan,
        change_id: Some(change_id),
        status,
    })
}

fn change(action: ChangeAction, rs: ResourceRecordSet) -> Change {
    Change::builder()
        .action(action)
        .resource_record_set(rs)
        .build()
        .expect("action and record set are set")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "example.com";

    fn alias(name: &str, dns: &str) -> ExistingSet {
        ExistingSet {
            name: name.into(),
            record_type: "A".into(),
            values: vec![],
            alias: Some((format!("{dns}."), "Z35SXDOTRQ7X7K".into())),
        }
    }

    fn cname(name: &str, value: &str) -> ExistingSet {
        ExistingSet {
            name: format!("{name}."),
            record_type: "CNAME".into(),
            values: vec![value.into()],
            alias: None,
        }
    }

    fn to_alb(dns: &str) -> EnvTarget {
        EnvTarget::Alias {
            dns_name: dns.into(),
            hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
        }
    }

    #[test]
    fn single_instance_gets_a_cname_load_balanced_an_alias_and_each_replaces_the_other() {
        let env = EnvTarget::Cname {
            value: "app-prod.us-east-1.elasticbeanstalk.com".into(),
        };
        let alb = to_alb("awseb-e-1.us-east-1.elb.amazonaws.com");
        // Nothing yet: create.
        let p = plan_env_record(ZONE, "app.example.com", &env, &[]).unwrap();
        assert_eq!(
            (p.action.clone(), p.replaces.len()),
            (RecordAction::Create, 0)
        );
        // The CNAME is there: unchanged, a second run makes no call.
        let have = [cname(
            "app.example.com",
            "app-prod.us-east-1.elasticbeanstalk.com.",
        )];
        assert!(
            plan_env_record(ZONE, "App.Example.com.", &env, &have)
                .unwrap()
                .unchanged()
        );
        // Upgrade: the alias replaces the CNAME in the same batch.
        let p = plan_env_record(ZONE, "app.example.com", &alb, &have).unwrap();
        assert_eq!(p.action, RecordAction::Create);
        assert_eq!(p.replaces, vec!["CNAME".to_string()]);
        // The alias is there: unchanged; another load balancer: update.
        let have = [alias(
            "app.example.com",
            "awseb-e-1.us-east-1.elb.amazonaws.com",
        )];
        assert!(
            plan_env_record(ZONE, "app.example.com", &alb, &have)
                .unwrap()
                .unchanged()
        );
        let p = plan_env_record(
            ZONE,
            "app.example.com",
            &to_alb("other.elb.amazonaws.com"),
            &have,
        )
        .unwrap();
        assert!(matches!(p.action, RecordAction::Update { .. }), "{p:?}");
        // Back to a single instance: the CNAME replaces the alias.
        let p = plan_env_record(ZONE, "app.example.com", &env, &have).unwrap();
        assert_eq!(p.action, RecordAction::Create);
        assert_eq!(p.replaces, vec!["A".to_string()]);
    }

    #[test]
    fn conflicts_and_names_outside_the_zone_are_refused() {
        let env = EnvTarget::Cname {
            value: "x.elasticbeanstalk.com".into(),
        };
        let plain_a = ExistingSet {
            name: "app.example.com".into(),
            record_type: "A".into(),
            values: vec!["192.0.2.1".into()],
            alias: None,
        };
        let err = plan_env_record(ZONE, "app.example.com", &env, &[plain_a]).unwrap_err();
        assert!(matches!(err, DnsError::Conflict { .. }), "{err}");
        let err = plan_env_record(ZONE, "app.other.org", &env, &[]).unwrap_err();
        assert!(matches!(err, DnsError::RecordOutsideZone { .. }), "{err}");
        assert_eq!(alb_hosted_zone("us-east-1"), Some("Z35SXDOTRQ7X7K"));
        assert_eq!(alb_hosted_zone("xx-nowhere-1"), None);
    }
}
