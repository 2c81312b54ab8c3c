//! The checklist's rules as data: each case changes one fact of a passing target and names the
//! one item that must fail (or stop applying).

use std::time::Duration;

use super::*;

const H: u64 = 3600;

fn probe(route: Route, https: bool, status: std::result::Result<u16, String>) -> AppProbe {
    AppProbe {
        route,
        url: format!(
            "{}://app.example/healthz",
            if https { "https" } else { "http" }
        ),
        https,
        status,
    }
}

fn db() -> DbFacts {
    DbFacts {
        identifier: "budgetsync-db".into(),
        status: "available".into(),
        backup_retention_days: 7,
        connect: Ok(Some(vec!["0001".into()])),
        newest_snapshot: Some((
            "rds:budgetsync-db-2026-12-01".into(),
            Duration::from_secs(5 * H),
        )),
        last_restore_check: Some((
            "rds:budgetsync-db-2026-12-01".into(),
            Duration::from_secs(2 * 86_400),
        )),
    }
}

/// A target where every item passes (HTTPS through App Runner).
fn passing() -> Facts {
    Facts {
        local: false,
        apps: Seen::Ok(vec![
            probe(Route::Eb, false, Ok(200)),
            probe(Route::Apprunner, true, Ok(200)),
        ]),
        logs: Seen::Ok(Some((
            "/aws/elasticbeanstalk/e/var/log/web.stdout.log".into(),
            Duration::from_secs(120),
        ))),
        database: Seen::Ok(Some(db())),
        app_heads: Seen::Ok(Some(vec!["0001".into()])),
        bucket: Some(Seen::Ok(BucketFacts {
            name: "b".into(),
            exists: true,
            drift: vec![],
        })),
        static_files: Some(Seen::Ok(StaticFacts {
            dir: "app/static".into(),
            files: 3,
            pending: 0,
        })),
        secrets: Seen::Ok(SecretFacts {
            declared: 2,
            missing: vec![],
            literals: vec![],
        }),
        alarms: Some(Seen::Ok(AlarmFacts {
            topic: "arn:aws:sns:us-east-1:123456789012:budgetsync-prod-alarms".into(),
            wanted: 6,
            drift: vec![],
        })),
        runbooks: RunbookFacts {
            found: vec![
                ("deploy", "d.md".into()),
                ("roll back", "r.md".into()),
                ("rotate secrets", "s.md".into()),
            ],
            missing: vec![],
        },
    }
}

fn verdict_of(items: &[Item], id: ItemId) -> Verdict {
    items
        .iter()
        .find(|i| i.id == id)
        .map(|i| i.verdict)
        .unwrap()
}

#[test]
fn a_healthy_target_passes_every_item() {
    let items = verdicts(&passing(), &CheckOptions::default());
    let list = Checklist::new("prod", items);
    assert!(list.ok(), "{:#?}", list.items);
    assert_eq!((list.passed, list.failed, list.not_applicable), (12, 0, 0));
    assert!(list.items.iter().all(|i| i.fix.is_none()));
}

