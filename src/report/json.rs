//! `-f json`: one object with the inputs, findings, summary and errors.

use serde_json::{json, Value};

use super::CheckReport;
use crate::engine::{Evaluation, Severity};

/// The report format's version; bumped on any incompatible change.
pub const REPORT_VERSION: u64 = 1;

/// What identifies one evaluated snapshot among a report's `inputs`.
pub(crate) fn snapshot_input(e: &Evaluation) -> Value {
    json!({
        "path": e.snapshot.path,
        "sha256": e.snapshot.sha256,
        "id": e.snapshot.meta.id,
        "as_of": e.as_of,
    })
}

pub fn render(r: &CheckReport) -> String {
    let snapshots: Vec<Value> = r
        .evaluations
        .iter()
        .map(|e| {
            let mut input = snapshot_input(e);
            input["unrouted"] = json!(e.unrouted());
            input["waivers"] = json!(e.waivers);
            input
        })
        .collect();
    let findings: Vec<Value> = r
        .findings()
        .map(|(e, f)| {
            let mut v = serde_json::to_value(f).expect("findings serialize");
            v["snapshot"] = json!(e.snapshot.path);
            v
        })
        .collect();
    let counts = r.counts();
    let mut summary = serde_json::Map::new();
    summary.insert("total".into(), json!(r.findings().count()));
    for s in Severity::ALL.iter().rev() {
        summary.insert(s.as_str().into(), json!(counts[*s as usize]));
    }
    summary.insert("waived".into(), json!(r.waived()));
    summary.insert("failing".into(), json!(r.failing()));
    let mut doc = json!({
        "version": REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "status": r.status(),
        "inputs": {
            "policies": r.policies,
            "policies_digest": r.policies_digest,
            "snapshots": snapshots,
        },
        "findings": findings,
        "summary": summary,
        "errors": r.errors,
    });
    if let Some(l) = &r.ledger {
        doc["ledger"] = json!({
            "file": l.path,
            "runs": l.runs,
            "overdue": l.overdue(),
            "fail_on_overdue": l.fail_on_overdue,
        });
    }
    let mut out = serde_json::to_string_pretty(&doc).expect("json values serialize");
    out.push('\n');
    out
}
