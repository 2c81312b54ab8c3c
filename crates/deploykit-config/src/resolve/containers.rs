//! The container platforms: `[containers]`, `[ecs]` and `[apprunner]` with its networking ids.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_spanned::Spanned;

use super::app::check_http_path;
use super::env::secret_literal;
use super::fields::{duration, named, role_name};
use super::{CPU_MEMORY, Ctx, quote_list, span, val};
use crate::model::*;
use crate::raw::*;
use crate::rules;

pub(super) fn resolve_platform(r: &RawContainers, ctx: &mut Ctx<'_>) -> ContainerPlatformKind {
    match r.platform.as_ref().map(|p| (p, p.get_ref().as_str())) {
        None | Some((_, "apprunner")) => ContainerPlatformKind::AppRunner,
        Some((_, "ecs-express")) => ContainerPlatformKind::EcsExpress,
        Some((p, other)) => {
            ctx.err(
                Some(p.span()),
                "containers.platform",
                format!("`{other}` is not a container platform"),
                "use \"apprunner\" or \"ecs-express\" (ECS Express Mode, for accounts App Runner no longer accepts)",
            );
            ContainerPlatformKind::AppRunner
        }
    }
}

/// Fargate's CPU units and the memory (MiB) each allows.
pub(super) fn fargate_memory_ok(cpu: u32, mem: u32) -> bool {
    match cpu {
        256 => [512, 1024, 2048].contains(&mem),
        512 => (1024..=4096).contains(&mem) && mem.is_multiple_of(1024),
        1024 => (2048..=8192).contains(&mem) && mem.is_multiple_of(1024),
        2048 => (4096..=16384).contains(&mem) && mem.is_multiple_of(1024),
        4096 => (8192..=30720).contains(&mem) && mem.is_multiple_of(1024),
        8192 => (16384..=61440).contains(&mem) && mem.is_multiple_of(4096),
        16384 => (32768..=122880).contains(&mem) && mem.is_multiple_of(8192),
        _ => false,
    }
}

pub(super) fn resolve_ecs(r: &RawEcs, ar: &AppRunner, ctx: &mut Ctx<'_>) -> Ecs {
    let service = match &r.service {
        Some(s) => {
            let v = s.get_ref();
            let ok = !v.is_empty()
                && v.len() <= 255
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                ctx.err(
                    Some(s.span()),
                    "ecs.service",
                    format!("`{v}` is not an ECS service name"),
                    "use 1-255 letters, digits, '-' and '_'",
                );
            }
            v.clone()
        }
        None => ar.service.clone(),
    };
    let cpu = val(&r.cpu).unwrap_or_else(|| "1024".to_owned());
    let memory = val(&r.memory).unwrap_or_else(|| "2048".to_owned());
    match (cpu.parse::<u32>(), memory.parse::<u32>()) {
        (Ok(c), Ok(m)) if fargate_memory_ok(c, m) => {}
        (Ok(c), Ok(_)) if fargate_memory_ok(c, 2 * c) || c == 256 => ctx.err(
            span(&r.memory).or_else(|| span(&r.cpu)),
            "ecs.memory",
            format!("Fargate does not offer {memory} MiB with {cpu} CPU units"),
            "see the Fargate task size table; e.g. cpu = \"1024\" takes memory \"2048\" to \"8192\" in 1024 steps",
        ),
        _ => ctx.err(
            span(&r.cpu).or_else(|| span(&r.memory)),
            "ecs.cpu",
            format!("`{cpu}` CPU / `{memory}` memory are not Fargate task sizes"),
            "use CPU units \"256\", \"512\", \"1024\", \"2048\", \"4096\", \"8192\" or \"16384\" and memory in MiB, e.g. cpu = \"1024\", memory = \"2048\"",
        ),
    }
    let port = val(&r.port).unwrap_or(ar.port);
    if port == 0 {
        ctx.err(
            span(&r.port),
            "ecs.port",
            "port 0 is not a listening port",
            "use the container's port, e.g. 8080",
        );
    }
    check_http_path(ctx, &r.health_path, "ecs.health_path");
    let min_tasks = val(&r.min_tasks).unwrap_or(1);
    let max_tasks = val(&r.max_tasks).unwrap_or(min_tasks.max(1));
    if max_tasks < min_tasks || max_tasks == 0 {
        ctx.err(
            span(&r.max_tasks).or_else(|| span(&r.min_tasks)),
            "ecs.max_tasks",
            format!("max_tasks must be at least min_tasks ({min_tasks}) and 1, got {max_tasks}"),
            format!("use a value of {} or more", min_tasks.max(1)),
        );
    }
    let execution_role = role_name(
        ctx,
        &r.execution_role,
        "ecs.execution_role",
        format!("{service}-ecs-execution"),
    );
    let infrastructure_role = role_name(
        ctx,
        &r.infrastructure_role,
        "ecs.infrastructure_role",
        format!("{service}-ecs-infrastructure"),
    );
    let task_role = r
        .task_role
        .as_ref()
        .map(|_| role_name(ctx, &r.task_role, "ecs.task_role", String::new()));
    Ecs {
        service,
        cpu,
        memory,
        port,
        health_path: val(&r.health_path).unwrap_or_else(|| ar.health_path.clone()),
        min_tasks,
        max_tasks,
        execution_role,
        infrastructure_role,
        task_role,
        timeout: duration(ctx, &r.timeout, "ecs.timeout", ar.timeout),
    }
}

