//! `[s3]`: the app's bucket and static files. A child of `resolve` (it uses its `Ctx`).

use std::collections::BTreeMap;

use serde_spanned::Spanned;

use super::{Ctx, span, val};
use crate::model::{App, S3, S3Cors};
use crate::raw::{RawCors, RawS3};
use crate::rules;

const CORS_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];

/// Default Cache-Control of static files whose name carries no content hash.
pub const DEFAULT_STATIC_CACHE_CONTROL: &str = "public, max-age=300";

fn is_set(r: &RawS3) -> bool {
    r.bucket.is_some()
        || r.cors.is_some()
        || r.uploads_prefix.is_some()
        || r.uploads_expire_days.is_some()
        || r.uploads_abort_multipart_days.is_some()
        || r.static_dir.is_some()
        || r.static_prefix.is_some()
        || r.static_cache_control.is_some()
        || r.kms_key.is_some()
}

/// `None` when the target has no `[s3]` settings at all.
pub(crate) fn resolve_s3(r: &RawS3, app: &Spanned<App>, ctx: &mut Ctx<'_>) -> Option<S3> {
    if !is_set(r) {
        return None;
    }
    let bucket = match &r.bucket {
        Some(b) => {
            if let Err(why) = rules::s3_bucket_name(b.get_ref()) {
                ctx.err(
                    Some(b.span()),
                    "s3.bucket",
                    why,
                    "use 3-63 lowercase letters, digits and hyphens, made unique, e.g. `budgetsync-uploads-123456789012`",
                );
            }
            b.get_ref().clone()
        }
        None => {
            let first = [
                span(&r.cors),
                span(&r.uploads_prefix),
                span(&r.uploads_expire_days),
                span(&r.uploads_abort_multipart_days),
                span(&r.static_dir),
                span(&r.static_prefix),
                span(&r.static_cache_control),
                span(&r.kms_key),
            ]
            .into_iter()
            .flatten()
            .min_by_key(|s| s.start);
            ctx.err(
                first,
                "s3.bucket",
                "[s3] has settings but no bucket",
                "add `bucket = \"<app>-uploads-<unique suffix>\"` under [s3] (bucket names are global)",
            );
            String::new()
        }
    };

    let cors = r.cors.as_ref().map(|c| {
        c.get_ref()
            .iter()
            .map(|rule| resolve_cors(rule, c.span(), ctx))
            .collect()
    });

    let uploads_prefix = r.uploads_prefix.as_ref().map(|p| {
        let s = p.get_ref();
        if s.is_empty() || s.starts_with('/') || s.contains("//") {
            ctx.err(
                Some(p.span()),
                "s3.uploads_prefix",
                format!("uploads prefix `{s}` must be non-empty, without a leading `/` or `//`"),
                "write it like `receipts/`",
            );
        }
        s.clone()
    });
    for (d, field) in [
        (&r.uploads_expire_days, "s3.uploads_expire_days"),
        (
            &r.uploads_abort_multipart_days,
            "s3.uploads_abort_multipart_days",
        ),
    ] {
        if let Some(v) = d {
            if *v.get_ref() == 0 {
                ctx.err(
                    Some(v.span()),
                    field,
                    "0 days is not a lifecycle period",
                    "use 1 or more days, or remove it",
                );
            }
            if uploads_prefix.is_none() {
                ctx.err(
                    Some(v.span()),
                    field,
                    format!("{field} needs s3.uploads_prefix: the lifecycle rule applies to that prefix only"),
                    "add `uploads_prefix = \"receipts/\"` (the prefix the app writes uploads under)",
                );
            }
        }
    }
    if let Some(p) = &r.uploads_prefix
        && r.uploads_expire_days.is_none()
        && r.uploads_abort_multipart_days.is_none()
    {
        ctx.err(
            Some(p.span()),
            "s3.uploads_prefix",
            "uploads_prefix is set but no lifecycle period is",
            "add `uploads_expire_days = N` and/or `uploads_abort_multipart_days = 7`, or remove uploads_prefix",
        );
    }

    let static_prefix = match &r.static_prefix {
        None => "static/".to_owned(),
        Some(p) => {
            let s = p.get_ref().trim_matches('/');
            if s.contains("//") || s.contains('\\') {
                ctx.err(
                    Some(p.span()),
                    "s3.static_prefix",
                    format!("static prefix `{}` is not a key prefix", p.get_ref()),
                    "write it like `static/`",
                );
            }
            if s.is_empty() {
                String::new()
            } else {
                format!("{s}/")
            }
        }
    };
    if let Some(up) = &uploads_prefix
        && (up.starts_with(&static_prefix) || static_prefix.starts_with(up.as_str()))
    {
        ctx.err(
            span(&r.static_prefix).or_else(|| span(&r.uploads_prefix)),
            "s3.static_prefix",
            format!("static prefix `{static_prefix}` overlaps uploads prefix `{up}`: a sync with delete would remove uploads"),
            "give static files and uploads separate prefixes, e.g. `static/` and `receipts/`",
        );
    }

    let static_dir = match &r.static_dir {
        None => app.get_ref().path.join("static"),
        Some(d) => {
            if d.get_ref().trim().is_empty() {
                ctx.err(
                    Some(d.span()),
                    "s3.static_dir",
                    "static_dir is empty",
                    "set it to the app's static folder relative to the app's path, e.g. `app/static`, or remove it for `static`",
                );
            }
            app.get_ref().path.join(d.get_ref())
        }
    };

    let static_cache_control = match &r.static_cache_control {
        None => DEFAULT_STATIC_CACHE_CONTROL.to_owned(),
        Some(c) => {
            let s = c.get_ref();
            if s.trim().is_empty() || !s.chars().all(|ch| ch.is_ascii_graphic() || ch == ' ') {
                ctx.err(
                    Some(c.span()),
                    "s3.static_cache_control",
                    format!("`{s}` is not a Cache-Control header value"),
                    format!("write it like `{DEFAULT_STATIC_CACHE_CONTROL}`"),
                );
            }
            s.clone()
        }
    };

    let kms_key = r.kms_key.as_ref().map(|k| {
        let s = k.get_ref();
        let ok = s.starts_with("alias/") && s.len() > 6
            || s.starts_with("arn:") && s.contains(":kms:")
            || is_key_id(s);
        if !ok {
            ctx.err(
                Some(k.span()),
                "s3.kms_key",
                format!("`{s}` is not a KMS key id, key ARN or alias"),
                "write `alias/budgetsync`, a key id like `1234abcd-12ab-34cd-56ef-1234567890ab`, or the key's ARN; remove it for SSE-S3",
            );
        }
        s.clone()
    });

    Some(S3 {
        bucket,
        cors,
        uploads_prefix,
        uploads_expire_days: val(&r.uploads_expire_days),
        uploads_abort_multipart_days: val(&r.uploads_abort_multipart_days),
        static_dir,
        static_prefix,
        static_cache_control,
        kms_key,
    })
}

