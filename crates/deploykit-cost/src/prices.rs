//! The price table: unit prices per region, shipped as data (`prices/aws-prices.toml`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::CostError;

/// The table compiled into the crate.
pub const SHIPPED_PRICES: &str = include_str!("../prices/aws-prices.toml");

/// What one price key means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitInfo {
    /// What one unit is: `hour`, `GB-month`, `1,000 requests`...
    pub unit: String,
    /// Human description, e.g. `EC2 t3.micro (Linux, on-demand)`.
    pub what: String,
    /// The AWS page the price comes from.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    retrieved: String,
    currency: String,
    hours_per_month: f64,
    source: Vec<String>,
    units: BTreeMap<String, UnitInfo>,
    regions: BTreeMap<String, RawRegion>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    #[serde(default)]
    checked: Vec<String>,
    #[serde(default)]
    prices: BTreeMap<String, f64>,
    #[serde(default)]
    missing: BTreeMap<String, String>,
}

/// One region's prices and the units it has none for, each with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionPrices {
    /// Where the numbers were checked.
    pub checked: Vec<String>,
    pub prices: BTreeMap<String, f64>,
    pub missing: BTreeMap<String, String>,
}

/// What the table says about one unit in one region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lookup<'a> {
    /// USD (the table's currency) per unit.
    Price(f64),
    /// No price; the reason the table gives.
    Missing(&'a str),
}

/// Validated unit prices per region.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    origin: String,
    retrieved: String,
    currency: String,
    hours_per_month: f64,
    source: Vec<String>,
    units: BTreeMap<String, UnitInfo>,
    regions: BTreeMap<String, RegionPrices>,
}

impl PriceTable {
    /// The table shipped with the crate, parsed and validated on first use.
    pub fn shipped() -> Result<&'static PriceTable, CostError> {
        static SHIPPED: OnceLock<Result<PriceTable, String>> = OnceLock::new();
        SHIPPED
            .get_or_init(|| {
                PriceTable::parse_inner(SHIPPED_PRICES, "shipped").map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|message| CostError::PriceTable {
                origin: "shipped".into(),
                message: message.clone(),
                shipped: true,
            })
    }

    /// Reads and validates a price table file (same format as the shipped one).
    pub fn load(path: &Path) -> Result<PriceTable, CostError> {
        let text = std::fs::read_to_string(path).map_err(|source| CostError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        PriceTable::parse(&text, &path.display().to_string())
    }

    /// Validates price table text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<PriceTable, CostError> {
        PriceTable::parse_inner(text, origin).map_err(|message| CostError::PriceTable {
            origin: origin.to_owned(),
            message,
            shipped: false,
        })
    }

    fn parse_inner(text: &str, origin: &str) -> Result<PriceTable, String> {
        let raw: RawTable = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        validate(&raw)?;
        let regions = raw
            .regions
            .into_iter()
            .map(|(name, r)| {
                (
                    name,
                    RegionPrices {
                        checked: r.checked,
                        prices: r.prices,
                        missing: r.missing,
                    },
                )
            })
            .collect();
        Ok(PriceTable {
            origin: origin.to_owned(),
            retrieved: raw.retrieved,
            currency: raw.currency,
            hours_per_month: raw.hours_per_month,
            source: raw.source,
            units: raw.units,
            regions,
        })
    }

    /// `shipped` or the path it was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The date the prices were looked up (`YYYY-MM-DD`).
    pub fn retrieved(&self) -> &str {
        &self.retrieved
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// Hours in a billing month (AWS uses 730).
    pub fn hours_per_month(&self) -> f64 {
        self.hours_per_month
    }

    /// The pages the prices come from.
    pub fn sources(&self) -> &[String] {
        &self.source
    }

    pub fn unit(&self, key: &str) -> Option<&UnitInfo> {
        self.units.get(key)
    }

    pub fn units(&self) -> &BTreeMap<String, UnitInfo> {
        &self.units
    }

    pub fn region(&self, region: &str) -> Option<&RegionPrices> {
        self.regions.get(region)
    }

    /// Region codes, sorted.
    pub fn regions(&self) -> Vec<String> {
        self.regions.keys().cloned().collect()
    }

    /// The price of `key` in `region`, or why there is none. `None` when the table has no such
    /// region or unit at all.
    pub fn lookup(&self, region: &str, key: &str) -> Option<Lookup<'_>> {
        let r = self.regions.get(region)?;
        if let Some(p) = r.prices.get(key) {
            return Some(Lookup::Price(*p));
        }
        r.missing.get(key).map(|why| Lookup::Missing(why))
    }

