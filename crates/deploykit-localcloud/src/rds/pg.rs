//! The local PostgreSQL cluster behind the RDS emulator, and moto's Secrets Manager.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const PG_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the local cluster listens and who may administer it (trust auth on loopback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    pub host: String,
    pub port: u16,
    pub superuser: String,
    pub password: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Pg {
    cfg: PostgresConfig,
}

/// The comment on every database the emulator creates: only these are ever dropped.
pub(crate) const MARKER: &str = "created by the RDS emulator of the deploykit local cloud";

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A plain PostgreSQL identifier (what RDS allows for DBName and MasterUsername): a letter or
/// `_`, then letters, digits and `_`, at most 63 bytes.
pub(crate) fn plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How [`Pg::create_database`] got its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Created {
    /// Made now (and marked).
    New,
    /// It was there, made by this emulator earlier (an earlier edge process): adopted, ours.
    AdoptedOurs,
    /// It was there, made by someone else: adopted, never dropped.
    AdoptedForeign,
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Pg {
    pub fn new(cfg: PostgresConfig) -> Self {
        Pg { cfg }
    }

    pub fn host(&self) -> &str {
        &self.cfg.host
    }

    pub fn port(&self) -> u16 {
        self.cfg.port
    }

    async fn client(&self) -> Result<tokio_postgres::Client, String> {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.cfg.host)
            .port(self.cfg.port)
            .user(&self.cfg.superuser)
            .dbname("postgres")
            .connect_timeout(PG_TIMEOUT);
        if let Some(p) = &self.cfg.password {
            c.password(p);
        }
        let (client, conn) = tokio::time::timeout(PG_TIMEOUT, c.connect(tokio_postgres::NoTls))
            .await
            .map_err(|_| {
                format!(
                    "no answer from {}:{} within {}s",
                    self.cfg.host,
                    self.cfg.port,
                    PG_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| {
                format!(
                    "connecting to {}:{} as {}: {e}",
                    self.cfg.host, self.cfg.port, self.cfg.superuser
                )
            })?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// Creates the login role, or resets its password when it exists. Like RDS's master user
    /// (a member of `rds_superuser`) it may create roles (the app's least-privilege role).
    pub async fn ensure_role(&self, role: &str, password: &str) -> Result<(), String> {
        if !plain_identifier(role) {
            return Err(format!("{role:?} is not a plain identifier"));
        }
        let c = self.client().await?;
        let exists = c
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
            .await
            .map_err(|e| e.to_string())?
            .is_some();
        let verb = if exists { "ALTER" } else { "CREATE" };
        c.batch_execute(&format!(
            "{verb} ROLE {} LOGIN CREATEROLE PASSWORD {}",
            ident(role),
            literal(password)
        ))
        .await
        .map_err(|e| format!("{verb} ROLE {role}: {e}"))
    }

    /// `CREATE DATABASE name OWNER owner [TEMPLATE template]`; an existing database without a
    /// template is adopted (its data is kept). Copying needs the template to be idle, so its
    /// other sessions are ended first (like the brief I/O pause of a single-AZ RDS snapshot).
    pub async fn create_database(
        &self,
        name: &str,
        owner: &str,
        template: Option<&str>,
    ) -> Result<Created, String> {
        for n in [Some(name), Some(owner), template].into_iter().flatten() {
            if !plain_identifier(n) {
                return Err(format!("{n:?} is not a plain identifier"));
            }
        }
        let c = self.client().await?;
        let found = self.comment_of(&c, name).await?;
        if let Some(comment) = found
            && template.is_none()
        {
            c.batch_execute(&format!(
                "ALTER DATABASE {} OWNER TO {}",
                ident(name),
                ident(owner)
            ))
            .await
            .map_err(|e| e.to_string())?;
            return Ok(if comment.as_deref() == Some(MARKER) {
                Created::AdoptedOurs
            } else {
                Created::AdoptedForeign
            });
        }
        let mut sql = format!("CREATE DATABASE {} OWNER {}", ident(name), ident(owner));
        if let Some(t) = template {
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", &[&t])
                .await
                .map_err(|e| e.to_string())?;
            sql.push_str(&format!(" TEMPLATE {}", ident(t)));
        }
        // A just-terminated session may linger a moment: retry briefly.
        let mut last = String::new();
        for _ in 0..20 {
            match c.batch_execute(&sql).await {
                Ok(()) => {
                    let marked = c
                        .batch_execute(&format!(
                            "COMMENT ON DATABASE {} IS {}",
                            ident(name),
                            literal(MARKER)
                        ))
                        .await;
                    if let Err(e) = marked {
                        // Unmarked it would never be ours again (a retry would adopt it as
                        // someone else's): take back what was just made.
                        let _ = c
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {}", ident(name)))
                            .await;
                        return Err(format!("COMMENT ON DATABASE {name}: {e}"));
                    }
                    return Ok(Created::New);
                }
                Err(e) => {
                    last = e
                        .as_db_error()
                        .map(|d| d.message().to_string())
                        .unwrap_or_else(|| e.to_string());
                    if template.is_none() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Err(format!("CREATE DATABASE {name}: {last}"))
    }

    /// `Some(comment)` when the database exists.
    async fn comment_of(
        &self,
        c: &tokio_postgres::Client,
        name: &str,
    ) -> Result<Option<Option<String>>, String> {
        Ok(c.query_opt(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .map_err(|e| e.to_string())?
        .map(|row| row.get::<_, Option<String>>(0)))
    }

    /// Drops a database this emulator made (checked again here: a plain identifier carrying
    /// [`MARKER`]); anything else is refused. A database already gone is fine.
    pub async fn drop_database(&self, name: &str) -> Result<(), String> {
        if !plain_identifier(name) {
            return Err(format!("refusing to drop {name:?}: not a plain identifier"));
        }
        let c = self.client().await?;
        match self.comment_of(&c, name).await? {
            None => return Ok(()),
            Some(Some(m)) if m == MARKER => {}
            Some(_) => {
                return Err(format!(
                    "refusing to drop database {name}: the local cloud's RDS emulator did not create it"
                ));
            }
        }
        c.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(name)
        ))
        .await
        .map_err(|e| format!("DROP DATABASE {name}: {e}"))
    }
}

async fn secretsmanager(
    moto_url: Option<&str>,
    region: &str,
    op: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let base = moto_url.ok_or("no moto server is configured for this edge")?;
    let date = time::OffsetDateTime::now_utc();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=localcloud/{:04}{:02}{:02}/{region}/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let req = http::Request::post(format!("{}/", base.trim_end_matches('/')))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("secretsmanager.{op}"))
        .header(http::header::AUTHORIZATION, auth)
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| format!("moto did not answer {op} within 30s"))?
        .map_err(|e| format!("{op} to moto: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "{op} answered HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{op}: unreadable answer: {e}"))
}

/// Creates a secret in moto's Secrets Manager; returns its ARN.
pub(crate) async fn create_secret(
    moto_url: Option<&str>,
    region: &str,
    name: &str,
    value: &str,
    description: &str,
) -> Result<String, String> {
    let v = secretsmanager(
        moto_url,
        region,
        "CreateSecret",
        serde_json::json!({"Name": name, "SecretString": value, "Description": description}),
    )
    .await?;
    v.get("ARN")
        .and_then(|a| a.as_str())
        .map(str::to_string)
        .ok_or_else(|| "CreateSecret returned no ARN".into())
}

pub(crate) async fn delete_secret(
    moto_url: Option<&str>,
    region: &str,
    arn: &str,
) -> Result<(), String> {
    secretsmanager(
        moto_url,
        region,
        "DeleteSecret",
        serde_json::json!({"SecretId": arn, "ForceDeleteWithoutRecovery": true}),
    )
    .await
    .map(|_| ())
}
