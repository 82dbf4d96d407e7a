//! The event chain: every change to a case is a row appended to `events`,
//! holding the sha256 of the row before it and of its own content.
//!
//! A row's content is fixed text: its fields in a fixed order, each written
//! by `serde_json` (the body is the stored JSON text itself), so the same
//! row always hashes the same and any change to a stored byte shows. The
//! head (last seq and sha256) is kept in `meta`, so removing the last rows
//! shows too.

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::date::Date;

/// The `prev_sha256` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event about to be appended.
pub struct NewEvent<'a> {
    pub case_id: Option<i64>,
    pub run_id: Option<i64>,
    pub kind: &'a str,
    pub actor: &'a str,
    pub at: Date,
    pub body: Value,
}

/// One stored event row.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub seq: i64,
    pub case_id: Option<i64>,
    pub run_id: Option<i64>,
    pub kind: String,
    pub actor: String,
    pub at: String,
    pub body: String,
    pub prev_sha256: String,
    pub sha256: String,
}

/// The text an event's sha256 is taken over.
#[allow(clippy::too_many_arguments)]
pub fn canonical(
    seq: i64,
    case_id: Option<i64>,
    run_id: Option<i64>,
    kind: &str,
    actor: &str,
    at: &str,
    body: &str,
    prev: &str,
) -> String {
    let s = |t: &str| serde_json::to_string(t).expect("strings serialize");
    let n = |v: Option<i64>| v.map_or_else(|| "null".to_string(), |v| v.to_string());
    format!(
        "{{\"seq\":{seq},\"case\":{},\"run\":{},\"kind\":{},\"actor\":{},\"at\":{},\"body\":{body},\"prev\":{}}}",
        n(case_id),
        n(run_id),
        s(kind),
        s(actor),
        s(at),
        s(prev)
    )
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

impl EventRow {
    /// The sha256 this row should hold.
    pub fn expected_sha256(&self) -> String {
        sha256_hex(
            canonical(
                self.seq,
                self.case_id,
                self.run_id,
                &self.kind,
                &self.actor,
                &self.at,
                &self.body,
                &self.prev_sha256,
            )
            .as_bytes(),
        )
    }
}

/// Appends events in one transaction, each chained to the one before.
pub struct Appender {
    seq: i64,
    head: String,
}

impl Appender {
    /// Starts after the chain's current head.
    pub fn start(tx: &Transaction<'_>) -> rusqlite::Result<Appender> {
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, sha256 FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, head) = last.unwrap_or((0, GENESIS.to_string()));
        Ok(Appender { seq, head })
    }

    pub fn append(&mut self, tx: &Transaction<'_>, e: NewEvent<'_>) -> rusqlite::Result<i64> {
        let seq = self.seq + 1;
        let body = serde_json::to_string(&e.body).expect("json values serialize");
        let at = e.at.to_string();
        let sha = sha256_hex(
            canonical(
                seq, e.case_id, e.run_id, e.kind, e.actor, &at, &body, &self.head,
            )
            .as_bytes(),
        );
        tx.prepare_cached(
            "INSERT INTO events (seq, case_id, run_id, kind, actor, at, body, prev_sha256, sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            seq, e.case_id, e.run_id, e.kind, e.actor, at, body, self.head, sha
        ])?;
        self.seq = seq;
        self.head = sha;
        Ok(seq)
    }

    /// Records the head in `meta`; call once, before commit.
    pub fn finish(self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let mut stmt =
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
        stmt.execute(params!["head_seq", self.seq.to_string()])?;
        stmt.execute(params!["head_sha256", self.head])?;
        Ok(())
    }
}

/// What `ledger verify` found: nothing, or the first problem.
#[derive(Debug, Default)]
pub struct Verdict {
    pub events: i64,
    pub runs: i64,
    pub cases: i64,
    /// The first row that does not match, in words.
    pub problems: Vec<String>,
    /// SQLite's own `integrity_check` lines other than `ok`.
    pub integrity: Vec<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.integrity.is_empty()
    }
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: r.get(0)?,
        case_id: r.get(1)?,
        run_id: r.get(2)?,
        kind: r.get(3)?,
        actor: r.get(4)?,
        at: r.get(5)?,
        body: r.get(6)?,
        prev_sha256: r.get(7)?,
        sha256: r.get(8)?,
    })
}

