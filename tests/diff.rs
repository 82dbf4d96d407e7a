//! `trueup diff`: what a data change or a playbook change newly flags.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn trueup(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trueup"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("trueup runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// examples/acme.yaml with `lines` added right after `installations:`;
/// returns the head file and the line numbers the added lines landed on.
fn with_installations(dir: &Path, lines: &[&str]) -> (PathBuf, Vec<u64>) {
    let base = std::fs::read_to_string(root().join("examples/acme.yaml")).unwrap();
    let at = base
        .lines()
        .position(|l| l == "installations:")
        .expect("an installations section")
        + 1;
    let mut out: Vec<&str> = base.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        out.insert(at + i, l);
    }
    let head = dir.join("head.yaml");
    std::fs::write(&head, out.join("\n") + "\n").unwrap();
    let numbers = (0..lines.len()).map(|i| (at + i + 1) as u64).collect();
    (head, numbers)
}

#[test]
fn a_data_change_yields_only_its_new_findings_on_the_lines_it_added() {
    let dir = tempfile::tempdir().unwrap();
    let (head, added) = with_installations(
        dir.path(),
        &[
            "  - { device: ghost-42, product: va-stats, installed_on: 2026-10-30, discovered_by: sccm }",
            "  - { device: ghost-43, product: shadow-ai, installed_on: 2026-10-31, discovered_by: sccm }",
        ],
    );
    let head = head.to_str().unwrap();
    let out = trueup(
        &root(),
        &[
            "diff",
            "--base",
            "examples/acme.yaml",
            "--head",
            head,
            "-f",
            "json",
        ],
    );
    let doc = json(&out);
    let entries = doc["entries"].as_array().unwrap();
    let mut got: Vec<(String, String, u64)> = entries
        .iter()
        .map(|e| {
            assert_eq!(e["change"], "new", "{e}");
            let f = &e["finding"];
            (
                f["id"].as_str().unwrap().to_string(),
                f["location"]["file"].as_str().unwrap().to_string(),
                f["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "undisclosed-deployment:device:ghost-42".to_string(),
                head.to_string(),
                added[0]
            ),
            (
                "undisclosed-deployment:device:ghost-43".to_string(),
                head.to_string(),
                added[1]
            ),
            (
                "unlicensed:product:shadow-ai".to_string(),
                head.to_string(),
                added[1]
            ),
        ]
    );
    // The unlicensed product is high: a new finding at or above `high` fails.
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_worsened_finding_is_changed_and_fails_a_resolved_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    // Ten more devices take Northwind CAD from 92 to 102 of 80: 27.5% over,
    // a critical finding for a high-tier product (was high at 15%).
    let lines: Vec<String> = ["ws-001", "ws-007", "ws-029", "ws-032", "ws-042", "ws-058", "ws-066", "ws-069", "ws-081", "ws-090"]
        .iter()
        .map(|d| format!("  - {{ device: {d}, product: nw-cad, installed_on: 2026-09-15, user: u-001, discovered_by: sccm }}"))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (head, _) = with_installations(dir.path(), &refs);
    let head = head.to_str().unwrap();
    let out = trueup(
        &root(),
        &[
            "diff",
            "--base",
            "examples/acme.yaml",
            "--head",
            head,
            "-f",
            "json",
        ],
    );
    let doc = json(&out);
    let changed: Vec<&serde_json::Value> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["finding"]["id"] == "overuse:product:nw-cad")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["change"], "changed");
    assert_eq!(changed[0]["before"]["severity"], "high");
    assert_eq!(changed[0]["finding"]["severity"], "critical");
    assert!(changed[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "severity: high → critical"));
    assert_eq!(out.status.code(), Some(1));

    // The other way round, the overuse only gets better: nothing fails.
    let back = trueup(
        &root(),
        &[
            "diff",
            "--base",
            head,
            "--head",
            "examples/acme.yaml",
            "-f",
            "json",
        ],
    );
    assert_eq!(
        back.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&back.stdout)
    );
    let text = trueup(
        &root(),
        &["diff", "--base", head, "--head", "examples/acme.yaml"],
    );
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(
        t.contains("CHANGED (1)") && t.contains("changed severity: critical → high"),
        "{t}"
    );
}

#[test]
fn removing_a_finding_reports_it_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let (head, _) = with_installations(
        dir.path(),
        &["  - { device: ghost-42, product: va-stats, installed_on: 2026-10-30, discovered_by: sccm }"],
    );
    let out = trueup(
        &root(),
        &[
            "diff",
            "--base",
            head.to_str().unwrap(),
            "--head",
            "examples/acme.yaml",
            "-f",
            "json",
        ],
    );
    let doc = json(&out);
    assert_eq!(doc["summary"]["resolved"], 1);
    assert_eq!(doc["summary"]["new"], 0);
    assert_eq!(
        doc["entries"][0]["finding"]["id"],
        "undisclosed-deployment:device:ghost-42"
    );
    assert_eq!(out.status.code(), Some(0));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn tightening_a_threshold_yields_exactly_the_findings_it_adds() {
    let dir = tempfile::tempdir().unwrap();
    let head = dir.path().join("policies");
    copy_dir(&root().join("policies"), &head);
    let rule = head.join("approaching-limit.rhai");
    let text = std::fs::read_to_string(&rule).unwrap();
    assert!(text.contains("const WARN_PERCENT = 90;"));
    std::fs::write(
        &rule,
        text.replace("const WARN_PERCENT = 90;", "const WARN_PERCENT = 80;"),
    )
    .unwrap();
    let head = head.to_str().unwrap();

    // What the tighter threshold should add: rows at 80% to 90%, not over,
    // on products with no finding of this rule yet.
    let pos = trueup(&root(), &["position", "examples/acme.yaml", "-f", "json"]);
    let mut expected: Vec<String> = json(&pos)["positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let u = r["utilization"].as_f64().unwrap_or(0.0);
            (0.8..0.9).contains(&u) && r["shortfall"] == 0
        })
        .map(|r| {
            format!(
                "approaching-limit:product:{}",
                r["product"].as_str().unwrap()
            )
        })
        .collect();
    let check = trueup(&root(), &["check", "examples/acme.yaml", "-f", "json"]);
    let already: Vec<String> = json(&check)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    let over: Vec<String> = already
        .iter()
        .filter(|id| id.starts_with("overuse:"))
        .map(|id| id.replace("overuse:", "approaching-limit:"))
        .collect();
    expected.retain(|id| !already.contains(id) && !over.contains(id));
    expected.sort();
    expected.dedup();
    assert!(
        !expected.is_empty(),
        "the example should have rows between 80% and 90%"
    );

    let out = trueup(
        &root(),
        &[
            "diff",
            "--base-policies",
            "policies",
            "-p",
            head,
            "examples/acme.yaml",
            "-f",
            "json",
        ],
    );
    let doc = json(&out);
    let mut got: Vec<String> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["change"], "new");
            e["finding"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    got.sort();
    assert_eq!(got, expected);
    // The new warnings are low: they do not fail at the default `high`...
    assert_eq!(out.status.code(), Some(0));
    // ...but do at `--fail-on low`.
    let strict = trueup(
        &root(),
        &[
            "diff",
            "--base-policies",
            "policies",
            "-p",
            head,
            "examples/acme.yaml",
            "--fail-on",
            "low",
        ],
    );
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn diff_needs_one_kind_of_comparison() {
    let out = trueup(&root(), &["diff", "examples/acme.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = trueup(&root(), &["diff", "--base", "examples/acme.yaml"]);
    assert_eq!(out.status.code(), Some(2));
}
