//! `[targets.<name>.eb]`: the Elastic Beanstalk application, environment and options.

use std::time::Duration;

use serde_spanned::Spanned;

use super::fields::{duration, iam_name_or_arn, named};
use super::{Ctx, DEPLOYMENT_POLICIES, LOG_RETENTION_DAYS, quote_list, val};
use crate::model::*;
use crate::raw::*;
use crate::rules;

/// `https_domain`: the target has an `[https] domain` (the default `[eb] domain`).
pub(super) fn resolve_eb(
    target: &str,
    r: &RawEb,
    app: &Spanned<App>,
    https_domain: bool,
    ctx: &mut Ctx<'_>,
) -> Eb {
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
    let lb = load_balancing(r, https_domain, ctx);
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
        load_balanced: lb.load_balanced,
        domain: lb.domain,
        hosted_zone: lb.hosted_zone,
        certificate_arn: lb.certificate_arn,
        ssl_policy: lb.ssl_policy,
        min_instances: lb.min_instances,
        max_instances: lb.max_instances,
    }
}

struct LbFields {
    load_balanced: bool,
    domain: Option<String>,
    hosted_zone: Option<HostedZone>,
    certificate_arn: Option<String>,
    ssl_policy: Option<String>,
    min_instances: u32,
    max_instances: u32,
}

/// `load_balanced`, `domain`, `hosted_zone`, `certificate_arn`, `ssl_policy` and the
/// instance bounds; a load-balanced environment without a domain or certificate is refused.
fn load_balancing(r: &RawEb, https_domain: bool, ctx: &mut Ctx<'_>) -> LbFields {
    let load_balanced = val(&r.load_balanced).unwrap_or(false);
    let domain = r.domain.as_ref().map(|d| {
        if let Err(e) = rules::domain_name(d.get_ref()) {
            ctx.err(
                Some(d.span()),
                "eb.domain",
                e,
                "write the name users will type, e.g. `domain = \"app.example.com\"`",
            );
        }
        d.get_ref().trim_end_matches('.').to_ascii_lowercase()
    });
    let hosted_zone = r.hosted_zone.as_ref().map(|z| {
        let v = z.get_ref().trim();
        if v == "auto" {
            return HostedZone::Auto;
        }
        if let Err(e) = rules::hosted_zone_id(v) {
            ctx.err(
                Some(z.span()),
                "eb.hosted_zone",
                e,
                "use `auto` or the zone's id, like `Z0123456789ABCDEFGHIJ`",
            );
        }
        HostedZone::Id(v.trim_start_matches("/hostedzone/").to_owned())
    });
    if let (Some(z), None, false) = (&r.hosted_zone, &domain, https_domain) {
        ctx.err(
            Some(z.span()),
            "eb.hosted_zone",
            "hosted_zone is set but there is no `domain` to write a record for",
            "add `domain = \"app.example.com\"` to the [eb] section, or remove hosted_zone",
        );
    }
    if let Some(c) = &r.certificate_arn {
        let v = c.get_ref();
        let parts: Vec<&str> = v.splitn(6, ':').collect();
        let ok = matches!(parts.as_slice(), ["arn", p, "acm", region, account, res]
            if p.starts_with("aws") && !region.is_empty() && account.len() == 12 && res.starts_with("certificate/"));
        if !ok {
            ctx.err(Some(c.span()), "eb.certificate_arn", format!("`{v}` is not an ACM certificate ARN"), "use the ARN `aws acm list-certificates` shows, like `arn:aws:acm:REGION:ACCOUNT:certificate/ID`, or remove it to use the ISSUED certificate of `domain`");
        }
    }
    let min_instances = val(&r.min_instances).unwrap_or(1);
    let max_instances = val(&r.max_instances).unwrap_or(min_instances.max(2));
    if !(1..=10000).contains(&min_instances)
        || min_instances > max_instances
        || max_instances > 10000
    {
        let span = r
            .min_instances
            .as_ref()
            .or(r.max_instances.as_ref())
            .map(|s| s.span());
        ctx.err(span, "eb.min_instances", format!("min_instances {min_instances} and max_instances {max_instances} must satisfy 1 <= min <= max <= 10000"), "e.g. `min_instances = 1` and `max_instances = 2`");
    }
    if load_balanced && domain.is_none() && r.certificate_arn.is_none() && !https_domain {
        let span = r.load_balanced.as_ref().map(|s| s.span());
        ctx.err(span, "eb.load_balanced", "load_balanced = true needs an HTTPS certificate, and neither the [eb] section (`domain`, `certificate_arn`) nor an [https] section names one", "add `domain = \"app.example.com\"` (its ISSUED ACM certificate in the target's region is used; the [https] section's domain is the default) or `certificate_arn = \"arn:aws:acm:...\"`, or set `load_balanced = false`");
    }
    LbFields {
        load_balanced,
        domain,
        hosted_zone,
        certificate_arn: val(&r.certificate_arn),
        ssl_policy: val(&r.ssl_policy).filter(|p| !p.is_empty()),
        min_instances,
        max_instances,
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
