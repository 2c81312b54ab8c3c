//! `cargo xtask logs eb | apprunner | ecs [--follow] [--since 1h] [--filter TEXT] [--max N]`:
//! the app's CloudWatch log lines, all streams interleaved by time; `logs eb --tail | --bundle`:
//! the instances' own logs through Elastic Beanstalk, without log streaming.

use std::time::{Duration, SystemTime};

use deploykit::Route;
use deploykit::logs::{AppLogs, FollowOptions, InfoKind, LogLine};
use deploykit_report::{Event, Reporter};

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

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
    /// Stop following after this long (with --tail/--bundle: how long to wait for the
    /// instances, default 5m).
    #[arg(long, value_parser = crate::cmd_deploy::parse_duration)]
    pub timeout: Option<Duration>,
    /// eb only, no log streaming needed: ask each instance for the last lines of its logs.
    #[arg(long, conflicts_with_all = ["follow", "bundle", "filter"])]
    pub tail: bool,
    /// eb only, no log streaming needed: download each instance's /var/log as a zip
    /// (into --out, default target/deploykit/logs).
    #[arg(long, conflicts_with_all = ["follow", "tail", "filter"])]
    pub bundle: bool,
    /// Where --bundle writes the zips.
    #[arg(long, requires = "bundle")]
    pub out: Option<std::path::PathBuf>,
}

/// What `--tail` printed or `--bundle` wrote, per instance.
#[derive(Debug, serde::Serialize)]
struct InstanceOut {
    instance_id: String,
    sampled_at: Option<String>,
    /// `--tail`: the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// `--bundle`: the zip written.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<std::path::PathBuf>,
    bytes: usize,
}

/// `logs eb --tail | --bundle`: the instances' own logs through Elastic Beanstalk.
async fn instance_logs(args: &LogsArgs, session: &deploykit::Session, r: &Renderer) -> CliResult {
    let lib = |e| crate::session::lib_err(e, Some(&session.target.name));
    let kind = if args.bundle {
        InfoKind::Bundle
    } else {
        InfoKind::Tail
    };
    let wait = deploykit_report::WaitOptions {
        poll: Duration::from_secs(if session.target.local { 1 } else { 5 }),
        timeout: args.timeout.unwrap_or(Duration::from_secs(300)),
    };
    let got = deploykit::logs::eb_instance_logs(session, kind, wait, r)
        .await
        .map_err(lib)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| session.root.join("target/deploykit/logs"));
    for i in got {
        let mut out = InstanceOut {
            instance_id: i.instance_id.clone(),
            sampled_at: i.sampled_at.clone(),
            text: None,
            file: None,
            bytes: i.content.len(),
        };
        match kind {
            InfoKind::Tail => out.text = Some(String::from_utf8_lossy(&i.content).into_owned()),
            InfoKind::Bundle => {
                let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
                let file = dir.join(format!(
                    "{}-{}-{stamp}.zip",
                    session.target.eb.environment, i.instance_id
                ));
                std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&file, &i.content))
                    .map_err(|e| {
                        CliError::new(Exit::Failure, format!("writing {}: {e}", file.display()))
                            .with_hint("pass --out DIR with a directory you can write")
                    })?;
                out.file = Some(file);
            }
        }
        r.result(&out, || match (&out.text, &out.file) {
            (Some(text), _) => format!("== {} ==\n{}", out.instance_id, text.trim_end()),
            (_, Some(file)) => format!(
                "{}: {} ({} bytes)",
                out.instance_id,
                file.display(),
                out.bytes
            ),
            _ => String::new(),
        });
    }
    Ok(Exit::Success)
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
    if (args.tail || args.bundle) && route != Route::Eb {
        return Err(CliError::new(
            Exit::Config,
            "--tail and --bundle read Elastic Beanstalk instances' logs: they work with `logs eb` only",
        )
        .with_hint("read App Runner and ECS logs from CloudWatch: drop --tail/--bundle"));
    }
    crate::runtime().block_on(async {
        let session = crate::session::session(global, r).await?;
        if args.tail || args.bundle {
            return instance_logs(&args, &session, r).await;
        }
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
