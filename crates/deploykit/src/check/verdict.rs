//! Facts to verdicts: pure, so each item's rule is tested as data.

use std::time::Duration;

use super::{AppProbe, CheckOptions, Facts, Fix, Item, ItemId, Seen, Verdict, route_word};
use crate::Route;

/// Every item, in the checklist's order.
pub fn verdicts(f: &Facts, opts: &CheckOptions) -> Vec<Item> {
    vec![
        app_http(f),
        app_https(f),
        logs(f, opts),
        database(f),
        migrations(f),
        bucket(f),
        static_files(f),
        secrets(f),
        backups(f, opts),
        restore_check(f, opts),
        alarms(f),
        runbooks(f),
    ]
}

fn item(id: ItemId, verdict: Verdict, evidence: impl Into<String>, fix: Option<Fix>) -> Item {
    Item {
        id,
        title: id.title(),
        verdict,
        evidence: evidence.into(),
        fix: if verdict == Verdict::Fail { fix } else { None },
    }
}

fn pass(id: ItemId, evidence: impl Into<String>) -> Item {
    item(id, Verdict::Pass, evidence, None)
}

fn fail(id: ItemId, evidence: impl Into<String>, fix: Fix) -> Item {
    item(id, Verdict::Fail, evidence, Some(fix))
}

fn not_applicable(id: ItemId, why: impl Into<String>) -> Item {
    item(id, Verdict::NotApplicable, why, None)
}

fn advice(text: &str) -> Fix {
    Fix::Advice { text: text.into() }
}

/// `3m`, `5h`, `2d`: ages in evidence.
pub(crate) fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn answered(p: &AppProbe) -> bool {
    matches!(p.status, Ok(code) if (200..400).contains(&code))
}

fn probe_line(p: &AppProbe) -> String {
    match &p.status {
        Ok(code) => format!("{} ({}) answered {code}", p.url, route_word(p.route)),
        Err(e) => format!("{} ({}): {e}", p.url, route_word(p.route)),
    }
}

fn app_http(f: &Facts) -> Item {
    let id = ItemId::AppHttp;
    let apps = match &f.apps {
        Seen::Ok(a) => a,
        Seen::Unreadable(e) => {
            return fail(
                id,
                e,
                advice("check the credentials can describe the environment/service"),
            );
        }
    };
    if apps.is_empty() {
        return fail(
            id,
            "no Elastic Beanstalk environment, App Runner or ECS Express service of this app exists on the target",
            Fix::Deploy { route: Route::Eb },
        );
    }
    let http: Vec<&AppProbe> = apps.iter().filter(|p| !p.https).collect();
    if http.is_empty() {
        return not_applicable(id, "every route serves HTTPS only (see the HTTPS item)");
    }
    let lines: Vec<String> = http.iter().map(|p| probe_line(p)).collect();
    match http.iter().find(|p| !answered(p)) {
        None => pass(id, lines.join("; ")),
        Some(bad) => fail(id, lines.join("; "), Fix::Deploy { route: bad.route }),
    }
}

fn app_https(f: &Facts) -> Item {
    let id = ItemId::AppHttps;
    let Seen::Ok(apps) = &f.apps else {
        return not_applicable(id, "the routes could not be read (see the HTTP item)");
    };
    let https: Vec<&AppProbe> = apps.iter().filter(|p| p.https).collect();
    if https.is_empty() {
        let why = if f.local {
            "the local cloud serves HTTP only"
        } else {
            "no route serves HTTPS: a single-instance Elastic Beanstalk environment has no certificate (the seed's upgrade path puts an ALB with HTTPS in front)"
        };
        return not_applicable(id, why);
    }
    let lines: Vec<String> = https.iter().map(|p| probe_line(p)).collect();
    match https.iter().find(|p| !answered(p)) {
        None => pass(id, lines.join("; ")),
        Some(bad) => fail(id, lines.join("; "), Fix::Deploy { route: bad.route }),
    }
}

fn logs(f: &Facts, opts: &CheckOptions) -> Item {
    let id = ItemId::Logs;
    match &f.logs {
        Seen::Ok(Some((group, a))) => pass(id, format!("newest line {} old in {group}", age(*a))),
        Seen::Ok(None) => fail(
            id,
            format!(
                "the app's log groups exist but hold no line from the last {}",
                age(opts.logs_within)
            ),
            advice(
                "check the app writes to stdout/stderr and that log streaming is on ([eb] log_streaming)",
            ),
        ),
        Seen::Unreadable(e) => fail(
            id,
            e,
            advice(
                "turn on log streaming ([eb] log_streaming = true) and deploy, or check the credentials can read CloudWatch Logs",
            ),
        ),
    }
}

