//! A log group's retention: planned as data (change only when it differs), then applied.

use deploykit_aws::classify;
use serde::Serialize;

use crate::{Client, LogsError, Result};

/// The retentions (days) `PutRetentionPolicy` accepts.
pub const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// What a group's retention is and what it should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionPlan {
    pub group: String,
    /// `None`: the group keeps its events forever.
    pub current: Option<u32>,
    pub desired: u32,
}

impl RetentionPlan {
    /// Whether applying it calls `PutRetentionPolicy`.
    pub fn changes(&self) -> bool {
        self.current != Some(self.desired)
    }
}

/// The plan for `group` from its current retention; refuses a retention AWS does not accept.
pub fn plan_retention(group: &str, current: Option<u32>, desired: u32) -> Result<RetentionPlan> {
    if !RETENTION_DAYS.contains(&desired) {
        return Err(LogsError::InvalidRetention { days: desired });
    }
    Ok(RetentionPlan {
        group: group.to_string(),
        current,
        desired,
    })
}

/// Reads `group`'s retention and sets it to `days` only when it differs; returns the plan.
pub async fn set_retention(client: &Client, group: &str, days: u32) -> Result<RetentionPlan> {
    let out = client
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .map_err(|e| LogsError::aws("DescribeLogGroups", group, classify(&e)))?;
    let Some(found) = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group))
    else {
        return Err(LogsError::GroupNotFound {
            group: group.to_string(),
        });
    };
    let current = found
        .retention_in_days()
        .and_then(|d| u32::try_from(d).ok());
    let plan = plan_retention(group, current, days)?;
    if plan.changes() {
        client
            .put_retention_policy()
            .log_group_name(group)
            .retention_in_days(i32::try_from(days).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| LogsError::aws("PutRetentionPolicy", group, classify(&e)))?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_changes_only_when_it_differs() {
        let cases = [
            (None, 30, true),
            (Some(30), 30, false),
            (Some(7), 30, true),
            (Some(3653), 14, true),
        ];
        for (current, desired, changes) in cases {
            let p = plan_retention("/g", current, desired).unwrap();
            assert_eq!(p.changes(), changes, "{current:?} -> {desired}");
        }
    }

    #[test]
    fn a_retention_aws_refuses_is_refused_before_any_call() {
        for days in [0, 2, 31, 10_000] {
            let e = plan_retention("/g", None, days).unwrap_err();
            assert!(matches!(e, LogsError::InvalidRetention { days: d } if d == days));
        }
    }
}
