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
pub mod lint;
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

    /// Whether this unmet scenario expectation fails `trueup simulate`:
    /// one about a finding below the threshold does not, nor any under
    /// `never`; one whose severity is unknown (no such finding, no
    /// `severity:` wanted) always does unless `never`.
    pub fn fails_expectation(self, o: &crate::simulate::expect::Outcome) -> bool {
        !o.met
            && match self {
                FailOn::Never => false,
                FailOn::Severity(s) => o.severity.is_none_or(|got| got >= s),
            }
    }

    /// `--fail-on high`, as a report names the threshold.
    pub fn flag(self) -> String {
        match self {
            FailOn::Never => "--fail-on never".into(),
            FailOn::Severity(s) => format!("--fail-on {s}"),
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

/// What a run comes to, in every format: it agrees with the exit code (2, 1, 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The run could not be trusted (exit 2): whatever it found is partial.
    Error,
    /// Findings at or above `--fail-on` (exit 1).
    Failing,
    /// Nothing at or above `--fail-on` (exit 0).
    Passing,
}

impl Status {
    /// The status of a run with `errors` and `failing` findings.
    pub fn of(errors: &[Diagnostic], failing: usize) -> Status {
        if !errors.is_empty() {
            Status::Error
        } else if failing > 0 {
            Status::Failing
        } else {
            Status::Passing
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Error => "error",
            Status::Failing => "failing",
            Status::Passing => "passing",
        }
    }

    /// The exit code every command returns for this status.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Error => 2,
            Status::Failing => 1,
            Status::Passing => 0,
        }
    }
}

