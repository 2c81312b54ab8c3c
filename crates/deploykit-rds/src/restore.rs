//! Restore checks: restore a snapshot to a temporary instance, connect, check, and ALWAYS
//! delete the temporary instance (after success, failure, timeout or cancellation).

use std::time::{Duration, Instant};

use aws_sdk_rds::types::Tag;
use deploykit_report::{Event, Reporter, StepTimer};
use secrecy::ExposeSecret;
use serde::Serialize;
use time::OffsetDateTime;

use crate::ops::Poll;
use crate::snapshot::restore_check_instance_name;
use crate::{InstanceState, Rds, RdsError, SnapshotInfo};

/// What to restore and what to check.
#[derive(Debug, Clone)]
pub struct RestoreCheckOptions {
    /// The source instance.
    pub instance: String,
    /// Snapshot to restore; `None`: the newest available one (manual or automated).
    pub snapshot: Option<String>,
    /// Tables that must exist in the restored database (e.g. `alembic_version`).
    pub expected_tables: Vec<String>,
    /// The Alembic revision the restored database must be at, when known.
    pub expected_revision: Option<String>,
    /// Connect to this `host:port` instead of the restored endpoint (an SSH tunnel into the VPC:
    /// RDS instances are private, so a laptop outside the VPC cannot reach them directly).
    pub connect_via: Option<(String, u16)>,
    /// Bound on connecting to the restored database.
    pub connect_timeout: Duration,
}

impl RestoreCheckOptions {
    pub fn new(instance: impl Into<String>) -> Self {
        RestoreCheckOptions {
            instance: instance.into(),
            snapshot: None,
            expected_tables: vec!["alembic_version".into()],
            expected_revision: None,
            connect_via: None,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

/// Rows of one table in the restored database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

/// What a successful restore check found.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreCheckReport {
    pub snapshot: String,
    pub temporary_instance: String,
    pub tables: Vec<TableCount>,
    pub alembic_revision: Option<String>,
    pub restore_seconds: f64,
    /// Always true on success: the temporary instance was deleted.
    pub deleted: bool,
}

/// The temporary instance. [`TempInstance::cleanup`] is the explicit async delete; if the
/// guard is dropped without it (the future was dropped, a panic), `Drop` still sends the delete
/// on the current Tokio runtime.
#[derive(Debug)]
struct TempInstance {
    rds: Rds,
    name: String,
    armed: bool,
}

impl TempInstance {
    async fn cleanup(mut self, r: &dyn Reporter) -> Result<(), RdsError> {
        self.armed = false;
        let t = StepTimer::start(
            r,
            "db-restore-cleanup",
            format!("Deleting temporary instance {}", self.name),
        );
        delete_instance(&self.rds, &self.name).await?;
        let name = self.name.clone();
        let what = format!("temporary instance {name} to be deleted");
        self.rds
            .wait_for(r, "db-restore-cleanup", &what, || async {
                Ok(match self.rds.describe(&name).await? {
                    None => Poll::Done(()),
                    Some(s) => Poll::Pending(s.status),
                })
            })
            .await?;
        t.finish(r, format!("temporary instance {name} deleted"));
        Ok(())
    }
}

impl Drop for TempInstance {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let rds = self.rds.clone();
            let name = self.name.clone();
            handle.spawn(async move {
                let _ = delete_instance(&rds, &name).await;
            });
        }
    }
}

async fn delete_instance(rds: &Rds, name: &str) -> Result<(), RdsError> {
    let res = rds
        .rds
        .delete_db_instance()
        .db_instance_identifier(name)
        .skip_final_snapshot(true)
        .delete_automated_backups(true)
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) => {
            let c = deploykit_aws::classify(&e);
            // Already gone (or never created): nothing to clean up.
            if c.kind == deploykit_aws::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(RdsError::Aws {
                    operation: "DeleteDBInstance",
                    resource: name.into(),
                    error: c,
                })
            }
        }
    }
}

