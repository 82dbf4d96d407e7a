//! `trueup simulate`: dry-run scenario timelines and print what opens,
//! escalates and resolves, and when.

use std::path::PathBuf;

use crate::report::escape;
use clap::{Args, ValueEnum};

use super::{emit, print_diagnostics, Common};
use crate::fsutil::expand;
use crate::policy::Limits;
use crate::simulate::{self, Simulation};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Scenario files or globs
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// The playbook folder
    #[arg(short, long, default_value = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Waivers file (default: `waivers.yaml` beside the policies folder, if present)
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Stop a script after this many operations
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_operations)]
    pub max_operations: u64,
}

/// Exit 0 when every expectation is met (or there are none), 1 when one is
/// not, 2 when a scenario, snapshot, waiver or script is broken.
pub fn run(args: SimulateArgs) -> anyhow::Result<u8> {
    let paths = expand(&args.scenarios)?;
    // The dates come from each scenario, so `--as-of` has no place here.
    let common = Common {
        policies: args.policies.clone(),
        as_of: None,
        output: args.output.clone(),
        waivers: args.waivers.clone(),
        max_operations: args.max_operations,
    };
    let (playbook, waivers) = match common.playbook_and_waivers() {
        Ok(x) => x,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let sims: Vec<Simulation> = match simulate::simulate_all(&playbook, &paths, waivers.as_ref()) {
        Ok(s) => s,
        Err(d) => {
            print_diagnostics(&d.0);
            if args.format == Format::Json {
                let text = simulate::json::render(&[], &args.policies, &playbook.digest, &d.0);
                emit(args.output.as_deref(), &text)?;
            }
            return Ok(2);
        }
    };
    let text = match args.format {
        Format::Text => simulate::text::render(&sims),
        Format::Json => simulate::json::render(&sims, &args.policies, &playbook.digest, &[]),
        Format::Markdown => simulate::markdown::render(&sims),
    };
    emit(args.output.as_deref(), &text)?;
    let failed: Vec<&Simulation> = sims.iter().filter(|s| !s.passed()).collect();
    // The text report on stdout already shows want against got.
    if args.format != Format::Text || args.output.is_some() {
        for sim in &failed {
            for o in sim.expectations.iter().filter(|o| !o.met) {
                let text = format!(
                    "error: {}:{}: scenario `{}`: expectation not met\n{}",
                    sim.file.display(),
                    o.line,
                    escape::line(&sim.name),
                    o.failure_text()
                );
                eprintln!("{}", escape::text(&text));
            }
        }
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}
