//! `cargo xtask db ...`: maps deploy.toml's `[database]` to `deploykit_rds` and renders results.
//! No database logic lives here; `migrate` shells out to the app's own `flask db` (Flask-Migrate).

use std::time::Duration;

use deploykit_config::ResolvedTarget;
use deploykit_rds::{DbSpec, Rds, RdsError, RestoreCheckOptions, SnapshotInfo};
use deploykit_report::{Event, Reporter};
use secrecy::ExposeSecret;

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

/// The secret `db url --store` writes (the `DATABASE_URL` reference in deploy.toml).
pub const DB_URL_SECRET: &str = "budgetsync/db-url";

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Create the RDS PostgreSQL instance, or bring its settings in line (idempotent; never recreates).
    Create {
        /// Show the plan and stop.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show the instance and every setting that differs from the recommendations (exit 7 if any).
    Status,
    /// Take a manual snapshot named <instance>-<yyyymmdd-hhmmss>[-<reason>].
    Snapshot {
        /// Why (part of the name and a tag), e.g. pre-deploy.
        #[arg(long)]
        reason: Option<String>,
        /// Wait (bounded by [database].timeout) until the snapshot is available.
        #[arg(long)]
        wait: bool,
    },
    /// List manual and automated snapshots with age and size.
    Snapshots,
    /// Delete old MANUAL snapshots (automated ones are never touched).
    Prune {
        /// How many of the newest manual snapshots to keep.
        #[arg(long)]
        keep: usize,
        /// Only delete snapshots older than this (30d, 12h, 2w).
        #[arg(long)]
        older_than: Option<String>,
        /// Show what would be deleted and stop.
        #[arg(long)]
        dry_run: bool,
    },
    /// Restore a snapshot (default: the newest) to a temporary instance, check it, delete it.
    RestoreCheck {
        /// Snapshot identifier; default: the newest available one.
        snapshot: Option<String>,
        /// The Alembic revision the restored database must be at.
        #[arg(long)]
        revision: Option<String>,
        /// Tables that must exist (repeatable); default: alembic_version.
        #[arg(long = "table")]
        tables: Vec<String>,
    },
    /// Print the app's connection URL (its own least-privilege role; password masked unless --show-password).
    Url {
        #[arg(long)]
        show_password: bool,
        /// The owner (master) user's URL instead, from the RDS-managed secret (migrations, admin).
        #[arg(long)]
        owner: bool,
        /// Write the URL to Secrets Manager as budgetsync/db-url.
        #[arg(long)]
        store: bool,
        /// Secret name for --store.
        #[arg(long, default_value = DB_URL_SECRET)]
        secret: String,
    },
    /// Run the app's migrations (`flask db upgrade`); --check only verifies it is at head.
    Migrate {
        /// Exit 7 if the database is not at the app's head revision; change nothing.
        #[arg(long)]
        check: bool,
        /// Database URL; default: `db url` of the target.
        #[arg(long, env = "DEPLOYKIT_DATABASE_URL")]
        database_url: Option<String>,
    },
}

pub fn run(cmd: DbCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let rt = crate::runtime();
    rt.block_on(run_async(cmd, global, r))
}

/// Everything a db command needs, resolved from deploy.toml (and the local cloud).
struct Ctx {
    target: ResolvedTarget,
    spec: DbSpec,
    rds: Rds,
}

async fn context(global: &GlobalArgs, r: &Renderer) -> Result<Ctx, CliError> {
    let session = crate::session::session(global, r).await?;
    let trust =
        deploykit::mapping::db_trust(&session.target, session.local.as_ref()).map_err(rds_err)?;
    if let Some(why) = trust.plaintext_reason() {
        r.report(Event::warn(format!(
            "database connections without TLS: {why}"
        )));
    }
    let (target, sdk) = (session.target, session.sdk);
    let spec = spec_for(&target);
    spec.validate()
        .map_err(|e| CliError::from_error(Exit::Config, &e))?;
    Ok(Ctx {
        rds: Rds::new(&sdk, wait_policy(&target)).with_trust(trust),
        target,
        spec,
    })
}

use deploykit::mapping::{db_spec as spec_for, db_wait_policy as wait_policy};

