//! `trueup lint` and `trueup explain`, run as a policy author runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trueup(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trueup"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("trueup runs")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn playbook(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let p = dir.path().join("policies").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir
}

const GOOD: &str = "const TITLE = \"t\";\nconst DESCRIPTION = \"d\";\nfn check(inv) { [] }\n";

#[test]
fn the_shipped_playbook_lints_clean() {
    let out = trueup(&root(), &["lint", "--deny-warnings"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lint_reports_every_problem_with_file_line_column_and_caret() {
    let dir = playbook(&[
        (
            "a.rhai",
            "const ID = \"dup\";\nconst TITLE = \"A\";\nfn check(inv) {\n    let out = [];\n    for row in inv.positoins() {\n        if row.utilisation > 0.75 {\n            out.push(frobnicate(row));\n        }\n    }\n    let x = inv.instalations;\n    out\n}\n",
        ),
        ("b.rhai", "const TITLE = \"B\";\nconst DESCRIPTION = \"b\";\nconst ID = \"dup\";\nfn check(inv) { [] }\n"),
        ("c.rhai", "fn helper(x) { x }\n"),
        ("e.rhai", "fn route(f) { () }\nfn remediate(f, inv) { [] }\n"),
    ]);
    let out = trueup(dir.path(), &["lint"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors but no syntax error: exit 1"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "error: policies/a.rhai:1:1: rule `dup` has no `DESCRIPTION` constant",
        "error: policies/a.rhai:5:20: no method `positoins` in the host API or this script",
        " 5 |     for row in inv.positoins() {\n   |                    ^",
        "warning: policies/a.rhai:6:16: property `utilisation` is on no host record",
        "warning: policies/a.rhai:6:30: magic number `0.75` in a comparison",
        "error: policies/a.rhai:7:22: no function `frobnicate`",
        "error: policies/a.rhai:10:17: the inventory has no property `instalations`",
        "error: policies/b.rhai:3:1: duplicate rule id `dup` (also the id of policies/a.rhai)",
        "error: policies/c.rhai:1:1: defines neither `check` (a rule) nor `route` (a router)",
        "error: policies/e.rhai:2:1: `remediate` without `check`",
        "policies: 7 errors, 2 warnings",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

#[test]
fn a_syntax_error_exits_2_and_the_other_scripts_are_still_linted() {
    let dir = playbook(&[
        ("a.rhai", "fn check(inv) {\n    let x = ;\n}\n"),
        ("b.rhai", "fn check(inv) { [] }\n"),
    ]);
    let out = trueup(dir.path(), &["lint"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("policies/a.rhai:2:13: syntax error"), "{err}");
    assert!(
        err.contains("policies/b.rhai:1:1: rule `b` has no `TITLE` constant"),
        "{err}"
    );
}

#[test]
fn warnings_fail_only_when_denied() {
    let dir = playbook(&[(
        "a.rhai",
        "const TITLE = \"t\";\nconst DESCRIPTION = \"d\";\nfn check(inv) {\n    if inv.products.len() > 42 { [] } else { [] }\n}\n",
    )]);
    assert_eq!(trueup(dir.path(), &["lint"]).status.code(), Some(0));
    assert_eq!(
        trueup(dir.path(), &["lint", "--deny-warnings"])
            .status
            .code(),
        Some(1)
    );
    let ok = playbook(&[("a.rhai", GOOD)]);
    assert_eq!(
        trueup(ok.path(), &["lint", "--deny-warnings"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn explain_a_rule_shows_thresholds_routing_remediation_and_tests() {
    let out = trueup(&root(), &["explain", "install-spike"]);
    assert_eq!(out.status.code(), Some(0));
    let t = String::from_utf8_lossy(&out.stdout);
    for want in [
        "install-spike: Installations spiking",
        "policies/install-spike.rhai",
        "  SPIKE_FACTOR = 3.0",
        "  MIN_RECENT = 10",
        "severity: medium to high (in the test cases)",
        "policies/routing.rhai → queue `sam-team`",
        "options: investigate, uninstall",
        "fires  policies/tests/install-spike.yaml:5:",
        "quiet  policies/tests/install-spike.yaml:60: 9 recent installs are under the minimum",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    let none = trueup(&root(), &["explain", "no-such-rule"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("its rules are: approaching-limit"));
}

#[test]
fn explain_a_finding_shows_evidence_position_route_and_waivers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("waivers.yaml"),
        "waivers:\n  - { rule: overuse, subject: \"nw-*\", reason: old deal, approved_by: j.doe, expires: 2026-06-30 }\n  - { rule: overuse, subject: ct-*, reason: other, approved_by: j.doe, expires: 2027-06-30 }\n",
    )
    .unwrap();
    let waivers = dir.path().join("waivers.yaml");
    let out = trueup(
        &root(),
        &[
            "explain",
            "--finding",
            "overuse:product:nw-cad",
            "examples/acme.yaml",
            "--waivers",
            waivers.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8_lossy(&out.stdout);
    for want in [
        "overuse:product:nw-cad in examples/acme.yaml (as of 2026-11-01)",
        "about: product nw-cad, examples/acme.yaml:18",
        "  shortfall: 12",
        "  device: entitled 80, consumed 92, shortfall 12, surplus 0, utilization 115.0%",
        // The lapsed waiver makes this a repeat: firmer, faster escalation.
        "  pattern: repeat",
        "chosen by policies/routing.rhai: queue `sam-team`, owner sam-manager",
        "after 2d: escalate to procurement on 2026-11-03",
        "purchase: metric device, quantity 12",
        ":2: rule `overuse` subject `nw-*`: matches, but expired on 2026-06-30",
        ":3: rule `overuse` subject `ct-*`: rule matches, subject `ct-*` does not",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    let missing = trueup(
        &root(),
        &[
            "explain",
            "--finding",
            "overuse:product:nope",
            "examples/acme.yaml",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
}

/// `trueup test` refuses a playbook with no case, so the synonym test gives it one.
const QUIET_CASE: &str = "cases:\n  - note: the rule stays quiet\n    inventory:\n      trueup: 1\n      snapshot: { id: t-1, taken_at: 2026-11-01 }\n    absent: [a]\n";

const BROKEN: &str = "fn check(inv) {\n    let x = ;\n}\n";
const UNTITLED: &str = "fn check(inv) { [] }\n";

#[test]
fn lint_takes_the_playbook_as_p_or_as_dir_but_not_two_different_ones() {
    let dir = playbook(&[("a.rhai", GOOD), ("tests/a.yaml", QUIET_CASE)]);
    std::fs::create_dir_all(dir.path().join("other")).unwrap();
    for args in [
        &["lint", "-p", "policies"][..],
        &["lint", "--policies", "policies"],
        &["lint", "policies"],
        &["lint", "./policies/", "-p", "policies"],
        &["test", "-p", "policies"],
        &["test", "policies", "--policies", "policies"],
    ] {
        let out = trueup(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "`trueup {}`", args.join(" "));
    }
    for command in ["lint", "test"] {
        let out = trueup(dir.path(), &[command, "policies", "-p", "other"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("the playbook is given twice, as `policies` and as `-p other`"),
            "{err}"
        );
    }
    // The hint a missing folder prints is true for every command that prints it.
    let empty = tempfile::tempdir().unwrap();
    for command in ["lint", "test", "explain"] {
        let mut args = vec![command];
        if command == "explain" {
            args.push("over");
        }
        let out = trueup(empty.path(), &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("(pass `-p DIR`)"), "`trueup {command}`: {err}");
        args.extend(["-p", "."]);
        let out = trueup(empty.path(), &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("unexpected argument"),
            "`trueup {}` takes `-p`: {err}",
            args.join(" ")
        );
    }
}

#[test]
fn lint_json_gives_status_and_every_diagnostic_with_its_place() {
    let dir = playbook(&[("a.rhai", UNTITLED)]);
    let out = trueup(dir.path(), &["lint", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "failing");
    assert_eq!(doc["summary"]["errors"], 2);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["file"], "policies/a.rhai");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(1), Some(1))
    );

    // Text with -o goes to the file, and stderr says where.
    let out = trueup(dir.path(), &["lint", "-o", "lint.txt"]);
    assert_eq!(out.status.code(), Some(1));
    let written = std::fs::read_to_string(dir.path().join("lint.txt")).unwrap();
    assert!(
        written.contains("error: policies/a.rhai:1:1: rule `a` has no `TITLE`"),
        "{written}"
    );
    assert!(
        written.ends_with("policies: 2 errors, 0 warnings\n"),
        "{written}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wrote 2 errors, 0 warnings to lint.txt: failing\n"
    );

    let broken = playbook(&[("a.rhai", BROKEN)]);
    let out = trueup(broken.path(), &["lint", "-f", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "error");
}

#[test]
fn lint_sarif_and_github_annotate_each_diagnostic_at_file_line_col() {
    let dir = playbook(&[("a.rhai", BROKEN), ("b.rhai", GOOD)]);
    let out = trueup(dir.path(), &["lint", "-f", "github"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("::error file=policies/a.rhai,line=2,col=13::syntax error")),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("::error title=trueup lint::trueup lint: the run could not be trusted"),
        "{last}"
    );

    let out = trueup(dir.path(), &["lint", "-f", "sarif", "-o", "lint.sarif"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("lint.sarif")).unwrap()).unwrap();
    let run = &doc["runs"][0];
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "lint/error");
    assert_eq!(result["level"], "error");
    let region = &result["locations"][0]["physicalLocation"];
    assert_eq!(region["artifactLocation"]["uri"], "policies/a.rhai");
    assert_eq!(region["region"]["startLine"], 2);
    assert_eq!(region["region"]["startColumn"], 13);
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert_eq!(
        invocation["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"]["region"]
            ["startLine"],
        2
    );

    let clean = playbook(&[("a.rhai", GOOD)]);
    let out = trueup(clean.path(), &["lint", "-f", "sarif"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
    assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));
}

/// Regression: an unknown `--finding` id printed every id of the snapshot,
/// which on a real estate buries the one that was meant.
#[test]
fn an_unknown_finding_suggests_the_nearest_ids_only() {
    let out = trueup(
        &root(),
        &[
            "explain",
            "--finding",
            "overuse:product:nw-cat",
            "examples/acme.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no finding `overuse:product:nw-cat` in `examples/acme.yaml`; nearest of its 24: `overuse:product:nw-cad`, "),
        "{err}"
    );
    let named = err.matches(":product:").count();
    assert!(
        (2..=5).contains(&(named - 1)),
        "a handful of suggestions, not all 20: {err}"
    );
    assert!(!err.contains("shelfware"), "{err}");
}

#[test]
fn explain_json_for_a_rule_and_for_a_finding() {
    let out = trueup(&root(), &["explain", "install-spike", "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rule = &doc["rule"];
    assert_eq!(rule["id"], "install-spike");
    assert_eq!(rule["policy"], "policies/install-spike.rhai");
    assert!(rule["thresholds"]
        .as_object()
        .is_some_and(|t| !t.is_empty()));
    assert!(!rule["tests"]["fires"].as_array().unwrap().is_empty());
    assert_eq!(rule["remediation"]["defined"], true);

    let out = trueup(
        &root(),
        &[
            "explain",
            "--finding",
            "overuse:product:nw-cad",
            "examples/acme.yaml",
            "-f",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["finding"]["id"], "overuse:product:nw-cad");
    assert_eq!(doc["inputs"]["snapshot"]["path"], "examples/acme.yaml");
    assert_eq!(doc["positions"][0]["metric"], "device");
    assert_eq!(doc["positions"][0]["shortfall"], 12);
    assert_eq!(doc["finding"]["route"]["queue"], "sam-team");
}

/// Regression: `explain --finding` listed a waived finding's notice and
/// escalation dates as if they were due, where `check` says nothing is.
#[test]
fn explaining_a_waived_finding_shows_no_due_dates() {
    let dir = tempfile::tempdir().unwrap();
    let waivers = dir.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        "waivers:\n  - rule: overuse\n    subject: nw-cad\n    reason: true-up agreed\n    approved_by: j.doe\n    expires: 2027-01-31\n",
    )
    .unwrap();
    let args = [
        "explain",
        "--finding",
        "overuse:product:nw-cad",
        "examples/acme.yaml",
        "--waivers",
        waivers.to_str().unwrap(),
    ];
    let out = trueup(&root(), &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("waived until 2027-01-31: no notice or escalation due"),
        "{text}"
    );
    assert!(
        !text.contains("notify within") && !text.contains("escalate to"),
        "{text}"
    );
    let unwaived = trueup(
        &root(),
        &[
            "explain",
            "--finding",
            "overuse:product:nw-cad",
            "examples/acme.yaml",
        ],
    );
    assert!(String::from_utf8_lossy(&unwaived.stdout).contains("escalate to"));
}
