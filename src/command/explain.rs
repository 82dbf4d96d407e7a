//! `trueup explain`: a rule, or one finding.

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::{emit, print_diagnostics, Common};
use crate::engine::{evaluate, EvalOptions};
use crate::explain;
use crate::testing;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The rule id to explain; with --finding, the snapshot the finding is in
    #[arg(value_name = "RULE|SNAPSHOT")]
    pub target: String,
    /// Explain why one finding fired, by id (`rule:kind:id`)
    #[arg(long, value_name = "ID")]
    pub finding: Option<String>,
    #[command(flatten)]
    pub common: Common,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<u8> {
    let playbook = match args.common.playbook() {
        Ok(p) => p,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    if let Some(id) = &args.finding {
        let path = std::path::Path::new(&args.target);
        let waivers = match args.common.waiver_set() {
            Ok(w) => w,
            Err(d) => {
                print_diagnostics(&d.0);
                return Ok(2);
            }
        };
        let Some(snap) = super::load_one(path) else {
            return Ok(2);
        };
        let opts = EvalOptions {
            as_of: args.common.as_of,
            waivers: waivers.as_ref(),
            opened: None,
        };
        let eval = match evaluate(&playbook, snap, opts) {
            Ok(e) => e,
            Err(d) => {
                print_diagnostics(&d.0);
                return Ok(2);
            }
        };
        let Some(f) = eval.findings.iter().find(|f| &f.id == id) else {
            bail!("{}", explain::no_such_finding(id, path, &eval.findings));
        };
        let text = match args.format {
            Format::Text => explain::finding(&playbook, &eval, f, waivers.as_ref()),
            Format::Json => explain::finding_json(&playbook, &eval, f, waivers.as_ref()),
        };
        emit(args.common.output.as_deref(), &text)?;
        return Ok(0);
    }
    let rule = args.target.as_str();
    let Some(module) = playbook.rule(rule) else {
        let ids: Vec<String> = playbook.rules().map(|m| m.rule_id()).collect();
        bail!(
            "no rule `{rule}` in `{}`; its rules are: {}",
            args.common.policies.display(),
            ids.join(", ")
        );
    };
    let mut cases = Vec::new();
    for file in testing::case_files(&args.common.policies.join("tests")) {
        match testing::load_cases(&file) {
            Ok(c) => cases.extend(c),
            Err(d) => {
                print_diagnostics(&d.0);
                return Ok(2);
            }
        }
    }
    let results = match testing::run(&playbook, &cases) {
        Ok(r) => r,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let text = match args.format {
        Format::Text => explain::rule(&playbook, module, &results),
        Format::Json => explain::rule_json(module, &results),
    };
    emit(args.common.output.as_deref(), &text)?;
    Ok(0)
}
