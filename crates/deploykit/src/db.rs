//! The database around a deploy: `[database] snapshot_before_deploy`; the app's URL.

use deploykit_config::ResolvedTarget;
use deploykit_rds::{PreDeploySnapshot, Rds};
use deploykit_report::Reporter;

use crate::mapping::db_wait_policy;
use crate::source::GitInfo;
use crate::{Error, Result};

/// `[database] snapshot_before_deploy` for a deploy: [`PreDeployDb::plan`] decides (and reads
/// only, so a dry run can show it), [`PreDeployDb::take`] snapshots and waits.
#[derive(Debug)]
pub struct PreDeployDb {
    rds: Rds,
    git_sha: Option<String>,
    pub decision: PreDeploySnapshot,
}

impl PreDeployDb {
    /// `migrations_run`: the deploy creates or updates the environment (which runs the app's
    /// migrations); an unchanged environment needs no snapshot.
    pub async fn plan(
        target: &ResolvedTarget,
        sdk: &aws_types::SdkConfig,
        migrations_run: bool,
        r: &dyn Reporter,
    ) -> Result<PreDeployDb> {
        let rds = Rds::new(sdk, db_wait_policy(target));
        let decision = rds
            .plan_predeploy_snapshot(
                &target.database.instance,
                target.database.snapshot_before_deploy,
                migrations_run,
                r,
            )
            .await
            .map_err(|source| predeploy_err(source, target))?;
        Ok(PreDeployDb {
            rds,
            git_sha: GitInfo::probe(&target.app.path).map(|g| g.short(12)),
            decision,
        })
    }

    /// Takes the planned snapshot (waited, bounded by `[database].timeout`); a skip stays a skip.
    pub async fn take(
        self,
        target: &ResolvedTarget,
        r: &dyn Reporter,
    ) -> Result<PreDeploySnapshot> {
        self.rds
            .take_predeploy_snapshot(self.decision, self.git_sha.as_deref(), r)
            .await
            .map_err(|source| predeploy_err(source, target))
    }
}

fn predeploy_err(source: deploykit_rds::RdsError, target: &ResolvedTarget) -> Error {
    Error::PreDeploySnapshot {
        target: target.name.clone(),
        source: Box::new(source),
    }
}

/// The URL the app connects with: the app role's (the role and its secret made or brought in
/// line first, as `db create` does), which survives the rotation of the master secret. Only a
/// local cloud started before TLS and app roles (its emulator's master user cannot create
/// roles) gets the owner's URL, with a warning saying to restart it.
pub async fn app_database_url(
    rds: &Rds,
    target: &ResolvedTarget,
    r: &dyn Reporter,
) -> Result<deploykit_rds::DbUrl> {
    let instance = &target.database.instance;
    let role = crate::mapping::app_role_spec(target);
    match rds.ensure_app_role(instance, &role, false, r).await {
        Ok(_) => Ok(rds.app_url(instance, &role).await?),
        Err(e @ deploykit_rds::RdsError::Connect { .. })
            if target.local && rds.trust().plaintext_reason().is_some() =>
        {
            r.report(deploykit_report::Event::warn(format!(
                "the app role was not made ({e}); the URL uses the owner (master) user: the running local cloud predates app roles, stop and start it"
            )));
            Ok(rds.url(instance).await?)
        }
        Err(e) => Err(e.into()),
    }
}
