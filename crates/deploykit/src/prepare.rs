//! The local target only: what a fresh clone's first deploy needs and nobody has made yet.
//!
//! On real AWS a missing secret or role is refused (the preflights do that). On the `local`
//! target one command must work from a fresh clone, so before the preflight this makes, in
//! the local cloud only:
//! - each missing `[secrets]` entry: `DATABASE_URL` from the local RDS instance (created when
//!   missing, its URL stored), any other one a random value;
//! - the route's IAM roles and instance profile.
//!
//! Everything made is reported; a dry run reports what it would make and changes nothing.

use deploykit_config::ResolvedTarget;
use deploykit_iam::{Iam, IamOutcome};
use deploykit_report::{Event, Reporter};
use deploykit_secrets::{MissingReason, SecretString, Secrets};

use crate::Result;
use crate::mapping::{Route, app_roles, db_spec, db_wait_policy, secret_refs};

/// What a dry run found missing on the local target (a real run makes these first).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Pending {
    /// One line each: "secret budgetsync/db-url for DATABASE_URL (the local database's URL)".
    pub would_create: Vec<String>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.would_create.is_empty()
    }
}

/// Ensures the target's roles for `route` (plan, then apply). Secrets are resolved first
/// (missing ones are refused, nothing changed): the roles' policies name their ARNs.
pub async fn ensure_roles(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
    route: Route,
    r: &dyn Reporter,
) -> Result<IamOutcome> {
    let secrets = crate::preflight::resolve_secrets(t, sdk).await?;
    let roles = app_roles(t, secrets.into_iter().map(|s| s.arn).collect(), route);
    Ok(deploykit_iam::ensure(&Iam::new(sdk), &roles, r).await?)
}

/// Makes what the local target lacks (see the module docs). A no-op on other targets. A dry
/// run changes nothing and returns what a real run would make.
pub async fn prepare_local(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
    local: Option<&deploykit_local::LocalState>,
    route: Route,
    dry_run: bool,
    r: &dyn Reporter,
) -> Result<Pending> {
    let mut pending = Pending::default();
    if !t.local {
        return Ok(pending);
    }
    let secrets = Secrets::new(sdk);
    let status = secrets.list_refs(&secret_refs(t)).await?;
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
            secrets.restore(&m.reference).await?;
        }
        if m.env_var == "DATABASE_URL" {
            store_database_url(t, sdk, local, &m.reference, r).await?;
        } else {
            let value = SecretString::from(random_value());
            secrets
                .put_string(
                    &m.reference,
                    &value,
                    "made by deploykit for the local target (a random value)",
                )
                .await?;
        }
        r.report(Event::info(format!(
            "local target: created secret {} for {} ({what})",
            m.reference, m.env_var
        )));
    }
    if dry_run {
        let iam = Iam::new(sdk);
        let specs = deploykit_iam::desired_roles(&app_roles(t, Vec::new(), route));
        for spec in &specs {
            if iam.role_arn(&spec.name).await?.is_none() {
                pending
                    .would_create
                    .push(format!("IAM role {} ({})", spec.name, spec.description));
            }
            if let Some(profile) = &spec.instance_profile
                && iam.instance_profile_arn(profile).await?.is_none()
            {
                pending
                    .would_create
                    .push(format!("IAM instance profile {profile}"));
            }
        }
        return Ok(pending);
    }
    let out = ensure_roles(t, sdk, route, r).await?;
    if !out.unchanged() {
        let changed: Vec<String> = out
            .plan
            .roles
            .iter()
            .filter(|rp| !rp.changes.is_empty())
            .map(|rp| {
                let verb = if rp.exists { "updated" } else { "created" };
                format!("{} {verb}", rp.role)
            })
            .collect();
        r.report(Event::info(format!(
            "local target: IAM roles ensured: {}",
            changed.join("; ")
        )));
    }
    Ok(pending)
}

/// The local RDS instance (created when missing) and its URL stored under `secret`.
async fn store_database_url(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
    local: Option<&deploykit_local::LocalState>,
    secret: &str,
    r: &dyn Reporter,
) -> Result<()> {
    let spec = db_spec(t);
    let trust = crate::mapping::db_trust(t, local)?;
    if let Some(why) = trust.plaintext_reason() {
        r.report(Event::warn(format!("DATABASE_URL without TLS: {why}")));
    }
    let rds = deploykit_rds::Rds::new(sdk, db_wait_policy(t)).with_trust(trust);
    rds.ensure(&spec, r).await?;
    // The owner's URL: the example app's deploy hook runs the migrations with DATABASE_URL
    // (an app whose hook reads MIGRATION_DATABASE_URL can store `db url`'s app-role URL).
    let url = rds.url(&spec.identifier).await?;
    rds.store_url(secret, &url).await?;
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
