//! Recording a run: a snapshot's findings open, update, resolve and reopen
//! the cases of its estate.
//!
//! The caller holds one write transaction for the whole command; nothing
//! here commits. A run whose as-of date is before the estate's latest is
//! refused, and the same snapshot (same sha256, as-of date and policies
//! digest) recorded again changes nothing.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;

use super::chain::{observation_line, sha256_hex, Appender, NewEvent};
use super::query::{case_of, CaseRow, CASE_COLUMNS};
use super::steps::{mark, Ladder};
use super::{case_name, CaseRef, Result};
use crate::date::Date;
use crate::engine::{Evaluation, Finding};

/// Who records runs in the event chain.
pub const RUN_ACTOR: &str = "trueup";

/// What recording one evaluation did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunOutcome {
    pub snapshot: std::path::PathBuf,
    pub estate: String,
    /// The run's number in the ledger; for a snapshot already recorded,
    /// the run that recorded it.
    pub run: i64,
    /// False when the same snapshot was recorded before: nothing changed.
    pub recorded: bool,
    pub opened: Vec<String>,
    pub reopened: Vec<String>,
    pub updated: usize,
    /// Cases resolved because their finding is gone.
    pub resolved: Vec<Resolved>,
    /// Manual resolutions this run agreed with.
    pub confirmed: Vec<String>,
    /// Steps overdue on this run's findings.
    pub overdue: usize,
}

/// A case a run resolved.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Resolved {
    pub case: String,
    pub finding: String,
}

