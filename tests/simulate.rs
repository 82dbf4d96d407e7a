//! `trueup simulate`, run as a user runs it: a hand-worked timeline, every
//! event kind, the errors a scenario can have, expectations, the shipped
//! scenarios, and the output formats.
//!
//! Most tests copy `tests/cases/simulate/small.yaml` and its small playbook
//! (`policies/`: `over`, `bare`, `unlisted` and one router) into a scratch
//! folder, write a scenario beside them and read the JSON report.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{trueup, Run};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cases() -> PathBuf {
    root().join("tests/cases/simulate")
}

/// Simulates the events on the small snapshot, checks the run passed, and
/// returns the scenario's JSON.
fn passing(events: &str) -> Value {
    let (run, sim) = Scratch::new().simulate(events, "");
    assert_eq!(run.code, Some(0), "{}", run.describe());
    sim
}

/// A scratch folder with the small snapshot and playbook.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::copy(cases().join("small.yaml"), s.path().join("small.yaml")).unwrap();
        std::fs::create_dir_all(s.path().join("policies")).unwrap();
        for e in std::fs::read_dir(cases().join("policies")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, s.path().join("policies").join(p.file_name().unwrap())).unwrap();
        }
        s
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, body: &str) -> &Self {
        std::fs::write(self.path().join(name), body).unwrap();
        self
    }

    fn run(&self, args: &[&str]) -> Run {
        trueup(self.path(), args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Simulates `s.yaml` (text report), for the errors.
    fn simulate_text(&self, events: &str) -> Run {
        self.write("s.yaml", &scenario(events, ""));
        self.run(&["simulate", "s.yaml"])
    }

    /// Simulates `s.yaml` with the given events (YAML list items) and
    /// expectations; returns the run and, when it printed one, the scenario's JSON.
    fn simulate(&self, events: &str, expect: &str) -> (Run, Value) {
        self.write("s.yaml", &scenario(events, expect));
        let run = self.run(&["simulate", "-f", "json", "s.yaml"]);
        let json: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
        let sim = json["scenarios"][0].clone();
        (run, sim)
    }
}

fn scenario(events: &str, expect: &str) -> String {
    let mut s = String::from(
        "name: test\nsnapshot: small.yaml\nstart: 2026-03-01\nuntil: 2026-03-31\nevents:\n",
    );
    s.push_str(events);
    if !expect.is_empty() {
        s.push_str("expect:\n");
        s.push_str(expect);
    }
    s
}

/// The finding summary with this id.
fn finding<'a>(sim: &'a Value, id: &str) -> &'a Value {
    sim["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["id"] == id))
        .unwrap_or_else(|| panic!("no finding `{id}` in {sim:#}"))
}

/// The timeline entries of one date, as `kind finding [detail]` lines.
fn entries(sim: &Value, date: &str) -> Vec<String> {
    sim["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["date"] == date)
        .flat_map(|s| s["entries"].as_array().unwrap().iter())
        .map(|e| {
            let detail = match e["kind"].as_str().unwrap() {
                "changed" => e["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        format!(
                            " {} {}->{}",
                            c["what"].as_str().unwrap(),
                            c["from"].as_str().unwrap(),
                            c["to"].as_str().unwrap()
                        )
                    })
                    .collect(),
                "escalated" => format!(
                    " {} due {}",
                    e["to"].as_str().unwrap(),
                    e["due"].as_str().unwrap()
                ),
                "notice" => format!(
                    " {} due {}",
                    e["queue"].as_str().unwrap(),
                    e["due"].as_str().unwrap()
                ),
                "opened" => format!(" {}", e["severity"].as_str().unwrap()),
                _ => String::new(),
            };
            format!(
                "{} {}{detail}",
                e["kind"].as_str().unwrap(),
                e["finding"].as_str().unwrap()
            )
        })
        .collect()
}

