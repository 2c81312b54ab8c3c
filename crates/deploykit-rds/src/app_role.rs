//! The app's own database role: least privilege, its own secret, a URL that survives the
//! rotation of the RDS-managed master secret.
//!
//! The master (owner) role owns the database and the schema and runs the migrations; the app
//! connects as `<role>` with LOGIN and DML (SELECT, INSERT, UPDATE, DELETE on tables; USAGE,
//! SELECT on sequences) in the app schema only: no CREATE on the database or the schema, no
//! superuser-ish attribute (SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS). Default
//! privileges make the tables the owner creates later (migrations) the app's too.
//!
//! [`plan_app_role`] is pure over [`AppRoleState`] (read from the catalogs) and tested as data;
//! [`crate::Rds::ensure_app_role`] reads, plans, applies, and a second run plans nothing.

use serde::Serialize;

/// What the app role should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppRoleSpec {
    /// The role's name, e.g. `budgetsync_app`.
    pub role: String,
    /// Its Secrets Manager secret (`{"username", "password"}`), e.g. `budgetsync-db/app`.
    pub secret: String,
    /// The schema the app's tables live in.
    pub schema: String,
}

impl AppRoleSpec {
    /// `<db_name>_app`, secret `<instance>/app`, schema `public`.
    pub fn for_instance(instance: &str, db_name: &str) -> Self {
        AppRoleSpec {
            role: format!("{db_name}_app"),
            secret: format!("{instance}/app"),
            schema: "public".into(),
        }
    }

    /// The role name must be a plain identifier (it is quoted anyway).
    pub fn validate(&self) -> Result<(), crate::RdsError> {
        let ok = !self.role.is_empty()
            && self.role.len() <= 63
            && self
                .role
                .starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && self
                .role
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(crate::RdsError::InvalidName {
                what: "app role name",
                value: self.role.clone(),
                reason: "not a plain lower-case PostgreSQL identifier of at most 63 bytes".into(),
                fix: "use lower-case letters, digits and `_`, starting with a letter",
            })
        }
    }
}

/// The app role as the catalogs (and Secrets Manager) show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AppRoleState {
    pub exists: bool,
    pub can_login: bool,
    /// Attributes it must not have that it has (`SUPERUSER`, `CREATEDB`, ...).
    pub elevated: Vec<String>,
    /// Roles it is a member of (e.g. `rds_superuser`): it should be in none.
    pub member_of: Vec<String>,
    pub connect: bool,
    pub create_on_database: bool,
    pub schema_usage: bool,
    pub schema_create: bool,
    /// Tables (and views) in the schema it lacks one of SELECT/INSERT/UPDATE/DELETE on.
    pub tables_missing_dml: Vec<String>,
    /// Sequences it lacks USAGE/SELECT on.
    pub sequences_missing: Vec<String>,
    pub default_tables: bool,
    pub default_sequences: bool,
    /// Its secret exists.
    pub secret_exists: bool,
    /// The secret's password logs in (checked only when both exist).
    pub secret_matches: bool,
}

/// One change, in the order applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum AppRoleStep {
    /// A new random password, stored in the role's secret (created).
    NewSecret,
    /// `CREATE ROLE ... LOGIN PASSWORD` (the secret's password).
    CreateRole,
    /// `ALTER ROLE ... PASSWORD` (the secret's password: it did not log in).
    SetPassword,
    /// `ALTER ROLE ... LOGIN`.
    Login,
    /// `ALTER ROLE ... NOSUPERUSER NOCREATEDB ...`.
    DropAttributes {
        attributes: Vec<String>,
    },
    /// `REVOKE <role> FROM app`.
    LeaveRoles {
        roles: Vec<String>,
    },
    GrantConnect,
    RevokeCreateOnDatabase,
    GrantSchemaUsage,
    RevokeSchemaCreate,
    GrantTables {
        tables: Vec<String>,
    },
    GrantSequences {
        sequences: Vec<String>,
    },
    DefaultPrivilegesTables,
    DefaultPrivilegesSequences,
}

const ELEVATED: [&str; 5] = [
    "SUPERUSER",
    "CREATEDB",
    "CREATEROLE",
    "REPLICATION",
    "BYPASSRLS",
];

/// The attributes [`AppRoleState::elevated`] may name.
pub fn elevated_attributes() -> &'static [&'static str] {
    &ELEVATED
}

