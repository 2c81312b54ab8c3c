//! Reading log lines: discover groups, fetch (interleaved by time, bounded), follow (polling).

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use deploykit_aws::classify;
use serde::Serialize;

use crate::{Client, LogsError, Result};

/// At most this many pages per group and fetch: FilterLogEvents may return empty pages with a
/// next token while it scans, so the page count is bounded as well as the line count.
const MAX_PAGES: usize = 100;
/// How far before the newest line seen a follow poll reads again, for events that reach
/// CloudWatch after newer ones (deduplicated by event id).
const LOOKBACK_MS: i64 = 10_000;
/// The bounds of a follow's poll interval.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// When the app logged it (the event's timestamp), as RFC 3339 in JSON.
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    pub group: String,
    pub stream: String,
    pub message: String,
    /// CloudWatch's event id (unique per event); follow deduplicates on it.
    pub id: String,
}

impl LogLine {
    /// The time as RFC 3339 (UTC, milliseconds).
    pub fn time_rfc3339(&self) -> String {
        format_time(self.time)
    }

    fn from_event(group: &str, e: &FilteredLogEvent) -> LogLine {
        let ms = e.timestamp().unwrap_or_default();
        let stream = e.log_stream_name().unwrap_or_default().to_string();
        let message = e
            .message()
            .unwrap_or_default()
            .trim_end_matches(['\r', '\n'])
            .to_string();
        let id = e
            .event_id()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{group}\u{0}{stream}\u{0}{ms}\u{0}{message}"));
        LogLine {
            time: from_ms(ms),
            group: group.to_string(),
            stream,
            message,
            id,
        }
    }
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// `t` as RFC 3339 in UTC with milliseconds (`2026-12-02T02:10:00.000Z`).
pub fn format_time(t: SystemTime) -> String {
    let ms = to_ms(t);
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// Milliseconds since the epoch (CloudWatch's timestamps); before the epoch is 0.
pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// What one fetch read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fetched {
    /// All groups' lines, oldest first.
    pub lines: Vec<LogLine>,
    /// The line or page bound stopped the read before the end: there are more lines.
    pub truncated: bool,
}

/// The log groups whose names start with `prefix`, sorted. A prefix ending in `/` is a folder
/// (`/aws/elasticbeanstalk/env/`); otherwise it names a group and the groups under it
/// (`/aws/ecs/default/svc` matches itself and `/aws/ecs/default/svc/...`, not `svc-2`).
/// No group at all is [`LogsError::NoGroups`].
pub async fn discover(client: &Client, prefix: &str) -> Result<Vec<String>> {
    let mut groups = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let out = client
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| LogsError::aws("DescribeLogGroups", prefix, classify(&e)))?;
        groups.extend(
            out.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name())
                .filter(|name| under(prefix, name))
                .map(str::to_string),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    groups.sort();
    groups.dedup();
    if groups.is_empty() {
        return Err(LogsError::NoGroups {
            prefix: prefix.to_string(),
        });
    }
    Ok(groups)
}

fn under(prefix: &str, name: &str) -> bool {
    if prefix.ends_with('/') {
        name.starts_with(prefix)
    } else {
        name == prefix
            || name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The lines of `groups` since `since` (matching the CloudWatch filter pattern `filter`),
/// interleaved by time, at most `max` of them (the oldest first: FilterLogEvents reads forward).
pub async fn fetch(
    client: &Client,
    groups: &[String],
    since: SystemTime,
    filter: Option<&str>,
    max: usize,
) -> Result<Fetched> {
    let mut lines = Vec::new();
    let mut truncated = false;
    for group in groups {
        let (mut got, cut) = fetch_group(client, group, to_ms(since), filter, max).await?;
        truncated |= cut;
        lines.append(&mut got);
    }
    let lines = merge_by_time(lines);
    if lines.len() > max {
        truncated = true;
    }
    Ok(Fetched {
        lines: lines.into_iter().take(max).collect(),
        truncated,
    })
}

/// One group's lines from `start_ms`, paginated until `max` lines or [`MAX_PAGES`] pages.
async fn fetch_group(
    client: &Client,
    group: &str,
    start_ms: i64,
    filter: Option<&str>,
    max: usize,
) -> Result<(Vec<LogLine>, bool)> {
    let mut lines = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        if lines.len() >= max {
            return Ok((lines, true));
        }
        let limit = i32::try_from((max - lines.len()).min(10_000)).unwrap_or(10_000);
        let out = client
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .set_filter_pattern(filter.map(str::to_string))
            .limit(limit)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| LogsError::aws("FilterLogEvents", group, classify(&e)))?;
        lines.extend(out.events().iter().map(|e| LogLine::from_event(group, e)));
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok((lines, false)),
        }
    }
    Ok((lines, true))
}