pub(crate) fn rds_err(e: RdsError) -> CliError {
    CliError::from_diagnostic(&e)
}

async fn run_async(cmd: DbCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    if let DbCommand::Migrate {
        check,
        database_url,
    } = cmd
    {
        return migrate(global, r, check, database_url).await;
    }
    let c = context(global, r).await?;
    let id = c.spec.identifier.clone();
    match cmd {
        DbCommand::Create { dry_run } => {
            if dry_run {
                let current = c.rds.describe(&id).await.map_err(rds_err)?;
                let sg = c
                    .rds
                    .security_group_status(&c.spec)
                    .await
                    .map_err(rds_err)?;
                let mut spec = c.spec.clone();
                if let Some(g) = sg.as_ref().and_then(|g| g.group.as_ref())
                    && !spec.vpc_security_group_ids.contains(&g.group_id)
                {
                    spec.vpc_security_group_ids.push(g.group_id.clone());
                }
                let plan = deploykit_rds::plan_instance(current.as_ref(), &spec);
                let role = deploykit::mapping::app_role_spec(&c.target);
                let app_role = match &current {
                    Some(cur) if cur.status == "available" => Some(
                        c.rds
                            .ensure_app_role(&id, &role, true, r)
                            .await
                            .map_err(rds_err)?,
                    ),
                    _ => None,
                };
                r.result(
                    &serde_json::json!({ "instance": &plan, "security_group": &sg, "app_role": &app_role }),
                    || {
                        format!(
                            "plan for {id} on target {}: {}\nsecurity group: {}\napp role: {}",
                            c.target.name,
                            plan_text(&plan),
                            sg_plan_text(sg.as_ref()),
                            app_role_text(&role, app_role.as_ref(), true)
                        )
                    },
                );
                return Ok(Exit::Success);
            }
            let out = c.rds.ensure(&c.spec, r).await.map_err(rds_err)?;
            for d in &out.manual {
                r.report(Event::warn(format!("{id}: {d}")));
            }
            let role = deploykit::mapping::app_role_spec(&c.target);
            let app_role = match c.rds.ensure_app_role(&id, &role, false, r).await {
                Ok(a) => Some(a),
                Err(e @ RdsError::Connect { .. })
                    if c.target.local && c.rds.trust().plaintext_reason().is_some() =>
                {
                    r.report(Event::warn(format!("app role not made ({e}): the running local cloud predates TLS and app roles; stop and start it")));
                    None
                }
                Err(e) => return Err(rds_err(e)),
            };
            let s = &out.state;
            /// `--output json`: the instance's outcome as before, plus `app_role`.
            #[derive(serde::Serialize)]
            struct Created<'a> {
                #[serde(flatten)]
                instance: &'a deploykit_rds::EnsureOutcome,
                app_role: Option<&'a deploykit_rds::AppRoleOutcome>,
            }
            let json = Created {
                instance: &out,
                app_role: app_role.as_ref(),
            };
            r.result(&json, || {
                format!(
                    "{}: PostgreSQL {} {} {} GB {}, public: {}, encrypted: {}, backups {} days, deletion protection: {}, endpoint {}:{}\nsecurity group: {}",
                    match &out.plan {
                        deploykit_rds::Plan::Create { .. } => format!("created {id}"),
                        deploykit_rds::Plan::Modify { changes, .. } =>
                            format!("updated {} setting(s) of {id}", changes.len()),
                        _ if out.changed() => format!("updated the security group of {id} (instance settings unchanged)"),
                        _ => format!("{id} unchanged (already as specified; nothing was changed)"),
                    },
                    s.engine_version,
                    s.instance_class,
                    s.allocated_storage_gb,
                    s.storage_type.as_deref().unwrap_or("?"),
                    s.publicly_accessible,
                    s.storage_encrypted,
                    s.backup_retention_days,
                    s.deletion_protection,
                    s.endpoint_address.as_deref().unwrap_or("-"),
                    s.endpoint_port.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                    sg_outcome_text(out.security_group.as_ref()),
                ) + &format!("\napp role: {}", app_role_text(&role, app_role.as_ref(), false))
            });
            Ok(Exit::Success)
        }
        DbCommand::Status => {
            let rep = c.rds.status(&c.spec).await.map_err(rds_err)?;
            r.result(&rep, || {
                let s = &rep.state;
                let mut out = vec![format!(
                    "{id}: {} PostgreSQL {} {}, endpoint {}:{}",
                    s.status,
                    s.engine_version,
                    s.instance_class,
                    s.endpoint_address.as_deref().unwrap_or("-"),
                    s.endpoint_port
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "-".into())
                )];
                if rep.drift.is_empty() {
                    out.push("every checked setting matches the recommendations".into());
                } else {
                    out.push(format!(
                        "{} setting(s) differ from the recommendations:",
                        rep.drift.len()
                    ));
                    out.extend(
                        rep.drift
                            .iter()
                            .map(|d| format!("  [{:?}] {d}", d.severity).to_lowercase_first()),
                    );
                }
                if let Some(g) = &rep.security_group {
                    out.push(format!("security group: {}", sg_plan_text(Some(g))));
                }
                out.extend(rep.unverified.iter().map(|u| format!("not verified: {u}")));
                out.join("\n")
            });
            Ok(if rep.drift.is_empty() {
                Exit::Success
            } else {
                Exit::CheckFailed
            })
        }
        DbCommand::Snapshot { reason, wait } => {
            let sha = git_sha(&c.target);
            let info = c
                .rds
                .snapshot(&id, reason.as_deref(), sha.as_deref(), wait, r)
                .await
                .map_err(rds_err)?;
            r.result(&info, || {
                format!("snapshot {} of {id}: {}", info.identifier, info.status)
            });
            Ok(Exit::Success)
        }
        DbCommand::Snapshots => {
            let all = c.rds.snapshots(&id).await.map_err(rds_err)?;
            let now = time::OffsetDateTime::now_utc();
            r.result(&all, || snapshot_table(&all, now));
            Ok(Exit::Success)
        }
        DbCommand::Prune {
            keep,
            older_than,
            dry_run,
        } => {
            let older = older_than
                .as_deref()
                .map(deploykit_rds::parse_age)
                .transpose()
                .map_err(|e| CliError::from_error(Exit::Config, &e))?;
            let sel = c
                .rds
                .prune(&id, keep, older, dry_run, r)
                .await
                .map_err(rds_err)?;
            r.result(&sel, || {
                format!(
                    "{} {} manual snapshot(s){}; kept {} manual; {} automated/other snapshot(s) never touched",
                    if sel.delete.is_empty() {
                        "nothing to delete:"
                    } else if dry_run {
                        "would delete"
                    } else {
                        "deleted"
                    },
                    sel.delete.len(),
                    if sel.delete.is_empty() { String::new() } else { format!(": {}", sel.delete.join(", ")) },
                    sel.keep.len(),
                    sel.untouched.len()
                )
            });
            Ok(Exit::Success)
        }
        DbCommand::RestoreCheck {
            snapshot,
            revision,
            tables,
        } => {
            let mut opts = RestoreCheckOptions::new(&id);
            opts.snapshot = snapshot;
            opts.expected_revision = revision;
            if !tables.is_empty() {
                opts.expected_tables = tables;
            }
            let cancel = async {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            let rep = c
                .rds
                .restore_check(&opts, r, cancel)
                .await
                .map_err(rds_err)?;
            r.result(&rep, || {
                let mut out = vec![format!(
                    "restore check passed: snapshot {} restored to {} in {:.0}s; alembic revision {}",
                    rep.snapshot,
                    rep.temporary_instance,
                    rep.restore_seconds,
                    rep.alembic_revision.as_deref().unwrap_or("none")
                )];
                out.extend(rep.tables.iter().map(|t| format!("  {:<30} {:>10} rows", t.table, t.rows)));
                out.push(format!("temporary instance {} deleted", rep.temporary_instance));
                out.join("\n")
            });
            Ok(Exit::Success)
        }
        DbCommand::Url {
            show_password,
            owner,
            store,
            secret,
        } => {
            let url = if owner {
                c.rds.url(&id).await.map_err(rds_err)?
            } else {
                deploykit::db::app_database_url(&c.rds, &c.target, r)
                    .await
                    .map_err(|e| CliError::from_diagnostic(&e))?
            };
            if store {
                let outcome = c.rds.store_url(&secret, &url).await.map_err(rds_err)?;
                r.report(Event::info(format!(
                    "{} secret {secret} with the URL of {id}",
                    match outcome {
                        deploykit_rds::PutOutcome::Created => "created",
                        deploykit_rds::PutOutcome::Updated => "updated",
                    }
                )));
            }
            let shown = if show_password {
                url.expose().expose_secret().to_string()
            } else {
                url.masked()
            };
            r.result(&serde_json::json!({ "url": shown, "masked": !show_password, "stored_in": store.then_some(&secret) }), || shown.clone());
            Ok(Exit::Success)
        }
        DbCommand::Migrate { .. } => Ok(Exit::Success),
    }
}

