//! `-f github`: GitHub Actions workflow commands, so findings annotate the
//! pull request on the snapshot lines they are about.
//!
//! One line per finding, `::error file=…,line=…,title=rule (severity)::…`:
//! critical and high are errors, medium warnings, low and info notices. The
//! message is followed by the route and the first remediation option on
//! lines of their own. A waived finding is a notice whatever its severity,
//! titled `(…, waived)`, with the waiver's reason: still visible, never red.
//! For a diff, only new and changed findings are annotated. Errors that made
//! the run untrustworthy are `::error` lines at their file and line. A last
//! plain line sums up the run for the log.

use std::fmt::Write;

use super::{place, text::remediation_text, waiver_text, CheckReport, Status};
use crate::diag::{Diagnostic, Level};
use crate::diff::{Change, DiffReport};
use crate::engine::{Finding, Severity};

/// The workflow command of a severity.
pub fn command(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "notice",
    }
}

pub fn check(r: &CheckReport) -> String {
    let mut out = String::new();
    for (e, f) in r.findings() {
        annotation(&mut out, f, &e.snapshot.path, "", &[]);
    }
    errors(&mut out, &r.errors);
    let counts = r.counts();
    let mut summary: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter(|s| counts[**s as usize] > 0)
        .map(|s| format!("{} {s}", counts[*s as usize]))
        .collect();
    if r.evaluations.is_empty() {
        summary.push("no snapshot evaluated".into());
    } else if summary.is_empty() {
        summary.push("no findings".into());
    }
    if r.waived() > 0 {
        summary.push(format!("{} waived", r.waived()));
    }
    let verdict = super::verdict(
        r.status(),
        crate::diag::total(&r.errors),
        r.fail_on,
        r.failing(),
        "",
    );
    summary_line(
        &mut out,
        r.status(),
        "trueup check",
        &summary.join(", "),
        &verdict,
    );
    out
}

pub fn diff(r: &DiffReport) -> String {
    let mut out = String::new();
    for e in &r.entries {
        let label = match e.change {
            Change::New => "new",
            Change::Changed => "changed",
            Change::Resolved => continue,
        };
        annotation(&mut out, &e.finding, &e.snapshot, label, &e.changes);
    }
    errors(&mut out, &r.errors);
    let verdict = super::verdict(
        r.status(),
        crate::diag::total(&r.errors),
        r.fail_on,
        r.failing().count(),
        "new or worsened ",
    );
    let counts = format!(
        "{}: {} new, {} changed, {} resolved",
        r.title,
        r.count(Change::New),
        r.count(Change::Changed),
        r.count(Change::Resolved),
    );
    summary_line(&mut out, r.status(), "trueup diff", &counts, &verdict);
    out
}

/// The last line: plain for the log, or, when the run could not be trusted,
/// an error annotation that says so first, so the job's summary cannot read
/// as a pass.
fn summary_line(out: &mut String, status: Status, command: &str, counts: &str, verdict: &str) {
    if status == Status::Error {
        // `verdict` is `N errors: the run could not be trusted`.
        let errors = verdict.split(':').next().unwrap_or_default();
        let _ = writeln!(
            out,
            "::error title={}::{}",
            property(command),
            data(&format!(
                "{command}: the run could not be trusted ({errors}); {counts}"
            ))
        );
    } else {
        let _ = writeln!(out, "{command}: {counts}; {verdict}");
    }
}

/// One finding's line; `label` (`new`, `changed`) goes into the title.
fn annotation(
    out: &mut String,
    f: &Finding,
    snapshot: &std::path::Path,
    label: &str,
    changes: &[String],
) {
    let (file, line) = place(f, snapshot);
    let waived = f.is_waived();
    let mut title = format!("{} ({}", f.rule, f.severity);
    for extra in [label, if waived { "waived" } else { "" }] {
        if !extra.is_empty() {
            let _ = write!(title, ", {extra}");
        }
    }
    title.push(')');
    let mut message = f.message.clone();
    if !changes.is_empty() {
        let _ = write!(message, "\nchanged: {}", changes.join("; "));
    }
    if let Some(w) = waiver_text(f) {
        let _ = write!(message, "\n{w}");
    }
    if let Some(route) = super::finding_route(f, false) {
        let _ = write!(message, "\nroute: {route}");
    }
    if let Some(first) = f.remediation.first() {
        let _ = write!(message, "\nfix: {}", remediation_text(first));
    }
    let level = if waived {
        "notice"
    } else {
        command(f.severity)
    };
    let mut props = format!("file={}", property(&file));
    if let Some(line) = line {
        let _ = write!(props, ",line={line}");
    }
    let _ = writeln!(
        out,
        "::{level} {props},title={}::{}",
        property(&title),
        data(&message)
    );
}

/// Each diagnostic as an annotation at its file, line and column.
pub(crate) fn errors(out: &mut String, diags: &[Diagnostic]) {
    for d in diags {
        let level = match d.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut props = format!("file={}", property(&super::repo_path(&d.file)));
        if d.line > 0 {
            let _ = write!(props, ",line={}", d.line);
            if d.column > 0 {
                let _ = write!(props, ",col={}", d.column);
            }
        }
        let _ = writeln!(out, "::{level} {props}::{}", data(&d.message));
    }
}

/// Escapes a command's message, as the Actions runner reads it back; other
/// control and bidi characters become visible escapes, as in the text report.
pub fn data(s: &str) -> String {
    super::escape::text(&s.replace("\r\n", "\n"))
        .replace('%', "%25")
        .replace('\n', "%0A")
}

/// Escapes a property value, where `:` and `,` also delimit.
pub fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(data("50% done\r\nnext: a, b"), "50%25 done%0Anext: a, b");
        assert_eq!(data("a\n::error::b\x1b"), "a%0A::error::b\\u{1b}");
        assert_eq!(property("a: b, 5%\n"), "a%3A b%2C 5%25%0A");
    }
}