/// What to change so the role is as [`AppRoleSpec`] says. Empty: unchanged.
pub fn plan_app_role(state: &AppRoleState) -> Vec<AppRoleStep> {
    use AppRoleStep as S;
    let mut steps = Vec::new();
    if !state.secret_exists {
        steps.push(S::NewSecret);
    }
    if !state.exists {
        steps.push(S::CreateRole);
    } else {
        if !state.secret_exists || !state.secret_matches {
            steps.push(S::SetPassword);
        }
        if !state.can_login {
            steps.push(S::Login);
        }
        if !state.elevated.is_empty() {
            steps.push(S::DropAttributes {
                attributes: state.elevated.clone(),
            });
        }
        if !state.member_of.is_empty() {
            steps.push(S::LeaveRoles {
                roles: state.member_of.clone(),
            });
        }
    }
    let fresh = !state.exists;
    if fresh || !state.connect {
        steps.push(S::GrantConnect);
    }
    if !fresh && state.create_on_database {
        steps.push(S::RevokeCreateOnDatabase);
    }
    if fresh || !state.schema_usage {
        steps.push(S::GrantSchemaUsage);
    }
    if !fresh && state.schema_create {
        steps.push(S::RevokeSchemaCreate);
    }
    if !state.tables_missing_dml.is_empty() {
        steps.push(S::GrantTables {
            tables: state.tables_missing_dml.clone(),
        });
    }
    if !state.sequences_missing.is_empty() {
        steps.push(S::GrantSequences {
            sequences: state.sequences_missing.clone(),
        });
    }
    if fresh || !state.default_tables {
        steps.push(S::DefaultPrivilegesTables);
    }
    if fresh || !state.default_sequences {
        steps.push(S::DefaultPrivilegesSequences);
    }
    steps
}

pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl AppRoleStep {
    /// The SQL for this step, run as the owner on the app's database; `None` for the secret
    /// step. `password` is the secret's (only `CreateRole`/`SetPassword` use it).
    pub fn sql(
        &self,
        spec: &AppRoleSpec,
        database: &str,
        owner: &str,
        password: &str,
    ) -> Option<String> {
        let (r, s, d, o) = (
            ident(&spec.role),
            ident(&spec.schema),
            ident(database),
            ident(owner),
        );
        Some(match self {
            AppRoleStep::NewSecret => return None,
            AppRoleStep::CreateRole => format!(
                "CREATE ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {}",
                literal(password)
            ),
            AppRoleStep::SetPassword => format!("ALTER ROLE {r} PASSWORD {}", literal(password)),
            AppRoleStep::Login => format!("ALTER ROLE {r} LOGIN"),
            AppRoleStep::DropAttributes { attributes } => format!(
                "ALTER ROLE {r} {}",
                attributes
                    .iter()
                    .map(|a| format!("NO{a}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            AppRoleStep::LeaveRoles { roles } => format!(
                "REVOKE {} FROM {r}",
                roles
                    .iter()
                    .map(|x| ident(x))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            AppRoleStep::GrantConnect => format!("GRANT CONNECT ON DATABASE {d} TO {r}"),
            AppRoleStep::RevokeCreateOnDatabase => {
                format!("REVOKE CREATE ON DATABASE {d} FROM {r}")
            }
            AppRoleStep::GrantSchemaUsage => format!("GRANT USAGE ON SCHEMA {s} TO {r}"),
            AppRoleStep::RevokeSchemaCreate => format!("REVOKE CREATE ON SCHEMA {s} FROM {r}"),
            AppRoleStep::GrantTables { .. } => {
                format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}")
            }
            AppRoleStep::GrantSequences { .. } => {
                format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}")
            }
            AppRoleStep::DefaultPrivilegesTables => format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}"
            ),
            AppRoleStep::DefaultPrivilegesSequences => format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}"
            ),
        })
    }
}

