//! The optional snapshot before a deploy's migrations (`snapshot_before_deploy`).
//!
//! Two steps so that a deploy can show the decision in its plan before it changes anything:
//! [`Rds::plan_predeploy_snapshot`] decides (reading only), [`Rds::take_predeploy_snapshot`]
//! takes the snapshot and waits (bounded by the [`crate::WaitPolicy`]) until it is available.

use std::fmt;

use deploykit_report::{Event, Reporter};
use serde::Serialize;

use crate::{Rds, RdsError, SnapshotInfo};

/// The reason a pre-deploy snapshot carries (in its name and its `deploykit:reason` tag).
pub const PREDEPLOY_REASON: &str = "predeploy";

/// What the pre-deploy snapshot step decided, and after [`Rds::take_predeploy_snapshot`], did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PreDeploySnapshot {
    /// `snapshot_before_deploy` is off for the target.
    Off,
    /// The deploy leaves the environment as it is, so no migrations run.
    NotNeeded,
    /// The instance does not exist: there is nothing to snapshot.
    NoInstance { instance: String },
    /// A snapshot will be taken (or, in a dry run, would be).
    Planned { instance: String },
    /// The snapshot was taken and is available.
    Taken { snapshot: SnapshotInfo },
}

impl PreDeploySnapshot {
    /// Why no snapshot is taken, or `None` when one is (to be) taken.
    pub fn skip_reason(&self) -> Option<String> {
        match self {
            PreDeploySnapshot::Off => Some("snapshot_before_deploy is off for this target".into()),
            PreDeploySnapshot::NotNeeded => {
                Some("the deploy leaves the environment unchanged, so no migrations run".into())
            }
            PreDeploySnapshot::NoInstance { instance } => Some(format!(
                "DB instance {instance} does not exist, so there is nothing to snapshot (creating the database makes it)"
            )),
            PreDeploySnapshot::Planned { .. } | PreDeploySnapshot::Taken { .. } => None,
        }
    }
}

/// One line in the style of a deploy plan (`  + ...` for an action, `  = ...` for a skip).
impl fmt::Display for PreDeploySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreDeploySnapshot::Planned { instance } => write!(
                f,
                "  + snapshot DB instance {instance} (<instance>-<time>-{PREDEPLOY_REASON}) and wait for it before the environment update runs migrations"
            ),
            PreDeploySnapshot::Taken { snapshot } => write!(
                f,
                "  = DB snapshot {} taken before the update ({})",
                snapshot.identifier, snapshot.status
            ),
            other => write!(
                f,
                "  = no DB snapshot: {}",
                other.skip_reason().unwrap_or_default()
            ),
        }
    }
}

/// The decision alone, from plain facts: whether the target asks for a snapshot, whether the
/// deploy runs migrations (creates or updates the environment), and whether the instance exists.
pub fn predeploy_decision(
    instance: &str,
    enabled: bool,
    migrations_run: bool,
    instance_exists: bool,
) -> PreDeploySnapshot {
    if !enabled {
        PreDeploySnapshot::Off
    } else if !migrations_run {
        PreDeploySnapshot::NotNeeded
    } else if !instance_exists {
        PreDeploySnapshot::NoInstance {
            instance: instance.into(),
        }
    } else {
        PreDeploySnapshot::Planned {
            instance: instance.into(),
        }
    }
}

impl Rds {
    /// Decides whether a deploy takes a snapshot first. Reads only (one DescribeDBInstances,
    /// and none when the setting is off or no migrations run); reports a skip with its reason.
    pub async fn plan_predeploy_snapshot(
        &self,
        instance: &str,
        enabled: bool,
        migrations_run: bool,
        r: &dyn Reporter,
    ) -> Result<PreDeploySnapshot, RdsError> {
        let exists = if enabled && migrations_run {
            self.describe(instance).await?.is_some()
        } else {
            false
        };
        let decision = predeploy_decision(instance, enabled, migrations_run, exists);
        if let Some(reason) = decision.skip_reason() {
            r.report(Event::StepSkipped {
                step: "db-snapshot".into(),
                reason,
            });
        }
        Ok(decision)
    }

    /// Carries out a [`PreDeploySnapshot::Planned`] decision: a manual snapshot with reason
    /// [`PREDEPLOY_REASON`], waited for. Any other decision is returned unchanged.
    pub async fn take_predeploy_snapshot(
        &self,
        decision: PreDeploySnapshot,
        git_sha: Option<&str>,
        r: &dyn Reporter,
    ) -> Result<PreDeploySnapshot, RdsError> {
        let PreDeploySnapshot::Planned { instance } = decision else {
            return Ok(decision);
        };
        let snapshot = self
            .snapshot(&instance, Some(PREDEPLOY_REASON), git_sha, true, r)
            .await?;
        Ok(PreDeploySnapshot::Taken { snapshot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_table() {
        let d = |enabled, migrations, exists| predeploy_decision("db", enabled, migrations, exists);
        assert_eq!(d(false, true, true), PreDeploySnapshot::Off);
        assert_eq!(d(true, false, true), PreDeploySnapshot::NotNeeded);
        assert_eq!(
            d(true, true, false),
            PreDeploySnapshot::NoInstance {
                instance: "db".into()
            }
        );
        assert_eq!(
            d(true, true, true),
            PreDeploySnapshot::Planned {
                instance: "db".into()
            }
        );
    }

    #[test]
    fn plan_lines_say_what_and_why() {
        assert_eq!(
            PreDeploySnapshot::Off.to_string(),
            "  = no DB snapshot: snapshot_before_deploy is off for this target"
        );
        let planned = PreDeploySnapshot::Planned {
            instance: "budgetsync-db".into(),
        }
        .to_string();
        assert!(
            planned.starts_with("  + snapshot DB instance budgetsync-db"),
            "{planned}"
        );
        assert!(planned.contains("-predeploy"), "{planned}");
        let none = PreDeploySnapshot::NoInstance {
            instance: "budgetsync-db".into(),
        }
        .to_string();
        assert!(
            none.contains("does not exist") && none.contains("creating the database makes it"),
            "{none}"
        );
    }
}
