//! The low/high pair every quantity and amount is.

use serde::Serialize;

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
