//! Elastic Beanstalk deploys: plan, application versions, environments, waits, rollback.
//!
//! Flow: [`Eb::read_state`] -> [`plan::plan`] (pure) -> [`Eb::apply`] -> wait -> (rollback).
//! Invariants:
//! - Nothing mutating is sent before the plan is computed; configuration problems (missing
//!   service role, env var limits, no platform) are errors before any mutating call.
//! - Every step is idempotent: a version label that exists is reused, an object with the same
//!   SHA-256 is not uploaded again, an environment already on our version is only verified.
//! - Never an overlapping update: a busy environment is waited for (bounded) or refused.
//! - Every wait is bounded ([`Timeouts`]) and reports `Event::Waiting`; Elastic Beanstalk
//!   events since our request are relayed as `Event::Remote`.
//! - Success means Ready, Green, our version, and (when configured) HTTP 200 from the app.
//!   Ready with Red health is a failure.
// EbError::DeployFailed carries the failing events and the rollback outcome for the CLI;
// errors are rare and off the hot path, so their size does not matter.
#![allow(clippy::result_large_err)]

mod deploy;
mod diagnostic;
pub mod error;
mod info;
pub mod lb;
mod manage;
pub mod model;
pub mod plan;
mod read;
mod restore;
pub mod rollback;
mod tags;
mod wait;

use std::time::{Duration, SystemTime};

use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::types::ConfigurationOptionSetting;
use aws_smithy_types::DateTime;
use deploykit_aws::ErrorKind;
use serde::Serialize;

pub use error::{EbError, RollbackOutcome};
pub use info::{InfoKind, InstanceLogs};
pub use lb::SettingsUndo;
pub use model::*;
pub use plan::{EnvStep, Plan, Setting, VersionStep, plan};
pub use rollback::{Resume, describe_undo, poll_backoff, rollback_allowed};

/// Clock skew allowed when asking for "events since our request" by the local clock (only
/// when the service's answer carried no time of its own).
const EVENT_SKEW: Duration = Duration::from_secs(5);

/// When our request happened, by the service's clock: the environment's `DateUpdated` in the
/// answer to it (events of our request are stamped at or after it; `StartTime` is inclusive),
/// else our clock less [`EVENT_SKEW`]. Events are stamped by the service's clock, so a laptop
/// clock that runs behind would replay the previous deploy's events (after a failed deploy:
/// its errors, under the rollback) as ours, and one that runs ahead would drop ours.
fn request_time(server: Option<&DateTime>, local: SystemTime) -> SystemTime {
    match server.and_then(|d| SystemTime::try_from(*d).ok()) {
        Some(t) => t,
        None => local.checked_sub(EVENT_SKEW).unwrap_or(local),
    }
}
/// Consecutive failed HTTP checks on a Ready/Green environment before the deploy fails.
const HTTP_FAILURES_ALLOWED: u32 = 5;

/// Elastic Beanstalk (and S3, for bundles) clients for one region.
#[derive(Debug, Clone)]
pub struct Eb {
    pub eb: Client,
    pub s3: aws_sdk_s3::Client,
    pub upload: deploykit_s3::UploadOptions,
}

/// How a deploy behaves when things go wrong.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Redeploy the previous version when the deploy fails.
    pub rollback: bool,
    /// Wait (bounded) for a busy environment instead of refusing.
    pub wait_busy: bool,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            rollback: true,
            wait_busy: true,
        }
    }
}

/// What a successful deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployOutcome {
    pub application: String,
    pub environment: String,
    pub label: String,
    pub version_created: bool,
    /// `None` when the version existed and no upload was needed.
    pub upload: Option<deploykit_s3::UploadSummary>,
    pub environment_created: bool,
    pub environment_updated: bool,
    pub cname: Option<String>,
    /// The load balancer's DNS name when load-balanced (what the domain's alias points at).
    pub endpoint_url: Option<String>,
    pub url: Option<String>,
    pub previous_version: Option<String>,
    /// Time spent in our own code and API calls, outside waits on Elastic Beanstalk.
    #[serde(with = "millis")]
    pub tool_time: Duration,
    /// Time spent waiting for the environment.
    #[serde(with = "millis")]
    pub wait_time: Duration,
}

/// Why a wait did not end in success.
#[derive(Debug)]
enum WaitError {
    Failed { reason: String, events: Vec<String> },
    Timeout { last: String },
    Other(EbError),
}

/// Why a rollback did not happen or did not succeed (sentences for the report).
#[derive(Debug)]
enum RollError {
    /// The environment runs someone else's version: nothing was sent.
    Refused(String),
    Failed(String),
}

impl From<EbError> for WaitError {
    fn from(e: EbError) -> Self {
        WaitError::Other(e)
    }
}