    /// The names under a key prefix: `known("ec2.")` gives the EC2 instance types the table
    /// knows (`t3.micro`, ...), `known("rds.db.")` the RDS classes without the `rds.` prefix.
    pub fn known(&self, prefix: &str) -> Vec<String> {
        self.units
            .keys()
            .filter_map(|k| k.strip_prefix(prefix))
            .map(str::to_owned)
            .collect()
    }
}

fn validate(raw: &RawTable) -> Result<(), String> {
    let mut problems = Vec::new();
    if !is_date(&raw.retrieved) {
        problems.push(format!(
            "`retrieved` must be a YYYY-MM-DD date, not `{}`",
            raw.retrieved
        ));
    }
    if raw.currency.trim().is_empty() {
        problems.push("`currency` is empty".into());
    }
    if !(raw.hours_per_month.is_finite() && raw.hours_per_month > 0.0) {
        problems.push("`hours_per_month` must be a positive number".into());
    }
    if raw.source.is_empty() {
        problems.push("`source` lists no pages".into());
    }
    for s in &raw.source {
        if !s.starts_with("https://") {
            problems.push(format!("source `{s}` is not an https:// URL"));
        }
    }
    if raw.units.is_empty() {
        problems.push("`units` is empty".into());
    }
    for (key, u) in &raw.units {
        if u.unit.trim().is_empty() || u.what.trim().is_empty() {
            problems.push(format!("unit `{key}` needs `unit` and `what`"));
        }
        if !u.source.starts_with("https://") {
            problems.push(format!("unit `{key}`: source is not an https:// URL"));
        }
    }
    if raw.regions.is_empty() {
        problems.push("`regions` is empty".into());
    }
    for (name, r) in &raw.regions {
        for (key, price) in &r.prices {
            if !raw.units.contains_key(key) {
                problems.push(format!("region {name}: price for unknown unit `{key}`"));
            }
            if !(price.is_finite() && *price >= 0.0) {
                problems.push(format!("region {name}: `{key}` = {price} is not a price"));
            }
            if r.missing.contains_key(key) {
                problems.push(format!("region {name}: `{key}` is both priced and missing"));
            }
        }
        for (key, why) in &r.missing {
            if !raw.units.contains_key(key) {
                problems.push(format!(
                    "region {name}: unknown unit `{key}` marked missing"
                ));
            }
            if why.trim().is_empty() {
                problems.push(format!(
                    "region {name}: `{key}` is missing without a reason"
                ));
            }
        }
        for key in raw.units.keys() {
            if !r.prices.contains_key(key) && !r.missing.contains_key(key) {
                problems.push(format!(
                    "region {name}: `{key}` has neither a price nor a `missing` reason"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped table parses, is dated, and every region lists every unit either with a
    /// price or with an explicit reason why it has none.
    #[test]
    fn shipped_table_is_complete_and_dated() {
        let t = PriceTable::shipped().expect("shipped table valid");
        assert!(is_date(t.retrieved()), "{}", t.retrieved());
        assert_eq!(t.currency(), "USD");
        assert_eq!(t.hours_per_month(), 730.0);
        assert!(
            t.sources()
                .iter()
                .all(|s| s.starts_with("https://aws.amazon.com/")
                    || s.starts_with("https://pricing.us-east-1.amazonaws.com/"))
        );
        for region in [
            "us-east-1",
            "us-west-2",
            "eu-west-1",
            "eu-central-1",
            "ap-southeast-1",
        ] {
            let r = t
                .region(region)
                .unwrap_or_else(|| panic!("{region} missing"));
            assert!(
                !r.checked.is_empty(),
                "{region}: say where the prices were checked"
            );
            for key in t.units().keys() {
                assert!(
                    t.lookup(region, key).is_some(),
                    "{region}: {key} has neither a price nor a missing marker"
                );
            }
        }
        // The public IPv4 charge the seed predates is in every region.
        for region in t.regions() {
            assert_eq!(
                t.lookup(&region, "vpc.public_ipv4"),
                Some(Lookup::Price(0.005)),
                "{region}"
            );
        }
        // The seed's region is complete apart from the units no source was found for.
        let us = t.region("us-east-1").unwrap();
        assert!(us.prices.len() > us.missing.len() * 5);
    }

    #[test]
    fn known_sizes_come_from_the_unit_keys() {
        let t = PriceTable::shipped().unwrap();
        let ec2 = t.known("ec2.");
        assert!(ec2.contains(&"t3.micro".to_owned()) && ec2.contains(&"t3.small".to_owned()));
        let rds = t.known("rds.");
        assert!(rds.contains(&"db.t4g.micro".to_owned()));
        assert!(
            rds.iter()
                .all(|c| c.starts_with("db.") || c.starts_with("storage.") || c == "backup")
        );
    }

    fn table(region_body: &str) -> String {
        format!(
            r#"retrieved = "2026-12-02"
currency = "USD"
hours_per_month = 730
source = ["https://aws.amazon.com/ec2/pricing/on-demand/"]
[units]
"ec2.t3.micro" = {{ unit = "hour", what = "t3.micro", source = "https://aws.amazon.com/ec2/pricing/on-demand/" }}
"ebs.gp3" = {{ unit = "GB-month", what = "gp3", source = "https://aws.amazon.com/ebs/pricing/" }}
[regions.xx-test-1]
{region_body}
"#
        )
    }

    #[test]
    fn every_unit_needs_a_price_or_a_missing_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "prices = { \"ec2.t3.micro\" = 0.01 }",
                "`ebs.gp3` has neither a price nor a `missing` reason",
            ),
            (
                "prices = { \"ec2.t3.micro\" = 0.01, \"ebs.gp3\" = -1.0 }",
                "`ebs.gp3` = -1 is not a price",
            ),
            (
                "prices = { \"ec2.t3.micro\" = 0.01, \"ebs.gp3\" = 0.08 }\nmissing = { \"ebs.gp3\" = \"x\" }",
                "`ebs.gp3` is both priced and missing",
            ),
            (
                "prices = { \"ec2.t3.micro\" = 0.01 }\nmissing = { \"ebs.gp3\" = \" \" }",
                "`ebs.gp3` is missing without a reason",
            ),
            (
                "prices = { \"ec2.t3.micro\" = 0.01, \"ebs.gp3\" = 0.08, \"ec2.x9.huge\" = 9.0 }",
                "price for unknown unit `ec2.x9.huge`",
            ),
        ];
        for (body, expected) in cases {
            let err = PriceTable::parse(&table(body), "test.toml").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(expected), "{body}\n=> {msg}");
            assert!(msg.starts_with("price table test.toml: "), "{msg}");
        }
        let ok = PriceTable::parse(
            &table(
                "prices = { \"ec2.t3.micro\" = 0.01 }\nmissing = { \"ebs.gp3\" = \"none found\" }",
            ),
            "test.toml",
        )
        .unwrap();
        assert_eq!(
            ok.lookup("xx-test-1", "ebs.gp3"),
            Some(Lookup::Missing("none found"))
        );
        assert_eq!(
            ok.lookup("xx-test-1", "ec2.t3.micro"),
            Some(Lookup::Price(0.01))
        );
        assert_eq!(ok.lookup("xx-test-2", "ec2.t3.micro"), None);
    }

    #[test]
    fn the_date_is_required() {
        let text = table("prices = { \"ec2.t3.micro\" = 0.01, \"ebs.gp3\" = 0.08 }")
            .replace("retrieved = \"2026-12-02\"", "retrieved = \"last week\"");
        let msg = PriceTable::parse(&text, "t").unwrap_err().to_string();
        assert!(
            msg.contains("`retrieved` must be a YYYY-MM-DD date"),
            "{msg}"
        );
        let text = table("").replace("retrieved = \"2026-12-02\"\n", "");
        let msg = PriceTable::parse(&text, "t").unwrap_err().to_string();
        assert!(msg.contains("missing field `retrieved`"), "{msg}");
    }
}
