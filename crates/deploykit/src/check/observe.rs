//! Reads the target's live state into [`Facts`]. Nothing here changes anything: describes,
//! lists, one GET per deployed route, one read-only database connection, a dry-run sync plan.

use std::path::Path;
use std::time::{Duration, SystemTime};

use deploykit_apprunner::{EcsExpress, EcsRoles};
use deploykit_aws::http_check::{Scheme, get_status};
use deploykit_config::{ContainerPlatformKind, ResolvedTarget};
use deploykit_report::{Event, NullReporter, Reporter};
use deploykit_secretrules::is_secret_name;
use time::OffsetDateTime;

use super::{
    AlarmFacts, AppProbe, BucketFacts, CheckOptions, DbFacts, Facts, RunbookFacts, SecretFacts,
    Seen, StaticFacts, alembic,
};
use crate::logs::AppLogs;
use crate::mapping::{db_wait_policy, eb_target};
use crate::s3::AppBucket;
use crate::{Error, Route, Session};

/// Reads everything the checklist needs; a failed read becomes that fact's error text.
pub async fn observe(s: &Session, opts: &CheckOptions, r: &dyn Reporter) -> Facts {
    let t = &s.target;
    r.report(Event::info(format!("checking target `{}`", t.name)));
    let live = live(s).await;
    let (apps, plain_env) = match &live {
        Ok(l) => (Seen::Ok(probe(s, l, opts).await), l.plain_env.as_slice()),
        Err(e) => (Seen::Unreadable(e.clone()), &[][..]),
    };
    let routes: Vec<Route> = match &apps {
        Seen::Ok(a) => a.iter().map(|p| p.route).collect(),
        Seen::Unreadable(_) => Vec::new(),
    };
    let (logs, database, bucket, static_files, secrets, alarms) = tokio::join!(
        logs(s, &routes, opts),
        database(s, opts),
        bucket(s),
        static_files(s),
        secrets(s, plain_env),
        alarms(s),
    );
    Facts {
        local: t.local,
        apps,
        logs,
        database,
        app_heads: alembic::app_heads(&t.app.path).map_or_else(
            |e| {
                Seen::Unreadable(format!(
                    "reading {}/migrations/versions: {e}",
                    t.app.path.display()
                ))
            },
            Seen::Ok,
        ),
        bucket,
        static_files,
        secrets,
        alarms,
        runbooks: runbooks(&s.root),
    }
}

fn unreadable<T>(e: impl std::fmt::Display) -> Seen<T> {
    Seen::Unreadable(e.to_string())
}

fn ecs(s: &Session) -> EcsExpress {
    EcsExpress {
        client: aws_sdk_ecs::Client::new(&s.sdk),
        // Reading a service needs no role.
        roles: EcsRoles {
            execution_role_arn: String::new(),
            infrastructure_role_arn: String::new(),
        },
        cluster: None,
    }
}

/// What runs on the target: each route's URL and health path, and the variables the
/// environment/service holds as plain values, `(where, name)`.
#[derive(Default)]
struct Live {
    routes: Vec<(Route, String, Scheme, String)>,
    plain_env: Vec<(String, String)>,
}

