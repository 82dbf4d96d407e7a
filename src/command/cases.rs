//! `trueup cases` and `trueup case ...`: list cases, show one's timeline,
//! and record what people did about it.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::{emit, parse_date};
use crate::date::Date;
use crate::ledger::actions::{act, Action, NOTE_KINDS};
use crate::ledger::query::{all_cases, find_case, latest_as_of, timeline, CaseRow};
use crate::ledger::{Access, Ledger};
use crate::report::escape::line;

/// Where the ledger is, for every command that reads or acts on it.
#[derive(Args, Debug, Clone)]
pub struct LedgerFile {
    /// The case ledger (default: $TRUEUP_LEDGER)
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

impl LedgerFile {
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        super::check::ledger_path(self.ledger.as_deref()).ok_or_else(|| {
            anyhow::anyhow!("no ledger: give `--ledger FILE` or set `TRUEUP_LEDGER`")
        })
    }

    pub fn open(&self, access: Access) -> anyhow::Result<Ledger> {
        Ok(Ledger::open(&self.path()?, access)?)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
    Csv,
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaseState {
    Open,
    Resolved,
}

#[derive(Args, Debug)]
pub struct CasesArgs {
    #[command(flatten)]
    pub ledger: LedgerFile,
    /// Only cases in this state
    #[arg(long, value_enum, value_name = "STATE")]
    pub state: Option<CaseState>,
    /// Only cases routed to this queue
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
    /// Only open cases with a step overdue as of their estate's latest run
    #[arg(long)]
    pub overdue: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: ListFormat,
    /// Write the list to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn list(args: CasesArgs) -> anyhow::Result<u8> {
    let mut ledger = args.ledger.open(Access::Read)?;
    let path = ledger.path.clone();
    let tx = ledger.read()?;
    let on = |e| crate::ledger::wrap(&path, 0, "cannot read cases", e);
    let latest = latest_as_of(&tx).map_err(on)?;
    let cases: Vec<(CaseRow, Option<Date>)> = all_cases(&tx)
        .map_err(on)?
        .into_iter()
        .map(|c| {
            let as_of = latest.get(&c.estate).copied();
            (c, as_of)
        })
        .filter(|(c, as_of)| {
            args.state.is_none_or(|s| {
                c.state
                    == match s {
                        CaseState::Open => "open",
                        CaseState::Resolved => "resolved",
                    }
            }) && args.queue.as_deref().is_none_or(|q| c.queue == q)
                && (!args.overdue || as_of.is_some_and(|d| c.overdue(d) > 0))
        })
        .collect();
    drop(tx);
    let text = match args.format {
        ListFormat::Json => {
            let rows: Vec<Value> = cases.iter().map(|(c, d)| c.to_json(*d)).collect();
            let mut s = serde_json::to_string_pretty(&json!({ "cases": rows }))
                .expect("json values serialize");
            s.push('\n');
            s
        }
        ListFormat::Csv => csv(&cases),
        ListFormat::Markdown => markdown(&cases),
        ListFormat::Text => text(&cases),
    };
    emit(args.output.as_deref(), &text)?;
    Ok(0)
}

const HEAD: [&str; 11] = [
    "case",
    "state",
    "severity",
    "rule",
    "subject",
    "queue",
    "owner",
    "opened",
    "last_seen",
    "resolved_on",
    "overdue",
];

fn cells(c: &CaseRow, as_of: Option<Date>) -> [String; 11] {
    [
        c.name(),
        c.state.clone(),
        c.severity.clone(),
        c.rule.clone(),
        format!("{} {}", c.subject_kind, c.subject_id),
        c.queue.clone(),
        c.owner_now().unwrap_or("").to_string(),
        c.opened.to_string(),
        c.last_seen.to_string(),
        c.resolved_on.map(|d| d.to_string()).unwrap_or_default(),
        as_of.map_or(0, |d| c.overdue(d)).to_string(),
    ]
}

fn csv_field(s: &str) -> String {
    // A leading formula character is neutralised so a spreadsheet shows text.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv(cases: &[(CaseRow, Option<Date>)]) -> String {
    let mut out = HEAD.join(",");
    out.push('\n');
    for (c, d) in cases {
        let row: Vec<String> = cells(c, *d).iter().map(|s| csv_field(s)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn markdown(cases: &[(CaseRow, Option<Date>)]) -> String {
    let cell = |s: &str| {
        line(s)
            .replace('|', "\\|")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut out = format!(
        "| {} |\n|{}\n",
        HEAD.join(" | "),
        " --- |".repeat(HEAD.len())
    );
    for (c, d) in cases {
        let row: Vec<String> = cells(c, *d).iter().map(|s| cell(s)).collect();
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    if cases.is_empty() {
        out.push_str("\nNo cases.\n");
    }
    out
}

fn text(cases: &[(CaseRow, Option<Date>)]) -> String {
    let mut out = String::new();
    for (c, d) in cases {
        let overdue = d.map_or(0, |d| c.overdue(d));
        let state = match c.resolved_on {
            Some(r) => format!("resolved {r}"),
            None => format!("open since {}", c.since),
        };
        let _ = writeln!(
            out,
            "{} {} {} {} {}{}: queue {}{}, {state}, last seen {}{}",
            c.name(),
            c.severity,
            line(&c.rule),
            line(&c.subject_kind),
            line(&c.subject_id),
            if c.waived { " [waived]" } else { "" },
            line(&c.queue),
            c.owner_now()
                .map(|o| format!(" ({})", line(o)))
                .unwrap_or_default(),
            c.last_seen,
            if overdue > 0 {
                format!(
                    ", {overdue} step{} overdue",
                    if overdue == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        );
    }
    let open = cases.iter().filter(|(c, _)| c.state == "open").count();
    let _ = writeln!(
        out,
        "{} case{} ({open} open, {} resolved)",
        cases.len(),
        if cases.len() == 1 { "" } else { "s" },
        cases.len() - open
    );
    out
}

#[derive(Args, Debug)]
pub struct CaseArgs {
    #[command(subcommand)]
    pub action: CaseCommand,
}

/// Who acted and on what day.
#[derive(Args, Debug, Clone)]
pub struct Actor {
    /// Who did it (required: every action is named)
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// The day it was done (default: today, from the clock)
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub on: Option<Date>,
}

impl Actor {
    fn date(&self) -> Date {
        self.on.unwrap_or_else(crate::ledger::today)
    }
}

#[derive(Subcommand, Debug)]
pub enum CaseCommand {
    /// A case's whole timeline: observations with their evidence, events, notes
    Show {
        /// A case id (`C-000001`) or a finding id
        id: String,
        #[command(flatten)]
        ledger: LedgerFile,
        /// Output format
        #[arg(short, long, value_enum, default_value = "text")]
        format: ShowFormat,
    },
    /// Record that the case was acknowledged: its notice, and every escalation step reached by then, is done
    Ack {
        id: String,
        #[command(flatten)]
        actor: Actor,
        #[command(flatten)]
        ledger: LedgerFile,
    },
    /// Give the case to an owner
    Assign {
        id: String,
        /// The new owner
        #[arg(long, value_name = "OWNER")]
        to: String,
        #[command(flatten)]
        actor: Actor,
        #[command(flatten)]
        ledger: LedgerFile,
    },
    /// Add a note: a contact, a decision, evidence or a remedy, with an optional file
    Note {
        id: String,
        /// contact, decision, evidence or remedy
        #[arg(long, value_name = "KIND", value_parser = note_kind)]
        kind: String,
        /// What happened or was decided
        #[arg(long, value_name = "TEXT")]
        text: String,
        /// A file to keep with the note (stored inside the ledger by its sha256)
        #[arg(long, value_name = "FILE")]
        attach: Option<PathBuf>,
        #[command(flatten)]
        actor: Actor,
        #[command(flatten)]
        ledger: LedgerFile,
    },
    /// Resolve the case by hand; the next run confirms it or reopens the case
    Resolve {
        id: String,
        /// Why it is resolved
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        actor: Actor,
        #[command(flatten)]
        ledger: LedgerFile,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
}

fn note_kind(s: &str) -> Result<String, String> {
    if NOTE_KINDS.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a kind of note; use {}",
            NOTE_KINDS.join(", ")
        ))
    }
}

pub fn case(args: CaseArgs) -> anyhow::Result<u8> {
    let (id, actor, ledger, action, done) = match &args.action {
        CaseCommand::Show { id, ledger, format } => return show(id, ledger, *format),
        CaseCommand::Ack { id, actor, ledger } => (id, actor, ledger, Action::Ack, "acknowledged"),
        CaseCommand::Assign {
            id,
            to,
            actor,
            ledger,
        } => (id, actor, ledger, Action::Assign { to }, "assigned"),
        CaseCommand::Note {
            id,
            kind,
            text,
            attach,
            actor,
            ledger,
        } => (
            id,
            actor,
            ledger,
            Action::Note {
                kind,
                text,
                attach: attach.as_deref(),
            },
            "noted",
        ),
        CaseCommand::Resolve {
            id,
            reason,
            actor,
            ledger,
        } => (id, actor, ledger, Action::Resolve { reason }, "resolved"),
    };
    let mut ledger = ledger.open(Access::Write)?;
    let on = actor.date();
    let (case, seq) = act(&mut ledger, id, &actor.by, on, action)?;
    println!(
        "{} {done} by {} on {on} (event {seq})",
        case.name(),
        line(&actor.by)
    );
    Ok(0)
}

fn show(key: &str, file: &LedgerFile, format: ShowFormat) -> anyhow::Result<u8> {
    let mut ledger = file.open(Access::Read)?;
    let path = ledger.path.clone();
    let tx = ledger.read()?;
    let case = find_case(&path, &tx, key)?;
    let on = |e| crate::ledger::wrap(&path, 0, "cannot read the case", e);
    let as_of = latest_as_of(&tx).map_err(on)?.get(&case.estate).copied();
    let (obs, events) = timeline(&tx, case.id).map_err(on)?;
    drop(tx);
    let out = match format {
        ShowFormat::Json => {
            let mut doc = case.to_json(as_of);
            doc["observations"] = obs
                .iter()
                .map(|o| {
                    json!({
                        "run": o.run,
                        "snapshot": o.snapshot,
                        "sha256": o.sha256,
                        "as_of": o.as_of,
                        "severity": o.severity,
                        "waived": o.waived,
                        "message": o.message,
                        "evidence": o.evidence,
                    })
                })
                .collect();
            doc["events"] = events
                .iter()
                .map(|e| {
                    json!({
                        "seq": e.seq,
                        "run": e.run,
                        "kind": e.kind,
                        "actor": e.actor,
                        "at": e.at,
                        "body": e.body,
                    })
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&doc).expect("json values serialize");
            s.push('\n');
            s
        }
        ShowFormat::Text => show_text(&case, as_of, &obs, &events, &path),
    };
    emit(None, &out)?;
    Ok(0)
}

fn show_text(
    c: &CaseRow,
    as_of: Option<Date>,
    obs: &[crate::ledger::query::Observation],
    events: &[crate::ledger::query::Event],
    path: &Path,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "case {} ({}{}): {} {} {} in estate `{}`",
        c.name(),
        c.state,
        if c.waived { ", waived" } else { "" },
        line(&c.rule),
        line(&c.subject_kind),
        line(&c.subject_id),
        line(&c.estate)
    );
    let _ = writeln!(out, "  finding: {}", line(&c.finding_id));
    let _ = writeln!(out, "  message: {}", line(&c.message));
    let _ = writeln!(
        out,
        "  severity {}, queue {}{}",
        c.severity,
        line(&c.queue),
        c.owner_now()
            .map(|o| format!(", owner {}", line(o)))
            .unwrap_or_default()
    );
    let mut dates = format!("  opened {}", c.opened);
    if c.since != c.opened {
        let _ = write!(dates, ", open again since {}", c.since);
    }
    let _ = write!(dates, ", last seen {}", c.last_seen);
    if let Some(r) = c.resolved_on {
        let _ = write!(
            dates,
            ", resolved {r} ({})",
            c.resolution.as_deref().unwrap_or("run")
        );
    }
    if c.reopened > 0 {
        let _ = write!(dates, ", reopened {} time(s)", c.reopened);
    }
    if let Some(a) = c.acked_on {
        let _ = write!(dates, ", acknowledged {a}");
    }
    let _ = writeln!(out, "{dates}");
    if let Some(d) = as_of {
        let steps = c.steps(d);
        if !steps.is_empty() {
            let parts: Vec<String> = steps
                .iter()
                .map(|(who, on, s)| {
                    if who == "notice" {
                        format!("notice {}", s.describe(*on))
                    } else {
                        format!("escalate to {} {}", line(who), s.describe(*on))
                    }
                })
                .collect();
            let _ = writeln!(out, "  steps as of {d}: {}", parts.join("; "));
        }
    }
    let _ = writeln!(out, "\nobservations ({})", obs.len());
    for o in obs {
        let _ = writeln!(
            out,
            "  {} run {}: {} (sha256 {}){}",
            o.as_of,
            o.run,
            line(&o.snapshot),
            o.sha256,
            if o.waived { " [waived]" } else { "" }
        );
        let _ = writeln!(out, "    {}: {}", o.severity, line(&o.message));
        let _ = writeln!(out, "    evidence: {}", line(&o.evidence.to_string()));
    }
    let _ = writeln!(out, "\nevents ({})", events.len());
    for e in events {
        let run = e.run.map(|r| format!(" (run {r})")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} event {} {} by {}{run}{}",
            e.at,
            e.seq,
            e.kind,
            line(&e.actor),
            event_detail(e)
        );
    }
    let _ = writeln!(out, "\nledger: {}", line(&path.display().to_string()));
    out
}

/// The part of an event's body a reader needs, in words.
fn event_detail(e: &crate::ledger::query::Event) -> String {
    let b = &e.body;
    let s = |k: &str| b[k].as_str().map(line).map(|c| c.into_owned());
    match e.kind.as_str() {
        "note" => {
            let mut out = format!(
                ": [{}] {}",
                s("kind").unwrap_or_default(),
                s("text").unwrap_or_default()
            );
            if let Some(a) = b["attachment"].as_object() {
                let _ = write!(
                    out,
                    " (attachment {}, sha256 {}, {} bytes)",
                    a.get("name")
                        .and_then(Value::as_str)
                        .map(line)
                        .unwrap_or_default(),
                    a.get("sha256").and_then(Value::as_str).unwrap_or_default(),
                    a.get("bytes").and_then(Value::as_u64).unwrap_or_default()
                );
            }
            out
        }
        "resolved" | "confirmed" => format!(": {}", s("reason").unwrap_or_default()),
        "severity" => format!(
            ": {} to {}",
            s("from").unwrap_or_default(),
            s("to").unwrap_or_default()
        ),
        "assigned" => format!(": to {}", s("to").unwrap_or_default()),
        "opened" | "reopened" => format!(": {}", s("message").unwrap_or_default()),
        "route" => format!(": {}", line(&b["to"].to_string())),
        "waived" => format!(": {}", s("reason").unwrap_or_default()),
        _ => String::new(),
    }
}
