//! Route 53 for deploykit: find the hosted zone that holds a domain, UPSERT records in one
//! `ChangeResourceRecordSets` batch (skipped when they already hold those values), and wait,
//! bounded, until the change is `INSYNC`.
//!
//! Plan then execute: [`plan_changes`] is pure over what exists ([`ExistingRecord`]s), so the
//! decision "create, update or leave alone" is tested without AWS. Libraries never print:
//! progress goes to the [`Reporter`] passed in.

use std::time::{Duration, Instant};

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use deploykit_aws::{Classified, ErrorKind, classify};
use deploykit_report::{Event, Level, Reporter, StepTimer};

mod diagnostic;
pub mod env_record;

pub use env_record::{
    EnvRecordOutcome, EnvRecordPlan, EnvTarget, ensure_env_record, plan_env_record,
};
pub mod zone;

pub use zone::{ZoneInfo, ZoneOutcome, ZonePlan, ensure_zone, plan_zone, zone_status};

/// TTL of the records deploykit writes.
pub const DEFAULT_TTL: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("Route 53 {operation} failed for {subject}: {classified}")]
    Aws {
        operation: &'static str,
        /// The zone or domain the call was about.
        subject: String,
        classified: Box<Classified>,
    },
    #[error(
        "no Route 53 hosted zone in this account holds {domain} (looked for {})",
        tried.join(", ")
    )]
    NoZone { domain: String, tried: Vec<String> },
    #[error("{domain} is not inside hosted zone {zone_id} ({zone_name})")]
    OutsideZone {
        domain: String,
        zone_id: String,
        zone_name: String,
    },
    #[error(
        "more than one public hosted zone is named {zone_name} ({}), so which one holds {domain} is ambiguous",
        ids.join(", ")
    )]
    AmbiguousZone {
        domain: String,
        zone_name: String,
        ids: Vec<String>,
    },
    #[error(
        "{name} in zone {zone_name} already has a {existing_type} record; a CNAME cannot sit beside it"
    )]
    Conflict {
        name: String,
        existing_type: String,
        zone_name: String,
    },
    #[error("record {name} is not inside zone {zone_name}; it cannot be written there")]
    RecordOutsideZone { name: String, zone_name: String },
    #[error("timed out after {}s waiting for {what}", waited.as_secs())]
    Timeout { what: String, waited: Duration },
}

impl DnsError {
    /// The AWS error kind, when this is an AWS error.
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            DnsError::Aws { classified, .. } => Some(classified.kind),
            _ => None,
        }
    }
}

fn aws_err<E>(
    operation: &'static str,
    subject: &str,
    err: &aws_sdk_route53::error::SdkError<E, aws_sdk_route53::config::http::HttpResponse>,
) -> DnsError
where
    E: aws_sdk_route53::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    DnsError::Aws {
        operation,
        subject: subject.to_string(),
        classified: Box::new(classify(err)),
    }
}

/// A record we want: one value (CNAMEs have exactly one).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub value: String,
}

impl Record {
    pub fn cname(name: impl Into<String>, value: impl Into<String>) -> Self {
        Record {
            name: name.into(),
            record_type: "CNAME".into(),
            value: value.into(),
        }
    }
}

/// A record set that exists in the zone, as far as planning cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRecord {
    pub name: String,
    pub record_type: String,
    pub values: Vec<String>,
    /// An alias record (no values of its own).
    pub alias: bool,
}

/// What to do with one wanted record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RecordAction {
    Create,
    Update { from: Vec<String> },
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedRecord {
    pub record: Record,
    #[serde(flatten)]
    pub action: RecordAction,
}

/// A hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Zone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Without the trailing dot, lowercase.
    pub name: String,
    pub private: bool,
}

/// How to find the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneRef {
    /// This zone id (with or without `/hostedzone/`).
    Id(String),
    /// The public zone with the longest name the domain ends with.
    Longest,
}

pub use deploykit_report::WaitOptions;

/// The end of an upsert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpsertOutcome {
    pub zone: Zone,
    pub records: Vec<PlannedRecord>,
    /// `None` when nothing had to change (no call was made).
    pub change_id: Option<String>,
    /// `unchanged`, `PENDING` or `INSYNC`.
    pub status: String,
}

impl UpsertOutcome {
    pub fn unchanged(&self) -> bool {
        self.change_id.is_none()
    }
}

