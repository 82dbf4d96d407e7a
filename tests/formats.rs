//! The CI output formats (`sarif`, `junit`, `github`, `markdown`) of `check`
//! and `diff`, as golden files.
//!
//! The fixture is `tests/golden/`: `base.yaml`, `head.yaml` (base plus five
//! installations), a small playbook in `policies/` and `waivers.yaml` (one
//! waiver in force, one expired). Each test runs the built binary from the
//! project root, so paths in the output are the relative ones a CI job sees,
//! and compares stdout byte for byte with `tests/golden/<command>.<format>`.
//!
//! After an intended change to a format, regenerate the golden files and
//! review their diff before committing:
//!
//! ```sh
//! TRUEUP_BLESS=1 cargo test --test formats
//! ```
//!
//! The SARIF output is also validated against the official SARIF 2.1.0
//! schema, vendored as `tests/schemas/sarif-schema-2.1.0.json` (provenance
//! and licence in `tests/schemas/README.md`).

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const FORMATS: [(&str, &str); 4] = [
    ("sarif", "sarif"),
    ("junit", "junit.xml"),
    ("github", "github.txt"),
    ("markdown", "md"),
];

const POLICIES: &str = "tests/golden/policies";
const BASE: &str = "tests/golden/base.yaml";
const HEAD: &str = "tests/golden/head.yaml";

fn check_args(format: &str) -> Vec<&str> {
    vec!["check", "-p", POLICIES, BASE, HEAD, "-f", format]
}

fn diff_args(format: &str) -> Vec<&str> {
    vec![
        "diff", "-p", POLICIES, "--base", BASE, "--head", HEAD, "-f", format,
    ]
}

/// Runs `trueup ARGS` from the project root, expecting exit code `code`.
fn run(args: &[&str], code: i32) -> String {
    let run = support::trueup(&root(), args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        run.code,
        Some(code),
        "`trueup {}`\n{}",
        args.join(" "),
        run.describe()
    );
    run.stdout
}

use support::golden;