/// The start of the open period of each open case of `estate`: the date
/// its route counts from, handed to evaluation.
pub fn open_since(
    path: &Path,
    tx: &Transaction<'_>,
    estate: &str,
) -> Result<HashMap<String, Date>> {
    let on = |e| super::wrap(path, 0, "cannot read open cases", e);
    let mut stmt = tx
        .prepare_cached("SELECT finding_id, since FROM cases WHERE estate = ?1 AND state = 'open'")
        .map_err(on)?;
    let rows = stmt
        .query_map([estate], |r| {
            Ok((r.get::<_, String>(0)?, super::date_col(r, 1)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<HashMap<_, _>>>())
        .map_err(on)?;
    Ok(rows)
}

/// How a run is recorded.
#[derive(Clone, Copy, Debug)]
pub struct RecordOptions<'a> {
    pub policies_digest: &'a str,
    /// What identifies the snapshot's content: its file's sha256, or, for
    /// a simulation's snapshot changed in memory, one per state of it.
    pub sha256: &'a str,
    /// Mark each finding with its case and its steps' status.
    pub annotate: bool,
}

/// Records `eval` for its estate and, with `annotate`, marks each finding
/// with its case and the status of each route step.
pub fn record(
    path: &Path,
    tx: &Transaction<'_>,
    chain: &mut Appender,
    eval: &mut Evaluation,
    opts: RecordOptions<'_>,
) -> Result<RunOutcome> {
    let policies_digest = opts.policies_digest;
    let sha256 = opts.sha256;

    let on = |e| super::wrap(path, 0, "cannot record the run", e);
    let estate = eval.snapshot.meta.estate().to_string();
    let as_of = eval.as_of;
    let as_of_text = as_of.to_string();
    let mut out = RunOutcome {
        snapshot: eval.snapshot.path.clone(),
        estate: estate.clone(),
        ..RunOutcome::default()
    };
    let latest: Option<String> = tx
        .query_row(
            "SELECT MAX(as_of) FROM runs WHERE estate = ?1",
            [&estate],
            |r| r.get(0),
        )
        .map_err(&on)?;
    if let Some(latest) = latest.filter(|l| *l > as_of_text) {
        return Err(super::refused(path, format!(
            "snapshot `{}` is as of {as_of}, before the latest run of estate `{estate}` ({latest}); runs are recorded in date order",
            eval.snapshot.path.display()
        )));
    }
    let same: Option<i64> = tx
        .query_row(
            "SELECT id FROM runs WHERE estate = ?1 AND sha256 = ?2 AND as_of = ?3 AND policies_digest = ?4 ORDER BY id LIMIT 1",
            params![estate, sha256, as_of_text, policies_digest],
            |r| r.get(0),
        )
        .optional()
        .map_err(&on)?;
    let mut open: HashMap<String, CaseRow> = {
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE estate = ?1 AND state = 'open'"
            ))
            .map_err(&on)?;
        let rows = stmt
            .query_map([&estate], case_of)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(&on)?;
        rows.into_iter()
            .map(|c| (c.finding_id.clone(), c))
            .collect()
    };
    if let Some(run) = same {
        out.run = run;
        for f in &mut eval.findings {
            if let Some(c) = open.get(&f.id) {
                if opts.annotate {
                    annotate(f, c, "seen", as_of, &mut out);
                }
            }
        }
        return Ok(out);
    }
    out.recorded = true;
    tx.prepare_cached(
        "INSERT INTO runs (estate, snapshot_path, snapshot_id, sha256, as_of, policies_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            estate,
            eval.snapshot.path.to_string_lossy(),
            eval.snapshot.meta.id,
            sha256,
            as_of_text,
            policies_digest
        ])
    })
    .map_err(&on)?;
    let run = tx.last_insert_rowid();
    out.run = run;
    let mut lines: Vec<(i64, String)> = Vec::with_capacity(eval.findings.len());
    for f in &mut eval.findings {
        let (case, event) = match open.remove(&f.id) {
            Some(c) => {
                out.updated += 1;
                (update(tx, chain, run, as_of, c, f).map_err(&on)?, "seen")
            }
            None => {
                let old = tx
                    .query_row(
                        &format!("SELECT {CASE_COLUMNS} FROM cases WHERE estate = ?1 AND finding_id = ?2"),
                        params![estate, f.id],
                        case_of,
                    )
                    .optional()
                    .map_err(&on)?;
                match old {
                    Some(c) => {
                        let c = reopen(tx, chain, run, as_of, c, f).map_err(&on)?;
                        out.reopened.push(c.name());
                        (c, "reopened")
                    }
                    None => {
                        let c = open_case(tx, chain, run, as_of, &estate, f).map_err(&on)?;
                        out.opened.push(c.name());
                        (c, "opened")
                    }
                }
            }
        };
        let evidence = serde_json::to_string(&f.evidence).expect("json values serialize");
        let evidence_sha = sha256_hex(evidence.as_bytes());
        tx.prepare_cached("INSERT OR IGNORE INTO evidence (sha256, json) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![evidence_sha, evidence]))
            .map_err(&on)?;
        let severity = f.severity.as_str();
        tx.prepare_cached(
            "INSERT INTO observations (case_id, run_id, severity, waived, message, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![case.id, run, severity, f.is_waived(), f.message, evidence_sha])
        })
        .map_err(&on)?;
        lines.push((
            case.id,
            observation_line(case.id, severity, f.is_waived(), &f.message, &evidence_sha),
        ));
        if opts.annotate {
            annotate(f, &case, event, as_of, &mut out);
        }
    }
    // What is left open was not found: resolved on this date.
    let mut gone: Vec<CaseRow> = open.into_values().collect();
    gone.sort_by_key(|c| c.id);
    for c in gone {
        tx.prepare_cached(
            "UPDATE cases SET state = 'resolved', resolved_on = ?2, resolution = 'run' WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![c.id, as_of_text]))
        .map_err(&on)?;
        chain
            .append(
                tx,
                NewEvent {
                    case_id: Some(c.id),
                    run_id: Some(run),
                    kind: "resolved",
                    actor: RUN_ACTOR,
                    at: as_of,
                    body: json!({
                        "finding": c.finding_id,
                        "reason": format!("not found in snapshot `{}`", eval.snapshot.path.display()),
                    }),
                },
            )
            .map_err(&on)?;
        out.resolved.push(Resolved {
            case: c.name(),
            finding: c.finding_id.clone(),
        });
    }
    // Manual resolutions that this run agrees with.
    let manual: Vec<(i64, String)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT id, finding_id FROM cases WHERE estate = ?1 AND state = 'resolved' AND resolution = 'manual' ORDER BY id",
            )
            .map_err(&on)?;
        let rows = stmt
            .query_map([&estate], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(&on)?;
        rows
    };
    for (id, finding) in manual {
        tx.execute(
            "UPDATE cases SET resolution = 'confirmed' WHERE id = ?1",
            [id],
        )
        .map_err(&on)?;
        chain
            .append(
                tx,
                NewEvent {
                    case_id: Some(id),
                    run_id: Some(run),
                    kind: "confirmed",
                    actor: RUN_ACTOR,
                    at: as_of,
                    body: json!({ "finding": finding, "reason": "the finding is not in this run: the manual resolution holds" }),
                },
            )
            .map_err(&on)?;
        out.confirmed.push(case_name(id));
    }
    lines.sort();
    let mut digest = sha2::Sha256::default();
    for (_, l) in &lines {
        sha2::Digest::update(&mut digest, l.as_bytes());
    }
    let digest: String = sha2::Digest::finalize(digest)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    chain
        .append(
            tx,
            NewEvent {
                case_id: None,
                run_id: Some(run),
                kind: "recorded",
                actor: RUN_ACTOR,
                at: as_of,
                body: json!({
                    "estate": estate,
                    "snapshot": eval.snapshot.path.to_string_lossy(),
                    "snapshot_id": eval.snapshot.meta.id,
                    "sha256": sha256,
                    "as_of": as_of,
                    "policies_digest": policies_digest,
                    "findings": eval.findings.len(),
                    "opened": out.opened.len(),
                    "reopened": out.reopened.len(),
                    "resolved": out.resolved.len(),
                    "observations": digest,
                }),
            },
        )
        .map_err(&on)?;
    Ok(out)
}

