//! Estimates as data: gaps, errors, routes and comparisons.

use std::path::{Path, PathBuf};

use deploykit_cost::{
    Assumptions, Cell, Compute, CostError, DatabaseShape, PriceTable, Range, Route, Shape,
    StorageType, compare, estimate, render,
};
use deploykit_report::{Category, Diagnostic};

fn deploy_toml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy.toml")
}

fn shape(region: &str) -> Shape {
    Shape {
        target: "t".into(),
        region: region.into(),
        local: false,
        compute: Compute::Eb {
            instance_type: "t3.micro".into(),
            load_balanced: false,
        },
        database: Some(DatabaseShape {
            instance_class: "db.t4g.micro".into(),
            multi_az: false,
            storage_type: StorageType::Gp3,
            allocated_gb: 20,
            max_allocated_gb: Some(100),
            backup_retention_days: 7,
        }),
        app_secrets: 2,
        rds_managed_secret: true,
        app_bucket: Some("b".into()),
        hosted_zone: false,
        streams_logs: true,
    }
}

fn run(shape: &Shape) -> Result<deploykit_cost::Estimate, CostError> {
    estimate(
        shape,
        PriceTable::shipped().unwrap(),
        Assumptions::shipped().unwrap(),
    )
}

const TINY_TABLE: &str = r#"
retrieved = "2026-12-02"
currency = "USD"
hours_per_month = 730
source = ["https://aws.amazon.com/ec2/pricing/on-demand/"]
[units]
"ec2.t3.micro" = { unit = "hour", what = "t3.micro", source = "https://aws.amazon.com/ec2/pricing/on-demand/" }
"ebs.gp3" = { unit = "GB-month", what = "gp3", source = "https://aws.amazon.com/ebs/pricing/" }
"vpc.public_ipv4" = { unit = "hour", what = "IPv4", source = "https://aws.amazon.com/vpc/pricing/" }
[regions.xx-test-1]
prices = { "ec2.t3.micro" = 0.01, "vpc.public_ipv4" = 0.005 }
missing = { "ebs.gp3" = "not looked up" }
"#;

/// A unit without a price is a named gap: listed, left out of the total, never zero.
#[test]
fn a_missing_price_is_a_named_gap_not_zero() {
    let prices = PriceTable::parse(TINY_TABLE, "tiny.toml").unwrap();
    let mut s = shape("xx-test-1");
    s.database = None;
    s.app_bucket = None;
    s.app_secrets = 0;
    let e = estimate(&s, &prices, Assumptions::shipped().unwrap()).unwrap();
    let root = e.line("storage.root_volume").unwrap();
    assert_eq!(root.monthly, None);
    assert_eq!(root.unit_price, None);
    let gaps: Vec<String> = e.gaps.iter().map(ToString::to_string).collect();
    assert!(
        gaps.contains(
            &"no price for EBS gp3 root volume (ebs.gp3) in xx-test-1: not looked up".to_owned()
        ),
        "{gaps:#?}"
    );
    // Units this small table does not define at all are gaps too, by name.
    assert!(
        gaps.iter().any(
            |g| g.starts_with("no price for CloudWatch alarms (cloudwatch.alarm) in xx-test-1")
        )
    );
    assert!(!e.is_complete());
    // The total is exactly the priced lines: instance and its address.
    let expected = 730.0 * 0.01 + 730.0 * 0.005;
    assert!((e.total.low - expected).abs() < 1e-9 && (e.total.high - expected).abs() < 1e-9);
    assert!(
        e.lines
            .iter()
            .all(|l| l.monthly.is_some() == l.unit_price.is_some())
    );
    let text = render::estimate_text(&e);
    assert!(
        text.contains("no price for EBS gp3 root volume (ebs.gp3) in xx-test-1"),
        "{text}"
    );
}

