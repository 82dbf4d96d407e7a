//! `trueup dashboard`: the case ledger as one self-contained HTML page.

use std::path::PathBuf;

use clap::Args;

use super::cases::LedgerFile;
use super::{emit, parse_date, print_diagnostics, ScriptLimits};
use crate::date::Date;
use crate::engine::{evaluate, EvalOptions};
use crate::ledger::Access;

#[derive(Args, Debug)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub ledger: LedgerFile,
    /// A snapshot whose licence position (and remediation options) the page shows
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: Option<PathBuf>,
    /// The playbook folder (evaluates SNAPSHOT)
    #[arg(short, long, default_value = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// Count steps and ages on this date (YYYY-MM-DD) instead of each estate's latest run
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<Date>,
    /// Waivers file (default: `waivers.yaml` beside the policies folder, if present)
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Write the page to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub script: ScriptLimits,
}

pub fn run(args: DashboardArgs) -> anyhow::Result<u8> {
    let ledger_path = args.ledger.path()?;
    let eval = match &args.snapshot {
        None => None,
        Some(path) => {
            let common = super::Common {
                policies: args.policies.clone(),
                as_of: args.as_of,
                output: None,
                waivers: args.waivers.clone(),
                script: args.script.clone(),
            };
            let (playbook, waivers) = match common.playbook_and_waivers() {
                Ok(x) => x,
                Err(d) => {
                    print_diagnostics(&d.0);
                    return Ok(2);
                }
            };
            let Some(snap) = super::load_one(path) else {
                return Ok(2);
            };
            let opts = EvalOptions {
                as_of: args.as_of,
                waivers: waivers.as_ref(),
                opened: None,
            };
            match evaluate(&playbook, snap, opts) {
                Ok(e) => Some(e),
                Err(d) => {
                    print_diagnostics(&d.0);
                    return Ok(2);
                }
            }
        }
    };
    let mut ledger = crate::ledger::Ledger::open(&ledger_path, Access::Read)?;
    let path = ledger.path.clone();
    let tx = ledger.read()?;
    let shown = path.display().to_string();
    let d = crate::dashboard::gather(&tx, &shown, args.as_of, eval.as_ref())
        .map_err(|e| crate::ledger::wrap(&path, 0, "cannot read the ledger", e))?;
    drop(tx);
    emit(args.output.as_deref(), &crate::dashboard::html::render(&d))?;
    Ok(0)
}
