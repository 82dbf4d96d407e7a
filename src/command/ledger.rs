//! `trueup ledger verify` and `trueup ledger stats`.

use clap::{Args, Subcommand, ValueEnum};

use super::cases::LedgerFile;
use super::emit;
use crate::ledger::{chain, stats, Access};

#[derive(Args, Debug)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub action: LedgerCommand,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Recompute the event chain and check SQLite's integrity; name the first row that does not match (exit 1)
    Verify {
        #[command(flatten)]
        ledger: LedgerFile,
    },
    /// Time to resolution by rule, queue and severity; open cases by age; reopenings; overdue steps
    Stats {
        #[command(flatten)]
        ledger: LedgerFile,
        /// Output format
        #[arg(short, long, value_enum, default_value = "text")]
        format: StatsFormat,
    },
}

pub fn run(args: LedgerArgs) -> anyhow::Result<u8> {
    match args.action {
        LedgerCommand::Verify { ledger } => {
            let mut ledger = ledger.open(Access::Read)?;
            let path = ledger.path.clone();
            let tx = ledger.read()?;
            let v = chain::verify(&tx)
                .map_err(|e| crate::ledger::wrap(&path, 0, "cannot verify", e))?;
            drop(tx);
            let shown = crate::report::escape::line(&path.display().to_string()).into_owned();
            if v.ok() {
                println!(
                    "ledger `{shown}`: ok: {} events chained, {} runs, {} cases, integrity ok",
                    v.events, v.runs, v.cases
                );
                return Ok(0);
            }
            for p in v.integrity.iter().chain(&v.problems) {
                println!("ledger `{shown}`: {}", crate::report::escape::line(p));
            }
            println!("ledger `{shown}`: verification failed");
            Ok(1)
        }
        LedgerCommand::Stats { ledger, format } => {
            let mut ledger = ledger.open(Access::Read)?;
            let path = ledger.path.clone();
            let tx = ledger.read()?;
            let s = stats::compute(&tx)
                .map_err(|e| crate::ledger::wrap(&path, 0, "cannot read the ledger", e))?;
            drop(tx);
            let out = match format {
                StatsFormat::Text => stats::text(&s),
                StatsFormat::Json => {
                    let mut t = serde_json::to_string_pretty(&stats::json(&s))
                        .expect("json values serialize");
                    t.push('\n');
                    t
                }
            };
            emit(None, &out)?;
            Ok(0)
        }
    }
}