/// Lowercase, no trailing dot, Route 53's `\052` turned back into `*`.
pub fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.')
        .replace("\\052", "*")
        .to_ascii_lowercase()
}

fn zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// Whether `name` is `zone` or inside it.
pub fn in_zone(name: &str, zone: &str) -> bool {
    let (n, z) = (normalize_name(name), normalize_name(zone));
    n == z || n.ends_with(&format!(".{z}"))
}

/// The zone names that could hold `domain`, longest first: `a.b.example.com`, `b.example.com`,
/// `example.com`, `com`.
pub fn candidate_zones(domain: &str) -> Vec<String> {
    let d = normalize_name(domain);
    let labels: Vec<&str> = d.split('.').filter(|l| !l.is_empty()).collect();
    (0..labels.len()).map(|i| labels[i..].join(".")).collect()
}

/// Decides, for each wanted record, whether to create it, update it or leave it. Pure.
///
/// Names and CNAME values compare case-insensitively and without the trailing dot. A CNAME
/// cannot share its name with any other record type, so such a name is a [`DnsError::Conflict`].
pub fn plan_changes(
    zone_name: &str,
    wanted: &[Record],
    existing: &[ExistingRecord],
) -> Result<Vec<PlannedRecord>, DnsError> {
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let name = normalize_name(&w.name);
        if !in_zone(&name, zone_name) {
            return Err(DnsError::RecordOutsideZone {
                name,
                zone_name: normalize_name(zone_name),
            });
        }
        let same_name: Vec<&ExistingRecord> = existing
            .iter()
            .filter(|e| normalize_name(&e.name) == name)
            .collect();
        if w.record_type.eq_ignore_ascii_case("CNAME")
            && let Some(other) = same_name
                .iter()
                .find(|e| !e.record_type.eq_ignore_ascii_case("CNAME"))
        {
            return Err(DnsError::Conflict {
                name,
                existing_type: other.record_type.clone(),
                zone_name: normalize_name(zone_name),
            });
        }
        let current = same_name
            .iter()
            .find(|e| e.record_type.eq_ignore_ascii_case(&w.record_type));
        let action = match current {
            None => RecordAction::Create,
            Some(e)
                if !e.alias
                    && e.values.len() == 1
                    && normalize_name(&e.values[0]) == normalize_name(&w.value) =>
            {
                RecordAction::Unchanged
            }
            Some(e) => RecordAction::Update {
                from: e.values.clone(),
            },
        };
        out.push(PlannedRecord {
            record: w.clone(),
            action,
        });
    }
    Ok(out)
}

/// Finds the hosted zone for `domain`.
pub async fn find_zone(
    client: &aws_sdk_route53::Client,
    domain: &str,
    zone: &ZoneRef,
) -> Result<Zone, DnsError> {
    let d = normalize_name(domain);
    match zone {
        ZoneRef::Id(id) => {
            let id = zone_id(id);
            let out = client
                .get_hosted_zone()
                .id(&id)
                .send()
                .await
                .map_err(|e| aws_err("GetHostedZone", &id, &e))?;
            let hz = out.hosted_zone().ok_or_else(|| DnsError::NoZone {
                domain: d.clone(),
                tried: vec![id.clone()],
            })?;
            let zone = Zone {
                id: zone_id(hz.id()),
                name: normalize_name(hz.name()),
                private: hz.config().is_some_and(|c| c.private_zone()),
            };
            if !in_zone(&d, &zone.name) {
                return Err(DnsError::OutsideZone {
                    domain: d,
                    zone_id: zone.id,
                    zone_name: zone.name,
                });
            }
            Ok(zone)
        }
        ZoneRef::Longest => {
            let tried = candidate_zones(&d);
            for candidate in &tried {
                let out = client
                    .list_hosted_zones_by_name()
                    .dns_name(format!("{candidate}."))
                    .max_items(100)
                    .send()
                    .await
                    .map_err(|e| aws_err("ListHostedZonesByName", candidate, &e))?;
                let public: Vec<Zone> = out
                    .hosted_zones()
                    .iter()
                    .filter(|z| normalize_name(z.name()) == *candidate)
                    .map(|z| Zone {
                        id: zone_id(z.id()),
                        name: normalize_name(z.name()),
                        private: z.config().is_some_and(|c| c.private_zone()),
                    })
                    .filter(|z| !z.private)
                    .collect();
                match public.len() {
                    0 => continue,
                    1 => return Ok(public.into_iter().next().expect("one zone")),
                    _ => {
                        return Err(DnsError::AmbiguousZone {
                            domain: d,
                            zone_name: candidate.clone(),
                            ids: public.into_iter().map(|z| z.id).collect(),
                        });
                    }
                }
            }
            Err(DnsError::NoZone { domain: d, tried })
        }
    }
}

