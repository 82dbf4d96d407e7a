//! The case ledger: findings that persist across runs as cases, in one
//! SQLite file.
//!
//! A run of `check --ledger` opens, updates, resolves and reopens cases;
//! people acknowledge, assign, annotate and resolve them. Every change is
//! an event appended to a sha256 chain, so a ledger edited behind trueup's
//! back is caught by `trueup ledger verify`. Each command is one
//! transaction: a process killed at any point leaves the ledger as it was
//! before the command or as after it. Nothing here reads the wall clock:
//! dates come from the run's as-of date or from the person acting.

pub mod actions;
pub mod chain;
pub mod query;
pub mod record;
pub mod schema;
pub mod stats;
pub mod steps;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::date::Date;

/// The environment variable naming the ledger when `--ledger` is not given.
pub const LEDGER_ENV: &str = "TRUEUP_LEDGER";
/// How long a writer waits for another to finish, in milliseconds.
pub const BUSY_TIMEOUT_ENV: &str = "TRUEUP_LEDGER_BUSY_TIMEOUT_MS";
/// The default wait: long enough for another `check` to commit.
pub const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5_000;

/// What went wrong with a ledger: each names the file.
#[derive(Debug)]
pub enum LedgerError {
    /// Another process holds the write lock past the busy timeout.
    Busy { path: PathBuf, waited_ms: u64 },
    /// The file was written by a newer trueup.
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// Not a ledger, or SQLite failed.
    Sqlite {
        path: PathBuf,
        what: String,
        error: rusqlite::Error,
    },
    /// A refused command: bad case id, older run, nothing to act on.
    Refused { path: PathBuf, message: String },
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Busy { path, waited_ms } => write!(
                f,
                "ledger `{}` is busy: another trueup is writing to it (waited {waited_ms} ms); try again when it has finished",
                path.display()
            ),
            LedgerError::TooNew { path, found, known } => write!(
                f,
                "ledger `{}` has schema version {found}, newer than this trueup knows ({known}); use a newer trueup",
                path.display()
            ),
            LedgerError::Sqlite { path, what, error } => {
                write!(f, "ledger `{}`: {what}: {}", path.display(), sqlite_text(error))
            }
            LedgerError::Refused { path, message } => {
                write!(f, "ledger `{}`: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for LedgerError {}

/// SQLite's message without Rust type names.
fn sqlite_text(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(code, Some(msg)) => format!("{msg} ({:?})", code.code),
        rusqlite::Error::SqliteFailure(code, None) => format!("{:?}", code.code),
        other => other.to_string(),
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub type Result<T> = std::result::Result<T, LedgerError>;

/// An open ledger file, migrated to the schema this trueup knows.
pub struct Ledger {
    pub path: PathBuf,
    conn: Connection,
    busy_ms: u64,
}

/// Whether a command writes; readers never take the write lock.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Ledger {
    /// Opens (creating it for writers) and migrates the ledger at `path`.
    /// The busy timeout comes from [`BUSY_TIMEOUT_ENV`], else 5 s.
    pub fn open(path: &Path, access: Access) -> Result<Ledger> {
        let busy_ms = std::env::var(BUSY_TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_BUSY_TIMEOUT_MS);
        let flags = match access {
            Access::Write => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            Access::Read => {
                if !path.exists() {
                    return Err(LedgerError::Refused {
                        path: path.to_path_buf(),
                        message: "no such file; `trueup check --ledger FILE` creates it".into(),
                    });
                }
                OpenFlags::SQLITE_OPEN_READ_WRITE
            }
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| LedgerError::Sqlite {
            path: path.to_path_buf(),
            what: "cannot open".into(),
            error: e,
        })?;
        let mut ledger = Ledger {
            path: path.to_path_buf(),
            conn,
            busy_ms,
        };
        ledger
            .conn
            .busy_timeout(StdDuration::from_millis(busy_ms))
            .map_err(|e| ledger.err("cannot set the busy timeout", e))?;
        // WAL: readers never block the writer, and a killed writer leaves
        // the last committed state. The switch itself needs the lock.
        let mode: String = ledger
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| ledger.err("not a trueup ledger (cannot read it as SQLite)", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ledger.refused(format!("cannot switch to WAL mode (found `{mode}`)")));
        }
        ledger
            .conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(|e| ledger.err("cannot configure", e))?;
        schema::migrate(&mut ledger)?;
        Ok(ledger)
    }

    /// A ledger in memory, named `name` in errors: what `trueup simulate`
    /// records its rehearsal in, with the same code as a real one.
    pub fn in_memory(name: &Path) -> Result<Ledger> {
        let conn = Connection::open_in_memory().map_err(|e| LedgerError::Sqlite {
            path: name.to_path_buf(),
            what: "cannot open a ledger in memory".into(),
            error: e,
        })?;
        let mut ledger = Ledger {
            path: name.to_path_buf(),
            conn,
            busy_ms: 0,
        };
        schema::migrate(&mut ledger)?;
        Ok(ledger)
    }

    /// A write transaction: `BEGIN IMMEDIATE` takes the lock now, so a
    /// second writer waits (up to the busy timeout) rather than failing
    /// half-way.
    pub fn write(&mut self) -> Result<Transaction<'_>> {
        let busy_ms = self.busy_ms;
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| wrap(&path, busy_ms, "cannot start a transaction", e))
    }

