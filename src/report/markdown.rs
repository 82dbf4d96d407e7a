//! `-f markdown`: a pull-request comment.
//!
//! A heading with the verdict, counts by severity, then tables of findings:
//! for `check`, one per severity (worst first) and the waived ones last; for
//! `diff`, new, changed and resolved. Each row has the severity, rule,
//! subject, message, place in the snapshot, route (queue, owner, notify-by)
//! and first remediation option. A table stops after [`MAX_ROWS`] rows and
//! says how many it left out, so a comment stays within GitHub's size limit.
//! Cells escape `|`, `<` and line breaks, so script text cannot break the
//! table or inject HTML.

use std::fmt::Write;

use super::{place, text::remediation_text, waiver_text, CheckReport, FailOn, Status};
use crate::diag::Diagnostic;
use crate::diff::{Change, DiffEntry, DiffReport};
use crate::engine::{Finding, Severity};

/// Rows shown per table.
pub const MAX_ROWS: usize = 50;

pub fn check(r: &CheckReport) -> String {
    let mut out = String::from("## trueup check\n\n");
    let mut head = verdict(
        r.status(),
        crate::diag::total(&r.errors),
        r.fail_on,
        r.failing(),
        "",
    );
    if let Some(l) = &r.ledger {
        if r.status() == Status::Failing && r.failing() == 0 {
            let n = l.overdue();
            let plural = if n == 1 { "" } else { "s" };
            head = format!("**Failing**: {n} step{plural} overdue (`--fail-on-overdue`)");
        }
        for run in &l.runs {
            let _ = write!(head, "\n\n{}", cell(&super::ledger_line(l, run)));
        }
    }
    let _ = writeln!(out, "{head}\n");
    out.push_str("| snapshot | as of |");
    for s in Severity::ALL.iter().rev() {
        let _ = write!(out, " {s} |");
    }
    out.push_str(" waived |\n| --- | --- |");
    out.push_str(&" ---: |".repeat(Severity::ALL.len() + 1));
    out.push('\n');
    for e in &r.evaluations {
        let mut counts = [0; 5];
        for f in e.findings.iter().filter(|f| !f.is_waived()) {
            counts[f.severity as usize] += 1;
        }
        let waived = e.findings.iter().filter(|f| f.is_waived()).count();
        let _ = write!(
            out,
            "| {} | {} |",
            code(&super::repo_path(&e.snapshot.path)),
            e.as_of
        );
        for s in Severity::ALL.iter().rev() {
            let _ = write!(out, " {} |", counts[*s as usize]);
        }
        let _ = writeln!(out, " {waived} |");
    }
    if r.findings().next().is_none() && r.errors.is_empty() {
        out.push_str("\nNo findings.\n");
    }
    for s in Severity::ALL.iter().rev() {
        let rows: Vec<Row> = r
            .findings()
            .filter(|(_, f)| f.severity == *s && !f.is_waived())
            .map(|(e, f)| Row::of(f, &e.snapshot.path))
            .collect();
        let title = format!("{} ({})", capitalized(s.as_str()), rows.len());
        table(&mut out, &title, &rows, false);
    }
    let waived: Vec<Row> = r
        .findings()
        .filter(|(_, f)| f.is_waived())
        .map(|(e, f)| Row::of(f, &e.snapshot.path))
        .collect();
    table(
        &mut out,
        &format!("Waived ({})", waived.len()),
        &waived,
        false,
    );
    errors(&mut out, &r.errors);
    out
}

pub fn diff(r: &DiffReport) -> String {
    let mut out = String::from("## trueup diff\n\n");
    let _ = writeln!(out, "{}\n", cell(&r.title));
    let _ = writeln!(
        out,
        "{}\n",
        verdict(
            r.status(),
            crate::diag::total(&r.errors),
            r.fail_on,
            r.failing().count(),
            "new or worsened "
        )
    );
    if r.entries.is_empty() && r.errors.is_empty() {
        out.push_str("No finding is new, changed or resolved.\n");
    } else if !r.entries.is_empty() {
        out.push_str("| | total |");
        for s in Severity::ALL.iter().rev() {
            let _ = write!(out, " {s} |");
        }
        out.push_str("\n| --- |");
        out.push_str(&" ---: |".repeat(Severity::ALL.len() + 1));
        out.push('\n');
        for change in [Change::New, Change::Changed, Change::Resolved] {
            let _ = write!(out, "| {} | {} |", label(change), r.count(change));
            for s in Severity::ALL.iter().rev() {
                let n = r
                    .entries
                    .iter()
                    .filter(|e| e.change == change && e.finding.severity == *s)
                    .count();
                let _ = write!(out, " {n} |");
            }
            out.push('\n');
        }
    }
    for change in [Change::New, Change::Changed, Change::Resolved] {
        let rows: Vec<Row> = r
            .entries
            .iter()
            .filter(|e| e.change == change)
            .map(Row::of_entry)
            .collect();
        let title = format!("{} ({})", capitalized(label(change)), rows.len());
        table(&mut out, &title, &rows, change == Change::Changed);
    }
    errors(&mut out, &r.errors);
    out
}

