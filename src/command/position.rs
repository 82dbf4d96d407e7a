//! `trueup position`: the effective licence position per product and metric.

use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::{emit, load_all, parse_date, print_diagnostics};
use crate::date::Date;
use crate::engine::Evaluation;
use crate::fsutil::expand;
use crate::inventory::positions;
use crate::report;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct PositionArgs {
    /// Snapshot files or globs
    #[arg(required = true, value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    /// Compute the position as of this date instead of each snapshot's `taken_at`
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<Date>,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write results to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

pub fn run(args: PositionArgs) -> anyhow::Result<u8> {
    let paths = expand(&args.snapshots)?;
    let (snaps, errors) = load_all(&paths);
    print_diagnostics(&errors);
    // A table of what did load would read as the whole position; JSON says
    // `status: error` beside it.
    if !errors.is_empty() && !matches!(args.format, Format::Json) {
        return Ok(2);
    }
    let evals: Vec<Evaluation> = snaps
        .into_iter()
        .map(|snapshot| {
            let as_of = args.as_of.unwrap_or(snapshot.meta.taken_at);
            let positions = Arc::new(positions(&snapshot, as_of));
            Evaluation {
                snapshot,
                as_of,
                positions,
                findings: Vec::new(),
                waivers: Default::default(),
            }
        })
        .collect();
    let text = match args.format {
        Format::Text => report::position::table(&evals),
        Format::Json => report::position::json(&evals, &errors),
    };
    emit(args.output.as_deref(), &text)?;
    let status = report::Status::of(&errors, 0);
    let rows: usize = evals.iter().map(|e| e.positions.len()).sum();
    let mut what = super::progress::count(rows, "position row");
    if !errors.is_empty() {
        what.push_str(&format!(
            ", {}",
            super::progress::count(crate::diag::total(&errors), "error")
        ));
    }
    super::progress::wrote(args.output.as_deref(), &what, status);
    Ok(status.exit_code())
}