trait LowerFirst {
    fn to_lowercase_first(self) -> String;
}

impl LowerFirst for String {
    /// `[Warn] x` -> `[warn] x`.
    fn to_lowercase_first(self) -> String {
        match self.split_once(']') {
            Some((sev, rest)) => format!("{}]{rest}", sev.to_lowercase()),
            None => self,
        }
    }
}

/// The short form of [`deploykit_rds::DEFAULT_GROUP_NOTE`] (which `db create` reports in full).
const NO_GROUP: &str = "none managed (no [database] app_security_group): the instance keeps its groups, a new one gets the VPC's default group; set app_security_group to allow 5432 from the app only";

/// The database group as `db status` and `db create --dry-run` see it.
fn sg_plan_text(sg: Option<&deploykit_rds::SecurityGroupReport>) -> String {
    let Some(g) = sg else {
        return NO_GROUP.to_string();
    };
    let want = deploykit_rds::IngressRule::postgres_from(&g.app_group);
    let list = |v: &[deploykit_rds::IngressRule]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &g.group {
        None => format!(
            "{} does not exist yet in {}; `db create` creates it with {want} only",
            g.group_name, g.vpc_id
        ),
        Some(cur) if g.plan.is_empty() => {
            format!("{} ({}) admits {want} only", g.group_name, cur.group_id)
        }
        Some(cur) => {
            let mut parts = Vec::new();
            if !g.plan.authorize.is_empty() {
                parts.push(format!("authorize {}", list(&g.plan.authorize)));
            }
            if !g.plan.revoke.is_empty() {
                parts.push(format!("revoke {}", list(&g.plan.revoke)));
            }
            format!(
                "{} ({}) differs: `db create` will {}",
                g.group_name,
                cur.group_id,
                parts.join(" and ")
            )
        }
    }
}

