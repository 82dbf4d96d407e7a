//! `trueup diff`: what a data or playbook change newly flags.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::{emit, evaluate_all, parse_fail_on, print_diagnostics, Common, Format};
use crate::diff::{DiffReport, PlaybookRef};
use crate::fsutil::expand;
use crate::policy::Playbook;
use crate::report::{self, FailOn};

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The snapshot before the change (with --head)
    #[arg(
        long,
        value_name = "SNAPSHOT",
        requires = "head",
        conflicts_with = "base_policies"
    )]
    pub base: Option<PathBuf>,
    /// The snapshot after the change (with --base)
    #[arg(long, value_name = "SNAPSHOT", requires = "base")]
    pub head: Option<PathBuf>,
    /// The playbook before the change; `-p` is the playbook after it
    #[arg(long, value_name = "DIR")]
    pub base_policies: Option<PathBuf>,
    /// Snapshots to evaluate with both playbooks (with --base-policies)
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    #[command(flatten)]
    pub common: Common,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: Format,
    /// Fail (exit 1) on new or worsened findings at or above this severity, or `never`
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_fail_on)]
    pub fail_on: FailOn,
    /// Record the head run in this case ledger, as `check --ledger` does (never from $TRUEUP_LEDGER)
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

pub fn run(args: DiffArgs) -> anyhow::Result<u8> {
    let waivers = match args.common.waiver_set() {
        Ok(w) => w,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let head_playbook = match args.common.playbook() {
        Ok(p) => p,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let as_of = args.common.as_of;
    let head_ref = PlaybookRef {
        policies: args.common.policies.clone(),
        policies_digest: head_playbook.digest.clone(),
    };
    let mut base_ref = head_ref.clone();
    // The head run, recorded in the ledger when one is given: its routes
    // are then dated from each case's opening, as `check --ledger` dates
    // them.
    let head_run = |paths: &[PathBuf]| -> anyhow::Result<(Vec<_>, Vec<_>)> {
        match &args.ledger {
            None => Ok(evaluate_all(&head_playbook, paths, as_of, waivers.as_ref())),
            Some(ledger) => {
                let (e, d, _) = super::evaluate_and_record(
                    &head_playbook,
                    waivers.as_ref(),
                    paths,
                    as_of,
                    ledger,
                )?;
                Ok((e, d))
            }
        }
    };
    let (title, (base, mut errors), (head, head_errors)) = match (
        &args.base,
        &args.head,
        &args.base_policies,
    ) {
        (Some(b), Some(h), None) => {
            if !args.snapshots.is_empty() {
                bail!("give snapshots either as --base/--head or as arguments with --base-policies, not both");
            }
            (
                format!(
                    "snapshot {} → {} (policies {})",
                    b.display(),
                    h.display(),
                    args.common.policies.display()
                ),
                evaluate_all(
                    &head_playbook,
                    std::slice::from_ref(b),
                    as_of,
                    waivers.as_ref(),
                ),
                head_run(std::slice::from_ref(h))?,
            )
        }
        (None, None, Some(old)) => {
            if args.snapshots.is_empty() {
                bail!("--base-policies needs the snapshots to evaluate");
            }
            // The loader's hint (`pass -p DIR`) names the head's flag, not this one.
            if !old.is_dir() {
                bail!("`--base-policies {}`: folder not found", old.display());
            }
            let base_playbook = match Playbook::load(old, args.common.limits()) {
                Ok(p) => p,
                Err(d) => {
                    print_diagnostics(&d.0);
                    return Ok(2);
                }
            };
            let paths = expand(&args.snapshots)?;
            base_ref = PlaybookRef {
                policies: old.clone(),
                policies_digest: base_playbook.digest.clone(),
            };
            let on: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            (
                format!(
                    "policies {} → {} (on {})",
                    old.display(),
                    args.common.policies.display(),
                    on.join(", ")
                ),
                evaluate_all(&base_playbook, &paths, as_of, waivers.as_ref()),
                head_run(&paths)?,
            )
        }
        _ => bail!("give `--base SNAPSHOT --head SNAPSHOT`, or `--base-policies DIR SNAPSHOT...`"),
    };
    errors.extend(head_errors);
    let errors = crate::diag::capped(errors);
    print_diagnostics(&errors);
    let mut report = DiffReport::new(title, base, head, args.fail_on);
    report.errors = errors;
    report.rules = report::RuleInfo::of(&head_playbook);
    report.base_playbook = base_ref;
    report.head_playbook = head_ref;
    let text = report::render_diff(&report, args.format, args.common.output.is_none());
    // Every format ends on the run's status; the errors themselves went to stderr.
    emit(args.common.output.as_deref(), &text)?;
    let mut what = format!(
        "a diff of {} new, {} changed, {} resolved",
        report.count(crate::diff::Change::New),
        report.count(crate::diff::Change::Changed),
        report.count(crate::diff::Change::Resolved)
    );
    if !report.errors.is_empty() {
        what.push_str(&format!(
            ", {}",
            super::progress::count(crate::diag::total(&report.errors), "error")
        ));
    }
    super::progress::wrote(args.common.output.as_deref(), &what, report.status());
    Ok(report.exit_code())
}