impl Eb {
    /// Clients from a shared config. `force_path_style` for loopback S3 endpoints.
    pub fn new(sdk: &aws_types::SdkConfig, force_path_style: bool) -> Self {
        Self {
            eb: Client::new(sdk),
            s3: deploykit_s3::client(sdk, force_path_style),
            upload: deploykit_s3::UploadOptions::default(),
        }
    }
}

/// The version `rollback eb` picks without `--to`: the newest one older than `current`
/// (`versions` is newest first). A newer version than the running one is never picked: after
/// an automatic rollback, the newer one is the broken one.
pub fn rollback_candidate(versions: &[VersionInfo], current: &str) -> Option<String> {
    match versions.iter().position(|v| v.label == current) {
        Some(i) => versions.get(i + 1).map(|v| v.label.clone()),
        None => versions.first().map(|v| v.label.clone()),
    }
}

/// Labels `prune --keep N` deletes: all but the newest `keep`, never `deployed`.
pub fn prune_plan(versions: &[VersionInfo], keep: usize, deployed: Option<&str>) -> Vec<String> {
    versions
        .iter()
        .skip(keep)
        .filter(|v| Some(v.label.as_str()) != deployed)
        .map(|v| v.label.clone())
        .collect()
}

fn to_sdk(settings: &[Setting]) -> Vec<ConfigurationOptionSetting> {
    settings
        .iter()
        .map(|s| {
            ConfigurationOptionSetting::builder()
                .namespace(&s.namespace)
                .option_name(&s.name)
                .value(&s.value)
                .build()
        })
        .collect()
}

fn build_err(e: impl std::fmt::Display) -> deploykit_aws::Classified {
    deploykit_aws::Classified {
        kind: ErrorKind::Validation,
        code: None,
        message: Some(e.to_string()),
        request_id: None,
    }
}

/// What `rollback eb` did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackSummary {
    pub environment: String,
    pub from: String,
    pub to: String,
    /// Which option settings went back too (names only).
    pub restored: String,
    #[serde(with = "millis")]
    pub elapsed: Duration,
}

/// `eb status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub environment: EnvInfo,
    pub url: Option<String>,
    pub causes: Vec<String>,
}

/// One event for `eb events`.
#[derive(Debug, Clone, Serialize)]
pub struct EventLine {
    pub time: String,
    pub severity: String,
    pub message: String,
}

/// What `eb prune` did (or would do).
#[derive(Debug, Clone, Serialize)]
pub struct PruneSummary {
    pub deleted: Vec<String>,
    pub kept: usize,
    pub deployed: Option<String>,
    pub dry_run: bool,
}

/// What `eb env set/unset` changed (names only: values may be secret).
#[derive(Debug, Clone, Serialize)]
pub struct EnvChange {
    pub environment: String,
    pub set: Vec<String>,
    pub unset: Vec<String>,
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_clock_wins_over_ours() {
        let ours = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // The service's clock is an hour ahead of ours (or ours an hour behind).
        let theirs = DateTime::from_secs(1_000_000 + 3600);
        assert_eq!(
            request_time(Some(&theirs), ours),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_003_600)
        );
        // Without an answer from the service: our clock, less the allowed skew.
        assert_eq!(request_time(None, ours), ours - EVENT_SKEW);
    }

    fn v(label: &str) -> VersionInfo {
        VersionInfo {
            label: label.into(),
            description: None,
            created: None,
            status: None,
            bucket: None,
            key: None,
        }
    }

    #[test]
    fn prune_never_deletes_the_deployed_version() {
        let vs: Vec<VersionInfo> = ["v5", "v4", "v3", "v2", "v1"].map(v).to_vec();
        let cases: &[(usize, Option<&str>, &[&str])] = &[
            (2, Some("v5"), &["v3", "v2", "v1"]),
            (2, Some("v1"), &["v3", "v2"]),
            (0, Some("v3"), &["v5", "v4", "v2", "v1"]),
            (10, Some("v1"), &[]),
            (4, None, &["v1"]),
        ];
        for (keep, deployed, expect) in cases {
            assert_eq!(
                prune_plan(&vs, *keep, *deployed),
                expect.to_vec(),
                "keep {keep} deployed {deployed:?}"
            );
        }
    }

    #[test]
    fn rollback_picks_the_version_before_the_running_one() {
        let vs: Vec<VersionInfo> = ["v3", "v2", "v1"].map(v).to_vec();
        assert_eq!(rollback_candidate(&vs, "v3").as_deref(), Some("v2"));
        assert_eq!(rollback_candidate(&vs, "v2").as_deref(), Some("v1"));
        assert_eq!(rollback_candidate(&vs, "v1"), None);
        assert_eq!(rollback_candidate(&vs, "gone").as_deref(), Some("v3"));
    }
}