/// Recomputes the chain and checks it against the head, the runs, the
/// cases and their observations; stops at the first break.
pub fn verify(tx: &Transaction<'_>) -> rusqlite::Result<Verdict> {
    let mut v = Verdict::default();
    let mut integrity = tx.prepare("PRAGMA integrity_check")?;
    let lines: Vec<String> = integrity
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    v.integrity = lines.into_iter().filter(|l| l != "ok").collect();
    if !v.integrity.is_empty() {
        return Ok(v);
    }
    let mut replay = Replay::default();
    let mut prev_seq = 0i64;
    let mut prev_sha = GENESIS.to_string();
    let mut stmt = tx.prepare(
        "SELECT seq, case_id, run_id, kind, actor, at, body, prev_sha256, sha256 FROM events ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let e = row_of(r)?;
        v.events += 1;
        if e.seq != prev_seq + 1 {
            v.problems.push(format!(
                "event {}: expected event {} next; event {} is missing",
                e.seq,
                prev_seq + 1,
                prev_seq + 1
            ));
            return Ok(v);
        }
        if e.prev_sha256 != prev_sha {
            v.problems.push(format!(
                "event {}: prev_sha256 `{}` does not match event {}'s sha256 `{}`",
                e.seq, e.prev_sha256, prev_seq, prev_sha
            ));
            return Ok(v);
        }
        let expected = e.expected_sha256();
        if e.sha256 != expected {
            v.problems.push(format!(
                "event {}: its content does not match its sha256 (a field was changed): stored `{}`, content hashes to `{expected}`",
                e.seq, e.sha256
            ));
            return Ok(v);
        }
        if serde_json::from_str::<Value>(&e.body).is_err() {
            v.problems
                .push(format!("event {}: its body is not JSON", e.seq));
            return Ok(v);
        }
        replay.apply(&e);
        prev_seq = e.seq;
        prev_sha = e.sha256.clone();
    }
    drop(rows);
    let head = |key: &str| -> rusqlite::Result<Option<String>> {
        tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    };
    let head_seq = head("head_seq")?.unwrap_or_else(|| "0".into());
    let head_sha = head("head_sha256")?.unwrap_or_else(|| GENESIS.into());
    if head_seq != prev_seq.to_string() || head_sha != prev_sha {
        v.problems.push(format!(
            "the chain ends at event {prev_seq}, but the ledger's head is event {head_seq}: events after {prev_seq} were removed"
        ));
        return Ok(v);
    }
    replay.check(tx, &mut v)?;
    Ok(v)
}

/// The case states and runs the events say, to hold the tables to.
#[derive(Default)]
struct Replay {
    /// Case id → (state, first event seq).
    cases: std::collections::BTreeMap<i64, (&'static str, i64)>,
    /// Run id → (event seq, observations digest).
    runs: std::collections::BTreeMap<i64, (i64, String)>,
}

impl Replay {
    fn apply(&mut self, e: &EventRow) {
        if let Some(case) = e.case_id {
            let state = match e.kind.as_str() {
                "opened" | "reopened" => Some("open"),
                "resolved" => Some("resolved"),
                _ => None,
            };
            let entry = self.cases.entry(case).or_insert(("", e.seq));
            if let Some(s) = state {
                entry.0 = s;
            }
        }
        if e.kind == "recorded" {
            if let Some(run) = e.run_id {
                let digest = serde_json::from_str::<Value>(&e.body)
                    .ok()
                    .and_then(|b| b["observations"].as_str().map(str::to_string))
                    .unwrap_or_default();
                self.runs.insert(run, (e.seq, digest));
            }
        }
    }

