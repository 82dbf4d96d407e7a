//! `trueup position`: the effective licence position as a table or JSON.

use std::fmt::Write;

use serde_json::{json, Value};

use super::escape::line;
use crate::diag::Diagnostic;
use crate::engine::Evaluation;
use crate::inventory::allocate::{Basis, Consumer, Cover};
use crate::inventory::profile::MILLI;
use crate::inventory::{Metric, Position, Snapshot};

/// One position row as JSON, in the field order of `position -f json`.
pub fn position_json(product: &str, p: &Position) -> Value {
    json!({
        "product": product,
        "metric": p.metric.as_str(),
        "entitled": p.entitled,
        "consumed": p.consumed,
        "shortfall": p.shortfall,
        "surplus": p.surplus,
        "utilization": p.utilization.map(|u| (u * 10_000.0).round() / 10_000.0),
        "incomplete": p.incomplete,
        "stale": p.stale,
        "unknown_capacity": p.unknown_capacity,
        "unattributed": p.unattributed,
    })
}

fn row_json(e: &Evaluation, p: &Position) -> Value {
    let mut row = position_json(e.snapshot.str(p.product), p);
    row["snapshot"] = json!(e.snapshot.path);
    row
}

/// `position -f json`: the same `version`, `trueup`, `status` and `inputs`
/// as `check -f json` (no playbook: a position needs none), the rows, and
/// the errors of snapshots that did not load.
pub fn json(evals: &[Evaluation], errors: &[Diagnostic]) -> String {
    let rows: Vec<Value> = evals
        .iter()
        .flat_map(|e| e.positions.iter().map(move |p| row_json(e, p)))
        .collect();
    let snapshots: Vec<Value> = evals.iter().map(super::json::snapshot_input).collect();
    let doc = json!({
        "version": super::json::REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "status": super::Status::of(errors, 0),
        "inputs": { "snapshots": snapshots },
        "positions": rows,
        "errors": errors,
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("json values serialize");
    out.push('\n');
    out
}

pub fn table(evals: &[Evaluation]) -> String {
    let mut out = String::new();
    for e in evals {
        let _ = writeln!(
            out,
            "{} (snapshot `{}`, as of {})",
            line(&e.snapshot.path.display().to_string()),
            line(&e.snapshot.meta.id),
            e.as_of
        );
        let header = [
            "product",
            "metric",
            "entitled",
            "consumed",
            "shortfall",
            "surplus",
            "utilization",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.map(str::to_string).to_vec()];
        for p in e.positions.iter() {
            let num = |n: Option<u64>| n.map_or("unlimited".to_string(), |n| n.to_string());
            let util = p
                .utilization
                .map_or("-".to_string(), |u| format!("{:.1}%", u * 100.0));
            let consumed = if p.incomplete {
                format!("{}+", p.consumed)
            } else {
                p.consumed.to_string()
            };
            rows.push(vec![
                line(e.snapshot.str(p.product)).into_owned(),
                p.metric.as_str().to_string(),
                num(p.entitled),
                consumed,
                p.shortfall.to_string(),
                num(p.surplus),
                util,
            ]);
        }
        out.push_str(&aligned(&rows, 2..7));
        if e.positions.iter().any(|p| p.incomplete) {
            let _ = writeln!(out, "`+`: incomplete, some consumption could not be counted (missing cores, sockets, users or usage)");
        }
        out.push('\n');
    }
    out
}

/// Rows as aligned columns two spaces apart; the columns in `right` (the
/// numbers) flush right, the others flush left.
fn aligned(rows: &[Vec<String>], right: std::ops::Range<usize>) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut text = String::new();
        for (c, cell) in r.iter().enumerate() {
            if !right.contains(&c) {
                let _ = write!(text, "{:<w$}  ", cell, w = widths[c]);
            } else {
                let _ = write!(text, "{:>w$}  ", cell, w = widths[c]);
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    }
    out
}

/// One consumer as `position --explain` shows it.
pub struct Explained<'a> {
    pub snapshot: &'a Snapshot,
    pub cover: &'a Cover,
}

impl Explained<'_> {
    fn consumer(&self) -> (&'static str, String) {
        let snap = self.snapshot;
        match self.cover.consumer {
            Consumer::Device(d) => ("device", snap.str(d).to_string()),
            Consumer::User(u) => ("user", snap.str(u).to_string()),
            Consumer::Unattributed { device, line } => (
                "unattributed",
                format!("{} (line {line})", snap.str(device)),
            ),
        }
    }

    fn pool(&self) -> Option<(&str, &str)> {
        let snap = self.snapshot;
        self.cover.entitlement.map(|e| {
            let e = &snap.entitlements[e];
            (snap.str(e.id), snap.str(e.product))
        })
    }

    /// Why, in words.
    fn why(&self) -> String {
        let snap = self.snapshot;
        let c = self.cover;
        let via = self.pool().map(|(_, p)| p.to_string()).unwrap_or_default();
        match c.basis {
            Basis::Exempt { environment } => {
                let contract = c
                    .entitlement
                    .map(|e| snap.str(snap.entitlements[e].contract).to_string())
                    .unwrap_or_default();
                format!(
                    "exempt: `{}` is a non-production environment under {contract}",
                    snap.str(environment)
                )
            }
            Basis::Allocated
                if c.unknown && matches!(c.consumer, Consumer::Unattributed { .. }) =>
            {
                "allocated; no user recorded, counted as a user of its own".to_string()
            }
            Basis::Allocated if c.unknown => {
                format!(
                    "allocated; {} not recorded, counted as 0",
                    unit_name(c.metric)
                )
            }
            Basis::Allocated => "allocated".to_string(),
            Basis::Covers => format!(
                "allocated via covers: `{via}` covers `{}`",
                snap.str(c.product)
            ),
            Basis::Shared => format!("shared: already covered by this licence for `{via}`"),
            Basis::Shortfall if c.entitlement.is_none() => {
                "shortfall: no valid entitlement".to_string()
            }
            Basis::Shortfall => {
                "shortfall: no pool had room, charged to the first valid pool".to_string()
            }
        }
    }

    /// Why, in words, with a metric profile's arithmetic after it.
    fn why_worked(&self) -> String {
        match &self.cover.working {
            Some(w) => format!("{}; {w}", self.why()),
            None => self.why(),
        }
    }

    /// The units, exact: under a profile that does not round per device,
    /// a fraction of a licence.
    fn units(&self) -> Value {
        match self.cover.milli {
            Some(m) if m % MILLI != 0 => json!(m as f64 / MILLI as f64),
            _ => json!(self.cover.units),
        }
    }

    fn basis(&self) -> &'static str {
        match self.cover.basis {
            Basis::Exempt { .. } => "exempt",
            Basis::Allocated => "allocated",
            Basis::Covers => "covers",
            Basis::Shared => "shared",
            Basis::Shortfall => "shortfall",
        }
    }
}