/// The record sets in `zone` named like any of `names`.
pub async fn existing_records(
    client: &aws_sdk_route53::Client,
    zone: &Zone,
    names: &[String],
) -> Result<Vec<ExistingRecord>, DnsError> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        let name = normalize_name(name);
        if !seen.insert(name.clone()) {
            continue;
        }
        let page = client
            .list_resource_record_sets()
            .hosted_zone_id(&zone.id)
            .start_record_name(format!("{name}."))
            .max_items(20)
            .send()
            .await
            .map_err(|e| aws_err("ListResourceRecordSets", &zone.name, &e))?;
        for rs in page.resource_record_sets() {
            if normalize_name(rs.name()) == name {
                out.push(ExistingRecord {
                    name: name.clone(),
                    record_type: rs.r#type().as_str().to_string(),
                    values: rs
                        .resource_records()
                        .iter()
                        .map(|r| r.value().to_string())
                        .collect(),
                    alias: rs.alias_target().is_some(),
                });
            }
        }
    }
    Ok(out)
}

fn record_set(r: &Record) -> ResourceRecordSet {
    let value = ResourceRecord::builder()
        .value(&r.value)
        .build()
        .expect("value is set");
    ResourceRecordSet::builder()
        .name(&r.name)
        .r#type(RrType::from(r.record_type.to_ascii_uppercase().as_str()))
        .ttl(DEFAULT_TTL)
        .resource_records(value)
        .build()
        .expect("name and type are set")
}

/// UPSERTs `records` into `zone` in one batch, skipping the call when they already hold these
/// values; waits for INSYNC when `wait` is given.
pub async fn upsert_records(
    client: &aws_sdk_route53::Client,
    zone: &Zone,
    records: &[Record],
    wait: Option<WaitOptions>,
    reporter: &dyn Reporter,
) -> Result<UpsertOutcome, DnsError> {
    let timer = StepTimer::start(
        reporter,
        "dns",
        format!(
            "{} record(s) in Route 53 zone {} ({})",
            records.len(),
            zone.name,
            zone.id
        ),
    );
    let names: Vec<String> = records.iter().map(|r| r.name.clone()).collect();
    let existing = existing_records(client, zone, &names).await?;
    let planned = plan_changes(&zone.name, records, &existing)?;
    let changes: Vec<Change> = planned
        .iter()
        .filter(|p| p.action != RecordAction::Unchanged)
        .map(|p| {
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(record_set(&p.record))
                .build()
                .expect("action and record set are set")
        })
        .collect();
    if changes.is_empty() {
        reporter.report(Event::StepSkipped {
            step: "dns".into(),
            reason: format!(
                "unchanged: the {} record(s) in {} already hold these values",
                planned.len(),
                zone.name
            ),
        });
        return Ok(UpsertOutcome {
            zone: zone.clone(),
            records: planned,
            change_id: None,
            status: "unchanged".into(),
        });
    }
    for p in &planned {
        let what = match &p.action {
            RecordAction::Create => "create",
            RecordAction::Update { .. } => "update",
            RecordAction::Unchanged => continue,
        };
        reporter.report(Event::info(format!(
            "{what} {} {} -> {}",
            p.record.record_type, p.record.name, p.record.value
        )));
    }
    let batch = ChangeBatch::builder()
        .comment("deploykit: record upsert")
        .set_changes(Some(changes))
        .build()
        .expect("changes are set");
    let out = client
        .change_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| aws_err("ChangeResourceRecordSets", &zone.name, &e))?;
    let info = out.change_info();
    let change_id = info.map(|c| zone_id(c.id())).unwrap_or_default();
    let mut status = info
        .map(|c| c.status().as_str().to_string())
        .unwrap_or_default();
    if let Some(w) = wait
        && status != ChangeStatus::Insync.as_str()
    {
        status = wait_change(client, &change_id, w, reporter)
            .await?
            .as_str()
            .to_string();
    }
    timer.finish(
        reporter,
        format!("change {change_id} {status} in zone {}", zone.name),
    );
    Ok(UpsertOutcome {
        zone: zone.clone(),
        records: planned,
        change_id: Some(change_id),
        status,
    })
}

