//! `[s3]`: defaults, per-target overrides, and refusals that name the file, field and fix.

use std::path::{Path, PathBuf};

use deploykit_config::{S3Cors, parse};

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
fn no_section_no_s3() {
    let cfg = parse(BASE, Path::new("deploy.toml")).expect("valid");
    assert_eq!(cfg.target(Some("local")).unwrap().s3, None);
}

#[test]
fn defaults_and_target_overrides() {
    let text = format!(
        r#"{BASE}
[s3]
bucket = "shop-uploads"
uploads_prefix = "receipts/"
uploads_abort_multipart_days = 7
static_dir = "app/static"
cors = [{{ allowed_origins = ["https://shop.example.com"], allowed_methods = ["GET", "PUT"], max_age_seconds = 3000 }}]

[targets.prod.s3]
bucket = "shop-uploads-prod"
kms_key = "alias/shop"
static_prefix = "/assets"
"#
    );
    let cfg = parse(&text, Path::new("conf/deploy.toml")).expect("valid");
    let local = cfg.target(Some("local")).unwrap().s3.expect("[s3]");
    assert_eq!(local.bucket, "shop-uploads");
    assert_eq!(local.static_prefix, "static/");
    assert_eq!(local.static_dir, PathBuf::from("conf/app/app/static"));
    assert_eq!(local.static_cache_control, "public, max-age=300");
    assert_eq!(local.kms_key, None);
    assert_eq!(
        (
            local.uploads_expire_days,
            local.uploads_abort_multipart_days
        ),
        (None, Some(7))
    );
    assert_eq!(
        local.cors,
        Some(vec![S3Cors {
            allowed_origins: vec!["https://shop.example.com".into()],
            allowed_methods: vec!["GET".into(), "PUT".into()],
            allowed_headers: vec![],
            expose_headers: vec![],
            max_age_seconds: Some(3000),
        }])
    );
    let prod = cfg.target(Some("prod")).unwrap().s3.expect("[s3]");
    assert_eq!(prod.bucket, "shop-uploads-prod");
    assert_eq!(prod.kms_key.as_deref(), Some("alias/shop"));
    assert_eq!(prod.static_prefix, "assets/");
    assert_eq!(
        prod.uploads_prefix.as_deref(),
        Some("receipts/"),
        "merged field by field"
    );

    // `cors = []` means no CORS; an absent cors leaves it unmanaged.
    let cfg = parse(
        &format!("{BASE}\n[s3]\nbucket = \"shop-uploads\"\ncors = []\n"),
        Path::new("deploy.toml"),
    )
    .unwrap();
    assert_eq!(cfg.target(None).unwrap().s3.unwrap().cors, Some(vec![]));
    let cfg = parse(
        &format!("{BASE}\n[s3]\nbucket = \"shop-uploads\"\n"),
        Path::new("deploy.toml"),
    )
    .unwrap();
    assert_eq!(cfg.target(None).unwrap().s3.unwrap().cors, None);
}

#[test]
fn bad_values_are_refused_naming_file_field_and_fix() {
    let cases = [
        (
            "[s3]\nbucket = \"Shop_Uploads\"\n",
            "s3.bucket",
            "lowercase",
        ),
        ("[s3]\nstatic_prefix = \"static/\"\n", "s3.", "add `bucket"),
        (
            "[s3]\nbucket = \"shop-up\"\nuploads_expire_days = 30\n",
            "s3.uploads_expire_days",
            "uploads_prefix",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\nuploads_prefix = \"r/\"\n",
            "s3.uploads_prefix",
            "uploads_expire_days",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\nuploads_prefix = \"/r/\"\nuploads_expire_days = 1\n",
            "s3.uploads_prefix",
            "receipts/",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\nuploads_prefix = \"r/\"\nuploads_expire_days = 0\n",
            "s3.uploads_expire_days",
            "1 or more",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\nuploads_prefix = \"static/up/\"\nuploads_expire_days = 1\n",
            "s3.",
            "separate prefixes",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\nkms_key = \"my-key\"\n",
            "s3.kms_key",
            "alias/",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\nstatic_cache_control = \"\"\n",
            "s3.static_cache_control",
            "max-age",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\ncors = [{ allowed_origins = [\"shop.example.com\"], allowed_methods = [\"GET\"] }]\n",
            "s3.cors",
            "https://",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\ncors = [{ allowed_origins = [\"*\"], allowed_methods = [\"get\"] }]\n",
            "s3.cors",
            "`GET`",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\ncors = [{ allowed_origins = [], allowed_methods = [\"GET\"] }]\n",
            "s3.cors",
            "allowed_origins",
        ),
        (
            "[s3]\nbucket = \"shop-up\"\nstatic_dirr = \"x\"\n",
            "s3",
            "static_dir",
        ),
    ];
    assert!(cases.len() >= 10);
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

#[test]
fn a_different_app_bucket_is_a_warning() {
    let text = format!("{BASE}\n[env]\nS3_BUCKET = \"other\"\n\n[s3]\nbucket = \"shop-uploads\"\n");
    let cfg = parse(&text, Path::new("deploy.toml")).expect("valid, with a warning");
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.field.ends_with("s3.bucket") && w.message.contains("S3_BUCKET")),
        "{:?}",
        cfg.warnings
    );
    let same =
        format!("{BASE}\n[env]\nS3_BUCKET = \"shop-uploads\"\n\n[s3]\nbucket = \"shop-uploads\"\n");
    assert!(
        parse(&same, Path::new("deploy.toml"))
            .unwrap()
            .warnings
            .iter()
            .all(|w| !w.message.contains("S3_BUCKET"))
    );
}
