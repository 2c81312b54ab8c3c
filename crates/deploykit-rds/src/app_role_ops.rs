//! Reading and applying the app role ([`crate::app_role`]) as the owner, over verified TLS.

use std::time::Duration;

use deploykit_aws::ErrorKind;
use deploykit_report::{Event, Reporter, StepTimer};
use deploykit_secrets::parse_user_password;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::app_role::{AppRoleSpec, AppRoleState, AppRoleStep, elevated_attributes, plan_app_role};
use crate::{DbUrl, InstanceState, Rds, RdsError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`Rds::ensure_app_role`] found and did.
#[derive(Debug, Clone, Serialize)]
pub struct AppRoleOutcome {
    pub role: String,
    pub secret: String,
    pub state: AppRoleState,
    /// The steps planned (applied unless a dry run); empty: unchanged.
    pub plan: Vec<AppRoleStep>,
    pub applied: bool,
}

impl AppRoleOutcome {
    pub fn unchanged(&self) -> bool {
        self.plan.is_empty()
    }
}

impl Rds {
    /// Reads the app role's state, plans, and (unless `dry_run`) applies the plan as the owner
    /// (the master user) on the instance's database. A second run plans nothing.
    pub async fn ensure_app_role(
        &self,
        instance: &str,
        spec: &AppRoleSpec,
        dry_run: bool,
        r: &dyn Reporter,
    ) -> Result<AppRoleOutcome, RdsError> {
        spec.validate()?;
        let inst = self.require_available(instance).await?;
        let owner = self.url_for(&inst).await?;
        let secret_pw = self.app_secret(spec).await?;
        let (client, task) = self.connect(&owner, CONNECT_TIMEOUT).await?;
        let q = |e: tokio_postgres::Error| self.sql_err(&owner, e);
        let mut state = read_state(&client, spec, &owner.database, &owner.user)
            .await
            .map_err(q)?;
        state.secret_exists = secret_pw.is_some();
        if state.exists
            && let Some(pw) = &secret_pw
        {
            let app = self.app_db_url(&inst, &spec.role, pw.clone())?;
            state.secret_matches = self.connect(&app, CONNECT_TIMEOUT).await.is_ok();
        }
        let plan = plan_app_role(&state);
        let mut out = AppRoleOutcome {
            role: spec.role.clone(),
            secret: spec.secret.clone(),
            state,
            plan,
            applied: false,
        };
        if dry_run || out.plan.is_empty() {
            task.abort();
            return Ok(out);
        }
        let t = StepTimer::start(
            r,
            "db-app-role",
            format!("Ensuring app role {} on {instance}", spec.role),
        );
        let password = match secret_pw {
            Some(p) => p,
            None => {
                let pw = SecretString::from(random_password());
                let value = serde_json::json!({
                    "username": spec.role,
                    "password": pw.expose_secret(),
                })
                .to_string();
                self.secrets
                    .put_string(
                        &spec.secret,
                        &SecretString::from(value),
                        "The app's least-privilege database role (written by deploykit)",
                    )
                    .await
                    .map_err(|e| secret_err("PutSecretValue", &spec.secret, e))?;
                pw
            }
        };
        for step in &out.plan {
            if let Some(sql) =
                step.sql(spec, &owner.database, &owner.user, password.expose_secret())
            {
                client.batch_execute(&sql).await.map_err(q)?;
            }
            r.report(Event::info(format!("  {}: {step}", spec.role)));
        }
        task.abort();
        out.applied = true;
        t.finish(
            r,
            format!("app role {}: {} change(s)", spec.role, out.plan.len()),
        );
        Ok(out)
    }

    /// The app's URL: the instance's endpoint, the app role and its own secret (not the
    /// master secret, so it survives the master secret's rotation), TLS as the target says.
    pub async fn app_url(&self, instance: &str, spec: &AppRoleSpec) -> Result<DbUrl, RdsError> {
        let inst = self.require_available(instance).await?;
        let Some(pw) = self.app_secret(spec).await? else {
            return Err(RdsError::Secret {
                operation: "GetSecretValue",
                secret: spec.secret.clone(),
                reason: "the app role's secret does not exist".into(),
                fix: "create the database (it makes the app role and its secret), then try again"
                    .into(),
            });
        };
        self.app_db_url(&inst, &spec.role, pw)
    }

    fn app_db_url(
        &self,
        inst: &InstanceState,
        role: &str,
        password: SecretString,
    ) -> Result<DbUrl, RdsError> {
        let (Some(host), Some(port)) = (inst.endpoint_address.clone(), inst.endpoint_port) else {
            return Err(RdsError::InvalidState {
                identifier: inst.identifier.clone(),
                status: inst.status.clone(),
                reason: "and has no endpoint yet".into(),
                fix: "wait until it is available (the database status says when)".into(),
            });
        };
        let db = inst.db_name.clone().unwrap_or_else(|| "postgres".into());
        Ok(DbUrl::new(role, password, host, port, db).with_tls(self.trust.url_tls()))
    }

    async fn require_available(&self, instance: &str) -> Result<InstanceState, RdsError> {
        let inst = self
            .describe(instance)
            .await?
            .ok_or_else(|| RdsError::InstanceNotFound {
                identifier: instance.into(),
            })?;
        if inst.status != "available" {
            return Err(RdsError::InvalidState {
                identifier: inst.identifier.clone(),
                status: inst.status.clone(),
                reason: "and its roles can only be managed when it is available".into(),
                fix: "wait until it is available, then run again".into(),
            });
        }
        Ok(inst)
    }

