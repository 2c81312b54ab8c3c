//! Defaults, overrides and every rule that needs more than a type: names, ranges, combinations.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde_spanned::Spanned;

use crate::doc::Index;
use crate::model::*;
use crate::raw::*;
use crate::{Problem, rules};

#[path = "s3.rs"]
pub(crate) mod s3;

/// EB: longest environment variable key.
pub const EB_ENV_KEY_MAX: usize = 128;
/// EB: longest environment variable value.
pub const EB_ENV_VALUE_MAX: usize = 256;
/// EB: all `key=value` pairs together.
pub const EB_ENV_TOTAL_MAX: usize = 4096;

const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

const CPU_MEMORY: &[(&str, &[&str])] = &[
    ("0.25 vCPU", &["0.5 GB", "1 GB"]),
    ("0.5 vCPU", &["1 GB"]),
    ("1 vCPU", &["2 GB", "3 GB", "4 GB"]),
    ("2 vCPU", &["4 GB", "6 GB"]),
    ("4 vCPU", &["8 GB", "10 GB", "12 GB"]),
];

const DEPLOYMENT_POLICIES: &[(&str, DeploymentPolicy)] = &[
    ("AllAtOnce", DeploymentPolicy::AllAtOnce),
    ("Rolling", DeploymentPolicy::Rolling),
    (
        "RollingWithAdditionalBatch",
        DeploymentPolicy::RollingWithAdditionalBatch,
    ),
    ("Immutable", DeploymentPolicy::Immutable),
    ("TrafficSplitting", DeploymentPolicy::TrafficSplitting),
];

