//! `[env]` and secrets: literal values vs secret references, and the Elastic Beanstalk limits.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_spanned::Spanned;

use super::{Ctx, EB_ENV_KEY_MAX, EB_ENV_TOTAL_MAX, EB_ENV_VALUE_MAX};
use crate::Problem;
use crate::model::*;
use crate::raw::*;

/// Whether a literal value in deploy.toml is a secret whatever its variable's name: the name
/// looks secret (`deploykit_secretrules::is_secret_name`, the one rule for names), the value
/// is a URL with a password, or it matches a content rule (an access key id, a private key, a
/// token in a known format).
pub(super) fn secret_literal(name: &str, value: &str) -> bool {
    deploykit_secretrules::is_secret_name(name)
        || deploykit_secretrules::url_has_password(value)
        || !deploykit_secretrules::scan_content(value.as_bytes()).is_empty()
}

/// The longest ARN a secret reference can have, without building one: a name gets the ARN
/// prefix (`arn:aws:secretsmanager:<region>:<12-digit account>:secret:`) and the 7 characters
/// (`-` and six) Secrets Manager appends; an ARN is its own length. The real ARN is read with
/// `DescribeSecret` at deploy time; this bounds it for the 4,096-byte check.
pub fn secret_arn_len_bound(secret: &str, region: &str) -> usize {
    if secret.starts_with("arn:") {
        secret.len()
    } else {
        const ACCOUNT_DIGITS: usize = 12;
        "arn:aws:secretsmanager:".len()
            + region.len()
            + 1
            + ACCOUNT_DIGITS
            + ":secret:".len()
            + secret.len()
            + 7
    }
}

pub(super) fn env_key_ok(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn secret_ref_ok(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(6, ':').collect();
        parts.len() == 6
            && parts[0].starts_with("aws")
            && parts[1] == "secretsmanager"
            && parts[4] == "secret"
            && !parts[5].is_empty()
    } else {
        (1..=512).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
    }
}