fn dates(sim: &Value) -> Vec<&str> {
    sim["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect()
}

fn event_touches(sim: &Value, i: usize) -> Vec<&str> {
    sim["events"][i]["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect()
}

// ----------------------------------------------------------------------
// The hand-worked timeline (tests/cases/simulate/hand-worked.yaml, where the
// dates are worked out in a comment).

#[test]
fn hand_worked_timeline_matches_every_date_worked_out_by_hand() {
    let run = trueup(
        &cases(),
        &[
            "simulate",
            "-p",
            "policies",
            "-f",
            "json",
            "hand-worked.yaml",
        ],
    )
    .unwrap();
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let sim = &doc["scenarios"][0];
    assert_eq!(
        dates(sim),
        [
            "2026-03-01",
            "2026-03-03",
            "2026-03-05",
            "2026-03-06",
            "2026-03-08",
            "2026-03-13",
            "2026-03-16"
        ]
    );
    let id = "over:product:cad";
    assert!(entries(sim, "2026-03-01").is_empty());
    assert_eq!(entries(sim, "2026-03-03"), [format!("opened {id} medium")]);
    assert_eq!(
        entries(sim, "2026-03-05"),
        [format!("notice {id} sam due 2026-03-05")]
    );
    assert_eq!(
        entries(sim, "2026-03-06"),
        [format!("escalated {id} team-lead due 2026-03-06")]
    );
    assert_eq!(
        entries(sim, "2026-03-08"),
        [format!("changed {id} severity medium->high")]
    );
    assert_eq!(
        entries(sim, "2026-03-13"),
        [format!("escalated {id} procurement due 2026-03-13")]
    );
    assert_eq!(entries(sim, "2026-03-16"), [format!("resolved {id}")]);

    let f = finding(sim, id);
    assert_eq!(f["opened"], "2026-03-03");
    assert_eq!(f["resolved"], "2026-03-16");
    assert_eq!(f["days_out"], 13);
    assert_eq!(f["peak_shortfall"], 6);
    assert_eq!(f["exposure"], 58);
    assert_eq!(f["peak_severity"], "high");
    assert_eq!(
        f["escalations"],
        serde_json::json!([
            { "to": "team-lead", "step": 1, "of": 2, "on": "2026-03-06" },
            { "to": "procurement", "step": 2, "of": 2, "on": "2026-03-13" },
        ])
    );
    assert_eq!(f["highest_escalation"]["to"], "procurement");
    assert_eq!(f["notices"][0]["on"], "2026-03-05");

    let summary = &sim["summary"];
    assert_eq!(summary["exposure"], 58);
    assert_eq!(summary["opened_during"]["exposure"], 58);
    assert_eq!(summary["highest_escalation"]["finding"], id);
    // The first install opened the finding the same day; the second only
    // made it worse, and the uninstall resolved it.
    assert_eq!(summary["events"][0]["days_to_first_finding"], 0);
    assert_eq!(summary["events"][0]["first_findings"][0]["id"], id);
    assert_eq!(summary["events"][1]["days_to_first_finding"], Value::Null);
    assert_eq!(summary["events"][2]["days_to_first_finding"], Value::Null);
    assert_eq!(sim["expectations"][0]["met"], true);
}

#[test]
fn text_report_reads_as_a_timeline() {
    let run = trueup(
        &cases(),
        &["simulate", "-p", "policies", "hand-worked.yaml"],
    )
    .unwrap();
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let t = &run.stdout;
    for want in [
        "2026-03-03\n  event      install cad on 3 new prod devices (sim-cad-0001, sim-cad-0002, sim-cad-0003) (line 28)",
        "  opened     medium over product cad: cad: 12 device in use, 10 entitled",
        "route: sam (analyst), notify by 2026-03-05; escalate to team-lead on 2026-03-06; escalate to procurement on 2026-03-13",
        "2026-03-06\n  escalated  over product cad: to team-lead (step 1 of 2)",
        "  changed    over product cad: severity medium → high",
        "  resolved   over product cad, after 13 days",
        "over product cad: opened 2026-03-03, resolved 2026-03-16 (13 days out of compliance); highest escalation procurement (step 2 of 2) on 2026-03-13; peak shortfall 6, exposure 58 licence-days",
        "2026-03-03 install (line 28) → over product cad opened the same day",
        "expectations: 1 of 1 met",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
}

// ----------------------------------------------------------------------
// One test per event kind.

#[test]
fn install_count_adds_listed_devices_with_distinct_deterministic_ids() {
    let s = Scratch::new();
    // `sim-cad-0002` is taken (as a user id here), so it is skipped.
    let snapshot = std::fs::read_to_string(s.path().join("small.yaml")).unwrap();
    s.write(
        "small.yaml",
        &format!("{snapshot}users:\n  - {{ id: sim-cad-0002 }}\n"),
    );
    let (run, sim) = s.simulate(
        "  - { on: 2026-03-03, install: { product: cad, count: 2, environment: prod } }\n  - { on: 2026-03-04, install: { product: db, count: 1, environment: prod, cores: 16 } }\n",
        "",
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(
        event_touches(&sim, 0),
        ["cad", "sim-cad-0001", "sim-cad-0003"]
    );
    // New devices are listed, so nothing is `unlisted`; their cores count.
    assert!(sim["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["rule"] != "unlisted"));
    let db = finding(&sim, "over:product:db");
    assert_eq!(db["opened"], "2026-03-04");
    assert_eq!(db["peak_shortfall"], 8, "8 + 16 cores against 16");
    // The same scenario gives the same ids and the same report.
    let again = s.run(&["simulate", "-f", "json", "s.yaml"]);
    assert_eq!(again.stdout, run.stdout);
}

#[test]
fn install_on_named_and_unlisted_devices() {
    let sim = passing("  - { on: 2026-03-03, install: { product: viewer, devices: [ws-10, ws-11] } }\n  - { on: 2026-03-05, install: { product: cad, devices: [lab-01], listed: false, discovered_by: intune } }\n  - { on: 2026-03-06, install: { product: zipper, new_product: true, devices: [ws-03] } }\n");
    assert_eq!(event_touches(&sim, 0), ["viewer", "ws-10", "ws-11"]);
    let lab = finding(&sim, "unlisted:device:lab-01");
    assert_eq!(lab["opened"], "2026-03-05");
    // lab-01 counts towards cad as found: 10 devices against 10, not over.
    assert!(sim["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["id"] != "over:product:cad"));
    assert_eq!(finding(&sim, "bare:product:zipper")["opened"], "2026-03-06");
}

#[test]
fn uninstall_count_removes_the_most_recent_installations_first() {
    let sim = passing("  - { on: 2026-03-02, install: { product: cad, count: 2, environment: prod } }\n  - { on: 2026-03-10, uninstall: { product: cad, count: 3 } }\n");
    // The two installed on 03-02, then ws-09 (installed 2026-02-10).
    assert_eq!(
        event_touches(&sim, 1),
        ["cad", "sim-cad-0002", "sim-cad-0001", "ws-09"]
    );
    let f = finding(&sim, "over:product:cad");
    assert_eq!(
        (f["opened"].as_str(), f["resolved"].as_str()),
        (Some("2026-03-02"), Some("2026-03-10"))
    );
}

#[test]
fn uninstall_named_devices() {
    let sim = passing("  - { on: 2026-03-02, install: { product: cad, devices: [ws-10, ws-11] } }\n  - { on: 2026-03-09, uninstall: { product: cad, devices: [ws-01] } }\n");
    let f = finding(&sim, "over:product:cad");
    assert_eq!(f["peak_shortfall"], 1);
    assert_eq!(f["resolved"], "2026-03-09");
}

#[test]
fn purchase_adds_an_entitlement_from_its_date() {
    let sim = passing("  - { on: 2026-03-02, install: { product: cad, count: 4, environment: prod } }\n  - { on: 2026-03-12, purchase: { product: cad, metric: device, quantity: 5, contract: C1 } }\n  - { on: 2026-03-13, purchase: { product: cad, metric: device, quantity: 1, contract: C1, id: E-NEW } }\n");
    assert!(
        event_touches(&sim, 1).contains(&"sim-purchase-0001"),
        "a generated id"
    );
    assert!(event_touches(&sim, 2).contains(&"E-NEW"), "the id given");
    let f = finding(&sim, "over:product:cad");
    assert_eq!(
        (f["opened"].as_str(), f["resolved"].as_str()),
        (Some("2026-03-02"), Some("2026-03-12"))
    );
    assert_eq!(f["days_out"], 10);
}

#[test]
fn terminate_ends_the_contract_from_its_date() {
    let sim = passing("  - { on: 2026-03-10, terminate: { contract: C2 } }\n");
    // Valid through 03-09, so the finding opens on 03-10; legal is told by
    // 03-11 and the CIO on 03-12.
    let f = finding(&sim, "bare:product:viewer");
    assert_eq!(f["opened"], "2026-03-10");
    assert_eq!(f["resolved"], Value::Null);
    assert_eq!(f["days_out"], 22, "03-10 through 03-31");
    assert_eq!(
        entries(&sim, "2026-03-11"),
        ["notice bare:product:viewer legal due 2026-03-11"]
    );
    assert_eq!(
        entries(&sim, "2026-03-12"),
        ["escalated bare:product:viewer cio due 2026-03-12"]
    );
    assert_eq!(
        sim["summary"]["events"][0]["first_findings"][0]["id"],
        "bare:product:viewer"
    );
}

#[test]
fn expire_ends_the_entitlement_the_day_before() {
    let sim = passing("  - { on: 2026-03-20, expire: { entitlement: E2 } }\n");
    assert!(sim["events"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("its last day is 2026-03-19"));
    assert_eq!(finding(&sim, "bare:product:viewer")["opened"], "2026-03-20");
}

#[test]
fn usage_sets_the_figures_for_a_period() {
    let sim = passing("  - { on: 2026-03-05, usage: { product: stats, period: 2026-03, peak_concurrent: 7 } }\n  - { on: 2026-03-15, usage: { product: stats, period: 2026-03, peak_concurrent: 5 } }\n");
    let f = finding(&sim, "over:product:stats");
    assert_eq!(
        (f["opened"].as_str(), f["resolved"].as_str()),
        (Some("2026-03-05"), Some("2026-03-15"))
    );
    assert_eq!(f["peak_shortfall"], 2);
    assert_eq!(f["exposure"], 20);
}

#[test]
fn waive_holds_notices_and_escalations_until_it_lapses() {
    let sim = passing("  - { on: 2026-03-03, install: { product: cad, count: 2, environment: prod } }\n  - { on: 2026-03-04, waive: { rule: over, subject: cad, reason: agreed, approved_by: j.doe, ticket: SAM-1, expires: 2026-03-09 } }\n");
    let id = "over:product:cad";
    assert_eq!(
        entries(&sim, "2026-03-04"),
        [format!("changed {id} waiver not waived->waived")]
    );
    // Nothing falls due while waived: the next evaluation is the day the
    // waiver lapses, when the held notice and step fire, overdue.
    assert_eq!(
        dates(&sim),
        [
            "2026-03-01",
            "2026-03-03",
            "2026-03-04",
            "2026-03-10",
            "2026-03-13"
        ]
    );
    assert_eq!(
        entries(&sim, "2026-03-10"),
        [
            format!("changed {id} waiver waived->not waived"),
            format!("notice {id} sam due 2026-03-05"),
            format!("escalated {id} team-lead due 2026-03-06"),
        ]
    );
    assert_eq!(finding(&sim, id)["escalations"][0]["on"], "2026-03-10");
}

// ----------------------------------------------------------------------
// Errors: exit 2, every one reported with file:line:col, nothing else printed.

fn errors(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect()
}

#[test]
fn unknown_kinds_and_fields_are_errors_at_their_key() {
    let s = Scratch::new();
    let run = s.simulate_text(
        "  - { on: 2026-03-03, installl: { product: cad, count: 1 } }\n  - { on: 2026-03-04, install: { product: cad, count: 1, colour: red } }\n  - { on: 2026-03-05 }\n",
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(run.stdout.is_empty(), "{}", run.describe());
    assert_eq!(
        errors(&run),
        [
            "error: s.yaml:6:23: unknown event kind `installl`; expected one of: install, uninstall, purchase, terminate, expire, usage, waive",
            "error: s.yaml:7:58: unknown field `colour` in `install` event; expected one of: product, count, devices, listed, new_product, environment, cores, sockets, discovered_by",
            "error: s.yaml:8:5: event has no kind; expected one of: install, uninstall, purchase, terminate, expire, usage, waive",
        ],
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(" 6 |   - { on: 2026-03-03, installl:"),
        "source line shown: {}",
        run.stderr
    );
}

#[test]
fn unknown_ids_are_errors_at_the_id_all_in_one_run() {
    let s = Scratch::new();
    let run = s.simulate_text(
        concat!(
            "  - { on: 2026-03-02, install: { product: cadd, count: 1 } }\n",
            "  - { on: 2026-03-03, install: { product: cad, devices: [ws-99] } }\n",
            "  - { on: 2026-03-04, uninstall: { product: cad, devices: [ws-10] } }\n",
            "  - { on: 2026-03-05, terminate: { contract: C9 } }\n",
            "  - { on: 2026-03-06, expire: { entitlement: E9 } }\n",
            "  - { on: 2026-03-07, purchase: { product: cad, metric: device, quantity: 1, contract: C9 } }\n",
            "  - { on: 2026-03-08, uninstall: { product: viewer, count: 5 } }\n",
        ),
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert_eq!(
        errors(&run),
        [
            "error: s.yaml:6:43: unknown product `cadd`: the snapshot neither lists nor installs it",
            "error: s.yaml:7:58: unknown device `ws-99`: the snapshot does not list it (for a device it does not list, add `listed: false`)",
            "error: s.yaml:8:60: device `ws-10` has no installation of `cad`",
            "error: s.yaml:9:46: unknown contract `C9`",
            "error: s.yaml:10:46: unknown entitlement `E9`",
            "error: s.yaml:11:88: unknown contract `C9`",
            "error: s.yaml:12:5: cannot uninstall `viewer` from 5 devices: on 2026-03-08 it is installed on 2 devices",
        ],
        "{}",
        run.describe()
    );
}

#[test]
fn dates_outside_the_window_and_out_of_order_are_errors() {
    let s = Scratch::new();
    let run = s.simulate_text(concat!(
        "  - { on: 2026-02-27, terminate: { contract: C2 } }\n",
        "  - { on: 2026-03-10, terminate: { contract: C2 } }\n",
        "  - { on: 2026-03-05, expire: { entitlement: E2 } }\n",
        "  - { on: 2026-04-01, expire: { entitlement: E2 } }\n",
        "  - { on: 2026-03-32, expire: { entitlement: E2 } }\n",
    ));
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert_eq!(
        errors(&run),
        [
            "error: s.yaml:6:5: event date 2026-02-27 is outside the scenario's window, 2026-03-01 to 2026-03-31",
            "error: s.yaml:8:5: events out of date order: 2026-03-05 comes after 2026-03-10 (line 7); list events from the earliest",
            "error: s.yaml:9:5: event date 2026-04-01 is outside the scenario's window, 2026-03-01 to 2026-03-31",
            "error: s.yaml:10:11: field `on` must be a date (YYYY-MM-DD), found `2026-03-32`",
        ],
        "{}",
        run.describe()
    );
}

#[test]
fn a_bad_header_and_a_missing_snapshot_are_errors() {
    let s = Scratch::new();
    s.write(
        "s.yaml",
        "name: broken\nsnapshot: nowhere.yaml\nstart: 2026-03-10\nuntil: 2026-03-01\nevents: []\nowner: me\n",
    );
    let run = s.run(&["simulate", "s.yaml"]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert_eq!(
        errors(&run),
        [
            "error: s.yaml:4:8: `until` (2026-03-01) is before `start` (2026-03-10)",
            "error: s.yaml:6:1: unknown field `owner` in scenario; expected one of: name, description, snapshot, start, until, events, expect",
        ],
        "{}",
        run.describe()
    );
    s.write(
        "s.yaml",
        "name: lost\nsnapshot: nowhere.yaml\nstart: 2026-03-01\nuntil: 2026-03-31\n",
    );
    let run = s.run(&["simulate", "s.yaml"]);
    assert_eq!(
        errors(&run),
        ["error: s.yaml:2:11: snapshot `nowhere.yaml` not found"],
        "{}",
        run.describe()
    );
}

// ----------------------------------------------------------------------
// Expectations.

#[test]
fn an_unmet_expectation_exits_1_with_want_against_got() {
    let s = Scratch::new();
    s.write(
        "s.yaml",
        &scenario(
            "  - { on: 2026-03-03, install: { product: cad, count: 3, environment: prod } }\n",
            concat!(
                "  - { rule: over, subject: cad, opened: 2026-03-03, escalated_to: team-lead, open: true }\n",
                "  - { rule: over, subject: cad, opened: 2026-03-04, severity: high, escalated_to: cio, resolved: null }\n",
                "  - { rule: bare, subject: viewer }\n",
                "  - { rule: bare, subject: cad, opened: null }\n",
            ),
        ),
    );
    let run = s.run(&["simulate", "s.yaml"]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let t = &run.stdout;
    for want in [
        "expectations: 2 of 4 met",
        "  ok    line 8: over cad",
        "  FAIL  line 9: over cad",
        "          opened:\n            want: 2026-03-04\n            got:  2026-03-03",
        "          severity:\n            want: high\n            got:  medium (highest reached)",
        "          escalated_to:\n            want: cio\n            got:  team-lead on 2026-03-06, procurement on 2026-03-13",
        "  FAIL  line 10: bare viewer",
        "          finding:\n            want: bare viewer\n            got:  nothing from this rule",
        "  ok    line 11: bare cad",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    // `resolved: null` held (still open), so it is not listed as a mismatch.
    assert!(!t.contains("resolved:\n"), "{t}");
    // With JSON on stdout, want against got goes to stderr.
    let json = s.run(&["simulate", "-f", "json", "s.yaml"]);
    assert_eq!(json.code, Some(1));
    assert!(
        json.stderr
            .contains("error: s.yaml:9: scenario `test`: expectation not met"),
        "{}",
        json.describe()
    );
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["summary"]["unmet"], 2);
}

#[test]
fn bad_expectations_are_errors() {
    let s = Scratch::new();
    s.write(
        "s.yaml",
        &scenario(
            "  []\n",
            "  - { rule: over, subject: cad, severity: huge, escalated: cio }\n  - { subject: cad }\n",
        )
        .replace("events:\n  []\n", "events: []\n"),
    );
    let run = s.run(&["simulate", "s.yaml"]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    let errs = errors(&run);
    assert_eq!(errs.len(), 3, "{}", run.describe());
    assert!(
        errs[0].contains(
            "field `severity` must be one of info, low, medium, high, critical, found `huge`"
        ),
        "{errs:?}"
    );
    assert!(
        errs[1].contains("unknown field `escalated` in expectation"),
        "{errs:?}"
    );
    assert!(
        errs[2].contains("expectation is missing required field `rule`"),
        "{errs:?}"
    );
}

// ----------------------------------------------------------------------
// The shipped scenarios and `trueup test`.

#[test]
fn shipped_scenarios_meet_their_expectations() {
    let run = trueup(&root(), &["simulate", "scenarios/*.yaml"]).unwrap();
    assert_eq!(run.code, Some(0), "{}", run.describe());
    for name in [
        "scenario `over-deployment after a team onboarding`",
        "scenario `silent installations found by discovery`",
        "scenario `contract termination with installations in place`",
    ] {
        assert!(
            run.stdout.contains(name),
            "{name} did not run:\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
}

#[test]
fn trueup_test_runs_the_scenarios_beside_the_playbook() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path().join("scenarios")).unwrap();
    s.write(
        "scenarios/a.yaml",
        &scenario(
            "  - { on: 2026-03-03, install: { product: cad, count: 3, environment: prod } }\n",
            "  - { rule: over, subject: cad, opened: 2026-03-03 }\n  - { rule: over, subject: cad, opened: 2026-03-09 }\n",
        )
        .replace("snapshot: small.yaml", "snapshot: ../small.yaml"),
    );
    let run = s.run(&["test"]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let t = &run.stdout;
    assert!(
        t.contains("  ok    line 8: scenario `test`: over cad"),
        "{t}"
    );
    assert!(
        t.contains("  FAIL  line 9: scenario `test`: over cad"),
        "{t}"
    );
    assert!(t.contains("1 passed, 1 failed"), "{t}");
    let only = s.run(&["test", "--run", "a.yaml:8"]);
    assert_eq!(only.code, Some(0), "{}", only.describe());
    assert!(
        only.stdout.contains("1 passed, 0 failed"),
        "{}",
        only.stdout
    );
}

// ----------------------------------------------------------------------
// Output.

#[test]
fn markdown_and_output_file() {
    let run = trueup(
        &cases(),
        &[
            "simulate",
            "-p",
            "policies",
            "-f",
            "markdown",
            "hand-worked.yaml",
        ],
    )
    .unwrap();
    assert_eq!(run.code, Some(0), "{}", run.describe());
    for want in [
        "# Scenario: hand-worked overuse",
        "| 2026-03-03 | 28 | install cad on 3 new prod devices (sim-cad-0001, sim-cad-0002, sim-cad-0003) |",
        "### 2026-03-13\n\n- **escalated** over product cad: to procurement (step 2 of 2)",
        "| over product cad | 2026-03-03 | 2026-03-16 | 13 | procurement (2/2) on 2026-03-13 | 6 | 58 |",
        "## Expectations: 1 of 1 met",
    ] {
        assert!(run.stdout.contains(want), "missing {want:?} in:\n{}", run.stdout);
    }
    let s = Scratch::new();
    s.write(
        "s.yaml",
        &scenario("  - { on: 2026-03-05, terminate: { contract: C2 } }\n", ""),
    );
    let out = s.run(&["simulate", "-o", "report.txt", "s.yaml"]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(s.path().join("report.txt")).unwrap();
    assert!(
        written.contains("opened     high bare product viewer"),
        "{written}"
    );
    // A dry run: the snapshot is untouched and nothing else appears.
    let mut files: Vec<String> = std::fs::read_dir(s.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["policies", "report.txt", "s.yaml", "small.yaml"]);
    assert_eq!(
        std::fs::read(s.path().join("small.yaml")).unwrap(),
        std::fs::read(cases().join("small.yaml")).unwrap()
    );
}

/// `--fail-on` reads as on `check`: `never` fails nothing, a severity fails
/// only unmet expectations about findings at or above it (the `severity:`
/// they want, else the highest their finding reached); one whose finding
/// never existed and wants no severity is unrated and always fails.
#[test]
fn fail_on_sets_which_unmet_expectations_fail_the_run() {
    let s = Scratch::new();
    s.write(
        "s.yaml",
        &scenario(
            "  - { on: 2026-03-03, install: { product: cad, count: 3, environment: prod } }\n",
            concat!(
                // `over cad` reaches medium; this wants the wrong date.
                "  - { rule: over, subject: cad, opened: 2026-03-04 }\n",
                "  - { rule: bare, subject: viewer }\n",
            ),
        ),
    );
    let default = s.run(&["simulate", "s.yaml"]);
    assert_eq!(default.code, Some(1), "{}", default.describe());
    assert!(
        default.stdout.contains("  FAIL  line 8: over cad"),
        "{}",
        default.stdout
    );
    assert!(
        default
            .stdout
            .contains("expectations: 0 of 2 met; 2 fail the run (--fail-on info): failing"),
        "{}",
        default.stdout
    );

    let never = s.run(&["simulate", "s.yaml", "--fail-on", "never"]);
    assert_eq!(never.code, Some(0), "{}", never.describe());
    assert!(
        never.stdout.contains("  miss  line 8: over cad"),
        "{}",
        never.stdout
    );
    assert!(
        never.stdout.contains("  miss  line 9: bare viewer"),
        "{}",
        never.stdout
    );
    assert!(never
        .stdout
        .contains("0 fail the run (--fail-on never): passing"));

    let high = s.run(&["simulate", "s.yaml", "--fail-on", "high", "-f", "json"]);
    assert_eq!(high.code, Some(1), "the unrated expectation still fails");
    let doc: Value = serde_json::from_str(&high.stdout).unwrap();
    assert_eq!(doc["status"], "failing");
    assert_eq!(doc["summary"]["failing"], 1);
    let e = &doc["scenarios"][0]["expectations"];
    assert_eq!(
        (e[0]["severity"].as_str(), e[0]["fails"].as_bool()),
        (Some("medium"), Some(false))
    );
    assert_eq!(e[1]["fails"], true);
    assert!(
        !high.stderr.contains("s.yaml:8:"),
        "only failing expectations are errors: {}",
        high.stderr
    );

    // Only the medium one left: below `high`, the run passes.
    s.write(
        "s.yaml",
        &scenario(
            "  - { on: 2026-03-03, install: { product: cad, count: 3, environment: prod } }\n",
            "  - { rule: over, subject: cad, opened: 2026-03-04 }\n",
        ),
    );
    let high = s.run(&["simulate", "s.yaml", "--fail-on", "high", "-f", "markdown"]);
    assert_eq!(high.code, Some(0), "{}", high.describe());
    assert!(
        high.stdout.contains("not failing (below `--fail-on`)"),
        "{}",
        high.stdout
    );
    assert!(
        high.stdout.contains("(--fail-on high): passing**"),
        "{}",
        high.stdout
    );
}

// Regression: an `install` with a `count` near i64::MAX panicked allocating
// its devices, and one of 30 million ran for ever. A count is at most
// 100,000 per event, at the count's column.
#[test]
fn an_event_count_is_at_most_the_limit() {
    let s = Scratch::new();
    // At the limit the count is read; the uninstall then fails on what the
    // snapshot holds, which shows the count got through.
    let run =
        s.simulate_text("  - { on: 2026-03-02, uninstall: { product: cad, count: 100000 } }\n");
    assert_eq!(
        errors(&run),
        ["error: s.yaml:6:5: cannot uninstall `cad` from 100000 devices: on 2026-03-02 it is installed on 9 devices"],
        "{}",
        run.describe()
    );
    for (kind, col) in [("install", 55), ("uninstall", 57)] {
        for count in ["100001", "9223372036854775807", "30000000"] {
            let run = s.simulate_text(&format!(
                "  - {{ on: 2026-03-02, {kind}: {{ product: cad, count: {count}, }} }}\n"
            ));
            let msg = if count.len() > 13 {
                format!("error: s.yaml:6:{col}: field `count` must be at most 1000000000000 (trueup's limit for any count), found `{count}`")
            } else {
                format!("error: s.yaml:6:{col}: field `count` must be at most 100000 in one event, found `{count}`")
            };
            assert_eq!(errors(&run), [msg.as_str()], "{}", run.describe());
        }
    }
}

#[test]
fn a_scenario_adds_at_most_a_million_installations() {
    let s = Scratch::new();
    // `ghost` is unknown, so nothing is generated: the limit is checked as
    // the file is read, before any event is resolved.
    let event = "  - { on: 2026-03-02, install: { product: ghost, count: 100000 } }\n";
    let run = s.simulate_text(&event.repeat(10));
    let errs = errors(&run);
    assert_eq!(errs.len(), 10, "{}", run.describe());
    assert!(
        errs.iter().all(|e| e.contains("unknown product `ghost`")),
        "{}",
        run.describe()
    );
    let run = s.simulate_text(&event.repeat(12));
    let errs = errors(&run);
    let over: Vec<&&str> = errs.iter().filter(|e| !e.contains("ghost")).collect();
    assert_eq!(
        over,
        [&"error: s.yaml:16:5: the `install` events add more than 1000000 installations in all (1100000 with this one); a scenario adds at most that many"],
        "reported once, at the event past the limit\n{}",
        run.describe()
    );
    // The events within the limit are still checked.
    assert_eq!(errs.len(), 11, "{}", run.describe());
}

// Regression: a thousand `install` events in a month took many seconds, as
// every event rebuilt the inventory's lookups. Events of one date are applied
// together and evaluated once: 2,000 events over a month are at most one
// evaluation per day (and one per deadline), and finish well inside the
// hang guard.
#[test]
fn two_thousand_events_in_a_month_evaluate_once_a_day() {
    let events: String = (0..2000)
        .map(|i| {
            format!(
                "  - {{ on: 2026-03-{:02}, install: {{ product: cad, count: 1, environment: prod }} }}\n",
                1 + i * 30 / 2000
            )
        })
        .collect();
    let sim = passing(&events);
    let evaluations = sim["evaluations"].as_array().expect("evaluations").len();
    // The baseline and each of the 30 event dates; deadlines fall on them.
    assert!(evaluations <= 31 + 5, "{evaluations} evaluations\n{sim:#}");
    assert_eq!(sim["events"].as_array().map(Vec::len), Some(2000));
    let cad = finding(&sim, "over:product:cad");
    assert_eq!(cad["peak_shortfall"], 2000 + 9 - 10, "{cad:#}");
}
