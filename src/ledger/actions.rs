//! People's actions on a case: acknowledge, assign, note, resolve.
//!
//! Each is one transaction and one event, always with the name of who
//! acted and the date they acted on.

use std::path::Path;

use rusqlite::params;
use serde_json::json;

use super::chain::{sha256_hex, Appender, NewEvent};
use super::query::{find_case, CaseRow};
use super::{Ledger, Result};
use crate::date::Date;

/// The kinds of note a person can add.
pub const NOTE_KINDS: &[&str] = &["contact", "decision", "evidence", "remedy"];

/// The largest attachment the ledger stores.
pub const MAX_ATTACHMENT: u64 = 64 * 1024 * 1024;

/// What a person did.
pub enum Action<'a> {
    Ack,
    Assign {
        to: &'a str,
    },
    Note {
        kind: &'a str,
        text: &'a str,
        attach: Option<&'a Path>,
    },
    Resolve {
        reason: &'a str,
    },
}

/// Applies `action` to the case `key` as `by` on `on`; returns the case as
/// it was before and the event's seq.
pub fn act(
    ledger: &mut Ledger,
    key: &str,
    by: &str,
    on: Date,
    action: Action<'_>,
) -> Result<(CaseRow, i64)> {
    if by.trim().is_empty() {
        return Err(ledger.refused("`--by` must name who acted"));
    }
    // Read the attachment before taking the lock.
    let attachment = match &action {
        Action::Note {
            attach: Some(path), ..
        } => Some(read_attachment(ledger, path)?),
        _ => None,
    };
    let path = ledger.path.clone();
    let path = path.as_path();
    let tx = ledger.write()?;
    let lg = Refuser(path);
    let case = find_case(path, &tx, key)?;
    let on_err = |what: &'static str| move |e| super::wrap(path, 0, what, e);
    let mut chain = Appender::start(&tx).map_err(on_err("cannot read the event chain"))?;
    let at = on.to_string();
    let (kind, body) = match action {
        Action::Ack => {
            if case.state != "open" {
                return Err(lg.refused(format!(
                    "case {} is resolved; only an open case is acknowledged",
                    case.name()
                )));
            }
            if on < case.since {
                return Err(lg.refused(format!(
                    "case {} opened on {}; it cannot be acknowledged on {on}, before that",
                    case.name(),
                    case.since
                )));
            }
            tx.execute(
                "UPDATE cases SET acked_on = MAX(COALESCE(acked_on, ''), ?2) WHERE id = ?1",
                params![case.id, at],
            )
            .map_err(on_err("cannot acknowledge"))?;
            ("acknowledged", json!({}))
        }
        Action::Assign { to } => {
            if to.trim().is_empty() {
                return Err(lg.refused("`--to` must name an owner"));
            }
            tx.execute(
                "UPDATE cases SET assignee = ?2 WHERE id = ?1",
                params![case.id, to],
            )
            .map_err(on_err("cannot assign"))?;
            ("assigned", json!({ "from": case.owner_now(), "to": to }))
        }
        Action::Note { kind, text, .. } => {
            if !NOTE_KINDS.contains(&kind) {
                return Err(lg.refused(format!(
                    "`{kind}` is not a kind of note; use {}",
                    NOTE_KINDS.join(", ")
                )));
            }
            let attached = match attachment {
                Some((name, bytes)) => {
                    let sha = sha256_hex(&bytes);
                    tx.execute(
                        "INSERT OR IGNORE INTO attachments (sha256, name, bytes) VALUES (?1, ?2, ?3)",
                        params![sha, name, bytes],
                    )
                    .map_err(on_err("cannot store the attachment"))?;
                    json!({ "sha256": sha, "name": name, "bytes": bytes.len() })
                }
                None => serde_json::Value::Null,
            };
            (
                "note",
                json!({ "kind": kind, "text": text, "attachment": attached }),
            )
        }
        Action::Resolve { reason } => {
            if case.state != "open" {
                return Err(lg.refused(format!("case {} is already resolved", case.name())));
            }
            if on < case.since {
                return Err(lg.refused(format!(
                    "case {} opened on {}; it cannot be resolved on {on}, before that",
                    case.name(),
                    case.since
                )));
            }
            if reason.trim().is_empty() {
                return Err(lg.refused("`--reason` must say why the case is resolved"));
            }
            tx.execute(
                "UPDATE cases SET state = 'resolved', resolved_on = ?2, resolution = 'manual' WHERE id = ?1",
                params![case.id, at],
            )
            .map_err(on_err("cannot resolve"))?;
            (
                "resolved",
                json!({ "finding": case.finding_id, "reason": reason }),
            )
        }
    };
    let seq = chain
        .append(
            &tx,
            NewEvent {
                case_id: Some(case.id),
                run_id: None,
                kind,
                actor: by,
                at: on,
                body,
            },
        )
        .map_err(on_err("cannot record the event"))?;
    chain
        .finish(&tx)
        .map_err(on_err("cannot record the event"))?;
    Ledger::commit(path, tx)?;
    Ok((case, seq))
}

/// Refusals naming the ledger while its connection is in a transaction.
struct Refuser<'a>(&'a Path);

impl Refuser<'_> {
    fn refused(&self, message: impl Into<String>) -> super::LedgerError {
        super::refused(self.0, message)
    }
}

fn read_attachment(ledger: &Ledger, path: &Path) -> Result<(String, Vec<u8>)> {
    use crate::fsutil::ReadError;
    let bytes = crate::fsutil::read_bounded(path, MAX_ATTACHMENT, |_| true).map_err(|e| {
        let why = match e {
            ReadError::Io(e) => e.to_string(),
            ReadError::IsDirectory => "it is a folder".into(),
            ReadError::TooLarge { .. } => format!("it is larger than {MAX_ATTACHMENT} bytes"),
            ReadError::Refused(_) => "it could not be read".into(),
        };
        ledger.refused(format!("cannot attach `{}`: {why}", path.display()))
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok((name, bytes))
}
