//! `trueup test`: run the playbook's own cases, with coverage.

use std::fmt::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{emit, print_diagnostics};
use crate::diag::Diagnostics;
use crate::policy::{Limits, Playbook};
use crate::report::escape::line;
use crate::report::junit;
use crate::testing::{self, CaseResult};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Junit,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The playbook folder; cases are read from its `tests/` folder, scenarios from `../scenarios/`
    #[arg(value_name = "DIR", default_value = "policies")]
    pub dir: PathBuf,
    /// Run only cases whose file, line or note contains PATTERN
    #[arg(long, value_name = "PATTERN")]
    pub run: Option<String>,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write results to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report which rules, routers and remediation hooks the cases exercise
    #[arg(long)]
    pub coverage: bool,
    /// Fail when coverage is below PERCENT (implies --coverage)
    #[arg(long, value_name = "PERCENT")]
    pub coverage_min: Option<f64>,
    /// Stop a script after this many operations
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_operations)]
    pub max_operations: u64,
}

pub fn run(args: TestArgs) -> anyhow::Result<u8> {
    let limits = Limits {
        max_operations: args.max_operations,
        ..Limits::default()
    };
    let playbook = match Playbook::load(&args.dir, limits) {
        Ok(p) => p,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let mut cases = Vec::new();
    let mut errors = Diagnostics::default();
    for file in testing::case_files(&args.dir.join("tests")) {
        match testing::load_cases(&file) {
            Ok(c) => cases.extend(c),
            Err(d) => errors.0.extend(d.0),
        }
    }
    if errors.has_errors() {
        print_diagnostics(&errors.0);
        return Ok(2);
    }
    if let Some(p) = &args.run {
        cases.retain(|c| c.name().contains(p.as_str()));
    }
    let mut results = match testing::run(&playbook, &cases) {
        Ok(r) => r,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    // Scenarios beside the playbook (`../scenarios/*.yaml`): each expectation is a case.
    match crate::simulate::test_cases(&playbook, &args.dir, args.run.as_deref()) {
        Ok(r) => results.extend(r),
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    }
    let coverage = Coverage::of(&playbook, &results);
    let want_coverage = args.coverage || args.coverage_min.is_some();
    let text = match args.format {
        Format::Text => {
            let mut t = text(&results);
            if want_coverage {
                t.push_str(&coverage.text());
            }
            t
        }
        Format::Junit => junit::tests(&results),
    };
    emit(args.output.as_deref(), &text)?;
    let failed = results.iter().any(|r| !r.passed());
    let below = args
        .coverage_min
        .is_some_and(|min| coverage.percent() < min);
    if below {
        eprintln!(
            "error: coverage {:.1}% is below --coverage-min {}",
            coverage.percent(),
            args.coverage_min.unwrap_or_default()
        );
    }
    Ok(if failed || below { 1 } else { 0 })
}

fn text(results: &[CaseResult]) -> String {
    let mut out = String::new();
    let mut file = None;
    for r in results {
        if file != Some(&r.file) {
            let _ = writeln!(out, "{}", line(&r.file.display().to_string()));
            file = Some(&r.file);
        }
        if r.passed() {
            let _ = writeln!(out, "  ok    line {}: {}", r.line, line(&r.note));
        } else {
            let _ = writeln!(out, "  FAIL  line {}: {}", r.line, line(&r.note));
            for f in &r.failures {
                for l in f.lines() {
                    let _ = writeln!(out, "        {}", line(l));
                }
            }
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    let _ = writeln!(
        out,
        "\n{} passed, {} failed",
        results.len() - failed,
        failed
    );
    out
}

/// Which parts of the playbook the cases exercised.
pub struct Coverage {
    /// (kind, name, cases that exercised it)
    pub items: Vec<(&'static str, String, usize)>,
}

impl Coverage {
    pub fn of(playbook: &Playbook, results: &[CaseResult]) -> Coverage {
        let mut items = Vec::new();
        for m in playbook.rules() {
            let id = m.rule_id();
            let n = results.iter().filter(|r| r.fired.contains(&id)).count();
            items.push(("rule", id.clone(), n));
            if m.defines("remediate") {
                let n = results
                    .iter()
                    .filter(|r| r.remediated.contains(&id))
                    .count();
                items.push(("remediate", id, n));
            }
        }
        for m in playbook.routers() {
            let n = results
                .iter()
                .filter(|r| r.routed_by.contains(&m.path))
                .count();
            items.push(("router", m.path.display().to_string(), n));
        }
        Coverage { items }
    }

    /// Share of items exercised by at least one case, in percent.
    pub fn percent(&self) -> f64 {
        if self.items.is_empty() {
            return 100.0;
        }
        let covered = self.items.iter().filter(|i| i.2 > 0).count();
        covered as f64 * 100.0 / self.items.len() as f64
    }

    pub fn text(&self) -> String {
        let mut out = String::from("\ncoverage:\n");
        let width = self
            .items
            .iter()
            .map(|i| i.0.len() + line(&i.1).len() + 1)
            .max()
            .unwrap_or(0);
        for (kind, name, n) in &self.items {
            let label = format!("{kind} {}", line(name));
            let mark = if *n == 0 {
                "  <- no case exercises it"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {label:<width$}  {n} case{}{mark}",
                if *n == 1 { "" } else { "s" }
            );
        }
        let covered = self.items.iter().filter(|i| i.2 > 0).count();
        let _ = writeln!(
            out,
            "coverage: {:.1}% ({covered} of {})",
            self.percent(),
            self.items.len()
        );
        out
    }
}
