//! `cargo xtask logs eb | apprunner | ecs [--follow] [--since 1h] [--filter TEXT] [--max N]`:
//! the app's CloudWatch log lines, all streams interleaved by time.

use std::time::{Duration, SystemTime};

use deploykit::Route;
use deploykit::logs::{AppLogs, FollowOptions, LogLine};
use deploykit_report::{Event, Reporter};

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogsRoute {
    /// Elastic Beanstalk: `/aws/elasticbeanstalk/<[eb] environment>/...` (log streaming on).
    Eb,
    /// App Runner: `/aws/apprunner/<[apprunner] service>/...`.
    Apprunner,
    /// ECS Express: `/aws/ecs/default/<[ecs] service>`.
    Ecs,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Whose logs.
    #[arg(value_enum)]
    pub route: LogsRoute,
    /// Keep printing new lines (polling) until Ctrl-C or --timeout.
    #[arg(long)]
    pub follow: bool,
    /// Lines from this long ago on (`90s`, `20m`, `1h30m`).
    #[arg(long, default_value = "1h", value_parser = crate::cmd_deploy::parse_duration)]
    pub since: Duration,
    /// A CloudWatch Logs filter pattern (plain text matches lines containing all its terms).
    #[arg(long)]
    pub filter: Option<String>,
    /// At most this many lines (per poll with --follow).
    #[arg(long, default_value_t = 1000)]
    pub max: usize,
    /// How often --follow polls (100ms .. 60s).
    #[arg(long, default_value = "2s", value_parser = crate::cmd_deploy::parse_duration)]
    pub interval: Duration,
    /// Stop following after this long.
    #[arg(long, value_parser = crate::cmd_deploy::parse_duration)]
    pub timeout: Option<Duration>,
}

fn text(l: &LogLine) -> String {
    format!(
        "{} {}/{} {}",
        l.time_rfc3339(),
        l.group,
        l.stream,
        l.message
    )
}

pub fn run(args: LogsArgs, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let route = match args.route {
        LogsRoute::Eb => Route::Eb,
        LogsRoute::Apprunner => Route::Apprunner,
        LogsRoute::Ecs => Route::Ecs,
    };
    crate::runtime().block_on(async {
        let session = crate::session::session(global, r).await?;
        let lib = |e| crate::session::lib_err(e, Some(&session.target.name));
        let logs = AppLogs::for_session(&session, route).await.map_err(lib)?;
        let since = SystemTime::now()
            .checked_sub(args.since)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if !args.follow {
            let got = logs
                .fetch(since, args.filter.as_deref(), args.max)
                .await
                .map_err(lib)?;
            for line in &got.lines {
                r.result(line, || text(line));
            }
            if got.truncated {
                r.report(Event::warn(format!(
                    "showing the first {} lines since then; there are more: narrow --since or --filter, or raise --max",
                    got.lines.len()
                )));
            }
            return Ok(Exit::Success);
        }
        r.report(Event::info(format!(
            "following {} (every {:?}); Ctrl-C stops",
            logs.groups.join(", "),
            args.interval
        )));
        let opts = FollowOptions {
            since,
            filter: args.filter.clone(),
            interval: args.interval,
            deadline: args.timeout.map(|t| tokio::time::Instant::now() + t),
            max_lines_per_poll: args.max,
        };
        let cancel = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        logs.follow(&opts, cancel, |line| r.result(&line, || text(&line)))
            .await
            .map_err(lib)?;
        Ok(Exit::Success)
    })
}
