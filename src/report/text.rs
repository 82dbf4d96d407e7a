//! The terminal report: findings grouped by severity, worst first.

use std::fmt::Write;

use super::escape::line;
use super::CheckReport;
use crate::engine::{Finding, Severity};

/// ANSI styling, on only when writing to a terminal without `NO_COLOR`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn severity(self, s: Severity) -> String {
        let code = match s {
            Severity::Critical => "1;35",
            Severity::High => "1;31",
            Severity::Medium => "1;33",
            Severity::Low => "1;36",
            Severity::Info => "1;37",
        };
        self.paint(code, &s.as_str().to_uppercase())
    }

    fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

pub fn render(r: &CheckReport, style: Style) -> String {
    let mut out = String::new();
    for (i, e) in r.evaluations.iter().enumerate() {
        // One rule for every count: a severity counts the findings not
        // waived; waived ones are counted, and listed, on their own.
        let n = e.findings.len();
        let waived: Vec<&Finding> = e.findings.iter().filter(|f| f.is_waived()).collect();
        let _ = writeln!(
            out,
            "{} (snapshot `{}`, as of {}): {} finding{}{}",
            style.bold(&line(&e.snapshot.path.display().to_string())),
            line(&e.snapshot.meta.id),
            e.as_of,
            n,
            if n == 1 { "" } else { "s" },
            if waived.is_empty() {
                String::new()
            } else {
                format!(" ({} waived)", waived.len())
            }
        );
        for sev in Severity::ALL.iter().rev() {
            let group: Vec<&Finding> = e
                .findings
                .iter()
                .filter(|f| f.severity == *sev && !f.is_waived())
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{} ({})", style.severity(*sev), group.len());
            for f in group {
                finding(&mut out, f, style);
            }
        }
        if !waived.is_empty() {
            let _ = writeln!(out, "\n{} ({})", style.bold("WAIVED"), waived.len());
            for f in waived {
                finding(&mut out, f, style);
            }
        }
        let unrouted = e.unrouted();
        if unrouted > 0 {
            let _ = writeln!(
                out,
                "\n{unrouted} finding(s) matched no router and went to the `unrouted` queue"
            );
        }
        if let Some(l) = &r.ledger {
            if let Some(run) = l.runs.get(i) {
                let _ = writeln!(out, "\n{}", line(&super::ledger_line(l, run)));
            }
        }
        for w in &e.waivers.expired {
            let _ =
                writeln!(
                out,
                "\nwaiver expired: {}:{}: rule `{}` subject `{}` expired on {} (approved by {})",
                line(&e.waivers.file.as_ref().map_or(String::new(), |f| f.display().to_string())),
                w.line,
                line(&w.rule),
                line(&w.subject),
                w.expires,
                line(&w.approved_by)
            );
        }
        for w in &e.waivers.unused {
            let _ = writeln!(
                out,
                "\nwaiver unused: {}:{}: rule `{}` subject `{}` matched no finding",
                line(
                    &e.waivers
                        .file
                        .as_ref()
                        .map_or(String::new(), |f| f.display().to_string())
                ),
                w.line,
                line(&w.rule),
                line(&w.subject)
            );
        }
        out.push('\n');
    }
    let counts = r.counts();
    let parts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter(|s| counts[**s as usize] > 0)
        .map(|s| format!("{} {}", counts[*s as usize], s))
        .collect();
    // With nothing evaluated, "no findings" would read as a clean run.
    let mut summary = if r.evaluations.is_empty() {
        "no snapshot evaluated".to_string()
    } else if parts.is_empty() {
        "no findings".to_string()
    } else {
        parts.join(", ")
    };
    if r.waived() > 0 {
        let _ = write!(summary, " ({} waived)", r.waived());
    }
    let mut verdict = super::verdict(
        r.status(),
        crate::diag::total(&r.errors),
        r.fail_on,
        r.failing(),
        "",
    );
    if let Some(l) = &r.ledger {
        let overdue = l.overdue();
        let steps = format!(
            "{overdue} step{} overdue",
            if overdue == 1 { "" } else { "s" }
        );
        if r.status() == super::Status::Failing && r.failing() == 0 {
            verdict = format!("{steps} (--fail-on-overdue): failing");
        } else {
            let _ = write!(summary, "; {steps}");
        }
    }
    let _ = writeln!(out, "summary: {summary}; {verdict}");
    out
}

/// One finding, as the text report shows it.
pub fn finding(out: &mut String, f: &Finding, style: Style) {
    let location = f
        .location
        .as_ref()
        .map(|l| format!("{}:{}", line(&l.file.display().to_string()), l.line))
        .unwrap_or_default();
    let waived = if f.is_waived() { " [waived]" } else { "" };
    let _ = writeln!(
        out,
        "  {} {} {}{}  {}",
        style.bold(&line(&f.rule)),
        line(&f.subject.kind),
        line(&f.subject.id),
        waived,
        style.dim(&location)
    );
    let _ = writeln!(out, "    {}", line(&f.message));
    if let Some(route) = super::finding_route(f, true) {
        let _ = writeln!(out, "    {}", style.dim(&line(&format!("route: {route}"))));
    }
    if let Some(case) = super::case_line(f) {
        let _ = writeln!(out, "    {}", style.dim(&line(&case)));
    }
    for (i, option) in f.remediation.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {} {}",
            style.dim(if i == 0 { "fix:" } else { "  or" }),
            line(&remediation_text(option))
        );
    }
    if let Some(w) = &f.waiver {
        let ticket = w
            .ticket
            .as_deref()
            .map(|t| format!(", {t}"))
            .unwrap_or_default();
        // "waived: …" for one in force, "waiver expired: …" for one that lapsed.
        let state = w.state.to_string();
        let head = if f.is_waived() {
            state
        } else {
            format!("waiver {state}")
        };
        let _ = writeln!(
            out,
            "    {}",
            style.dim(&line(&format!(
                "{head}: {} (approved by {}{ticket}, expires {})",
                w.reason, w.approved_by, w.expires
            )))
        );
    }
}

/// One remediation option in words: its action, then its other fields.
pub fn remediation_text(option: &serde_json::Value) -> String {
    let Some(map) = option.as_object() else {
        return option.to_string();
    };
    let action = map
        .get("action")
        .and_then(|a| a.as_str())
        .unwrap_or("option");
    // Quantities read first; the rest in key order.
    let mut fields: Vec<(&String, &serde_json::Value)> =
        map.iter().filter(|(k, _)| *k != "action").collect();
    fields.sort_by_key(|(k, _)| {
        (
            !matches!(k.as_str(), "quantity" | "metric" | "days"),
            k.as_str() == "devices",
        )
    });
    let rest: Vec<String> = fields
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k} {s}"),
            serde_json::Value::Array(items) => {
                let shown: Vec<String> = items
                    .iter()
                    .take(5)
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect();
                let more = if items.len() > 5 {
                    format!(" and {} more", items.len() - 5)
                } else {
                    String::new()
                };
                format!("{k} {}{more}", shown.join(", "))
            }
            other => format!("{k} {other}"),
        })
        .collect();
    if rest.is_empty() {
        action.to_string()
    } else {
        format!("{action}: {}", rest.join(", "))
    }
}
