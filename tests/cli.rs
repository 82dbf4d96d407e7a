//! `trueup check`, `position` and `test` run as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trueup(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trueup"))
        .current_dir(dir)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("trueup runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch folder holding a copy of a small snapshot and a playbook.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(s.path().join("policies")).unwrap();
        s.write("inv.yaml", SNAPSHOT);
        s
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, body: &str) -> &Self {
        let p = self.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
        self
    }

    fn run(&self, args: &[&str]) -> Output {
        trueup(self.path(), args)
    }
}

const SNAPSHOT: &str = "trueup: 1
snapshot: { id: small, taken_at: 2026-11-01 }
products:
  - { id: cad, name: CAD, publisher: Acme, risk_tier: high }
contracts:
  - { id: C1, publisher: Acme, status: active, audit_notice_days: 30 }
entitlements:
  - { id: E1, contract: C1, product: cad, metric: device, quantity: 1 }
devices:
  - { id: ws-1, environment: prod, cores: 4 }
  - { id: ws-2, environment: prod, cores: 4 }
installations:
  - { device: ws-1, product: cad, installed_on: 2026-10-01 }
  - { device: ws-2, product: cad, installed_on: 2026-10-02 }
";

const OVER_RULE: &str = r#"
const ID = "over";
const TITLE = "Over";
const DESCRIPTION = "Consumption above entitlement.";
fn check(inv) {
    let out = [];
    for row in inv.positions() {
        if row.shortfall > 0 {
            out.push(finding(#{
                subject: #{ kind: "product", id: row.product },
                severity: "high",
                message: `${row.product} is over by ${row.shortfall}`,
                evidence: #{ shortfall: row.shortfall },
            }));
        }
    }
    out
}
"#;