#[test]
fn shipped_regions_without_prices_say_so_per_line() {
    let e = run(&shape("eu-central-1")).unwrap();
    let g = e
        .gaps
        .iter()
        .find(|g| g.price_key == "ec2.t3.micro")
        .expect("gap");
    assert_eq!(g.region, "eu-central-1");
    assert_eq!(
        g.to_string(),
        "no price for EC2 t3.micro (EB instance) (ec2.t3.micro) in eu-central-1: no dated regional source found"
    );
    // What is priced there still is: the IPv4 charge and the secrets.
    assert_eq!(
        e.line("network.instance_ipv4").unwrap().unit_price,
        Some(0.005)
    );
    assert!(e.line("secrets.secrets").unwrap().monthly.is_some());
    assert!(e.notes.iter().any(|n| n.contains("left out of the total")));
}

#[test]
fn unknown_sizes_name_the_deploy_toml_key_and_the_known_sizes() {
    let mut s = shape("us-east-1");
    s.target = "prod".into();
    if let Some(db) = &mut s.database {
        db.instance_class = "db.r6g.large".into();
    }
    let err = run(&s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "target `prod`: RDS instance class `db.r6g.large` (deploy.toml `[database] instance_class (or [targets.prod.database])`) is not in the price table"
    );
    assert_eq!(err.category(), Category::Input);
    let help = err.help().unwrap();
    assert_eq!(
        help,
        "set [database] instance_class (or [targets.prod.database]) to one the price table knows (db.t4g.medium, db.t4g.micro, db.t4g.small), or add its price to the price table"
    );
    assert!(!help.contains("cargo") && !help.contains("xtask"));

    let mut s = shape("us-east-1");
    s.compute = Compute::Eb {
        instance_type: "t3.mirco".into(),
        load_balanced: false,
    };
    let err = run(&s).unwrap_err();
    assert!(
        err.to_string()
            .contains("EC2 instance type `t3.mirco` (deploy.toml `[eb] instance_type"),
        "{err}"
    );
    assert!(err.help().unwrap().contains("t3.micro"));

    let err = run(&shape("sa-east-1")).unwrap_err();
    assert!(matches!(err, CostError::UnknownRegion { .. }));
    assert!(err.to_string().contains("region `sa-east-1` is not in the price table (it has ap-southeast-1, eu-central-1, eu-west-1, us-east-1, us-west-2)"), "{err}");
}

/// The same error from a deploy.toml: validation accepts any `db.*` class, the estimate
/// does not know its price.
#[test]
fn unknown_class_from_a_modified_deploy_toml() {
    let text = std::fs::read_to_string(deploy_toml()).unwrap()
        + "\n[targets.big]\nregion = \"us-east-1\"\n[targets.big.database]\ninstance_class = \"db.r6g.large\"\n";
    let config = deploykit_config::parse(&text, &deploy_toml()).unwrap();
    let err = deploykit_cost::estimate_target(&config.target(Some("big")).unwrap(), Route::Eb)
        .unwrap_err();
    assert!(err.to_string().contains("[targets.big.database]"), "{err}");
}

#[test]
fn multi_az_doubles_instance_and_storage() {
    let single = run(&shape("us-east-1")).unwrap();
    let mut s = shape("us-east-1");
    s.database.as_mut().unwrap().multi_az = true;
    let multi = run(&s).unwrap();
    for id in ["database.instance", "database.storage"] {
        let (a, b) = (
            single.line(id).unwrap().monthly.unwrap(),
            multi.line(id).unwrap().monthly.unwrap(),
        );
        assert!((b.low - 2.0 * a.low).abs() < 1e-9, "{id}");
    }
    assert!(
        (single
            .line("database.instance")
            .unwrap()
            .monthly
            .unwrap()
            .low
            - 730.0 * 0.016)
            .abs()
            < 1e-9
    );
}