/// Collects problems and warnings with their locations.
pub(crate) struct Ctx<'a> {
    index: &'a Index<'a>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl<'a> Ctx<'a> {
    pub fn new(index: &'a Index<'a>) -> Self {
        Ctx {
            index,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn make(
        &self,
        span: Option<Range<usize>>,
        field: &str,
        message: String,
        fix: String,
    ) -> Problem {
        let (line, column, field) = match &span {
            Some(s) => {
                let (l, c) = self.index.line_col(s.start);
                let path = self.index.entry_at(s).map(|e| e.dotted());
                (Some(l), Some(c), path.unwrap_or_else(|| field.to_owned()))
            }
            None => (None, None, field.to_owned()),
        };
        Problem {
            line,
            column,
            field,
            message,
            fix,
        }
    }

    fn err(
        &mut self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let p = self.make(span, field, message.into(), fix.into());
        self.problems.push(p);
    }

    fn warn(
        &mut self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let p = self.make(span, field, message.into(), fix.into());
        self.warnings.push(p);
    }
}

fn val<T: Clone>(o: &Opt<T>) -> Option<T> {
    o.as_ref().map(|s| s.get_ref().clone())
}

fn span<T>(o: &Opt<T>) -> Option<Range<usize>> {
    o.as_ref().map(Spanned::span)
}

/// Resolves every target; returns the default target name and the resolved targets.
pub(crate) fn resolve(
    raw: &RawConfig,
    base_dir: &Path,
    ctx: &mut Ctx<'_>,
) -> (String, BTreeMap<String, ResolvedTarget>) {
    let app = resolve_app(raw.app.as_ref(), base_dir, ctx);

    if raw.targets.is_empty() {
        ctx.err(
            None,
            "targets",
            "no targets are defined",
            "add at least `[targets.local]` with `region = \"us-east-1\"` and `local = true`",
        );
    }
    let names: Vec<&str> = raw.targets.keys().map(String::as_str).collect();
    let default_target =
        val(&raw.default_target).unwrap_or_else(|| crate::FALLBACK_TARGET.to_owned());
    if !raw.targets.is_empty() && !raw.targets.contains_key(&default_target) {
        let fix = match rules::suggest(&default_target, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if raw.default_target.is_none() => {
                format!("set `default_target` to one of {}", quote_list(&names))
            }
            None => format!(
                "use one of {} or add [targets.{default_target}]",
                quote_list(&names)
            ),
        };
        ctx.err(
            span(&raw.default_target),
            "default_target",
            format!("default target `{default_target}` is not defined under [targets]"),
            fix,
        );
    }

    let mut out = BTreeMap::new();
    for (name, t) in &raw.targets {
        if let Some(r) = resolve_target(name, t, raw, &app, ctx) {
            out.insert(name.clone(), r);
        }
    }
    (default_target, out)
}

fn quote_list(v: &[&str]) -> String {
    v.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn resolve_app(raw: Option<&RawApp>, base_dir: &Path, ctx: &mut Ctx<'_>) -> Spanned<App> {
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

fn slug(s: &str) -> String {
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

fn check_http_path(ctx: &mut Ctx<'_>, v: &Opt<String>, field: &str) {
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

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Host of an `http(s)://host[:port][/path]` URL, or why it is not one.
fn url_host(u: &str) -> Result<&str, String> {
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

fn resolve_target(
    name: &str,
    t: &RawTarget,
    raw: &RawConfig,
    app: &Spanned<App>,
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
    let eb = resolve_eb(name, &raw.eb.merged(&t.eb), app, ctx);
    let apprunner = resolve_apprunner(&raw.apprunner.merged(&t.apprunner), app, ctx);
    let platform = resolve_platform(&raw.containers.merged(&t.containers), ctx);
    let ecs = resolve_ecs(&raw.ecs.merged(&t.ecs), &apprunner, ctx);
    let database = resolve_database(name, &raw.database.merged(&t.database), app, ctx);

    let mut env_raw = raw.env.clone();
    env_raw.extend(t.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut secrets_raw = raw.secrets.clone();
    secrets_raw.extend(t.secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
    let (env, secrets) = resolve_env(name, &region, &env_raw, &secrets_raw, ctx);
    let s3 = s3::resolve_s3(&raw.s3.merged(&t.s3), app, ctx);
    s3::check_env(s3.as_ref(), &env, &raw.s3.merged(&t.s3), ctx);

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
        env,
        secrets,
    })
}

fn resolve_platform(r: &RawContainers, ctx: &mut Ctx<'_>) -> ContainerPlatformKind {
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
fn fargate_memory_ok(cpu: u32, mem: u32) -> bool {
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

fn resolve_ecs(r: &RawEcs, ar: &AppRunner, ctx: &mut Ctx<'_>) -> Ecs {
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

/// A string field with a default derived from the app name; the rule runs on either.
fn named(
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

fn duration(ctx: &mut Ctx<'_>, v: &Opt<String>, field: &str, default: Duration) -> Duration {
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

fn iam_name_or_arn(ctx: &mut Ctx<'_>, v: &Opt<String>, field: &str, kind: &str) {
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
fn role_name(ctx: &mut Ctx<'_>, v: &Opt<String>, field: &str, default: String) -> String {
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

fn resolve_eb(target: &str, r: &RawEb, app: &Spanned<App>, ctx: &mut Ctx<'_>) -> Eb {
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

fn is_instance_type(s: &str) -> bool {
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

fn resolve_apprunner(r: &RawAppRunner, app: &Spanned<App>, ctx: &mut Ctx<'_>) -> AppRunner {
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

fn check_ids(ctx: &mut Ctx<'_>, ids: &[Spanned<String>], field: &str, prefix: &str) {
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

fn pg_identifier(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn resolve_database(
    target: &str,
    r: &RawDatabase,
    app: &Spanned<App>,
    ctx: &mut Ctx<'_>,
) -> Database {
    let a = &app.get_ref().name;
    let instance = named(
        ctx,
        &r.instance,
        "database.instance",
        format!("{a}-db"),
        app,
        rules::rds_instance_identifier,
    );
    let engine_version = val(&r.engine_version).unwrap_or_else(|| "16".to_owned());
    if let Some(v) = &r.engine_version {
        let ok = !v.get_ref().is_empty()
            && v.get_ref().split('.').count() <= 2
            && v.get_ref()
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            ctx.err(
                Some(v.span()),
                "database.engine_version",
                format!("`{}` is not a PostgreSQL version", v.get_ref()),
                "pin the major version as a string, e.g. `\"16\"`",
            );
        }
    }
    let instance_class = val(&r.instance_class).unwrap_or_else(|| "db.t4g.micro".to_owned());
    if let Some(c) = &r.instance_class
        && !c
            .get_ref()
            .strip_prefix("db.")
            .is_some_and(is_instance_type)
    {
        ctx.err(
            Some(c.span()),
            "database.instance_class",
            format!("`{}` is not an RDS instance class", c.get_ref()),
            "write it like `db.t4g.micro` (note the `db.` prefix)",
        );
    }
    let allocated = val(&r.allocated_storage_gb).unwrap_or(20);
    if !(20..=65_536).contains(&allocated) {
        ctx.err(
            span(&r.allocated_storage_gb),
            "database.allocated_storage_gb",
            format!("gp3 storage must be 20-65536 GB, got {allocated}"),
            "use at least 20",
        );
    }
    let max_allocated = match &r.max_allocated_storage_gb {
        None => Some(100.max(allocated)).filter(|m| *m > allocated),
        Some(m) if *m.get_ref() == 0 => None,
        Some(m) => {
            if *m.get_ref() <= allocated || *m.get_ref() > 65_536 {
                ctx.err(Some(m.span()), "database.max_allocated_storage_gb", format!("storage autoscaling ceiling {} GB must be above allocated_storage_gb ({allocated}) and at most 65536", m.get_ref()), "raise it (e.g. 100), or set 0 to turn storage autoscaling off");
            }
            Some(*m.get_ref())
        }
    };
    let backup_retention_days = val(&r.backup_retention_days).unwrap_or(7);
    if let Some(b) = &r.backup_retention_days {
        let d = *b.get_ref();
        if d == 0 || d > 35 {
            ctx.err(
                Some(b.span()),
                "database.backup_retention_days",
                format!(
                    "backup retention must be 1-35 days, got {d} (0 turns automated backups off)"
                ),
                "use 7-14 days",
            );
        } else if !(7..=14).contains(&d) {
            ctx.warn(
                Some(b.span()),
                "database.backup_retention_days",
                format!("backup retention of {d} days is outside the recommended 7-14"),
                "use 7-14 days",
            );
        }
    }
    let default_ident = a.replace('-', "_");
    let db_name = val(&r.db_name).unwrap_or_else(|| default_ident.clone());
    let username = val(&r.username).unwrap_or_else(|| default_ident.clone());
    for (v, field, what) in [
        (&r.db_name, "database.db_name", "database name"),
        (&r.username, "database.username", "master user name"),
    ] {
        let value = val(v).unwrap_or_else(|| default_ident.clone());
        if !pg_identifier(&value) || value == "rdsadmin" {
            let sp = span(v).or_else(|| Some(app.span()).filter(|r| !r.is_empty()));
            ctx.err(sp, field, format!("{what} `{value}` must be 1-63 letters, digits or `_`, start with a letter, and not be `rdsadmin`"), format!("set `{field}` to something like `{}`", slug(&value).replace('-', "_")));
        }
    }
    if let Some(sg) = &r.app_security_group {
        check_ids(
            ctx,
            std::slice::from_ref(sg),
            "database.app_security_group",
            "sg-",
        );
    }
    let subnets = r
        .subnets
        .as_ref()
        .map(|s| s.get_ref().clone())
        .unwrap_or_default();
    check_ids(ctx, &subnets, "database.subnets", "subnet-");
    if let Some(g) = &r.subnet_group {
        let s = g.get_ref();
        if s.is_empty()
            || s.len() > 255
            || s.eq_ignore_ascii_case("default")
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c))
        {
            ctx.err(Some(g.span()), "database.subnet_group", format!("`{s}` is not a usable DB subnet group name"), "use letters, digits, `.`, `_`, `-` (not `default`), or remove it to create one from `subnets`");
        }
    }
    Database {
        instance,
        engine_version,
        instance_class,
        allocated_storage_gb: allocated,
        max_allocated_storage_gb: max_allocated,
        backup_retention_days,
        db_name,
        username,
        app_security_group: val(&r.app_security_group),
        subnet_group: val(&r.subnet_group),
        subnets: subnets.iter().map(|s| s.get_ref().clone()).collect(),
        deletion_protection: val(&r.deletion_protection).unwrap_or(target == "prod"),
        snapshot_before_deploy: val(&r.snapshot_before_deploy).unwrap_or(false),
        multi_az: val(&r.multi_az).unwrap_or(false),
        timeout: duration(
            ctx,
            &r.timeout,
            "database.timeout",
            Duration::from_secs(40 * 60),
        ),
    }
}

/// Whether a literal value in deploy.toml is a secret whatever its variable's name: the name
/// looks secret (`deploykit_secretrules::is_secret_name`, the one rule for names), the value
/// is a URL with a password, or it matches a content rule (an access key id, a private key, a
/// token in a known format).
fn secret_literal(name: &str, value: &str) -> bool {
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

fn env_key_ok(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn secret_ref_ok(s: &str) -> bool {
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

fn resolve_env(
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
fn check_eb_env_lengths<'a>(
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