#[test]
fn check_on_the_shipped_example_reports_findings_and_exits_1() {
    let out = trueup(&root(), &["check", "examples/acme.yaml"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for rule in [
        "overuse",
        "unlicensed",
        "terminated-contract-use",
        "approaching-limit",
        "install-spike",
        "undisclosed-deployment",
        "maintenance-expiring",
        "shelfware",
        "stale-inventory",
        "incomplete-position",
    ] {
        assert!(
            stdout.contains(&format!("  {rule} ")),
            "rule `{rule}` did not fire:\n{stdout}"
        );
    }
    assert!(stdout.contains("route: "), "routes are shown");
    assert!(stdout.contains("fix: "), "remediation is shown");
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn json_output_carries_every_field() {
    let out = trueup(&root(), &["check", "examples/acme.yaml", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    for key in ["version", "inputs", "findings", "summary", "errors"] {
        assert!(doc.get(key).is_some(), "missing `{key}`");
    }
    let snap = &doc["inputs"]["snapshots"][0];
    assert_eq!(snap["path"], "examples/acme.yaml");
    assert_eq!(snap["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(snap["as_of"], "2026-11-01");
    assert_eq!(
        doc["inputs"]["policies_digest"].as_str().map(str::len),
        Some(64)
    );
    let findings = doc["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for f in findings {
        for key in [
            "id",
            "rule",
            "policy",
            "severity",
            "subject",
            "message",
            "evidence",
            "route",
            "remediation",
            "waiver",
            "location",
        ] {
            assert!(f.get(key).is_some(), "finding lacks `{key}`: {f}");
        }
        let id = format!(
            "{}:{}:{}",
            f["rule"].as_str().unwrap(),
            f["subject"]["kind"].as_str().unwrap(),
            f["subject"]["id"].as_str().unwrap()
        );
        assert_eq!(f["id"], id.as_str());
        assert!(f["route"]["queue"].is_string());
    }
    let total: u64 = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|s| doc["summary"][s].as_u64().unwrap())
        .sum();
    assert_eq!(
        total + doc["summary"]["waived"].as_u64().unwrap(),
        findings.len() as u64
    );
}

#[test]
fn output_is_byte_for_byte_deterministic() {
    let a = trueup(&root(), &["check", "examples/acme.yaml", "-f", "json"]);
    let b = trueup(&root(), &["check", "examples/acme.yaml", "-f", "json"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn fail_on_sets_the_threshold() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    assert_eq!(s.run(&["check", "inv.yaml"]).status.code(), Some(1));
    assert_eq!(
        s.run(&["check", "inv.yaml", "--fail-on", "critical"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        s.run(&["check", "inv.yaml", "--fail-on", "never"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        s.run(&["check", "inv.yaml", "--fail-on", "loud"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn as_of_overrides_the_snapshot_date() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    let out = s.run(&["check", "inv.yaml", "--as-of", "2026-12-25", "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["inputs"]["snapshots"][0]["as_of"], "2026-12-25");
    assert_eq!(
        s.run(&["check", "inv.yaml", "--as-of", "2026-13-01"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn output_file_is_written_and_globs_expand() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write("snaps/a.yaml", SNAPSHOT)
        .write("snaps/b.yaml", &SNAPSHOT.replace("id: small", "id: other"));
    let out = s.run(&["check", "snaps/*.yaml", "-f", "json", "-o", "report.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path().join("report.json")).unwrap()).unwrap();
    let paths: Vec<&str> = doc["inputs"]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["snaps/a.yaml", "snaps/b.yaml"]);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 2);
    let none = s.run(&["check", "nothing/*.yaml"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none.stderr).contains("matches no file"));
}

#[test]
fn output_to_a_pipe_or_a_link_writes_through_and_replaces_nothing() {
    use std::os::unix::fs::FileTypeExt;
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write("snap.yaml", SNAPSHOT);
    // A named pipe, as `-o /dev/stdout` or a process substitution gives:
    // written to, never renamed over.
    let fifo = s.path().join("pipe");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // Held open for reading and writing, so trueup's open never blocks and
    // a broken trueup fails the assertions instead of hanging the test.
    let mut pipe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("open the pipe");
    let out = s.run(&["check", "snap.yaml", "-f", "json", "-o", "pipe"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the pipe was replaced by a file");
    let mut buf = vec![0; 1 << 16];
    let n = std::io::Read::read(&mut pipe, &mut buf).expect("read the pipe");
    let got = String::from_utf8_lossy(&buf[..n]);
    assert!(got.contains("\"findings\""), "{got}");
    // A link to a report stays a link; the report it points at is replaced.
    s.write("reports/latest.json", "old");
    std::os::unix::fs::symlink("reports/latest.json", s.path().join("report.json")).unwrap();
    let out = s.run(&["check", "snap.yaml", "-f", "json", "-o", "report.json"]);
    assert_eq!(out.status.code(), Some(1));
    let link = s.path().join("report.json");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let report = std::fs::read_to_string(s.path().join("reports/latest.json")).unwrap();
    assert!(report.contains("\"findings\""), "{report}");
}

#[test]
fn findings_point_at_the_snapshot_line() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    let out = s.run(&["check", "inv.yaml", "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["findings"][0]["location"]["line"], 4,
        "the product `cad` is on line 4"
    );
}

#[test]
fn position_prints_a_table_and_json() {
    let s = Scratch::new();
    let out = s.run(&["position", "inv.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out.stdout);
    assert!(t.contains("cad") && t.contains("200.0%"), "{t}");
    let out = s.run(&["position", "inv.yaml", "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &doc["positions"][0];
    assert_eq!(row["entitled"], 1);
    assert_eq!(row["consumed"], 2);
    assert_eq!(row["shortfall"], 1);
    assert_eq!(row["surplus"], 0);
    assert_eq!(row["utilization"], 2.0);
    assert_eq!(row["incomplete"], false);
}

#[test]
fn position_json_has_the_same_wrapper_as_check_json() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    let pos: serde_json::Value =
        serde_json::from_slice(&s.run(&["position", "inv.yaml", "-f", "json"]).stdout).unwrap();
    let check: serde_json::Value =
        serde_json::from_slice(&s.run(&["check", "inv.yaml", "-f", "json"]).stdout).unwrap();
    assert_eq!(pos["version"], check["version"]);
    assert_eq!(pos["trueup"], check["trueup"]);
    assert_eq!(pos["status"], "passing");
    let (p, c) = (
        &pos["inputs"]["snapshots"][0],
        &check["inputs"]["snapshots"][0],
    );
    for key in ["path", "sha256", "id", "as_of"] {
        assert_eq!(p[key], c[key], "inputs.snapshots[0].{key}");
    }
    assert!(pos["errors"].as_array().unwrap().is_empty());

    // One bad snapshot: exit 2, and the JSON says so beside what did load.
    s.write(
        "bad.yaml",
        "trueup: 1\nsnapshot: { id: x, taken_at: 2026-13-01 }\n",
    );
    let out = s.run(&["position", "inv.yaml", "bad.yaml", "-f", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "error");
    assert_eq!(doc["errors"][0]["file"], "bad.yaml");
    assert_eq!(doc["positions"][0]["product"], "cad");
}

#[test]
fn a_script_error_names_file_line_rule_and_shows_the_line() {
    let s = Scratch::new();
    s.write(
        "policies/broken.rhai",
        "const TITLE = \"x\";\nfn helper(e) {\n    e.seats\n}\nfn check(inv) {\n    [helper(inv.entitlements[0])]\n}\n",
    );
    let out = s.run(&["check", "inv.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "policies/broken.rhai:3:7: while evaluating rule `broken`: property `seats` not found"
        ),
        "{err}"
    );
    assert!(err.contains("3 |     e.seats"), "{err}");
    assert!(err.contains("in call to `helper` at line 6"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn a_runaway_script_stops_with_a_clear_error() {
    let s = Scratch::new();
    s.write(
        "policies/spin.rhai",
        "fn check(inv) {\n    let n = 0;\n    loop { n += 1; }\n}\n",
    );
    let out = s.run(&["check", "inv.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("policies/spin.rhai:1:1: while evaluating rule `spin`: stopped after 1,000,000 operations"), "{err}");
    assert!(err.contains("does it loop forever?"), "{err}");
}

#[test]
fn a_syntax_error_is_reported_for_every_broken_script() {
    let s = Scratch::new();
    s.write("policies/a.rhai", "fn check(inv) {\n    let x = ;\n}\n");
    s.write("policies/b.rhai", "fn check(inv) {\n    undefined_var\n}\n");
    let out = s.run(&["check", "inv.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("policies/a.rhai:2:"), "{err}");
    assert!(
        err.contains("policies/b.rhai:2:5: syntax error: variable `undefined_var` is not defined"),
        "{err}"
    );
}

#[test]
fn bad_findings_are_errors_at_the_call() {
    let s = Scratch::new();
    s.write(
        "policies/bad.rhai",
        "fn check(inv) {\n    [finding(#{ subject: #{ kind: \"product\", id: \"cad\" }, severity: \"severe\", message: \"m\" })]\n}\n",
    );
    let out = s.run(&["check", "inv.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("policies/bad.rhai:2:6:"), "{err}");
    assert!(
        err.contains("severity must be one of info, low, medium, high, critical, found `severe`"),
        "{err}"
    );
}

#[test]
fn routers_run_in_path_order_and_the_first_answer_wins() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    // 10-pass answers nothing; 20-first answers; 30-never is shadowed.
    s.write("policies/routing/10-pass.rhai", "fn route(f) { () }\n");
    s.write(
        "policies/routing/20-first.rhai",
        "fn route(f) {\n    if f.rule == \"over\" { #{ queue: \"first\", owner: \"ann\", notify_within: \"36h\", escalate: [#{ after: \"3d\", to: \"procurement\" }, #{ after: \"2w\", to: \"cio\" }] } }\n}\n",
    );
    s.write(
        "policies/routing/30-never.rhai",
        "fn route(f) { #{ queue: \"never\" } }\n",
    );
    let out = s.run(&["check", "inv.yaml", "-f", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let route = &doc["findings"][0]["route"];
    assert_eq!(route["queue"], "first");
    assert_eq!(route["owner"], "ann");
    assert_eq!(route["router"], "policies/routing/20-first.rhai");
    assert_eq!(
        route["notify_by"], "2026-11-03",
        "36h from 2026-11-01 rounds up to two days"
    );
    assert_eq!(route["escalate"][0]["on"], "2026-11-04");
    assert_eq!(route["escalate"][0]["to"], "procurement");
    assert_eq!(route["escalate"][1]["on"], "2026-11-15");
}

#[test]
fn a_finding_no_router_answers_is_unrouted_and_the_run_says_so() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    let out = s.run(&["check", "inv.yaml"]);
    let t = text(&out.stdout);
    assert!(t.contains("route: unrouted"), "{t}");
    assert!(t.contains("1 finding(s) matched no router"), "{t}");
}

#[test]
fn a_malformed_route_names_the_router_and_line() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    for (answer, message) in [
        ("#{ queu: \"x\" }", "unknown key `queu`"),
        ("#{ queue: \"x\", notify_within: \"soon\" }", "not a duration"),
        ("#{ queue: \"x\", escalate: [#{ after: \"1w\", to: \"a\" }, #{ after: \"2d\", to: \"b\" }] }", "out of order"),
        // Regression: escalated a week before the two-week notice was due.
        ("#{ queue: \"x\", notify_within: \"2w\", escalate: [#{ after: \"1w\", to: \"a\" }] }", "escalation to `a` after `1w` falls before the notice is due"),
    ] {
        s.write("policies/route.rhai", &format!("// routing\n\nfn route(f) {{\n    {answer}\n}}\n"));
        let out = s.run(&["check", "inv.yaml"]);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(err.contains("policies/route.rhai:3:1: while routing `over:product:cad`"), "{err}");
        assert!(err.contains(message), "{err}");
    }
}

#[test]
fn waivers_waive_expire_and_go_unused() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write(
        "waivers.yaml",
        "waivers:
  - { rule: \"ov*\", subject: \"c?d\", reason: Q1 true-up, approved_by: j.doe, ticket: SAM-1, expires: 2026-12-31 }
  - { rule: over, subject: cad, reason: old, approved_by: j.doe, expires: 2026-01-31 }
  - { rule: unlicensed, reason: nothing, approved_by: j.doe, expires: 2027-01-31 }
",
    );
    // Default location: waivers.yaml beside the policies folder.
    let out = s.run(&["check", "inv.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a waived finding does not fail the run"
    );
    let t = text(&out.stdout);
    assert!(t.contains("[waived]"), "{t}");
    assert!(
        t.contains("waived: Q1 true-up (approved by j.doe, SAM-1, expires 2026-12-31)"),
        "{t}"
    );
    assert!(t.contains("waiver expired: waivers.yaml:3"), "{t}");
    assert!(t.contains("waiver unused: waivers.yaml:4"), "{t}");
    // After the first waiver expires, the expired one is what the finding carries.
    let out = s.run(&["check", "inv.yaml", "--as-of", "2027-01-05", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["findings"][0]["waiver"]["state"], "expired");
    assert_eq!(
        doc["inputs"]["snapshots"][0]["waivers"]["expired"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // --waivers points elsewhere.
    s.write("none.yaml", "waivers: []\n");
    assert_eq!(
        s.run(&["check", "inv.yaml", "--waivers", "none.yaml"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        s.run(&["check", "inv.yaml", "--waivers", "missing.yaml"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn invalid_waivers_exit_2_with_file_and_line() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write(
        "waivers.yaml",
        "waivers:
  - { rule: over, reason: r, expires: 2027-01-31 }
  - { rule: over, reason: r, approved_by: a }
  - { rule: \"[over\", reason: r, approved_by: a, expires: 2027-01-31 }
  - { rule: over, reason: r, approved_by: a, expires: 2027-01-31, by: me }
",
    );
    let out = s.run(&["check", "inv.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("waivers.yaml:2:5: waiver is missing required field `approved_by`"),
        "{err}"
    );
    assert!(
        err.contains("waivers.yaml:3:5: waiver is missing required field `expires`"),
        "{err}"
    );
    assert!(
        err.contains("waivers.yaml:4:") && err.contains("is not a valid glob"),
        "{err}"
    );
    assert!(
        err.contains("waivers.yaml:5:") && err.contains("unknown field `by`"),
        "{err}"
    );
}

#[test]
fn the_shipped_playbook_passes_its_own_tests_with_full_coverage() {
    let out = trueup(&root(), &["test", "--coverage-min", "100"]);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}{}", text(&out.stderr));
    assert!(t.contains(" passed, 0 failed"), "{t}");
    assert!(t.contains("coverage: 100.0%"), "{t}");
}

#[test]
fn a_failing_case_shows_want_and_got_and_exits_1() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write(
        "policies/tests/over.yaml",
        "cases:
  - note: fires high
    snapshot: ../../inv.yaml
    want:
      - { rule: over, subject: cad, severity: high }
  - note: wrongly wants critical
    snapshot: ../../inv.yaml
    want:
      - { rule: over, subject: cad, severity: critical }
  - note: wrongly wants it absent
    snapshot: ../../inv.yaml
    absent: [over]
",
    );
    let out = s.run(&["test"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out.stdout);
    assert!(t.contains("ok    line 2: fires high"), "{t}");
    assert!(t.contains("FAIL  line 6: wrongly wants critical"), "{t}");
    assert!(
        t.contains("severity:\n            want: critical\n            got:  high"),
        "{t}"
    );
    assert!(t.contains("want: no `over` finding"), "{t}");
    assert!(t.contains("1 passed, 2 failed"), "{t}");
    let only = s.run(&["test", "--run", "fires"]);
    assert_eq!(only.status.code(), Some(0));
    let junit = s.run(&["test", "-f", "junit"]);
    let x = text(&junit.stdout);
    assert!(
        x.contains("<testsuites name=\"trueup\" tests=\"3\" failures=\"2\""),
        "{x}"
    );
}

#[test]
fn test_json_gives_status_cases_and_summary() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write(
        "policies/tests/over.yaml",
        "cases:
  - note: fires high
    snapshot: ../../inv.yaml
    want:
      - { rule: over, subject: cad, severity: high }
  - note: wrongly wants critical
    snapshot: ../../inv.yaml
    want:
      - { rule: over, subject: cad, severity: critical }
",
    );
    let out = s.run(&["test", "-p", "policies", "-f", "json", "--coverage"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "failing");
    assert_eq!(
        doc["summary"],
        serde_json::json!({ "passed": 1, "failed": 1 })
    );
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases[0]["passed"], true);
    assert_eq!(cases[1]["line"], 6);
    assert!(cases[1]["failures"][0]
        .as_str()
        .unwrap()
        .contains("critical"));
    assert_eq!(doc["coverage"]["percent"], 100.0);

    let only = s.run(&["test", "-f", "json", "--run", "fires"]);
    assert_eq!(only.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&only.stdout).unwrap();
    assert_eq!(doc["status"], "passing");
}

/// Regression: a case file that did not load (or a script that errored)
/// left `test -f json` and `-f junit` with no report at all, or one that
/// read as green, beside exit code 2.
#[test]
fn test_reports_of_an_untrusted_run_say_error() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write(
        "policies/tests/bad.yaml",
        "cases:\n  - note: x\n    wnat: []\n",
    );
    let out = s.run(&["test", "-f", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "error");
    assert_eq!(doc["errors"][0]["file"], "policies/tests/bad.yaml");
    let out = s.run(&["test", "-f", "junit"]);
    assert_eq!(out.status.code(), Some(2));
    let x = text(&out.stdout);
    let top = x.lines().nth(1).unwrap_or_default();
    assert!(
        top.contains("errors=\"") && !top.contains("errors=\"0\""),
        "{x}"
    );
    assert!(
        x.contains("<error message=\"error: policies/tests/bad.yaml:"),
        "{x}"
    );
}

/// A rule that errors at run time makes the check untrusted: exit 2, and no
/// format says passing.
#[test]
fn a_run_time_script_error_is_an_error_status_in_every_format() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write(
        "policies/boom.rhai",
        "const TITLE = \"b\";\nconst DESCRIPTION = \"b\";\nfn check(inv) {\n    let x = inv.products[99];\n    []\n}\n",
    );
    for format in ["text", "json", "sarif", "junit", "github", "markdown"] {
        let out = s.run(&["check", "inv.yaml", "-f", format, "--fail-on", "never"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "-f {format}: {}",
            text(&out.stderr)
        );
        let t = text(&out.stdout).to_lowercase();
        assert!(!t.contains("passing"), "-f {format}:\n{t}");
        assert!(
            t.contains("could not be trusted")
                || t.contains("\"status\": \"error\"")
                || t.contains("\"executionsuccessful\": false")
                || t.contains("<error "),
            "-f {format} says the run is untrusted:\n{t}"
        );
    }
}

/// Progress is drawn only on a terminal: run as tests and CI run it, with
/// stderr a pipe, a clean check prints nothing at all on stderr, and with
/// `-o` exactly the one line that says what was written where.
#[test]
fn without_a_terminal_stderr_gets_no_progress_and_o_gets_one_summary_line() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    let out = s.run(&["check", "inv.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "", "nothing but diagnostics on stderr");

    let out = s.run(&["check", "inv.yaml", "-o", "report.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "wrote 1 finding (1 high) to report.txt: failing\n"
    );
    let out = s.run(&[
        "check",
        "inv.yaml",
        "-o",
        "report.json",
        "-f",
        "json",
        "--fail-on",
        "never",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stderr),
        "wrote 1 finding (1 high) to report.json: passing\n"
    );

    // An untrusted run says so in the same line, after its diagnostics.
    s.write(
        "bad.yaml",
        "trueup: 1\nsnapshot: { id: x, taken_at: 2026-13-01 }\n",
    );
    let out = s.run(&["check", "inv.yaml", "bad.yaml", "-o", "report.txt"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.ends_with("wrote 1 finding (1 high), 1 error to report.txt: error\n"),
        "{err}"
    );

    let out = s.run(&["position", "inv.yaml", "-o", "pos.txt"]);
    assert_eq!(
        text(&out.stderr),
        "wrote 1 position row to pos.txt: passing\n"
    );
}

#[test]
fn simulate_without_a_terminal_prints_no_progress_and_o_sums_up() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    s.write(
        "s.yaml",
        "name: n\nsnapshot: inv.yaml\nstart: 2026-11-01\nuntil: 2026-11-30\nevents:\n  - { on: 2026-11-03, install: { product: cad, count: 2, environment: prod } }\nexpect:\n  - { rule: over, subject: cad, open: true }\n",
    );
    let out = s.run(&["simulate", "s.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let out = s.run(&["simulate", "s.yaml", "-o", "sim.md", "-f", "markdown"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stderr),
        "wrote 1 scenario (1 of 1 expectation met) to sim.md: passing\n"
    );
}

/// Regression: a missing `--base-policies` folder printed the loader's hint
/// `pass -p DIR`, but `-p` is the other playbook.
#[test]
fn a_missing_base_playbook_names_its_own_flag() {
    let s = Scratch::new();
    s.write("policies/over.rhai", OVER_RULE);
    let out = s.run(&["diff", "--base-policies", "old", "inv.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("`--base-policies old`: folder not found"),
        "{err}"
    );
    assert!(!err.contains("pass `-p DIR`"), "{err}");
}

/// `position --explain`: each consumer's pool and why, through `covers`,
/// as an auditor would ask for it.
#[test]
fn position_explain_names_the_pool_of_each_consumer() {
    let s = Scratch::new();
    s.write(
        "db.yaml",
        "trueup: 1
snapshot: { id: db, taken_at: 2026-11-01 }
products:
  - { id: db-ee, covers: [db-se] }
  - { id: db-se }
contracts: [{ id: EA-1, exempt_environments: [dev] }]
entitlements:
  - { id: ENT-EE, contract: EA-1, product: db-ee, metric: device, quantity: 2 }
  - { id: ENT-SE, contract: EA-1, product: db-se, metric: device, quantity: 1 }
devices:
  - { id: ee-1 }
  - { id: se-1 }
  - { id: se-2 }
  - { id: se-3 }
  - { id: se-dev, environment: dev }
installations:
  - { device: ee-1, product: db-ee }
  - { device: se-3, product: db-se }
  - { device: se-2, product: db-se }
  - { device: se-1, product: db-se }
  - { device: se-dev, product: db-se }
",
    );
    let out = s.run(&["position", "--explain", "db-se", "-f", "json", "db.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let got: Vec<(String, String, String)> = doc["consumers"]
        .as_array()
        .expect("consumers")
        .iter()
        .map(|c| {
            (
                c["consumer"].as_str().unwrap().to_string(),
                c["pool"].as_str().unwrap_or("-").to_string(),
                c["basis"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // se-1 takes db-se's own licence (id order); db-ee's second licence,
    // after ee-1, covers se-2; se-3 fits nowhere and is charged to db-se's
    // pool; se-dev is exempt under EA-1.
    let want = [
        ("se-1", "ENT-SE", "allocated"),
        ("se-2", "ENT-EE", "covers"),
        ("se-3", "ENT-SE", "shortfall"),
        ("se-dev", "ENT-SE", "exempt"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    let rows: Vec<(&str, u64)> = doc["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["product"].as_str().unwrap(),
                r["consumed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("db-ee", 2), ("db-se", 2)]);

    let out = s.run(&["position", "--explain", "db-xe", "db.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("product `db-xe` is neither listed nor installed; did you mean `db-ee`?"),
        "{}",
        text(&out.stderr)
    );
}
