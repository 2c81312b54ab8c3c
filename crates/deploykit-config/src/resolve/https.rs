//! `[https]`: the certificate's domain and other names, the zone of their validation records,
//! the bound on waiting for ISSUED.

use std::collections::BTreeSet;
use std::time::Duration;

use super::fields::duration;
use super::{Ctx, span};
use crate::model::{HostedZone, Https};
use crate::raw::RawHttps;
use crate::rules;

/// Default bound on waiting for the certificate to be ISSUED.
pub const DEFAULT_HTTPS_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// ACM's default quota: 10 names per certificate, the domain included.
const MAX_NAMES: usize = 10;

fn norm(s: &str) -> String {
    s.trim_end_matches('.').to_ascii_lowercase()
}

/// `None` when the target has no `[https]` settings at all.
pub(super) fn resolve_https(r: &RawHttps, ctx: &mut Ctx<'_>) -> Option<Https> {
    if r.domain.is_none()
        && r.alternative_names.is_none()
        && r.hosted_zone.is_none()
        && r.timeout.is_none()
    {
        return None;
    }
    let domain = match &r.domain {
        Some(d) => {
            if let Err(why) = rules::domain_name(d.get_ref()) {
                ctx.err(
                    Some(d.span()),
                    "https.domain",
                    why,
                    "write the name users will type, e.g. `domain = \"app.example.com\"`",
                );
            }
            norm(d.get_ref())
        }
        None => {
            let first = [
                span(&r.alternative_names),
                span(&r.hosted_zone),
                span(&r.timeout),
            ]
            .into_iter()
            .flatten()
            .min_by_key(|s| s.start);
            ctx.err(
                first,
                "https.domain",
                "[https] has settings but no domain",
                "add `domain = \"app.example.com\"` under [https] (the name the certificate is for)",
            );
            String::new()
        }
    };

    let mut seen = BTreeSet::from([domain.clone()]);
    let mut alternative_names = Vec::new();
    if let Some(names) = &r.alternative_names {
        for n in names.get_ref() {
            let v = norm(n.get_ref());
            if let Err(why) = rules::domain_name(n.get_ref()) {
                ctx.err(
                    Some(n.span()),
                    "https.alternative_names",
                    why,
                    "list other names the certificate covers, e.g. `[\"www.app.example.com\"]`",
                );
            } else if !seen.insert(v.clone()) {
                ctx.err(
                    Some(n.span()),
                    "https.alternative_names",
                    format!("`{v}` is listed twice (the domain counts as one of the names)"),
                    "remove the repeated name",
                );
            } else {
                alternative_names.push(v);
            }
        }
        if names.get_ref().len() + 1 > MAX_NAMES {
            ctx.err(
                Some(names.span()),
                "https.alternative_names",
                format!(
                    "{} names with the domain; an ACM certificate holds at most {MAX_NAMES} by default",
                    names.get_ref().len() + 1
                ),
                "list at most 9 alternative names (or use a wildcard like `*.example.com`)",
            );
        }
    }

    let hosted_zone = match &r.hosted_zone {
        None => HostedZone::Auto,
        Some(z) => {
            let v = z.get_ref().trim();
            if v == "auto" {
                HostedZone::Auto
            } else {
                if let Err(e) = rules::hosted_zone_id(v) {
                    ctx.err(
                        Some(z.span()),
                        "https.hosted_zone",
                        if v.contains('.') {
                            format!("`{v}` looks like a zone name; hosted_zone takes a zone id or `auto`")
                        } else {
                            e
                        },
                        "use `auto` (the public zone with the longest name the domain ends with) or the zone's id, like `Z0123456789ABCDEFGHIJ`",
                    );
                }
                HostedZone::Id(v.trim_start_matches("/hostedzone/").to_owned())
            }
        }
    };
    let timeout = duration(ctx, &r.timeout, "https.timeout", DEFAULT_HTTPS_TIMEOUT);
    Some(Https {
        domain,
        alternative_names,
        hosted_zone,
        timeout,
    })
}