fn assert_goldens(command: &str, args: fn(&str) -> Vec<&str>) {
    let mut failures = Vec::new();
    for (format, ext) in FORMATS {
        let out = run(&args(format), 1);
        if let Some(f) = golden(&format!("{command}.{ext}"), &out) {
            failures.push(f);
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nif the change is intended: TRUEUP_BLESS=1 cargo test --test formats, then review the diff",
        failures.join("\n\n")
    );
}

#[test]
fn check_formats_match_their_golden_files() {
    assert_goldens("check", check_args);
}

#[test]
fn diff_formats_match_their_golden_files() {
    assert_goldens("diff", diff_args);
}

const INVALID: &str = "tests/golden/invalid.yaml";

/// Every format of a run that exits 2, as golden files: one of two snapshots
/// does not load, and the other has findings that would fail the run.
/// Regression: an untrusted run used to print "passing" (or a green JUnit
/// report, or a successful SARIF invocation) beside its exit code 2.
#[test]
fn untrusted_runs_never_read_as_passing_in_any_format() {
    let mut failures = Vec::new();
    let all = FORMATS
        .iter()
        .copied()
        .chain([("json", "json"), ("text", "txt")]);
    for (format, ext) in all {
        let check = ["check", "-p", POLICIES, BASE, INVALID, "-f", format];
        let diff = [
            "diff", "-p", POLICIES, "--base", BASE, "--head", INVALID, "-f", format,
        ];
        for (name, args) in [("check", &check[..]), ("diff", &diff[..])] {
            let out = run(args, 2);
            assert!(
                !out.to_lowercase().contains("passing"),
                "`trueup {}` exits 2 but says passing:\n{out}",
                args.join(" ")
            );
            if let Some(f) = golden(&format!("{name}-untrusted.{ext}"), &out) {
                failures.push(f);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nif the change is intended: TRUEUP_BLESS=1 cargo test --test formats, then review the diff",
        failures.join("\n\n")
    );
}

#[test]
fn untrusted_runs_say_so_in_each_format() {
    let args = |format| vec!["check", "-p", POLICIES, BASE, INVALID, "-f", format];
    let json: Value = serde_json::from_str(&run(&args("json"), 2)).unwrap();
    assert_eq!(json["status"], "error");
    let passing: Value = serde_json::from_str(&run(
        &[
            "check",
            "-p",
            POLICIES,
            BASE,
            "-f",
            "json",
            "--fail-on",
            "never",
        ],
        0,
    ))
    .unwrap();
    assert_eq!(passing["status"], "passing");
    let failing: Value =
        serde_json::from_str(&run(&["check", "-p", POLICIES, HEAD, "-f", "json"], 1)).unwrap();
    assert_eq!(failing["status"], "failing");

    let github = run(&args("github"), 2);
    let last = github.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("::error ")
            && last.contains("::trueup check: the run could not be trusted"),
        "the last line is an error annotation: {last}"
    );

    let xml = run(&args("junit"), 2);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let top = doc.root_element();
    let errors = top
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .count();
    assert_eq!(errors, 1, "{xml}");
    assert_eq!(top.attribute("errors"), Some("1"));
    assert!(!xml.contains("<failure message=\"error:"), "{xml}");

    let md = run(&args("markdown"), 2);
    assert!(
        md.contains("**Error**: the run could not be trusted"),
        "{md}"
    );

    let sarif: Value = serde_json::from_str(&run(&args("sarif"), 2)).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let region = &invocation["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"];
    assert_eq!(region["artifactLocation"]["uri"], INVALID);
    assert_eq!(region["region"]["startLine"], 3);
}

/// The official schema, vendored under `tests/schemas/`.
fn sarif_validator() -> jsonschema::Validator {
    let path = root().join("tests/schemas/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the SARIF 2.1.0 schema at {}: {e}",
            path.display()
        )
    });
    let schema: Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, sarif: &str) -> Value {
    let doc: Value =
        serde_json::from_str(sarif).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );
    doc
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let validator = sarif_validator();
    let check = run(&check_args("sarif"), 1);
    let doc = assert_valid(&validator, "check -f sarif", &check);
    let run0 = &doc["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[index]["id"], r["ruleId"],
            "ruleIndex points at the rule"
        );
    }
    let waived: Vec<&Value> = results
        .iter()
        .filter(|r| r["properties"]["waiver"] == "waived")
        .collect();
    // The view waiver applies in both snapshots, the draw overuse waiver in one.
    assert_eq!(waived.len(), 3, "waived results: {waived:?}");
    for r in &waived {
        assert_eq!(r["suppressions"][0]["kind"], "external");
    }
    let over = rules.iter().find(|r| r["id"] == "over").unwrap();
    assert_eq!(
        over["shortDescription"]["text"],
        "Consumption above entitlement"
    );

    let diff = run(&diff_args("sarif"), 1);
    let doc = assert_valid(&validator, "diff -f sarif", &diff);
    let states: Vec<&str> = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["baselineState"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["new", "new", "updated"],
        "resolved findings are left out"
    );

    // The shipped example with the default playbook: every rule, real data.
    let acme = run(&["check", "examples/acme.yaml", "-f", "sarif"], 1);
    assert_valid(&validator, "check examples/acme.yaml -f sarif", &acme);

    // Lint diagnostics, and the untrusted runs of check and diff.
    let lint = run(&["lint", "-p", POLICIES, "-f", "sarif"], 1);
    assert_valid(&validator, "lint -f sarif", &lint);
    for args in [
        vec!["check", "-p", POLICIES, BASE, INVALID, "-f", "sarif"],
        vec![
            "diff", "-p", POLICIES, "--base", BASE, "--head", INVALID, "-f", "sarif",
        ],
    ] {
        let out = run(&args, 2);
        assert_valid(&validator, &args.join(" "), &out);
    }
}

