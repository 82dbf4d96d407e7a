//! `trueup lint`: every problem in a playbook, each with file:line:col.

use std::path::PathBuf;

use clap::Args;

use super::print_diagnostics;
use crate::diag::Level;
use crate::lint::lint;

#[derive(Args, Debug)]
pub struct LintArgs {
    /// The playbook folder
    #[arg(value_name = "DIR", default_value = "policies")]
    pub dir: PathBuf,
    /// Treat warnings as errors (exit 1 on any)
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Exit 2 when a script does not compile or no script is a rule (nothing
/// after it can be trusted),
/// 1 for any other error (or a warning under `--deny-warnings`), else 0.
pub fn run(args: LintArgs) -> anyhow::Result<u8> {
    let report = match lint(&args.dir) {
        Ok(r) => r,
        Err(d) => {
            print_diagnostics(&[d]);
            return Ok(2);
        }
    };
    print_diagnostics(&report.diagnostics);
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .count();
    let warnings = report.diagnostics.len() - errors;
    eprintln!(
        "{}: {errors} error{}, {warnings} warning{}",
        args.dir.display(),
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    );
    Ok(if report.compile_errors {
        2
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        1
    } else {
        0
    })
}
