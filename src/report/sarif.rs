//! `-f sarif`: SARIF 2.1.0, as GitHub code scanning and other SARIF readers
//! take it.
//!
//! One run; `tool.driver.rules` has one descriptor per rule that has a
//! result, in playbook order, and each result points at it by `ruleIndex`.
//! Results point at the snapshot line of the record they are about, with the
//! snapshot path as given (relative to `%SRCROOT%`, the repository root, so
//! run trueup from there); a finding about no record points at line 1 of its
//! snapshot, because code scanning refuses results without a location. The
//! finding id is the partial fingerprint, so an alert keeps its identity
//! while lines move. A waived finding carries an external suppression with
//! the waiver's reason; an expired waiver suppresses nothing.
//!
//! For a diff, new findings are results with `baselineState: "new"` and
//! changed ones with `"updated"`. Resolved findings are left out: code
//! scanning closes an alert when a later upload no longer has it, and would
//! show an `"absent"` result as an open alert.
//!
//! Errors that made the run untrustworthy are tool execution notifications
//! of a failed invocation.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::{place, rule_ids, CheckReport, RuleInfo};
use crate::diag::{Diagnostic, Level};
use crate::diff::{Change, DiffReport};
use crate::engine::{Finding, Severity};

pub(crate) const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The SARIF level of a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// A finding to report, with what SARIF needs besides the finding itself.
struct Item<'a> {
    finding: &'a Finding,
    snapshot: &'a Path,
    /// `new` or `updated`, in a diff.
    baseline: Option<&'static str>,
    /// What changed, in a diff: `severity: medium → high`.
    changes: &'a [String],
}

pub fn check(r: &CheckReport) -> String {
    let items: Vec<Item> = r
        .findings()
        .map(|(e, f)| Item {
            finding: f,
            snapshot: &e.snapshot.path,
            baseline: None,
            changes: &[],
        })
        .collect();
    document(&items, &r.rules, &r.errors)
}

pub fn diff(r: &DiffReport) -> String {
    let items: Vec<Item> = r
        .entries
        .iter()
        .filter_map(|e| {
            let baseline = match e.change {
                Change::New => "new",
                Change::Changed => "updated",
                Change::Resolved => return None,
            };
            Some(Item {
                finding: &e.finding,
                snapshot: &e.snapshot,
                baseline: Some(baseline),
                changes: &e.changes,
            })
        })
        .collect();
    document(&items, &r.rules, &r.errors)
}

fn document(items: &[Item], rules: &[RuleInfo], errors: &[Diagnostic]) -> String {
    // Only rules with a result are described, in playbook order.
    let ids: Vec<&str> = rule_ids(rules, items.iter().map(|i| i.finding))
        .into_iter()
        .filter(|id| items.iter().any(|i| i.finding.rule == *id))
        .collect();
    let descriptors: Vec<Value> = ids
        .iter()
        .map(|id| {
            let worst = items
                .iter()
                .filter(|i| i.finding.rule == *id)
                .map(|i| i.finding.severity)
                .max()
                .unwrap_or(Severity::Info);
            descriptor(id, rules.iter().find(|r| r.id == *id), worst)
        })
        .collect();
    let results: Vec<Value> = items
        .iter()
        .map(|i| {
            let index = ids.iter().position(|id| *id == i.finding.rule);
            result(i, index.unwrap_or_default())
        })
        .collect();
    let mut invocation = Map::new();
    // Any diagnostic makes the run exit 2, so the invocation failed.
    invocation.insert("executionSuccessful".into(), json!(errors.is_empty()));
    if !errors.is_empty() {
        invocation.insert(
            "toolExecutionNotifications".into(),
            errors.iter().map(notification).collect(),
        );
    }
    log(descriptors, Value::Object(invocation), results)
}

/// The SARIF log of one trueup run: its rules, its invocation, its results.
pub(crate) fn log(descriptors: Vec<Value>, invocation: Value, results: Vec<Value>) -> String {
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "trueup",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": descriptors,
                }
            },
            "invocations": [invocation],
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("json values serialize");
    out.push('\n');
    out
}