async fn live(s: &Session) -> Result<Live, String> {
    let t = &s.target;
    let mut live = Live {
        plain_env: t
            .env
            .keys()
            .map(|k| ("deploy.toml [env]".to_string(), k.clone()))
            .collect(),
        ..Live::default()
    };
    let eb = deploykit_eb::Eb::new(&s.sdk, t.local || t.endpoint_url.is_some());
    if let Some(env) = eb
        .environment(&eb_target(t, s.resolve))
        .await
        .map_err(|e| e.to_string())?
    {
        live.plain_env.extend(
            env.settings
                .keys()
                .filter(|(ns, _)| ns == "aws:elasticbeanstalk:application:environment")
                .map(|(_, name)| (format!("environment {}", t.eb.environment), name.clone())),
        );
        if let Some(cname) = env.cname {
            live.routes
                .push((Route::Eb, cname, Scheme::Http, t.app.health_path.clone()));
        }
    }
    let (route, service, path, view) = match t.platform {
        ContainerPlatformKind::AppRunner => {
            let client = aws_sdk_apprunner::Client::new(&s.sdk);
            let view = deploykit_apprunner::find_service(&client, &t.apprunner.service).await;
            (
                Route::Apprunner,
                &t.apprunner.service,
                &t.apprunner.health_path,
                view,
            )
        }
        ContainerPlatformKind::EcsExpress => {
            let view = ecs(s).find(&t.ecs.service).await;
            (Route::Ecs, &t.ecs.service, &t.ecs.health_path, view)
        }
    };
    match view {
        Ok(Some(v)) => {
            if let Some(config) = v.config {
                live.plain_env.extend(
                    config
                        .env
                        .into_keys()
                        .map(|k| (format!("service {service}"), k)),
                );
            }
            if let Some(url) = v.url {
                live.routes.push((route, url, Scheme::Https, path.clone()));
            }
        }
        Ok(None) => {}
        // An account without App Runner (closed to new customers) still checks its EB route.
        Err(_) if !live.routes.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    Ok(live)
}

/// Each route's health path, probed once.
async fn probe(s: &Session, live: &Live, opts: &CheckOptions) -> Vec<AppProbe> {
    let mut probes = Vec::new();
    for (route, url, scheme, path) in &live.routes {
        let host = url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let status = get_status(*scheme, &host, path, s.resolve, opts.probe_timeout).await;
        // The local edge answers everything over plain HTTP.
        let https = *scheme == Scheme::Https && !s.target.local;
        let shown_scheme = if https { "https" } else { "http" };
        probes.push(AppProbe {
            route: *route,
            url: format!("{shown_scheme}://{host}{path}"),
            https,
            status,
        });
    }
    probes
}

async fn logs(
    s: &Session,
    routes: &[Route],
    opts: &CheckOptions,
) -> Seen<Option<(String, Duration)>> {
    if routes.is_empty() {
        return unreadable("nothing is deployed, so there are no app logs to read");
    }
    let since = SystemTime::now() - opts.logs_within;
    let mut newest: Option<(String, SystemTime)> = None;
    let mut errors = Vec::new();
    for route in routes {
        let read = async {
            let logs = AppLogs::for_session(s, *route).await?;
            logs.fetch(since, None, 1000).await
        };
        match read.await {
            Ok(f) => {
                if let Some(line) = f.lines.iter().max_by_key(|l| l.time)
                    && newest.as_ref().is_none_or(|(_, t)| line.time > *t)
                {
                    newest = Some((line.group.clone(), line.time));
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    match newest {
        Some((group, at)) => Seen::Ok(Some((
            group,
            SystemTime::now().duration_since(at).unwrap_or_default(),
        ))),
        None if !errors.is_empty() => Seen::Unreadable(errors.join("; ")),
        None => Seen::Ok(None),
    }
}

async fn database(s: &Session, opts: &CheckOptions) -> Seen<Option<DbFacts>> {
    let t = &s.target;
    let trust = match crate::mapping::db_trust(t, s.local.as_ref()) {
        Ok(trust) => trust,
        Err(e) => return unreadable(e),
    };
    let rds = deploykit_rds::Rds::new(&s.sdk, db_wait_policy(t)).with_trust(trust);
    let id = &t.database.instance;
    let state = match rds.describe(id).await {
        Ok(Some(st)) => st,
        Ok(None) => return Seen::Ok(None),
        Err(e) => return unreadable(e),
    };
    let connect = if state.status == "available" {
        rds.probe(id, opts.probe_timeout)
            .await
            .map(|p| p.alembic_revisions)
            .map_err(|e| e.to_string())
    } else {
        Err(format!("the instance is `{}`", state.status))
    };
    let now = OffsetDateTime::now_utc();
    let snapshots = match rds.snapshots(id).await {
        Ok(v) => v,
        Err(e) => return unreadable(e),
    };
    let newest_snapshot = snapshots
        .iter()
        .filter(|s| s.status == "available")
        .max_by_key(|s| s.created)
        .map(|s| (s.identifier.clone(), s.age(now)));
    let last_restore_check = snapshots
        .iter()
        .filter_map(|s| s.restore_checked.map(|at| (s.identifier.clone(), at)))
        .max_by_key(|(_, at)| *at)
        .map(|(snap, at)| (snap, (now - at).try_into().unwrap_or_default()));
    Seen::Ok(Some(DbFacts {
        identifier: id.clone(),
        status: state.status,
        backup_retention_days: state.backup_retention_days,
        connect,
        newest_snapshot,
        last_restore_check,
    }))
}

async fn bucket(s: &Session) -> Option<Seen<BucketFacts>> {
    s.target.s3.as_ref()?;
    let read = async {
        let b = AppBucket::for_session(s).await?;
        let check = b.status().await?;
        Ok::<_, Error>(BucketFacts {
            exists: !check
                .drift
                .iter()
                .any(|d| matches!(d, deploykit_s3::bucket::Drift::Missing)),
            drift: check.drift.iter().map(ToString::to_string).collect(),
            name: check.bucket,
        })
    };
    Some(read.await.map_or_else(unreadable, Seen::Ok))
}

async fn static_files(s: &Session) -> Option<Seen<StaticFacts>> {
    let config = s.target.s3.as_ref()?;
    let dir = config.static_dir.display().to_string();
    if !config.static_dir.is_dir() {
        return Some(Seen::Ok(StaticFacts {
            dir,
            files: 0,
            pending: 0,
        }));
    }
    let read = async {
        let b = AppBucket::for_session(s).await?;
        // A dry run plans the sync without uploading: what it would upload is what is missing.
        b.sync_static(false, true, &NullReporter).await
    };
    Some(match read.await {
        Ok(report) => Seen::Ok(StaticFacts {
            dir,
            files: report.plan.uploads.len() + report.plan.unchanged.len(),
            pending: report.plan.uploads.len(),
        }),
        Err(e) => unreadable(e),
    })
}

async fn alarms(s: &Session) -> Option<Seen<AlarmFacts>> {
    s.target.alarms.as_ref()?;
    let read = async {
        let a = crate::alarms::AppAlarms::for_session(s).await?;
        let check = a.status().await?;
        Ok::<_, Error>(AlarmFacts {
            wanted: check
                .plan
                .alarms
                .iter()
                .filter(|c| !matches!(c, crate::alarms::AlarmChange::Delete { .. }))
                .count(),
            drift: check.drift.iter().map(ToString::to_string).collect(),
            topic: check.topic_arn,
        })
    };
    Some(read.await.map_or_else(unreadable, Seen::Ok))
}

async fn secrets(s: &Session, plain: &[(String, String)]) -> Seen<SecretFacts> {
    let t: &ResolvedTarget = &s.target;
    let mut facts = SecretFacts {
        declared: t.secrets.len(),
        missing: Vec::new(),
        literals: plain
            .iter()
            .filter(|(_, name)| is_secret_name(name))
            .map(|(place, name)| format!("{place}: {name}"))
            .collect(),
    };
    match crate::preflight::resolve_secrets(t, &s.sdk).await {
        Ok(_) => {}
        Err(Error::Secrets(deploykit_secrets::SecretsError::Missing { missing })) => {
            facts.missing = missing.iter().map(|m| m.reference.clone()).collect();
        }
        Err(e) => return unreadable(e),
    }
    Seen::Ok(facts)
}

/// The runbook topics and the words that find them in file names or Markdown headings.
const TOPICS: &[(&str, &[&str])] = &[
    ("deploy", &["deploy"]),
    ("roll back", &["rollback", "roll back", "roll-back"]),
    ("rotate secrets", &["rotat"]),
];

/// Looks for each topic in `docs/runbooks/*.md`, `docs/*.md` and the project's own `*.md`.
fn runbooks(root: &Path) -> RunbookFacts {
    let mut files = Vec::new();
    for dir in [
        root.join("docs/runbooks"),
        root.join("docs"),
        root.to_path_buf(),
    ] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut md: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("md")))
                .collect();
            md.sort();
            files.extend(md);
        }
    }
    let mut facts = RunbookFacts::default();
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default()
    };
    let headings_of = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|text| {
                text.lines()
                    .filter(|l| l.starts_with('#'))
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    for (topic, words) in TOPICS {
        // A file named for the topic first, then a Markdown heading that names it.
        let hit = files
            .iter()
            .find(|p| words.iter().any(|w| name_of(p).contains(w)))
            .or_else(|| {
                files.iter().find(|p| {
                    let headings = headings_of(p);
                    words.iter().any(|w| headings.iter().any(|h| h.contains(w)))
                })
            });
        match hit {
            Some(p) => facts.found.push((
                *topic,
                p.strip_prefix(root).unwrap_or(p).display().to_string(),
            )),
            None => facts.missing.push(topic),
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbooks_are_found_by_name_or_heading() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("docs/runbooks")).unwrap();
        std::fs::write(root.join("docs/runbooks/deploy.md"), "# Deploy\n").unwrap();
        std::fs::write(
            root.join("OPERATIONS.md"),
            "# Ops\n\n## Rolling back: roll back a bad release\n",
        )
        .unwrap();
        let f = runbooks(root);
        assert_eq!(
            f.found,
            vec![
                ("deploy", "docs/runbooks/deploy.md".to_string()),
                ("roll back", "OPERATIONS.md".to_string())
            ]
        );
        assert_eq!(f.missing, vec!["rotate secrets"]);
    }

    #[test]
    fn this_repository_documents_every_topic() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let f = runbooks(&root);
        assert!(f.missing.is_empty(), "{f:?}");
    }
}
