//! A read-only look inside the app's database: can deploykit connect as the instance's master
//! user, and which Alembic revision is it at. `check` uses it; nothing here writes.

use std::time::Duration;

use secrecy::ExposeSecret;

use crate::{Rds, RdsError};

/// What connecting to the database found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DbProbe {
    /// `host:port/database` as connected (no credentials).
    pub endpoint: String,
    /// The rows of `alembic_version` (several on a branched history); `None`: no such table.
    pub alembic_revisions: Option<Vec<String>>,
}

impl Rds {
    /// Connects to `instance`'s database with its RDS-managed master secret (bounded by
    /// `timeout`) and reads `alembic_version`. Changes nothing.
    pub async fn probe(&self, instance: &str, timeout: Duration) -> Result<DbProbe, RdsError> {
        let url = self.url(instance).await?;
        let (host, port, database, user) = (
            url.host.clone(),
            url.port,
            url.database.clone(),
            url.user.clone(),
        );
        let connect_err = |reason: String| RdsError::Connect {
            host: host.clone(),
            port,
            database: database.clone(),
            user: user.clone(),
            reason,
            fix: "RDS instances are private: run this from inside the VPC (or the deploy workflow), and check that the instance's security group admits that host on 5432",
        };
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&host)
            .port(port)
            .user(&user)
            .password(url.password().expose_secret())
            .dbname(&database)
            .connect_timeout(timeout);
        let (client, conn) = tokio::time::timeout(timeout, cfg.connect(tokio_postgres::NoTls))
            .await
            .map_err(|_| connect_err(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|e| connect_err(e.to_string()))?;
        let conn_task = tokio::spawn(conn);
        let read = async {
            let exists = client
                .query_one(
                    "SELECT to_regclass('public.alembic_version') IS NOT NULL",
                    &[],
                )
                .await?
                .get::<_, bool>(0);
            if !exists {
                return Ok(None);
            }
            let rows = client
                .query(
                    "SELECT version_num::text FROM public.alembic_version ORDER BY 1",
                    &[],
                )
                .await?;
            Ok::<_, tokio_postgres::Error>(Some(rows.iter().map(|r| r.get(0)).collect()))
        };
        let revisions = read
            .await
            .map_err(|e| connect_err(format!("reading alembic_version: {e}")));
        drop(client);
        conn_task.abort();
        Ok(DbProbe {
            endpoint: format!("{host}:{port}/{database}"),
            alembic_revisions: revisions?,
        })
    }
}