impl Rds {
    /// Leaves the time of a passed check on the snapshot ([`crate::TAG_RESTORE_CHECKED`]), so
    /// `check` can tell when the backups were last proven. A failure to tag is a warning: the
    /// check itself passed.
    async fn mark_restore_checked(&self, snapshot: &SnapshotInfo, r: &dyn Reporter) {
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        let Ok(at) = now.format(&time::format_description::well_known::Rfc3339) else {
            return;
        };
        if snapshot.arn.is_empty() {
            r.report(Event::warn(format!(
                "snapshot {} has no ARN; the passed check is not recorded on it",
                snapshot.identifier
            )));
            return;
        }
        let tagged = self
            .rds
            .add_tags_to_resource()
            .resource_name(&snapshot.arn)
            .tags(
                Tag::builder()
                    .key(crate::TAG_RESTORE_CHECKED)
                    .value(at)
                    .build(),
            )
            .send()
            .await;
        if let Err(e) = tagged {
            let c = deploykit_aws::classify(&e);
            r.report(Event::warn(format!(
                "the check passed but recording it on snapshot {} failed: {c}",
                snapshot.identifier
            )));
        }
    }

    /// Restores a snapshot to `<instance>-restorecheck-<ts>`, waits (bounded), connects, checks
    /// tables, row counts and the Alembic revision, and deletes the temporary instance whatever
    /// happened. `cancel` (e.g. Ctrl-C) stops the check early; cleanup still runs.
    pub async fn restore_check(
        &self,
        opts: &RestoreCheckOptions,
        r: &dyn Reporter,
        cancel: impl Future<Output = ()>,
    ) -> Result<RestoreCheckReport, RdsError> {
        let source =
            self.describe(&opts.instance)
                .await?
                .ok_or_else(|| RdsError::InstanceNotFound {
                    identifier: opts.instance.clone(),
                })?;
        let snapshot = match &opts.snapshot {
            Some(s) => self.describe_snapshot(s).await?,
            None => newest_available(self.snapshots(&opts.instance).await?).ok_or_else(|| {
                RdsError::NoSnapshot {
                    identifier: opts.instance.clone(),
                }
            })?,
        };
        let temp = restore_check_instance_name(&opts.instance, OffsetDateTime::now_utc())?;
        let started = Instant::now();
        let t = StepTimer::start(
            r,
            "db-restore-check",
            format!(
                "Restoring snapshot {} to temporary instance {temp}",
                snapshot.identifier
            ),
        );
        self.rds
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(&temp)
            .db_snapshot_identifier(&snapshot.identifier)
            .db_instance_class(&source.instance_class)
            .publicly_accessible(false)
            .deletion_protection(false)
            .multi_az(false)
            .manage_master_user_password(true)
            .set_db_subnet_group_name(source.subnet_group.clone())
            .set_vpc_security_group_ids(
                (!source.vpc_security_group_ids.is_empty())
                    .then(|| source.vpc_security_group_ids.clone()),
            )
            .tags(
                Tag::builder()
                    .key(crate::TAG_MANAGED_BY)
                    .value("deploykit")
                    .build(),
            )
            .tags(
                Tag::builder()
                    .key(crate::TAG_REASON)
                    .value("restore-check")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| RdsError::aws("RestoreDBInstanceFromDBSnapshot", &temp, &e))?;
        let guard = TempInstance {
            rds: self.clone(),
            name: temp.clone(),
            armed: true,
        };

        let checked = tokio::select! {
            res = self.check_restored(&temp, &snapshot, opts, r) => res,
            () = cancel => Err(RdsError::Cancelled { instance: temp.clone(), cleanup: "is being deleted".into() }),
        };
        let restore_seconds = started.elapsed().as_secs_f64();
        let cleanup = guard.cleanup(r).await;
        match (checked, cleanup) {
            (Ok((tables, alembic_revision)), Ok(())) => {
                t.finish(r, format!("snapshot {} restores: {} table(s), revision {}; temporary instance deleted", snapshot.identifier, tables.len(), alembic_revision.as_deref().unwrap_or("none")));
                self.mark_restore_checked(&snapshot, r).await;
                Ok(RestoreCheckReport {
                    snapshot: snapshot.identifier,
                    temporary_instance: temp,
                    tables,
                    alembic_revision,
                    restore_seconds,
                    deleted: true,
                })
            }
            (Ok(_), Err(e)) => Err(RdsError::CleanupFailed {
                check: "the check itself passed".into(),
                instance: temp,
                cleanup: e.to_string(),
            }),
            (Err(RdsError::Cancelled { instance, .. }), Ok(())) => Err(RdsError::Cancelled {
                instance,
                cleanup: "was deleted".into(),
            }),
            (Err(e), Ok(())) => {
                r.report(Event::warn(format!(
                    "restore check failed; temporary instance {temp} was deleted"
                )));
                Err(e)
            }
            (Err(e), Err(c)) => Err(RdsError::CleanupFailed {
                check: e.to_string(),
                instance: temp,
                cleanup: c.to_string(),
            }),
        }
    }