#[test]
fn routes_use_their_own_units() {
    let cases: &[(Compute, &[&str])] = &[
        (
            Compute::Eb {
                instance_type: "t3.micro".into(),
                load_balanced: false,
            },
            &[
                "compute.instance",
                "storage.root_volume",
                "network.instance_ipv4",
            ],
        ),
        (
            Compute::Eb {
                instance_type: "t3.small".into(),
                load_balanced: true,
            },
            &[
                "compute.instance",
                "storage.root_volume",
                "network.instance_ipv4",
                "lb.alb",
                "lb.lcu",
                "network.alb_ipv4",
            ],
        ),
        (
            Compute::AppRunner {
                vcpu: 1.0,
                memory_gb: 2.0,
                min_instances: 1,
            },
            &[
                "compute.apprunner_vcpu",
                "compute.apprunner_memory",
                "compute.apprunner_idle",
            ],
        ),
        (
            Compute::EcsExpress {
                vcpu: 1.0,
                memory_gb: 2.0,
                min_tasks: 1,
            },
            &[
                "compute.fargate_vcpu",
                "compute.fargate_memory",
                "network.task_ipv4",
                "lb.alb",
                "lb.lcu",
                "network.alb_ipv4",
            ],
        ),
    ];
    for (compute, ids) in cases {
        let mut s = shape("us-east-1");
        s.compute = compute.clone();
        let e = run(&s).unwrap();
        let got: Vec<&str> = e
            .lines
            .iter()
            .map(|l| l.id.as_str())
            .take_while(|id| !id.starts_with("database."))
            .collect();
        assert_eq!(&got, ids, "{compute:?}");
        assert!(e.is_complete(), "{:?}", e.gaps);
    }
}

#[test]
fn apprunner_bills_idle_memory_for_the_rest_of_the_month() {
    let mut s = shape("us-east-1");
    s.compute = Compute::AppRunner {
        vcpu: 1.0,
        memory_gb: 2.0,
        min_instances: 1,
    };
    let e = run(&s).unwrap();
    let active = e.line("compute.apprunner_vcpu").unwrap().quantity;
    let idle = e.line("compute.apprunner_idle").unwrap().quantity;
    // vCPU-hours at 1 vCPU are active hours; idle GB-hours are 2 GB x the remaining hours.
    assert!((idle.low - 2.0 * (730.0 - active.low)).abs() < 1e-9);
    assert!((idle.high - 2.0 * (730.0 - active.high)).abs() < 1e-9);
    assert!(
        e.line("compute.apprunner_vcpu")
            .unwrap()
            .note
            .contains("assumed 219-730 h")
    );
    assert!(e.total.low < e.total.high);
}

#[test]
fn assumed_lines_are_marked_and_fixed_ones_are_not() {
    let e = run(&shape("us-east-1")).unwrap();
    for (id, assumed) in [
        ("compute.instance", false),
        ("storage.root_volume", true),
        ("database.instance", false),
        ("database.backup", true),
        ("s3.storage", true),
        ("secrets.secrets", false),
        ("cloudwatch.logs", true),
        ("dns.zone", true),
    ] {
        assert_eq!(e.line(id).unwrap().assumption, assumed, "{id}");
    }
    let secrets = e.line("secrets.secrets").unwrap();
    assert_eq!(secrets.quantity, Range::fixed(3.0));
    assert_eq!(
        secrets.note,
        "2 in [secrets] + 1 RDS keeps for the master password"
    );
}

#[test]
fn comparison_gives_per_line_deltas() {
    let micro = run(&shape("us-east-1")).unwrap();
    let mut s = shape("us-east-1");
    s.compute = Compute::Eb {
        instance_type: "t3.small".into(),
        load_balanced: true,
    };
    s.database.as_mut().unwrap().instance_class = "db.t4g.small".into();
    let bigger = run(&s).unwrap();
    let c = compare(&micro, &bigger);
    let row = |id: &str| c.rows.iter().find(|r| r.id == id).unwrap();

    let inst = row("compute.instance");
    assert_eq!(
        inst.what,
        "EC2 t3.micro (EB instance) -> EC2 t3.small (EB instances)"
    );
    let d = inst.delta.unwrap();
    assert!((d.low - 730.0 * (0.0208 - 0.0104)).abs() < 1e-9);

    // Lines only the load-balanced shape has count from zero.
    let alb = row("lb.alb");
    assert_eq!(alb.left, Cell::Absent);
    assert!((alb.delta.unwrap().low - 730.0 * 0.0225).abs() < 1e-9);

    let unchanged = row("secrets.secrets");
    assert_eq!(unchanged.delta, Some(Range::fixed(0.0)));

    let sum = c
        .rows
        .iter()
        .filter_map(|r| r.delta)
        .fold(Range::ZERO, Range::plus);
    assert!(
        (sum.low - c.total_delta.low).abs() < 1e-9 && (sum.high - c.total_delta.high).abs() < 1e-9
    );

    let text = render::comparison_text(&c);
    assert!(
        text.contains("EC2 t3.micro (EB instance) -> EC2 t3.small (EB instances)"),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap()
            .trim_start()
            .starts_with("TOTAL"),
        "{text}"
    );
}

