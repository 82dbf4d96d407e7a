//! JUnit XML, the test report format GitLab, Jenkins and most CI read.
//!
//! `check` and `diff` report one suite per snapshot and one test case per
//! rule of the playbook in it (classname the snapshot path, name the rule
//! id): a case fails when the rule has findings that fail the run, and its
//! failure lists them. Errors that made the run untrustworthy are cases in
//! `<error>` of a last suite, `errors`, counted in `errors=`, so the report
//! never looks green then.

use std::fmt::Write;
use std::path::Path;

use super::{rule_ids, text::remediation_text, waiver_text, CheckReport, FailOn};
use crate::diag::Diagnostic;
use crate::diff::{Change, DiffReport};
use crate::engine::Finding;
use crate::testing::CaseResult;

/// Escapes text for XML attributes and content; control and bidi
/// characters become visible escapes first, as in the text report, since CI
/// tools show this text in their pages and logs.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in super::escape::text(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, nor U+FFFE and
            // U+FFFF, at all: a document with one is not well-formed.
            c if ((c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t'))
                || matches!(c, '\u{fffe}' | '\u{ffff}') =>
            {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
    out
}

/// How a test case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// An assertion did not hold: a `<failure>`.
    Failed,
    /// The case could not run to a verdict: an `<error>`.
    Error,
}

/// One test case: its name, classname, outcome and messages (the first
/// line of the first is the element's `message`).
pub struct Case {
    pub name: String,
    pub class: String,
    pub outcome: Outcome,
    pub messages: Vec<String>,
}

/// A suite of test cases with their failures.
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
}

impl Suite {
    fn count(&self, outcome: Outcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }
}

/// Renders suites as one `<testsuites>` document.
pub fn render(suites: &[Suite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(|s| s.count(Outcome::Failed)).sum();
    let errors: usize = suites.iter().map(|s| s.count(Outcome::Error)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"trueup\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">"
    );
    for s in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\">",
            escape(&s.name),
            s.cases.len(),
            s.count(Outcome::Failed),
            s.count(Outcome::Error),
        );
        for Case {
            name,
            class,
            outcome,
            messages: fails,
        } in &s.cases
        {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\"",
                escape(name),
                escape(class)
            );
            let element = match outcome {
                Outcome::Passed => {
                    out.push_str("/>\n");
                    continue;
                }
                Outcome::Failed => "failure",
                Outcome::Error => "error",
            };
            out.push_str(">\n");
            let first = fails
                .first()
                .and_then(|f| f.lines().next())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "      <{element} message=\"{}\" type=\"{element}\">{}</{element}>",
                escape(first),
                escape(&fails.join("\n"))
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `trueup test -f junit`: one suite per case file, and the errors that
/// stopped the run, if any, as cases in error.
pub fn tests(results: &[CaseResult], errors: &[Diagnostic]) -> String {
    let mut suites: Vec<Suite> = Vec::new();
    for r in results {
        let name = r.file.display().to_string();
        if suites.last().is_none_or(|s| s.name != name) {
            suites.push(Suite {
                name: name.clone(),
                cases: Vec::new(),
            });
        }
        let suite = suites.last_mut().expect("pushed above");
        suite.cases.push(Case {
            name: format!("line {}: {}", r.line, r.note),
            class: name,
            outcome: if r.passed() {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            messages: r.failures.clone(),
        });
    }
    suites.extend(self::errors(errors));
    render(&suites)
}

/// `trueup check -f junit`: one suite per snapshot, one case per rule.
pub fn check(r: &CheckReport) -> String {
    let mut suites: Vec<Suite> = r
        .evaluations
        .iter()
        .map(|e| {
            let failing: Vec<(&Finding, String)> = e
                .findings
                .iter()
                .filter(|f| r.fail_on.fails(f))
                .map(|f| (f, finding_text(f, "")))
                .collect();
            let ids = rule_ids(&r.rules, &e.findings);
            suite(&e.snapshot.path, &ids, &failing, "", r.fail_on)
        })
        .collect();
    suites.extend(errors(&r.errors));
    render(&suites)
}

/// `trueup diff -f junit`: one suite per head snapshot, one case per rule,
/// failing only for new or worsened findings at or above `--fail-on`.
pub fn diff(r: &DiffReport) -> String {
    let mut suites: Vec<Suite> = r
        .head
        .iter()
        .map(|e| {
            let failing: Vec<(&Finding, String)> = r
                .failing()
                .filter(|d| d.snapshot == e.snapshot.path)
                .map(|d| {
                    let change = match d.change {
                        Change::New => "new ".to_string(),
                        _ => format!("changed ({}) ", d.changes.join(", ")),
                    };
                    (&d.finding, finding_text(&d.finding, &change))
                })
                .collect();
            let ids = rule_ids(&r.rules, &e.findings);
            suite(
                &e.snapshot.path,
                &ids,
                &failing,
                "new or worsened ",
                r.fail_on,
            )
        })
        .collect();
    suites.extend(errors(&r.errors));
    render(&suites)
}

/// A snapshot's suite; a rule's case fails with a first line such as
/// `2 findings at or above high`, then each failing finding.
fn suite(
    snapshot: &Path,
    rule_ids: &[&str],
    failing: &[(&Finding, String)],
    what: &str,
    fail_on: FailOn,
) -> Suite {
    let name = super::repo_path(snapshot);
    let threshold = match fail_on {
        FailOn::Severity(s) => s.as_str(),
        FailOn::Never => "never",
    };
    let cases = rule_ids
        .iter()
        .map(|id| {
            let texts: Vec<&String> = failing
                .iter()
                .filter(|(f, _)| f.rule == *id)
                .map(|(_, t)| t)
                .collect();
            let mut failures = Vec::new();
            if !texts.is_empty() {
                let n = texts.len();
                let s = if n == 1 { "" } else { "s" };
                failures.push(format!("{n} {what}finding{s} at or above {threshold}"));
                failures.extend(texts.into_iter().cloned());
            }
            Case {
                name: id.to_string(),
                class: name.clone(),
                outcome: if failures.is_empty() {
                    Outcome::Passed
                } else {
                    Outcome::Failed
                },
                messages: failures,
            }
        })
        .collect();
    Suite { name, cases }
}

/// One failing finding: what, where, who hears of it, the first fix.
fn finding_text(f: &Finding, prefix: &str) -> String {
    let mut out = format!(
        "{prefix}{} {} {}: {}",
        f.severity, f.subject.kind, f.subject.id, f.message
    );
    if let Some(l) = &f.location {
        let _ = write!(out, " ({}:{})", super::repo_path(&l.file), l.line);
    }
    if let Some(w) = waiver_text(f) {
        let _ = write!(out, "\n  {w}");
    }
    if let Some(route) = super::finding_route(f, false) {
        let _ = write!(out, "\n  route: {route}");
    }
    if let Some(first) = f.remediation.first() {
        let _ = write!(out, "\n  fix: {}", remediation_text(first));
    }
    out
}

/// The run's errors as cases in error, or nothing.
pub fn errors(diags: &[Diagnostic]) -> Option<Suite> {
    if diags.is_empty() {
        return None;
    }
    let cases = diags
        .iter()
        .map(|d| Case {
            name: d.location(),
            class: super::repo_path(&d.file),
            outcome: Outcome::Error,
            messages: vec![d.to_string()],
        })
        .collect();
    Some(Suite {
        name: "errors".into(),
        cases,
    })
}
