//! `trueup diff` as text and JSON.

use std::fmt::Write;

use serde_json::json;

use super::text::{finding, Style};
use crate::diff::{Change, DiffReport};

pub fn text(r: &DiffReport, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!("diff: {}", super::escape::line(&r.title)))
    );
    for (change, label) in [
        (Change::New, "NEW"),
        (Change::Changed, "CHANGED"),
        (Change::Resolved, "RESOLVED"),
    ] {
        let group: Vec<_> = r.entries.iter().filter(|e| e.change == change).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{label} ({})", group.len());
        for e in group {
            let _ = write!(out, "  {} ", style.severity(e.finding.severity));
            let mut one = String::new();
            finding(&mut one, &e.finding, style);
            out.push_str(one.trim_start());
            for c in &e.changes {
                let _ = writeln!(out, "    changed {}", super::escape::line(c));
            }
        }
    }
    let verdict = super::verdict(
        r.status(),
        crate::diag::total(&r.errors),
        r.fail_on,
        r.failing().count(),
        "new or worsened ",
    );
    let _ = writeln!(
        out,
        "\nsummary: {} new, {} changed, {} resolved; {verdict}",
        r.count(Change::New),
        r.count(Change::Changed),
        r.count(Change::Resolved)
    );
    out
}

pub fn json(r: &DiffReport) -> String {
    let side = |evals: &[crate::engine::Evaluation], playbook: &crate::diff::PlaybookRef| {
        let snapshots: Vec<serde_json::Value> = evals
            .iter()
            .map(|e| json!({ "path": e.snapshot.path, "sha256": e.snapshot.sha256, "id": e.snapshot.meta.id, "as_of": e.as_of }))
            .collect();
        json!({
            "policies": playbook.policies,
            "policies_digest": playbook.policies_digest,
            "snapshots": snapshots,
        })
    };
    let doc = json!({
        "version": super::json::REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "status": r.status(),
        "diff": r.title,
        "inputs": {
            "base": side(&r.base, &r.base_playbook),
            "head": side(&r.head, &r.head_playbook),
        },
        "entries": r.entries,
        "summary": {
            "new": r.count(Change::New),
            "changed": r.count(Change::Changed),
            "resolved": r.count(Change::Resolved),
            "failing": r.failing().count(),
        },
        "errors": r.errors,
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("json values serialize");
    out.push('\n');
    out
}
