//! The estimate: line items priced from the table, a total range, and named gaps.
//!
//! The code decides *which* units a shape uses and *how many*; every price comes from the
//! [`PriceTable`]. A unit the table has no price for is a [`Gap`], never zero.

use serde::Serialize;

use crate::shape::{Compute, DatabaseShape, Shape};
use crate::{Assumptions, CostError, Lookup, PriceTable};

/// A low/high pair: the estimate's low-traffic and busier scenarios.
///
/// `low` and `high` are the two scenarios' values, summed scenario by scenario. A line that
/// shrinks as usage grows (App Runner idle memory) has `low > high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub low: f64,
    pub high: f64,
}

impl Range {
    pub const ZERO: Range = Range {
        low: 0.0,
        high: 0.0,
    };

    pub fn new(low: f64, high: f64) -> Range {
        Range { low, high }
    }

    pub fn fixed(v: f64) -> Range {
        Range { low: v, high: v }
    }

    pub fn scale(self, k: f64) -> Range {
        Range::new(self.low * k, self.high * k)
    }

    pub fn times(self, other: Range) -> Range {
        Range::new(self.low * other.low, self.high * other.high)
    }

    pub fn plus(self, other: Range) -> Range {
        Range::new(self.low + other.low, self.high + other.high)
    }

    pub fn minus(self, other: Range) -> Range {
        Range::new(self.low - other.low, self.high - other.high)
    }

    /// To a millionth: sums and products of decimal prices without float noise in JSON.
    pub fn rounded(self) -> Range {
        let r = |v: f64| (v * 1e6).round() / 1e6;
        Range::new(r(self.low), r(self.high))
    }

    /// The smaller and the larger of the two values.
    pub fn min(self) -> f64 {
        self.low.min(self.high)
    }

    pub fn max(self) -> f64 {
        self.low.max(self.high)
    }

    /// True when both scenarios give the same value (to the cent).
    pub fn is_fixed(self) -> bool {
        (self.low - self.high).abs() < 0.005
    }

    /// True when `[min, max]` and `[lo, hi]` share a value.
    pub fn overlaps(self, lo: f64, hi: f64) -> bool {
        self.min() <= hi && lo <= self.max()
    }
}

/// The service a line belongs to (for grouping and per-service totals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    Compute,
    LoadBalancer,
    Network,
    Storage,
    Database,
    S3,
    Secrets,
    #[serde(rename = "cloudwatch")]
    CloudWatch,
    Dns,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Compute => "compute",
            Service::LoadBalancer => "load balancer",
            Service::Network => "network",
            Service::Storage => "storage",
            Service::Database => "database",
            Service::S3 => "s3",
            Service::Secrets => "secrets",
            Service::CloudWatch => "cloudwatch",
            Service::Dns => "dns",
        }
    }
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineItem {
    /// Stable key, the same for the same role across shapes (`compute.instance`), so two
    /// estimates can be compared line by line.
    pub id: String,
    pub service: Service,
    pub what: String,
    /// Units a month, per scenario.
    pub quantity: Range,
    /// What one unit is (`hour`, `GB-month`, ...), from the price table.
    pub unit: String,
    /// The price table key.
    pub price_key: String,
    /// `None` when the table has no price for the region (see the estimate's gaps).
    pub unit_price: Option<f64>,
    /// `quantity x unit_price`; `None` for a gap.
    pub monthly: Option<Range>,
    /// The quantity rests on a usage assumption (see `note`).
    pub assumption: bool,
    /// Where the quantity comes from.
    pub note: String,
}

/// A unit the price table has no price for in the target's region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub what: String,
    pub price_key: String,
    pub region: String,
    pub reason: String,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no price for {} ({}) in {}: {}",
            self.what, self.price_key, self.region, self.reason
        )
    }
}

/// A monthly estimate for one shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub target: String,
    pub region: String,
    /// e.g. `Elastic Beanstalk, single instance`.
    pub route: String,
    pub local: bool,
    pub currency: String,
    /// The price table: `shipped` or a path, its date and pages.
    pub prices_origin: String,
    pub prices_retrieved: String,
    pub prices_sources: Vec<String>,
    pub lines: Vec<LineItem>,
    /// Sum of the priced lines, per scenario. Gaps are not in it.
    pub total: Range,
    /// Units without a price: the total leaves them out.
    pub gaps: Vec<Gap>,
    /// Charges the estimate does not cover.
    pub not_included: Vec<String>,
    pub notes: Vec<String>,
}

