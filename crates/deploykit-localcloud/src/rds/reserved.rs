//! RDS for PostgreSQL's name rules for `DBName` and `MasterUsername`, as pure checks.
//!
//! RDS: "Must contain 1 to 63 letters, numbers, or underscores. First character must be a
//! letter. Can't be a reserved word for the chosen database engine." It answers a reserved
//! master username with `InvalidParameterValue: MasterUsername admin cannot be used as it is a
//! reserved word used by the engine` (`rdsadmin` on every engine, `admin` on PostgreSQL), and a
//! reserved database name the same way. PostgreSQL itself reserves role names starting with
//! `pg_`; RDS's own roles start with `rds` (`rdsadmin`, `rds_superuser`, `rds_replication`, ...).

/// Database names no instance may take: the cluster's own databases and RDS's.
const RESERVED_DB_NAMES: &[&str] = &["postgres", "template0", "template1", "rdsadmin"];

/// Role names no master user may take (besides the `pg_` and `rds` prefixes).
const RESERVED_ROLE_NAMES: &[&str] = &[
    "admin",
    "postgres",
    "public",
    "none",
    "current_role",
    "current_user",
    "session_user",
    "template0",
    "template1",
];

fn letters_digits_underscores(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {name} must begin with a letter and contain only alphanumeric characters or underscores (1 to 63)."
        ))
    }
}

/// `DBName` of CreateDBInstance.
pub(super) fn check_db_name(name: &str) -> Result<(), String> {
    letters_digits_underscores("DBName", name)?;
    let lower = name.to_ascii_lowercase();
    if RESERVED_DB_NAMES.contains(&lower.as_str()) {
        return Err(format!(
            "DBName {name} cannot be used as it is a reserved word used by the engine"
        ));
    }
    Ok(())
}

/// `MasterUsername` of CreateDBInstance. `superuser` is the local cluster's administrator,
/// which the emulator never hands out (real RDS accepts `postgres`; locally it is the cluster's
/// superuser, so it is refused here too).
pub(super) fn check_master_username(name: &str, superuser: &str) -> Result<(), String> {
    letters_digits_underscores("MasterUsername", name)?;
    let lower = name.to_ascii_lowercase();
    let reserved = RESERVED_ROLE_NAMES.contains(&lower.as_str())
        || lower.starts_with("pg_")
        || lower.starts_with("rds");
    if reserved {
        return Err(format!(
            "MasterUsername {name} cannot be used as it is a reserved word used by the engine"
        ));
    }
    if lower == superuser.to_ascii_lowercase() {
        return Err(format!(
            "MasterUsername {name} cannot be used: it is the local cloud's PostgreSQL superuser"
        ));
    }
    Ok(())
}

/// The database of an instance created without `DBName`: `dk_<identifier>`, `-` as `_`.
pub(super) fn default_db_name(identifier: &str) -> String {
    let mut s = format!("dk_{}", identifier.replace('-', "_"));
    s.truncate(63);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_names() {
        let cases: &[(&str, Option<&str>)] = &[
            ("app", None),
            ("budgetsync", None),
            ("shop_2", None),
            ("postgres", Some("reserved word")),
            ("Postgres", Some("reserved word")),
            ("template0", Some("reserved word")),
            ("template1", Some("reserved word")),
            ("rdsadmin", Some("reserved word")),
            ("", Some("must begin with a letter")),
            ("1db", Some("must begin with a letter")),
            ("_db", Some("must begin with a letter")),
            ("my-db", Some("must begin with a letter")),
            (
                "db\"; DROP DATABASE postgres; --",
                Some("must begin with a letter"),
            ),
            (&"d".repeat(64), Some("1 to 63")),
        ];
        for (name, want) in cases {
            match (check_db_name(name), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{name:?}: {e}"),
                (got, _) => panic!("{name:?}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn master_usernames() {
        let cases: &[(&str, Option<&str>)] = &[
            ("app", None),
            ("budgetsync", None),
            ("rest_user", None),
            ("postgres", Some("reserved word")),
            ("admin", Some("reserved word")),
            ("rdsadmin", Some("reserved word")),
            ("rds_superuser", Some("reserved word")),
            ("RDSuser", Some("reserved word")),
            ("pg_monitor", Some("reserved word")),
            ("PG_anything", Some("reserved word")),
            ("public", Some("reserved word")),
            ("template1", Some("reserved word")),
            ("current_user", Some("reserved word")),
            ("cloudadmin", Some("PostgreSQL superuser")),
            ("", Some("must begin with a letter")),
            ("a b", Some("must begin with a letter")),
            ("x\"y", Some("must begin with a letter")),
        ];
        for (name, want) in cases {
            match (check_master_username(name, "cloudadmin"), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{name:?}: {e}"),
                (got, _) => panic!("{name:?}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn default_db_names_are_valid_and_not_reserved() {
        for id in [
            "postgres",
            "budgetsync-db",
            &format!("a{}", "-b".repeat(31)),
        ] {
            let db = default_db_name(id);
            assert!(check_db_name(&db).is_ok(), "{id} -> {db}");
        }
    }
}
