//! Snapshot loading, case by case: every `tests/cases/load/*.yaml` file holds
//! `cases:`, each a `note`, an inline `snapshot` and either `ok: true` or the
//! `error:` diagnostics the load must report (`line`, optional `column`,
//! `message` substring; line 0 means the file as a whole).
//!
//! Each snapshot is written to a temporary directory and loaded by the built
//! binary as `trueup position snapshot.yaml`. An error case must exit 2 and
//! report exactly the listed diagnostics, in any order: one run names every
//! mistake, and nothing else. Every failing case is reported, with its note,
//! before the test fails.

mod support;

use std::path::Path;

use support::{case_files, cases, get, items, trueup, Case};
use trueup::yaml::{parse_document, Node};

const SNAPSHOT: &str = "snapshot.yaml";

/// One diagnostic as the binary printed it.
#[derive(Debug, PartialEq)]
struct Printed {
    line: u32,
    column: Option<u32>,
    message: String,
}

/// One diagnostic a case expects.
struct Expected {
    line: u32,
    column: Option<u32>,
    message: String,
}

/// The `error: snapshot.yaml[:line[:col]]: message` lines of stderr.
fn printed(stderr: &str) -> Vec<Printed> {
    let prefix = format!("error: {SNAPSHOT}");
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            // `rest` is `: message`, `:L: message` or `:L:C: message`.
            let mut numbers = Vec::new();
            let mut rest = rest;
            while let Some(after) = rest.strip_prefix(':') {
                let digits = after.chars().take_while(char::is_ascii_digit).count();
                if digits == 0 {
                    break;
                }
                numbers.push(after[..digits].parse::<u32>().unwrap_or(u32::MAX));
                rest = &after[digits..];
            }
            let message = rest.strip_prefix(": ").unwrap_or(rest).to_string();
            Printed {
                line: numbers.first().copied().unwrap_or(0),
                column: numbers.get(1).copied(),
                message,
            }
        })
        .collect()
}

fn expected(case: &Case) -> Result<Vec<Expected>, String> {
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
        out.push(Expected {
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

fn matches(want: &Expected, got: &Printed) -> bool {
    want.line == got.line
        && want.column.is_none_or(|c| got.column == Some(c))
        && got.message.contains(&want.message)
}

fn location(line: u32, column: Option<u32>) -> String {
    match (line, column) {
        (0, _) => SNAPSHOT.to_string(),
        (l, None) => format!("{SNAPSHOT}:{l}"),
        (l, Some(c)) => format!("{SNAPSHOT}:{l}:{c}"),
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
        for w in &want {
            if !got.iter().any(|g| matches(w, g)) {
                problems.push(format!(
                    "missing diagnostic `{}: {}`",
                    location(w.line, w.column),
                    w.message
                ));
            }
        }
        for g in &got {
            if !want.iter().any(|w| matches(w, g)) {
                problems.push(format!(
                    "unexpected diagnostic `{}: {}`",
                    location(g.line, g.column),
                    g.message
                ));
            }
        }
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
        let cases = cases(&shown, &doc, &["note", "snapshot", "ok", "error"])
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
