//! The licence position, case by case: every `tests/cases/position/*.yaml`
//! file holds `cases:`, each a `note`, an inline `snapshot`, an optional
//! `as_of`, optional `metrics` (a playbook's own metric profiles, file name
//! to text, used instead of the shipped ones) and the `want:` rows, worked
//! out by hand.
//!
//! Each snapshot is written to a temporary directory and run through the built
//! binary as `trueup position -f json -p POLICIES [--as-of D] snapshot.yaml`,
//! POLICIES being the repository's playbook, so the shipped metric profiles
//! (`policies/metrics/*.yaml`) apply. The rows in
//! `want` are all the rows: each must appear once (matched by `product` and
//! `metric`, comparing only the fields given) and no other row may appear.
//! Every failing case is reported, with its note, before the test fails.

mod support;

use std::path::Path;

use serde_json::Value as Json;
use support::{case_files, cases, get, items, keys, scalar_json, trueup, write_metrics, Case};
use trueup::yaml::{parse_document, Node};

const SNAPSHOT: &str = "snapshot.yaml";
const FIELDS: &[&str] = &[
    "product",
    "metric",
    "entitled",
    "consumed",
    "shortfall",
    "surplus",
    "utilization",
    "incomplete",
    "stale",
    "unknown_capacity",
    "unattributed",
];

/// Whether a wanted value matches the output; utilization is a ratio rounded
/// to four places, so numbers compare with a small tolerance.
fn same(want: &Json, got: &Json) -> bool {
    match (want, got) {
        (Json::Number(a), Json::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            _ => a == b,
        },
        _ => want == got,
    }
}

/// A wanted row: product, metric, and the fields it pins.
type WantedRow = (String, String, Vec<(String, Json)>);

fn wanted_rows(case: &Case) -> Result<Vec<WantedRow>, String> {
    let list = get(case.node, "want").ok_or("case has no `want:` rows")?;
    let mut rows = Vec::new();
    for row in items(list) {
        if let Some(bad) = keys(row).into_iter().find(|k| !FIELDS.contains(k)) {
            return Err(format!("line {}: unknown row field `{bad}`", row.pos.line));
        }
        let text = |key: &str| {
            get(row, key)
                .and_then(Node::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("line {}: a wanted row needs `{key}`", row.pos.line))
        };
        let (product, metric) = (text("product")?, text("metric")?);
        let fields = FIELDS[2..]
            .iter()
            .filter_map(|&f| get(row, f).map(|n| (f.to_string(), scalar_json(n))))
            .collect();
        rows.push((product, metric, fields));
    }
    Ok(rows)
}

/// Runs one case; `Err` says what went wrong.
fn run_case(case: &Case) -> Result<(), String> {
    let snapshot = get(case.node, "snapshot")
        .and_then(Node::as_str)
        .ok_or("case has no `snapshot:` text")?;
    let want = wanted_rows(case)?;
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    std::fs::write(dir.path().join(SNAPSHOT), snapshot)
        .map_err(|e| format!("cannot write snapshot: {e}"))?;
    // A case with `metrics:` of its own has a playbook of only those.
    let policies = if write_metrics(case, dir.path())? {
        dir.path().join("policies")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
    };
    let policies = policies
        .to_str()
        .ok_or("the repository path is not UTF-8")?;
    let mut args = vec!["position", "-f", "json", "-p", policies];
    let as_of = get(case.node, "as_of").and_then(Node::as_str);
    if let Some(day) = as_of {
        args.extend(["--as-of", day]);
    }
    args.push(SNAPSHOT);
    let run = trueup(dir.path(), &args)?;
    if run.code != Some(0) || run.stderr.contains("panicked") {
        return Err(format!("expected exit 0\n{}", run.describe()));
    }
    let json: Json = serde_json::from_str(&run.stdout)
        .map_err(|e| format!("output is not JSON: {e}\n{}", run.describe()))?;
    let got = json["positions"]
        .as_array()
        .ok_or_else(|| format!("no `positions` array\n{}", run.describe()))?;

    let key = |row: &Json| {
        (
            row["product"].as_str().unwrap_or("?").to_string(),
            row["metric"].as_str().unwrap_or("?").to_string(),
        )
    };
    let mut problems = Vec::new();
    for (product, metric, fields) in &want {
        let found: Vec<&Json> = got
            .iter()
            .filter(|r| key(r) == (product.clone(), metric.clone()))
            .collect();
        let [row] = found.as_slice() else {
            problems.push(format!(
                "expected one `{product}` `{metric}` row, found {}",
                found.len()
            ));
            continue;
        };
        for (field, value) in fields {
            if !same(value, &row[field]) {
                problems.push(format!(
                    "`{product}` `{metric}`: `{field}` is {}, expected {value}",
                    row[field]
                ));
            }
        }
    }
    for row in got {
        let (product, metric) = key(row);
        if !want.iter().any(|(p, m, _)| *p == product && *m == metric) {
            problems.push(format!("unexpected row `{product}` `{metric}`"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let rows: Vec<String> = got.iter().map(compact).collect();
        Err(format!(
            "{}\nrows (as of {}):\n  {}",
            problems.join("\n"),
            as_of.unwrap_or("taken_at"),
            rows.join("\n  ")
        ))
    }
}

/// One output row on one line, without the snapshot path.
fn compact(row: &Json) -> String {
    FIELDS
        .iter()
        .map(|f| format!("{f}: {}", row[*f]))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn position_cases() {
    let mut failures = Vec::new();
    let mut count = 0;
    for file in case_files("position") {
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
            &["note", "snapshot", "metrics", "as_of", "want"],
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
        "{} of {count} position cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
