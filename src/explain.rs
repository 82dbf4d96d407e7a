//! `trueup explain`: what a rule is and does, and why one finding fired.
//!
//! Rule explanations combine what the script declares (title, description,
//! constants, the actions its `remediate` can offer) with what the playbook's
//! own test cases show it doing (severities, routers and queues, cases).

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::{json, Value as Json};

use crate::engine::{Evaluation, Finding, Severity};
use crate::policy::{Module, Playbook};
use crate::report::escape::{self, line};
use crate::testing::CaseResult;
use crate::waivers::WaiverSet;

const DOC_CONSTANTS: &[&str] = &["ID", "TITLE", "DESCRIPTION"];

/// A rule: title, description, thresholds, severities, routing, remediation, tests.
pub fn rule(playbook: &Playbook, m: &Module, results: &[CaseResult]) -> String {
    let id = m.rule_id();
    let mut out = String::new();
    let title = m
        .constant_str("TITLE")
        .unwrap_or_else(|| "(no TITLE)".into());
    let _ = writeln!(out, "{id}: {}\n{}\n", line(&title), m.path.display());
    if let Some(d) = m.constant_str("DESCRIPTION") {
        let _ = writeln!(out, "{}\n", wrap(&d, 76));
    }

    let thresholds: Vec<_> = m
        .constants
        .iter()
        .filter(|(n, _)| !DOC_CONSTANTS.contains(&n.as_str()))
        .collect();
    let _ = writeln!(out, "thresholds:");
    if thresholds.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (name, value) in thresholds {
        let _ = writeln!(out, "  {name} = {}", crate::engine::to_json(value));
    }

    let severities = severities_seen(&id, results);
    let range = match (severities.first(), severities.last()) {
        (Some(lo), Some(hi)) if lo == hi => format!("{lo} (in the test cases)"),
        (Some(lo), Some(hi)) => format!("{lo} to {hi} (in the test cases)"),
        _ => "unknown: no test case makes it fire".into(),
    };
    let _ = writeln!(out, "\nseverity: {range}");

    let _ = writeln!(out, "\nrouting (as the test cases route its findings):");
    let routes = routes_seen(&id, results);
    if routes.is_empty() {
        let routers: Vec<String> = playbook
            .routers()
            .map(|r| r.path.display().to_string())
            .collect();
        let _ = writeln!(
            out,
            "  no case shows it; routers in order: {}",
            if routers.is_empty() {
                "none".into()
            } else {
                routers.join(", ")
            }
        );
    }
    for (router, queue) in routes {
        let _ = writeln!(out, "  {router} → queue `{}`", line(&queue));
    }

    let _ = writeln!(out, "\nremediation:");
    if m.defines("remediate") {
        if let Some(doc) = comment_above(&m.source, m.fn_line("remediate")) {
            let _ = writeln!(out, "  {}", doc.replace('\n', "\n  "));
        }
        let actions = quoted_after(&m.source, "action:");
        let _ = writeln!(out, "  options: {}", actions.join(", "));
    } else {
        let _ = writeln!(out, "  (no `remediate` beside this rule)");
    }

    let _ = writeln!(out, "\ntests:");
    let fires: Vec<_> = results.iter().filter(|r| r.fired.contains(&id)).collect();
    let quiet: Vec<_> = results.iter().filter(|r| r.absent.contains(&id)).collect();
    if fires.is_empty() && quiet.is_empty() {
        let _ = writeln!(out, "  no case covers it");
    }
    for r in fires {
        let _ = writeln!(
            out,
            "  fires  {}:{}: {}",
            r.file.display(),
            r.line,
            line(&r.note)
        );
    }
    for r in quiet {
        let _ = writeln!(
            out,
            "  quiet  {}:{}: {}",
            r.file.display(),
            r.line,
            line(&r.note)
        );
    }
    // Script and case text may hold control characters: none reaches the terminal.
    escape::text(&out).into_owned()
}

/// The severities the test cases saw the rule give, lowest first.
fn severities_seen(id: &str, results: &[CaseResult]) -> BTreeSet<Severity> {
    results
        .iter()
        .flat_map(|r| r.seen.iter())
        .filter(|s| s.rule == id)
        .map(|s| s.severity)
        .collect()
}