impl Estimate {
    /// True when every line has a price.
    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }

    pub fn line(&self, id: &str) -> Option<&LineItem> {
        self.lines.iter().find(|l| l.id == id)
    }

    /// Sum of one service's priced lines.
    pub fn service_total(&self, service: Service) -> Range {
        self.lines
            .iter()
            .filter(|l| l.service == service)
            .filter_map(|l| l.monthly)
            .fold(Range::ZERO, Range::plus)
    }
}

/// Estimates a resolved deploy.toml target with the shipped price table and assumptions.
pub fn estimate_target(
    target: &deploykit_config::ResolvedTarget,
    route: crate::Route,
) -> Result<Estimate, CostError> {
    let shape = Shape::from_target(target, route)?;
    estimate(&shape, PriceTable::shipped()?, Assumptions::shipped()?)
}

/// Prices `shape` from `prices`. Errors only for a region the table does not list or a size
/// it does not know; a known unit without a price in the region becomes a [`Gap`].
pub fn estimate(
    shape: &Shape,
    prices: &PriceTable,
    assumptions: &Assumptions,
) -> Result<Estimate, CostError> {
    if prices.region(&shape.region).is_none() {
        return Err(CostError::UnknownRegion {
            target: shape.target.clone(),
            region: shape.region.clone(),
            known: prices.regions(),
        });
    }
    check_sizes(shape, prices)?;
    let mut b = Builder {
        prices,
        region: &shape.region,
        hours: prices.hours_per_month(),
        lines: Vec::new(),
        gaps: Vec::new(),
    };
    let a = assumptions;
    compute_lines(&mut b, &shape.compute, a);
    if let Some(db) = &shape.database {
        database_lines(&mut b, db, a);
    }
    if let Some(bucket) = &shape.app_bucket {
        let q = Range::from(a.s3.storage_gb);
        b.line(
            "s3.storage",
            Service::S3,
            "S3 Standard storage (app bucket)",
            "s3.standard",
            q,
            true,
            format!(
                "bucket `{bucket}`: static files and uploads, assumed {}",
                gb(q)
            ),
        );
        let q = Range::from(a.s3.put_requests).scale(1.0 / 1000.0);
        b.line(
            "s3.put",
            Service::S3,
            "S3 PUT/COPY/POST/LIST requests",
            "s3.put",
            q,
            true,
            format!(
                "assumed {} requests a month",
                count(Range::from(a.s3.put_requests))
            ),
        );
        let q = Range::from(a.s3.get_requests).scale(1.0 / 1000.0);
        b.line(
            "s3.get",
            Service::S3,
            "S3 GET requests",
            "s3.get",
            q,
            true,
            format!(
                "assumed {} requests a month",
                count(Range::from(a.s3.get_requests))
            ),
        );
    }
    let secrets =
        shape.app_secrets + u32::from(shape.database.is_some() && shape.rds_managed_secret);
    if secrets > 0 {
        let mut note = format!("{} in [secrets]", shape.app_secrets);
        if shape.database.is_some() && shape.rds_managed_secret {
            note.push_str(" + 1 RDS keeps for the master password");
        }
        b.line(
            "secrets.secrets",
            Service::Secrets,
            "Secrets Manager secrets",
            "secretsmanager.secret",
            Range::fixed(f64::from(secrets)),
            false,
            note,
        );
        let q = Range::from(a.secrets.api_calls).scale(1.0 / 10_000.0);
        b.line(
            "secrets.api",
            Service::Secrets,
            "Secrets Manager API calls",
            "secretsmanager.api",
            q,
            true,
            format!(
                "assumed {} calls a month (deploys, starts, app reads)",
                count(Range::from(a.secrets.api_calls))
            ),
        );
    }
    if shape.streams_logs {
        let q = Range::from(a.cloudwatch.logs_ingest_gb);
        b.line(
            "cloudwatch.logs",
            Service::CloudWatch,
            "CloudWatch Logs ingestion",
            "cloudwatch.logs_ingest",
            q,
            true,
            format!(
                "assumed {} of app and platform logs a month; stored logs (GB-month) not included",
                gb(q)
            ),
        );
    }
    let q = Range::from(a.cloudwatch.alarms);
    b.line("cloudwatch.alarms", Service::CloudWatch, "CloudWatch alarms", "cloudwatch.alarm", q, true,
        "the seed's alarms (app CPU and 5xx, RDS CPU and free storage); deploykit does not create them yet; the free tier's 10 alarms are not subtracted".into());
    let (q, assumed, note) = if shape.hosted_zone {
        (
            Range::fixed(1.0),
            false,
            "the hosted zone deploy.toml names".to_owned(),
        )
    } else {
        (Range::from(a.route53.optional_hosted_zones), true,
            "deploy.toml names no hosted zone; the seed counts one as optional (domain fee not included)".to_owned())
    };
    b.line(
        "dns.zone",
        Service::Dns,
        "Route 53 hosted zone",
        "route53.hosted_zone",
        q,
        assumed,
        note,
    );

    let total = b
        .lines
        .iter()
        .filter_map(|l| l.monthly)
        .fold(Range::ZERO, Range::plus)
        .rounded();
    let mut notes = Vec::new();
    if shape.local {
        notes.push(format!(
            "the local target runs on this machine and costs nothing on AWS; this is what the same shape costs in {}",
            shape.region
        ));
    }
    if !b.gaps.is_empty() {
        notes.push(format!(
            "{} line(s) have no price in {} and are left out of the total",
            b.gaps.len(),
            shape.region
        ));
    }
    Ok(Estimate {
        target: shape.target.clone(),
        region: shape.region.clone(),
        route: shape.compute.label().to_owned(),
        local: shape.local,
        currency: prices.currency().to_owned(),
        prices_origin: prices.origin().to_owned(),
        prices_retrieved: prices.retrieved().to_owned(),
        prices_sources: prices.sources().to_vec(),
        lines: b.lines,
        total,
        gaps: b.gaps,
        not_included: vec![
            "data transfer out to the internet".into(),
            "domain registration".into(),
            "ECR image storage (container routes)".into(),
            "free tier credits and taxes".into(),
        ],
        notes,
    })
}

