//! `trueup explain`: what a rule is and does, and why one finding fired.
//!
//! Rule explanations combine what the script declares (title, description,
//! constants, the actions its `remediate` can offer) with what the playbook's
//! own test cases show it doing (severities, routers and queues, cases).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::engine::{Evaluation, Finding};
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

    let seen: Vec<_> = results
        .iter()
        .flat_map(|r| r.seen.iter())
        .filter(|s| s.rule == id)
        .collect();
    let severities: BTreeSet<_> = seen.iter().map(|s| s.severity).collect();
    let range = match (severities.first(), severities.last()) {
        (Some(lo), Some(hi)) if lo == hi => format!("{lo} (in the test cases)"),
        (Some(lo), Some(hi)) => format!("{lo} to {hi} (in the test cases)"),
        _ => "unknown: no test case makes it fire".into(),
    };
    let _ = writeln!(out, "\nseverity: {range}");

    let _ = writeln!(out, "\nrouting (as the test cases route its findings):");
    let mut routes: BTreeSet<(String, String)> = BTreeSet::new();
    for s in &seen {
        let router = s
            .router
            .as_ref()
            .map_or("no router (unrouted)".to_string(), |p| {
                p.display().to_string()
            });
        routes.insert((router, s.queue.clone()));
    }
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

    let product = match f.subject.kind.as_str() {
        "product" => Some(f.subject.id.clone()),
        _ => f
            .evidence
            .get("product")
            .and_then(|p| p.as_str())
            .map(str::to_string),
    };
    if let Some(product) = product {
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
            let passed: Vec<String> = playbook
                .routers()
                .take_while(|m| Some(&m.path) != r.router.as_ref())
                .map(|m| m.path.display().to_string())
                .collect();
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
            if let (Some(within), Some(by)) = (&r.notify_within, r.notify_by) {
                let _ = writeln!(out, "  notify within {}: by {by}", line(within));
            }
            for e in &r.escalate {
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
            let mut any = false;
            let mut applied = false;
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
                any = true;
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