#[test]
fn breaking_one_fact_fails_exactly_its_item() {
    type Break = fn(&mut Facts);
    let cases: Vec<(&str, Break, &[ItemId], Option<Fix>)> = vec![
        (
            "app answers 502",
            |f| {
                f.apps = Seen::Ok(vec![
                    probe(Route::Eb, false, Ok(502)),
                    probe(Route::Apprunner, true, Ok(200)),
                ])
            },
            &[ItemId::AppHttp],
            Some(Fix::Deploy { route: Route::Eb }),
        ),
        (
            "https refused",
            |f| {
                f.apps = Seen::Ok(vec![
                    probe(Route::Eb, false, Ok(200)),
                    probe(Route::Apprunner, true, Err("connection refused".into())),
                ])
            },
            &[ItemId::AppHttps],
            Some(Fix::Deploy {
                route: Route::Apprunner,
            }),
        ),
        (
            "no recent log",
            |f| f.logs = Seen::Ok(None),
            &[ItemId::Logs],
            None,
        ),
        (
            "migration not applied",
            |f| f.app_heads = Seen::Ok(Some(vec!["0002".into()])),
            &[ItemId::Migrations],
            Some(Fix::DbMigrate),
        ),
        (
            "bucket public",
            |f| {
                f.bucket = Some(Seen::Ok(BucketFacts {
                    name: "b".into(),
                    exists: true,
                    drift: vec!["BlockPublicAcls is off".into()],
                }))
            },
            &[ItemId::Bucket],
            Some(Fix::S3Ensure),
        ),
        (
            "bucket missing",
            |f| {
                f.bucket = Some(Seen::Ok(BucketFacts {
                    name: "b".into(),
                    exists: false,
                    drift: vec!["the bucket does not exist".into()],
                }))
            },
            &[ItemId::Bucket, ItemId::StaticFiles],
            Some(Fix::S3Ensure),
        ),
        (
            "static not synced",
            |f| {
                f.static_files = Some(Seen::Ok(StaticFacts {
                    dir: "s".into(),
                    files: 3,
                    pending: 1,
                }))
            },
            &[ItemId::StaticFiles],
            Some(Fix::StaticSync),
        ),
        (
            "secret missing",
            |f| {
                f.secrets = Seen::Ok(SecretFacts {
                    declared: 2,
                    missing: vec!["budgetsync/x".into()],
                    literals: vec![],
                })
            },
            &[ItemId::Secrets],
            Some(Fix::SecretsSet {
                name: "budgetsync/x".into(),
            }),
        ),
        (
            "secret literal",
            |f| {
                f.secrets = Seen::Ok(SecretFacts {
                    declared: 2,
                    missing: vec![],
                    literals: vec!["environment e: STRIPE_KEY".into()],
                })
            },
            &[ItemId::Secrets],
            None,
        ),
        (
            "old snapshot",
            |f| {
                if let Seen::Ok(Some(d)) = &mut f.database {
                    d.newest_snapshot = Some(("s".into(), Duration::from_secs(72 * H)))
                }
            },
            &[ItemId::Backups],
            Some(Fix::DbSnapshot),
        ),
        (
            "backups off",
            |f| {
                if let Seen::Ok(Some(d)) = &mut f.database {
                    d.backup_retention_days = 0
                }
            },
            &[ItemId::Backups],
            Some(Fix::DbCreate),
        ),
        (
            "never restore checked",
            |f| {
                if let Seen::Ok(Some(d)) = &mut f.database {
                    d.last_restore_check = None
                }
            },
            &[ItemId::RestoreCheck],
            Some(Fix::DbRestoreCheck),
        ),
        (
            "restore check stale",
            |f| {
                if let Seen::Ok(Some(d)) = &mut f.database {
                    d.last_restore_check = Some(("s".into(), Duration::from_secs(40 * 86_400)))
                }
            },
            &[ItemId::RestoreCheck],
            Some(Fix::DbRestoreCheck),
        ),
        (
            "no rotate runbook",
            |f| {
                f.runbooks.found.pop();
                f.runbooks.missing.push("rotate secrets");
            },
            &[ItemId::Runbooks],
            None,
        ),
        (
            "an alarm changed out of band",
            |f| {
                f.alarms = Some(Seen::Ok(AlarmFacts {
                    topic: "t".into(),
                    wanted: 6,
                    drift: vec!["alarm budgetsync-prod-rds-cpu: threshold 95 (want 80)".into()],
                }))
            },
            &[ItemId::Alarms],
            Some(Fix::AlarmsEnsure),
        ),
        (
            "no [alarms] at all",
            |f| f.alarms = None,
            &[ItemId::Alarms],
            None,
        ),
    ];
    for (name, change, ids, fix) in cases {
        let id = ids[0];
        let mut f = passing();
        change(&mut f);
        let items = verdicts(&f, &CheckOptions::default());
        let failing: Vec<ItemId> = items
            .iter()
            .filter(|i| i.verdict == Verdict::Fail)
            .map(|i| i.id)
            .collect();
        assert_eq!(failing, ids.to_vec(), "{name}: {items:#?}");
        let item = items.iter().find(|i| i.id == id).unwrap();
        assert!(
            item.fix.is_some(),
            "{name}: a failing item says how to fix it"
        );
        if let Some(fix) = fix {
            assert_eq!(item.fix.as_ref(), Some(&fix), "{name}");
        }
        assert!(!item.evidence.is_empty(), "{name}");
    }
}

#[test]
fn a_database_that_cannot_be_read_fails_its_items_with_the_reason() {
    let mut f = passing();
    if let Seen::Ok(Some(d)) = &mut f.database {
        d.connect = Err("no answer within 10s".into());
    }
    let items = verdicts(&f, &CheckOptions::default());
    let failing: Vec<ItemId> = items
        .iter()
        .filter(|i| i.verdict == Verdict::Fail)
        .map(|i| i.id)
        .collect();
    assert_eq!(failing, vec![ItemId::Database, ItemId::Migrations]);
    let db = items.iter().find(|i| i.id == ItemId::Database).unwrap();
    assert!(
        db.evidence.contains("no answer within 10s"),
        "{}",
        db.evidence
    );
}

#[test]
fn items_that_do_not_apply_say_why() {
    let mut f = passing();
    f.local = true;
    f.apps = Seen::Ok(vec![probe(Route::Eb, false, Ok(200))]);
    f.bucket = None;
    f.static_files = None;
    f.app_heads = Seen::Ok(None);
    let items = verdicts(&f, &CheckOptions::default());
    for id in [
        ItemId::AppHttps,
        ItemId::Bucket,
        ItemId::StaticFiles,
        ItemId::Migrations,
    ] {
        let i = items.iter().find(|i| i.id == id).unwrap();
        assert_eq!(i.verdict, Verdict::NotApplicable, "{id:?}");
        assert!(!i.evidence.is_empty());
        assert!(i.fix.is_none());
    }
    assert!(Checklist::new("local", items).ok());
}

#[test]
fn nothing_deployed_fails_reachability_and_logs() {
    let mut f = passing();
    f.apps = Seen::Ok(vec![]);
    f.logs = Seen::Unreadable("nothing is deployed, so there are no app logs to read".into());
    let items = verdicts(&f, &CheckOptions::default());
    assert_eq!(verdict_of(&items, ItemId::AppHttp), Verdict::Fail);
    assert_eq!(verdict_of(&items, ItemId::Logs), Verdict::Fail);
    assert_eq!(verdict_of(&items, ItemId::AppHttps), Verdict::NotApplicable);
}

#[test]
fn the_json_shape_is_stable() {
    let items = verdicts(&passing(), &CheckOptions::default());
    let mut f = passing();
    f.app_heads = Seen::Ok(Some(vec!["0002".into()]));
    let failing = verdicts(&f, &CheckOptions::default());
    let json = serde_json::to_value(Checklist::new("prod", failing)).unwrap();
    let m = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "migrations")
        .unwrap();
    assert_eq!(m["verdict"], "fail");
    assert_eq!(m["fix"]["kind"], "db-migrate");
    assert_eq!(json["failed"], 1);
    assert_eq!(serde_json::to_value(&items[0]).unwrap()["id"], "app-http");
}
