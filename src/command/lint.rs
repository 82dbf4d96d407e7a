//! `trueup lint`: every problem in a playbook, each with file:line:col.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::progress::{count, wrote};
use super::{emit, print_diagnostics, PlaybookDir};
use crate::diag::Level;
use crate::lint::lint;
use crate::report::{self, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Each diagnostic on stderr with its source line, then a count
    Text,
    /// One object: status, diagnostics, summary
    Json,
    /// SARIF 2.1.0: each diagnostic a result at its file, line and column
    Sarif,
    /// GitHub Actions annotations at each diagnostic's file, line and column
    Github,
}

#[derive(Args, Debug)]
pub struct LintArgs {
    #[command(flatten)]
    pub playbook: PlaybookDir,
    /// Treat warnings as errors (exit 1 on any)
    #[arg(long)]
    pub deny_warnings: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write results to FILE (atomically) instead of stdout (text: stderr)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Exit 2 when a script does not compile or no script is a rule (nothing
/// after it can be trusted),
/// 1 for any other error (or a warning under `--deny-warnings`), else 0.
pub fn run(args: LintArgs) -> anyhow::Result<u8> {
    let dir = args.playbook.resolve()?;
    let (diagnostics, compile_errors) = match lint(&dir) {
        Ok(r) => (r.diagnostics, r.compile_errors),
        Err(d) => (vec![d], true),
    };
    let errors = diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let status = if compile_errors {
        Status::Error
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        Status::Failing
    } else {
        Status::Passing
    };
    let r = report::lint::LintReport {
        policies: &dir,
        diagnostics: &diagnostics,
        status,
    };
    let summary = format!(
        "{}: {}, {}",
        dir.display(),
        count(errors, "error"),
        count(warnings, "warning")
    );
    let text = match args.format {
        // On a terminal the text is a diagnostic like any other: stderr.
        Format::Text if args.output.is_none() => {
            print_diagnostics(&diagnostics);
            eprintln!("{summary}");
            None
        }
        Format::Text => {
            let mut t: String = diagnostics.iter().map(|d| format!("{d}\n")).collect();
            t.push_str(&summary);
            t.push('\n');
            Some(t)
        }
        Format::Json => Some(report::lint::json(&r)),
        Format::Sarif => Some(report::lint::sarif(&r)),
        Format::Github => Some(report::lint::github(&r)),
    };
    if let Some(text) = text {
        emit(args.output.as_deref(), &text)?;
        let what = format!("{}, {}", count(errors, "error"), count(warnings, "warning"));
        wrote(args.output.as_deref(), &what, status);
    }
    Ok(status.exit_code())
}