/// Lines of several groups and streams in one timeline: by time, then group, stream, id.
pub fn merge_by_time(mut lines: Vec<LogLine>) -> Vec<LogLine> {
    lines.sort_by(|a, b| {
        (a.time, &a.group, &a.stream, &a.id).cmp(&(b.time, &b.group, &b.stream, &b.id))
    });
    lines
}

/// How a follow polls.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Lines from this time on (the first poll prints what is already there since then).
    pub since: SystemTime,
    /// A CloudWatch filter pattern.
    pub filter: Option<String>,
    /// Between polls; clamped to 100 ms ..= 60 s. Default 2 s.
    pub interval: Duration,
    /// Stop at this instant; `None`: only the cancel future stops it.
    pub deadline: Option<tokio::time::Instant>,
    /// The line bound of each poll's fetch.
    pub max_lines_per_poll: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            since: SystemTime::now(),
            filter: None,
            interval: Duration::from_secs(2),
            deadline: None,
            max_lines_per_poll: 1_000,
        }
    }
}

/// Why a follow stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Deadline,
    Cancelled,
}

/// What a follow did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowSummary {
    pub lines: usize,
    pub polls: usize,
    pub stopped: StopReason,
}

/// Polls `groups` and hands each new line to `on_line` once (deduplicated by event id), oldest
/// first per poll, until the deadline passes or `cancel` completes.
pub async fn follow<C, F>(
    client: &Client,
    groups: &[String],
    opts: &FollowOptions,
    cancel: C,
    mut on_line: F,
) -> Result<FollowSummary>
where
    C: Future<Output = ()>,
    F: FnMut(LogLine),
{
    let interval = opts.interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
    let since_ms = to_ms(opts.since);
    let mut cursor = since_ms;
    let mut newest = since_ms;
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut summary = FollowSummary {
        lines: 0,
        polls: 0,
        stopped: StopReason::Deadline,
    };
    let cancel = std::pin::pin!(cancel);
    let mut cancel = cancel;
    loop {
        let stop = |reason| {
            let mut s = summary.clone();
            s.stopped = reason;
            s
        };
        if opts
            .deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
        {
            return Ok(stop(StopReason::Deadline));
        }
        let poll = async {
            let mut lines = Vec::new();
            for group in groups {
                let (mut got, _) = fetch_group(
                    client,
                    group,
                    cursor,
                    opts.filter.as_deref(),
                    opts.max_lines_per_poll,
                )
                .await?;
                lines.append(&mut got);
            }
            Ok::<_, LogsError>(merge_by_time(lines))
        };
        let lines = tokio::select! {
            r = poll => r?,
            () = &mut cancel => return Ok(stop(StopReason::Cancelled)),
        };
        summary.polls += 1;
        for line in lines {
            let ms = to_ms(line.time);
            if seen.insert(line.id.clone(), ms).is_none() {
                newest = newest.max(ms);
                summary.lines += 1;
                on_line(line);
            }
        }
        cursor = since_ms.max(newest - LOOKBACK_MS);
        seen.retain(|_, ms| *ms >= cursor);
        let wake = tokio::time::Instant::now() + interval;
        let wake = opts.deadline.map_or(wake, |d| wake.min(d));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = &mut cancel => {
                let mut s = summary.clone();
                s.stopped = StopReason::Cancelled;
                return Ok(s);
            }
        }
    }
}
