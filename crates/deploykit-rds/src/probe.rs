//! A read-only look inside the app's database: can deploykit connect as the instance's master
//! user, and which Alembic revision is it at. `check` uses it; nothing here writes.

use std::time::Duration;

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
    /// Connects to `instance`'s database with its RDS-managed master secret, TLS verified
    /// against this target's CA (bounded by `timeout`), and reads `alembic_version`. Changes
    /// nothing.
    pub async fn probe(&self, instance: &str, timeout: Duration) -> Result<DbProbe, RdsError> {
        let url = self.url(instance).await?;
        let endpoint = format!("{}:{}/{}", url.host, url.port, url.database);
        let (client, conn_task) = self.connect(&url, timeout).await?;
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
        let revisions = read.await.map_err(|e| RdsError::Connect {
            host: url.host.clone(),
            port: url.port,
            database: url.database.clone(),
            user: url.user.clone(),
            reason: format!("reading alembic_version: {e}"),
            fix: "check the master user can read the app's tables",
        });
        drop(client);
        conn_task.abort();
        Ok(DbProbe {
            endpoint,
            alembic_revisions: revisions?,
        })
    }
}