/// Comparing across regions: a gap on either side gives no delta for that row, not a
/// made-up one.
#[test]
fn a_gap_on_one_side_gives_no_delta() {
    let us = run(&shape("us-east-1")).unwrap();
    let eu = run(&shape("eu-central-1")).unwrap();
    let c = compare(&us, &eu);
    let inst = c.rows.iter().find(|r| r.id == "compute.instance").unwrap();
    assert_eq!(inst.right, Cell::Gap);
    assert_eq!(inst.delta, None);
    let ipv4 = c
        .rows
        .iter()
        .find(|r| r.id == "network.instance_ipv4")
        .unwrap();
    assert_eq!(ipv4.delta, Some(Range::fixed(0.0)));
    assert!(!c.right.complete && c.left.complete);
}

#[test]
fn the_local_target_is_priced_as_aws_with_a_note() {
    let config = deploykit_config::load(&deploy_toml()).unwrap();
    let e =
        deploykit_cost::estimate_target(&config.target(Some("local")).unwrap(), Route::Eb).unwrap();
    assert!(e.local);
    assert!(e.notes.iter().any(|n| n.contains("costs nothing on AWS")));
    let text = render::estimate_text(&e);
    assert!(
        text.starts_with(
            "Monthly estimate: target local (us-east-1), Elastic Beanstalk, single instance\n"
        ),
        "{text}"
    );
}

#[test]
fn the_text_table_has_one_row_per_line_and_the_total() {
    let e = run(&shape("us-east-1")).unwrap();
    let text = render::estimate_text(&e);
    let row = |what: &str| {
        text.lines()
            .find(|l| l.get(2..).is_some_and(|s| s.starts_with(what)))
            .unwrap_or_else(|| panic!("no row {what}:\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        row("EC2 t3.micro (EB instance)"),
        "EC2 t3.micro (EB instance) 730 hour 0.0104/hour 7.59"
    );
    assert_eq!(
        row("Secrets Manager secrets"),
        "Secrets Manager secrets 3 secret-month 0.40/secret-month 1.20"
    );
    assert_eq!(
        row("S3 GET requests"),
        "* S3 GET requests 100-1,000 x 1,000 requests 0.0004/1,000 requests 0.04-0.40"
    );
    assert_eq!(row("TOTAL"), format!("TOTAL {}", render::money(e.total)));
    assert_eq!(render::money(Range::new(32.34, 28.12)), "28.12-32.34");
    assert_eq!(render::delta(Range::new(0.0, 0.27)), "+0.00..+0.27");
}

/// `[s3] bucket` is the app bucket; without it, the bucket `[env] S3_BUCKET` names; with
/// neither, no S3 lines.
#[test]
fn the_app_bucket_comes_from_s3_then_env() {
    let shipped = std::fs::read_to_string(deploy_toml()).unwrap();
    let cases: &[(&str, Option<&str>)] = &[
        ("", Some("budgetsync-uploads")),
        (
            "\n[targets.x.s3]\nbucket = \"budgetsync-assets-x\"\n",
            Some("budgetsync-assets-x"),
        ),
    ];
    for (extra, bucket) in cases {
        let text = format!("{shipped}\n[targets.x]\nregion = \"us-east-1\"\n{extra}");
        let config = deploykit_config::parse(&text, &deploy_toml()).unwrap();
        let s = Shape::from_target(&config.target(Some("x")).unwrap(), Route::Eb).unwrap();
        assert_eq!(s.app_bucket.as_deref(), *bucket, "{extra}");
    }
    let mut s = shape("us-east-1");
    s.app_bucket = None;
    let e = run(&s).unwrap();
    assert!(e.lines.iter().all(|l| !l.id.starts_with("s3.")));
}