fn label(change: Change) -> &'static str {
    match change {
        Change::New => "new",
        Change::Changed => "changed",
        Change::Resolved => "resolved",
    }
}

/// `**Failing**: 8 findings at or above `high``; an untrusted run says so
/// whatever it found.
fn verdict(status: Status, errors: usize, fail_on: FailOn, failing: usize, what: &str) -> String {
    match (status, fail_on) {
        (Status::Error, _) => {
            let plural = if errors == 1 { "" } else { "s" };
            format!("**Error**: the run could not be trusted ({errors} error{plural})")
        }
        (_, FailOn::Never) => "**Not failing** (`--fail-on never`)".into(),
        (_, FailOn::Severity(s)) if failing > 0 => {
            let plural = if failing == 1 { "" } else { "s" };
            format!("**Failing**: {failing} {what}finding{plural} at or above `{s}`")
        }
        (_, FailOn::Severity(s)) => format!("**Passing**: nothing {what}at or above `{s}`"),
    }
}

/// One table row, its cells already escaped.
struct Row {
    severity: String,
    rule: String,
    subject: String,
    change: String,
    message: String,
    place: String,
    route: String,
    fix: String,
}

impl Row {
    fn of(f: &Finding, snapshot: &std::path::Path) -> Row {
        let (file, line) = place(f, snapshot);
        let place = match line {
            Some(line) => format!("{file}:{line}"),
            None => file,
        };
        let mut message = f.message.clone();
        if let Some(c) = super::case_line(f) {
            let _ = write!(message, "\n{c}");
        }
        if let Some(w) = waiver_text(f) {
            let _ = write!(message, "\n{w}");
        }
        Row {
            severity: f.severity.to_string(),
            rule: code(&f.rule),
            subject: format!("{} {}", cell(&f.subject.kind), code(&f.subject.id)),
            change: String::new(),
            message: cell(&message),
            place: code(&place),
            route: super::finding_route(f, false)
                .map(|r| cell(&r))
                .unwrap_or_default(),
            fix: f
                .remediation
                .first()
                .map(|o| cell(&remediation_text(o)))
                .unwrap_or_default(),
        }
    }

    fn of_entry(e: &DiffEntry) -> Row {
        Row {
            change: cell(&e.changes.join("\n")),
            ..Row::of(&e.finding, &e.snapshot)
        }
    }
}

/// A `### title` section with its rows; nothing when there are none.
fn table(out: &mut String, title: &str, rows: &[Row], with_change: bool) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### {title}\n");
    let change = if with_change { " change |" } else { "" };
    let _ = writeln!(
        out,
        "| severity | rule | subject |{change} message | where | route | first fix |"
    );
    let columns = if with_change { 8 } else { 7 };
    let _ = writeln!(out, "|{}", " --- |".repeat(columns));
    for row in rows.iter().take(MAX_ROWS) {
        let change = if with_change {
            format!(" {} |", row.change)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} |{change} {} | {} | {} | {} |",
            row.severity, row.rule, row.subject, row.message, row.place, row.route, row.fix
        );
    }
    if rows.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more; the full list is in the job's output.",
            rows.len() - MAX_ROWS
        );
    }
}

fn errors(out: &mut String, diags: &[Diagnostic]) {
    if diags.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Errors ({})\n", diags.len());
    out.push_str("The run could not be trusted:\n\n```text\n");
    for d in diags {
        // A fence inside the text would end the block early.
        let text = super::escape::text(&d.to_string()).replace("```", "'''");
        let _ = writeln!(out, "{text}");
    }
    out.push_str("```\n");
}

/// Text for a table cell: no column breaks, code spans, HTML or control
/// characters; line breaks become `<br>`.
fn cell(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    super::escape::text(&s)
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('<', "&lt;")
        .replace('\n', "<br>")
}

/// A code span for a cell; text with a backtick stays plain.
fn code(s: &str) -> String {
    if s.is_empty() || s.contains('`') {
        cell(s)
    } else {
        // Inside a code span GitHub still splits cells at `|`, and shows `\|` as `|`.
        let s = s.replace(['\n', '\r'], " ");
        format!("`{}`", super::escape::line(&s).replace('|', "\\|"))
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a | b\nc\r\nd <b>"), "a \\| b<br>c<br>d &lt;b>");
        assert_eq!(code("x|y"), "`x\\|y`");
        assert_eq!(code("a`b"), "a\\`b");
        assert_eq!(cell("`x`\x1b\u{202e}"), "\\`x\\`\\u{1b}\\u{202e}");
        assert_eq!(code("a\x1bb"), "`a\\u{1b}b`");
    }
}
