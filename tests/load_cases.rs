//! Loading, case by case: every `tests/cases/load/*.yaml` file holds
//! `cases:`, each a `note`, an inline `snapshot`, optional `metrics` (metric
//! profiles, file name to text, put in the playbook's `metrics/` folder) and
//! either `ok: true` or the `error:` diagnostics the load must report
//! (`line`, optional `column`, `message` substring, and `file` when not the
//! snapshot; line 0 means the file as a whole).
//!
//! Each snapshot is written to a temporary directory and loaded by the built
//! binary as `trueup position snapshot.yaml`, with the case's profiles as
//! the playbook `policies/`; with profiles, `trueup lint policies` must also
//! report exactly the profiles' diagnostics. An error case must exit 2 and
//! report exactly the listed diagnostics, in any order: one run names every
//! mistake, and nothing else. Every failing case is reported, with its note,
//! before the test fails.

mod support;

use std::path::Path;

use support::{case_files, cases, get, items, trueup, write_metrics, Case, METRICS};
use trueup::yaml::{parse_document, Node};

const SNAPSHOT: &str = "snapshot.yaml";

/// One diagnostic as the binary printed it, or as a case expects it.
#[derive(Debug, PartialEq)]
struct Diag {
    file: String,
    line: u32,
    column: Option<u32>,
    message: String,
}

/// The `error: FILE[:line[:col]]: message` lines of stderr.
fn printed(stderr: &str) -> Vec<Diag> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .filter_map(|rest| {
            // `rest` is `FILE: message`, `FILE:L: message` or `FILE:L:C: message`.
            let end = rest.find(".yaml")? + ".yaml".len();
            let file = rest[..end].to_string();
            let mut rest = &rest[end..];
            let mut numbers = Vec::new();
            while let Some(after) = rest.strip_prefix(':') {
                let digits = after.chars().take_while(char::is_ascii_digit).count();
                if digits == 0 {
                    break;
                }
                numbers.push(after[..digits].parse::<u32>().unwrap_or(u32::MAX));
                rest = &after[digits..];
            }
            let message = rest.strip_prefix(": ").unwrap_or(rest).to_string();
            Some(Diag {
                file,
                line: numbers.first().copied().unwrap_or(0),
                column: numbers.get(1).copied(),
                message,
            })
        })
        .collect()
}

fn expected(case: &Case) -> Result<Vec<Diag>, String> {
    let list = get(case.node, "error").expect("caller checked");
    let mut out = Vec::new();
    for item in items(list) {
        let num = |key: &str| -> Result<Option<u32>, String> {
            get(item, key)
                .map(|n| {
                    n.as_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| format!("`{key}` must be a number"))
                })
                .transpose()
        };
        let line = num("line")?.ok_or("an expected error needs `line` (0: the whole file)")?;
        let column = num("column")?;
        let message = get(item, "message")
            .and_then(Node::as_str)
            .ok_or("an expected error needs `message`")?;
        let file = match get(item, "file").and_then(Node::as_str) {
            Some(name) => format!("{METRICS}/{name}"),
            None => SNAPSHOT.to_string(),
        };
        out.push(Diag {
            file,
            line,
            column,
            message: message.to_string(),
        });
    }
    if out.is_empty() {
        return Err("`error:` lists no diagnostics".into());
    }
    Ok(out)
}

fn matches(want: &Diag, got: &Diag) -> bool {
    want.file == got.file
        && want.line == got.line
        && want.column.is_none_or(|c| got.column == Some(c))
        && got.message.contains(&want.message)
}

fn location(d: &Diag) -> String {
    match (d.line, d.column) {
        (0, _) => d.file.clone(),
        (l, None) => format!("{}:{l}", d.file),
        (l, Some(c)) => format!("{}:{l}:{c}", d.file),
    }
}

/// What is wrong with one run against the diagnostics a case expects.
fn compare(want: &[Diag], got: &[Diag], problems: &mut Vec<String>) {
    for w in want {
        if !got.iter().any(|g| matches(w, g)) {
            problems.push(format!(
                "missing diagnostic `{}: {}`",
                location(w),
                w.message
            ));
        }
    }
    for g in got {
        if !want.iter().any(|w| matches(w, g)) {
            problems.push(format!(
                "unexpected diagnostic `{}: {}`",
                location(g),
                g.message
            ));
        }
    }
}

/// Runs one case; `Err` says what went wrong.
fn run_case(case: &Case) -> Result<(), String> {
    let snapshot = get(case.node, "snapshot")
        .and_then(Node::as_str)
        .ok_or("case has no `snapshot:` text")?;
    let ok = get(case.node, "ok").and_then(Node::as_str) == Some("true");
    let has_error = get(case.node, "error").is_some();
    if ok == has_error {
        return Err("a case needs exactly one of `ok: true` and `error:`".into());
    }
    let want = if has_error {
        expected(case)?
    } else {
        Vec::new()
    };

    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    std::fs::write(dir.path().join(SNAPSHOT), snapshot)
        .map_err(|e| format!("cannot write snapshot: {e}"))?;
    let profiles = write_metrics(case, dir.path())?;
    let run = trueup(dir.path(), &["position", SNAPSHOT])?;

    let mut problems = Vec::new();
    if run.stderr.contains("panicked") {
        problems.push("trueup panicked".to_string());
    }
    let got = printed(&run.stderr);
    if ok {
        if run.code != Some(0) {
            problems.push(format!(
                "expected the snapshot to load (exit 0), got exit {:?}",
                run.code
            ));
        }
    } else {
        if run.code != Some(2) {
            problems.push(format!("expected exit 2, got {:?}", run.code));
        }
        compare(&want, &got, &mut problems);
    }
    if profiles {
        // `lint` checks the profiles alone, with no snapshot, beside a rule
        // that finds nothing (a playbook needs one).
        std::fs::write(
            dir.path().join("policies/nothing.rhai"),
            "const TITLE = \"Nothing\";\nconst DESCRIPTION = \"Finds nothing.\";\nfn check(inv) { [] }\n",
        )
        .map_err(|e| format!("cannot write a rule: {e}"))?;
        let lint = trueup(dir.path(), &["lint", "policies"])?;
        let want: Vec<Diag> = want.into_iter().filter(|w| w.file != SNAPSHOT).collect();
        let expected_code = if want.is_empty() { Some(0) } else { Some(2) };
        if lint.code != expected_code {
            problems.push(format!(
                "`lint` exited {:?}, expected {expected_code:?}\n{}",
                lint.code,
                lint.describe()
            ));
        }
        compare(&want, &printed(&lint.stderr), &mut problems);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{}", problems.join("\n"), run.describe()))
    }
}

#[test]
fn load_cases() {
    let mut failures = Vec::new();
    let mut count = 0;
    for file in case_files("load") {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let shown = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&file)
            .to_path_buf();
        let doc = match parse_document(Path::new(&shown), &text) {
            Ok(Some(doc)) => doc,
            Ok(None) => panic!("{}: empty case file", shown.display()),
            Err(e) => panic!("{e}"),
        };
        let cases = cases(
            &shown,
            &doc,
            &["note", "snapshot", "metrics", "ok", "error"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for case in cases {
            count += 1;
            if let Err(why) = run_case(&case) {
                failures.push(format!("{}: {}\n{why}", case.origin, case.note));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} load cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