/// (router, queue) pairs the test cases saw the rule's findings take.
fn routes_seen(id: &str, results: &[CaseResult]) -> BTreeSet<(String, String)> {
    results
        .iter()
        .flat_map(|r| r.seen.iter())
        .filter(|s| s.rule == id)
        .map(|s| {
            let router = s
                .router
                .as_ref()
                .map_or("no router (unrouted)".to_string(), |p| {
                    p.display().to_string()
                });
            (router, s.queue.clone())
        })
        .collect()
}

/// `explain RULE -f json`: what the text says, as one object.
pub fn rule_json(m: &Module, results: &[CaseResult]) -> String {
    let id = m.rule_id();
    let thresholds: serde_json::Map<String, Json> = m
        .constants
        .iter()
        .filter(|(n, _)| !DOC_CONSTANTS.contains(&n.as_str()))
        .map(|(n, v)| (n.clone(), crate::engine::to_json(v)))
        .collect();
    let routes: Vec<Json> = routes_seen(&id, results)
        .into_iter()
        .map(|(router, queue)| json!({ "router": router, "queue": queue }))
        .collect();
    let case = |r: &&CaseResult| json!({ "file": r.file, "line": r.line, "note": r.note });
    let remediation = if m.defines("remediate") {
        json!({
            "defined": true,
            "doc": comment_above(&m.source, m.fn_line("remediate")),
            "actions": quoted_after(&m.source, "action:"),
        })
    } else {
        json!({ "defined": false })
    };
    let doc = json!({
        "version": crate::report::json::REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "rule": {
            "id": id,
            "title": m.constant_str("TITLE"),
            "description": m.constant_str("DESCRIPTION"),
            "policy": m.path,
            "thresholds": thresholds,
            "severities": severities_seen(&id, results),
            "routes": routes,
            "remediation": remediation,
            "tests": {
                "fires": results.iter().filter(|r| r.fired.contains(&id)).map(|r| case(&r)).collect::<Vec<_>>(),
                "quiet": results.iter().filter(|r| r.absent.contains(&id)).map(|r| case(&r)).collect::<Vec<_>>(),
            },
        },
    });
    pretty(&doc)
}

/// `explain --finding ID SNAPSHOT -f json`: the finding, its rule, the
/// position rows of its product, the routers it passed, and what each
/// waiver that names its rule did.
pub fn finding_json(
    playbook: &Playbook,
    eval: &Evaluation,
    f: &Finding,
    waivers: Option<&WaiverSet>,
) -> String {
    let snap = &eval.snapshot;
    let positions: Vec<Json> = product_of(f)
        .map(|product| {
            eval.positions
                .iter()
                .filter(|p| snap.str(p.product) == product)
                .map(|p| crate::report::position::position_json(&product, p))
                .collect()
        })
        .unwrap_or_default();
    let passed: Vec<String> = f
        .route
        .as_ref()
        .map(|r| routers_passed(playbook, r))
        .unwrap_or_default();
    let waivers: Json = match waivers {
        None => Json::Null,
        Some(set) => waiver_verdicts(set, f, eval)
            .into_iter()
            .map(|(w, why)| {
                json!({
                    "file": set.file, "line": w.line, "rule": w.rule,
                    "subject": w.subject, "verdict": why,
                })
            })
            .collect(),
    };
    let doc = json!({
        "version": crate::report::json::REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "inputs": {
            "snapshot": { "path": snap.path, "sha256": snap.sha256, "id": snap.meta.id, "as_of": eval.as_of },
        },
        "finding": f,
        "rule": {
            "id": f.rule,
            "title": playbook.rule(&f.rule).and_then(|m| m.constant_str("TITLE")),
            "policy": f.policy,
        },
        "positions": positions,
        "routers_passed": passed,
        "waivers": waivers,
    });
    pretty(&doc)
}

fn pretty(doc: &Json) -> String {
    let mut out = serde_json::to_string_pretty(doc).expect("json values serialize");
    out.push('\n');
    out
}

/// The product a finding is about: its subject, or its evidence's `product`.
pub(crate) fn product_of(f: &Finding) -> Option<String> {
    match f.subject.kind.as_str() {
        "product" => Some(f.subject.id.clone()),
        _ => f
            .evidence
            .get("product")
            .and_then(|p| p.as_str())
            .map(str::to_string),
    }
}