pub(super) fn resolve_env(
    target: &str,
    region: &str,
    env: &BTreeMap<String, Spanned<String>>,
    secrets: &BTreeMap<String, RawSecret>,
    ctx: &mut Ctx<'_>,
) -> (BTreeMap<String, String>, BTreeMap<String, SecretRef>) {
    let key_loc = |ctx: &Ctx<'_>, table: &str, k: &str, fallback: Range<usize>| {
        ctx.index
            .key_span(&format!("targets.{target}.{table}.{k}"))
            .or_else(|| ctx.index.key_span(&format!("{table}.{k}")))
            .unwrap_or(fallback)
    };
    for (k, v) in env {
        let loc = key_loc(ctx, "env", k, v.span());
        if !env_key_ok(k) {
            ctx.err(
                Some(loc.clone()),
                &format!("env.{k}"),
                format!("`{k}` is not a portable environment variable name"),
                "use letters, digits and `_`, starting with a letter or `_`",
            );
        }
        if k == "FLASK_ENV" {
            ctx.warn(
                Some(loc.clone()),
                &format!("env.{k}"),
                "FLASK_ENV was removed in Flask 2.3 and has no effect",
                "remove it; use FLASK_DEBUG=0 (the default) for production",
            );
        }
        let value = v.get_ref();
        if secrets.contains_key(k) {
            ctx.err(
                Some(loc),
                &format!("env.{k}"),
                format!("`{k}` is set both in [env] and in [secrets]"),
                "keep it in one place: [secrets] for credentials, [env] for plain settings",
            );
        } else if !value.is_empty() && secret_literal(k, value) {
            let name = k.to_ascii_lowercase().replace('_', "-").to_string();
            ctx.err(
                Some(v.span()),
                &format!("env.{k}"),
                format!("`{k}` looks like a secret but has a literal value in deploy.toml"),
                format!("move it to [secrets] as `{k} = {{ secret = \"<app>/{name}\" }}` and store the value in Secrets Manager (then rotate it: it has been committed)"),
            );
        }
    }
    let mut out_secrets = BTreeMap::new();
    for (k, s) in secrets {
        let loc = key_loc(ctx, "secrets", k, s.secret.span());
        if !env_key_ok(k) {
            ctx.err(
                Some(loc),
                &format!("secrets.{k}"),
                format!("`{k}` is not a portable environment variable name"),
                "use letters, digits and `_`, starting with a letter or `_`",
            );
        }
        if !secret_ref_ok(s.secret.get_ref()) {
            ctx.err(Some(s.secret.span()), &format!("secrets.{k}.secret"), format!("`{}` is not a Secrets Manager secret name or ARN", s.secret.get_ref()), "reference the secret, never its value: a name like `budgetsync/db-url` or `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`");
        }
        out_secrets.insert(
            k.clone(),
            SecretRef {
                secret: s.secret.get_ref().clone(),
            },
        );
    }

    let plain: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
        .collect();
    let mut all: BTreeMap<&str, (usize, usize)> = plain
        .iter()
        .map(|(k, v)| (k.as_str(), (v.chars().count(), v.len())))
        .collect();
    for (k, s) in &out_secrets {
        let n = secret_arn_len_bound(&s.secret, region);
        all.insert(k.as_str(), (n, n));
    }
    if let Err(problems) = check_eb_env_lengths(all) {
        for p in problems {
            let key = p.field.strip_prefix("env.").unwrap_or("");
            let sp = if key.is_empty() {
                ctx.index
                    .key_span(&format!("targets.{target}.env"))
                    .or_else(|| ctx.index.key_span("env"))
            } else if let Some(v) = env.get(key) {
                Some(v.span())
            } else {
                secrets.get(key).map(|s| s.secret.span())
            };
            ctx.err(
                sp,
                &p.field,
                format!("{} (target `{target}`)", p.message),
                p.fix,
            );
        }
    }
    (plain, out_secrets)
}

/// Elastic Beanstalk's environment property limits: keys <= 128 characters, values <= 256,
/// all `key=value` strings together <= 4,096 bytes. Returns every violation.
pub fn check_eb_env_limits(vars: &BTreeMap<String, String>) -> Result<(), Vec<Problem>> {
    check_eb_env_lengths(
        vars.iter()
            .map(|(k, v)| (k.as_str(), (v.chars().count(), v.len()))),
    )
}

/// [`check_eb_env_limits`] on each key's value length (characters, bytes).
pub(super) fn check_eb_env_lengths<'a>(
    vars: impl IntoIterator<Item = (&'a str, (usize, usize))>,
) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut total = 0usize;
    for (k, (v_chars, v_bytes)) in vars {
        total += k.len() + 1 + v_bytes;
        if k.chars().count() > EB_ENV_KEY_MAX {
            problems.push(Problem::new(
                format!("env.{k}"),
                format!("environment variable name is {} characters; Elastic Beanstalk allows {EB_ENV_KEY_MAX}", k.chars().count()),
                "shorten the name",
            ));
        }
        if v_chars > EB_ENV_VALUE_MAX {
            problems.push(Problem::new(
                format!("env.{k}"),
                format!(
                    "value of `{k}` is {v_chars} characters; Elastic Beanstalk allows {EB_ENV_VALUE_MAX}"
                ),
                "shorten it, or keep large values in S3 or Secrets Manager and pass a reference",
            ));
        }
    }
    if total > EB_ENV_TOTAL_MAX {
        problems.push(Problem::new(
            "env",
            format!("environment variables total {total} bytes as `key=value` (secret references counted as their longest ARN); Elastic Beanstalk allows {EB_ENV_TOTAL_MAX}"),
            format!("remove {} bytes: drop unused variables or group settings into one Secrets Manager secret", total - EB_ENV_TOTAL_MAX),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
