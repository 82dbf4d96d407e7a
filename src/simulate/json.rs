//! `-f json`: one object with every scenario's timeline, findings, totals
//! and expectations. Arrays keep the report's order, so the same inputs
//! always print the same bytes.

use std::path::Path;

use serde_json::{json, Value};

use super::timeline::{Entry, Episode, Reached, Simulation};
use crate::diag::Diagnostic;
use crate::report::{FailOn, Status};

/// The format's version; bumped on any incompatible change.
pub const REPORT_VERSION: u64 = 1;

pub fn render(
    sims: &[Simulation],
    policies: &Path,
    digest: &str,
    errors: &[Diagnostic],
    fail_on: FailOn,
) -> String {
    let expectations: usize = sims.iter().map(|s| s.expectations.len()).sum();
    let unmet: usize = sims
        .iter()
        .map(|s| s.expectations.iter().filter(|o| !o.met).count())
        .sum();
    let failing = super::text::failing(sims, fail_on);
    let status = Status::of(errors, failing);
    let doc = json!({
        "version": REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "status": status,
        "inputs": { "policies": policies, "policies_digest": digest },
        "scenarios": sims.iter().map(|s| scenario(s, fail_on)).collect::<Vec<_>>(),
        "summary": {
            "scenarios": sims.len(),
            "expectations": expectations,
            "unmet": unmet,
            "failing": failing,
            "passed": status == Status::Passing,
        },
        "errors": errors,
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("json values serialize");
    out.push('\n');
    out
}

fn reached(r: &Reached) -> Value {
    json!({ "to": r.to, "step": r.step, "of": r.of, "on": r.on })
}

fn scenario(sim: &Simulation, fail_on: FailOn) -> Value {
    let events: Vec<Value> = sim
        .events
        .iter()
        .map(|e| json!({ "on": e.on, "line": e.line, "kind": e.kind, "summary": e.summary, "touches": e.touches }))
        .collect();
    let timeline: Vec<Value> = sim
        .steps
        .iter()
        .map(|s| {
            json!({
                "date": s.date,
                "baseline": s.baseline,
                "events": s.events,
                "entries": s.entries.iter().map(|e| entry(sim, e)).collect::<Vec<_>>(),
                "open": s.open,
            })
        })
        .collect();
    let at_start = sim.findings.iter().filter(|e| e.opened_step == 0).count();
    let resolved = sim.findings.iter().filter(|e| e.resolved.is_some()).count();
    let impacts: Vec<Value> = sim
        .impacts
        .iter()
        .map(|imp| {
            let e = &sim.events[imp.event];
            json!({
                "event": imp.event,
                "on": e.on,
                "kind": e.kind,
                "line": e.line,
                "days_to_first_finding": imp.days,
                "first_findings": imp.first.iter().map(|&k| json!({
                    "id": sim.findings[k].id,
                    "opened": sim.findings[k].opened,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let highest = |opened_during| {
        sim.highest_escalation(opened_during).map(|(k, r)| {
            let mut v = reached(r);
            v["finding"] = json!(sim.findings[k].id);
            v
        })
    };
    json!({
        "name": sim.name,
        "description": sim.description,
        "file": sim.file,
        "snapshot": {
            "path": sim.snapshot.path,
            "id": sim.snapshot.meta.id,
            "sha256": sim.snapshot.sha256,
        },
        "start": sim.start,
        "until": sim.until,
        "events": events,
        "evaluations": sim.steps.iter().map(|s| s.date).collect::<Vec<_>>(),
        "timeline": timeline,
        "findings": sim.findings.iter().map(finding).collect::<Vec<_>>(),
        "summary": {
            "evaluations": sim.evaluations(),
            "open_at_start": at_start,
            "opened": sim.findings.len() - at_start,
            "resolved": resolved,
            "open_at_until": sim.findings.len() - resolved,
            "events": impacts,
            "highest_escalation": highest(false),
            "exposure": sim.exposure(false),
            "opened_during": {
                "highest_escalation": highest(true),
                "exposure": sim.exposure(true),
            },
        },
        "expectations": sim.expectations.iter().map(|o| json!({
            "line": o.line,
            "expectation": o.describe,
            "met": o.met,
            "severity": o.severity,
            "fails": fail_on.fails_expectation(o),
            "mismatches": o.mismatches.iter().map(|(f, w, g)| json!({ "field": f, "want": w, "got": g })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "passed": !sim.expectations.iter().any(|o| fail_on.fails_expectation(o)),
    })
}

fn finding(ep: &Episode) -> Value {
    json!({
        "id": ep.id,
        "rule": ep.rule,
        "subject": ep.subject,
        "opened": ep.opened,
        "resolved": ep.resolved,
        "open_at_until": ep.resolved.is_none(),
        "days_out": ep.days_out,
        "opened_severity": ep.opened_severity,
        "severity": ep.severity,
        "peak_severity": ep.peak_severity,
        "message": ep.message,
        "waived": ep.waived,
        "queues": ep.queues,
        "notices": ep.notices.iter().map(|n| json!({ "on": n.on, "queue": n.queue, "owner": n.owner })).collect::<Vec<_>>(),
        "escalations": ep.escalations.iter().map(reached).collect::<Vec<_>>(),
        "highest_escalation": ep.highest().map(reached),
        "peak_shortfall": ep.peak_shortfall,
        "exposure": ep.exposure,
    })
}

fn entry(sim: &Simulation, e: &Entry) -> Value {
    let id = &sim.findings[e.episode()].id;
    match e {
        Entry::Opened {
            severity,
            message,
            route,
            ..
        } => {
            json!({ "kind": "opened", "finding": id, "severity": severity, "message": message, "route": route })
        }
        Entry::Changed { changes, .. } => json!({
            "kind": "changed",
            "finding": id,
            "changes": changes.iter().map(|(what, from, to)| json!({ "what": what, "from": from, "to": to })).collect::<Vec<_>>(),
        }),
        Entry::Resolved { .. } => json!({ "kind": "resolved", "finding": id }),
        Entry::Notice {
            queue, owner, due, ..
        } => json!({ "kind": "notice", "finding": id, "queue": queue, "owner": owner, "due": due }),
        Entry::Escalated {
            to, step, of, due, ..
        } => {
            json!({ "kind": "escalated", "finding": id, "to": to, "step": step, "of": of, "due": due })
        }
    }
}
