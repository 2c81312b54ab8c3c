//! `[targets.<name>.eb]`: the Elastic Beanstalk application, environment and options.

use std::time::Duration;

use serde_spanned::Spanned;

use super::fields::{duration, iam_name_or_arn, named};
use super::{Ctx, DEPLOYMENT_POLICIES, LOG_RETENTION_DAYS, quote_list, val};
use crate::model::*;
use crate::raw::*;
use crate::rules;

pub(super) fn resolve_eb(target: &str, r: &RawEb, app: &Spanned<App>, ctx: &mut Ctx<'_>) -> Eb {
    let a = &app.get_ref().name;
    let application = named(
        ctx,
        &r.application,
        "eb.application",
        a.clone(),
        app,
        rules::eb_application_name,
    );
    let environment = named(
        ctx,
        &r.environment,
        "eb.environment",
        format!("{a}-{target}"),
        app,
        rules::eb_environment_name,
    );
    let instance_type = val(&r.instance_type).unwrap_or_else(|| "t3.micro".to_owned());
    if let Some(s) = &r.instance_type
        && !is_instance_type(s.get_ref())
    {
        ctx.err(
            Some(s.span()),
            "eb.instance_type",
            format!("`{}` is not an EC2 instance type", s.get_ref()),
            "write it like `t3.micro`",
        );
    }
    if let Some(b) = &r.bucket
        && let Err(why) = rules::s3_bucket_name(b.get_ref())
    {
        ctx.err(Some(b.span()), "eb.bucket", why, "use 3-63 lowercase letters, digits and hyphens, e.g. `budgetsync-deploy-123456789012`, or remove it to use the EB storage bucket");
    }
    iam_name_or_arn(ctx, &r.service_role, "eb.service_role", "role");
    iam_name_or_arn(
        ctx,
        &r.instance_profile,
        "eb.instance_profile",
        "instance-profile",
    );
    let deployment_policy = match &r.deployment_policy {
        None => DeploymentPolicy::AllAtOnce,
        Some(p) => match DEPLOYMENT_POLICIES.iter().find(|(n, _)| n == p.get_ref()) {
            Some((_, v)) => *v,
            None => {
                let names: Vec<&str> = DEPLOYMENT_POLICIES.iter().map(|(n, _)| *n).collect();
                let fix = match rules::suggest(p.get_ref(), names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of {}", quote_list(&names)),
                };
                ctx.err(
                    Some(p.span()),
                    "eb.deployment_policy",
                    format!("unknown deployment policy `{}`", p.get_ref()),
                    fix,
                );
                DeploymentPolicy::AllAtOnce
            }
        },
    };
    let log_retention_days = val(&r.log_retention_days).unwrap_or(7);
    if let Some(d) = &r.log_retention_days
        && !LOG_RETENTION_DAYS.contains(d.get_ref())
    {
        let near = LOG_RETENTION_DAYS
            .iter()
            .min_by_key(|v| v.abs_diff(*d.get_ref()))
            .copied()
            .unwrap_or(7);
        ctx.err(
            Some(d.span()),
            "eb.log_retention_days",
            format!(
                "CloudWatch Logs does not accept a retention of {} days",
                d.get_ref()
            ),
            format!("use an allowed value such as {near} (allowed: {LOG_RETENTION_DAYS:?})"),
        );
    }
    let keep_versions = val(&r.keep_versions).unwrap_or(50);
    if let Some(k) = &r.keep_versions
        && !(1..=1000).contains(k.get_ref())
    {
        ctx.err(Some(k.span()), "eb.keep_versions", format!("keep_versions must be 1-1000 (EB allows 1,000 application versions per region), got {}", k.get_ref()), "use a value like 50");
    }
    Eb {
        application,
        environment,
        instance_type,
        platform: val(&r.platform).filter(|p| !p.is_empty()),
        service_role: val(&r.service_role),
        instance_profile: val(&r.instance_profile),
        bucket: val(&r.bucket),
        deployment_policy,
        enhanced_health: val(&r.enhanced_health).unwrap_or(true),
        log_streaming: val(&r.log_streaming).unwrap_or(true),
        log_retention_days,
        keep_versions,
        timeout: duration(ctx, &r.timeout, "eb.timeout", Duration::from_secs(20 * 60)),
        health_check: val(&r.health_check).unwrap_or(true),
    }
}

pub(super) fn is_instance_type(s: &str) -> bool {
    let Some((family, size)) = s.split_once('.') else {
        return false;
    };
    !family.is_empty()
        && !size.is_empty()
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && size
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}
