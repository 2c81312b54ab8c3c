//! deploy.toml's resolved target as each service crate's plain input: the one place config
//! meets the libraries.

use std::net::SocketAddr;
use std::time::Duration;

use deploykit_config::{ContainerPlatformKind, ResolvedTarget};
use deploykit_eb::{EbTarget, HealthCheck, LoadBalancer, Timeouts};
use deploykit_iam::AppRoles;
use deploykit_rds::{DbSpec, DbTrust, RdsError, WaitPolicy};

/// The route a command works for; picks the IAM roles it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Every route the target configures.
    All,
    /// Route A: Elastic Beanstalk.
    Eb,
    /// Route B on App Runner.
    Apprunner,
    /// Route B on ECS Express Mode.
    Ecs,
}

/// The Elastic Beanstalk input. `secrets` is empty: a deploy fills it with the ARNs
/// [`crate::preflight::resolve_secrets`] returns.
pub fn eb_target(t: &ResolvedTarget, resolve: Option<SocketAddr>) -> EbTarget {
    let e = &t.eb;
    let mut out = EbTarget::new(&t.region, &e.application, &e.environment);
    out.instance_type = e.instance_type.clone();
    out.solution_stack = e.platform.clone();
    out.service_role = e.service_role.clone();
    out.instance_profile = e.instance_profile.clone();
    out.bucket = e.bucket.clone();
    out.env = t.env.clone();
    out.stream_logs = e.log_streaming;
    out.log_retention_days = e.log_retention_days;
    out.deployment_policy = e.deployment_policy.as_str().to_string();
    out.enhanced_health = e.enhanced_health;
    out.keep_versions = e.keep_versions;
    out.health = HealthCheck {
        path: e.health_check.then(|| t.app.health_path.clone()),
        resolve,
    };
    // The certificate is `certificate_arn` here; a deploy looks up the domain's otherwise.
    out.load_balancer = e.load_balanced.then(|| LoadBalancer {
        certificate_arn: e.certificate_arn.clone(),
        // `[eb] domain`, else the `[https]` certificate's.
        domain: e
            .domain
            .clone()
            .or_else(|| t.https.as_ref().map(|h| h.domain.clone())),
        ssl_policy: e
            .ssl_policy
            .clone()
            .unwrap_or_else(|| LoadBalancer::DEFAULT_SSL_POLICY.to_string()),
        min_instances: e.min_instances,
        max_instances: e.max_instances,
        health_check_path: t.app.health_path.clone(),
    });
    out.timeouts = Timeouts {
        deploy: e.timeout,
        rollback: e.timeout,
        busy: e.timeout,
        poll: if t.local {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(5)
        },
        http: Duration::from_secs(5),
    };
    out
}

/// `[database]` as the rds crate's spec.
pub fn db_spec(t: &ResolvedTarget) -> DbSpec {
    let d = &t.database;
    DbSpec {
        identifier: d.instance.clone(),
        engine_version: d.engine_version.clone(),
        instance_class: d.instance_class.clone(),
        allocated_storage_gb: i32::try_from(d.allocated_storage_gb).unwrap_or(i32::MAX),
        max_allocated_storage_gb: d
            .max_allocated_storage_gb
            .and_then(|m| i32::try_from(m).ok()),
        backup_retention_days: i32::try_from(d.backup_retention_days).unwrap_or(i32::MAX),
        db_name: d.db_name.clone(),
        master_username: d.username.clone(),
        subnet_group: d.subnet_group.clone(),
        vpc_security_group_ids: Vec::new(),
        app_security_group: d.app_security_group.clone(),
        deletion_protection: d.deletion_protection,
        multi_az: d.multi_az,
        tags: vec![
            ("managed-by".into(), "deploykit".into()),
            ("app".into(), t.app.name.clone()),
            ("deploykit:target".into(), t.name.clone()),
        ],
    }
}

/// Waits bounded by `[database].timeout`; polls faster on the local cloud.
pub fn db_wait_policy(t: &ResolvedTarget) -> WaitPolicy {
    WaitPolicy {
        timeout: t.database.timeout,
        poll: if t.local {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(15)
        },
    }
}

/// The target's `[secrets]` as `(env var, name or ARN)` pairs.
pub fn secret_refs(t: &ResolvedTarget) -> Vec<(String, String)> {
    t.secrets
        .iter()
        .map(|(k, s)| (k.clone(), s.secret.clone()))
        .collect()
}

