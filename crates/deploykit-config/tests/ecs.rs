//! `[containers] platform` and `[ecs]`: defaults, per-target overrides, refusals naming the field.

use std::path::Path;

use deploykit_config::{ContainerPlatformKind, parse};

const BASE: &str = r#"
[app]
name = "shop"
path = "app"

[targets.local]
region = "us-east-1"
local = true
endpoint_url = "http://localhost:4566"

[targets.prod]
region = "eu-west-1"

[apprunner]
port = 8000
health_path = "/health"
"#;

#[test]
fn defaults_follow_apprunner_and_the_service_name() {
    let cfg = parse(BASE, Path::new("deploy.toml")).expect("valid");
    let t = cfg.target(Some("local")).expect("local");
    assert_eq!(t.platform, ContainerPlatformKind::AppRunner);
    assert_eq!(t.ecs.service, "shop");
    assert_eq!(
        (t.ecs.cpu.as_str(), t.ecs.memory.as_str()),
        ("1024", "2048")
    );
    assert_eq!((t.ecs.port, t.ecs.health_path.as_str()), (8000, "/health"));
    assert_eq!((t.ecs.min_tasks, t.ecs.max_tasks), (1, 1));
    assert_eq!(t.ecs.execution_role, "shop-ecs-execution");
    assert_eq!(t.ecs.infrastructure_role, "shop-ecs-infrastructure");
    assert_eq!(t.ecs.task_role, None);
}

#[test]
fn a_target_can_pick_ecs_express() {
    let text = format!(
        "{BASE}\n[targets.prod.containers]\nplatform = \"ecs-express\"\n\n[ecs]\ncpu = \"512\"\nmemory = \"1024\"\nmax_tasks = 3\n"
    );
    let cfg = parse(&text, Path::new("deploy.toml")).expect("valid");
    assert_eq!(
        cfg.target(Some("prod")).expect("prod").platform,
        ContainerPlatformKind::EcsExpress
    );
    let local = cfg.target(Some("local")).expect("local");
    assert_eq!(local.platform, ContainerPlatformKind::AppRunner);
    assert_eq!((local.ecs.cpu.as_str(), local.ecs.max_tasks), ("512", 3));
}

#[test]
fn bad_values_are_refused_naming_the_field() {
    for (extra, field) in [
        (
            "[containers]\nplatform = \"fargate\"\n",
            "containers.platform",
        ),
        ("[ecs]\ncpu = \"1024\"\nmemory = \"512\"\n", "ecs.memory"),
        ("[ecs]\ncpu = \"1 vCPU\"\n", "ecs.cpu"),
        ("[ecs]\nmin_tasks = 3\nmax_tasks = 2\n", "ecs.max_tasks"),
        (
            "[ecs]\nexecution_role = \"arn:aws:iam::123456789012:role/x\"\n",
            "ecs.execution_role",
        ),
    ] {
        let err = parse(&format!("{BASE}\n{extra}"), Path::new("deploy.toml"))
            .expect_err(field)
            .to_string();
        assert!(err.contains(field), "{field}: {err}");
    }
}
