//! Data-driven: bad deploy.toml snippets and the exact problem each must produce.

use std::path::Path;

use deploykit_config::{ConfigError, Problem, parse};

/// A valid minimal config; every case appends to it (so case lines start at 8).
const BASE: &str = "[app]
name = \"budgetsync\"

[targets.local]
region = \"us-east-1\"
local = true
endpoint_url = \"http://127.0.0.1:4566\"
";

struct Case {
    name: &'static str,
    /// Appended to BASE unless `full` is set.
    toml: &'static str,
    full: bool,
    /// Expected position: the first occurrence of `at` in the text after BASE.
    at: &'static str,
    field: &'static str,
    message: &'static str,
    fix: &'static str,
}

const fn case(
    name: &'static str,
    toml: &'static str,
    at: &'static str,
    field: &'static str,
    message: &'static str,
    fix: &'static str,
) -> Case {
    Case {
        name,
        toml,
        full: false,
        at,
        field,
        message,
        fix,
    }
}

const fn full(
    name: &'static str,
    toml: &'static str,
    at: &'static str,
    field: &'static str,
    message: &'static str,
    fix: &'static str,
) -> Case {
    Case {
        name,
        toml,
        full: true,
        at,
        field,
        message,
        fix,
    }
}

fn cases() -> Vec<Case> {
    vec![
        // The load-balanced upgrade needs a certificate: a domain or its ARN.
        case(
            "load_balanced without a domain or certificate",
            "[eb]\nload_balanced = true\n",
            "true",
            "eb.load_balanced",
            "load_balanced = true needs an HTTPS certificate",
            "add `domain = \"app.example.com\"`",
        ),
        case(
            "certificate_arn that is not an ACM ARN",
            "[eb]\nload_balanced = true\ncertificate_arn = \"arn:aws:iam::123456789012:role/x\"\n",
            "\"arn:aws:iam",
            "eb.certificate_arn",
            "is not an ACM certificate ARN",
            "aws acm list-certificates",
        ),
        case(
            "min_instances above max_instances",
            "[eb]\nmin_instances = 3\nmax_instances = 2\n",
            "3",
            "eb.min_instances",
            "must satisfy 1 <= min <= max",
            "min_instances = 1",
        ),
        case(
            "hosted_zone without a domain",
            "[eb]\nhosted_zone = \"auto\"\n",
            "\"auto\"",
            "eb.hosted_zone",
            "no `domain`",
            "add `domain",
        ),
        // Unknown keys at every depth, with suggestions.
        full(
            "unknown top-level key",
            "colour = \"red\"\n[app]\nname = \"budgetsync\"\n",
            "colour",
            "colour",
            "unknown field `colour`",
            "allowed here",
        ),
        full(
            "top-level key typo",
            "default_targt = \"local\"\n[app]\nname = \"budgetsync\"\n",
            "default_targt",
            "default_targt",
            "unknown field `default_targt`",
            "did you mean `default_target`?",
        ),
        case(
            "unknown key in a target table",
            "colour = \"red\"\n",
            "colour",
            "targets.local.colour",
            "unknown field `colour`",
            "allowed here",
        ),
        case(
            "unknown app key",
            "[targets.local.app]\nname = \"x\"\n",
            "app]",
            "targets.local.app",
            "unknown field `app`",
            "allowed here",
        ),
        case(
            "unknown eb key",
            "[eb]\ninstnce_type = \"t3.micro\"\n",
            "instnce_type",
            "eb.instnce_type",
            "unknown field `instnce_type`, expected one of",
            "did you mean `instance_type`?",
        ),
        case(
            "unknown section",
            "[databse]\ninstance = \"x\"\n",
            "databse",
            "databse",
            "unknown field `databse`",
            "did you mean `database`?",
        ),
        case(
            "unknown target override key",
            "[targets.prod]\nregion = \"us-east-1\"\n[targets.prod.eb]\nenviroment = \"budgetsync-prod\"\n",
            "enviroment",
            "targets.prod.eb.enviroment",
            "unknown field `enviroment`",
            "did you mean `environment`?",
        ),
        case(
            "unknown target key",
            "[targets.dev]\nregion = \"us-east-1\"\nprofiel = \"dev\"\n",
            "profiel",
            "targets.dev.profiel",
            "unknown field `profiel`",
            "did you mean `profile`?",
        ),
        case(
            "unknown key in secret ref",
            "[secrets]\nDATABASE_URL = { secert = \"budgetsync/db-url\" }\n",
            "secert",
            "secrets.DATABASE_URL.secert",
            "unknown field `secert`",
            "did you mean `secret`?",
        ),
        case(
            "unknown key in vpc connector",
            "[apprunner]\nvpc_connector = { subnet = [\"subnet-0abc\"] }\n",
            "subnet ",
            "apprunner.vpc_connector.subnet",
            "unknown field `subnet`",
            "did you mean `subnets`?",
        ),
        // Types.
        case(
            "string for a number",
            "[eb]\nkeep_versions = \"50\"\n",
            "\"50\"",
            "eb.keep_versions",
            "invalid type: string \"50\", expected u32",
            "whole number",
        ),
        case(
            "number for an env string",
            "[env]\nPORT = 8080\n",
            "8080",
            "env.PORT",
            "expected a string",
            "quote it",
        ),
        case(
            "string for a bool",
            "[eb]\nenhanced_health = \"yes\"\n",
            "\"yes\"",
            "eb.enhanced_health",
            "expected a boolean",
            "`true` or `false`",
        ),
        case(
            "negative number",
            "[database]\nallocated_storage_gb = -20\n",
            "-20",
            "database.allocated_storage_gb",
            "invalid value",
            "whole number",
        ),
        case(
            "syntax error",
            "[eb\ninstance_type = \"t3.micro\"\n",
            "\n",
            "",
            "unclosed table",
            "TOML syntax",
        ),
        // AWS names.
        case(
            "eb environment leading hyphen",
            "[eb]\nenvironment = \"-budgetsync\"\n",
            "\"-budgetsync\"",
            "eb.environment",
            "cannot start or end with a hyphen",
            "rename it",
        ),
        case(
            "eb environment too short",
            "[eb]\nenvironment = \"bud\"\n",
            "\"bud\"",
            "eb.environment",
            "must be 4-40 characters long",
            "rename it",
        ),
        case(
            "eb environment underscore",
            "[targets.local.eb]\nenvironment = \"budget_sync\"\n",
            "\"budget_sync\"",
            "targets.local.eb.environment",
            "only letters, digits and hyphens",
            "budget-sync",
        ),
        case(
            "eb application slash",
            "[eb]\napplication = \"budget/sync\"\n",
            "\"budget/sync\"",
            "eb.application",
            "cannot contain `/`",
            "rename it",
        ),
        case(
            "apprunner service underscore first",
            "[apprunner]\nservice = \"_budgetsync\"\n",
            "\"_budgetsync\"",
            "apprunner.service",
            "App Runner service name must start with a letter or digit",
            "rename it",
        ),
        case(
            "rds double hyphen",
            "[database]\ninstance = \"budgetsync--db\"\n",
            "\"budgetsync--db\"",
            "database.instance",
            "two consecutive hyphens",
            "rename it",
        ),
        case(
            "rds digit first",
            "[database]\ninstance = \"1db\"\n",
            "\"1db\"",
            "database.instance",
            "must start with a letter",
            "rename it",
        ),
        case(
            "s3 bucket uppercase",
            "[eb]\nbucket = \"My_Bucket\"\n",
            "\"My_Bucket\"",
            "eb.bucket",
            "lowercase letters, digits, dots and hyphens",
            "EB storage bucket",
        ),
        case(
            "s3 bucket ip",
            "[eb]\nbucket = \"192.168.10.12\"\n",
            "\"192.168",
            "eb.bucket",
            "IP address",
            "lowercase",
        ),
        case(
            "s3 bucket alias suffix",
            "[eb]\nbucket = \"budget-s3alias\"\n",
            "\"budget-s3alias\"",
            "eb.bucket",
            "cannot end with `-s3alias`",
            "lowercase",
        ),
        case(
            "ecr repository uppercase",
            "[apprunner]\nrepository = \"BudgetSync\"\n",
            "\"BudgetSync\"",
            "apprunner.repository",
            "ECR repository name",
            "rename it",
        ),
        // Region, target, endpoint.
        case(
            "bad region",
            "[targets.dev]\nregion = \"us-east1\"\n",
            "\"us-east1\"",
            "targets.dev.region",
            "is not an AWS region code",
            "did you mean `us-east-1`?",
        ),
        case(
            "missing region",
            "[targets.dev]\nprofile = \"dev\"\n",
            "dev]",
            "targets.dev",
            "has no region",
            "region = \"us-east-1\"",
        ),
        case(
            "local target with remote endpoint",
            "[targets.play]\nregion = \"us-east-1\"\nlocal = true\nendpoint_url = \"https://s3.amazonaws.com\"\n",
            "\"https://s3",
            "targets.play.endpoint_url",
            "not a loopback address",
            "127.0.0.1",
        ),
        case(
            "bad http_resolve",
            "[targets.dev]\nregion = \"us-east-1\"\nhttp_resolve = \"localhost\"\n",
            "\"localhost\"",
            "targets.dev.http_resolve",
            "not an IP:PORT address",
            "127.0.0.1:4566",
        ),
        case(
            "bad account id",
            "[targets.dev]\nregion = \"us-east-1\"\naccount_id = \"12345\"\n",
            "\"12345\"",
            "targets.dev.account_id",
            "exactly 12 digits",
            "get-caller-identity",
        ),
        full(
            "unknown default target",
            "default_target = \"prdo\"\n[app]\nname = \"budgetsync\"\n[targets.prod]\nregion = \"us-east-1\"\n",
            "\"prdo\"",
            "default_target",
            "default target `prdo` is not defined",
            "did you mean `prod`?",
        ),
        full(
            "no default and no local",
            "[app]\nname = \"budgetsync\"\n[targets.prod]\nregion = \"us-east-1\"\n",
            "",
            "default_target",
            "default target `local` is not defined",
            "set `default_target`",
        ),
        full(
            "missing app name",
            "[app]\npath = \"app\"\n[targets.local]\nregion = \"us-east-1\"\nlocal = true\n",
            "",
            "app.name",
            "missing app name",
            "name = \"budgetsync\"",
        ),
        // Durations and enumerations.
        case(
            "bad duration",
            "[eb]\ntimeout = \"20 parsecs\"\n",
            "\"20 parsecs\"",
            "eb.timeout",
            "is not a duration",
            "`20m`",
        ),
        case(
            "bare number duration",
            "[apprunner]\ntimeout = \"20\"\n",
            "\"20\"",
            "apprunner.timeout",
            "is not a duration",
            "`1h30m`",
        ),
        case(
            "deployment policy typo",
            "[eb]\ndeployment_policy = \"Rollin\"\n",
            "\"Rollin\"",
            "eb.deployment_policy",
            "unknown deployment policy `Rollin`",
            "did you mean `Rolling`?",
        ),
        case(
            "log retention not allowed",
            "[eb]\nlog_retention_days = 8\n",
            "8",
            "eb.log_retention_days",
            "does not accept a retention of 8 days",
            "such as 7",
        ),
        case(
            "cpu memory mismatch",
            "[apprunner]\ncpu = \"0.25 vCPU\"\nmemory = \"4 GB\"\n",
            "\"4 GB\"",
            "apprunner.memory",
            "does not offer 4 GB with 0.25 vCPU",
            "`0.5 GB`, `1 GB`",
        ),
        case(
            "max below min",
            "[apprunner]\nmin_size = 3\nmax_size = 2\n",
            "2\n",
            "apprunner.max_size",
            "between min_size (3) and 25",
            "from 3 to 25",
        ),
        case(
            "old access_role_arn key",
            "[targets.dev]\nregion = \"us-east-1\"\n[targets.dev.apprunner]\naccess_role_arn = \"arn:aws:iam::123456789012:role/x\"\n",
            "\"arn:",
            "targets.dev.apprunner.access_role_arn",
            "renamed to `access_role`: the role's name; its ARN is read from IAM",
            "access_role = \"NAME\"",
        ),
        case(
            "access role given as an ARN",
            "[apprunner]\naccess_role = \"arn:aws:iam::123456789012:role/ecr-pull\"\n",
            "\"arn:",
            "apprunner.access_role",
            "is an ARN; apprunner.access_role is the role's name",
            "`ecr-pull`",
        ),
        case(
            "instance role bad name",
            "[apprunner]\ninstance_role = \"my role\"\n",
            "\"my role\"",
            "apprunner.instance_role",
            "not an IAM role name",
            "budgetsync-apprunner-ecr-access",
        ),
        case(
            "backups off",
            "[database]\nbackup_retention_days = 0\n",
            "0\n",
            "database.backup_retention_days",
            "must be 1-35 days",
            "7-14",
        ),
        case(
            "empty CA bundle path",
            "[database]\nca_bundle = \" \"\n",
            "\" \"",
            "database.ca_bundle",
            "path is empty",
            "RDS CA bundle",
        ),
        case(
            "instance class without db prefix",
            "[database]\ninstance_class = \"t4g.micro\"\n",
            "\"t4g",
            "database.instance_class",
            "not an RDS instance class",
            "`db.` prefix",
        ),
        case(
            "custom domain without a dot",
            "[apprunner]\ndomain = \"localhost\"\n",
            "\"localhost\"",
            "apprunner.domain",
            "`localhost` is not a domain name",
            "app.example.com",
        ),
        case(
            "custom domain with a bad label",
            "[targets.local.apprunner]\ndomain = \"-app.example.com\"\n",
            "\"-app",
            "targets.local.apprunner.domain",
            "is not a domain name",
            "app.example.com",
        ),
        case(
            "hosted zone given by name",
            "[apprunner]\nhosted_zone = \"example.com\"\n",
            "\"example.com\"",
            "apprunner.hosted_zone",
            "looks like a zone name; hosted_zone takes a zone id or `auto`",
            "use `auto`",
        ),
        case(
            "hosted zone id lowercase",
            "[apprunner]\nhosted_zone = \"z123abc\"\n",
            "\"z123abc\"",
            "apprunner.hosted_zone",
            "not a Route 53 hosted zone id",
            "aws route53 list-hosted-zones",
        ),
        case(
            "bad subnet id",
            "[apprunner]\nvpc_connector = { subnets = [\"sub-1\"] }\n",
            "\"sub-1\"",
            "apprunner.vpc_connector.subnets",
            "not an id of the form `subnet-<hex>`",
            "subnet-0123456789abcdef0",
        ),
        // Environment and secrets.
        case(
            "secret-looking literal",
            "[env]\nSECRET_KEY = \"hunter2\"\n",
            "\"hunter2\"",
            "env.SECRET_KEY",
            "looks like a secret",
            "move it to [secrets]",
        ),
        case(
            "api key literal",
            "[env]\nSENDGRID_API_KEY = \"SG.abc\"\n",
            "\"SG.abc\"",
            "env.SENDGRID_API_KEY",
            "looks like a secret",
            "Secrets Manager",
        ),
        case(
            "password inside a url",
            "[env]\nDATABASE_URL = \"postgresql://u:pw@db:5432/x\"\n",
            "\"postgresql",
            "env.DATABASE_URL",
            "looks like a secret",
            "[secrets]",
        ),
        case(
            "secret literal in a target override",
            "[targets.local.env]\nDB_PASSWORD = \"x\"\n",
            "\"x\"",
            "targets.local.env.DB_PASSWORD",
            "looks like a secret",
            "[secrets]",
        ),
        case(
            "env and secret both",
            "[env]\nDATABASE_URL = \"\"\n[secrets]\nDATABASE_URL = { secret = \"budgetsync/db-url\" }\n",
            "DATABASE_URL",
            "env.DATABASE_URL",
            "both in [env] and in [secrets]",
            "keep it in one place",
        ),
        case(
            "bad secret reference",
            "[secrets]\nSECRET_KEY = { secret = \"my secret value!\" }\n",
            "\"my secret",
            "secrets.SECRET_KEY.secret",
            "not a Secrets Manager secret name or ARN",
            "never its value",
        ),
        case(
            "bad env key",
            "[env]\n\"1ABC\" = \"x\"\n",
            "\"1ABC\"",
            "env.1ABC",
            "not a portable environment variable name",
            "letters, digits",
        ),
        case(
            "oversize env value",
            "[env]\nBIG = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n",
            "\"xxx",
            "env.BIG",
            "Elastic Beanstalk allows 256",
            "shorten it",
        ),
        case(
            "secret as a build arg",
            "[apprunner]\nbuild_args = { GITHUB_TOKEN = \"ghp_x\" }\n",
            "GITHUB_TOKEN",
            "apprunner.build_args.GITHUB_TOKEN",
            "stored in the image's history",
            "never as a build argument",
        ),
        case(
            "bad build arg name",
            "[apprunner]\nbuild_args = { \"1X\" = \"v\" }\n",
            "\"1X\"",
            "apprunner.build_args.1X",
            "not a valid Dockerfile ARG name",
            "underscores",
        ),
        case(
            "oversize env key",
            "[env]\nKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK = \"v\"\n",
            "\"v\"",
            "env.KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK",
            "Elastic Beanstalk allows 128",
            "shorten the name",
        ),
    ]
}

