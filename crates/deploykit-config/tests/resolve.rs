//! Per-target overrides, defaults and warnings.

use std::path::Path;
use std::time::Duration;

use deploykit_config::{DeploymentPolicy, HostedZone, TagMutability, parse};

const TEXT: &str = r#"
default_target = "dev"

[app]
name = "shop"
path = "app"

[targets.local]
region = "us-east-1"
local = true
endpoint_url = "http://localhost:4566"

[targets.dev]
region = "eu-west-1"

[targets.prod]
region = "eu-west-1"
profile = "shop-prod"
account_id = "123456789012"

[eb]
environment = "shop-dev"
instance_type = "t3.small"
timeout = "30m"
log_retention_days = 14

[targets.prod.eb]
environment = "shop-prod"
deployment_policy = "Immutable"

[apprunner]
cpu = "2 vCPU"
memory = "4 GB"
domain = "dev.shop.example.com"
hosted_zone = "auto"

[targets.prod.apprunner]
memory = "6 GB"
domain = "Shop.Example.com."
hosted_zone = "/hostedzone/Z0123456789ABCDEFGHIJ"
max_size = 4
vpc_connector = { subnets = ["subnet-0abc"], security_groups = ["sg-0def"] }
access_role = "shop-ecr-pull"
instance_role = "shop-prod-runtime"

[database]
multi_az = false

[targets.prod.database]
multi_az = true
instance_class = "db.t4g.small"

[env]
S3_BUCKET = "shop-uploads"
LOG_LEVEL = "info"

[targets.prod.env]
S3_BUCKET = "shop-uploads-prod"

[secrets]
SECRET_KEY = { secret = "shop/secret-key" }