impl std::fmt::Display for AppRoleStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppRoleStep::NewSecret => f.write_str("new password in the role's secret"),
            AppRoleStep::CreateRole => f.write_str("create the role (LOGIN, nothing else)"),
            AppRoleStep::SetPassword => f.write_str("set the role's password from its secret"),
            AppRoleStep::Login => f.write_str("allow LOGIN"),
            AppRoleStep::DropAttributes { attributes } => {
                write!(f, "drop {}", attributes.join(", "))
            }
            AppRoleStep::LeaveRoles { roles } => write!(f, "leave role(s) {}", roles.join(", ")),
            AppRoleStep::GrantConnect => f.write_str("grant CONNECT on the database"),
            AppRoleStep::RevokeCreateOnDatabase => f.write_str("revoke CREATE on the database"),
            AppRoleStep::GrantSchemaUsage => f.write_str("grant USAGE on the schema"),
            AppRoleStep::RevokeSchemaCreate => f.write_str("revoke CREATE on the schema"),
            AppRoleStep::GrantTables { tables } => {
                write!(f, "grant DML on {} table(s)", tables.len())
            }
            AppRoleStep::GrantSequences { sequences } => {
                write!(f, "grant USAGE, SELECT on {} sequence(s)", sequences.len())
            }
            AppRoleStep::DefaultPrivilegesTables => {
                f.write_str("default privileges: DML on the owner's future tables")
            }
            AppRoleStep::DefaultPrivilegesSequences => {
                f.write_str("default privileges: USAGE, SELECT on the owner's future sequences")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AppRoleStep as S;

    fn good() -> AppRoleState {
        AppRoleState {
            exists: true,
            can_login: true,
            connect: true,
            schema_usage: true,
            default_tables: true,
            default_sequences: true,
            secret_exists: true,
            secret_matches: true,
            ..AppRoleState::default()
        }
    }

    #[test]
    fn the_plan_is_data() {
        let fresh = AppRoleState::default();
        let cases: Vec<(&str, AppRoleState, Vec<AppRoleStep>)> = vec![
            (
                "nothing yet",
                fresh.clone(),
                vec![
                    S::NewSecret,
                    S::CreateRole,
                    S::GrantConnect,
                    S::GrantSchemaUsage,
                    S::DefaultPrivilegesTables,
                    S::DefaultPrivilegesSequences,
                ],
            ),
            ("as specified: unchanged", good(), vec![]),
            (
                "the secret was lost: a new password",
                AppRoleState {
                    secret_exists: false,
                    secret_matches: false,
                    ..good()
                },
                vec![S::NewSecret, S::SetPassword],
            ),
            (
                "the password was changed by hand: the secret's again",
                AppRoleState {
                    secret_matches: false,
                    ..good()
                },
                vec![S::SetPassword],
            ),
            (
                "too much: attributes, memberships, CREATE",
                AppRoleState {
                    can_login: false,
                    elevated: vec!["CREATEDB".into(), "SUPERUSER".into()],
                    member_of: vec!["rds_superuser".into()],
                    create_on_database: true,
                    schema_create: true,
                    ..good()
                },
                vec![
                    S::Login,
                    S::DropAttributes {
                        attributes: vec!["CREATEDB".into(), "SUPERUSER".into()],
                    },
                    S::LeaveRoles {
                        roles: vec!["rds_superuser".into()],
                    },
                    S::RevokeCreateOnDatabase,
                    S::RevokeSchemaCreate,
                ],
            ),
            (
                "tables made before the default privileges",
                AppRoleState {
                    tables_missing_dml: vec!["items".into()],
                    sequences_missing: vec!["items_id_seq".into()],
                    ..good()
                },
                vec![
                    S::GrantTables {
                        tables: vec!["items".into()],
                    },
                    S::GrantSequences {
                        sequences: vec!["items_id_seq".into()],
                    },
                ],
            ),
        ];
        for (what, state, want) in cases {
            assert_eq!(plan_app_role(&state), want, "{what}");
        }
    }

    #[test]
    fn sql_quotes_names_and_grants_dml_only() {
        let spec = AppRoleSpec::for_instance("budgetsync-db", "budgetsync");
        assert_eq!(spec.role, "budgetsync_app");
        assert_eq!(spec.secret, "budgetsync-db/app");
        spec.validate().unwrap();
        let sql = |s: S| s.sql(&spec, "budgetsync", "budgetsync", "p'w").unwrap();
        assert_eq!(
            sql(S::CreateRole),
            "CREATE ROLE \"budgetsync_app\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'p''w'"
        );
        assert_eq!(
            sql(S::DefaultPrivilegesTables),
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"budgetsync\" IN SCHEMA \"public\" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \"budgetsync_app\""
        );
        assert!(S::NewSecret.sql(&spec, "d", "o", "p").is_none());
        for bad in ["", "App", "1x", "a-b", "x\"y"] {
            let s = AppRoleSpec {
                role: bad.into(),
                ..spec.clone()
            };
            assert!(s.validate().is_err(), "{bad:?}");
        }
    }
}