/// Polls GetChange until the change is INSYNC, bounded by `wait.timeout`.
pub async fn wait_change(
    client: &aws_sdk_route53::Client,
    change_id: &str,
    wait: WaitOptions,
    reporter: &dyn Reporter,
) -> Result<ChangeStatus, DnsError> {
    let id = zone_id(change_id)
        .trim_start_matches("/change/")
        .to_string();
    let started = Instant::now();
    let mut last: Option<ChangeStatus> = None;
    loop {
        match client.get_change().id(&id).send().await {
            Ok(out) => {
                if let Some(st) = out.change_info().map(|c| c.status().clone()) {
                    if last.as_ref() != Some(&st) {
                        reporter.report(Event::Remote {
                            step: "dns".into(),
                            source: "route53".into(),
                            level: Level::Info,
                            message: format!("change {id}: {}", st.as_str()),
                        });
                        last = Some(st.clone());
                    }
                    if st == ChangeStatus::Insync {
                        return Ok(st);
                    }
                }
            }
            Err(e) => {
                let c = classify(&e);
                if !c.kind.is_retryable() {
                    return Err(aws_err("GetChange", &id, &e));
                }
                reporter.report(Event::warn(format!("GetChange {id}: {c}; polling again")));
            }
        }
        let waited = started.elapsed();
        if waited >= wait.timeout {
            return Err(DnsError::Timeout {
                what: format!("Route 53 change {id} to be INSYNC"),
                waited,
            });
        }
        reporter.report(Event::Waiting {
            step: "dns".into(),
            for_what: format!(
                "Route 53 change {id} to be INSYNC ({})",
                last.as_ref().map(|s| s.as_str()).unwrap_or("not seen yet")
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

    fn existing(name: &str, ty: &str, values: &[&str]) -> ExistingRecord {
        ExistingRecord {
            name: name.into(),
            record_type: ty.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            alias: false,
        }
    }

    #[test]
    fn plan_table() {
        let want = Record::cname("app.example.com", "abc.awsapprunner.com");
        #[allow(clippy::type_complexity)]
        let cases: Vec<(&str, Vec<ExistingRecord>, Result<RecordAction, &str>)> = vec![
            ("nothing there", vec![], Ok(RecordAction::Create)),
            (
                "same value, Route 53 spelling (trailing dot, case)",
                vec![existing(
                    "App.Example.com.",
                    "CNAME",
                    &["ABC.awsapprunner.com."],
                )],
                Ok(RecordAction::Unchanged),
            ),
            (
                "other value",
                vec![existing(
                    "app.example.com.",
                    "CNAME",
                    &["old.awsapprunner.com."],
                )],
                Ok(RecordAction::Update {
                    from: vec!["old.awsapprunner.com.".into()],
                }),
            ),
            (
                "a CNAME elsewhere does not matter",
                vec![existing(
                    "www.app.example.com.",
                    "CNAME",
                    &["abc.awsapprunner.com."],
                )],
                Ok(RecordAction::Create),
            ),
            (
                "an A record at the name conflicts",
                vec![existing("app.example.com.", "A", &["192.0.2.1"])],
                Err("already has a A record"),
            ),
            (
                "an alias CNAME is replaced",
                vec![ExistingRecord {
                    alias: true,
                    ..existing("app.example.com.", "CNAME", &[])
                }],
                Ok(RecordAction::Update { from: vec![] }),
            ),
        ];
        for (name, ex, expected) in cases {
            let got = plan_changes("example.com.", std::slice::from_ref(&want), &ex);
            match (got, expected) {
                (Ok(p), Ok(a)) => assert_eq!(p[0].action, a, "{name}"),
                (Err(e), Err(m)) => assert!(e.to_string().contains(m), "{name}: {e}"),
                (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
            }
        }
        let err =
            plan_changes("example.org", &[Record::cname("app.example.com", "x")], &[]).unwrap_err();
        assert!(matches!(err, DnsError::RecordOutsideZone { .. }), "{err}");
    }

    #[test]
    fn zone_names() {
        assert_eq!(
            candidate_zones("A.b.Example.com."),
            ["a.b.example.com", "b.example.com", "example.com", "com"]
        );
        assert!(in_zone("x.example.com.", "example.com"));
        assert!(in_zone("example.com", "example.com."));
        assert!(!in_zone("badexample.com", "example.com"));
        assert_eq!(normalize_name("\\052.Example.com."), "*.example.com");
    }
}