#[test]
fn sarif_of_an_untrusted_run_is_valid_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad inventory.yaml");
    std::fs::write(
        &bad,
        "trueup: 1\nsnapshot: { id: x, taken_at: 2026-13-01 }\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let out = run(&["check", "-p", POLICIES, HEAD, bad, "-f", "sarif"], 2);
    let doc = assert_valid(&sarif_validator(), "check -f sarif with an error", &out);
    let invocation = &doc["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let note = &invocation["toolExecutionNotifications"][0];
    let uri = note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/bad%20inventory.yaml"),
        "an absolute path is a file URI: {uri}"
    );
}

#[test]
fn junit_parses_and_fails_only_rules_with_failing_findings() {
    for (args, failing) in [
        (check_args("junit"), vec!["over", "over"]),
        (diff_args("junit"), vec!["over"]),
    ] {
        let out = run(&args, 1);
        let xml = roxmltree::Document::parse(&out)
            .unwrap_or_else(|e| panic!("`trueup {}` is not XML: {e}\n{out}", args.join(" ")));
        let top = xml.root_element();
        assert_eq!(top.tag_name().name(), "testsuites");
        let cases: Vec<roxmltree::Node> = top
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(
            top.attribute("tests"),
            Some(cases.len().to_string().as_str())
        );
        let failed: Vec<&str> = cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
            .map(|c| c.attribute("name").unwrap())
            .collect();
        assert_eq!(failed, failing, "`trueup {}`", args.join(" "));
        for c in &cases {
            assert!(c
                .attribute("classname")
                .unwrap()
                .starts_with("tests/golden/"));
        }
    }
    let never = run(
        &[
            "check",
            "-p",
            POLICIES,
            HEAD,
            "-f",
            "junit",
            "--fail-on",
            "never",
        ],
        0,
    );
    assert!(!never.contains("<failure"), "--fail-on never fails nothing");
}

/// The 1-based line of the first line of `file` that contains `text`.
fn line_of(file: &Path, text: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("{} has no line with `{text}`", file.display()))
        + 1
}

#[test]
fn github_annotations_land_on_the_line_that_installs_on_an_unlisted_device() {
    let line = line_of(&root().join(HEAD), "device: lab-9");
    let out = run(&diff_args("github"), 1);
    let want = format!(
        "::warning file=tests/golden/head.yaml,line={line},title=unlisted-device (medium%2C new)::"
    );
    assert!(
        out.lines().any(|l| l.starts_with(&want)),
        "no `{want}` in:\n{out}"
    );
    assert!(
        !out.contains("near-limit"),
        "a diff annotates only new and changed findings:\n{out}"
    );

    // The same on the shipped example and the default playbook.
    let line = line_of(&root().join("examples/acme.yaml"), "device: lab-07");
    let out = run(&["check", "examples/acme.yaml", "-f", "github"], 1);
    let want = format!(
        "::error file=examples/acme.yaml,line={line},title=undisclosed-deployment (high)::"
    );
    assert!(
        out.lines().any(|l| l.starts_with(&want)),
        "no `{want}` in:\n{out}"
    );
}

/// Regression: a waived finding showed its notice and escalation dates as
/// if due; and the text report's header and severity groups counted waived
/// findings that the summary line left out.
#[test]
fn a_waived_finding_shows_its_waiver_not_due_dates_and_counts_agree() {
    let text = run(&["check", "-p", POLICIES, HEAD, "-f", "text"], 1);
    let github = run(&["check", "-p", POLICIES, HEAD, "-f", "github"], 1);
    let markdown = run(&["check", "-p", POLICIES, HEAD, "-f", "markdown"], 1);
    // The waived `over draw` finding: its text block, its annotation, its row.
    let text_block: String = text
        .lines()
        .skip_while(|l| !l.contains("over product draw"))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    let annotation = github
        .lines()
        .find(|l| l.contains("title=over (high%2C waived)"))
        .unwrap_or_default();
    let row = markdown
        .lines()
        .find(|l| l.contains("| `over` | product `draw` |"))
        .unwrap_or_default();
    for (format, shown) in [
        ("text", text_block.as_str()),
        ("github", annotation),
        ("markdown", row),
    ] {
        assert!(
            shown.contains("waived until 2026-12-15: no notice or escalation due"),
            "-f {format}:\n{shown}"
        );
        assert!(
            !shown.contains("notify by") && !shown.contains("escalate to"),
            "-f {format} shows a due date for a waived finding:\n{shown}"
        );
    }
    // Header: 4 findings (2 waived); groups and summary: the 2 others.
    assert!(text.contains("): 4 findings (2 waived)"), "{text}");
    assert!(text.contains("\nWAIVED (2)\n"), "{text}");
    assert!(
        !text.contains("\nHIGH ("),
        "the waived high finding is listed as waived:\n{text}"
    );
    assert!(
        text.contains("summary: 1 critical, 1 medium (2 waived)"),
        "{text}"
    );
}