/// What a capacity metric counts, in words.
fn unit_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Processor => "sockets",
        m if m.is_profile() => "cores or sockets",
        _ => "cores",
    }
}

/// `position --explain PRODUCT` as text: the product's rows, then one line
/// per consumer.
pub fn explain_table(e: &Evaluation, product: &str, covers: &[Explained]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} (snapshot `{}`, as of {}): `{}`",
        line(&e.snapshot.path.display().to_string()),
        line(&e.snapshot.meta.id),
        e.as_of,
        line(product)
    );
    // The product's rows, as `position` prints them, without the heading.
    for l in table(std::slice::from_ref(e)).lines().skip(1) {
        let _ = writeln!(out, "{l}");
    }
    if covers.is_empty() {
        let _ = writeln!(out, "no consumers on {}", e.as_of);
        return out;
    }
    let mut rows = vec![[
        "product", "consumer", "kind", "pool", "metric", "units", "why",
    ]
    .map(str::to_string)
    .to_vec()];
    for c in covers {
        let (kind, id) = c.consumer();
        let units = format!("{}{}", c.units(), if c.cover.unknown { "+" } else { "" });
        rows.push(vec![
            line(e.snapshot.str(c.cover.product)).into_owned(),
            line(&id).into_owned(),
            kind.to_string(),
            c.pool()
                .map_or("-".to_string(), |(id, _)| line(id).into_owned()),
            c.cover.metric.as_str().to_string(),
            units,
            line(&c.why_worked()).into_owned(),
        ]);
    }
    out.push_str(&aligned(&rows, 5..6));
    if covers.iter().any(|c| c.cover.unknown) {
        let _ = writeln!(
            out,
            "`+`: a lower bound (cores or sockets not recorded, or no user)"
        );
    }
    out
}

/// `position --explain PRODUCT -f json`.
pub fn explain_json(e: &Evaluation, product: &str, covers: &[Explained]) -> String {
    let rows: Vec<Value> = e
        .positions
        .iter()
        .map(|p| position_json(e.snapshot.str(p.product), p))
        .collect();
    let consumers: Vec<Value> = covers
        .iter()
        .map(|c| {
            let (kind, id) = c.consumer();
            let (pool, pool_product) = c.pool().unzip();
            json!({
                "product": e.snapshot.str(c.cover.product),
                "consumer": id,
                "kind": kind,
                "pool": pool,
                "pool_product": pool_product,
                "metric": c.cover.metric.as_str(),
                "units": c.units(),
                "lower_bound": c.cover.unknown,
                "basis": c.basis(),
                "why": c.why(),
                "working": c.cover.working,
            })
        })
        .collect();
    let doc = json!({
        "version": super::json::REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "status": "passing",
        "inputs": { "snapshots": [super::json::snapshot_input(e)] },
        "product": product,
        "positions": rows,
        "consumers": consumers,
        "errors": [],
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("json values serialize");
    out.push('\n');
    out
}