/// What `db create` did to the database group.
fn sg_outcome_text(sg: Option<&deploykit_rds::SecurityGroupOutcome>) -> String {
    let Some(g) = sg else {
        return NO_GROUP.to_string();
    };
    let want = deploykit_rds::IngressRule::postgres_from(&g.app_group);
    let list = |v: &[deploykit_rds::IngressRule]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut what = Vec::new();
    if g.created {
        what.push("created".to_string());
    }
    if !g.authorized.is_empty() {
        what.push(format!("authorized {}", list(&g.authorized)));
    }
    if !g.revoked.is_empty() {
        what.push(format!("revoked {}", list(&g.revoked)));
    }
    if what.is_empty() {
        what.push("unchanged".into());
    }
    format!(
        "{} ({}) {}; admits {want} only",
        g.group_name,
        g.group_id,
        what.join(", ")
    )
}

/// The app role's plan (`dry_run`) or what `db create` did to it.
fn app_role_text(
    role: &deploykit_rds::AppRoleSpec,
    out: Option<&deploykit_rds::AppRoleOutcome>,
    dry_run: bool,
) -> String {
    let Some(o) = out else {
        return format!(
            "{} (secret {}) is made once the instance is available",
            role.role, role.secret
        );
    };
    if o.unchanged() {
        return format!(
            "{} unchanged (LOGIN, DML on schema {} only; secret {})",
            o.role, role.schema, o.secret
        );
    }
    let steps: Vec<String> = o.plan.iter().map(ToString::to_string).collect();
    format!(
        "{} {}: {}",
        o.role,
        if dry_run { "would change" } else { "changed" },
        steps.join("; ")
    )
}

