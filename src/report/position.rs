//! `trueup position`: the effective licence position as a table or JSON.

use std::fmt::Write;

use serde_json::{json, Value};

use super::escape::line;
use crate::diag::Diagnostic;
use crate::engine::Evaluation;
use crate::inventory::Position;

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
        let mut rows: Vec<[String; 7]> = vec![header.map(str::to_string)];
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
            rows.push([
                line(e.snapshot.str(p.product)).into_owned(),
                p.metric.as_str().to_string(),
                num(p.entitled),
                consumed,
                p.shortfall.to_string(),
                num(p.surplus),
                util,
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c < 2 {
                    let _ = write!(line, "{:<w$}  ", cell, w = widths[c]);
                } else {
                    let _ = write!(line, "{:>w$}  ", cell, w = widths[c]);
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if e.positions.iter().any(|p| p.incomplete) {
            let _ = writeln!(out, "`+`: incomplete, some consumption could not be counted (missing cores, sockets, users or usage)");
        }
        out.push('\n');
    }
    out
}
