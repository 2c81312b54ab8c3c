//! The local target only: what a fresh clone's first deploy needs and nobody has made yet.
//!
//! On real AWS a missing secret or role is refused with the command that makes it (the
//! preflights do that). On the `local` target the README's one command must work from a fresh
//! clone, so before the preflight this makes, in the local cloud only:
//! - each missing `[secrets]` entry: `DATABASE_URL` from the local RDS instance (created as
//!   `db create` would, its URL stored as `db url --store` would), any other one a random value;
//! - the route's IAM roles and instance profile (as `iam ensure` would).
//!
//! Everything made is reported; a dry run reports what it would make and changes nothing.

use deploykit_config::ResolvedTarget;
use deploykit_report::{Event, Reporter};
use deploykit_secrets::{MissingReason, SecretString, Secrets};

use crate::cmd_iam::Route;
use crate::{CliError, Exit};

/// What a dry run found missing on the local target (a real run makes these first).
#[derive(Debug, Default, serde::Serialize)]
pub struct Pending {
    /// One line each: "secret budgetsync/db-url for DATABASE_URL (the local database's URL)".
    pub would_create: Vec<String>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.would_create.is_empty()
    }

    /// Ends a dry run whose plan needs what is not there yet: says what a real run makes first.
    pub fn finish_dry_run(&self, r: &crate::render::Renderer) -> crate::CliResult {
        let text = format!(
            "dry run on the local target: a real run first makes\n{}\nthen plans and deploys with them (the rest of the plan needs their ARNs); nothing was changed",
            self.would_create
                .iter()
                .map(|l| format!("  + {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        r.result(
            &serde_json::json!({ "status": "dry_run", "local_prepare": self }),
            || text.clone(),
        );
        Ok(Exit::Success)
    }
}

/// Makes what the local target lacks (see the module docs). A no-op on other targets. A dry
/// run changes nothing and returns what a real run would make.
pub async fn prepare(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
    route: Route,
    dry_run: bool,
    r: &dyn Reporter,
) -> Result<Pending, CliError> {
    let mut pending = Pending::default();
    if !t.local {
        return Ok(pending);
    }
    let secrets = Secrets::new(sdk);
    let status = secrets
        .list_refs(&crate::cmd_secrets::refs(t))
        .await
        .map_err(|e| CliError::from_error(Exit::Aws, &e))?;
    let missing: Vec<_> = status.into_iter().filter_map(Result::err).collect();
    for m in &missing {
        let what = if m.env_var == "DATABASE_URL" {
            "the local database's URL"
        } else {
            "a random value"
        };
        if dry_run {
            pending
                .would_create
                .push(format!("secret {} for {} ({what})", m.reference, m.env_var));
            continue;
        }
        if m.reference.starts_with("arn:") {
            // An ARN names a secret in a given account; we cannot make it under that ARN.
            continue;
        }
        if let MissingReason::ScheduledForDeletion { .. } = m.reason {
            secrets
                .restore(&m.reference)
                .await
                .map_err(|e| CliError::from_error(Exit::Aws, &e))?;
        }
        if m.env_var == "DATABASE_URL" {
            store_database_url(t, sdk, &m.reference, r).await?;
        } else {
            let value = SecretString::from(random_value());
            secrets
                .put_string(
                    &m.reference,
                    &value,
                    "made by deploykit for the local target (a random value)",
                )
                .await
                .map_err(|e| CliError::from_error(Exit::Aws, &e))?;
        }
        r.report(Event::info(format!(
            "local target: created secret {} for {} ({what})",
            m.reference, m.env_var
        )));
    }
    if dry_run {
        let iam = deploykit_iam::Iam::new(sdk);
        let specs = deploykit_iam::desired_roles(&crate::cmd_iam::app_roles(t, Vec::new(), route));
        for spec in &specs {
            let missing_role = iam
                .role_arn(&spec.name)
                .await
                .map_err(|e| CliError::from_error(Exit::Aws, &e))?
                .is_none();
            if missing_role {
                pending
                    .would_create
                    .push(format!("IAM role {} ({})", spec.name, spec.description));
            }
            if let Some(profile) = &spec.instance_profile {
                let missing_profile = iam
                    .instance_profile_arn(profile)
                    .await
                    .map_err(|e| CliError::from_error(Exit::Aws, &e))?
                    .is_none();
                if missing_profile {
                    pending
                        .would_create
                        .push(format!("IAM instance profile {profile}"));
                }
            }
        }
        return Ok(pending);
    }
    let out = crate::cmd_iam::ensure_roles(t, sdk, route, r).await?;
    if !out.unchanged() {
        r.report(Event::info(format!(
            "local target: IAM roles ensured: {}",
            crate::cmd_iam::outcome_text(&out).replace('\n', "; ")
        )));
    }
    Ok(pending)
}

/// The local RDS instance (created when missing) and its URL stored under `secret`.
async fn store_database_url(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
    secret: &str,
    r: &dyn Reporter,
) -> Result<(), CliError> {
    let spec = crate::cmd_db::spec_for(t);
    let rds = deploykit_rds::Rds::new(sdk, crate::cmd_db::wait_policy(t));
    rds.ensure(&spec, r).await.map_err(crate::cmd_db::rds_err)?;
    let url = rds
        .url(&spec.identifier)
        .await
        .map_err(crate::cmd_db::rds_err)?;
    rds.store_url(secret, &url)
        .await
        .map_err(crate::cmd_db::rds_err)?;
    Ok(())
}

/// 64 hex characters from two v4 UUIDs (the OS's random source): a Flask SECRET_KEY.
fn random_value() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