/// The end of a summary line: `1 error: the run could not be trusted`,
/// `2 new or worsened at or above high: failing`, `nothing at or above
/// high: passing` or `--fail-on never`; `what` qualifies the findings.
pub(crate) fn verdict(
    status: Status,
    errors: usize,
    fail_on: FailOn,
    failing: usize,
    what: &str,
) -> String {
    match (status, fail_on) {
        (Status::Error, _) => format!(
            "{errors} error{}: the run could not be trusted",
            if errors == 1 { "" } else { "s" }
        ),
        (_, FailOn::Never) => "--fail-on never".to_string(),
        (Status::Failing, FailOn::Severity(s)) => {
            format!("{failing} {what}at or above {s}: failing")
        }
        (Status::Passing, FailOn::Severity(s)) => format!("nothing {what}at or above {s}: passing"),
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
    /// With `--ledger`: what recording each evaluation did, in the same order.
    pub ledger: Option<LedgerReport>,
}

/// What `check --ledger` recorded.
pub struct LedgerReport {
    pub path: PathBuf,
    /// One per evaluation, in the report's order.
    pub runs: Vec<crate::ledger::record::RunOutcome>,
    pub fail_on_overdue: bool,
}

impl LedgerReport {
    pub fn overdue(&self) -> usize {
        self.runs.iter().map(|r| r.overdue).sum()
    }
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

    /// Steps overdue that fail the run (`--fail-on-overdue`).
    pub fn failing_overdue(&self) -> usize {
        self.ledger
            .as_ref()
            .filter(|l| l.fail_on_overdue)
            .map_or(0, LedgerReport::overdue)
    }

    /// Error when the run could not be trusted, failing when a finding
    /// fails it (or a step is overdue, with `--fail-on-overdue`), else
    /// passing.
    pub fn status(&self) -> Status {
        Status::of(&self.errors, self.failing() + self.failing_overdue())
    }

    /// 2 when the run could not be trusted, 1 when a finding fails it, else 0.
    pub fn exit_code(&self) -> u8 {
        self.status().exit_code()
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
    format!("route: {}", route_ladder(route))
}

/// `queue (owner), notify by DATE; escalate to WHO on DATE...`; with a
/// ledger, each step says where it stands: `notice overdue since DATE;
/// escalate to WHO due DATE`.
fn route_ladder(route: &crate::engine::Route) -> String {
    let mut line = route_head(route);
    for step in &route.escalate {
        match step.status {
            Some(s) => line.push_str(&format!(
                "; escalate to {} {}",
                step.to,
                s.describe(step.on)
            )),
            None => line.push_str(&format!("; escalate to {} on {}", step.to, step.on)),
        }
    }
    line
}

/// A route in one line: `queue (owner), notify by DATE`; with a ledger,
/// the whole ladder with each step's status, which is what a reader of
/// any format needs to act on.
fn route_text(route: &crate::engine::Route) -> String {
    if route.notify_status.is_some() || route.escalate.iter().any(|e| e.status.is_some()) {
        return route_ladder(route);
    }
    route_head(route)
}

/// `queue (owner), notify by DATE` (or `notice STATUS`).
fn route_head(route: &crate::engine::Route) -> String {
    let mut out = route_who(route);
    match (route.notify_by, route.notify_status) {
        (Some(by), Some(s)) => out.push_str(&format!(", notice {}", s.describe(by))),
        (Some(by), None) => out.push_str(&format!(", notify by {by}")),
        _ => {}
    }
    out
}

/// A finding's case in one line: `case C-000001: opened 2026-11-01`.
pub(crate) fn case_line(f: &Finding) -> Option<String> {
    let c = f.case.as_ref()?;
    let mut out = match c.event.as_str() {
        "opened" => format!("case {}: opened {}", c.id, c.opened),
        "reopened" => format!(
            "case {}: reopened {} (first opened {}, reopened {} time{})",
            c.id,
            c.since,
            c.opened,
            c.reopened,
            if c.reopened == 1 { "" } else { "s" }
        ),
        _ if c.since != c.opened => format!(
            "case {}: open since {} (reopened; first opened {})",
            c.id, c.since, c.opened
        ),
        _ => format!("case {}: open since {}", c.id, c.opened),
    };
    if let Some(d) = c.acknowledged {
        out.push_str(&format!(", acknowledged {d}"));
    }
    if let Some(a) = &c.assignee {
        out.push_str(&format!(", assigned to {a}"));
    }
    Some(out)
}

/// What recording one evaluation did, in one line.
pub(crate) fn ledger_line(l: &LedgerReport, run: &crate::ledger::record::RunOutcome) -> String {
    let path = l.path.display();
    if !run.recorded {
        return format!(
            "ledger `{path}`: already recorded as run {} of estate `{}`; nothing changed",
            run.run, run.estate
        );
    }
    let list = |ids: &[String]| -> String {
        if ids.is_empty() {
            String::new()
        } else if ids.len() <= 5 {
            format!(" ({})", ids.join(", "))
        } else {
            format!(" ({}, and {} more)", ids[..5].join(", "), ids.len() - 5)
        }
    };
    let resolved: Vec<String> = run.resolved.iter().map(|r| r.case.clone()).collect();
    let mut out = format!(
        "ledger `{path}`: run {} of estate `{}`: {} opened{}, {} reopened{}, {} seen again, {} resolved{}",
        run.run,
        run.estate,
        run.opened.len(),
        list(&run.opened),
        run.reopened.len(),
        list(&run.reopened),
        run.updated,
        resolved.len(),
        list(&resolved),
    );
    if !run.confirmed.is_empty() {
        out.push_str(&format!(
            ", {} manual resolution(s) confirmed{}",
            run.confirmed.len(),
            list(&run.confirmed)
        ));
    }
    out.push_str(&format!(
        "; {} step{} overdue",
        run.overdue,
        if run.overdue == 1 { "" } else { "s" }
    ));
    out
}

/// `queue (owner)`.
fn route_who(route: &crate::engine::Route) -> String {
    match &route.owner {
        Some(owner) => format!("{} ({owner})", route.queue),
        None => route.queue.clone(),
    }
}

/// A finding's route as the reports show it: `ladder` adds the escalation
/// steps (the text reports). A waived finding owes no notice and reaches no
/// escalation while its waiver lasts, so it shows neither date as if due,
/// but `queue (owner); waived until DATE`.
pub(crate) fn finding_route(f: &Finding, ladder: bool) -> Option<String> {
    let route = f.route.as_ref()?;
    if let Some(w) = f.waiver.as_ref().filter(|_| f.is_waived()) {
        return Some(format!(
            "{}; waived until {}: no notice or escalation due",
            route_who(route),
            w.expires
        ));
    }
    Some(if ladder {
        route_ladder(route)
    } else {
        route_text(route)
    })
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
