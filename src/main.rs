//! The `trueup` command line: parse arguments, call the library, print,
//! return an exit code (0 clean, 1 findings or failures, 2 untrusted run).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use trueup::command;

#[derive(Parser, Debug)]
#[command(
    name = "trueup",
    version,
    about = "Policy-as-code licence compliance: evaluate a playbook of Rhai rules against inventory snapshots"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Evaluate the playbook against each snapshot and print findings
    Check(command::check::CheckArgs),
    /// Print the effective licence position per product and metric
    Position(command::position::PositionArgs),
    /// Findings new, changed and resolved between two snapshots or two playbooks
    Diff(command::diff::DiffArgs),
    /// A rule's title, thresholds, routing, remediation and tests; or why one finding fired
    Explain(command::explain::ExplainArgs),
    /// Write one finding up with a playbook template: a notice, plan or audit response
    Notice(command::notice::NoticeArgs),
    /// Compile every script and report every problem with file:line:col
    Lint(command::lint::LintArgs),
    /// Run the playbook's own test cases (DIR/tests/**/*.yaml)
    Test(command::test::TestArgs),
    /// Dry-run scenario timelines: what opens, escalates and resolves, and when
    Simulate(command::simulate::SimulateArgs),
    /// List the cases of a ledger: state, severity, queue, owner, dates, overdue steps
    Cases(command::cases::CasesArgs),
    /// One case: show its timeline, or acknowledge, assign, note or resolve it
    Case(command::cases::CaseArgs),
    /// Verify a ledger's event chain and integrity, or print its statistics
    Ledger(command::ledger::LedgerArgs),
    /// Write the case ledger (and a snapshot's position) as one self-contained HTML page
    Dashboard(command::dashboard::DashboardArgs),
    /// Write a synthetic, deterministic snapshot of N installations (for benchmarks)
    Generate(command::generate::GenerateArgs),
    /// Import discovery-tool exports into a snapshot, recognising each product
    Import(command::import::ImportArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check(args) => command::check::run(args),
        Command::Position(args) => command::position::run(args),
        Command::Test(args) => command::test::run(args),
        Command::Diff(args) => command::diff::run(args),
        Command::Lint(args) => command::lint::run(args),
        Command::Notice(args) => command::notice::run(args),
        Command::Explain(args) => command::explain::run(args),
        Command::Simulate(args) => command::simulate::run(args),
        Command::Generate(args) => command::generate::run(args),
        Command::Cases(args) => command::cases::list(args),
        Command::Case(args) => command::cases::case(args),
        Command::Ledger(args) => command::ledger::run(args),
        Command::Import(args) => command::import::run(args),
        Command::Dashboard(args) => command::dashboard::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let text = format!("error: {e:#}");
            eprintln!("{}", trueup::report::escape::text(&text));
            ExitCode::from(2)
        }
    }
}