/// The routers, in order, that returned nothing before the one that answered.
fn routers_passed(playbook: &Playbook, r: &crate::engine::Route) -> Vec<String> {
    playbook
        .routers()
        .take_while(|m| Some(&m.path) != r.router.as_ref())
        .map(|m| m.path.display().to_string())
        .collect()
}

/// Each waiver whose rule matches the finding's, with what it did.
fn waiver_verdicts<'w>(
    set: &'w WaiverSet,
    f: &Finding,
    eval: &Evaluation,
) -> Vec<(&'w crate::waivers::Waiver, String)> {
    let mut applied = false;
    let mut out = Vec::new();
    for w in &set.waivers {
        let rule_ok = w.covers(&f.rule, "*") || w.rule == f.rule;
        let subject_ok = w.covers(&f.rule, &f.subject.id);
        let why = if !rule_ok {
            continue;
        } else if !subject_ok {
            format!("rule matches, subject `{}` does not", w.subject)
        } else if !w.active_on(eval.as_of) {
            format!("matches, but expired on {}", w.expires)
        } else if applied {
            "matches, but an earlier waiver already applies".to_string()
        } else {
            applied = true;
            format!(
                "applies: {} (approved by {}, expires {})",
                w.reason, w.approved_by, w.expires
            )
        };
        out.push((w, why));
    }
    out
}

/// Why one finding fired: evidence, position, route, waivers.
pub fn finding(
    playbook: &Playbook,
    eval: &Evaluation,
    f: &Finding,
    waivers: Option<&WaiverSet>,
) -> String {
    let mut out = String::new();
    let snap = &eval.snapshot;
    let _ = writeln!(
        out,
        "{} in {} (as of {})",
        line(&f.id),
        snap.path.display(),
        eval.as_of
    );
    let title = playbook
        .rule(&f.rule)
        .and_then(|m| m.constant_str("TITLE"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "rule: {} ({}), {}",
        line(&f.rule),
        line(&title),
        f.policy.display()
    );
    let _ = writeln!(out, "severity: {}", f.severity);
    let _ = writeln!(out, "message: {}", line(&f.message));
    if let Some(l) = &f.location {
        let _ = writeln!(
            out,
            "about: {} {}, {}:{}",
            line(&f.subject.kind),
            line(&f.subject.id),
            l.file.display(),
            l.line
        );
    }

    let _ = writeln!(out, "\nevidence:");
    match f.evidence.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, v) in map {
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    line(k),
                    line(&v.as_str().map_or_else(|| v.to_string(), str::to_string))
                );
            }
        }
        _ => {
            let _ = writeln!(out, "  (none)");
        }
    }

    if let Some(product) = product_of(f) {
        let rows: Vec<_> = eval
            .positions
            .iter()
            .filter(|p| snap.str(p.product) == product)
            .collect();
        let _ = writeln!(out, "\nlicence position of `{}`:", line(&product));
        if rows.is_empty() {
            let _ = writeln!(out, "  (no row: not entitled and not installed)");
        }
        for p in rows {
            let num = |n: Option<u64>| n.map_or("unlimited".to_string(), |n| n.to_string());
            let util = p
                .utilization
                .map_or("-".to_string(), |u| format!("{:.1}%", u * 100.0));
            let _ = writeln!(
                out,
                "  {}: entitled {}, consumed {}{}, shortfall {}, surplus {}, utilization {util}",
                p.metric.as_str(),
                num(p.entitled),
                p.consumed,
                if p.incomplete { " (incomplete)" } else { "" },
                p.shortfall,
                num(p.surplus)
            );
        }
    }

    let _ = writeln!(out, "\nroute:");
    match &f.route {
        Some(r) => {
            let passed = routers_passed(playbook, r);
            if !passed.is_empty() {
                let _ = writeln!(out, "  passed (returned nothing): {}", passed.join(", "));
            }
            let who = r
                .router
                .as_ref()
                .map_or("no router answered".to_string(), |p| {
                    format!("chosen by {}", p.display())
                });
            let _ = writeln!(
                out,
                "  {who}: queue `{}`{}",
                line(&r.queue),
                r.owner
                    .as_ref()
                    .map(|o| format!(", owner {}", line(o)))
                    .unwrap_or_default()
            );
            if let Some(w) = f.waiver.as_ref().filter(|_| f.is_waived()) {
                // The ladder of a waived finding is not running: nothing is due.
                let _ = writeln!(
                    out,
                    "  waived until {}: no notice or escalation due",
                    w.expires
                );
            } else if let (Some(within), Some(by)) = (&r.notify_within, r.notify_by) {
                let _ = writeln!(out, "  notify within {}: by {by}", line(within));
            }
            for e in r.escalate.iter().filter(|_| !f.is_waived()) {
                let _ = writeln!(
                    out,
                    "  after {}: escalate to {} on {}",
                    line(&e.after),
                    line(&e.to),
                    e.on
                );
            }
        }
        None => {
            let _ = writeln!(out, "  (none)");
        }
    }

    let _ = writeln!(out, "\nremediation:");
    if f.remediation.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for o in &f.remediation {
        let _ = writeln!(out, "  {}", line(&crate::report::text::remediation_text(o)));
    }

    let _ = writeln!(out, "\nwaivers:");
    match waivers {
        None => {
            let _ = writeln!(out, "  no waivers file");
        }
        Some(set) => {
            let verdicts = waiver_verdicts(set, f, eval);
            let any = !verdicts.is_empty();
            for (w, why) in verdicts {
                let _ = writeln!(
                    out,
                    "  {}:{}: rule `{}` subject `{}`: {}",
                    set.file.display(),
                    w.line,
                    line(&w.rule),
                    line(&w.subject),
                    line(&why)
                );
            }
            if !any {
                let _ = writeln!(
                    out,
                    "  none of {} waivers names rule `{}`",
                    set.waivers.len(),
                    line(&f.rule)
                );
            }
        }
    }
    escape::text(&out).into_owned()
}

