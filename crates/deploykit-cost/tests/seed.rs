//! The shipped deploy.toml, priced with the shipped table, against the seed's §11 tables
//! (/work/shared/seed, "Estimated monthly costs (ballpark)", us-east-1).
//!
//! Where a target or a line does not land in the seed's range, the test says why (the same
//! explanation is in the crate docs): the expectation is written down, not loosened.

use std::path::{Path, PathBuf};

use deploykit_cost::{
    Assumptions, Compute, Estimate, PriceTable, Route, Service, Shape, compare, estimate,
    estimate_target,
};

fn deploy_toml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy.toml")
}

fn shipped(target: &str, route: Route) -> Estimate {
    let config = deploykit_config::load(&deploy_toml()).expect("shipped deploy.toml loads");
    estimate_target(&config.target(Some(target)).unwrap(), route).expect("estimate")
}

/// The shipped deploy.toml with one more target appended (its text, validated as a file at the
/// same path so `app.path` resolves the same).
fn with_target(extra: &str, target: &str, route: Route) -> Shape {
    let text = std::fs::read_to_string(deploy_toml()).unwrap() + extra;
    let config = deploykit_config::parse(&text, &deploy_toml()).expect("modified deploy.toml");
    Shape::from_target(&config.target(Some(target)).unwrap(), route).unwrap()
}

/// The seed's small-prod sizes, written as deploy.toml can write them today.
const SMALL_PROD: &str = r#"
[targets.smallprod]
region = "us-east-1"
profile = "budgetsync-prod"

[targets.smallprod.eb]
environment = "budgetsync-smallprod"
instance_type = "t3.small"

[targets.smallprod.database]
instance_class = "db.t4g.small"
allocated_storage_gb = 50
backup_retention_days = 14
"#;

/// deploy.toml has no load-balancer switch yet, so the seed's "EB with ALB" is the shape
/// above with the load balancer turned on here.
fn small_prod() -> Estimate {
    let mut shape = with_target(SMALL_PROD, "smallprod", Route::Eb);
    let Compute::Eb { load_balanced, .. } = &mut shape.compute else {
        panic!("eb route")
    };
    *load_balanced = true;
    estimate(
        &shape,
        PriceTable::shipped().unwrap(),
        Assumptions::shipped().unwrap(),
    )
    .unwrap()
}

struct SeedRow {
    row: &'static str,
    services: &'static [Service],
    seed: (f64, f64),
    expect: Expect,
}

enum Expect {
    /// Both scenarios inside the seed's range.
    Inside,
    /// The ranges share a value (the seed's row is itself a guess about usage).
    Overlaps,
    /// Differs, for the reason given; the value is pinned instead.
    Differs {
        low: f64,
        high: f64,
        why: &'static str,
    },
}

fn check(e: &Estimate, rows: &[SeedRow]) {
    assert!(e.is_complete(), "us-east-1 has every price: {:?}", e.gaps);
    for r in rows {
        let got = r
            .services
            .iter()
            .fold(deploykit_cost::Range::ZERO, |acc, s| {
                acc.plus(e.service_total(*s))
            });
        let (lo, hi) = r.seed;
        let ok = match &r.expect {
            Expect::Inside => lo <= got.min() && got.max() <= hi,
            Expect::Overlaps => got.overlaps(lo, hi),
            Expect::Differs { low, high, why } => {
                assert!(!why.is_empty());
                (got.min() - low).abs() < 0.01 && (got.max() - high).abs() < 0.01
            }
        };
        assert!(
            ok,
            "{} {}: seed ${lo}-{hi}, estimate {:.2}-{:.2}",
            e.target,
            r.row,
            got.min(),
            got.max()
        );
    }
}

