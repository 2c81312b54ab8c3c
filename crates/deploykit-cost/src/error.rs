//! The crate's one error type.

use std::path::PathBuf;

use deploykit_report::{Category, Diagnostic};

/// What can stop an estimate. A price the table does not have is *not* an error: the estimate
/// carries it as a named [`crate::Gap`].
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// A price table (the shipped one, or one passed by path) is not valid TOML or breaks the
    /// table's rules (a region without a unit, a negative price, no date).
    #[error("price table {origin}: {message}")]
    PriceTable {
        /// `shipped` or the file's path.
        origin: String,
        message: String,
        shipped: bool,
    },
    /// The usage assumptions file is not valid.
    #[error("cost assumptions {origin}: {message}")]
    Assumptions {
        origin: String,
        message: String,
        shipped: bool,
    },
    /// A price table or deploy.toml could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The target's region is not in the price table at all.
    #[error(
        "target `{target}`: region `{region}` is not in the price table (it has {})",
        known.join(", ")
    )]
    UnknownRegion {
        target: String,
        region: String,
        known: Vec<String>,
    },
    /// An instance type or class the price table does not know, in any region.
    #[error(
        "target `{target}`: {kind} `{value}` (deploy.toml `{field}`) is not in the price table"
    )]
    UnknownSize {
        target: String,
        /// `EC2 instance type` or `RDS instance class`.
        kind: &'static str,
        value: String,
        /// The deploy.toml key, e.g. `[eb] instance_type`.
        field: String,
        known: Vec<String>,
    },
    /// A size deploy.toml validation accepted but the estimator cannot read (a bug).
    #[error("target `{target}`: cannot read {field} `{value}` as {expected}")]
    Unreadable {
        target: String,
        field: String,
        value: String,
        expected: &'static str,
    },
}

impl Diagnostic for CostError {
    fn category(&self) -> Category {
        match self {
            CostError::PriceTable { shipped, .. } | CostError::Assumptions { shipped, .. } => {
                if *shipped {
                    Category::Internal
                } else {
                    Category::Input
                }
            }
            CostError::Read { .. } | CostError::UnknownRegion { .. } => Category::Input,
            CostError::UnknownSize { .. } => Category::Input,
            CostError::Unreadable { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            CostError::PriceTable { shipped: true, .. }
            | CostError::Assumptions { shipped: true, .. } => {
                "the table shipped with deploykit-cost is broken: report it as a bug".into()
            }
            CostError::PriceTable { .. } => {
                "every region must list every unit under `prices` or `missing`, with a non-negative price; fix the file or use the shipped table".into()
            }
            CostError::Assumptions { .. } => {
                "every assumption is a `[low, high]` pair of non-negative numbers with low <= high".into()
            }
            CostError::Read { .. } => "check the path and that the file is readable".into(),
            CostError::UnknownRegion { known, .. } => format!(
                "estimate a target in one of {}, or use a price table that lists this region",
                known.join(", ")
            ),
            CostError::UnknownSize { field, known, .. } => format!(
                "set {field} to one the price table knows ({}), or add its price to the price table",
                known.join(", ")
            ),
            CostError::Unreadable { .. } => {
                "deploy.toml validation accepted this value; report it as a bug".into()
            }
        })
    }
}
