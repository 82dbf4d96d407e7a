//! The subcommands: each parses nothing itself, calls the library and
//! returns an exit code.

pub mod cases;
pub mod check;
pub mod dashboard;
pub mod diff;
pub mod explain;
pub mod generate;
pub mod import;
pub mod ledger;
pub mod lint;
pub mod notice;
pub mod position;
pub mod progress;
pub mod simulate;
pub mod test;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use rayon::prelude::*;

use crate::date::Date;
use crate::diag::{Diagnostic, Diagnostics};
use crate::engine::{evaluate, EvalOptions, Evaluation};
use crate::inventory::{self, Snapshot};
use crate::policy::{Limits, Playbook};
use crate::report::FailOn;
use crate::waivers::WaiverSet;

pub use crate::report::Format;

/// Flags every evaluating command shares.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The playbook folder
    #[arg(short, long, default_value = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// Evaluate as of this date (YYYY-MM-DD) instead of each snapshot's `taken_at`
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<Date>,
    /// Write results to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Waivers file (default: `waivers.yaml` beside the policies folder, if present)
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    #[command(flatten)]
    pub script: ScriptLimits,
}

/// The sandbox limits a user may set, on every command that runs scripts.
#[derive(Args, Debug, Clone)]
pub struct ScriptLimits {
    /// Stop a script after this many operations
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_operations)]
    pub max_operations: u64,
    /// Stop the scripts of one evaluation after this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().max_run_time.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub time_limit: u64,
}

impl ScriptLimits {
    pub fn limits(&self) -> Limits {
        Limits {
            max_operations: self.max_operations,
            max_run_time: std::time::Duration::from_secs(self.time_limit),
            ..Limits::default()
        }
    }
}

impl Common {
    pub fn limits(&self) -> Limits {
        self.script.limits()
    }

    pub fn playbook(&self) -> Result<Playbook, Diagnostics> {
        Playbook::load(&self.policies, self.limits())
    }

    /// The playbook and the waivers in force, with every error of both.
    pub fn playbook_and_waivers(&self) -> Result<(Playbook, Option<WaiverSet>), Diagnostics> {
        match (self.playbook(), self.waiver_set()) {
            (Ok(p), Ok(w)) => Ok((p, w)),
            (p, w) => Err(Diagnostics(
                p.err()
                    .into_iter()
                    .chain(w.err())
                    .flat_map(|d| d.0)
                    .collect(),
            )),
        }
    }

    /// The waivers in force: `--waivers`, else `waivers.yaml` beside the policies.
    pub fn waiver_set(&self) -> Result<Option<WaiverSet>, Diagnostics> {
        match crate::waivers::locate(self.waivers.as_deref(), &self.policies)? {
            Some(path) => WaiverSet::load(&path).map(Some),
            None => Ok(None),
        }
    }
}

/// Where a command that takes the playbook folder both as `-p DIR` and as
/// a positional `DIR` finds it: either one (they are synonyms), else
/// `policies`; both, naming different folders, is an error.
#[derive(Args, Debug, Clone)]
pub struct PlaybookDir {
    /// The playbook folder (default `policies`); the same as `-p DIR`
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The playbook folder (default `policies`)
    #[arg(short, long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
}

impl PlaybookDir {
    pub fn resolve(&self) -> Result<PathBuf> {
        match (&self.dir, &self.policies) {
            (Some(d), Some(p)) if !same_folder(d, p) => anyhow::bail!(
                "the playbook is given twice, as `{}` and as `-p {}`; give one",
                d.display(),
                p.display()
            ),
            (Some(d), _) => Ok(d.clone()),
            (None, Some(p)) => Ok(p.clone()),
            (None, None) => Ok(PathBuf::from("policies")),
        }
    }
}

/// Whether two paths name one folder (`policies` and `./policies/` do).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.components().eq(b.components()),
    }
}

pub fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s).ok_or_else(|| format!("`{s}` is not a date (YYYY-MM-DD)"))
}

pub fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    FailOn::parse(s).ok_or_else(|| {
        format!("`{s}` is not a severity (info, low, medium, high, critical) or `never`")
    })
}

/// Loads and evaluates every snapshot, in parallel; failures become
/// diagnostics. Progress goes to stderr when it is a terminal.
pub fn evaluate_all(
    playbook: &Playbook,
    paths: &[PathBuf],
    as_of: Option<Date>,
    waivers: Option<&WaiverSet>,
) -> (Vec<Evaluation>, Vec<Diagnostic>) {
    let what = match paths {
        [one] => format!("evaluating {}", one.display()),
        _ => format!("evaluating {} snapshots", paths.len()),
    };
    let progress = progress::Progress::new(paths.len(), &what);
    let results: Vec<Result<Evaluation, Diagnostics>> = paths
        .par_iter()
        .map(|p| {
            let snap = Arc::new(inventory::load(p)?);
            let eval = evaluate(
                playbook,
                snap,
                EvalOptions {
                    as_of,
                    waivers,
                    opened: None,
                },
            );
            progress.inc();
            eval
        })
        .collect();
    progress.finish();
    let mut evals = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(e) => evals.push(e),
            Err(d) => errors.extend(d.0),
        }
    }
    (evals, crate::diag::capped(errors))
}