pub(super) fn resolve_apprunner(
    r: &RawAppRunner,
    app: &Spanned<App>,
    ctx: &mut Ctx<'_>,
) -> AppRunner {
    let a = &app.get_ref().name;
    let service = named(
        ctx,
        &r.service,
        "apprunner.service",
        a.clone(),
        app,
        rules::apprunner_service_name,
    );
    let repository = named(
        ctx,
        &r.repository,
        "apprunner.repository",
        a.clone(),
        app,
        rules::ecr_repository_name,
    );
    if let Some(old) = &r.access_role_arn {
        ctx.err(
            Some(old.span()),
            "apprunner.access_role_arn",
            "`access_role_arn` was renamed to `access_role`: the role's name; its ARN is read from IAM",
            "write `access_role = \"NAME\"` (e.g. the role name at the end of the ARN), or remove it for the default `<service>-apprunner-ecr-access`",
        );
    }
    let access_role = role_name(
        ctx,
        &r.access_role,
        "apprunner.access_role",
        format!("{service}-apprunner-ecr-access"),
    );
    let instance_role = role_name(
        ctx,
        &r.instance_role,
        "apprunner.instance_role",
        format!("{service}-apprunner-instance"),
    );
    let port = val(&r.port).unwrap_or(8080);
    if port == 0 {
        ctx.err(
            span(&r.port),
            "apprunner.port",
            "port 0 is not a listening port",
            "use the container's port, e.g. 8080",
        );
    }
    let cpu = val(&r.cpu).unwrap_or_else(|| "1 vCPU".to_owned());
    let memory = val(&r.memory).unwrap_or_else(|| "2 GB".to_owned());
    match CPU_MEMORY.iter().find(|(c, _)| *c == cpu) {
        None => {
            let names: Vec<&str> = CPU_MEMORY.iter().map(|(c, _)| *c).collect();
            ctx.err(
                span(&r.cpu),
                "apprunner.cpu",
                format!("`{cpu}` is not an App Runner CPU size"),
                format!("use one of {}", quote_list(&names)),
            );
        }
        Some((_, mems)) if !mems.contains(&memory.as_str()) => {
            let sp = span(&r.memory).or_else(|| span(&r.cpu));
            ctx.err(
                sp,
                "apprunner.memory",
                format!("App Runner does not offer {memory} with {cpu}"),
                format!("with {cpu} use one of {}", quote_list(mems)),
            );
        }
        Some(_) => {}
    }
    check_http_path(ctx, &r.health_path, "apprunner.health_path");
    let min_size = val(&r.min_size).unwrap_or(1);
    let max_size = val(&r.max_size).unwrap_or(min_size.max(1));
    if !(1..=25).contains(&min_size) {
        ctx.err(
            span(&r.min_size),
            "apprunner.min_size",
            format!("min_size must be 1-25, got {min_size}"),
            "use 1 (App Runner always keeps one provisioned instance)",
        );
    }
    if max_size < min_size || max_size > 25 {
        ctx.err(
            span(&r.max_size).or_else(|| span(&r.min_size)),
            "apprunner.max_size",
            format!("max_size must be between min_size ({min_size}) and 25, got {max_size}"),
            format!("use a value from {min_size} to 25"),
        );
    }
    let vpc_connector = r.vpc_connector.as_ref().map(|v| {
        let v = v.get_ref();
        check_ids(ctx, &v.subnets, "apprunner.vpc_connector.subnets", "subnet-");
        check_ids(ctx, &v.security_groups, "apprunner.vpc_connector.security_groups", "sg-");
        if v.subnets.is_empty() {
            ctx.err(span(&r.vpc_connector), "apprunner.vpc_connector.subnets", "a VPC connector needs at least one subnet", "list the private subnets that can reach the database, e.g. `subnets = [\"subnet-0abc...\"]`");
        }
        VpcConnector {
            subnets: v.subnets.iter().map(|s| s.get_ref().clone()).collect(),
            security_groups: v.security_groups.iter().map(|s| s.get_ref().clone()).collect(),
        }
    });
    let tag_mutability = match r
        .tag_mutability
        .as_ref()
        .map(|s| (s.get_ref().as_str(), s.span()))
    {
        None | Some(("IMMUTABLE", _)) => TagMutability::Immutable,
        Some(("MUTABLE", _)) => TagMutability::Mutable,
        Some((other, sp)) => {
            ctx.err(
                Some(sp),
                "apprunner.tag_mutability",
                format!("unknown tag mutability `{other}`"),
                "use `IMMUTABLE` (recommended: tags are content hashes) or `MUTABLE`",
            );
            TagMutability::Immutable
        }
    };
    let keep_images = val(&r.keep_images).unwrap_or(20);
    if let Some(k) = &r.keep_images
        && !(1..=10_000).contains(k.get_ref())
    {
        ctx.err(
            Some(k.span()),
            "apprunner.keep_images",
            format!("keep_images must be 1-10000, got {}", k.get_ref()),
            "use a value like 20",
        );
    }
    let platform = val(&r.platform).unwrap_or_else(|| "linux/amd64".to_owned());
    if !["linux/amd64", "linux/arm64"].contains(&platform.as_str()) {
        ctx.err(
            span(&r.platform),
            "apprunner.platform",
            format!("`{platform}` is not an image platform App Runner or ECS can run"),
            "use `linux/amd64` (or `linux/arm64` for ECS on Graviton)",
        );
    }
    let mut build_args = BTreeMap::new();
    if let Some(args) = &r.build_args {
        for (k, v) in args.get_ref() {
            let name = k.get_ref();
            let field = format!("apprunner.build_args.{name}");
            let portable = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !portable {
                ctx.err(
                    Some(k.span()),
                    &field,
                    format!("`{name}` is not a valid Dockerfile ARG name"),
                    "use letters, digits and underscores, not starting with a digit",
                );
            } else if secret_literal(name, v.get_ref()) {
                ctx.err(
                    Some(k.span()),
                    &field,
                    "build arguments are stored in the image's history: this one looks like a secret",
                    "pass secrets at run time through [secrets] (App Runner runtime secrets), never as a build argument",
                );
            }
            build_args.insert(name.clone(), v.get_ref().clone());
        }
    }
    let domain = r.domain.as_ref().map(|d| {
        if let Err(e) = rules::domain_name(d.get_ref()) {
            ctx.err(
                Some(d.span()),
                "apprunner.domain",
                e,
                "write the name users will type, e.g. `domain = \"app.example.com\"`",
            );
        }
        d.get_ref().trim_end_matches('.').to_ascii_lowercase()
    });
    let hosted_zone = r.hosted_zone.as_ref().map(|z| {
        let v = z.get_ref().trim();
        if v == "auto" {
            HostedZone::Auto
        } else {
            if let Err(e) = rules::hosted_zone_id(v) {
                ctx.err(
                    Some(z.span()),
                    "apprunner.hosted_zone",
                    if v.contains('.') {
                        format!("`{v}` looks like a zone name; hosted_zone takes a zone id or `auto`")
                    } else {
                        e
                    },
                    "use `auto` (the public zone with the longest name the domain ends with) or the zone's id from `aws route53 list-hosted-zones`, like `Z0123456789ABCDEFGHIJ`",
                );
            }
            HostedZone::Id(v.trim_start_matches("/hostedzone/").to_owned())
        }
    });
    AppRunner {
        service,
        repository,
        access_role,
        instance_role,
        port,
        cpu,
        memory,
        health_path: val(&r.health_path).unwrap_or_else(|| app.get_ref().health_path.clone()),
        min_size,
        max_size,
        vpc_connector,
        scan_on_push: val(&r.scan_on_push).unwrap_or(true),
        tag_mutability,
        keep_images,
        platform,
        timeout: duration(
            ctx,
            &r.timeout,
            "apprunner.timeout",
            Duration::from_secs(20 * 60),
        ),
        build_args,
        domain,
        hosted_zone,
    }
}

pub(super) fn check_ids(ctx: &mut Ctx<'_>, ids: &[Spanned<String>], field: &str, prefix: &str) {
    for id in ids {
        let s = id.get_ref();
        let ok = s
            .strip_prefix(prefix)
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()));
        if !ok {
            ctx.err(
                Some(id.span()),
                field,
                format!("`{s}` is not an id of the form `{prefix}<hex>`"),
                format!("copy the id from the VPC console, like `{prefix}0123456789abcdef0`"),
            );
        }
    }
}