fn plan_text(p: &deploykit_rds::Plan) -> String {
    use deploykit_rds::Plan;
    match p {
        Plan::Create { spec } => format!(
            "create (PostgreSQL {}, {}, {} GB gp3, private, encrypted, managed master password)",
            spec.engine_version, spec.instance_class, spec.allocated_storage_gb
        ),
        Plan::Modify { changes, manual } => format!(
            "modify {} setting(s) ({} need manual work)",
            changes.len(),
            manual.len()
        ),
        Plan::WaitFor { status } => format!("wait: the instance is {status}"),
        Plan::Blocked { status } => format!("blocked: the instance is {status}"),
        Plan::NoChange { manual } => {
            format!("nothing to change ({} need manual work)", manual.len())
        }
    }
}

fn snapshot_table(all: &[SnapshotInfo], now: time::OffsetDateTime) -> String {
    if all.is_empty() {
        return "no snapshots".into();
    }
    let mut out = vec![format!(
        "{:<60} {:<10} {:<10} {:>8} {:>6}",
        "SNAPSHOT", "TYPE", "STATUS", "AGE", "SIZE"
    )];
    for s in all {
        out.push(format!(
            "{:<60} {:<10} {:<10} {:>8} {:>4}GB",
            s.identifier,
            s.kind.as_str(),
            s.status,
            human_age(s.age(now)),
            s.allocated_storage_gb
        ));
    }
    out.join("\n")
}

fn human_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The app's git revision for the snapshot tag (12 characters), if it is in a repository.
fn git_sha(target: &ResolvedTarget) -> Option<String> {
    deploykit::source::GitInfo::probe(&target.app.path).map(|g| g.short(12))
}

mod migrate;
pub use migrate::*;

#[cfg(test)]
mod migrate_tests;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    #[test]
    fn revisions_parse_flask_output() {
        let cases = [
            ("0001 (head)\n", vec!["0001"]),
            (
                "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\n0001 (head)\n",
                vec!["0001"],
            ),
            (
                "INFO  [alembic.runtime.migration] Will assume transactional DDL.\n",
                vec![],
            ),
            ("", vec![]),
            ("ae1027a6acf (head)\nb2 (head)\n", vec!["ae1027a6acf", "b2"]),
        ];
        for (out, want) in cases {
            assert_eq!(revisions(out), want, "{out:?}");
        }
    }

    /// This repository (tests run with the package directory as cwd).
    pub(super) fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn repo_config_maps_to_a_valid_spec() {
        let root = repo_root();
        let config = deploykit_config::load(&root.join("deploy.toml")).unwrap();
        let local = spec_for(&config.target(Some("local")).unwrap());
        local.validate().unwrap();
        assert_eq!(local.identifier, "budgetsync-db");
        assert_eq!(local.instance_class, "db.t4g.micro");
        assert!(!local.deletion_protection);
        let prod = spec_for(&config.target(Some("prod")).unwrap());
        assert!(prod.deletion_protection);
        assert_eq!(prod.backup_retention_days, 14);
    }

    #[test]
    fn urls_are_masked() {
        assert_eq!(
            mask_url("postgresql+psycopg2://app:pw@db.example:5432/budgetsync"),
            "postgresql+psycopg2://app:********@db.example:5432/budgetsync"
        );
        assert_eq!(
            mask_url("postgresql://postgres@127.0.0.1:4569/x"),
            "postgresql://********@127.0.0.1:4569/x"
        );
        assert_eq!(mask_url("garbage with secret"), "********");
    }

    #[test]
    fn migrate_without_venv_says_how_to_make_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = run_migrate(
            &dir.path().join("nope/bin/python"),
            dir.path(),
            "postgresql://x@127.0.0.1/x",
            false,
        )
        .unwrap_err();
        assert_eq!(err.exit, Exit::Failure);
        assert!(
            err.message.contains("virtualenv is missing")
                && err
                    .hint
                    .unwrap()
                    .contains("python3 -m venv target/venvs/app")
        );
    }
}
