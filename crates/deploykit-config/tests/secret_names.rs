//! Which [env] and build-argument literals deploy.toml refuses: the one secret rule set
//! (deploykit-secretrules: variable names by word, URLs with a password, secret contents).

use std::path::Path;

use deploykit_config::{ConfigError, parse};

const BASE: &str = "[app]
name = \"budgetsync\"

[targets.local]
region = \"us-east-1\"
local = true
endpoint_url = \"http://127.0.0.1:4566\"
";

/// The field of every problem whose message says the value looks like a secret.
fn secret_fields(extra: &str) -> Vec<String> {
    let text = format!("{BASE}{extra}");
    match parse(&text, Path::new("deploy.toml")) {
        Ok(_) => Vec::new(),
        Err(ConfigError::Invalid { problems, .. }) => problems
            .into_iter()
            .filter(|p| p.message.contains("looks like a secret"))
            .map(|p| p.field)
            .collect(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn env_literals_are_judged_by_the_shared_rule() {
    // (the [env] line, refused?)
    let cases: &[(&str, bool)] = &[
        ("STRIPE_KEY = \"sk_test_1\"", true),
        ("DB_PASS = \"hunter2\"", true),
        ("API_TOKEN = \"abc\"", true),
        ("SENTRY_DSN = \"https://k@o1.ingest.sentry.io/1\"", true),
        ("DATABASE_URL = \"postgresql://app@db/app\"", true),
        ("PGPASSWORD = \"x\"", true),
        ("REDIS_URL = \"redis://:pw@cache:6379\"", true),
        ("NOTES = \"AKIAQWERTYUIOPASDFGH\"", true),
        ("KEYBOARD_LAYOUT = \"de\"", false),
        ("MONKEY = \"banana\"", false),
        ("S3_KEY_PREFIX = \"uploads/\"", false),
        ("DB_SECRET_NAME = \"budgetsync/db\"", false),
        ("STRIPE_PUBLISHABLE_KEY = \"pk_live_1\"", false),
        ("SECRET_KEY = \"\"", false),
        ("S3_BUCKET = \"b\"", false),
    ];
    for (line, refused) in cases {
        let name = line.split(' ').next().expect("name");
        let want: Vec<String> = if *refused {
            vec![format!("env.{name}")]
        } else {
            Vec::new()
        };
        assert_eq!(secret_fields(&format!("[env]\n{line}\n")), want, "{line}");
    }
}

#[test]
fn build_arguments_are_judged_by_the_same_rule() {
    assert_eq!(
        secret_fields(
            "[apprunner]\nbuild_args = { NPM_TOKEN = \"x\", PYTHON_IMAGE = \"python:3.12\" }\n"
        ),
        ["apprunner.build_args.NPM_TOKEN"]
    );
    assert_eq!(
        secret_fields("[apprunner]\nbuild_args = { CACHE_KEY_PREFIX = \"v1\" }\n"),
        Vec::<String>::new()
    );
}