/// The `//` comment block directly above line `line` (1-based).
fn comment_above(source: &str, line: u32) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut i = (line as usize).checked_sub(1)?;
    let mut block = Vec::new();
    while i > 0 {
        i -= 1;
        match lines[i].trim_start().strip_prefix("//") {
            Some(c) => block.push(c.trim()),
            None => break,
        }
    }
    block.reverse();
    (!block.is_empty()).then(|| block.join("\n"))
}

/// The distinct `"text"` literals that follow `key` in the source.
fn quoted_after(source: &str, key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, _) in source.match_indices(key) {
        let rest = source[i + key.len()..].trim_start();
        if let Some(rest) = rest.strip_prefix('"') {
            if let Some(end) = rest.find('"') {
                let s = rest[..end].to_string();
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

/// How many near ids the error for an unknown finding suggests.
const SUGGESTIONS: usize = 5;

/// The error for a finding id that the snapshot at `path` does not
/// produce: the nearest ids it does, or that it has none.
pub fn no_such_finding(id: &str, path: &std::path::Path, findings: &[Finding]) -> String {
    if findings.is_empty() {
        return format!("no finding `{id}` in `{}`: it has none", path.display());
    }
    let near = nearest(id, findings.iter().map(|f| f.id.as_str()), SUGGESTIONS);
    format!(
        "no finding `{id}` in `{}`; nearest of its {}: {} (`trueup check {}` lists them all)",
        path.display(),
        findings.len(),
        near.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        path.display(),
    )
}

/// The `n` ids nearest to `wanted`: fewest edits first, then the longest
/// shared prefix, then by id, so the suggestion for a typo is stable.
pub fn nearest<'a>(wanted: &str, ids: impl IntoIterator<Item = &'a str>, n: usize) -> Vec<&'a str> {
    let mut scored: Vec<(usize, std::cmp::Reverse<usize>, &str)> = ids
        .into_iter()
        .map(|id| {
            let prefix = wanted
                .chars()
                .zip(id.chars())
                .take_while(|(a, b)| a == b)
                .count();
            (
                crate::diag::edit_distance(wanted, id),
                std::cmp::Reverse(prefix),
                id,
            )
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.2 == b.2);
    scored.into_iter().take(n).map(|(_, _, id)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_ids_come_first_and_ties_go_to_the_longer_prefix() {
        let ids = [
            "overuse:product:acme-cad",
            "overuse:product:acme-cam",
            "unlicensed:product:acme-cad",
            "shelfware:product:zeta",
        ];
        assert_eq!(
            nearest("overuse:product:acme-cab", ids, 2),
            ["overuse:product:acme-cad", "overuse:product:acme-cam"]
        );
        assert_eq!(nearest("x", ids, 10).len(), 4);
    }
}
