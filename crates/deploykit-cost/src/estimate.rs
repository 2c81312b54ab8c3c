//! The estimate: line items priced from the table, a total range, and named gaps.
//!
//! The code decides *which* units a shape uses and *how many*; every price comes from the
//! [`PriceTable`]. A unit the table has no price for is a [`Gap`], never zero.

use serde::Serialize;

use crate::lines::{self, Builder};
use crate::shape::{Compute, Shape};
use crate::{Assumptions, CostError, PriceTable, Range};

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
    lines::all(&mut b, shape, assumptions);
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