    async fn check_restored(
        &self,
        temp: &str,
        snapshot: &SnapshotInfo,
        opts: &RestoreCheckOptions,
        r: &dyn Reporter,
    ) -> Result<(Vec<TableCount>, Option<String>), RdsError> {
        let state = self.wait_available(temp, r, "db-restore-check").await?;
        let (tables, revision) = self.inspect(&state, opts).await?;
        let fail = |reason: String, fix: &str| RdsError::Check {
            snapshot: snapshot.identifier.clone(),
            reason,
            fix: Some(fix.to_string()),
        };
        if tables.is_empty() && !opts.expected_tables.is_empty() {
            return Err(fail(
                format!(
                    "the restored database is empty (no tables, so no `{}`): migrations had not run on {} when this snapshot was taken",
                    opts.expected_tables.join("`, `"),
                    snapshot.instance
                ),
                "run the app's migrations, take a new snapshot (and wait for it) and check that one",
            ));
        }
        for want in &opts.expected_tables {
            if !tables.iter().any(|t| &t.table == want) {
                let have: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
                return Err(fail(
                    format!(
                        "table `{want}` is missing (tables: {})",
                        if have.is_empty() {
                            "none".into()
                        } else {
                            have.join(", ")
                        }
                    ),
                    "restore a newer snapshot, or check that migrations ran before it was taken",
                ));
            }
        }
        if let Some(want) = &opts.expected_revision
            && revision.as_ref() != Some(want)
        {
            return Err(fail(
                format!(
                    "alembic revision is {} but the app is at {want}",
                    revision.as_deref().unwrap_or("missing")
                ),
                "the snapshot predates the latest migration; take a new one (and wait for it) and check that one",
            ));
        }
        for t in &tables {
            r.report(Event::info(format!("  {}: {} row(s)", t.table, t.rows)));
        }
        Ok((tables, revision))
    }

