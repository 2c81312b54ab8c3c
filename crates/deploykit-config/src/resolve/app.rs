//! The `[app]` table and each target: name, region, platform choice and the shared fields.

use std::net::SocketAddr;
use std::path::Path;

use serde_spanned::Spanned;

use super::containers::{resolve_apprunner, resolve_ecs, resolve_platform};
use super::database::resolve_database;
use super::eb::resolve_eb;
use super::env::resolve_env;
use super::{Ctx, alarms, s3, span, val};
use crate::model::*;
use crate::raw::*;
use crate::rules;

pub(super) fn resolve_app(
    raw: Option<&RawApp>,
    base_dir: &Path,
    ctx: &mut Ctx<'_>,
) -> Spanned<App> {
    let empty = RawApp::default();
    let raw = raw.unwrap_or(&empty);
    let name = match &raw.name {
        Some(n) => {
            let s = n.get_ref();
            let ok = (1..=40).contains(&s.len())
                && s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !s.ends_with('-')
                && !s.contains("--");
            if !ok {
                ctx.err(
                    Some(n.span()),
                    "app.name",
                    format!("app name `{s}` must be 1-40 lowercase letters, digits and single hyphens, starting with a letter (it is the default for AWS resource names)"),
                    format!("use something like `{}`", slug(s)),
                );
            }
            s.clone()
        }
        None => {
            ctx.err(
                None,
                "app.name",
                "missing app name",
                "add `[app]` with `name = \"budgetsync\"`",
            );
            "app".to_owned()
        }
    };
    let path = val(&raw.path).unwrap_or_else(|| "examples/budgetsync".to_owned());
    if path.trim().is_empty() {
        ctx.err(
            span(&raw.path),
            "app.path",
            "app path is empty",
            "set it to the app directory, e.g. `examples/budgetsync`",
        );
    }
    let health_path = val(&raw.health_path).unwrap_or_else(|| "/healthz".to_owned());
    check_http_path(ctx, &raw.health_path, "app.health_path");
    let port = val(&raw.port).unwrap_or(8000);
    if port == 0 {
        ctx.err(
            span(&raw.port),
            "app.port",
            "port 0 is not a listening port",
            "use the port the app listens on, e.g. 8000",
        );
    }
    let app = App {
        name,
        path: base_dir.join(path),
        health_path,
        port,
    };
    Spanned::new(raw.name.as_ref().map_or(0..0, Spanned::span), app)
}

pub(super) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "my-app".to_owned()
    } else {
        out
    }
}

pub(super) fn check_http_path(ctx: &mut Ctx<'_>, v: &Opt<String>, field: &str) {
    if let Some(p) = v
        && (!p.get_ref().starts_with('/') || p.get_ref().contains(char::is_whitespace))
    {
        ctx.err(
            Some(p.span()),
            field,
            format!(
                "health path `{}` must start with `/` and contain no spaces",
                p.get_ref()
            ),
            "write an absolute URL path like `/healthz`",
        );
    }
}