#[test]
fn dev_target_lands_in_the_seeds_dev_table() {
    let e = shipped("dev", Route::Eb);
    assert_eq!(e.route, "Elastic Beanstalk, single instance");
    check(
        &e,
        &[
            SeedRow {
                row: "Compute (EB EC2) t3.micro single-instance",
                // The instance and its public IPv4 address: $7.59 + $3.65.
                services: &[Service::Compute, Service::Network],
                seed: (8.0, 12.0),
                expect: Expect::Inside,
            },
            SeedRow {
                row: "RDS Postgres db.t4g.micro + 20GB gp3",
                services: &[Service::Database],
                seed: (13.0, 20.0),
                expect: Expect::Inside,
            },
            SeedRow {
                row: "EBS storage (EC2 root) 8-16GB",
                services: &[Service::Storage],
                seed: (1.0, 2.0),
                expect: Expect::Differs {
                    low: 0.64,
                    high: 0.64,
                    why: "8 GB of gp3 at $0.08/GB-month; the seed's ~$1-2 is 8-16 GB at older gp2-like rates",
                },
            },
            SeedRow {
                row: "S3 static + light uploads",
                services: &[Service::S3],
                seed: (0.5, 2.0),
                expect: Expect::Overlaps,
            },
            SeedRow {
                row: "Secrets Manager 1-3 secrets",
                services: &[Service::Secrets],
                seed: (0.40, 1.20),
                expect: Expect::Differs {
                    low: 1.25,
                    high: 1.45,
                    why: "3 secrets ($1.20, the seed's top: 2 in [secrets] + RDS's master password) plus API calls the seed leaves out",
                },
            },
            SeedRow {
                row: "CloudWatch Logs low volume",
                services: &[Service::CloudWatch],
                seed: (1.0, 3.0),
                expect: Expect::Overlaps,
            },
            SeedRow {
                row: "Route 53 (optional) hosted zone",
                services: &[Service::Dns],
                seed: (0.0, 0.50),
                expect: Expect::Inside,
            },
        ],
    );
    assert!(
        25.0 <= e.total.min() && e.total.max() <= 40.0,
        "seed dev total $25-40, estimate {:?}",
        e.total
    );
}

/// The shipped `prod` target is not the seed's "Small Prod": it overrides only the EB
/// environment name and the database's deletion protection, backup retention and pre-deploy
/// snapshot, so it keeps the dev sizes (t3.micro, db.t4g.micro, 20 GB), and deploykit-eb makes
/// every environment single-instance (no ALB). Priced from the same AWS pages it costs what the
/// dev shape costs: inside the seed's dev total, far under the small-prod $65-110.
#[test]
fn prod_target_has_the_dev_shape_so_it_costs_the_dev_range() {
    let prod = shipped("prod", Route::Eb);
    assert!(
        25.0 <= prod.total.min() && prod.total.max() <= 40.0,
        "{:?}",
        prod.total
    );
    assert!(prod.total.max() < 65.0);
    // Only the longer backup retention (14 days) separates it from dev.
    let dev = shipped("dev", Route::Eb);
    let c = compare(&dev, &prod);
    let changed: Vec<&str> = c
        .rows
        .iter()
        .filter(|r| {
            r.delta
                .is_some_and(|d| d.low.abs() > 1e-9 || d.high.abs() > 1e-9)
        })
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(changed, ["database.backup"]);
}

#[test]
fn the_seeds_small_prod_shape_lands_in_its_table() {
    let e = small_prod();
    assert_eq!(e.route, "Elastic Beanstalk, load balanced");
    check(
        &e,
        &[
            SeedRow {
                row: "Compute (EB EC2) t3.small",
                // The instance and its public IPv4 address.
                services: &[Service::Compute],
                seed: (15.0, 25.0),
                expect: Expect::Inside,
            },
            SeedRow {
                row: "ALB for HTTPS/health checks",
                // Hours and LCUs; its two public IPv4 addresses ($7.30) are under Network.
                services: &[Service::LoadBalancer],
                seed: (16.0, 25.0),
                expect: Expect::Inside,
            },
            SeedRow {
                row: "RDS Postgres db.t4g.small + 50GB gp3",
                services: &[Service::Database],
                seed: (25.0, 45.0),
                expect: Expect::Inside,
            },
            SeedRow {
                row: "Secrets Manager 3-6 secrets",
                services: &[Service::Secrets],
                seed: (1.20, 2.40),
                expect: Expect::Inside,
            },
        ],
    );
    assert!(
        65.0 <= e.total.min() && e.total.max() <= 110.0,
        "seed small-prod total $65-110, estimate {:?}",
        e.total
    );
    // The public IPv4 charge the seed predates: instance + two ALB addresses.
    assert!((e.service_total(Service::Network).low - 3.0 * 3.65).abs() < 0.01);
}

/// The seed's App Runner table assumes an always-on, always-active instance ($40-70). App
/// Runner bills vCPU only while serving requests and idle instances their memory alone, so the
/// low scenario (active 30% of the month) is cheaper; the high one (active all month) lands
/// inside the seed's compute row.
#[test]
fn apprunner_route_overlaps_the_seeds_table() {
    let e = shipped("dev", Route::Containers);
    assert_eq!(e.route, "App Runner");
    assert!(e.is_complete(), "{:?}", e.gaps);
    let compute = e.service_total(Service::Compute);
    assert!(40.0 <= compute.high && compute.high <= 70.0, "{compute:?}");
    assert!(compute.low < 40.0);
    assert!(e.total.overlaps(60.0, 120.0), "{:?}", e.total);
}
