//! Reports: pure functions from a run's result to text.
//!
//! Each format is one file and takes the same [`CheckReport`] (or
//! [`DiffReport`]); none of them evaluates anything or reads the clock, so
//! each is testable alone and the same inputs always print the same bytes.

pub mod diff;
pub mod escape;
pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod position;
pub mod sarif;
pub mod text;

use std::path::PathBuf;

use crate::diag::Diagnostic;
use crate::diff::DiffReport;
use crate::engine::{Evaluation, Finding, Severity};
use crate::policy::Playbook;

/// An output format of `check` and `diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Findings grouped by severity, for a terminal
    Text,
    /// One object: inputs, findings, summary and errors
    Json,
    /// SARIF 2.1.0, for GitHub code scanning
    Sarif,
    /// JUnit XML, for GitLab, Jenkins and other CI test reports
    Junit,
    /// GitHub Actions workflow commands: annotations on the changed lines
    Github,
    /// A pull-request comment
    Markdown,
}

/// Renders a check in `format`; `terminal` says stdout is the destination
/// (colour is used only there, on a TTY, without `NO_COLOR`).
pub fn render_check(r: &CheckReport, format: Format, terminal: bool) -> String {
    match format {
        Format::Text => text::render(
            r,
            text::Style {
                color: terminal && crate::command::stdout_color(),
            },
        ),
        Format::Json => json::render(r),
        Format::Sarif => sarif::check(r),
        Format::Junit => junit::check(r),
        Format::Github => github::check(r),
        Format::Markdown => markdown::check(r),
    }
}

/// Renders a diff in `format`.
pub fn render_diff(r: &DiffReport, format: Format, terminal: bool) -> String {
    match format {
        Format::Text => diff::text(
            r,
            text::Style {
                color: terminal && crate::command::stdout_color(),
            },
        ),
        Format::Json => diff::json(r),
        Format::Sarif => sarif::diff(r),
        Format::Junit => junit::diff(r),
        Format::Github => github::diff(r),
        Format::Markdown => markdown::diff(r),
    }
}

/// A rule as reports describe it: what its script says of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: String,
    /// The script's `TITLE`.
    pub title: Option<String>,
    /// The script's `DESCRIPTION`.
    pub description: Option<String>,
    /// The script that defines the rule.
    pub policy: PathBuf,
}

impl RuleInfo {
    /// Every rule of a playbook, in path order.
    pub fn of(playbook: &Playbook) -> Vec<RuleInfo> {
        playbook
            .rules()
            .map(|m| RuleInfo {
                id: m.rule_id(),
                title: m.constant_str("TITLE"),
                description: m.constant_str("DESCRIPTION"),
                policy: m.path.clone(),
            })
            .collect()
    }
}

/// The rule ids a report covers: every rule of the playbook in path order,
/// then any other rule a finding names (a playbook the report was not told
/// about), by id.
fn rule_ids<'a>(
    rules: &'a [RuleInfo],
    findings: impl IntoIterator<Item = &'a Finding>,
) -> Vec<&'a str> {
    let mut ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    let others: std::collections::BTreeSet<&str> = findings
        .into_iter()
        .map(|f| f.rule.as_str())
        .filter(|id| !ids.contains(id))
        .collect();
    ids.extend(others);
    ids
}

/// The threshold at which findings fail a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Severity(Severity),
    Never,
}

impl FailOn {
    pub fn parse(s: &str) -> Option<FailOn> {
        if s == "never" {
            Some(FailOn::Never)
        } else {
            Severity::parse(s).map(FailOn::Severity)
        }
    }

    /// Whether this finding fails the run.
    pub fn fails(self, f: &Finding) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::Severity(s) => f.severity >= s && !f.is_waived(),
        }
    }
}

/// Everything `trueup check` found, ready to print.
pub struct CheckReport {
    pub policies: PathBuf,
    pub policies_digest: String,
    pub evaluations: Vec<Evaluation>,
    pub errors: Vec<Diagnostic>,
    pub fail_on: FailOn,
    /// The playbook's rules, for the formats that describe them (SARIF, JUnit).
    pub rules: Vec<RuleInfo>,
}

impl CheckReport {
    /// Every finding of every snapshot, in report order.
    pub fn findings(&self) -> impl Iterator<Item = (&Evaluation, &Finding)> {
        self.evaluations
            .iter()
            .flat_map(|e| e.findings.iter().map(move |f| (e, f)))
    }

    /// Counts by severity (index = severity), not counting waived findings.
    pub fn counts(&self) -> [usize; 5] {
        let mut counts = [0; 5];
        for (_, f) in self.findings().filter(|(_, f)| !f.is_waived()) {
            counts[f.severity as usize] += 1;
        }
        counts
    }

    pub fn waived(&self) -> usize {
        self.findings().filter(|(_, f)| f.is_waived()).count()
    }

    pub fn failing(&self) -> usize {
        self.findings()
            .filter(|(_, f)| self.fail_on.fails(f))
            .count()
    }

    /// 2 when the run could not be trusted, 1 when a finding fails it, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.failing() > 0 {
            1
        } else {
            0
        }
    }
}

/// A path as CI tools and repository browsers read it: forward slashes, no
/// leading `./`.
fn repo_path(path: &std::path::Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut rest = text.as_str();
    while let Some(r) = rest.strip_prefix("./") {
        rest = r.trim_start_matches('/');
    }
    rest.to_string()
}

/// Where a finding points: its record's line, else its snapshot as a whole.
fn place(f: &Finding, snapshot: &std::path::Path) -> (String, Option<u32>) {
    match &f.location {
        Some(l) => (repo_path(&l.file), Some(l.line)),
        None => (repo_path(snapshot), None),
    }
}

/// A route with its escalation ladder, as the text reports print it:
/// `route: queue (owner), notify by DATE; escalate to WHO on DATE...`.
pub(crate) fn route_line(route: &crate::engine::Route) -> String {
    let mut line = format!("route: {}", route_text(route));
    for step in &route.escalate {
        line.push_str(&format!("; escalate to {} on {}", step.to, step.on));
    }
    line
}

/// A route in one line: `queue (owner), notify by DATE`.
fn route_text(route: &crate::engine::Route) -> String {
    let mut out = route.queue.clone();
    if let Some(owner) = &route.owner {
        out.push_str(&format!(" ({owner})"));
    }
    if let Some(by) = route.notify_by {
        out.push_str(&format!(", notify by {by}"));
    }
    out
}

/// A finding's waiver in one line: `waived: REASON (approved by …, TICKET,
/// expires DATE)`, or `waiver expired: …` for one that no longer applies.
fn waiver_text(f: &Finding) -> Option<String> {
    let w = f.waiver.as_ref()?;
    let state = if f.is_waived() {
        "waived".to_string()
    } else {
        format!("waiver {}", w.state)
    };
    let ticket = w
        .ticket
        .as_deref()
        .map(|t| format!(", {t}"))
        .unwrap_or_default();
    Some(format!(
        "{state}: {} (approved by {}{ticket}, expires {})",
        w.reason, w.approved_by, w.expires
    ))
}
