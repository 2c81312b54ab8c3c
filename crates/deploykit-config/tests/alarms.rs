//! `[alarms]`: defaults, per-target overrides, and refusals that name the file, field and fix.

use std::path::Path;

use deploykit_config::{AlarmRoute, parse};

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

[database]
allocated_storage_gb = 20
"#;

#[test]
fn no_section_no_alarms() {
    let cfg = parse(BASE, Path::new("deploy.toml")).expect("valid");
    assert_eq!(cfg.target(Some("local")).unwrap().alarms, None);
}

#[test]
fn defaults_and_target_overrides() {
    let text = format!(
        "{BASE}\n[alarms]\nemail = \"ops@example.com\"\n\n[targets.prod.alarms]\nroutes = [\"eb\", \"apprunner\"]\ncpu_percent = 70\ndb_free_storage_gb = 2.5\neb_health = \"Severe\"\n"
    );
    let cfg = parse(&text, Path::new("deploy.toml")).expect("valid");
    let local = cfg.target(Some("local")).unwrap().alarms.expect("[alarms]");
    assert_eq!(local.email, "ops@example.com");
    assert_eq!(local.routes, vec![AlarmRoute::Eb], "default route");
    assert!(local.database, "database alarms by default");
    assert_eq!(
        local.cpu_percent, None,
        "the alarms crate's default applies"
    );
    let prod = cfg.target(Some("prod")).unwrap().alarms.expect("[alarms]");
    assert_eq!(prod.email, "ops@example.com", "merged field by field");
    assert_eq!(prod.routes, vec![AlarmRoute::Eb, AlarmRoute::AppRunner]);
    assert_eq!(prod.cpu_percent, Some(70.0), "an integer is a number");
    assert_eq!(prod.db_free_storage_gb, Some(2.5));
    assert_eq!(prod.eb_health, Some(25.0));
}

#[test]
fn bad_values_are_refused_naming_file_field_and_fix() {
    let cases = [
        ("[alarms]\ncpu_percent = 90\n", "alarms.", "email = "),
        (
            "[alarms]\nemail = \"ops\"\n",
            "alarms.email",
            "ops@example.com",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\nroutes = [\"ebb\"]\n",
            "alarms.routes",
            "`eb`",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\nroutes = []\ndatabase = false\n",
            "alarms.",
            "routes = [",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\ncpu_percent = 120\n",
            "alarms.cpu_percent",
            "at most 100",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\ndb_cpu_percent = 0\n",
            "alarms.db_cpu_percent",
            "above 0",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\nhttp_5xx = -1\n",
            "alarms.http_5xx",
            "0 or more",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\nlatency_ms = 0\n",
            "alarms.latency_ms",
            "milliseconds",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\ndb_free_storage_gb = 25\n",
            "alarms.db_free_storage_gb",
            "allocated_storage_gb (20)",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\ndb_connections = 0\n",
            "alarms.db_connections",
            "1 or more",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\neb_health = \"red\"\n",
            "alarms.eb_health",
            "degraded",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\ncpu = 80\n",
            "alarms",
            "cpu_percent",
        ),
        (
            "[alarms]\nemail = \"a@b.c\"\ncpu_percent = \"80\"\n",
            "alarms.cpu_percent",
            "",
        ),
    ];
    for (extra, field, fix) in cases {
        let err =
            parse(&format!("{BASE}\n{extra}"), Path::new("shop/deploy.toml")).expect_err(extra);
        let text = err.to_string();
        assert!(text.contains("shop/deploy.toml"), "{extra}: {text}");
        let p = err
            .problems()
            .iter()
            .find(|p| p.field.starts_with(field))
            .unwrap_or_else(|| panic!("{extra}: no problem for {field}: {text}"));
        assert!(p.line.is_some(), "{extra}: located: {p:?}");
        assert!(
            p.fix.contains(fix) || p.message.contains(fix),
            "{extra}: fix should mention {fix}: {p:?}"
        );
    }
}
