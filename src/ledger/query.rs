//! Reading cases: one case row, lists for `trueup cases`, timelines for
//! `trueup case show`.

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::{json, Value};

use super::steps::{Ladder, StepStatus};
use std::path::Path;

use super::{case_name, date_col, opt_date_col, parse_case_name, Result};
use crate::date::Date;

/// One row of the cases table.
#[derive(Clone, Debug)]
pub struct CaseRow {
    pub id: i64,
    pub estate: String,
    pub finding_id: String,
    pub rule: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub state: String,
    pub severity: String,
    pub queue: String,
    pub owner: Option<String>,
    pub assignee: Option<String>,
    pub ladder: Ladder,
    pub waived: bool,
    pub opened: Date,
    pub since: Date,
    pub last_seen: Date,
    pub resolved_on: Option<Date>,
    /// `run`, `manual` or `confirmed` (a manual resolution a run agreed with).
    pub resolution: Option<String>,
    pub reopened: i64,
    pub acked_on: Option<Date>,
    pub message: String,
}

pub const CASE_COLUMNS: &str = "id, estate, finding_id, rule, subject_kind, subject_id, state, severity, queue, owner, assignee, route, waived, opened, since, last_seen, resolved_on, resolution, reopened, acked_on, message";

pub fn case_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
    let route: String = r.get(11)?;
    let ladder: Ladder = serde_json::from_str(&route).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(11, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(CaseRow {
        id: r.get(0)?,
        estate: r.get(1)?,
        finding_id: r.get(2)?,
        rule: r.get(3)?,
        subject_kind: r.get(4)?,
        subject_id: r.get(5)?,
        state: r.get(6)?,
        severity: r.get(7)?,
        queue: r.get(8)?,
        owner: r.get(9)?,
        assignee: r.get(10)?,
        ladder,
        waived: r.get::<_, i64>(12)? != 0,
        opened: date_col(r, 13)?,
        since: date_col(r, 14)?,
        last_seen: date_col(r, 15)?,
        resolved_on: opt_date_col(r, 16)?,
        resolution: r.get(17)?,
        reopened: r.get(18)?,
        acked_on: opt_date_col(r, 19)?,
        message: r.get(20)?,
    })
}

impl CaseRow {
    pub fn name(&self) -> String {
        case_name(self.id)
    }

    /// Whom the case is with: its assignee, else the route's owner.
    pub fn owner_now(&self) -> Option<&str> {
        self.assignee.as_deref().or(self.owner.as_deref())
    }

    /// Its steps as of `as_of`; none once resolved.
    pub fn steps(&self, as_of: Date) -> Vec<(String, Date, StepStatus)> {
        if self.state != "open" {
            return Vec::new();
        }
        self.ladder.statuses(self.acked_on, self.waived, as_of)
    }

    pub fn overdue(&self, as_of: Date) -> usize {
        self.steps(as_of)
            .iter()
            .filter(|s| s.2 == StepStatus::Overdue)
            .count()
    }

    /// The case as `cases -f json` and `case show -f json` print it.
    pub fn to_json(&self, as_of: Option<Date>) -> Value {
        let steps: Vec<Value> = as_of
            .map(|d| self.steps(d))
            .unwrap_or_default()
            .into_iter()
            .map(|(step, on, status)| json!({ "step": step, "on": on, "status": status }))
            .collect();
        json!({
            "id": self.name(),
            "estate": self.estate,
            "finding": self.finding_id,
            "rule": self.rule,
            "subject": { "kind": self.subject_kind, "id": self.subject_id },
            "state": self.state,
            "severity": self.severity,
            "queue": self.queue,
            "owner": self.owner_now(),
            "waived": self.waived,
            "opened": self.opened,
            "since": self.since,
            "last_seen": self.last_seen,
            "resolved_on": self.resolved_on,
            "resolution": self.resolution,
            "reopened": self.reopened,
            "acknowledged": self.acked_on,
            "message": self.message,
            "as_of": as_of,
            "steps": steps,
        })
    }
}

/// The latest as-of date recorded for each estate: the date case lists
/// count steps on (the ledger knows nothing later).
pub fn latest_as_of(
    tx: &Transaction<'_>,
) -> rusqlite::Result<std::collections::HashMap<String, Date>> {
    let mut stmt = tx.prepare("SELECT estate, MAX(as_of) FROM runs GROUP BY estate")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, date_col(r, 1)?)))?;
    rows.collect()
}

