//! `[alarms]`: the email, the routes watched, and each threshold in its range.

use serde_spanned::Spanned;

use super::{Ctx, span, val};
use crate::model::{AlarmRoute, Alarms, App, Database};
use crate::raw::{Opt, RawAlarms};
use crate::rules;

const ROUTES: &[&str] = &["eb", "apprunner"];
const HEALTH: &[(&str, f64)] = &[("warning", 15.0), ("degraded", 20.0), ("severe", 25.0)];

fn is_set(r: &RawAlarms) -> bool {
    r.email.is_some()
        || r.routes.is_some()
        || r.database.is_some()
        || r.cpu_percent.is_some()
        || r.http_5xx.is_some()
        || r.eb_health.is_some()
        || r.latency_ms.is_some()
        || r.db_cpu_percent.is_some()
        || r.db_free_storage_gb.is_some()
        || r.db_connections.is_some()
}

/// The first setting written, to locate a problem about a missing one.
fn first_span(r: &RawAlarms) -> Option<std::ops::Range<usize>> {
    [
        span(&r.routes),
        span(&r.database),
        span(&r.cpu_percent),
        span(&r.http_5xx),
        span(&r.eb_health),
        span(&r.latency_ms),
        span(&r.db_cpu_percent),
        span(&r.db_free_storage_gb),
        span(&r.db_connections),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|s| s.start)
}

/// A plain email address, as SNS's `email` protocol takes it.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.len() <= 254
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !"<>(),;:\"[]\\".contains(c))
}

/// `None` when the target has no `[alarms]` settings at all.
pub(crate) fn resolve_alarms(
    r: &RawAlarms,
    target: &str,
    app: &Spanned<App>,
    db: &Database,
    ctx: &mut Ctx<'_>,
) -> Option<Alarms> {
    if !is_set(r) {
        return None;
    }
    let email = match &r.email {
        Some(e) => {
            if !is_email(e.get_ref()) {
                ctx.err(
                    Some(e.span()),
                    "alarms.email",
                    format!("`{}` is not an email address", e.get_ref()),
                    "write one address such as `ops@example.com` (SNS mails it a confirmation link)",
                );
            }
            e.get_ref().clone()
        }
        None => {
            ctx.err(
                first_span(r),
                "alarms.email",
                "[alarms] has settings but no email to notify",
                "add `email = \"ops@example.com\"` under [alarms]",
            );
            String::new()
        }
    };
    // The topic is `<app>-<target>-alarms`: SNS allows 1-256 letters, digits, `-` and `_`.
    let topic = format!("{}-{target}-alarms", app.get_ref().name);
    if topic.len() > 256
        || !topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        ctx.err(
            span(&r.email),
            "alarms",
            format!("the alarm topic name `{topic}` is not an SNS topic name"),
            "name the target with letters, digits, `-` and `_` only",
        );
    }

    let routes = match &r.routes {
        None => vec![AlarmRoute::Eb],
        Some(list) => {
            let mut out = Vec::new();
            for item in list.get_ref() {
                match item.get_ref().as_str() {
                    "eb" => out.push(AlarmRoute::Eb),
                    "apprunner" => out.push(AlarmRoute::AppRunner),
                    other => {
                        let fix = match rules::suggest(other, ROUTES.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "use `eb` and/or `apprunner`".into(),
                        };
                        ctx.err(
                            Some(item.span()),
                            "alarms.routes",
                            format!("`{other}` is not a route alarms can watch"),
                            fix,
                        );
                    }
                }
            }
            out.dedup();
            out
        }
    };
    let database = val(&r.database).unwrap_or(true);
    if routes.is_empty() && !database {
        ctx.err(
            span(&r.routes).or_else(|| span(&r.database)),
            "alarms.routes",
            "[alarms] watches nothing: no routes and database = false",
            "list a route (`routes = [\"eb\"]`) or set `database = true`, or remove [alarms]",
        );
    }

    let mut number = |o: &Opt<f64>, field: &str, ok: &dyn Fn(f64) -> bool, range: &str| {
        o.as_ref().map(|v| {
            let x = *v.get_ref();
            if !x.is_finite() || !ok(x) {
                ctx.err(
                    Some(v.span()),
                    &format!("alarms.{field}"),
                    format!("{field} = {x} is out of range"),
                    format!("use {range}, or remove it for the default"),
                );
            }
            x
        })
    };
    let percent = |x: f64| x > 0.0 && x <= 100.0;
    let cpu_percent = number(
        &r.cpu_percent,
        "cpu_percent",
        &percent,
        "a percentage above 0 and at most 100",
    );
    let db_cpu_percent = number(
        &r.db_cpu_percent,
        "db_cpu_percent",
        &percent,
        "a percentage above 0 and at most 100",
    );
    let http_5xx = number(
        &r.http_5xx,
        "http_5xx",
        &|x| x >= 0.0,
        "a count of 0 or more (5xx responses in 5 minutes)",
    );
    let latency_ms = number(
        &r.latency_ms,
        "latency_ms",
        &|x| x > 0.0 && x <= 120_000.0,
        "milliseconds above 0 and at most 120000 (App Runner's request timeout)",
    );
    let db_connections = number(
        &r.db_connections,
        "db_connections",
        &|x| x >= 1.0,
        "a connection count of 1 or more",
    );
    let allocated = f64::from(db.allocated_storage_gb);
    let db_free_storage_gb = number(
        &r.db_free_storage_gb,
        "db_free_storage_gb",
        &|x| x > 0.0 && x < allocated,
        &format!("GiB above 0 and below [database] allocated_storage_gb ({allocated})"),
    );
    let eb_health = r.eb_health.as_ref().map(|h| {
        let s = h.get_ref().to_ascii_lowercase();
        match HEALTH.iter().find(|(n, _)| *n == s) {
            Some((_, v)) => *v,
            None => {
                ctx.err(
                    Some(h.span()),
                    "alarms.eb_health",
                    format!(
                        "`{}` is not an EB health status alarms can watch",
                        h.get_ref()
                    ),
                    "use `warning`, `degraded` (the default) or `severe`",
                );
                20.0
            }
        }
    });
    Some(Alarms {
        email,
        routes,
        database,
        cpu_percent,
        http_5xx,
        eb_health,
        latency_ms,
        db_cpu_percent,
        db_free_storage_gb,
        db_connections,
    })
}
