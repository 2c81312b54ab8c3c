//! Snapshot naming and pruning: pure functions over data.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::RdsError;
use crate::spec::identifier_rules;

/// Tag keys written on manual snapshots.
pub const TAG_GIT_SHA: &str = "deploykit:git-sha";
pub const TAG_REASON: &str = "deploykit:reason";
pub const TAG_MANAGED_BY: &str = "managed-by";

/// Manual or automated. Automated snapshots belong to RDS's backup retention: never deleted here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    Manual,
    Automated,
    /// `shared`, `public`, `awsbackup`, ...: never touched.
    Other(String),
}

impl SnapshotKind {
    pub fn parse(s: &str) -> Self {
        match s {
            "manual" => SnapshotKind::Manual,
            "automated" => SnapshotKind::Automated,
            other => SnapshotKind::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            SnapshotKind::Manual => "manual",
            SnapshotKind::Automated => "automated",
            SnapshotKind::Other(s) => s,
        }
    }
}

/// One snapshot as DescribeDBSnapshots shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    pub identifier: String,
    pub instance: String,
    pub kind: SnapshotKind,
    /// `creating`, `available`, ...
    pub status: String,
    #[serde(serialize_with = "rfc3339")]
    pub created: Option<OffsetDateTime>,
    pub allocated_storage_gb: i32,
    pub percent_progress: Option<i32>,
    /// The snapshot's ARN (tags are set on it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub arn: String,
    /// When a restore check of this snapshot last passed (its [`TAG_RESTORE_CHECKED`] tag).
    #[serde(serialize_with = "rfc3339")]
    pub restore_checked: Option<OffsetDateTime>,
}

/// The tag a passed restore check leaves on the snapshot it restored: the time, RFC 3339.
pub const TAG_RESTORE_CHECKED: &str = "deploykit:restore-checked";

impl SnapshotInfo {
    /// Age at `now` (zero when the creation time is unknown or in the future).
    pub fn age(&self, now: OffsetDateTime) -> Duration {
        self.created
            .map(|c| (now - c).try_into().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::ZERO)
    }
}

fn rfc3339<S: serde::Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    }) {
        Some(text) => s.serialize_str(&text),
        None => s.serialize_none(),
    }
}

/// `<instance>-<yyyymmdd-hhmmss>[-<reason>]`, a valid RDS snapshot identifier (letters, digits,
/// single hyphens, letter first, at most 255). The reason is lowercased and reduced to letters,
/// digits and single hyphens; an empty reason is dropped.
pub fn snapshot_name(
    instance: &str,
    at: OffsetDateTime,
    reason: Option<&str>,
) -> Result<String, RdsError> {
    crate::spec::validate_instance_identifier(instance)?;
    let stamp = stamp(at);
    let mut name = format!("{instance}-{stamp}");
    if let Some(r) = reason.map(slug).filter(|r| !r.is_empty()) {
        let room = 255 - name.len() - 1;
        let r: String = r.chars().take(room).collect();
        let r = r.trim_end_matches('-');
        name.push('-');
        name.push_str(r);
    }
    identifier_rules(&name, 255, "DB snapshot identifier")?;
    Ok(name)
}

/// The temporary instance of a restore check: `<instance>-restorecheck-<yyyymmddhhmmss>`,
/// shortened to RDS's 63-character limit by trimming the instance part.
pub fn restore_check_instance_name(instance: &str, at: OffsetDateTime) -> Result<String, RdsError> {
    crate::spec::validate_instance_identifier(instance)?;
    let suffix = format!("-restorecheck-{}", stamp(at).replace('-', ""));
    let keep = 63 - suffix.len();
    let base: String = instance.chars().take(keep).collect();
    let name = format!("{}{suffix}", base.trim_end_matches('-'));
    crate::spec::validate_instance_identifier(&name)?;
    Ok(name)
}

fn stamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.format(format_description!(
        "[year][month][day]-[hour][minute][second]"
    ))
    .unwrap_or_else(|_| "00000000-000000".into())
}