/// A KMS key id: a UUID, or `mrk-` and 32 hex digits (a multi-Region key).
fn is_key_id(s: &str) -> bool {
    let hex = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_hexdigit());
    if let Some(rest) = s.strip_prefix("mrk-") {
        return rest.len() == 32 && hex(rest);
    }
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| hex(p))
}

fn resolve_cors(r: &RawCors, table: std::ops::Range<usize>, ctx: &mut Ctx<'_>) -> S3Cors {
    if r.allowed_origins.is_empty() {
        ctx.err(
            Some(table.clone()),
            "s3.cors.allowed_origins",
            "a CORS rule needs at least one allowed origin",
            "add `allowed_origins = [\"https://app.example.com\"]`",
        );
    }
    for o in &r.allowed_origins {
        let s = o.get_ref();
        let ok = s == "*"
            || (s.starts_with("https://") || s.starts_with("http://"))
                && !s.ends_with('/')
                && s.matches('*').count() <= 1;
        if !ok {
            ctx.err(
                Some(o.span()),
                "s3.cors.allowed_origins",
                format!("`{s}` is not a CORS origin"),
                "write a scheme and host without a path, like `https://app.example.com` (one `*` at most), or `*`",
            );
        }
    }
    if r.allowed_methods.is_empty() {
        ctx.err(
            Some(table),
            "s3.cors.allowed_methods",
            "a CORS rule needs at least one allowed method",
            "add `allowed_methods = [\"GET\"]`",
        );
    }
    for m in &r.allowed_methods {
        if !CORS_METHODS.contains(&m.get_ref().as_str()) {
            let fix = match rules::suggest(
                &m.get_ref().to_ascii_uppercase(),
                CORS_METHODS.iter().copied(),
            ) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("use {}", CORS_METHODS.join(", ")),
            };
            ctx.err(
                Some(m.span()),
                "s3.cors.allowed_methods",
                format!("`{}` is not a method S3 CORS allows", m.get_ref()),
                fix,
            );
        }
    }
    if let Some(a) = &r.max_age_seconds
        && i32::try_from(*a.get_ref()).is_err()
    {
        ctx.err(
            Some(a.span()),
            "s3.cors.max_age_seconds",
            "max_age_seconds is too large",
            "use a number of seconds such as 3000",
        );
    }
    let strings = |v: &[Spanned<String>]| v.iter().map(|s| s.get_ref().clone()).collect();
    S3Cors {
        allowed_origins: strings(&r.allowed_origins),
        allowed_methods: strings(&r.allowed_methods),
        allowed_headers: strings(&r.allowed_headers),
        expose_headers: strings(&r.expose_headers),
        max_age_seconds: val(&r.max_age_seconds),
    }
}

/// Warns when the app's `S3_BUCKET` is not the `[s3]` bucket: the app would upload elsewhere.
pub(crate) fn check_env(
    s3: Option<&S3>,
    env: &BTreeMap<String, String>,
    raw: &RawS3,
    ctx: &mut Ctx<'_>,
) {
    if let (Some(s3), Some(app_bucket)) = (s3, env.get("S3_BUCKET"))
        && app_bucket != &s3.bucket
    {
        ctx.warn(
            span(&raw.bucket),
            "s3.bucket",
            format!(
                "the app's S3_BUCKET is `{app_bucket}` but [s3] bucket is `{}`: uploads would go to a bucket deploykit does not manage",
                s3.bucket
            ),
            "make them the same bucket (set S3_BUCKET in [env], per target if needed)",
        );
    }
}