/// Unknown sizes are errors (a typo in deploy.toml), unlike a known size without a price.
fn check_sizes(shape: &Shape, prices: &PriceTable) -> Result<(), CostError> {
    if let Compute::Eb { instance_type, .. } = &shape.compute
        && prices.unit(&format!("ec2.{instance_type}")).is_none()
    {
        return Err(CostError::UnknownSize {
            target: shape.target.clone(),
            kind: "EC2 instance type",
            value: instance_type.clone(),
            field: format!("[eb] instance_type (or [targets.{}.eb])", shape.target),
            known: prices.known("ec2."),
        });
    }
    if let Some(db) = &shape.database
        && prices.unit(&format!("rds.{}", db.instance_class)).is_none()
    {
        return Err(CostError::UnknownSize {
            target: shape.target.clone(),
            kind: "RDS instance class",
            value: db.instance_class.clone(),
            field: format!(
                "[database] instance_class (or [targets.{}.database])",
                shape.target
            ),
            known: prices
                .known("rds.db.")
                .into_iter()
                .map(|c| format!("db.{c}"))
                .collect(),
        });
    }
    Ok(())
}

fn compute_lines(b: &mut Builder<'_>, compute: &Compute, a: &Assumptions) {
    let h = b.hours;
    match compute {
        Compute::Eb {
            instance_type,
            load_balanced: false,
        } => {
            b.line(
                "compute.instance",
                Service::Compute,
                &format!("EC2 {instance_type} (EB instance)"),
                &format!("ec2.{instance_type}"),
                Range::fixed(h),
                false,
                format!("1 instance x {h} h; single-instance environment, no load balancer"),
            );
            let q = Range::from(a.eb.root_volume_gb);
            b.line(
                "storage.root_volume",
                Service::Storage,
                "EBS gp3 root volume",
                "ebs.gp3",
                q,
                true,
                format!(
                    "deploy.toml sets no root volume: the AL2023 AMI's {}",
                    gb(q)
                ),
            );
            b.line("network.instance_ipv4", Service::Network, "Public IPv4 address (instance)", "vpc.public_ipv4",
                Range::fixed(h), false,
                "the instance's Elastic IP; AWS bills every public IPv4 address since 2024 (the seed predates this)".into());
        }
        Compute::Eb {
            instance_type,
            load_balanced: true,
        } => {
            let n = Range::from(a.eb.load_balanced_instances);
            b.line(
                "compute.instance",
                Service::Compute,
                &format!("EC2 {instance_type} (EB instances)"),
                &format!("ec2.{instance_type}"),
                n.scale(h),
                true,
                format!(
                    "{} instance(s) (Auto Scaling minimum, assumed) x {h} h",
                    count(n)
                ),
            );
            let q = Range::from(a.eb.root_volume_gb).times(n);
            b.line(
                "storage.root_volume",
                Service::Storage,
                "EBS gp3 root volumes",
                "ebs.gp3",
                q,
                true,
                "deploy.toml sets no root volume: the AL2023 AMI's 8 GB per instance".into(),
            );
            b.line(
                "network.instance_ipv4",
                Service::Network,
                "Public IPv4 addresses (instances)",
                "vpc.public_ipv4",
                n.scale(h),
                true,
                "instances in the default VPC's public subnets get a public address".into(),
            );
            alb_lines(b, a, Range::fixed(1.0), "the environment's load balancer");
        }
        Compute::AppRunner {
            vcpu,
            memory_gb,
            min_instances,
        } => {
            let n = f64::from(*min_instances);
            let active = Range::from(a.apprunner.active_hours);
            let idle = Range::fixed(h).minus(active);
            b.line(
                "compute.apprunner_vcpu",
                Service::Compute,
                "App Runner active vCPU",
                "apprunner.vcpu",
                active.scale(n * vcpu),
                true,
                format!(
                    "{min_instances} x {vcpu} vCPU while serving: assumed {} h a month",
                    count(active)
                ),
            );
            b.line(
                "compute.apprunner_memory",
                Service::Compute,
                "App Runner active memory",
                "apprunner.memory",
                active.scale(n * memory_gb),
                true,
                format!("{min_instances} x {memory_gb} GB while serving"),
            );
            b.line("compute.apprunner_idle", Service::Compute, "App Runner provisioned memory (idle)",
                "apprunner.provisioned_memory", idle.scale(n * memory_gb), true,
                format!("{min_instances} x {memory_gb} GB for the rest of the month (the low scenario idles more)"));
        }
        Compute::EcsExpress {
            vcpu,
            memory_gb,
            min_tasks,
        } => {
            let n = f64::from(*min_tasks);
            b.line(
                "compute.fargate_vcpu",
                Service::Compute,
                "Fargate vCPU",
                "fargate.vcpu",
                Range::fixed(n * vcpu * h),
                false,
                format!("{min_tasks} task(s) x {vcpu} vCPU x {h} h"),
            );
            b.line(
                "compute.fargate_memory",
                Service::Compute,
                "Fargate memory",
                "fargate.memory",
                Range::fixed(n * memory_gb * h),
                false,
                format!("{min_tasks} task(s) x {memory_gb} GB x {h} h"),
            );
            let ipv4 = Range::from(a.ecs.public_ipv4_per_task).scale(n * h);
            b.line(
                "network.task_ipv4",
                Service::Network,
                "Public IPv4 addresses (tasks)",
                "vpc.public_ipv4",
                ipv4,
                true,
                "0 in private subnets, 1 per task in public ones".into(),
            );
            alb_lines(
                b,
                a,
                Range::from(a.ecs.alb_share),
                "Express Mode's load balancer (this service's share, assumed)",
            );
        }
    }
}

