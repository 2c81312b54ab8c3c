//! deploykit-rds against the local cloud's RDS: the real aws-sdk-rds client, an in-process edge,
//! a private PostgreSQL cluster started as `local up` starts it (TLS with a local CA, roles
//! refused without TLS) and moto for Secrets Manager.
//! Needs /usr/lib/postgresql/*/bin and target/venvs/moto (created by `cargo xtask local up`);
//! fails with that instruction when they are missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use deploykit_localcloud::{Edge, EdgeConfig, PostgresConfig};
use deploykit_rds::{
    DbSpec, DbTrust, Plan, Rds, RdsError, RestoreCheckOptions, SnapshotKind, WaitPolicy,
};
use deploykit_report::{Event, VecReporter};
use secrecy::ExposeSecret;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Cloud {
    pg: deploykit_testsupport::PrivatePostgres,
    moto: Child,
    edge: Edge,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = self.moto.kill();
        let _ = self.moto.wait();
    }
}

async fn cloud() -> Cloud {
    // The cluster as `local up` starts it: TLS with a local CA, roles need TLS (force_ssl).
    let pg = deploykit_testsupport::private_postgres();
    let pg_port = pg.port();

    let moto_bin = workspace().join("target/venvs/moto/bin/moto_server");
    assert!(
        moto_bin.exists(),
        "{} is missing: run `cargo xtask local up` once to create the moto venv",
        moto_bin.display()
    );
    let moto_port = free_port();
    let moto = Command::new(&moto_bin)
        .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for i in 0.. {
        if std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_ok() {
            break;
        }
        assert!(i < 300, "moto did not start within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let edge = Edge::start(EdgeConfig {
        moto_url: Some(format!("http://127.0.0.1:{moto_port}")),
        time_scale: 600.0,
        postgres: Some(PostgresConfig {
            host: "127.0.0.1".into(),
            port: pg_port,
            superuser: "postgres".into(),
            password: None,
        }),
        ..EdgeConfig::default()
    })
    .await
    .unwrap();
    Cloud { pg, moto, edge }
}

async fn rds(c: &Cloud) -> Rds {
    let t = deploykit_aws::TargetAws::local("us-east-1", c.edge.url());
    let sdk = deploykit_aws::sdk_config(&t).await.unwrap();
    Rds::new(
        &sdk,
        WaitPolicy {
            timeout: Duration::from_secs(30),
            poll: Duration::from_millis(100),
        },
    )
    .with_trust(DbTrust::local_ca(&c.pg.tls().ca_file).unwrap())
}

