//! `[https]`: defaults, per-target overrides, and refusals that name the file, field and fix.

use std::path::Path;
use std::time::Duration;

use deploykit_config::{HostedZone, Https, parse};

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
"#;

#[test]
fn no_section_no_https() {
    let cfg = parse(BASE, Path::new("deploy.toml")).expect("valid");
    assert_eq!(cfg.target(Some("local")).unwrap().https, None);
}

#[test]
fn defaults_and_target_overrides() {
    let text = format!(
        r#"{BASE}
[https]
domain = "Shop.Example.com."
alternative_names = ["www.shop.example.com"]

[targets.prod.https]
domain = "shop.example.org"
hosted_zone = "Z0123456789ABCDEFGHIJ"
timeout = "1h"
"#
    );
    let cfg = parse(&text, Path::new("deploy.toml")).expect("valid");
    assert_eq!(
        cfg.target(Some("local")).unwrap().https,
        Some(Https {
            domain: "shop.example.com".into(),
            alternative_names: vec!["www.shop.example.com".into()],
            hosted_zone: HostedZone::Auto,
            timeout: Duration::from_secs(30 * 60),
        })
    );
    assert_eq!(
        cfg.target(Some("prod")).unwrap().https,
        Some(Https {
            domain: "shop.example.org".into(),
            alternative_names: vec!["www.shop.example.com".into()],
            hosted_zone: HostedZone::Id("Z0123456789ABCDEFGHIJ".into()),
            timeout: Duration::from_secs(3600),
        }),
        "merged field by field"
    );
}

#[test]
fn refusals_name_file_field_and_fix() {
    let many: Vec<String> = (0..10).map(|i| format!("\"n{i}.example.com\"")).collect();
    let many = format!(
        "[https]\ndomain = \"example.com\"\nalternative_names = [{}]\n",
        many.join(", ")
    );
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "[https]\ndomain = \"localhost\"\n",
            "https.domain",
            "app.example.com",
        ),
        (
            "[https]\ndomain = \"exa mple.com\"\n",
            "https.domain",
            "app.example.com",
        ),
        ("[https]\nhosted_zone = \"auto\"\n", "https", "domain = "),
        (
            "[https]\ndomain = \"example.com\"\nalternative_names = [\"Example.com\"]\n",
            "https.alternative_names",
            "remove the repeated name",
        ),
        (
            "[https]\ndomain = \"example.com\"\nalternative_names = [\"www\"]\n",
            "https.alternative_names",
            "www.app.example.com",
        ),
        (&many, "https.alternative_names", "at most 9"),
        (
            "[https]\ndomain = \"example.com\"\nhosted_zone = \"example.com\"\n",
            "https.hosted_zone",
            "auto",
        ),
        (
            "[https]\ndomain = \"example.com\"\ntimeout = \"soon\"\n",
            "https.timeout",
            "20m",
        ),
        ("[https]\ndomian = \"example.com\"\n", "https", "domain"),
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