fn database(f: &Facts) -> Item {
    let id = ItemId::Database;
    match &f.database {
        Seen::Unreadable(e) => fail(
            id,
            e,
            advice("check the credentials can describe RDS instances"),
        ),
        Seen::Ok(None) => fail(id, "the database instance does not exist", Fix::DbCreate),
        Seen::Ok(Some(db)) if db.status != "available" => fail(
            id,
            format!("{} is `{}`, not available", db.identifier, db.status),
            advice("wait until the instance is available, then check again"),
        ),
        Seen::Ok(Some(db)) => match &db.connect {
            Ok(_) => pass(
                id,
                format!("{} is available and answers queries", db.identifier),
            ),
            Err(e) => fail(
                id,
                format!("{} is available but connecting failed: {e}", db.identifier),
                advice(
                    "run the check from inside the VPC (RDS instances are private) and check the instance's security group",
                ),
            ),
        },
    }
}

fn migrations(f: &Facts) -> Item {
    let id = ItemId::Migrations;
    let heads = match &f.app_heads {
        Seen::Ok(Some(h)) => h,
        Seen::Ok(None) => return not_applicable(id, "the app has no migrations/versions"),
        Seen::Unreadable(e) => {
            return fail(
                id,
                e,
                advice("check the app's migrations/versions directory is readable"),
            );
        }
    };
    let current = match &f.database {
        Seen::Ok(Some(db)) => match &db.connect {
            Ok(c) => c.clone().unwrap_or_default(),
            Err(_) => {
                return fail(
                    id,
                    "the database could not be read (see the RDS item)",
                    Fix::DbMigrate,
                );
            }
        },
        _ => return fail(id, "no database to read (see the RDS item)", Fix::DbCreate),
    };
    let shown = |v: &[String]| {
        if v.is_empty() {
            "no revision".to_string()
        } else {
            v.join(", ")
        }
    };
    if heads.iter().all(|h| current.contains(h)) {
        pass(
            id,
            format!("database at {} (the app's head)", shown(&current)),
        )
    } else {
        fail(
            id,
            format!(
                "database at {}, the app's head is {}",
                shown(&current),
                shown(heads)
            ),
            Fix::DbMigrate,
        )
    }
}

fn bucket(f: &Facts) -> Item {
    let id = ItemId::Bucket;
    match &f.bucket {
        None => not_applicable(id, "the target has no [s3] section"),
        Some(Seen::Unreadable(e)) => fail(id, e, Fix::S3Ensure),
        Some(Seen::Ok(b)) if !b.exists => fail(
            id,
            format!("bucket {} does not exist", b.name),
            Fix::S3Ensure,
        ),
        Some(Seen::Ok(b)) if b.drift.is_empty() => pass(
            id,
            format!(
                "{}: all four Block Public Access settings on, encrypted, no drift",
                b.name
            ),
        ),
        Some(Seen::Ok(b)) => fail(
            id,
            format!("{}: {}", b.name, b.drift.join("; ")),
            Fix::S3Ensure,
        ),
    }
}

fn static_files(f: &Facts) -> Item {
    let id = ItemId::StaticFiles;
    match &f.static_files {
        None => not_applicable(id, "the target has no [s3] section"),
        Some(_) if matches!(&f.bucket, Some(Seen::Ok(b)) if !b.exists) => fail(
            id,
            "the app bucket does not exist (see the bucket item)",
            Fix::S3Ensure,
        ),
        Some(Seen::Unreadable(e)) => fail(id, e, Fix::StaticSync),
        Some(Seen::Ok(s)) if s.files == 0 => not_applicable(id, format!("{} holds no file", s.dir)),
        Some(Seen::Ok(s)) if s.pending == 0 => pass(
            id,
            format!("all {} file(s) of {} are in the bucket", s.files, s.dir),
        ),
        Some(Seen::Ok(s)) => fail(
            id,
            format!(
                "{} of {} file(s) of {} are missing or differ in the bucket",
                s.pending, s.files, s.dir
            ),
            Fix::StaticSync,
        ),
    }
}