fn problems_of(text: &str) -> Vec<Problem> {
    match parse(text, Path::new("deploy.toml")) {
        Ok(c) => panic!(
            "expected problems, got a config with targets {:?}",
            c.target_names()
        ),
        Err(e @ ConfigError::Invalid { .. }) => e.problems().to_vec(),
        Err(e) => panic!("expected Invalid, got {e}"),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[test]
fn bad_configs_table() {
    let mut failures = Vec::new();
    for c in cases() {
        let text = if c.full {
            c.toml.to_owned()
        } else {
            format!("{BASE}{}", c.toml)
        };
        let problems = problems_of(&text);
        let Some(p) = problems.iter().find(|p| p.message.contains(c.message)) else {
            failures.push(format!(
                "{}: no problem with message {:?} in {problems:#?}",
                c.name, c.message
            ));
            continue;
        };
        if p.field != c.field {
            failures.push(format!(
                "{}: field {:?}, want {:?}",
                c.name, p.field, c.field
            ));
        }
        if !p.fix.contains(c.fix) {
            failures.push(format!("{}: fix {:?} lacks {:?}", c.name, p.fix, c.fix));
        }
        if !c.at.is_empty() {
            let start = if c.full { 0 } else { BASE.len() };
            let offset = start + text[start..].find(c.at).expect("marker in text");
            let (line, col) = line_col(&text, offset);
            if (p.line, p.column) != (Some(line), Some(col)) {
                failures.push(format!(
                    "{}: at {:?}:{:?}, want {line}:{col}",
                    c.name, p.line, p.column
                ));
            }
        }
        let rendered = ConfigError::Invalid {
            path: "deploy.toml".into(),
            problems: problems.clone(),
        }
        .to_string();
        if !rendered.contains(c.message) || !rendered.contains("fix: ") {
            failures.push(format!(
                "{}: display lacks message or fix:\n{rendered}",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = format!(
        "{BASE}[eb]\ninstnce_type = \"t3.micro\"\nenvironment = \"x\"\n[apprunner]\nservise = \"a\"\n[database]\ninstance = \"9\"\n[env]\nAPI_TOKEN = \"abc\"\n[targets.dev]\nregion = \"mars-1\"\n"
    );
    let problems = problems_of(&text);
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for want in [
        "eb.instnce_type",
        "apprunner.servise",
        "eb.environment",
        "database.instance",
        "env.API_TOKEN",
        "targets.dev.region",
    ] {
        assert!(fields.contains(&want), "{want} missing from {fields:?}");
    }
    // Sorted by position, and the rendering lists each with file:line:col.
    let lines: Vec<usize> = problems.iter().filter_map(|p| p.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    let rendered = ConfigError::Invalid {
        path: "deploy.toml".into(),
        problems,
    }
    .to_string();
    assert!(
        rendered.contains("deploy.toml:9:1: eb.instnce_type: unknown field `instnce_type`"),
        "{rendered}"
    );
    assert!(rendered.contains("problems):"), "{rendered}");
}

#[test]
fn derived_names_are_checked_and_blame_app_name() {
    let long = "a".repeat(38);
    let text = format!(
        "[app]\nname = \"{long}\"\n[targets.local]\nregion = \"us-east-1\"\nlocal = true\n"
    );
    let problems = problems_of(&text);
    let p = problems
        .iter()
        .find(|p| p.message.contains("eb.environment defaults to"))
        .expect("derived env name");
    assert_eq!(
        (p.line, p.column, p.field.as_str()),
        (Some(2), Some(8), "app.name")
    );
    assert!(p.fix.contains("set `eb.environment` explicitly"));
}

#[test]
fn oversize_env_total_counts_secret_references() {
    // 20 values of 200 bytes fit individually but not together.
    let mut text = format!("{BASE}[env]\n");
    for i in 0..20 {
        text.push_str(&format!("SETTING_{i:02} = \"{}\"\n", "v".repeat(200)));
    }
    let problems = problems_of(&text);
    let p = problems
        .iter()
        .find(|p| p.field == "env")
        .expect("total problem");
    assert!(p.message.contains("Elastic Beanstalk allows 4096"), "{p:?}");
    assert!(p.message.contains("target `local`"));
    assert_eq!(p.line, Some(8));
    assert!(p.fix.contains("remove"));

    // Just under the limit passes; a secret reference then tips it over.
    let mut text = format!("{BASE}[env]\n");
    for i in 0..18 {
        text.push_str(&format!("SETTING_{i:02} = \"{}\"\n", "v".repeat(215)));
    }
    parse(&text, Path::new("deploy.toml")).expect("under the limit");
    text.push_str("[secrets]\nSECRET_KEY = { secret = \"budgetsync/secret-key\" }\n");
    let problems = problems_of(&text);
    assert!(
        problems
            .iter()
            .any(|p| p.field == "env" && p.message.contains("4096")),
        "{problems:#?}"
    );
}

#[test]
fn secret_arn_length_is_bounded_without_building_an_arn() {
    // arn:aws:secretsmanager:us-east-1:<12 digits>:secret:budgetsync/secret-key-AbCdEf
    let real = "arn:aws:secretsmanager:us-east-1:123456789012:secret:budgetsync/secret-key-AbCdEf";
    assert_eq!(
        deploykit_config::secret_arn_len_bound("budgetsync/secret-key", "us-east-1"),
        real.len()
    );
    assert_eq!(
        deploykit_config::secret_arn_len_bound(real, "eu-west-1"),
        real.len()
    );
}

#[test]
fn check_eb_env_limits_for_command_line_values() {
    use std::collections::BTreeMap;
    let ok: BTreeMap<String, String> = [("A".to_owned(), "b".to_owned())].into();
    assert!(deploykit_config::check_eb_env_limits(&ok).is_ok());
    let bad: BTreeMap<String, String> = [
        ("K".repeat(129), "v".to_owned()),
        ("V".to_owned(), "x".repeat(257)),
    ]
    .into();
    let problems = deploykit_config::check_eb_env_limits(&bad).unwrap_err();
    assert_eq!(problems.len(), 2);
    assert!(
        problems
            .iter()
            .all(|p| p.line.is_none() && !p.fix.is_empty())
    );
}

#[test]
fn unknown_target_suggests() {
    let text = format!("{BASE}[targets.prod]\nregion = \"us-east-1\"\n");
    let config = parse(&text, Path::new("deploy.toml")).unwrap();
    let err = config.target(Some("prdo")).unwrap_err();
    match &err {
        ConfigError::UnknownTarget {
            name,
            suggestion,
            available,
            ..
        } => {
            assert_eq!(name, "prdo");
            assert_eq!(suggestion.as_deref(), Some("prod"));
            assert_eq!(available, &["local", "prod"]);
        }
        other => panic!("{other}"),
    }
    let s = err.to_string();
    assert!(s.contains("unknown target `prdo`"), "{s}");
    let help = |e: &ConfigError| deploykit_report::Diagnostic::help(e).unwrap_or_default();
    assert!(help(&err).contains("did you mean `prod`?"), "{err:?}");
    let err = config.target(Some("staging")).unwrap_err();
    assert!(help(&err).contains("[targets.staging]"), "{err:?}");
}

#[test]
fn missing_file_says_how_to_fix() {
    let err = deploykit_config::load(Path::new("/nonexistent/deploy.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string().contains("/nonexistent/deploy.toml"),
        "{err}"
    );
    let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
    assert!(help.contains("create /nonexistent/deploy.toml"), "{help}");
}
