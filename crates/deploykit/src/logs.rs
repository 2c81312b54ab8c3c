//! The app's CloudWatch logs for a route: which log groups (EB's, App Runner's, ECS's), read
//! them (interleaved by time), follow them, and keep EB's retention as `[eb] log_retention_days`.

use std::future::Future;
use std::time::SystemTime;

use deploykit_config::ResolvedTarget;
use deploykit_logs::LogsError;
pub use deploykit_logs::{
    Fetched, FollowOptions, FollowSummary, LogLine, RetentionPlan, StopReason, format_time,
};
use deploykit_report::{Event, Reporter};

use crate::{Result, Route, Session};

pub use deploykit_eb::{InfoKind, InstanceLogs};

/// The EB instances' own logs, without log streaming (`RequestEnvironmentInfo`): the last
/// lines of each main log (`Tail`) or the whole `/var/log` as a zip (`Bundle`), one entry per
/// instance. Waits (bounded by `wait`) for the instances to put them in S3.
pub async fn eb_instance_logs(
    s: &Session,
    kind: InfoKind,
    wait: deploykit_report::WaitOptions,
    r: &dyn Reporter,
) -> Result<Vec<InstanceLogs>> {
    let t = &s.target;
    let eb = deploykit_eb::Eb::new(&s.sdk, t.local || t.endpoint_url.is_some());
    let target = crate::mapping::eb_target(t, s.resolve);
    Ok(eb.instance_logs(&target, kind, wait, r).await?)
}

/// The log group prefixes of `route` on target `t`: a prefix ending in `/` is a folder of
/// groups; otherwise it is one group (and the groups under it). `Route::All`: every route's.
pub fn group_prefixes(t: &ResolvedTarget, route: Route) -> Vec<String> {
    let eb = || format!("/aws/elasticbeanstalk/{}/", t.eb.environment);
    let apprunner = || format!("/aws/apprunner/{}/", t.apprunner.service);
    // ECS Express (and the local cloud's emulator) writes a service's tasks to this group.
    let ecs = || format!("/aws/ecs/default/{}", t.ecs.service);
    match route {
        Route::Eb => vec![eb()],
        Route::Apprunner => vec![apprunner()],
        Route::Ecs => vec![ecs()],
        Route::All => vec![eb(), apprunner(), ecs()],
    }
}

/// A route's log groups on a session's target, found by prefix.
#[derive(Debug)]
pub struct AppLogs {
    /// The groups read, sorted.
    pub groups: Vec<String>,
    /// `[eb] log_retention_days`, for the EB groups.
    eb_retention_days: u32,
    eb_prefix: String,
    client: deploykit_logs::Client,
}

impl AppLogs {
    /// The route's log groups as they exist now; none at all is an input error whose help says
    /// the app has not logged yet or log streaming is off.
    pub async fn for_session(s: &Session, route: Route) -> Result<AppLogs> {
        let client = deploykit_logs::client(&s.sdk);
        let mut groups = Vec::new();
        let mut missing = None;
        for prefix in group_prefixes(&s.target, route) {
            match deploykit_logs::discover(&client, &prefix).await {
                Ok(mut g) => groups.append(&mut g),
                Err(e @ LogsError::NoGroups { .. }) => missing = missing.or(Some(e)),
                Err(e) => return Err(e.into()),
            }
        }
        if groups.is_empty() {
            return Err(missing
                .unwrap_or(LogsError::NoGroups {
                    prefix: String::new(),
                })
                .into());
        }
        Ok(AppLogs {
            groups,
            eb_retention_days: s.target.eb.log_retention_days,
            eb_prefix: group_prefixes(&s.target, Route::Eb).remove(0),
            client,
        })
    }

    /// Lines since `since` (a CloudWatch filter pattern `filter`), oldest first, at most `max`.
    pub async fn fetch(
        &self,
        since: SystemTime,
        filter: Option<&str>,
        max: usize,
    ) -> Result<Fetched> {
        Ok(deploykit_logs::fetch(&self.client, &self.groups, since, filter, max).await?)
    }

    /// Hands each new line to `on_line` until the options' deadline or `cancel`.
    pub async fn follow(
        &self,
        opts: &FollowOptions,
        cancel: impl Future<Output = ()>,
        on_line: impl FnMut(LogLine),
    ) -> Result<FollowSummary> {
        Ok(deploykit_logs::follow(&self.client, &self.groups, opts, cancel, on_line).await?)
    }

    /// Sets each EB group's retention to `[eb] log_retention_days` where it differs.
    pub async fn ensure_eb_retention(&self, r: &dyn Reporter) -> Result<Vec<RetentionPlan>> {
        let mut plans = Vec::new();
        for group in self
            .groups
            .iter()
            .filter(|g| g.starts_with(&self.eb_prefix))
        {
            let plan =
                deploykit_logs::set_retention(&self.client, group, self.eb_retention_days).await?;
            r.report(Event::info(if plan.changes() {
                format!("{group}: retention set to {} days", plan.desired)
            } else {
                format!("{group}: retention already {} days", plan.desired)
            }));
            plans.push(plan);
        }
        Ok(plans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_reads_its_own_groups() {
        let text = r#"
default_target = "prod"

[app]
name = "shop"
path = "app"

[targets.prod]
region = "eu-west-1"

[eb]
environment = "shop-prod"

[apprunner]
service = "shop-web"

[ecs]
service = "shop-ecs"
"#;
        let cfg = deploykit_config::parse(text, std::path::Path::new("deploy.toml")).unwrap();
        let t = cfg.target(Some("prod")).unwrap();
        assert_eq!(
            group_prefixes(&t, Route::Eb),
            ["/aws/elasticbeanstalk/shop-prod/"]
        );
        assert_eq!(
            group_prefixes(&t, Route::Apprunner),
            ["/aws/apprunner/shop-web/"]
        );
        assert_eq!(
            group_prefixes(&t, Route::Ecs),
            ["/aws/ecs/default/shop-ecs"]
        );
        assert_eq!(group_prefixes(&t, Route::All).len(), 3);
    }
}
