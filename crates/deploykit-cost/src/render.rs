//! Plain-text tables for an estimate and a comparison. Returns strings; printing is the
//! caller's business.

use std::fmt::Write as _;

use crate::compare::{Cell, Comparison};
use crate::lines::count;
use crate::{Estimate, Range};

/// `7.59` or `28.13-32.38` (smaller value first).
pub fn money(r: Range) -> String {
    if r.is_fixed() {
        format!("{:.2}", r.low)
    } else {
        format!("{:.2}-{:.2}", r.min(), r.max())
    }
}

/// `+7.59`, `-1.20` or `+3.00..+5.10` (low scenario, then high).
pub fn delta(r: Range) -> String {
    if r.is_fixed() {
        format!("{:+.2}", r.low)
    } else {
        format!("{:+.2}..{:+.2}", r.low, r.high)
    }
}

/// `0.0104`, `0.40`, `0.005`: as many decimals as the price has, at least two.
fn unit_price(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    match s.split_once('.') {
        Some((_, frac)) if frac.len() >= 2 => s.to_owned(),
        Some((int, frac)) => format!("{int}.{frac:0<2}"),
        None => format!("{s}.00"),
    }
}

/// `730 hour`, `8 GB-month`, `10-100 x 1,000 requests`.
fn quantity(q: Range, unit: &str) -> String {
    let sep = if unit.starts_with(|c: char| c.is_ascii_digit()) {
        " x "
    } else {
        " "
    };
    format!("{}{sep}{unit}", count(q))
}

/// The estimate as a table: one row per line (`*` marks an assumed quantity), the total, then
/// gaps, assumptions, notes and what is not included.
pub fn estimate_text(e: &Estimate) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Monthly estimate: target {} ({}), {}",
        e.target, e.region, e.route
    );
    let _ = writeln!(
        out,
        "Prices: {} table, retrieved {}, {} per month",
        e.prices_origin, e.prices_retrieved, e.currency
    );
    let _ = writeln!(out);
    let w = e
        .lines
        .iter()
        .map(|l| l.what.len())
        .max()
        .unwrap_or(4)
        .max(5);
    let _ = writeln!(
        out,
        "  {:w$}  {:>26}  {:>24}  {:>13}",
        "ITEM", "QUANTITY", "UNIT PRICE", "MONTHLY"
    );
    for l in &e.lines {
        let qty = quantity(l.quantity, &l.unit);
        let price = l
            .unit_price
            .map(|p| format!("{}/{}", unit_price(p), l.unit))
            .unwrap_or_else(|| "no price".into());
        let monthly = l.monthly.map(money).unwrap_or_else(|| "gap".into());
        let mark = if l.assumption { '*' } else { ' ' };
        let _ = writeln!(
            out,
            "{mark} {:w$}  {qty:>26}  {price:>24}  {monthly:>13}",
            l.what
        );
    }
    let _ = writeln!(
        out,
        "  {:w$}  {:>26}  {:>24}  {:>13}",
        "TOTAL",
        "",
        "",
        money(e.total)
    );
    if !e.gaps.is_empty() {
        let _ = writeln!(out, "\nNot in the total:");
        for g in &e.gaps {
            let _ = writeln!(out, "  - {g}");
        }
    }
    let assumed: Vec<_> = e.lines.iter().filter(|l| l.assumption).collect();
    if !assumed.is_empty() {
        let _ = writeln!(out, "\n* Assumptions:");
        for l in assumed {
            let _ = writeln!(out, "  - {}: {}", l.what, l.note);
        }
    }
    for n in &e.notes {
        let _ = writeln!(out, "\nNote: {n}");
    }
    let _ = writeln!(out, "\nNot estimated: {}", e.not_included.join(", "));
    out
}

/// Two estimates side by side with per-line deltas.
pub fn comparison_text(c: &Comparison) -> String {
    let mut out = String::new();
    let head = |s: &crate::compare::Side| format!("{} ({})", s.target, s.region);
    let (lh, rh) = (head(&c.left), head(&c.right));
    let w = c
        .rows
        .iter()
        .map(|r| r.what.len())
        .max()
        .unwrap_or(4)
        .max(5);
    let cw = lh.len().max(rh.len()).max(13);
    let _ = writeln!(
        out,
        "Monthly estimate: {} ({}) vs {} ({})\n",
        lh, c.left.route, rh, c.right.route
    );
    let _ = writeln!(
        out,
        "  {:w$}  {lh:>cw$}  {rh:>cw$}  {:>15}",
        "ITEM", "DELTA"
    );
    let cell = |x: Cell| match x {
        Cell::Absent => "-".to_owned(),
        Cell::Gap => "gap".to_owned(),
        Cell::Cost(r) => money(r),
    };
    for r in &c.rows {
        let d = r.delta.map(delta).unwrap_or_else(|| "?".into());
        let _ = writeln!(
            out,
            "  {:w$}  {:>cw$}  {:>cw$}  {d:>15}",
            r.what,
            cell(r.left),
            cell(r.right)
        );
    }
    let _ = writeln!(
        out,
        "  {:w$}  {:>cw$}  {:>cw$}  {:>15}",
        "TOTAL",
        money(c.left.total),
        money(c.right.total),
        delta(c.total_delta)
    );
    if !(c.left.complete && c.right.complete) {
        let _ = writeln!(
            out,
            "\nNote: lines marked gap have no price in their region; totals leave them out."
        );
    }
    out
}
