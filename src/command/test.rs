//! `trueup test`: run the playbook's own cases, with coverage.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::progress::{count, wrote};
use super::{emit, print_diagnostics, PlaybookDir};
use serde_json::json;

use crate::diag::{Diagnostic, Diagnostics};
use crate::policy::Playbook;
use crate::report::escape::line;
use crate::report::{junit, Status};
use crate::testing::{self, CaseResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The playbook folder (`-p DIR` or `DIR`): cases are read from its
    /// `tests/` folder, scenarios from `../scenarios/`
    #[command(flatten)]
    pub playbook: PlaybookDir,
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
    #[command(flatten)]
    pub script: super::ScriptLimits,
}

pub fn run(args: TestArgs) -> anyhow::Result<u8> {
    let limits = args.script.limits();
    let dir = args.playbook.resolve()?;
    let playbook = match Playbook::load(&dir, limits) {
        Ok(p) => p,
        Err(d) => return untrusted(&args, &dir, &d.0),
    };
    if let Err(d) = playbook.require_rules() {
        return untrusted(&args, &dir, &[d]);
    }
    let mut cases = Vec::new();
    let mut errors = Diagnostics::default();
    for file in testing::case_files(&dir.join("tests")) {
        match testing::load_cases(&file) {
            Ok(c) => cases.extend(c),
            Err(d) => errors.0.extend(d.0),
        }
    }
    errors.0.extend(testing::check_rules(&playbook, &cases).0);
    if errors.has_errors() {
        return untrusted(&args, &dir, &errors.0);
    }
    if let Some(p) = &args.run {
        cases.retain(|c| c.name().contains(p.as_str()));
    }
    let mut results = match testing::run(&playbook, &cases) {
        Ok(r) => r,
        Err(d) => return untrusted(&args, &dir, &d.0),
    };
    // Scenarios beside the playbook (`../scenarios/*.yaml`): each expectation is a case.
    match crate::simulate::test_cases(&playbook, &dir, args.run.as_deref()) {
        Ok(r) => results.extend(r),
        Err(d) => return untrusted(&args, &dir, &d.0),
    }
    // Zero cases would pass without testing anything.
    if results.is_empty() {
        match &args.run {
            Some(p) => eprintln!(
                "error: no test case matches `--run {p}` (it matches a case's file, line or note)"
            ),
            None => eprintln!(
                "error: {}: no test cases (add `tests/*.yaml` with `cases:`, or scenarios with `expect:`)",
                dir.display()
            ),
        }
        return Ok(2);
    }
    let coverage = Coverage::of(&playbook, &results);
    let want_coverage = args.coverage || args.coverage_min.is_some();
    let failed = results.iter().any(|r| !r.passed());
    let below = args
        .coverage_min
        .is_some_and(|min| coverage.percent() < min);
    let status = if failed || below {
        Status::Failing
    } else {
        Status::Passing
    };
    let text = match args.format {
        Format::Text => {
            let mut t = text(&results);
            if want_coverage {
                t.push_str(&coverage.text());
            }
            t
        }
        Format::Json => json(
            &dir,
            status,
            &results,
            want_coverage.then_some(&coverage),
            &[],
        ),
        Format::Junit => junit::tests(&results, &[]),
    };
    emit(args.output.as_deref(), &text)?;
    let failed_n = results.iter().filter(|r| !r.passed()).count();
    let what = format!(
        "{} ({} passed, {failed_n} failed)",
        count(results.len(), "case"),
        results.len() - failed_n
    );
    wrote(args.output.as_deref(), &what, status);
    if below {
        eprintln!(
            "error: coverage {:.1}% is below --coverage-min {}",
            coverage.percent(),
            args.coverage_min.unwrap_or_default()
        );
    }
    Ok(status.exit_code())
}

/// A run that could not get to its cases' verdicts: the errors on stderr,
/// and in JSON and JUnit a report that says so; exit 2.
fn untrusted(args: &TestArgs, dir: &Path, errors: &[Diagnostic]) -> anyhow::Result<u8> {
    print_diagnostics(errors);
    let text = match args.format {
        Format::Text => None,
        Format::Json => Some(json(dir, Status::Error, &[], None, errors)),
        Format::Junit => Some(junit::tests(&[], errors)),
    };
    if let Some(text) = text {
        emit(args.output.as_deref(), &text)?;
        wrote(
            args.output.as_deref(),
            &count(crate::diag::total(errors), "error"),
            Status::Error,
        );
    }
    Ok(Status::Error.exit_code())
}

/// `trueup test -f json`: status, each case with its failures, the summary,
/// coverage when asked for, and errors.
fn json(
    dir: &Path,
    status: Status,
    results: &[CaseResult],
    coverage: Option<&Coverage>,
    errors: &[Diagnostic],
) -> String {
    let cases: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            json!({
                "file": r.file,
                "line": r.line,
                "note": r.note,
                "passed": r.passed(),
                "failures": r.failures,
                "fired": r.fired,
            })
        })
        .collect();
    let failed = results.iter().filter(|r| !r.passed()).count();
    let mut doc = json!({
        "version": crate::report::json::REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "status": status,
        "inputs": { "policies": dir },
        "cases": cases,
        "summary": { "passed": results.len() - failed, "failed": failed },
        "errors": errors,
    });
    if let Some(c) = coverage {
        let items: Vec<serde_json::Value> = c
            .items
            .iter()
            .map(|(kind, name, n)| json!({ "kind": kind, "name": name, "cases": n }))
            .collect();
        doc["coverage"] = json!({ "percent": c.percent(), "items": items });
    }
    let mut out = serde_json::to_string_pretty(&doc).expect("json values serialize");
    out.push('\n');
    out
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