fn spec() -> DbSpec {
    DbSpec {
        db_name: "budgetsync".into(),
        master_username: "budgetsync".into(),
        ..DbSpec::recommended("budgetsync-db")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_snapshot_prune_restore_check_and_url_against_the_local_cloud() {
    let c = cloud().await;
    let rds = rds(&c).await;
    let r = VecReporter::new();
    let s = spec();

    // ensure creates once, then changes nothing.
    let first = rds.ensure(&s, &r).await.unwrap();
    assert!(
        matches!(first.plan, Plan::Create { .. }),
        "{:?}",
        first.plan
    );
    assert!(
        !first.state.publicly_accessible
            && first.state.storage_encrypted
            && first.state.master_secret_arn.is_some()
    );
    assert!(
        r.events()
            .iter()
            .any(|e| matches!(e, Event::Waiting { .. })),
        "the create wait is reported"
    );
    let second = rds.ensure(&s, &r).await.unwrap();
    assert!(
        matches!(second.plan, Plan::NoChange { ref manual } if manual.is_empty()),
        "{:?}",
        second.plan
    );
    assert!(!second.changed());

    // Drift is reported, and ensure fixes what it can.
    let drifted = DbSpec {
        backup_retention_days: 14,
        deletion_protection: true,
        ..s.clone()
    };
    let st = rds.status(&drifted).await.unwrap();
    let settings: Vec<&str> = st.drift.iter().map(|d| d.setting).collect();
    assert_eq!(
        settings,
        vec!["backup_retention_days", "deletion_protection"]
    );
    assert!(st.unverified.iter().any(|u| u.contains("security group")));
    assert!(rds.status(&s).await.unwrap().drift.is_empty());

    // The URL masks the password and connects with it.
    let url = rds.url("budgetsync-db").await.unwrap();
    assert!(url.to_string().contains(":********@127.0.0.1:"), "{url}");
    let pw = url.password().expose_secret().to_string();
    assert!(!url.to_string().contains(&pw) && !format!("{url:?}").contains(&pw));
    let (client, _conn) = rds
        .connect(&url, std::time::Duration::from_secs(20))
        .await
        .unwrap();
    client.batch_execute("CREATE TABLE items (id int); INSERT INTO items VALUES (1),(2),(3); CREATE TABLE alembic_version (version_num varchar(32)); INSERT INTO alembic_version VALUES ('0001');").await.unwrap();
    drop(client);
    let stored = rds.store_url("budgetsync/db-url", &url).await.unwrap();
    assert_eq!(stored, deploykit_rds::PutOutcome::Created);
    assert_eq!(
        rds.store_url("budgetsync/db-url", &url).await.unwrap(),
        deploykit_rds::PutOutcome::Updated
    );

    // Snapshots: a waited manual one, listed next to the automated one.
    let snap = rds
        .snapshot(
            "budgetsync-db",
            Some("before test"),
            Some("abc123"),
            true,
            &r,
        )
        .await
        .unwrap();
    assert!(
        snap.identifier.starts_with("budgetsync-db-") && snap.identifier.ends_with("-before-test"),
        "{}",
        snap.identifier
    );
    assert_eq!(snap.status, "available");
    let all = rds.snapshots("budgetsync-db").await.unwrap();
    assert!(all.iter().any(|s| s.kind == SnapshotKind::Automated));
    assert!(
        all.iter()
            .any(|s| s.kind == SnapshotKind::Manual && s.identifier == snap.identifier)
    );

    // A restore check that fails (a table the snapshot lacks) still deletes its instance.
    let mut bad = RestoreCheckOptions::new("budgetsync-db");
    bad.snapshot = Some(snap.identifier.clone());
    bad.expected_tables = vec!["no_such_table".into()];
    let err = rds
        .restore_check(&bad, &r, std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(err, RdsError::Check { .. }), "{err}");
    assert!(
        err.to_string().contains("no_such_table") && err.to_string().contains("items"),
        "{err}"
    );
    // Cancelled (Ctrl-C) right away: still deleted.
    let err = rds
        .restore_check(&RestoreCheckOptions::new("budgetsync-db"), &r, async {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, RdsError::Cancelled { ref cleanup, .. } if cleanup == "was deleted"),
        "{err}"
    );
    // A passing one reads the data in the snapshot.
    let mut good = RestoreCheckOptions::new("budgetsync-db");
    good.snapshot = Some(snap.identifier.clone());
    good.expected_revision = Some("0001".into());
    let rep = rds
        .restore_check(&good, &r, std::future::pending())
        .await
        .unwrap();
    assert_eq!(rep.alembic_revision.as_deref(), Some("0001"));
    assert!(
        rep.tables.iter().any(|t| t.table == "items" && t.rows == 3),
        "{:?}",
        rep.tables
    );
    assert!(rep.deleted);
    for id in [&rep.temporary_instance] {
        assert!(
            rds.describe(id).await.unwrap().is_none(),
            "{id} must be gone"
        );
    }
    // No restorecheck instance is left behind by any of the three.
    let client = aws_sdk_rds::Client::new(
        &deploykit_aws::sdk_config(&deploykit_aws::TargetAws::local("us-east-1", c.edge.url()))
            .await
            .unwrap(),
    );
    let left = client.describe_db_instances().send().await.unwrap();
    let ids: Vec<&str> = left
        .db_instances()
        .iter()
        .filter_map(|i| i.db_instance_identifier())
        .collect();
    assert_eq!(ids, vec!["budgetsync-db"]);

    // Prune with keep 0 deletes the manual snapshot and never the automated one.
    let sel = rds
        .prune("budgetsync-db", 0, None, false, &r)
        .await
        .unwrap();
    assert_eq!(sel.delete, vec![snap.identifier.clone()]);
    let after = rds.snapshots("budgetsync-db").await.unwrap();
    assert!(after.iter().all(|s| s.kind == SnapshotKind::Automated) && !after.is_empty());
    // RDS itself refuses to delete an automated snapshot.
    let auto = &after[0].identifier;
    let e = client
        .delete_db_snapshot()
        .db_snapshot_identifier(auto)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        deploykit_aws::classify(&e).code.as_deref(),
        Some("InvalidDBSnapshotState")
    );
    // Typed errors come through.
    let e = client
        .describe_db_instances()
        .db_instance_identifier("nope")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .is_some_and(|s| s.is_db_instance_not_found_fault())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predeploy_snapshot_only_when_on_needed_and_the_instance_exists() {
    use deploykit_rds::PreDeploySnapshot;
    let c = cloud().await;
    let rds = rds(&c).await;
    let r = VecReporter::new();
    let id = "budgetsync-db";

    // No instance yet: skipped, with the reason reported.
    let d = rds
        .plan_predeploy_snapshot(id, true, true, &r)
        .await
        .unwrap();
    assert_eq!(
        d,
        PreDeploySnapshot::NoInstance {
            instance: id.into()
        }
    );
    assert!(r.events().iter().any(|e| matches!(e,
        Event::StepSkipped { step, reason } if step == "db-snapshot" && reason.contains("does not exist"))));

    rds.ensure(&spec(), &r).await.unwrap();
    assert_eq!(
        rds.plan_predeploy_snapshot(id, false, true, &r)
            .await
            .unwrap(),
        PreDeploySnapshot::Off
    );
    assert_eq!(
        rds.plan_predeploy_snapshot(id, true, false, &r)
            .await
            .unwrap(),
        PreDeploySnapshot::NotNeeded
    );
    // Skips pass through take unchanged and snapshot nothing.
    let off = rds
        .take_predeploy_snapshot(PreDeploySnapshot::Off, None, &r)
        .await
        .unwrap();
    assert_eq!(off, PreDeploySnapshot::Off);
    assert!(
        !rds.snapshots(id)
            .await
            .unwrap()
            .iter()
            .any(|s| s.kind == SnapshotKind::Manual)
    );

    let planned = rds
        .plan_predeploy_snapshot(id, true, true, &r)
        .await
        .unwrap();
    assert_eq!(
        planned,
        PreDeploySnapshot::Planned {
            instance: id.into()
        }
    );
    let taken = rds
        .take_predeploy_snapshot(planned, Some("abc123"), &r)
        .await
        .unwrap();
    let PreDeploySnapshot::Taken { snapshot } = taken else {
        panic!("expected a snapshot, got {taken:?}");
    };
    assert!(
        snapshot.identifier.starts_with("budgetsync-db-")
            && snapshot.identifier.ends_with("-predeploy"),
        "{}",
        snapshot.identifier
    );
    assert_eq!(snapshot.status, "available", "taken and waited for");

    // Restoring that snapshot of a never-migrated database says so plainly.
    let mut opts = RestoreCheckOptions::new(id);
    opts.snapshot = Some(snapshot.identifier.clone());
    let err = rds
        .restore_check(&opts, &r, std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(err, RdsError::Check { .. }), "{err}");
    let msg = err.to_string();
    let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
    assert!(
        msg.contains("the restored database is empty") && help.contains("run the app's migrations"),
        "{msg} / {help}"
    );
    assert_eq!(
        deploykit_report::Diagnostic::category(&err),
        deploykit_report::Category::CheckFailed
    );
}

/// `db create`'s app role on the local RDS (TLS like RDS 15+): planned, applied, unchanged on
/// a second run; the app role has DML on the owner's tables (also ones made later, by the
/// migrations) and cannot CREATE or DROP; its URL is its own (not the master secret's).
#[tokio::test]
async fn the_app_role_is_least_privilege_idempotent_and_has_its_own_url() {
    use deploykit_rds::{AppRoleSpec, AppRoleStep};
    use tokio_postgres::error::SqlState;
    let c = cloud().await;
    let rds = rds(&c).await;
    let r = VecReporter::new();
    rds.ensure(&spec(), &r).await.unwrap();
    let app = AppRoleSpec::for_instance("budgetsync-db", "budgetsync");
    let t = Duration::from_secs(20);

    // The owner makes a table before the role exists (covered by the grant on all tables).
    let owner = rds.url("budgetsync-db").await.unwrap();
    let (oc, _ot) = rds.connect(&owner, t).await.unwrap();
    oc.batch_execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
        .await
        .unwrap();

    let dry = rds
        .ensure_app_role("budgetsync-db", &app, true, &r)
        .await
        .unwrap();
    assert!(!dry.applied);
    assert_eq!(
        dry.plan.first(),
        Some(&AppRoleStep::NewSecret),
        "{:?}",
        dry.plan
    );
    assert!(dry.plan.contains(&AppRoleStep::CreateRole));
    let first = rds
        .ensure_app_role("budgetsync-db", &app, false, &r)
        .await
        .unwrap();
    assert!(first.applied && !first.unchanged(), "{:?}", first.plan);
    let second = rds
        .ensure_app_role("budgetsync-db", &app, false, &r)
        .await
        .unwrap();
    assert!(
        second.unchanged(),
        "a second run changes nothing: {:?}",
        second.plan
    );
    assert!(!second.applied);

    // A table the migrations (the owner) make later: the default privileges cover it.
    oc.batch_execute("CREATE TABLE later (id serial PRIMARY KEY, v int)")
        .await
        .unwrap();

    let url = rds.app_url("budgetsync-db", &app).await.unwrap();
    assert_eq!(url.user, "budgetsync_app");
    assert_ne!(url.user, owner.user);
    assert!(
        url.to_string()
            .contains("?sslmode=verify-full&sslrootcert="),
        "{url}"
    );
    let (ac, _at) = rds.connect(&url, t).await.unwrap();
    ac.batch_execute(
        "INSERT INTO items (name) VALUES ('a'), ('b'); UPDATE items SET name = 'c' WHERE name = 'b'; DELETE FROM items WHERE name = 'a'; INSERT INTO later (v) VALUES (1)",
    )
    .await
    .unwrap();
    let n: i64 = ac
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    for (sql, want) in [
        (
            "CREATE TABLE evil (x int)",
            SqlState::INSUFFICIENT_PRIVILEGE,
        ),
        ("DROP TABLE items", SqlState::INSUFFICIENT_PRIVILEGE),
        ("CREATE SCHEMA evil", SqlState::INSUFFICIENT_PRIVILEGE),
        ("CREATE ROLE evil", SqlState::INSUFFICIENT_PRIVILEGE),
        ("CREATE DATABASE evil", SqlState::INSUFFICIENT_PRIVILEGE),
    ] {
        let e = ac.batch_execute(sql).await.unwrap_err();
        assert_eq!(e.code(), Some(&want), "{sql}: {e:?}");
    }
    let third = rds
        .ensure_app_role("budgetsync-db", &app, false, &r)
        .await
        .unwrap();
    assert!(
        third.unchanged(),
        "tables made later need no change: {:?}",
        third.plan
    );

    // The master password changes (RDS rotates its managed secret): the app's URL still works.
    oc.batch_execute("ALTER ROLE budgetsync PASSWORD 'rotated-elsewhere'")
        .await
        .unwrap();
    let (ac2, _) = rds.connect(&url, t).await.unwrap();
    ac2.batch_execute("SELECT 1 FROM items").await.unwrap();
}