/// Lowercase letters, digits and single hyphens.
fn slug(reason: &str) -> String {
    let mut out = String::new();
    for c in reason.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// `30d`, `12h`, `90m`, `2w` into a duration.
pub fn parse_age(text: &str) -> Result<Duration, RdsError> {
    let bad = |reason: &str| RdsError::InvalidName {
        what: "age",
        value: text.into(),
        reason: reason.into(),
        fix: "write a number and a unit: 30d, 12h, 90m or 2w",
    };
    let t = text.trim();
    let unit_at = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| bad("it has no unit"))?;
    let (n, unit) = t.split_at(unit_at);
    let n: u64 = n
        .parse()
        .map_err(|_| bad("it does not start with a number"))?;
    let secs = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad("unknown unit")),
    };
    Ok(Duration::from_secs(n * secs))
}

/// What `prune` deletes and what it keeps, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PruneSelection {
    pub delete: Vec<String>,
    /// Manual snapshots kept (the newest `keep`, or younger than `older_than`).
    pub keep: Vec<String>,
    /// Snapshots never considered: automated or other kinds, other instances, not `available`.
    pub untouched: Vec<String>,
}

/// Chooses the MANUAL, `available` snapshots of `instance` to delete: everything but the newest
/// `keep`, and of those only the ones older than `older_than` (when given). Automated snapshots
/// are never selected, whatever the arguments.
pub fn select_prune(
    snapshots: &[SnapshotInfo],
    instance: &str,
    keep: usize,
    older_than: Option<Duration>,
    now: OffsetDateTime,
) -> PruneSelection {
    let mut sel = PruneSelection::default();
    let mut manual: Vec<&SnapshotInfo> = Vec::new();
    for s in snapshots {
        if s.kind == SnapshotKind::Manual && s.instance == instance && s.status == "available" {
            manual.push(s);
        } else {
            sel.untouched.push(s.identifier.clone());
        }
    }
    // Newest first; unknown creation times count as newest (never deleted by age).
    manual.sort_by(|a, b| match (a.created, b.created) {
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| b.identifier.cmp(&a.identifier)),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, None) => b.identifier.cmp(&a.identifier),
    });
    for (i, s) in manual.into_iter().enumerate() {
        let old_enough = match older_than {
            None => true,
            Some(min) => s.created.is_some() && s.age(now) > min,
        };
        if i >= keep && old_enough {
            sel.delete.push(s.identifier.clone());
        } else {
            sel.keep.push(s.identifier.clone());
        }
    }
    sel
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_are_valid_snapshot_identifiers() {
        let at = datetime!(2026-11-25 15:04:05 UTC);
        let cases = [
            (None, "budgetsync-db-20261125-150405"),
            (Some(""), "budgetsync-db-20261125-150405"),
            (
                Some("pre-deploy"),
                "budgetsync-db-20261125-150405-pre-deploy",
            ),
            (
                Some("Before Migration #42!"),
                "budgetsync-db-20261125-150405-before-migration-42",
            ),
            (Some("--x__y--"), "budgetsync-db-20261125-150405-x-y"),
            (Some("!!!"), "budgetsync-db-20261125-150405"),
        ];
        for (reason, want) in cases {
            assert_eq!(
                snapshot_name("budgetsync-db", at, reason).unwrap(),
                want,
                "{reason:?}"
            );
        }
        let long = snapshot_name("db", at, Some(&"r".repeat(400))).unwrap();
        assert_eq!(long.len(), 255);
        // Non-UTC times are named in UTC.
        let other = datetime!(2026-11-25 17:04:05 +02:00);
        assert_eq!(
            snapshot_name("db", other, None).unwrap(),
            "db-20261125-150405"
        );
        let err = snapshot_name("9db", at, None).unwrap_err();
        let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
        assert!(
            err.to_string().contains("start with a letter")
                && help.contains("starting with a letter"),
            "{err}: {help}"
        );
    }

    #[test]
    fn restore_check_names_fit_63_characters() {
        let at = datetime!(2026-11-25 15:04:05 UTC);
        assert_eq!(
            restore_check_instance_name("budgetsync-db", at).unwrap(),
            "budgetsync-db-restorecheck-20261125150405"
        );
        let long = restore_check_instance_name(&format!("a{}", "-b".repeat(31)), at).unwrap();
        assert!(
            long.len() <= 63
                && long.ends_with("-restorecheck-20261125150405")
                && !long.contains("--"),
            "{long}"
        );
    }

    fn snap(id: &str, instance: &str, kind: SnapshotKind, days_old: i64) -> SnapshotInfo {
        SnapshotInfo {
            identifier: id.into(),
            instance: instance.into(),
            kind,
            status: "available".into(),
            created: Some(datetime!(2026-11-25 00:00 UTC) - time::Duration::days(days_old)),
            allocated_storage_gb: 20,
            percent_progress: Some(100),
            arn: String::new(),
            restore_checked: None,
        }
    }

    #[test]
    fn prune_selects_only_old_manual_snapshots_of_the_instance() {
        let now = datetime!(2026-11-25 00:00 UTC);
        let all = vec![
            snap("m1", "db", SnapshotKind::Manual, 1),
            snap("m5", "db", SnapshotKind::Manual, 5),
            snap("m40", "db", SnapshotKind::Manual, 40),
            snap("m90", "db", SnapshotKind::Manual, 90),
            snap("rds:db-a", "db", SnapshotKind::Automated, 100),
            snap("rds:db-b", "db", SnapshotKind::Automated, 200),
            snap("shared", "db", SnapshotKind::Other("shared".into()), 300),
            snap("other-inst", "other", SnapshotKind::Manual, 300),
            SnapshotInfo {
                status: "creating".into(),
                ..snap("busy", "db", SnapshotKind::Manual, 300)
            },
        ];
        let d30 = Some(Duration::from_secs(30 * 86_400));
        let cases: Vec<(usize, Option<Duration>, Vec<&str>)> = vec![
            (0, None, vec!["m1", "m5", "m40", "m90"]),
            (2, None, vec!["m40", "m90"]),
            (4, None, vec![]),
            (10, None, vec![]),
            (0, d30, vec!["m40", "m90"]),
            (3, d30, vec!["m90"]),
            (1, Some(Duration::from_secs(365 * 86_400)), vec![]),
        ];
        for (keep, older, want) in cases {
            let sel = select_prune(&all, "db", keep, older, now);
            assert_eq!(sel.delete, want, "keep {keep} older {older:?}");
            for never in ["rds:db-a", "rds:db-b", "shared", "other-inst", "busy"] {
                assert!(
                    sel.untouched.contains(&never.to_string()),
                    "{never} must be untouched"
                );
            }
            assert_eq!(
                sel.delete.len() + sel.keep.len() + sel.untouched.len(),
                all.len()
            );
        }
        // Even when only automated snapshots exist and keep is 0, nothing is selected.
        let autos: Vec<_> = all
            .iter()
            .filter(|s| s.kind == SnapshotKind::Automated)
            .cloned()
            .collect();
        assert!(select_prune(&autos, "db", 0, None, now).delete.is_empty());
    }

    #[test]
    fn ages_parse() {
        for (t, secs) in [
            ("30d", 30 * 86_400),
            ("12h", 43_200),
            ("90m", 5_400),
            ("2w", 14 * 86_400),
        ] {
            assert_eq!(parse_age(t).unwrap(), Duration::from_secs(secs), "{t}");
        }
        for t in ["30", "d", "30y", "-1d", ""] {
            let e = parse_age(t).unwrap_err();
            let help = deploykit_report::Diagnostic::help(&e).unwrap_or_default();
            assert!(help.contains("30d, 12h, 90m or 2w"), "{t}: {e}: {help}");
        }
    }
}
