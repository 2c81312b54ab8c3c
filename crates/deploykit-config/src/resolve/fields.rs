//! Field checks shared by the platforms: derived names, durations, IAM names and ARNs.

use std::time::Duration;

use serde_spanned::Spanned;

use super::Ctx;
use super::app::slug;
use crate::model::*;
use crate::raw::*;
use crate::rules;

/// A string field with a default derived from the app name; the rule runs on either.
pub(super) fn named(
    ctx: &mut Ctx<'_>,
    v: &Opt<String>,
    field: &str,
    default: String,
    app: &Spanned<App>,
    rule: fn(&str) -> Result<(), String>,
) -> String {
    let (value, sp, derived) = match v {
        Some(s) => (s.get_ref().clone(), Some(s.span()), false),
        None => (default, Some(app.span()).filter(|r| !r.is_empty()), true),
    };
    if let Err(why) = rule(&value) {
        if derived {
            ctx.err(
                sp,
                "app.name",
                format!("{field} defaults to `{value}`, derived from app.name, and {why}"),
                format!("set `{field}` explicitly to a valid name"),
            );
        } else {
            ctx.err(
                sp,
                field,
                why,
                format!("rename it; e.g. `{}`", slug(&value)),
            );
        }
    }
    value
}

pub(super) fn duration(
    ctx: &mut Ctx<'_>,
    v: &Opt<String>,
    field: &str,
    default: Duration,
) -> Duration {
    match v {
        None => default,
        Some(s) => match rules::duration(s.get_ref()) {
            Ok(d) if d > Duration::from_secs(24 * 3600) => {
                ctx.err(
                    Some(s.span()),
                    field,
                    format!("`{}` is longer than 24h", s.get_ref()),
                    "use a bound of at most `24h`",
                );
                default
            }
            Ok(d) => d,
            Err(why) => {
                ctx.err(
                    Some(s.span()),
                    field,
                    why,
                    "write it like `90s`, `20m` or `1h30m`",
                );
                default
            }
        },
    }
}

pub(super) fn iam_name_or_arn(ctx: &mut Ctx<'_>, v: &Opt<String>, field: &str, kind: &str) {
    let Some(s) = v else { return };
    let x = s.get_ref();
    let ok = if let Some(rest) = x.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        parts.len() == 5
            && parts[0].starts_with("aws")
            && parts[1] == "iam"
            && parts[3].len() == 12
            && parts[3].chars().all(|c| c.is_ascii_digit())
            && parts[4].starts_with(&format!("{kind}/"))
    } else {
        (1..=64).contains(&x.len())
            && x.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    if !ok {
        ctx.err(Some(s.span()), field, format!("`{x}` is not an IAM {kind} name or ARN"), format!("write a {kind} name like `aws-elasticbeanstalk-ec2-role` or an ARN like `arn:aws:iam::123456789012:{kind}/NAME`"));
    }
}

/// An IAM role name (not an ARN: the account's ARN is read from IAM), or `default`.
pub(super) fn role_name(
    ctx: &mut Ctx<'_>,
    v: &Opt<String>,
    field: &str,
    default: String,
) -> String {
    let Some(s) = v else {
        if !rules::iam_role_name(&default) {
            ctx.err(
                None,
                field,
                format!("{field} defaults to `{default}`, which is not a valid IAM role name (1-64 letters, digits and +=,.@_-)"),
                format!("set `{field}` to a shorter role name"),
            );
        }
        return default;
    };
    let x = s.get_ref();
    if x.starts_with("arn:") {
        let name = x.rsplit('/').next().unwrap_or("NAME");
        ctx.err(
            Some(s.span()),
            field,
            format!("`{x}` is an ARN; {field} is the role's name (its ARN is read from IAM, in the account the credentials belong to)"),
            format!("write `{}`", name),
        );
    } else if !rules::iam_role_name(x) {
        ctx.err(
            Some(s.span()),
            field,
            format!("`{x}` is not an IAM role name (1-64 letters, digits and +=,.@_-)"),
            "write a role name like `budgetsync-apprunner-ecr-access`",
        );
    }
    x.clone()
}
