//! The repository's own deploy.toml is the example users copy: it must load cleanly.

use std::path::Path;

#[test]
fn repo_deploy_toml_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy.toml");
    let config = deploykit_config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.default_target, "local");
    assert_eq!(config.target_names(), ["dev", "local", "prod"]);

    let local = config.target(None).unwrap();
    assert!(local.local);
    assert_eq!(local.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(local.http_resolve, Some("127.0.0.1:4566".parse().unwrap()));
    assert_eq!(local.eb.environment, "budgetsync-dev");
    assert!(local.app.path.ends_with("examples/budgetsync"));
    assert_eq!(
        local.apprunner.access_role,
        "budgetsync-apprunner-ecr-access"
    );
    assert_eq!(
        local.apprunner.instance_role,
        "budgetsync-apprunner-instance"
    );
    assert!(!local.database.deletion_protection);

    let prod = config.target(Some("prod")).unwrap();
    assert!(!prod.local);
    assert_eq!(prod.profile.as_deref(), Some("budgetsync-prod"));
    assert_eq!(prod.eb.environment, "budgetsync-prod");
    assert_eq!(prod.eb.instance_type, "t3.micro");
    assert!(prod.database.deletion_protection);
    assert_eq!(prod.database.instance, "budgetsync-db");
    assert_eq!(prod.database.instance_class, "db.t4g.micro");
    assert_eq!(prod.env["S3_BUCKET"], "budgetsync-uploads-prod");
    assert_eq!(prod.env["AWS_REGION"], "us-east-1");
    assert_eq!(prod.secrets["DATABASE_URL"].secret, "budgetsync/db-url");
    assert_eq!(prod.secrets["SECRET_KEY"].secret, "budgetsync/secret-key");
    assert_eq!(
        prod.apprunner.access_role,
        "budgetsync-apprunner-ecr-access"
    );
    assert_eq!(
        prod.apprunner.instance_role,
        "budgetsync-apprunner-instance"
    );
    // No placeholder account or ARN anywhere in the example users copy.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("000000000000"));

    let dev = config.target(Some("dev")).unwrap();
    assert_eq!(dev.profile.as_deref(), Some("budgetsync-dev"));
    assert_eq!(dev.env["S3_BUCKET"], "budgetsync-uploads");
}
