//! `trueup check`: evaluate the playbook against snapshots and print findings.

use std::path::{Path, PathBuf};

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
            let (e, d, runs) = super::evaluate_and_record(
                &playbook,
                waivers.as_ref(),
                &paths,
                args.common.as_of,
                &path,
            )?;
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