pub(super) fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Host of an `http(s)://host[:port][/path]` URL, or why it is not one.
pub(super) fn url_host(u: &str) -> Result<&str, String> {
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .ok_or_else(|| format!("`{u}` is not an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.is_empty() {
        return Err(format!("`{u}` has no host"));
    }
    Ok(host)
}

pub(super) fn resolve_target(
    name: &str,
    t: &RawTarget,
    raw: &RawConfig,
    app: &Spanned<App>,
    base_dir: &Path,
    ctx: &mut Ctx<'_>,
) -> Option<ResolvedTarget> {
    let before = ctx.problems.len();
    let tpath = format!("targets.{name}");
    let key_span = ctx.index.key_span(&tpath);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        ctx.err(
            key_span.clone(),
            &tpath,
            format!("target name `{name}` must be lowercase letters, digits, `-` or `_`"),
            format!("rename it, e.g. [targets.{}]", slug(name)),
        );
    }
    let local = val(&t.local).unwrap_or(false);

    let region = match &t.region {
        Some(r) => {
            if let Err(why) = rules::region(r.get_ref()) {
                let fix = match rules::suggest(r.get_ref(), rules::KNOWN_REGIONS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "use a region code such as `us-east-1` or `eu-west-1`".to_owned(),
                };
                ctx.err(Some(r.span()), &format!("{tpath}.region"), why, fix);
            }
            r.get_ref().clone()
        }
        None => {
            ctx.err(
                key_span.clone(),
                &format!("{tpath}.region"),
                format!("target `{name}` has no region"),
                format!("add `region = \"us-east-1\"` under [targets.{name}]"),
            );
            String::new()
        }
    };

    if let Some(e) = &t.endpoint_url {
        match url_host(e.get_ref()) {
            Err(why) => ctx.err(Some(e.span()), &format!("{tpath}.endpoint_url"), why, "write a full URL like `http://127.0.0.1:4566`"),
            Ok(host) if local && !is_loopback_host(host) => ctx.err(
                Some(e.span()),
                &format!("{tpath}.endpoint_url"),
                format!("target `{name}` is local (dummy credentials) but its endpoint host `{host}` is not a loopback address"),
                "point it at the local cloud on 127.0.0.1 / localhost, or set `local = false` to use real credentials",
            ),
            Ok(host) if !local && is_loopback_host(host) => ctx.warn(
                Some(e.span()),
                &format!("{tpath}.endpoint_url"),
                format!("target `{name}` uses real AWS credentials but its endpoint `{}` is on this machine", e.get_ref()),
                "set `local = true` if this is the local cloud",
            ),
            Ok(_) => {}
        }
    }
    if local {
        if let Some(p) = &t.profile {
            ctx.warn(
                Some(p.span()),
                &format!("{tpath}.profile"),
                format!(
                    "profile `{}` is ignored: target `{name}` is local and uses dummy credentials",
                    p.get_ref()
                ),
                "remove `profile`, or set `local = false`",
            );
        }
    } else if let Some(p) = &t.profile
        && p.get_ref().trim().is_empty()
    {
        ctx.err(
            Some(p.span()),
            &format!("{tpath}.profile"),
            "profile is empty",
            "remove it to use the default credential chain, or name a profile from ~/.aws/config",
        );
    }

    let http_resolve =
        t.http_resolve
            .as_ref()
            .and_then(|h| match h.get_ref().parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    ctx.err(
                        Some(h.span()),
                        &format!("{tpath}.http_resolve"),
                        format!("`{}` is not an IP:PORT address", h.get_ref()),
                        "write it like `127.0.0.1:4566`",
                    );
                    None
                }
            });
    if let Some(a) = &t.account_id {
        let s = a.get_ref();
        if s.len() != 12 || !s.chars().all(|c| c.is_ascii_digit()) {
            ctx.err(
                Some(a.span()),
                &format!("{tpath}.account_id"),
                format!("account id `{s}` must be exactly 12 digits"),
                "copy it from `aws sts get-caller-identity` (quote it to keep leading zeros)",
            );
        }
    }

    let app_v = app.get_ref();
    let https_domain = raw.https.merged(&t.https).domain.is_some();
    let eb = resolve_eb(name, &raw.eb.merged(&t.eb), app, https_domain, ctx);
    let apprunner = resolve_apprunner(&raw.apprunner.merged(&t.apprunner), app, ctx);
    let platform = resolve_platform(&raw.containers.merged(&t.containers), ctx);
    let ecs = resolve_ecs(&raw.ecs.merged(&t.ecs), &apprunner, ctx);
    let database = resolve_database(name, &raw.database.merged(&t.database), app, base_dir, ctx);

    let mut env_raw = raw.env.clone();
    env_raw.extend(t.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut secrets_raw = raw.secrets.clone();
    secrets_raw.extend(t.secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
    let (env, secrets) = resolve_env(name, &region, &env_raw, &secrets_raw, ctx);
    let s3 = s3::resolve_s3(&raw.s3.merged(&t.s3), app, ctx);
    s3::check_env(s3.as_ref(), &env, &raw.s3.merged(&t.s3), ctx);
    let https = super::https::resolve_https(&raw.https.merged(&t.https), ctx);
    let alarms = alarms::resolve_alarms(&raw.alarms.merged(&t.alarms), name, app, &database, ctx);

    if ctx.problems.len() > before {
        return None;
    }
    Some(ResolvedTarget {
        name: name.to_owned(),
        region,
        profile: val(&t.profile),
        endpoint_url: val(&t.endpoint_url),
        local,
        http_resolve,
        account_id: val(&t.account_id),
        app: app_v.clone(),
        eb,
        apprunner,
        platform,
        ecs,
        database,
        s3,
        https,
        alarms,
        env,
        secrets,
    })
}