    /// A read transaction: one consistent view for the whole command.
    pub fn read(&mut self) -> Result<Transaction<'_>> {
        let busy_ms = self.busy_ms;
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| wrap(&path, busy_ms, "cannot start a transaction", e))
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Wraps a SQLite error with this ledger's name and what was being done.
    pub fn err(&self, what: &str, e: rusqlite::Error) -> LedgerError {
        wrap(&self.path, self.busy_ms, what, e)
    }

    pub fn refused(&self, message: impl Into<String>) -> LedgerError {
        LedgerError::Refused {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// A closure turning SQLite errors into this ledger's errors, for `?`.
    pub fn on<'a>(&'a self, what: &'a str) -> impl Fn(rusqlite::Error) -> LedgerError + 'a {
        move |e| self.err(what, e)
    }

    /// Writes this ledger, committed, to a new file at `path`: whole or
    /// not at all (SQLite writes a temporary beside it, then it is renamed
    /// into place). An existing file is refused, never replaced.
    pub fn save_as(&self, path: &Path) -> Result<()> {
        if path.exists() {
            return Err(refused(
                path,
                "already exists: a rehearsal is written to a new ledger file, never over one",
            ));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let on = |e| wrap(path, 0, "cannot write the ledger", e);
        self.conn
            .execute("VACUUM INTO ?1", [tmp.to_string_lossy().as_ref()])
            .map_err(on)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            refused(path, format!("cannot write the ledger: {e}"))
        })
    }

    /// Commits `tx`, naming the ledger on failure.
    pub fn commit(path: &Path, tx: Transaction<'_>) -> Result<()> {
        tx.commit().map_err(|e| wrap(path, 0, "cannot commit", e))
    }
}

pub(crate) fn refused(path: &Path, message: impl Into<String>) -> LedgerError {
    LedgerError::Refused {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

pub(crate) fn wrap(path: &Path, busy_ms: u64, what: &str, e: rusqlite::Error) -> LedgerError {
    if is_busy(&e) {
        LedgerError::Busy {
            path: path.to_path_buf(),
            waited_ms: busy_ms,
        }
    } else {
        LedgerError::Sqlite {
            path: path.to_path_buf(),
            what: what.to_string(),
            error: e,
        }
    }
}

/// A case's id as people type it: `C-000042`.
pub fn case_name(id: i64) -> String {
    format!("C-{id:06}")
}

/// The number in `C-000042`, `c-42` or `42`.
pub fn parse_case_name(s: &str) -> Option<i64> {
    let digits = s
        .strip_prefix("C-")
        .or_else(|| s.strip_prefix("c-"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// Today's date from the wall clock, in UTC: only for people's actions
/// without `--on`, where recording the day of the action is what was asked.
pub fn today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Date::from_ymd(1970, 1, 1)
        .expect("the epoch is a date")
        .add_days((secs / 86_400) as i64)
}

/// Reads a date stored as text; a ledger edited to hold a non-date is
/// refused rather than misread.
pub(crate) fn date_col(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Date> {
    let text: String = row.get(i)?;
    Date::parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("`{text}` is not a date").into(),
        )
    })
}

pub(crate) fn opt_date_col(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Date>> {
    let text: Option<String> = row.get(i)?;
    match text {
        None => Ok(None),
        Some(t) => Date::parse(&t).map(Some).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Text,
                format!("`{t}` is not a date").into(),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_round_trip() {
        assert_eq!(case_name(42), "C-000042");
        assert_eq!(parse_case_name("C-000042"), Some(42));
        assert_eq!(parse_case_name("c-42"), Some(42));
        assert_eq!(parse_case_name("42"), Some(42));
        assert_eq!(parse_case_name("C-"), None);
        assert_eq!(parse_case_name("0"), None);
        assert_eq!(parse_case_name("overuse:product:x"), None);
    }
}

/// A finding's case, as reports show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CaseRef {
    /// `C-000042`.
    pub id: String,
    /// `open` (a finding is always of an open case).
    pub state: String,
    /// What this run did to it: `opened`, `reopened` or `seen`.
    pub event: String,
    /// First seen.
    pub opened: Date,
    /// Start of the current open period (the ladder counts from here):
    /// `opened`, or the last reopening.
    pub since: Date,
    pub last_seen: Date,
    /// How often it came back after being resolved.
    pub reopened: i64,
    /// The latest acknowledgement in this open period.
    pub acknowledged: Option<Date>,
    /// Whom it was assigned to, if anyone.
    pub assignee: Option<String>,
}
