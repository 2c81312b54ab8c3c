//! Usage that deploy.toml does not say (traffic, storage, log volume), shipped as data
//! (`prices/assumptions.toml`). Each is a low/high pair: the estimate's two scenarios.

use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::{CostError, Range};

/// The assumptions compiled into the crate.
pub const SHIPPED_ASSUMPTIONS: &str = include_str!("../prices/assumptions.toml");

/// A `[low, high]` quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Pair {
    pub low: f64,
    pub high: f64,
}

impl From<[f64; 2]> for Pair {
    fn from([low, high]: [f64; 2]) -> Pair {
        Pair { low, high }
    }
}

impl From<Pair> for [f64; 2] {
    fn from(p: Pair) -> [f64; 2] {
        [p.low, p.high]
    }
}

impl From<Pair> for Range {
    fn from(p: Pair) -> Range {
        Range::new(p.low, p.high)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbAssumptions {
    pub root_volume_gb: Pair,
    pub load_balanced_instances: Pair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbAssumptions {
    pub lcu_per_hour: Pair,
    pub public_ipv4: Pair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRunnerAssumptions {
    pub active_hours: Pair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsAssumptions {
    pub alb_share: Pair,
    pub public_ipv4_per_task: Pair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsAssumptions {
    pub backup_extra_per_retention_day: Pair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Assumptions {
    pub storage_gb: Pair,
    pub put_requests: Pair,
    pub get_requests: Pair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsAssumptions {
    pub api_calls: Pair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchAssumptions {
    pub logs_ingest_gb: Pair,
    pub alarms: Pair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Assumptions {
    pub optional_hosted_zones: Pair,
}

/// Every usage assumption the estimator makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    pub eb: EbAssumptions,
    pub alb: AlbAssumptions,
    pub apprunner: AppRunnerAssumptions,
    pub ecs: EcsAssumptions,
    pub rds: RdsAssumptions,
    pub s3: S3Assumptions,
    pub secrets: SecretsAssumptions,
    pub cloudwatch: CloudWatchAssumptions,
    pub route53: Route53Assumptions,
}

impl Assumptions {
    /// The shipped assumptions, parsed and validated on first use.
    pub fn shipped() -> Result<&'static Assumptions, CostError> {
        static SHIPPED: OnceLock<Result<Assumptions, String>> = OnceLock::new();
        SHIPPED
            .get_or_init(|| Assumptions::parse_inner(SHIPPED_ASSUMPTIONS))
            .as_ref()
            .map_err(|message| CostError::Assumptions {
                origin: "shipped".into(),
                message: message.clone(),
                shipped: true,
            })
    }

    /// Reads an assumptions file (same format as the shipped one).
    pub fn load(path: &Path) -> Result<Assumptions, CostError> {
        let text = std::fs::read_to_string(path).map_err(|source| CostError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Assumptions::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Assumptions, CostError> {
        Assumptions::parse_inner(text).map_err(|message| CostError::Assumptions {
            origin: origin.to_owned(),
            message,
            shipped: false,
        })
    }

    fn parse_inner(text: &str) -> Result<Assumptions, String> {
        let a: Assumptions = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let pairs = [
            ("eb.root_volume_gb", a.eb.root_volume_gb),
            ("eb.load_balanced_instances", a.eb.load_balanced_instances),
            ("alb.lcu_per_hour", a.alb.lcu_per_hour),
            ("alb.public_ipv4", a.alb.public_ipv4),
            ("apprunner.active_hours", a.apprunner.active_hours),
            ("ecs.alb_share", a.ecs.alb_share),
            ("ecs.public_ipv4_per_task", a.ecs.public_ipv4_per_task),
            (
                "rds.backup_extra_per_retention_day",
                a.rds.backup_extra_per_retention_day,
            ),
            ("s3.storage_gb", a.s3.storage_gb),
            ("s3.put_requests", a.s3.put_requests),
            ("s3.get_requests", a.s3.get_requests),
            ("secrets.api_calls", a.secrets.api_calls),
            ("cloudwatch.logs_ingest_gb", a.cloudwatch.logs_ingest_gb),
            ("cloudwatch.alarms", a.cloudwatch.alarms),
            (
                "route53.optional_hosted_zones",
                a.route53.optional_hosted_zones,
            ),
        ];
        let bad: Vec<String> = pairs
            .iter()
            .filter(|(_, p)| {
                !(p.low.is_finite() && p.high.is_finite() && 0.0 <= p.low && p.low <= p.high)
            })
            .map(|(name, p)| {
                format!(
                    "`{name}` = [{}, {}] is not a [low, high] pair with 0 <= low <= high",
                    p.low, p.high
                )
            })
            .collect();
        if !bad.is_empty() {
            return Err(bad.join("; "));
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_assumptions_are_valid_ranges() {
        let a = Assumptions::shipped().expect("shipped assumptions valid");
        // App Runner active hours cannot exceed a month.
        assert!(a.apprunner.active_hours.high <= 730.0);
        assert_eq!(a.cloudwatch.alarms.low, 4.0);
    }

    #[test]
    fn a_reversed_pair_is_refused_by_name() {
        let text =
            SHIPPED_ASSUMPTIONS.replace("storage_gb = [1.0, 20.0]", "storage_gb = [20.0, 1.0]");
        let msg = Assumptions::parse(&text, "mine.toml")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`s3.storage_gb` = [20, 1]"), "{msg}");
        let text = SHIPPED_ASSUMPTIONS.replace("[route53]", "[route53]\nzones = [1.0, 1.0]");
        let msg = Assumptions::parse(&text, "mine.toml")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unknown field `zones`"), "{msg}");
    }
}