/// A `reportingDescriptor`; `worst` is the most severe of its results.
fn descriptor(id: &str, rule: Option<&RuleInfo>, worst: Severity) -> Value {
    let title = rule.and_then(|r| r.title.clone());
    let description = rule.and_then(|r| r.description.clone());
    let short = title.clone().unwrap_or_else(|| id.to_string());
    let full = description
        .clone()
        .or(title)
        .unwrap_or_else(|| id.to_string());
    let mut help = String::new();
    if let Some(d) = &description {
        help.push_str(d);
        help.push_str("\n\n");
    }
    if let Some(r) = rule {
        help.push_str(&format!("Defined in {}. ", super::repo_path(&r.policy)));
    }
    help.push_str(&format!(
        "`trueup explain {id}` shows its severities, routing, remediation and tests."
    ));
    let mut d = json!({
        "id": id,
        "name": id,
        "shortDescription": { "text": short },
        "fullDescription": { "text": full },
        "help": { "text": help },
        "defaultConfiguration": { "level": level(worst) },
    });
    if let Some(r) = rule {
        d["properties"] = json!({ "policy": super::repo_path(&r.policy) });
    }
    d
}

fn result(item: &Item, rule_index: usize) -> Value {
    let f = item.finding;
    let (file, line) = place(f, item.snapshot);
    let mut message = f.message.clone();
    if !item.changes.is_empty() {
        message.push_str(&format!("\nchanged: {}", item.changes.join("; ")));
    }
    let mut properties = Map::new();
    properties.insert("severity".into(), json!(f.severity));
    properties.insert("subject".into(), json!(f.subject));
    if let Some(route) = &f.route {
        properties.insert("queue".into(), json!(route.queue));
        if let Some(owner) = &route.owner {
            properties.insert("owner".into(), json!(owner));
        }
        // A waived finding owes no notice while its waiver lasts.
        if let Some(by) = route.notify_by.filter(|_| !f.is_waived()) {
            properties.insert("notifyBy".into(), json!(by.to_string()));
        }
    }
    properties.insert(
        "waiver".into(),
        json!(f.waiver.as_ref().map_or("none", |w| w.state.as_str())),
    );
    if !item.changes.is_empty() {
        properties.insert("changes".into(), json!(item.changes));
    }
    let mut v = json!({
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": message },
        "locations": [location(&file, line.unwrap_or(1), 0)],
        "partialFingerprints": { "trueupFindingId/v1": f.id },
    });
    if let Some(baseline) = item.baseline {
        v["baselineState"] = json!(baseline);
    }
    if let Some(w) = f.waiver.as_ref().filter(|_| f.is_waived()) {
        let mut justification = w.reason.clone();
        justification.push_str(&format!(" (approved by {}", w.approved_by));
        if let Some(ticket) = &w.ticket {
            justification.push_str(&format!(", {ticket}"));
        }
        justification.push_str(&format!(", expires {})", w.expires));
        v["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": justification,
        }]);
    }
    v["properties"] = Value::Object(properties);
    v
}

pub(crate) fn notification(d: &Diagnostic) -> Value {
    let mut n = json!({
        "level": match d.level {
            Level::Error => "error",
            Level::Warning => "warning",
        },
        "message": { "text": d.message },
    });
    if !d.file.as_os_str().is_empty() {
        n["locations"] = json!([location(&super::repo_path(&d.file), d.line, d.column)]);
    }
    n
}

/// A `location` in `file`; a `line` or `column` of 0 is left out.
pub(crate) fn location(file: &str, line: u32, column: u32) -> Value {
    let mut physical = json!({ "artifactLocation": artifact(file) });
    if line > 0 {
        let mut region = json!({ "startLine": line });
        if column > 0 {
            region["startColumn"] = json!(column);
        }
        physical["region"] = region;
    }
    json!({ "physicalLocation": physical })
}

/// An `artifactLocation`: a relative path against `%SRCROOT%`, an absolute
/// one as a `file` URI.
fn artifact(path: &str) -> Value {
    let absolute = path.starts_with('/') || path.as_bytes().get(1) == Some(&b':');
    if absolute {
        let sep = if path.starts_with('/') { "" } else { "/" };
        json!({ "uri": format!("file://{sep}{}", encode(path)) })
    } else {
        json!({ "uri": encode(path), "uriBaseId": "%SRCROOT%" })
    }
}

/// Percent-encodes everything but unreserved characters and `/`, so any
/// file name is a valid URI reference.
fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            artifact("examples/acme.yaml"),
            json!({ "uri": "examples/acme.yaml", "uriBaseId": "%SRCROOT%" })
        );
        assert_eq!(
            artifact("inv 2026/a:b#1.yaml")["uri"],
            "inv%202026/a%3Ab%231.yaml"
        );
        assert_eq!(
            artifact("/tmp/x.yaml"),
            json!({ "uri": "file:///tmp/x.yaml" })
        );
        assert_eq!(
            artifact("C:/inv/x.yaml"),
            json!({ "uri": "file:///C%3A/inv/x.yaml" })
        );
    }

    #[test]
    fn levels_follow_severity() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
        assert_eq!(level(Severity::Info), "note");
    }
}
