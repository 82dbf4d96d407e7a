//! `trueup lint -f json|sarif|github`: the linter's diagnostics for CI.
//!
//! Every diagnostic keeps its file, line and column: in JSON as it is, in
//! SARIF as a result (rule `lint/error` or `lint/warning`) at that region, in
//! GitHub Actions as an `::error`/`::warning` annotation there. A run whose
//! scripts do not compile cannot be trusted: its status is `error`, and the
//! SARIF invocation fails with the errors as notifications.

use std::path::Path;

use serde_json::{json, Value};

use super::{github, sarif, Status};
use crate::diag::{Diagnostic, Level};

/// A lint run, ready to print.
pub struct LintReport<'a> {
    pub policies: &'a Path,
    pub diagnostics: &'a [Diagnostic],
    pub status: Status,
}

impl LintReport<'_> {
    fn count(&self, level: Level) -> usize {
        self.diagnostics.iter().filter(|d| d.level == level).count()
    }
}

pub fn json(r: &LintReport) -> String {
    let doc = json!({
        "version": super::json::REPORT_VERSION,
        "trueup": env!("CARGO_PKG_VERSION"),
        "status": r.status,
        "inputs": { "policies": r.policies },
        "diagnostics": r.diagnostics,
        "summary": {
            "errors": r.count(Level::Error),
            "warnings": r.count(Level::Warning),
        },
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("json values serialize");
    out.push('\n');
    out
}

pub fn sarif(r: &LintReport) -> String {
    let rule = |level: Level| match level {
        Level::Error => "lint/error",
        Level::Warning => "lint/warning",
    };
    let descriptors: Vec<Value> = [Level::Error, Level::Warning]
        .into_iter()
        .map(|level| {
            let what = match level {
                Level::Error => "a script problem that makes the playbook wrong",
                Level::Warning => "a script pattern that is likely a mistake",
            };
            json!({
                "id": rule(level),
                "name": rule(level),
                "shortDescription": { "text": format!("trueup lint: {what}") },
                "defaultConfiguration": { "level": level_name(level) },
            })
        })
        .collect();
    let results: Vec<Value> = r
        .diagnostics
        .iter()
        .map(|d| {
            let index = usize::from(d.level == Level::Warning);
            json!({
                "ruleId": rule(d.level),
                "ruleIndex": index,
                "level": level_name(d.level),
                "message": { "text": d.message },
                "locations": [sarif::location(&super::repo_path(&d.file), d.line.max(1), d.column)],
            })
        })
        .collect();
    let mut invocation = json!({ "executionSuccessful": r.status != Status::Error });
    if r.status == Status::Error {
        let errors: Vec<Value> = r
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .map(sarif::notification)
            .collect();
        invocation["toolExecutionNotifications"] = json!(errors);
    }
    sarif::log(descriptors, invocation, results)
}

pub fn github(r: &LintReport) -> String {
    let mut out = String::new();
    github::errors(&mut out, r.diagnostics);
    let summary = format!(
        "{}: {} error{}, {} warning{}",
        r.policies.display(),
        r.count(Level::Error),
        if r.count(Level::Error) == 1 { "" } else { "s" },
        r.count(Level::Warning),
        if r.count(Level::Warning) == 1 {
            ""
        } else {
            "s"
        },
    );
    match r.status {
        Status::Error => out.push_str(&format!(
            "::error title=trueup lint::{}\n",
            github::data(&format!(
                "trueup lint: the run could not be trusted; {summary}"
            ))
        )),
        status => out.push_str(&format!("trueup lint: {summary}; {}\n", status.as_str())),
    }
    out
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
    }
}
