//! Two estimates side by side, line by line (matched by [`LineItem::id`]).

use serde::Serialize;

use crate::{Estimate, LineItem, Range};

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub target: String,
    pub region: String,
    pub route: String,
    pub total: Range,
    /// Every line priced (no gaps).
    pub complete: bool,
}

/// A line's cost on one side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "monthly")]
pub enum Cell {
    /// The shape has no such line (counts as 0).
    Absent,
    /// The line exists but has no price in that region.
    Gap,
    Cost(Range),
}

/// One row: the same role on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub id: String,
    /// `EC2 t3.micro (EB instance)`, or `left -> right` when the two differ.
    pub what: String,
    pub left: Cell,
    pub right: Cell,
    /// `right - left` per scenario; `None` when either side is a gap.
    pub delta: Option<Range>,
}

/// Two estimates and their per-line deltas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub left: Side,
    pub right: Side,
    pub rows: Vec<Row>,
    /// `right.total - left.total` per scenario (gaps excluded on both sides).
    pub total_delta: Range,
}

/// Compares `left` (e.g. the current deploy.toml, or dev) with `right` (the change, or prod).
pub fn compare(left: &Estimate, right: &Estimate) -> Comparison {
    let mut ids: Vec<&str> = left.lines.iter().map(|l| l.id.as_str()).collect();
    for l in &right.lines {
        if !ids.contains(&l.id.as_str()) {
            ids.push(&l.id);
        }
    }
    let rows = ids
        .into_iter()
        .map(|id| {
            let (l, r) = (left.line(id), right.line(id));
            let what = match (l, r) {
                (Some(l), Some(r)) if l.what != r.what => format!("{} -> {}", l.what, r.what),
                (Some(x), _) | (None, Some(x)) => x.what.clone(),
                (None, None) => id.to_owned(),
            };
            let (left, right) = (cell(l), cell(r));
            let delta = match (amount(left), amount(right)) {
                (Some(a), Some(b)) => Some(b.minus(a)),
                _ => None,
            };
            Row {
                id: id.to_owned(),
                what,
                left,
                right,
                delta,
            }
        })
        .collect();
    Comparison {
        left: side(left),
        right: side(right),
        rows,
        total_delta: right.total.minus(left.total),
    }
}

fn side(e: &Estimate) -> Side {
    Side {
        target: e.target.clone(),
        region: e.region.clone(),
        route: e.route.clone(),
        total: e.total,
        complete: e.is_complete(),
    }
}

fn cell(line: Option<&LineItem>) -> Cell {
    match line {
        None => Cell::Absent,
        Some(LineItem { monthly: None, .. }) => Cell::Gap,
        Some(LineItem {
            monthly: Some(m), ..
        }) => Cell::Cost(*m),
    }
}

fn amount(c: Cell) -> Option<Range> {
    match c {
        Cell::Absent => Some(Range::ZERO),
        Cell::Gap => None,
        Cell::Cost(r) => Some(r),
    }
}