/// deploy.toml's role names for `route`, with the app's secret ARNs and bucket.
pub fn app_roles(t: &ResolvedTarget, secret_arns: Vec<String>, route: Route) -> AppRoles {
    let eb = matches!(route, Route::All | Route::Eb);
    let ar = matches!(route, Route::All | Route::Apprunner);
    // `All` adds the ECS roles when the target runs its container on ECS Express.
    let ecs = route == Route::Ecs
        || (route == Route::All && t.platform == ContainerPlatformKind::EcsExpress);
    AppRoles {
        app: t.app.name.clone(),
        eb_service_role: t.eb.service_role.clone().filter(|_| eb),
        eb_instance_profile: t.eb.instance_profile.clone().filter(|_| eb),
        apprunner_access_role: Some(t.apprunner.access_role.clone()).filter(|_| ar),
        apprunner_instance_role: Some(t.apprunner.instance_role.clone()).filter(|_| ar),
        ecs_execution_role: Some(t.ecs.execution_role.clone()).filter(|_| ecs),
        ecs_infrastructure_role: Some(t.ecs.infrastructure_role.clone()).filter(|_| ecs),
        secret_arns,
        // The app's bucket is read from [env] S3_BUCKET until deploy.toml names it.
        bucket: t.env.get("S3_BUCKET").cloned().filter(|b| !b.is_empty()),
    }
}

/// The IAM role or instance profile name in a config value that is a name or an ARN
/// (`arn:aws:iam::ACCOUNT:role/path/NAME`).
pub fn iam_name(v: &str) -> &str {
    if v.starts_with("arn:") {
        v.rsplit('/').next().unwrap_or(v)
    } else {
        v
    }
}

/// The CA this target's database connections and URLs trust, chosen by the target (never by a
/// flag): on real targets the region's Amazon RDS bundle ([`DbTrust::rds_for`]: the shipped
/// us-east-1 one, or `[database] ca_bundle`); on `local`, the local cloud's CA from
/// its state. A local cloud started before it had TLS (no CA in state.json) gets plain
/// connections, and the reason says to restart it.
pub fn db_trust(
    t: &ResolvedTarget,
    local: Option<&deploykit_local::LocalState>,
) -> Result<DbTrust, RdsError> {
    if !t.local {
        return DbTrust::rds_for(&t.region, t.database.ca_bundle.as_deref());
    }
    match local.and_then(|s| s.pg.tls.as_ref()) {
        Some(tls) => DbTrust::local_ca(&tls.ca_file),
        None => Ok(DbTrust::local_without_tls(
            "the running local cloud was started before its PostgreSQL had TLS: stop and start it (`local down`, `local up`) to get TLS like RDS",
        )),
    }
}

/// The app's least-privilege database role: `<db_name>_app`, its secret `<instance>/app`,
/// schema `public`.
pub fn app_role_spec(t: &ResolvedTarget) -> deploykit_rds::AppRoleSpec {
    let spec = db_spec(t);
    deploykit_rds::AppRoleSpec::for_instance(&spec.identifier, &spec.db_name)
}

/// `[alarms]` as deploykit-alarms' input: the alarm prefix `<app>-<target>`, the topic
/// `<app>-<target>-alarms` in the caller's `account`, the routes' resources (EB environment
/// and its Auto Scaling group, App Runner service and its id, the RDS instance) and the
/// thresholds (deploykit-alarms' defaults where deploy.toml sets none). `None` without
/// `[alarms]`.
pub fn alarm_targets(
    t: &ResolvedTarget,
    account: &str,
    eb_autoscaling_group: Option<String>,
    apprunner_service_id: Option<String>,
) -> Option<deploykit_alarms::AlarmTargets> {
    use deploykit_alarms::{AppRunnerWatch, EbWatch, Thresholds, TopicSpec};
    use deploykit_config::AlarmRoute;
    let a = t.alarms.as_ref()?;
    let d = Thresholds::default();
    let topic = deploykit_alarms::topic_name(&t.app.name, &t.name);
    Some(deploykit_alarms::AlarmTargets {
        prefix: format!("{}-{}", t.app.name, t.name),
        topic: TopicSpec {
            arn: deploykit_alarms::topic_arn(&t.region, account, &topic),
            name: topic,
            email: a.email.clone(),
        },
        eb: a.routes.contains(&AlarmRoute::Eb).then(|| EbWatch {
            environment: t.eb.environment.clone(),
            autoscaling_group: eb_autoscaling_group,
        }),
        apprunner: a
            .routes
            .contains(&AlarmRoute::AppRunner)
            .then(|| AppRunnerWatch {
                service: t.apprunner.service.clone(),
                service_id: apprunner_service_id,
            }),
        database: a.database.then(|| t.database.instance.clone()),
        thresholds: Thresholds {
            cpu_percent: a.cpu_percent.unwrap_or(d.cpu_percent),
            http_5xx: a.http_5xx.unwrap_or(d.http_5xx),
            eb_health: a.eb_health.unwrap_or(d.eb_health),
            latency_ms: a.latency_ms.unwrap_or(d.latency_ms),
            db_cpu_percent: a.db_cpu_percent.unwrap_or(d.db_cpu_percent),
            db_free_storage_gb: a.db_free_storage_gb.unwrap_or(d.db_free_storage_gb),
            db_connections: a.db_connections.unwrap_or(d.db_connections),
        },
    })
}