/// Loads snapshots only, for commands that need no playbook.
/// One snapshot for a command that reads one; `None` once its diagnostics
/// are printed (the command then exits 2).
pub fn load_one(path: &Path) -> Option<Arc<Snapshot>> {
    match inventory::load(path) {
        Ok(s) => Some(Arc::new(s)),
        Err(d) => {
            print_diagnostics(&d.0);
            None
        }
    }
}

pub fn load_all(paths: &[PathBuf]) -> (Vec<Arc<Snapshot>>, Vec<Diagnostic>) {
    let results: Vec<_> = paths
        .par_iter()
        .map(|p| inventory::load(p).map(Arc::new))
        .collect();
    let mut snaps = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(s) => snaps.push(s),
            Err(d) => errors.extend(d.0),
        }
    }
    (snaps, crate::diag::capped(errors))
}

/// Prints diagnostics to stderr, at most [`crate::diag::PER_FILE`] a file
/// and a count of the rest, with no control character of the input.
pub fn print_diagnostics(diags: &[Diagnostic]) {
    use crate::report::escape::line;
    let mut err = std::io::stderr().lock();
    for d in crate::diag::shown(diags) {
        // Messages quote the input: one of its newlines must not start a line.
        let excerpt = d.excerpt.as_deref().map(|ex| {
            let before: String = ex.text.chars().take(ex.caret).collect();
            Box::new(crate::diag::Excerpt {
                text: line(&ex.text).into_owned(),
                caret: line(&before).chars().count(),
                ..ex.clone()
            })
        });
        let shown = Diagnostic {
            message: line(&d.message).into_owned(),
            excerpt,
            notes: d.notes.iter().map(|n| line(n).into_owned()).collect(),
            ..(*d).clone()
        };
        let _ = writeln!(err, "{shown}");
    }
}

/// Whether stdout should get colour.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sends output to `--output` (atomically) or stdout; a closed pipe is not an error.
pub fn emit(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(path) => crate::fsutil::write_atomic(path, text.as_bytes()),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
    }
}

/// Evaluations, diagnostics, and with a ledger what each run recorded.
pub type Recorded = (
    Vec<crate::engine::Evaluation>,
    Vec<crate::diag::Diagnostic>,
    Option<Vec<crate::ledger::record::RunOutcome>>,
);

/// With a ledger: snapshots in date order, each evaluated with its open
/// cases' dates and recorded, all in one transaction. Any snapshot that
/// cannot be loaded or evaluated leaves the ledger as it was.
pub fn evaluate_and_record(
    playbook: &Playbook,
    waivers: Option<&WaiverSet>,
    paths: &[PathBuf],
    as_of_flag: Option<Date>,
    ledger_path: &Path,
) -> anyhow::Result<Recorded> {
    use crate::ledger::{chain::Appender, record, Access, Ledger};
    let (mut snaps, errors) = load_all(paths);
    if !errors.is_empty() {
        eprintln!(
            "note: the ledger `{}` was not changed",
            ledger_path.display()
        );
        return Ok((Vec::new(), errors, None));
    }
    let as_of = |s: &Arc<Snapshot>| as_of_flag.unwrap_or(s.meta.taken_at);
    snaps.sort_by(|a, b| as_of(a).cmp(&as_of(b)).then_with(|| a.path.cmp(&b.path)));
    let mut ledger = Ledger::open(ledger_path, Access::Write)?;
    let path = ledger.path.clone();
    let path = path.as_path();
    let tx = ledger.write()?;
    let on = |what: &'static str| move |e| crate::ledger::wrap(path, 0, what, e);
    let mut chain = Appender::start(&tx).map_err(on("cannot read the event chain"))?;
    let mut evaluations = Vec::new();
    let mut errors = Vec::new();
    let mut runs = Vec::new();
    for snap in snaps {
        let opened = record::open_since(path, &tx, snap.meta.estate())?;
        let eval = crate::engine::evaluate(
            playbook,
            snap,
            crate::engine::EvalOptions {
                as_of: as_of_flag,
                waivers,
                opened: Some(&opened),
            },
        );
        match eval {
            Ok(mut e) => {
                if errors.is_empty() {
                    let sha256 = e.snapshot.sha256.clone();
                    runs.push(record::record(
                        path,
                        &tx,
                        &mut chain,
                        &mut e,
                        record::RecordOptions {
                            policies_digest: &playbook.digest,
                            sha256: &sha256,
                            annotate: true,
                        },
                    )?);
                }
                evaluations.push(e);
            }
            Err(d) => errors.extend(d.0),
        }
    }
    if !errors.is_empty() {
        drop(tx);
        eprintln!("note: the ledger `{}` was not changed", path.display());
        return Ok((evaluations, crate::diag::capped(errors), None));
    }
    chain
        .finish(&tx)
        .map_err(on("cannot record the event chain"))?;
    Ledger::commit(path, tx)?;
    Ok((evaluations, errors, Some(runs)))
}
