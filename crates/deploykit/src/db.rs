//! The database around a deploy: `[database] snapshot_before_deploy`.

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
        source,
    }
}