/// Marks `f` with its case and its steps' status.
fn annotate(f: &mut Finding, c: &CaseRow, event: &str, as_of: Date, out: &mut RunOutcome) {
    let waived = f.is_waived();
    if let Some(route) = f.route.as_mut() {
        mark(route, c.acked_on, waived, as_of);
        let overdue = route
            .notify_status
            .iter()
            .chain(route.escalate.iter().filter_map(|e| e.status.as_ref()))
            .filter(|s| **s == super::steps::StepStatus::Overdue)
            .count();
        out.overdue += overdue;
    }
    f.case = Some(CaseRef {
        id: c.name(),
        state: c.state.clone(),
        event: event.to_string(),
        opened: c.opened,
        since: c.since,
        last_seen: c.last_seen,
        reopened: c.reopened,
        acknowledged: c.acked_on,
        assignee: c.assignee.clone(),
    });
}

fn ladder_of(f: &Finding) -> Ladder {
    f.route.as_ref().map(Ladder::of).unwrap_or_else(|| Ladder {
        queue: crate::routing::UNROUTED.into(),
        ..Ladder::default()
    })
}

fn ladder_json(l: &Ladder) -> String {
    serde_json::to_string(l).expect("ladders serialize")
}

fn open_case(
    tx: &Transaction<'_>,
    chain: &mut Appender,
    run: i64,
    as_of: Date,
    estate: &str,
    f: &Finding,
) -> rusqlite::Result<CaseRow> {
    let ladder = ladder_of(f);
    let at = as_of.to_string();
    tx.prepare_cached(
        "INSERT INTO cases (estate, finding_id, rule, subject_kind, subject_id, state, severity, queue, owner, route, waived, opened, since, last_seen, message)
         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?11, ?12)",
    )?
    .execute(params![
        estate,
        f.id,
        f.rule,
        f.subject.kind,
        f.subject.id,
        f.severity.as_str(),
        ladder.queue,
        ladder.owner,
        ladder_json(&ladder),
        f.is_waived(),
        at,
        f.message
    ])?;
    let id = tx.last_insert_rowid();
    chain.append(
        tx,
        NewEvent {
            case_id: Some(id),
            run_id: Some(run),
            kind: "opened",
            actor: RUN_ACTOR,
            at: as_of,
            body: json!({
                "finding": f.id,
                "severity": f.severity,
                "message": f.message,
                "route": ladder,
                "waived": f.is_waived(),
            }),
        },
    )?;
    Ok(CaseRow {
        id,
        estate: estate.to_string(),
        finding_id: f.id.clone(),
        rule: f.rule.clone(),
        subject_kind: f.subject.kind.clone(),
        subject_id: f.subject.id.clone(),
        state: "open".into(),
        severity: f.severity.as_str().into(),
        queue: ladder.queue.clone(),
        owner: ladder.owner.clone(),
        assignee: None,
        ladder,
        waived: f.is_waived(),
        opened: as_of,
        since: as_of,
        last_seen: as_of,
        resolved_on: None,
        resolution: None,
        reopened: 0,
        acked_on: None,
        message: f.message.clone(),
    })
}

