//! CloudWatch Logs for an app: find its log groups by prefix, read lines interleaved by time
//! (paginated, bounded), follow by polling (bounded interval, deduplicated, stops on a deadline
//! or a cancel future), and set a group's retention as a plan (only when it differs).
//!
//! ```text
//! discover(client, "/aws/elasticbeanstalk/env/") -> groups
//! fetch(client, &groups, since, filter, max) -> Fetched { lines (by time), truncated }
//! follow(client, &groups, &FollowOptions, cancel, |line| ...) -> FollowSummary
//! plan_retention(group, current, days) -> RetentionPlan; set_retention(client, group, days)
//! ```
//!
//! Nothing here prints; lines go to the caller's callback, progress to a `Reporter`.

mod error;
mod read;
mod retention;

pub use error::LogsError;
pub use read::{
    Fetched, FollowOptions, FollowSummary, LogLine, StopReason, discover, fetch, follow,
    format_time, merge_by_time,
};
pub use retention::{RETENTION_DAYS, RetentionPlan, plan_retention, set_retention};

pub use aws_sdk_cloudwatchlogs::Client;

/// A CloudWatch Logs client for an SDK config (its endpoint, region and credentials).
pub fn client(sdk: &aws_types::SdkConfig) -> Client {
    Client::new(sdk)
}

pub type Result<T, E = LogsError> = std::result::Result<T, E>;