[targets.prod.secrets]
SECRET_KEY = { secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/prod-key-AbCdEf" }
"#;

#[test]
fn overrides_merge_field_by_field() {
    let config = parse(TEXT, Path::new("conf/deploy.toml")).unwrap();
    assert_eq!(config.default_target, "dev");
    let dev = config.target(None).unwrap();
    assert_eq!(dev.name, "dev");
    let prod = config.target(Some("prod")).unwrap();

    // eb: environment and policy overridden, the rest inherited.
    assert_eq!(dev.eb.environment, "shop-dev");
    assert_eq!(prod.eb.environment, "shop-prod");
    assert_eq!(prod.eb.instance_type, "t3.small");
    assert_eq!(prod.eb.timeout, Duration::from_secs(1800));
    assert_eq!(prod.eb.log_retention_days, 14);
    assert_eq!(dev.eb.deployment_policy, DeploymentPolicy::AllAtOnce);
    assert_eq!(prod.eb.deployment_policy, DeploymentPolicy::Immutable);

    // apprunner: memory overridden, cpu inherited; the pair is validated after merging.
    assert_eq!(
        (dev.apprunner.cpu.as_str(), dev.apprunner.memory.as_str()),
        ("2 vCPU", "4 GB")
    );
    assert_eq!(
        (prod.apprunner.cpu.as_str(), prod.apprunner.memory.as_str()),
        ("2 vCPU", "6 GB")
    );
    assert_eq!((dev.apprunner.min_size, dev.apprunner.max_size), (1, 1));
    assert_eq!(prod.apprunner.max_size, 4);
    let vpc = prod.apprunner.vpc_connector.as_ref().unwrap();
    assert_eq!(vpc.subnets, ["subnet-0abc"]);
    assert!(dev.apprunner.vpc_connector.is_none());
    // IAM roles by name: defaults from the service name, overridden per target.
    assert_eq!(dev.apprunner.access_role, "shop-apprunner-ecr-access");
    assert_eq!(dev.apprunner.instance_role, "shop-apprunner-instance");
    assert_eq!(prod.apprunner.access_role, "shop-ecr-pull");
    assert_eq!(prod.apprunner.instance_role, "shop-prod-runtime");
    // domain and hosted zone: overridden per target, normalised.
    assert_eq!(
        dev.apprunner.domain.as_deref(),
        Some("dev.shop.example.com")
    );
    assert_eq!(dev.apprunner.hosted_zone, Some(HostedZone::Auto));
    assert_eq!(prod.apprunner.domain.as_deref(), Some("shop.example.com"));
    assert_eq!(
        prod.apprunner.hosted_zone,
        Some(HostedZone::Id("Z0123456789ABCDEFGHIJ".into()))
    );

    // database.
    assert!(!dev.database.multi_az && prod.database.multi_az);
    assert_eq!(dev.database.instance_class, "db.t4g.micro");
    assert_eq!(prod.database.instance_class, "db.t4g.small");

    // env and secrets merge key by key.
    assert_eq!(dev.env["S3_BUCKET"], "shop-uploads");
    assert_eq!(prod.env["S3_BUCKET"], "shop-uploads-prod");
    assert_eq!(prod.env["LOG_LEVEL"], "info");
    assert_eq!(dev.secrets["SECRET_KEY"].secret, "shop/secret-key");
    assert!(!dev.secrets["SECRET_KEY"].is_arn());
    assert!(prod.secrets["SECRET_KEY"].is_arn());

    // Target settings.
    assert_eq!(prod.region, "eu-west-1");
    assert_eq!(prod.profile.as_deref(), Some("shop-prod"));
    assert_eq!(prod.account_id.as_deref(), Some("123456789012"));
    assert!(!prod.local && config.target(Some("local")).unwrap().local);
    // app.path is resolved against the config file's directory.
    assert_eq!(prod.app.path, Path::new("conf/app"));
}

#[test]
fn defaults_are_derived_from_the_app_and_target() {
    let text = "[app]\nname = \"shop\"\n[targets.local]\nregion = \"us-east-1\"\nlocal = true\nendpoint_url = \"http://127.0.0.1:4566\"\n[targets.prod]\nregion = \"us-east-1\"\n";
    let config = parse(text, Path::new("deploy.toml")).unwrap();
    assert_eq!(config.default_target, "local");
    let local = config.target(None).unwrap();
    assert_eq!(local.app.path, Path::new("examples/budgetsync"));
    assert_eq!(local.app.health_path, "/healthz");
    assert_eq!(local.app.port, 8000);
    assert_eq!(local.eb.application, "shop");
    assert_eq!(local.eb.environment, "shop-local");
    assert_eq!(local.eb.instance_type, "t3.micro");
    assert_eq!(local.eb.platform, None);
    assert!(local.eb.enhanced_health && local.eb.log_streaming && local.eb.health_check);
    assert_eq!(local.eb.log_retention_days, 7);
    assert_eq!(local.eb.keep_versions, 50);
    assert_eq!(local.eb.timeout, Duration::from_secs(1200));
    assert_eq!(local.apprunner.service, "shop");
    assert_eq!(local.apprunner.repository, "shop");
    assert_eq!(local.apprunner.port, 8080);
    assert_eq!(local.apprunner.health_path, "/healthz");
    assert_eq!(local.apprunner.tag_mutability, TagMutability::Immutable);
    assert_eq!(local.apprunner.platform, "linux/amd64");
    assert!(local.apprunner.scan_on_push);
    assert_eq!(local.database.instance, "shop-db");
    assert_eq!(local.database.engine_version, "16");
    assert_eq!(local.database.allocated_storage_gb, 20);
    assert_eq!(local.database.max_allocated_storage_gb, Some(100));
    assert_eq!(local.database.backup_retention_days, 7);
    assert_eq!(local.database.db_name, "shop");
    assert!(!local.database.deletion_protection);
    assert_eq!(
        local.database.ca_bundle, None,
        "the shipped us-east-1 bundle"
    );
    let with_bundle =
        format!("{text}[targets.prod.database]\nca_bundle = \"certs/eu-west-1-bundle.pem\"\n");
    let prod = parse(&with_bundle, Path::new("/srv/shop/deploy.toml")).unwrap();
    assert_eq!(
        prod.target(Some("prod"))
            .unwrap()
            .database
            .ca_bundle
            .as_deref(),
        Some(Path::new("/srv/shop/certs/eu-west-1-bundle.pem")),
        "relative to deploy.toml"
    );
    assert!(
        config
            .target(Some("prod"))
            .unwrap()
            .database
            .deletion_protection,
        "prod defaults to deletion protection"
    );
    assert_eq!(
        config.target(Some("prod")).unwrap().eb.environment,
        "shop-prod"
    );
}

#[test]
fn warnings_do_not_fail_the_load() {
    let text = "[app]\nname = \"shop\"\n[targets.local]\nregion = \"us-east-1\"\nlocal = true\nprofile = \"x\"\nendpoint_url = \"http://127.0.0.1:4566\"\n[database]\nbackup_retention_days = 21\n[env]\nFLASK_ENV = \"production\"\n";
    let config = parse(text, Path::new("deploy.toml")).unwrap();
    let w: Vec<(Option<usize>, &str, &str)> = config
        .warnings
        .iter()
        .map(|p| (p.line, p.field.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(
        w.iter().any(|(l, f, m)| *l == Some(6)
            && *f == "targets.local.profile"
            && m.contains("ignored"))
    );
    assert!(w.iter().any(|(l, f, m)| *l == Some(9)
        && *f == "database.backup_retention_days"
        && m.contains("7-14")));
    assert!(
        w.iter()
            .any(|(l, f, m)| *l == Some(11) && *f == "env.FLASK_ENV" && m.contains("Flask 2.3"))
    );
}
