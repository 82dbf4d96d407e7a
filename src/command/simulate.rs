//! `trueup simulate`: dry-run scenario timelines and print what opens,
//! escalates and resolves, and when.

use std::path::PathBuf;

use crate::report::escape;
use clap::{Args, ValueEnum};

use super::progress::{count, wrote, Progress};
use super::{emit, parse_fail_on, print_diagnostics, Common};
use crate::fsutil::expand;
use crate::report::{FailOn, Status};
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
    #[command(flatten)]
    pub script: super::ScriptLimits,
    /// Fail (exit 1) on unmet expectations about findings at or above this
    /// severity, or `never`; the default `info` fails on every unmet one
    #[arg(long, value_name = "SEVERITY", default_value = "info", value_parser = parse_fail_on)]
    pub fail_on: FailOn,
    /// Keep the rehearsal's case ledger in this new file (one scenario only)
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

/// Exit 0 when no unmet expectation is at or above `--fail-on` (or there
/// are none), 1 when one is, 2 when a scenario, snapshot, waiver or script
/// is broken. Findings themselves never fail a simulation: it is a dry run.
pub fn run(args: SimulateArgs) -> anyhow::Result<u8> {
    let paths = expand(&args.scenarios)?;
    // The dates come from each scenario, so `--as-of` has no place here.
    let common = Common {
        policies: args.policies.clone(),
        as_of: None,
        output: args.output.clone(),
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
    let what = match paths.as_slice() {
        [one] => format!("simulating {}", one.display()),
        _ => format!("simulating {} scenarios", paths.len()),
    };
    // The scenarios share their snapshots, so they run as one step: a spinner.
    let progress = Progress::new(1, &what);
    if args.ledger.is_some() && paths.len() != 1 {
        anyhow::bail!(
            "`--ledger` keeps the ledger of one scenario: give exactly one (got {})",
            paths.len()
        );
    }
    let result =
        simulate::simulate_all(&playbook, &paths, waivers.as_ref(), args.ledger.as_deref());
    progress.finish();
    let sims: Vec<Simulation> = match result {
        Ok(s) => s,
        Err(d) => {
            print_diagnostics(&d.0);
            if args.format == Format::Json {
                let total = d.0.len();
                let errors = crate::diag::capped(d.0);
                let text = simulate::json::render(
                    &[],
                    &args.policies,
                    &playbook.digest,
                    &errors,
                    args.fail_on,
                );
                emit(args.output.as_deref(), &text)?;
                let what = count(total, "error");
                wrote(args.output.as_deref(), &what, Status::Error);
            }
            return Ok(2);
        }
    };
    let text = match args.format {
        Format::Text => simulate::text::render(&sims, args.fail_on),
        Format::Json => {
            simulate::json::render(&sims, &args.policies, &playbook.digest, &[], args.fail_on)
        }
        Format::Markdown => simulate::markdown::render(&sims, args.fail_on),
    };
    emit(args.output.as_deref(), &text)?;
    let failed: Vec<&Simulation> = sims
        .iter()
        .filter(|s| {
            s.expectations
                .iter()
                .any(|o| args.fail_on.fails_expectation(o))
        })
        .collect();
    // The text report on stdout already shows want against got.
    if args.format != Format::Text || args.output.is_some() {
        for sim in &failed {
            for o in sim
                .expectations
                .iter()
                .filter(|o| args.fail_on.fails_expectation(o))
            {
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
    let status = if failed.is_empty() {
        Status::Passing
    } else {
        Status::Failing
    };
    let expectations: usize = sims.iter().map(|s| s.expectations.len()).sum();
    let met: usize = sims
        .iter()
        .map(|s| s.expectations.iter().filter(|o| o.met).count())
        .sum();
    let what = format!(
        "{} ({met} of {} met)",
        count(sims.len(), "scenario"),
        count(expectations, "expectation")
    );
    wrote(args.output.as_deref(), &what, status);
    Ok(status.exit_code())
}