/// Regression: a playbook diff's JSON named no playbook for either side, so
/// base and head read as the same; each side now names its own.
#[test]
fn a_playbook_diff_names_each_side_with_its_own_playbook() {
    let args = [
        "diff",
        "--base-policies",
        POLICIES,
        "-p",
        "policies",
        HEAD,
        "-f",
        "json",
        "--fail-on",
        "never",
    ];
    let doc: Value = serde_json::from_str(&run(&args, 0)).unwrap();
    assert_eq!(doc["inputs"]["base"]["policies"], POLICIES);
    assert_eq!(doc["inputs"]["head"]["policies"], "policies");
    assert_ne!(
        doc["inputs"]["base"]["policies_digest"],
        doc["inputs"]["head"]["policies_digest"]
    );
    assert_eq!(
        doc["diff"],
        format!("policies {POLICIES} → policies (on {HEAD})")
    );
    let text = run(&args[..6], 1);
    assert!(
        text.starts_with(&format!(
            "diff: policies {POLICIES} → policies (on {HEAD})\n"
        )),
        "{text}"
    );
    let data: Value = serde_json::from_str(&run(&diff_args("json"), 1)).unwrap();
    assert_eq!(data["inputs"]["base"]["policies"], POLICIES);
    assert_eq!(data["inputs"]["head"]["policies"], POLICIES);
    assert_eq!(data["inputs"]["base"]["snapshots"][0]["path"], BASE);
    assert_eq!(data["inputs"]["head"]["snapshots"][0]["path"], HEAD);
}

/// Regression: a playbook that did not compile (or waivers that did not
/// load) printed its errors to stderr and no report at all, so CI reading
/// SARIF, JUnit or JSON found no file to upload. Every format now reports
/// the untrusted run, and `-o` writes it.
#[test]
fn a_broken_playbook_still_gets_a_report_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for entry in std::fs::read_dir(root().join(POLICIES)).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "rhai") {
            std::fs::copy(&p, policies.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(policies.join("zz.rhai"), "fn check(inv) { let x = ; }\n").unwrap();
    let policies = policies.to_str().unwrap();
    let validator = sarif_validator();
    for (format, says) in [
        (
            "text",
            "no snapshot evaluated; 1 error: the run could not be trusted",
        ),
        ("json", "\"status\": \"error\""),
        ("junit", "errors=\"1\""),
        ("github", "the run could not be trusted"),
        ("markdown", "**Error**"),
        ("sarif", "\"executionSuccessful\": false"),
    ] {
        let out = run(&["check", "-p", policies, BASE, "-f", format], 2);
        assert!(out.contains(says), "-f {format}:\n{out}");
        assert!(
            !out.to_lowercase().contains("passing"),
            "-f {format}:\n{out}"
        );
        if format == "sarif" {
            let doc = assert_valid(&validator, "broken playbook", &out);
            let notes = &doc["runs"][0]["invocations"][0]["toolExecutionNotifications"];
            assert_eq!(notes.as_array().map(Vec::len), Some(1), "{doc:#}");
        }
    }
    let report = dir.path().join("r.sarif");
    let report_arg = report.to_str().unwrap();
    run(
        &[
            "check", "-p", policies, BASE, "-f", "sarif", "-o", report_arg,
        ],
        2,
    );
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("\"executionSuccessful\": false"));
}