/// An open case seen again: last seen moves on; a change of severity,
/// route or waiver is an event.
fn update(
    tx: &Transaction<'_>,
    chain: &mut Appender,
    run: i64,
    as_of: Date,
    mut c: CaseRow,
    f: &Finding,
) -> rusqlite::Result<CaseRow> {
    changes(tx, chain, run, as_of, &mut c, f)?;
    c.last_seen = as_of;
    c.message = f.message.clone();
    tx.prepare_cached(
        "UPDATE cases SET last_seen = ?2, severity = ?3, queue = ?4, owner = ?5, route = ?6, waived = ?7, message = ?8 WHERE id = ?1",
    )?
    .execute(params![
        c.id,
        as_of.to_string(),
        c.severity,
        c.queue,
        c.owner,
        ladder_json(&c.ladder),
        c.waived,
        c.message
    ])?;
    Ok(c)
}

/// The events for what changed between the case and the finding; updates `c`.
fn changes(
    tx: &Transaction<'_>,
    chain: &mut Appender,
    run: i64,
    as_of: Date,
    c: &mut CaseRow,
    f: &Finding,
) -> rusqlite::Result<()> {
    let mut event = |kind: &str, body: serde_json::Value| {
        chain.append(
            tx,
            NewEvent {
                case_id: Some(c.id),
                run_id: Some(run),
                kind,
                actor: RUN_ACTOR,
                at: as_of,
                body,
            },
        )
    };
    if c.severity != f.severity.as_str() {
        event("severity", json!({ "from": c.severity, "to": f.severity }))?;
        c.severity = f.severity.as_str().into();
    }
    let ladder = ladder_of(f);
    if ladder != c.ladder {
        event("route", json!({ "from": c.ladder, "to": ladder }))?;
        c.queue = ladder.queue.clone();
        c.owner = ladder.owner.clone();
        c.ladder = ladder;
    }
    if c.waived != f.is_waived() {
        let body = match &f.waiver {
            Some(w) if f.is_waived() => {
                json!({ "reason": w.reason, "approved_by": w.approved_by, "expires": w.expires })
            }
            _ => json!({}),
        };
        event(if f.is_waived() { "waived" } else { "unwaived" }, body)?;
        c.waived = f.is_waived();
    }
    Ok(())
}

/// A resolved case whose finding came back: open again, its ladder
/// counting from today, its acknowledgement cleared.
fn reopen(
    tx: &Transaction<'_>,
    chain: &mut Appender,
    run: i64,
    as_of: Date,
    mut c: CaseRow,
    f: &Finding,
) -> rusqlite::Result<CaseRow> {
    let ladder = ladder_of(f);
    chain.append(
        tx,
        NewEvent {
            case_id: Some(c.id),
            run_id: Some(run),
            kind: "reopened",
            actor: RUN_ACTOR,
            at: as_of,
            body: json!({
                "finding": f.id,
                "resolved_on": c.resolved_on,
                "resolution": c.resolution,
                "severity": f.severity,
                "message": f.message,
                "route": ladder,
            }),
        },
    )?;
    c.queue = ladder.queue.clone();
    c.owner = ladder.owner.clone();
    c.ladder = ladder;
    c.state = "open".into();
    c.since = as_of;
    c.resolved_on = None;
    c.resolution = None;
    c.acked_on = None;
    c.reopened += 1;
    tx.prepare_cached(
        "UPDATE cases SET state = 'open', since = ?2, resolved_on = NULL, resolution = NULL, acked_on = NULL, reopened = reopened + 1 WHERE id = ?1",
    )?
    .execute(params![c.id, as_of.to_string()])?;
    update(tx, chain, run, as_of, c, f)
}