    fn check(&self, tx: &Transaction<'_>, v: &mut Verdict) -> rusqlite::Result<()> {
        let mut stmt = tx.prepare("SELECT id, state FROM cases ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut seen = 0usize;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let state: String = r.get(1)?;
            v.cases += 1;
            let name = super::case_name(id);
            match self.cases.get(&id) {
                None => {
                    v.problems.push(format!(
                        "case {name} has no events: it was added outside trueup"
                    ));
                    return Ok(());
                }
                Some((replayed, _)) if *replayed != state => {
                    v.problems.push(format!(
                        "case {name} is `{state}` in the cases table, but its events say `{replayed}`"
                    ));
                    return Ok(());
                }
                Some(_) => seen += 1,
            }
        }
        if seen != self.cases.len() {
            if let Some(id) = self.cases.keys().find(|id| {
                tx.query_row("SELECT 1 FROM cases WHERE id = ?1", [**id], |_| Ok(()))
                    .optional()
                    .ok()
                    .flatten()
                    .is_none()
            }) {
                v.problems.push(format!(
                    "case {} has events but no row in the cases table: it was removed",
                    super::case_name(*id)
                ));
                return Ok(());
            }
        }
        let mut stmt = tx.prepare("SELECT id FROM runs ORDER BY id")?;
        let ids: Vec<i64> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        v.runs = ids.len() as i64;
        for id in &ids {
            let Some((seq, digest)) = self.runs.get(id) else {
                v.problems.push(format!(
                    "run {id} has no `recorded` event: it was added outside trueup"
                ));
                return Ok(());
            };
            let actual = observations_digest(tx, *id)?;
            if &actual != digest {
                v.problems.push(format!(
                    "run {id}: its observations do not match the digest in event {seq} (an observation was changed, added or removed)"
                ));
                return Ok(());
            }
        }
        if let Some(run) = self.runs.keys().find(|r| ids.binary_search(r).is_err()) {
            v.problems.push(format!(
                "run {run} has a `recorded` event but no row in the runs table: it was removed"
            ));
            return Ok(());
        }
        let mut stmt = tx.prepare("SELECT sha256, json FROM evidence ORDER BY sha256")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let sha: String = r.get(0)?;
            let json: String = r.get(1)?;
            if sha256_hex(json.as_bytes()) != sha {
                v.problems.push(format!(
                    "evidence `{sha}`: its text does not match its sha256 (it was changed)"
                ));
                return Ok(());
            }
        }
        let mut stmt = tx.prepare("SELECT sha256, bytes FROM attachments ORDER BY sha256")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let sha: String = r.get(0)?;
            let bytes: Vec<u8> = r.get(1)?;
            if sha256_hex(&bytes) != sha {
                v.problems.push(format!(
                    "attachment `{sha}`: its bytes do not match its sha256 (it was changed)"
                ));
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The sha256 over one run's observations, in case order: what its
/// `recorded` event holds.
pub fn observations_digest(tx: &Transaction<'_>, run_id: i64) -> rusqlite::Result<String> {
    let mut stmt = tx.prepare_cached(
        "SELECT case_id, severity, waived, message, evidence FROM observations WHERE run_id = ?1 ORDER BY case_id",
    )?;
    let mut rows = stmt.query([run_id])?;
    let mut h = Sha256::new();
    while let Some(r) = rows.next()? {
        let case: i64 = r.get(0)?;
        let severity: String = r.get(1)?;
        let waived: i64 = r.get(2)?;
        let message: String = r.get(3)?;
        let evidence: String = r.get(4)?;
        h.update(observation_line(
            case,
            &severity,
            waived != 0,
            &message,
            &evidence,
        ));
    }
    Ok(hex(&h.finalize()))
}

/// One observation as its run's digest reads it.
pub fn observation_line(
    case: i64,
    severity: &str,
    waived: bool,
    message: &str,
    evidence: &str,
) -> String {
    let s = |t: &str| serde_json::to_string(t).expect("strings serialize");
    format!(
        "[{case},{},{},{},{}]\n",
        s(severity),
        waived,
        s(message),
        s(evidence)
    )
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
