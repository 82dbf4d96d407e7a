//! `trueup check`: evaluate the playbook against snapshots and print findings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::{emit, evaluate_all, parse_fail_on, print_diagnostics, Common, Format};
use crate::fsutil::expand;
use crate::report::{self, CheckReport, FailOn};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Snapshot files or globs
    #[arg(required = true, value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    #[command(flatten)]
    pub common: Common,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: Format,
    /// Fail (exit 1) on findings at or above this severity, or `never`
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_fail_on)]
    pub fail_on: FailOn,
    /// Record the run in this case ledger (SQLite; created if missing; default: $TRUEUP_LEDGER)
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// Exit 1 when a notice or escalation step of a case is overdue (with a ledger)
    #[arg(long)]
    pub fail_on_overdue: bool,
}

/// `--ledger FILE`, else `TRUEUP_LEDGER` when set and not empty.
pub fn ledger_path(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(crate::ledger::LEDGER_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let paths = expand(&args.snapshots)?;
    let (playbook, waivers) = match args.common.playbook_and_waivers() {
        Ok(x) => x,
        Err(d) => return untrusted(&args, crate::diag::capped(d.0), String::new(), Vec::new()),
    };
    if let Err(d) = playbook.require_rules() {
        return untrusted(&args, vec![d], playbook.digest.clone(), Vec::new());
    }
    let ledger = ledger_path(args.ledger.as_deref());
    if args.fail_on_overdue && ledger.is_none() {
        anyhow::bail!(
            "`--fail-on-overdue` needs a ledger: give `--ledger FILE` or set `TRUEUP_LEDGER`"
        );
    }
    let (evaluations, errors, ledger) = match ledger {
        None => {
            let (e, d) = evaluate_all(&playbook, &paths, args.common.as_of, waivers.as_ref());
            (e, d, None)
        }
        Some(path) => {
            let (e, d, runs) =
                evaluate_and_record(&args, &playbook, waivers.as_ref(), &paths, &path)?;
            let ledger = runs.map(|runs| report::LedgerReport {
                path,
                runs,
                fail_on_overdue: args.fail_on_overdue,
            });
            (e, d, ledger)
        }
    };
    print_diagnostics(&errors);
    finish(
        &args,
        CheckReport {
            policies: args.common.policies.clone(),
            policies_digest: playbook.digest.clone(),
            evaluations,
            errors,
            fail_on: args.fail_on,
            rules: report::RuleInfo::of(&playbook),
            ledger,
        },
    )
}

type Recorded = (
    Vec<crate::engine::Evaluation>,
    Vec<crate::diag::Diagnostic>,
    Option<Vec<crate::ledger::record::RunOutcome>>,
);

/// With a ledger: snapshots in date order, each evaluated with its open
/// cases' dates and recorded, all in one transaction. Any snapshot that
/// cannot be loaded or evaluated leaves the ledger as it was.
fn evaluate_and_record(
    args: &CheckArgs,
    playbook: &crate::policy::Playbook,
    waivers: Option<&crate::waivers::WaiverSet>,
    paths: &[PathBuf],
    ledger_path: &Path,
) -> anyhow::Result<Recorded> {
    use crate::ledger::{chain::Appender, record, Access, Ledger};
    let (mut snaps, errors) = super::load_all(paths);
    if !errors.is_empty() {
        eprintln!(
            "note: the ledger `{}` was not changed",
            ledger_path.display()
        );
        return Ok((Vec::new(), errors, None));
    }
    let as_of = |s: &Arc<crate::inventory::Snapshot>| args.common.as_of.unwrap_or(s.meta.taken_at);
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
                as_of: args.common.as_of,
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

/// Prints the report in its format; every format ends on the run's status,
/// the errors themselves having gone to stderr.
fn finish(args: &CheckArgs, report: CheckReport) -> anyhow::Result<u8> {
    let text = report::render_check(&report, args.format, args.common.output.is_none());
    emit(args.common.output.as_deref(), &text)?;
    super::progress::wrote(
        args.common.output.as_deref(),
        &findings_summary(&report),
        report.status(),
    );
    Ok(report.exit_code())
}

/// A run stopped before any snapshot was evaluated (the playbook or the
/// waivers are broken): the errors go to stderr, and the report in the
/// asked-for format still says so, so that CI reading SARIF, JUnit or JSON
/// sees an untrusted run rather than no file at all.
fn untrusted(
    args: &CheckArgs,
    errors: Vec<crate::diag::Diagnostic>,
    policies_digest: String,
    rules: Vec<report::RuleInfo>,
) -> anyhow::Result<u8> {
    print_diagnostics(&errors);
    finish(
        args,
        CheckReport {
            policies: args.common.policies.clone(),
            policies_digest,
            evaluations: Vec::new(),
            errors,
            fail_on: args.fail_on,
            rules,
            ledger: None,
        },
    )
}

/// `20 findings (2 critical, 5 high, 3 waived)`: the counts of the summary
/// line, by the same rule.
fn findings_summary(r: &CheckReport) -> String {
    let counts = r.counts();
    let mut parts: Vec<String> = crate::engine::Severity::ALL
        .iter()
        .rev()
        .filter(|s| counts[**s as usize] > 0)
        .map(|s| format!("{} {s}", counts[*s as usize]))
        .collect();
    if r.waived() > 0 {
        parts.push(format!("{} waived", r.waived()));
    }
    let mut out = super::progress::count(r.findings().count(), "finding");
    if !parts.is_empty() {
        out.push_str(&format!(" ({})", parts.join(", ")));
    }
    if !r.errors.is_empty() {
        out.push_str(&format!(
            ", {}",
            super::progress::count(crate::diag::total(&r.errors), "error")
        ));
    }
    out
}