    async fn inspect(
        &self,
        state: &InstanceState,
        opts: &RestoreCheckOptions,
    ) -> Result<(Vec<TableCount>, Option<String>), RdsError> {
        let (user, password) = self.master_password(state).await?;
        let (host, port) = match &opts.connect_via {
            Some((h, p)) => (h.clone(), *p),
            None => (
                state.endpoint_address.clone().unwrap_or_default(),
                state.endpoint_port.unwrap_or(crate::spec::PORT),
            ),
        };
        let db = state.db_name.clone().unwrap_or_else(|| "postgres".into());
        let connect_err = |reason: String, fix: &'static str| RdsError::Connect {
            host: host.clone(),
            port,
            database: db.clone(),
            user: user.clone(),
            reason,
            fix,
        };
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&host)
            .port(port)
            .user(&user)
            .password(password.expose_secret())
            .dbname(&db)
            .connect_timeout(opts.connect_timeout);
        if opts.connect_via.is_some() {
            // Through a tunnel the certificate still names the endpoint: verify that name
            // while connecting to the tunnel's address.
            if let (Some(endpoint), Ok(ip)) = (&state.endpoint_address, host.parse()) {
                cfg.host(endpoint).hostaddr(ip);
            }
        }
        let (client, conn_task) = self
            .connect_verified(&cfg, opts.connect_timeout, &host, port, &db, &user)
            .await?;
        let q = async {
            let rows = client
                .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1", &[])
                .await?;
            let mut tables = Vec::new();
            for row in rows {
                let name: String = row.get(0);
                let quoted = format!("\"{}\"", name.replace('"', "\"\""));
                let count: i64 = client
                    .query_one(&format!("SELECT count(*) FROM public.{quoted}"), &[])
                    .await?
                    .get(0);
                tables.push(TableCount {
                    table: name,
                    rows: count,
                });
            }
            let revision = if tables.iter().any(|t| t.table == "alembic_version") {
                client
                    .query_opt("SELECT version_num::text FROM alembic_version LIMIT 1", &[])
                    .await?
                    .map(|r| r.get::<_, String>(0))
            } else {
                None
            };
            Ok::<_, tokio_postgres::Error>((tables, revision))
        };
        let res = q.await.map_err(|e| {
            connect_err(
                format!("query failed: {e}"),
                "the restored database is not readable by the master user; check the snapshot",
            )
        });
        drop(client);
        conn_task.abort();
        res
    }
}

impl Rds {
    /// Connects to `url`'s database as its user, TLS verified against this target's CA
    /// ([`Rds::with_trust`]). The connection runs until the returned handle is aborted or the
    /// client dropped.
    pub async fn connect(
        &self,
        url: &crate::DbUrl,
        timeout: Duration,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), RdsError> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&url.host)
            .port(url.port)
            .user(&url.user)
            .password(url.password().expose_secret())
            .dbname(&url.database)
            .connect_timeout(timeout);
        self.connect_verified(&cfg, timeout, &url.host, url.port, &url.database, &url.user)
            .await
    }

    /// Connects with TLS verified against this target's CA ([`crate::DbTrust`]); failures
    /// become [`RdsError::Tls`] / [`RdsError::Connect`] with the fix.
    pub(crate) async fn connect_verified(
        &self,
        cfg: &tokio_postgres::Config,
        timeout: Duration,
        host: &str,
        port: u16,
        db: &str,
        user: &str,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), RdsError> {
        use crate::tls::ConnectFailure;
        let connect_err = |reason: String, fix: &'static str| RdsError::Connect {
            host: host.to_string(),
            port,
            database: db.to_string(),
            user: user.to_string(),
            reason,
            fix,
        };
        self.trust.connect(cfg, timeout).await.map_err(|f| match f {
            ConnectFailure::Trust(e) => e,
            ConnectFailure::Tls(t) => RdsError::Tls {
                endpoint: format!("{host}:{port}/{db}"),
                trust: self.trust.source().to_string(),
                reason: t.reason,
                fix: t.fix,
            },
            ConnectFailure::Timeout => connect_err(
                format!("no answer within {}s", timeout.as_secs()),
                "RDS instances are private: run the check from inside the VPC or pass a tunnel (connect_via)",
            ),
            ConnectFailure::Other(e) => connect_err(
                e,
                "check the instance's security group admits this machine on 5432 and that the master secret is current",
            ),
        })
    }
}

fn newest_available(mut all: Vec<SnapshotInfo>) -> Option<SnapshotInfo> {
    all.retain(|s| s.status == "available");
    all.sort_by_key(|s| std::cmp::Reverse(s.created));
    all.into_iter().next()
}
