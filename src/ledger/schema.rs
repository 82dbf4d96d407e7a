//! The ledger's tables and their forward migrations.
//!
//! The schema version is SQLite's `user_version`. [`MIGRATIONS`] lists the
//! SQL that takes a ledger from version `i` to `i + 1`; opening an older
//! file applies the missing steps in one transaction, and a file newer
//! than this trueup knows is refused rather than misread. Steps are only
//! ever appended: a released step never changes.

use super::{Ledger, LedgerError, Result};

/// Each step takes the schema from its index to the next version.
pub const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE runs (
        id              INTEGER PRIMARY KEY,
        estate          TEXT NOT NULL,
        snapshot_path   TEXT NOT NULL,
        snapshot_id     TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        as_of           TEXT NOT NULL,
        policies_digest TEXT NOT NULL
    );
    CREATE INDEX runs_by_estate ON runs (estate, as_of);
    CREATE TABLE cases (
        id           INTEGER PRIMARY KEY,
        estate       TEXT NOT NULL,
        finding_id   TEXT NOT NULL,
        rule         TEXT NOT NULL,
        subject_kind TEXT NOT NULL,
        subject_id   TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
        severity     TEXT NOT NULL,
        queue        TEXT NOT NULL,
        owner        TEXT,
        assignee     TEXT,
        route        TEXT NOT NULL,
        waived       INTEGER NOT NULL DEFAULT 0,
        opened       TEXT NOT NULL,
        since        TEXT NOT NULL,
        last_seen    TEXT NOT NULL,
        resolved_on  TEXT,
        resolution   TEXT,
        reopened     INTEGER NOT NULL DEFAULT 0,
        acked_on     TEXT,
        message      TEXT NOT NULL,
        UNIQUE (estate, finding_id)
    );
    CREATE INDEX cases_by_state ON cases (estate, state, resolution);
    CREATE INDEX cases_by_finding ON cases (finding_id);
    CREATE TABLE evidence (
        sha256 TEXT PRIMARY KEY,
        json   TEXT NOT NULL
    );
    CREATE TABLE observations (
        case_id  INTEGER NOT NULL REFERENCES cases (id),
        run_id   INTEGER NOT NULL REFERENCES runs (id),
        severity TEXT NOT NULL,
        waived   INTEGER NOT NULL,
        message  TEXT NOT NULL,
        evidence TEXT NOT NULL REFERENCES evidence (sha256),
        PRIMARY KEY (case_id, run_id)
    ) WITHOUT ROWID;
    CREATE INDEX observations_by_run ON observations (run_id);
    CREATE TABLE events (
        seq         INTEGER PRIMARY KEY,
        case_id     INTEGER REFERENCES cases (id),
        run_id      INTEGER REFERENCES runs (id),
        kind        TEXT NOT NULL,
        actor       TEXT NOT NULL,
        at          TEXT NOT NULL,
        body        TEXT NOT NULL,
        prev_sha256 TEXT NOT NULL,
        sha256      TEXT NOT NULL
    );
    CREATE INDEX events_by_case ON events (case_id, seq);
    CREATE TABLE attachments (
        sha256 TEXT PRIMARY KEY,
        name   TEXT NOT NULL,
        bytes  BLOB NOT NULL
    );
    "#,
];

/// The schema version this trueup writes.
pub fn current() -> i64 {
    MIGRATIONS.len() as i64
}

fn version(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the ledger to [`current`], or refuses a newer one.
pub fn migrate(ledger: &mut Ledger) -> Result<()> {
    let found = version(ledger.conn()).map_err(ledger.on("cannot read the schema version"))?;
    check_known(ledger, found)?;
    if found == current() {
        return Ok(());
    }
    let path = ledger.path.clone();
    let tx = ledger.write()?;
    // Another trueup may have migrated it while this one waited.
    let found =
        version(&tx).map_err(|e| super::wrap(&path, 0, "cannot read the schema version", e))?;
    if found > current() {
        return Err(LedgerError::TooNew {
            path,
            found,
            known: current(),
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(step).map_err(|e| {
            super::wrap(
                &path,
                0,
                &format!("cannot migrate to schema version {}", i + 1),
                e,
            )
        })?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {}", current()))
        .map_err(|e| super::wrap(&path, 0, "cannot set the schema version", e))?;
    Ledger::commit(&path, tx)
}

fn check_known(ledger: &Ledger, found: i64) -> Result<()> {
    if found > current() || found < 0 {
        return Err(LedgerError::TooNew {
            path: ledger.path.clone(),
            found,
            known: current(),
        });
    }
    Ok(())
}