fn alb_lines(b: &mut Builder<'_>, a: &Assumptions, share: Range, what: &str) {
    let h = b.hours;
    b.line(
        "lb.alb",
        Service::LoadBalancer,
        "Application Load Balancer",
        "elb.alb",
        share.scale(h),
        share.low != 1.0 || share.high != 1.0,
        format!("{what}, {h} h"),
    );
    let lcu = Range::from(a.alb.lcu_per_hour);
    b.line(
        "lb.lcu",
        Service::LoadBalancer,
        "ALB capacity units (LCU)",
        "elb.alb_lcu",
        lcu.times(share).scale(h),
        true,
        format!("assumed {} LCU on average each hour", count(lcu)),
    );
    let ips = Range::from(a.alb.public_ipv4);
    b.line(
        "network.alb_ipv4",
        Service::Network,
        "Public IPv4 addresses (load balancer)",
        "vpc.public_ipv4",
        ips.times(share).scale(h),
        true,
        format!("{} addresses: one per Availability Zone", count(ips)),
    );
}

fn database_lines(b: &mut Builder<'_>, db: &DatabaseShape, a: &Assumptions) {
    let h = b.hours;
    let copies = if db.multi_az { 2.0 } else { 1.0 };
    let az = if db.multi_az {
        "Multi-AZ: primary and standby, each billed"
    } else {
        "Single-AZ"
    };
    b.line(
        "database.instance",
        Service::Database,
        &format!("RDS PostgreSQL {}", db.instance_class),
        &format!("rds.{}", db.instance_class),
        Range::fixed(copies * h),
        false,
        format!("{az}, {h} h"),
    );
    let allocated = f64::from(db.allocated_gb);
    let mut note = format!("{} GB allocated ({az})", db.allocated_gb);
    if let Some(max) = db.max_allocated_gb {
        note.push_str(&format!("; autoscaling may grow it to {max} GB"));
    }
    b.line(
        "database.storage",
        Service::Database,
        &format!("RDS {} storage", db.storage_type.as_str()),
        &format!("rds.storage.{}", db.storage_type.as_str()),
        Range::fixed(copies * allocated),
        false,
        note,
    );
    let per_day = Range::from(a.rds.backup_extra_per_retention_day);
    let q = per_day.scale(allocated * f64::from(db.backup_retention_days));
    b.line(
        "database.backup",
        Service::Database,
        "RDS backup storage beyond the free allowance",
        "rds.backup",
        q,
        true,
        format!(
            "backups up to {} GB are free; {}-day retention, assumed {} beyond",
            db.allocated_gb,
            db.backup_retention_days,
            gb(q)
        ),
    );
}

