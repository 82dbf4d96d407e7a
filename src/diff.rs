//! What a change would newly flag: findings new, resolved and changed
//! between two evaluations, matched by finding id.
//!
//! Two kinds of change are compared: a data change (same playbook, base and
//! head snapshots) and a playbook change (same snapshots, base and head
//! policies). Only a new or worsened finding can fail the run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::diag::Diagnostic;
use crate::engine::{Evaluation, Finding};
use crate::report::{FailOn, RuleInfo};

/// How a finding differs between base and head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    New,
    Changed,
    Resolved,
}

/// One finding that differs.
#[derive(Clone, Debug, Serialize)]
pub struct DiffEntry {
    pub change: Change,
    /// The head's finding; for a resolved one, the base's.
    pub finding: Finding,
    /// The base's finding, for a changed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Finding>,
    /// What changed, as `field: before → after`.
    pub changes: Vec<String>,
    /// The head snapshot the finding is in (the base's, for a resolved one).
    pub snapshot: PathBuf,
    /// New, or changed to a higher severity or from waived to not waived.
    pub worsened: bool,
}

/// A playbook as a diff names it: its folder and digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlaybookRef {
    pub policies: PathBuf,
    pub policies_digest: String,
}

/// A whole diff, ready to print.
pub struct DiffReport {
    /// What was compared, e.g. `snapshot a.yaml → b.yaml`.
    pub title: String,
    pub base: Vec<Evaluation>,
    pub head: Vec<Evaluation>,
    /// New, then changed, then resolved; each by severity, rule, subject.
    pub entries: Vec<DiffEntry>,
    pub errors: Vec<Diagnostic>,
    pub fail_on: FailOn,
    /// The head playbook's rules, for the formats that describe them.
    pub rules: Vec<RuleInfo>,
    /// The playbook each side was evaluated with (the same one for a data
    /// change).
    pub base_playbook: PlaybookRef,
    pub head_playbook: PlaybookRef,
}

impl DiffReport {
    /// Compares paired evaluations (base[i] against head[i]).
    pub fn new(
        title: String,
        base: Vec<Evaluation>,
        head: Vec<Evaluation>,
        fail_on: FailOn,
    ) -> DiffReport {
        let mut entries = Vec::new();
        for (b, h) in base.iter().zip(&head) {
            entries.extend(compare(b, h));
        }
        entries.sort_by(|a, b| {
            (
                a.change,
                std::cmp::Reverse(a.finding.severity),
                &a.finding.rule,
                &a.finding.subject,
            )
                .cmp(&(
                    b.change,
                    std::cmp::Reverse(b.finding.severity),
                    &b.finding.rule,
                    &b.finding.subject,
                ))
        });
        DiffReport {
            title,
            base,
            head,
            entries,
            errors: Vec::new(),
            fail_on,
            rules: Vec::new(),
            base_playbook: PlaybookRef::default(),
            head_playbook: PlaybookRef::default(),
        }
    }

    /// Entries that fail the run: new or worsened, at or above `--fail-on`.
    pub fn failing(&self) -> impl Iterator<Item = &DiffEntry> {
        self.entries
            .iter()
            .filter(|e| e.worsened && self.fail_on.fails(&e.finding))
    }

    pub fn count(&self, change: Change) -> usize {
        self.entries.iter().filter(|e| e.change == change).count()
    }

    /// 2 when the run could not be trusted, 1 when a new or worsened finding
    /// is at or above `--fail-on`, else 0.
    pub fn exit_code(&self) -> u8 {
        self.status().exit_code()
    }

    /// Error when the run could not be trusted, failing when a new or
    /// worsened finding fails it, else passing.
    pub fn status(&self) -> crate::report::Status {
        crate::report::Status::of(&self.errors, self.failing().count())
    }
}

fn compare(base: &Evaluation, head: &Evaluation) -> Vec<DiffEntry> {
    let before: BTreeMap<&str, &Finding> =
        base.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let after: BTreeMap<&str, &Finding> =
        head.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut out = Vec::new();
    for (id, f) in &after {
        match before.get(id) {
            None => out.push(DiffEntry {
                change: Change::New,
                finding: (*f).clone(),
                before: None,
                changes: Vec::new(),
                snapshot: head.snapshot.path.clone(),
                worsened: true,
            }),
            Some(b) => {
                let changes = differences(b, f);
                if !changes.is_empty() {
                    let worsened = f.severity > b.severity || (b.is_waived() && !f.is_waived());
                    out.push(DiffEntry {
                        change: Change::Changed,
                        finding: (*f).clone(),
                        before: Some((*b).clone()),
                        changes,
                        snapshot: head.snapshot.path.clone(),
                        worsened,
                    });
                }
            }
        }
    }
    for (id, f) in &before {
        if !after.contains_key(id) {
            out.push(DiffEntry {
                change: Change::Resolved,
                finding: (*f).clone(),
                before: None,
                changes: Vec::new(),
                snapshot: base.snapshot.path.clone(),
                worsened: false,
            });
        }
    }
    out
}

/// `severity: medium → high`, `queue: sam-team → legal`, `waived: yes → no`.
fn differences(b: &Finding, h: &Finding) -> Vec<String> {
    let mut out = Vec::new();
    if b.severity != h.severity {
        out.push(format!("severity: {} → {}", b.severity, h.severity));
    }
    let queue = |f: &Finding| {
        f.route
            .as_ref()
            .map_or_else(String::new, |r| r.queue.clone())
    };
    if queue(b) != queue(h) {
        out.push(format!("queue: {} → {}", queue(b), queue(h)));
    }
    let yes_no = |w: bool| if w { "yes" } else { "no" };
    if b.is_waived() != h.is_waived() {
        out.push(format!(
            "waived: {} → {}",
            yes_no(b.is_waived()),
            yes_no(h.is_waived())
        ));
    }
    out
}