    /// The role's password from its secret; `None` when the secret does not exist.
    async fn app_secret(&self, spec: &AppRoleSpec) -> Result<Option<SecretString>, RdsError> {
        match self.secrets.get_string(&spec.secret).await {
            Ok(v) => {
                let up = parse_user_password(&spec.secret, &v)
                    .map_err(|e| secret_err("read", &spec.secret, e))?;
                Ok(Some(up.password))
            }
            Err(e) if e.classified().map(|c| c.kind) == Some(ErrorKind::NotFound) => Ok(None),
            Err(e) => Err(secret_err("GetSecretValue", &spec.secret, e)),
        }
    }

    fn sql_err(&self, owner: &DbUrl, e: tokio_postgres::Error) -> RdsError {
        RdsError::Connect {
            host: owner.host.clone(),
            port: owner.port,
            database: owner.database.clone(),
            user: owner.user.clone(),
            reason: crate::tls::describe(&e),
            fix: "the owner (master) role must own the database and be able to create roles (RDS: the master user); check the instance's master secret",
        }
    }
}

fn secret_err(
    operation: &'static str,
    secret: &str,
    e: deploykit_secrets::SecretsError,
) -> RdsError {
    RdsError::Secret {
        operation,
        secret: secret.into(),
        reason: e.to_string(),
        fix: "check the secret in Secrets Manager (deploykit writes {\"username\", \"password\"})"
            .into(),
    }
}

/// 48 hex characters from the aws-lc-rs random source.
fn random_password() -> String {
    let mut bytes = [0u8; 24];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .unwrap_or_else(|_| unreachable!("aws-lc-rs's random source does not fail"));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The role's attributes, memberships and privileges from the catalogs.
async fn read_state(
    c: &tokio_postgres::Client,
    spec: &AppRoleSpec,
    database: &str,
    owner: &str,
) -> Result<AppRoleState, tokio_postgres::Error> {
    let role = spec.role.as_str();
    let schema = spec.schema.as_str();
    let Some(row) = c
        .query_opt(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1",
            &[&role],
        )
        .await?
    else {
        // No role yet: every table and sequence in the schema is one it lacks.
        let all = |kinds: &'static str| {
            format!("SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ({kinds}) ORDER BY 1")
        };
        let names = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get(0)).collect();
        return Ok(AppRoleState {
            tables_missing_dml: names(c.query(&all("'r', 'p', 'v'"), &[&schema]).await?),
            sequences_missing: names(c.query(&all("'S'"), &[&schema]).await?),
            ..AppRoleState::default()
        });
    };
    let elevated = elevated_attributes()
        .iter()
        .zip([
            row.get::<_, bool>(1),
            row.get(2),
            row.get(3),
            row.get(4),
            row.get(5),
        ])
        .filter(|(_, on)| *on)
        .map(|(a, _)| a.to_string())
        .collect();
    let member_of: Vec<String> = c
        .query(
            "SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1",
            &[&role],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let privs = c
        .query_one(
            "SELECT has_database_privilege($1, $2, 'CONNECT'), has_database_privilege($1, $2, 'CREATE'), has_schema_privilege($1, $3, 'USAGE'), has_schema_privilege($1, $3, 'CREATE')",
            &[&role, &database, &schema],
        )
        .await?;
    let missing = |kind: &'static str, func: &'static str, privs: &'static str| {
        format!(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $2 AND c.relkind IN ({kind}) AND NOT ({}) ORDER BY 1",
            privs
                .split(',')
                .map(|p| format!("{func}($1, c.oid, '{p}')"))
                .collect::<Vec<_>>()
                .join(" AND ")
        )
    };
    let names =
        |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get(0)).collect::<Vec<String>>();
    let tables = names(
        c.query(
            &missing(
                "'r', 'p', 'v'",
                "has_table_privilege",
                "SELECT,INSERT,UPDATE,DELETE",
            ),
            &[&role, &schema],
        )
        .await?,
    );
    let sequences = names(
        c.query(
            &missing("'S'", "has_sequence_privilege", "USAGE,SELECT"),
            &[&role, &schema],
        )
        .await?
        .into_iter()
        .collect(),
    );
    let default = |objtype: &'static str, n: i64| async move {
        let count: i64 = c
            .query_one(
                "SELECT count(DISTINCT a.privilege_type) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace JOIN pg_roles o ON o.oid = d.defaclrole, aclexplode(d.defaclacl) a WHERE o.rolname = $1 AND n.nspname = $2 AND d.defaclobjtype = $3::text::\"char\" AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $4)",
                &[&owner, &schema, &objtype, &role],
            )
            .await?
            .get(0);
        Ok::<_, tokio_postgres::Error>(count >= n)
    };
    Ok(AppRoleState {
        exists: true,
        can_login: row.get(0),
        elevated,
        member_of,
        connect: privs.get(0),
        create_on_database: privs.get(1),
        schema_usage: privs.get(2),
        schema_create: privs.get(3),
        tables_missing_dml: tables,
        sequences_missing: sequences,
        default_tables: default("r", 4).await?,
        default_sequences: default("S", 2).await?,
        secret_exists: false,
        secret_matches: false,
    })
}