struct Builder<'a> {
    prices: &'a PriceTable,
    region: &'a str,
    hours: f64,
    lines: Vec<LineItem>,
    gaps: Vec<Gap>,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        id: &str,
        service: Service,
        what: &str,
        key: &str,
        quantity: Range,
        assumption: bool,
        note: String,
    ) {
        let unit = self
            .prices
            .unit(key)
            .map(|u| u.unit.clone())
            .unwrap_or_default();
        let quantity = quantity.rounded();
        let (unit_price, monthly) = match self.prices.lookup(self.region, key) {
            Some(Lookup::Price(p)) => (Some(p), Some(quantity.scale(p).rounded())),
            Some(Lookup::Missing(why)) => {
                self.gap(what, key, why);
                (None, None)
            }
            None => {
                self.gap(what, key, "the price table has no such unit");
                (None, None)
            }
        };
        self.lines.push(LineItem {
            id: id.to_owned(),
            service,
            what: what.to_owned(),
            quantity,
            unit,
            price_key: key.to_owned(),
            unit_price,
            monthly,
            assumption,
            note,
        });
    }

    fn gap(&mut self, what: &str, key: &str, reason: &str) {
        self.gaps.push(Gap {
            what: what.to_owned(),
            price_key: key.to_owned(),
            region: self.region.to_owned(),
            reason: reason.to_owned(),
        });
    }
}

fn gb(r: Range) -> String {
    format!("{} GB", count(r))
}

/// `8` or `1-20`, without trailing zeros.
pub(crate) fn count(r: Range) -> String {
    let f = |v: f64| {
        let s = format!("{v:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
        let mut grouped = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        match frac {
            Some(f) => format!("{grouped}.{f}"),
            None => grouped,
        }
    };
    if r.is_fixed() {
        f(r.low)
    } else {
        format!("{}-{}", f(r.min()), f(r.max()))
    }
}