fn secrets(f: &Facts) -> Item {
    let id = ItemId::Secrets;
    match &f.secrets {
        Seen::Unreadable(e) => fail(
            id,
            e,
            advice("check the credentials can describe the secrets"),
        ),
        Seen::Ok(s) if !s.missing.is_empty() => fail(
            id,
            format!("missing in Secrets Manager: {}", s.missing.join(", ")),
            Fix::SecretsSet {
                name: s.missing[0].clone(),
            },
        ),
        Seen::Ok(s) if !s.literals.is_empty() => fail(
            id,
            format!(
                "secret-looking variables set as plain values: {}",
                s.literals.join(", ")
            ),
            advice(
                "move each into [secrets] (a Secrets Manager reference) and remove the plain value, then deploy",
            ),
        ),
        Seen::Ok(s) if s.declared == 0 => pass(
            id,
            "no [secrets] declared and no secret-looking plain variable",
        ),
        Seen::Ok(s) => pass(
            id,
            format!(
                "{} secret(s) resolve in Secrets Manager; no secret-looking plain variable",
                s.declared
            ),
        ),
    }
}

fn backups(f: &Facts, opts: &CheckOptions) -> Item {
    let id = ItemId::Backups;
    let db = match &f.database {
        Seen::Ok(Some(db)) => db,
        Seen::Ok(None) => return fail(id, "the database instance does not exist", Fix::DbCreate),
        Seen::Unreadable(e) => {
            return fail(
                id,
                e,
                advice("check the credentials can describe RDS instances"),
            );
        }
    };
    if db.backup_retention_days < 1 {
        return fail(
            id,
            format!(
                "{}: automated backups are off (retention 0 days)",
                db.identifier
            ),
            Fix::DbCreate,
        );
    }
    match &db.newest_snapshot {
        Some((snap, a)) if *a <= opts.snapshot_within => pass(
            id,
            format!(
                "retention {} days; newest snapshot {snap} is {} old",
                db.backup_retention_days,
                age(*a)
            ),
        ),
        Some((snap, a)) => fail(
            id,
            format!(
                "retention {} days, but the newest snapshot {snap} is {} old (more than {})",
                db.backup_retention_days,
                age(*a),
                age(opts.snapshot_within)
            ),
            Fix::DbSnapshot,
        ),
        None => fail(
            id,
            format!(
                "retention {} days, but {} has no available snapshot yet",
                db.backup_retention_days, db.identifier
            ),
            Fix::DbSnapshot,
        ),
    }
}

fn restore_check(f: &Facts, opts: &CheckOptions) -> Item {
    let id = ItemId::RestoreCheck;
    let Seen::Ok(Some(db)) = &f.database else {
        return fail(id, "no database to check (see the RDS item)", Fix::DbCreate);
    };
    match &db.last_restore_check {
        Some((snap, a)) if *a <= opts.restore_check_within => pass(
            id,
            format!("snapshot {snap} restored and checked {} ago", age(*a)),
        ),
        Some((snap, a)) => fail(
            id,
            format!(
                "the last passed restore check (snapshot {snap}) was {} ago, more than {}",
                age(*a),
                age(opts.restore_check_within)
            ),
            Fix::DbRestoreCheck,
        ),
        None => fail(
            id,
            "no snapshot of this instance has passed a restore check",
            Fix::DbRestoreCheck,
        ),
    }
}

fn alarms(f: &Facts) -> Item {
    let id = ItemId::Alarms;
    match &f.alarms {
        None => fail(
            id,
            "the target has no [alarms] section: nothing watches CPU, 5xx or the database",
            advice(
                "add [alarms] with an email to deploy.toml (the alarms runbook lists the defaults), then create them",
            ),
        ),
        Some(Seen::Unreadable(e)) => fail(id, e, Fix::AlarmsEnsure),
        Some(Seen::Ok(a)) if a.drift.is_empty() => pass(
            id,
            format!(
                "{} alarm(s) as deploy.toml says, notifying {}",
                a.wanted, a.topic
            ),
        ),
        Some(Seen::Ok(a)) => fail(id, a.drift.join("; "), Fix::AlarmsEnsure),
    }
}

fn runbooks(f: &Facts) -> Item {
    let id = ItemId::Runbooks;
    let r = &f.runbooks;
    let found: Vec<String> = r
        .found
        .iter()
        .map(|(t, file)| format!("{t}: {file}"))
        .collect();
    if r.missing.is_empty() {
        pass(id, found.join("; "))
    } else {
        fail(
            id,
            format!("no runbook for: {}", r.missing.join(", ")),
            advice(
                "write them under docs/runbooks/ (how to deploy, roll back and rotate secrets), one Markdown file each",
            ),
        )
    }
}
