//! Monthly AWS cost estimates for a deploy.toml target, from a price table shipped as data.
//!
//! ```no_run
//! use deploykit_cost::{Route, compare, estimate_target, render};
//! let config = deploykit_config::load(std::path::Path::new("deploy.toml"))?;
//! let dev = estimate_target(&config.target(Some("dev"))?, Route::Eb)?;
//! let prod = estimate_target(&config.target(Some("prod"))?, Route::Eb)?;
//! let table = render::comparison_text(&compare(&dev, &prod));
//! # let _ = table;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - **Prices are data** (`prices/aws-prices.toml`, compiled in with `include_str!` and
//!   validated on first use): unit prices per region with their source pages and the date they
//!   were looked up. The code decides which units a shape uses and how many, and multiplies.
//! - **A missing price is a named gap** ("no price for EC2 t3.micro (ec2.t3.micro) in
//!   eu-central-1: ..."), left out of the total and listed, never a silent zero.
//! - **Usage the configuration does not say** (traffic, log volume, bucket size) comes from
//!   `prices/assumptions.toml` as low/high pairs; lines that rest on one are marked and say
//!   so, and the total is a low/high range.
//! - Unknown instance types or classes are errors naming the deploy.toml key and the sizes the
//!   table knows.
//!
//! # The seed's ranges (§11) and the shipped deploy.toml
//!
//! The shipped `dev` target (EB single instance t3.micro, db.t4g.micro with 20 GB gp3, two app
//! secrets) lands inside the seed's "Dev" total ($25-40). The shipped `prod` target does
//! **not** land in the seed's "Small Prod" total ($65-110), and should not: it only overrides
//! the EB environment name and the database's protection and backup retention, so it has the
//! dev sizes (t3.micro, db.t4g.micro, 20 GB) and no load balancer (`[eb] load_balanced` is
//! false). It costs what the dev shape costs (inside $25-40). The seed's small-prod shape
//! (t3.small behind an ALB, db.t4g.small with 50 GB) lands inside $65-110; deploy.toml sets it
//! with `[eb] load_balanced = true` and those sizes.
//!
//! Line by line, two of the seed's dev rows differ from the priced lines, for reasons in the
//! price source: the t3.micro instance alone is $7.59 (730 h x $0.0104), under the seed's
//! $8-12, but the public IPv4 charge AWS added in February 2024 ($3.65) takes compute to
//! $11.24; and the 8 GB gp3 root volume is $0.64, under the seed's "~$1-2" for 8-16 GB.

mod assumptions;
mod compare;
mod error;
mod estimate;
mod lines;
mod prices;
mod range;
pub mod render;
mod shape;

pub use assumptions::{
    AlbAssumptions, AppRunnerAssumptions, Assumptions, CloudWatchAssumptions, EbAssumptions,
    EcsAssumptions, Pair, RdsAssumptions, Route53Assumptions, S3Assumptions, SHIPPED_ASSUMPTIONS,
    SecretsAssumptions,
};
pub use compare::{Cell, Comparison, Row, Side, compare};
pub use error::CostError;
pub use estimate::{Estimate, Gap, LineItem, Service, estimate, estimate_target};
pub use prices::{Lookup, PriceTable, RegionPrices, SHIPPED_PRICES, UnitInfo};
pub use range::Range;
pub use shape::{Compute, DatabaseShape, Route, Shape, StorageType};