/// Every case, by id.
pub fn all_cases(tx: &Transaction<'_>) -> rusqlite::Result<Vec<CaseRow>> {
    let mut stmt = tx.prepare(&format!("SELECT {CASE_COLUMNS} FROM cases ORDER BY id"))?;
    let rows = stmt.query_map([], case_of)?;
    rows.collect()
}

/// A case by `C-000042`, `42` or its finding id (when one estate has it).
pub fn find_case(path: &Path, tx: &Transaction<'_>, key: &str) -> Result<CaseRow> {
    let on = |e| super::wrap(path, 0, "cannot read the case", e);
    if let Some(id) = parse_case_name(key) {
        let row = tx
            .query_row(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1"),
                [id],
                case_of,
            )
            .optional()
            .map_err(on)?;
        return row.ok_or_else(|| super::refused(path, format!("no case `{key}`")));
    }
    let mut stmt = tx
        .prepare(&format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE finding_id = ?1 ORDER BY id"
        ))
        .map_err(on)?;
    let rows: Vec<CaseRow> = stmt
        .query_map([key], case_of)
        .and_then(|r| r.collect())
        .map_err(on)?;
    match rows.len() {
        0 => Err(super::refused(path, format!(
            "no case `{key}`: give a case id such as `C-000001` or a finding id such as `overuse:product:acme-cad`"
        ))),
        1 => Ok(rows.into_iter().next().expect("one row")),
        _ => Err(super::refused(path, format!(
            "finding `{key}` has a case in several estates ({}); give the case id",
            rows.iter()
                .map(|c| format!("{} in `{}`", c.name(), c.estate))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// One observation of a case, with its run.
#[derive(Clone, Debug)]
pub struct Observation {
    pub run: i64,
    pub snapshot: String,
    pub sha256: String,
    pub as_of: Date,
    pub severity: String,
    pub waived: bool,
    pub message: String,
    pub evidence: Value,
}

/// One event of a case.
#[derive(Clone, Debug)]
pub struct Event {
    pub seq: i64,
    pub run: Option<i64>,
    pub kind: String,
    pub actor: String,
    pub at: String,
    pub body: Value,
}

/// Every observation and event of a case, oldest first.
pub fn timeline(
    tx: &Transaction<'_>,
    case: i64,
) -> rusqlite::Result<(Vec<Observation>, Vec<Event>)> {
    let mut stmt = tx.prepare(
        "SELECT o.run_id, r.snapshot_path, r.sha256, r.as_of, o.severity, o.waived, o.message, e.json
         FROM observations o JOIN runs r ON r.id = o.run_id JOIN evidence e ON e.sha256 = o.evidence
         WHERE o.case_id = ?1 ORDER BY r.as_of, o.run_id",
    )?;
    let obs = stmt
        .query_map([case], |r| {
            let evidence: String = r.get(7)?;
            Ok(Observation {
                run: r.get(0)?,
                snapshot: r.get(1)?,
                sha256: r.get(2)?,
                as_of: date_col(r, 3)?,
                severity: r.get(4)?,
                waived: r.get::<_, i64>(5)? != 0,
                message: r.get(6)?,
                evidence: serde_json::from_str(&evidence).unwrap_or(Value::String(evidence)),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = tx.prepare(
        "SELECT seq, run_id, kind, actor, at, body FROM events WHERE case_id = ?1 ORDER BY seq",
    )?;
    let events = stmt
        .query_map(params![case], |r| {
            let body: String = r.get(5)?;
            Ok(Event {
                seq: r.get(0)?,
                run: r.get(1)?,
                kind: r.get(2)?,
                actor: r.get(3)?,
                at: r.get(4)?,
                body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((obs, events))
}

/// The cases with evidence on file: a note of kind `evidence`, or any note
/// with an attachment.
pub fn evidenced_cases(tx: &Transaction<'_>) -> rusqlite::Result<std::collections::BTreeSet<i64>> {
    let mut stmt = tx.prepare(
        "SELECT DISTINCT case_id FROM events WHERE kind = 'note' AND case_id IS NOT NULL
         AND (json_extract(body, '$.kind') = 'evidence' OR json_extract(body, '$.attachment') IS NOT NULL)",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    rows.collect()
}
