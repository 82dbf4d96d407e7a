//! The case ledger, run as users run it: `check --ledger`, `cases`,
//! `case ...` and `ledger verify|stats`, against ledger files that tests
//! also open with SQLite directly, to tamper with them or hold their lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const RULE: &str = r#"
const ID = "flagged";
fn check(inv) {
    let out = findings();
    for p in inv.products {
        out.push(finding(#{
            subject: #{ kind: "product", id: p.id },
            severity: p.risk_tier,
            message: p.name + " is flagged",
            evidence: #{ tier: p.risk_tier },
        }));
    }
    out
}
"#;

const ROUTER: &str = r#"
fn route(f) {
    #{ queue: "sam", owner: "ann", notify_within: "2d", escalate: [#{ after: "5d", to: "boss" }] }
}
"#;

/// One finding per device: a large snapshot gives thousands of cases.
const DEVICE_RULE: &str = r#"
const ID = "seen";
fn check(inv) {
    let out = findings();
    for d in inv.devices {
        out.push(finding(#{
            subject: #{ kind: "device", id: d.id },
            severity: "low",
            message: "device " + d.id,
            evidence: #{ cores: d.cores },
        }));
    }
    out
}
"#;

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(rules: &[(&str, &str)]) -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(s.path().join("policies")).unwrap();
        for (name, src) in rules {
            s.write(&format!("policies/{name}"), src);
        }
        s
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ledger(&self) -> PathBuf {
        self.path().join("cases.db")
    }

    fn write(&self, name: &str, body: &str) {
        std::fs::write(self.path().join(name), body).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_trueup"));
        c.current_dir(self.path())
            .args(args)
            .env_remove("TRUEUP_LEDGER")
            .env_remove("TRUEUP_LEDGER_BUSY_TIMEOUT_MS")
            .env("TRUEUP_LEDGER", self.ledger());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("trueup runs")
    }

    /// Writes `snap.yaml` flagging `products` (id → risk tier, the severity).
    fn snapshot(
        &self,
        id: &str,
        on: &str,
        estate: Option<&str>,
        products: &BTreeMap<String, String>,
    ) {
        let estate = estate.map(|e| format!(", estate: {e}")).unwrap_or_default();
        let mut text =
            format!("trueup: 1\nsnapshot: {{ id: {id}, taken_at: {on}{estate} }}\nproducts:\n");
        for (p, tier) in products {
            text.push_str(&format!(
                "  - {{ id: {p}, name: {p}, publisher: Acme, risk_tier: {tier} }}\n"
            ));
        }
        self.write("snap.yaml", &text);
    }

    fn cases(&self) -> Vec<Value> {
        let out = self.run(&["cases", "-f", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let doc: Value = serde_json::from_slice(&out.stdout).expect("cases -f json is JSON");
        doc["cases"].as_array().expect("a cases array").clone()
    }

    fn verify(&self) -> Output {
        self.run(&["ledger", "verify"])
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.ledger()).expect("opens the ledger")
    }

    fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).expect("counts")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_verified(s: &Scratch) {
    let v = s.verify();
    assert_eq!(
        v.status.code(),
        Some(0),
        "verify: {}{}",
        text(&v.stdout),
        text(&v.stderr)
    );
}

// ---- the YAML lifecycles ----------------------------------------------

#[derive(serde::Deserialize)]
struct CaseFile {
    cases: Vec<Lifecycle>,
}

#[derive(serde::Deserialize)]
struct Lifecycle {
    note: String,
    steps: Vec<Step>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Step {
    on: Option<String>,
    id: Option<String>,
    estate: Option<String>,
    flagged: Option<BTreeMap<String, String>>,
    #[serde(default)]
    waived: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    act: Option<Vec<String>>,
    #[serde(default)]
    exit: i32,
    #[serde(default)]
    report: Vec<String>,
    #[serde(default)]
    stderr: Vec<String>,
    #[serde(default)]
    cases: BTreeMap<String, BTreeMap<String, serde_yaml::Value>>,
}

fn yaml_to_json_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::Null => "null".into(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn lifecycles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/ledger");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut ran = 0;
    for file in files {
        let cf: CaseFile = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in cf.cases {
            ran += 1;
            if let Err(e) = run_lifecycle(&case) {
                failures.push(format!("{}: {}\n  {e}", file.display(), case.note));
            }
        }
    }
    assert!(ran > 5);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn run_lifecycle(case: &Lifecycle) -> Result<(), String> {
    let s = Scratch::new(&[("flagged.rhai", RULE), ("routing.rhai", ROUTER)]);
    for (i, step) in case.steps.iter().enumerate() {
        let n = i + 1;
        let out = if let Some(act) = &step.act {
            let mut args = vec!["case".to_string()];
            args.extend(act.iter().cloned());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            s.run(&refs)
        } else {
            let on = step
                .on
                .as_deref()
                .ok_or(format!("step {n}: no `on` nor `act`"))?;
            let id = step
                .id
                .clone()
                .unwrap_or_else(|| format!("shop-{}", on.replace('-', "")));
            s.snapshot(
                &id,
                on,
                step.estate.as_deref(),
                step.flagged.as_ref().unwrap_or(&BTreeMap::new()),
            );
            let mut args: Vec<String> = [
                "check",
                "snap.yaml",
                "--ledger",
                "cases.db",
                "--fail-on",
                "never",
            ]
            .iter()
            .map(|a| a.to_string())
            .collect();
            if !step.waived.is_empty() {
                let mut w = String::from("waivers:\n");
                for p in &step.waived {
                    w.push_str(&format!(
                        "  - {{ rule: flagged, subject: {p}, reason: agreed, approved_by: j.doe, expires: 2027-12-31 }}\n"
                    ));
                }
                s.write("waivers.yaml", &w);
                args.push("--waivers".into());
                args.push("waivers.yaml".into());
            }
            args.extend(step.args.iter().cloned());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            s.run(&refs)
        };
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        if out.status.code() != Some(step.exit) {
            return Err(format!(
                "step {n}: exit {:?}, expected {}\n{stdout}{stderr}",
                out.status.code(),
                step.exit
            ));
        }
        for want in &step.report {
            if !stdout.contains(want.as_str()) {
                return Err(format!("step {n}: report lacks `{want}`:\n{stdout}"));
            }
        }
        for want in &step.stderr {
            if !stderr.contains(want.as_str()) {
                return Err(format!("step {n}: stderr lacks `{want}`:\n{stderr}"));
            }
        }
        if !step.cases.is_empty() {
            let cases = s.cases();
            for (id, fields) in &step.cases {
                let got = cases
                    .iter()
                    .find(|c| c["id"] == id.as_str())
                    .ok_or(format!("step {n}: no case {id}"))?;
                for (k, want) in fields {
                    let got = json_text(&got[k.as_str()]);
                    let want = yaml_to_json_text(want);
                    if got != want {
                        return Err(format!(
                            "step {n}: case {id} `{k}` is `{got}`, expected `{want}`"
                        ));
                    }
                }
            }
        }
        let v = s.verify();
        if v.status.code() != Some(0) {
            return Err(format!("step {n}: verify failed: {}", text(&v.stdout)));
        }
    }
    Ok(())
}

// ---- recording --------------------------------------------------------

fn one_product(s: &Scratch, on: &str) {
    let mut p = BTreeMap::new();
    p.insert("p1".to_string(), "high".to_string());
    s.snapshot(&format!("shop-{}", on.replace('-', "")), on, None, &p);
}

#[test]
fn the_same_snapshot_recorded_twice_changes_nothing() {
    let s = Scratch::new(&[("flagged.rhai", RULE), ("routing.rhai", ROUTER)]);
    one_product(&s, "2026-11-01");
    let check = [
        "check",
        "snap.yaml",
        "--ledger",
        "cases.db",
        "--fail-on",
        "never",
    ];
    assert_eq!(s.run(&check).status.code(), Some(0));
    let cases = s.cases();
    let events = s.count("SELECT COUNT(*) FROM events");
    let runs = s.count("SELECT COUNT(*) FROM runs");
    let again = s.run(&check);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("already recorded as run 1"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(s.cases(), cases);
    assert_eq!(s.count("SELECT COUNT(*) FROM events"), events);
    assert_eq!(s.count("SELECT COUNT(*) FROM runs"), runs);
    // The same snapshot on a later as-of date is a new run.
    let later = s.run(&[&check[..], &["--as-of", "2026-11-02"]].concat());
    assert_eq!(later.status.code(), Some(0));
    assert_eq!(s.count("SELECT COUNT(*) FROM runs"), runs + 1);
    assert_verified(&s);
}

#[test]
fn json_gains_the_case_and_each_step_status() {
    let s = Scratch::new(&[("flagged.rhai", RULE), ("routing.rhai", ROUTER)]);
    one_product(&s, "2026-11-01");
    let base = ["check", "snap.yaml", "--fail-on", "never", "-f", "json"];
    let plain = s
        .command(&base)
        .env_remove("TRUEUP_LEDGER")
        .output()
        .unwrap();
    let plain: Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert!(plain["findings"][0].get("case").is_none());
    assert!(plain.get("ledger").is_none());
    assert_eq!(
        s.run(&[&base[..], &["--ledger", "cases.db"]].concat())
            .status
            .code(),
        Some(0)
    );
    let out = s.run(
        &[
            &base[..],
            &["--ledger", "cases.db", "--as-of", "2026-11-04"],
        ]
        .concat(),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &doc["findings"][0];
    assert_eq!(f["case"]["id"], "C-000001");
    assert_eq!(f["case"]["opened"], "2026-11-01");
    assert_eq!(f["case"]["event"], "seen");
    // Dated from 11-01, not from the as-of date 11-04.
    assert_eq!(f["route"]["notify_by"], "2026-11-03");
    assert_eq!(f["route"]["notify_status"], "overdue");
    assert_eq!(f["route"]["escalate"][0]["on"], "2026-11-06");
    assert_eq!(f["route"]["escalate"][0]["status"], "due");
    assert_eq!(doc["ledger"]["overdue"], 1);
    assert_eq!(doc["ledger"]["runs"][0]["run"], 2);
}

#[test]
fn fail_on_overdue_needs_a_ledger() {
    let s = Scratch::new(&[("flagged.rhai", RULE)]);
    one_product(&s, "2026-11-01");
    let out = s
        .command(&["check", "snap.yaml", "--fail-on-overdue"])
        .env_remove("TRUEUP_LEDGER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`--fail-on-overdue` needs a ledger"));
}

#[test]
fn a_snapshot_that_fails_to_load_leaves_the_ledger_unchanged() {
    let s = Scratch::new(&[("flagged.rhai", RULE)]);
    one_product(&s, "2026-11-01");
    assert_eq!(
        s.run(&[
            "check",
            "snap.yaml",
            "--ledger",
            "cases.db",
            "--fail-on",
            "never"
        ])
        .status
        .code(),
        Some(0)
    );
    s.write("bad.yaml", "trueup: 1\nsnapshot: { id: shop-x }\n");
    let out = s.run(&["check", "bad.yaml", "--ledger", "cases.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.yaml:2"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("was not changed"));
    assert_eq!(s.count("SELECT COUNT(*) FROM runs"), 1);
}

// ---- people's actions ---------------------------------------------------

#[test]
fn case_show_prints_the_timeline_with_evidence_notes_and_attachments() {
    let s = Scratch::new(&[("flagged.rhai", RULE), ("routing.rhai", ROUTER)]);
    one_product(&s, "2026-11-01");
    let check = [
        "check",
        "snap.yaml",
        "--ledger",
        "cases.db",
        "--fail-on",
        "never",
    ];
    assert_eq!(s.run(&check).status.code(), Some(0));
    s.write("quote.pdf", "a quote for 12 seats");
    let note = s.run(&[
        "case",
        "note",
        "C-000001",
        "--by",
        "j.doe",
        "--on",
        "2026-11-02",
        "--kind",
        "decision",
        "--text",
        "buy 12 seats",
        "--attach",
        "quote.pdf",
    ]);
    assert_eq!(note.status.code(), Some(0), "{}", text(&note.stderr));
    assert!(s
        .run(&[
            "case",
            "assign",
            "C-000001",
            "--to",
            "k.lee",
            "--by",
            "j.doe",
            "--on",
            "2026-11-02"
        ])
        .status
        .success());
    let show = s.run(&["case", "show", "flagged:product:p1"]);
    assert_eq!(show.status.code(), Some(0), "{}", text(&show.stderr));
    let out = text(&show.stdout);
    let full = {
        use std::fmt::Write;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(b"a quote for 12 seats");
        digest.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    for want in [
        "case C-000001 (open): flagged product p1",
        "2026-11-01 run 1: snap.yaml (sha256 ",
        "evidence: {\"tier\":\"high\"}",
        "opened by trueup (run 1)",
        "note by j.doe: [decision] buy 12 seats (attachment quote.pdf, sha256 ",
        "assigned by j.doe: to k.lee",
        "owner k.lee",
    ] {
        assert!(out.contains(want), "lacks `{want}`:\n{out}");
    }
    assert!(
        out.contains(&full),
        "attachment sha256 {full} not shown:\n{out}"
    );
    let stored: Vec<u8> = s
        .db()
        .query_row(
            "SELECT bytes FROM attachments WHERE sha256 = ?1",
            [&full],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, b"a quote for 12 seats");
    let json: Value =
        serde_json::from_slice(&s.run(&["case", "show", "C-000001", "-f", "json"]).stdout).unwrap();
    assert_eq!(json["observations"][0]["evidence"]["tier"], "high");
    assert_eq!(json["events"].as_array().unwrap().len(), 3);
    assert_verified(&s);
}

#[test]
fn actions_are_named_and_bad_ones_refused() {
    let s = Scratch::new(&[("flagged.rhai", RULE)]);
    one_product(&s, "2026-11-01");
    assert!(s
        .run(&[
            "check",
            "snap.yaml",
            "--ledger",
            "cases.db",
            "--fail-on",
            "never"
        ])
        .status
        .success());
    let no_by = s.run(&["case", "ack", "C-000001"]);
    assert_eq!(no_by.status.code(), Some(2));
    assert!(text(&no_by.stderr).contains("--by"));
    let missing = s.run(&["case", "ack", "C-000099", "--by", "x", "--on", "2026-11-02"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("no case `C-000099`"),
        "{}",
        text(&missing.stderr)
    );
    let kind = s.run(&[
        "case", "note", "C-000001", "--by", "x", "--kind", "gossip", "--text", "t",
    ]);
    assert_eq!(kind.status.code(), Some(2));
    assert!(text(&kind.stderr).contains("`gossip` is not a kind of note"));
    let early = s.run(&["case", "ack", "C-000001", "--by", "x", "--on", "2026-10-01"]);
    assert_eq!(early.status.code(), Some(2));
    assert!(text(&early.stderr).contains("before that"));
    let early = s.run(&[
        "case",
        "resolve",
        "C-000001",
        "--by",
        "x",
        "--reason",
        "r",
        "--on",
        "2026-10-01",
    ]);
    assert_eq!(early.status.code(), Some(2));
    assert!(text(&early.stderr).contains("cannot be resolved on 2026-10-01, before that"));
    // Without --on, the action is dated today: it is recorded.
    assert!(s
        .run(&["case", "ack", "C-000001", "--by", "x"])
        .status
        .success());
    let resolve = s.run(&[
        "case",
        "resolve",
        "C-000001",
        "--by",
        "x",
        "--reason",
        "done",
        "--on",
        "2026-11-03",
    ]);
    assert!(resolve.status.success());
    let twice = s.run(&[
        "case",
        "resolve",
        "C-000001",
        "--by",
        "x",
        "--reason",
        "done",
        "--on",
        "2026-11-03",
    ]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(text(&twice.stderr).contains("already resolved"));
    assert_verified(&s);
}

#[test]
fn cases_filter_and_print_in_each_format() {
    let s = Scratch::new(&[("flagged.rhai", RULE), ("routing.rhai", ROUTER)]);
    let mut p = BTreeMap::new();
    p.insert("p1".to_string(), "high".to_string());
    p.insert("p2".to_string(), "low".to_string());
    s.snapshot("shop-1", "2026-11-01", None, &p);
    assert!(s
        .run(&[
            "check",
            "snap.yaml",
            "--ledger",
            "cases.db",
            "--fail-on",
            "never"
        ])
        .status
        .success());
    assert!(s
        .run(&[
            "case",
            "ack",
            "C-000001",
            "--by",
            "ann",
            "--on",
            "2026-11-01"
        ])
        .status
        .success());
    assert!(s
        .run(&[
            "case",
            "resolve",
            "C-000002",
            "--by",
            "ann",
            "--reason",
            "gone",
            "--on",
            "2026-11-01"
        ])
        .status
        .success());
    s.snapshot("shop-2", "2026-11-04", None, &p);
    assert!(s
        .run(&[
            "check",
            "snap.yaml",
            "--ledger",
            "cases.db",
            "--fail-on",
            "never"
        ])
        .status
        .success());
    // C-000001 acked: nothing overdue on 11-04; C-000002 reopened on 11-04: due.
    let overdue = s.run(&["cases", "--overdue", "-f", "csv"]);
    assert_eq!(
        text(&overdue.stdout).lines().count(),
        1,
        "{}",
        text(&overdue.stdout)
    );
    let csv = text(&s.run(&["cases", "-f", "csv", "--state", "open"]).stdout);
    assert!(
        csv.starts_with(
            "case,state,severity,rule,subject,queue,owner,opened,last_seen,resolved_on,overdue\n"
        ),
        "{csv}"
    );
    assert!(
        csv.contains("C-000001,open,high,flagged,product p1,sam,ann,2026-11-01,2026-11-04,,0"),
        "{csv}"
    );
    let md = text(&s.run(&["cases", "-f", "markdown", "--queue", "sam"]).stdout);
    assert!(md.contains("| C-000002 | open | low |"), "{md}");
    let none = text(&s.run(&["cases", "--queue", "nobody"]).stdout);
    assert_eq!(none, "0 cases (0 open, 0 resolved)\n");
    let stats = s.run(&["ledger", "stats", "-f", "json"]);
    let doc: Value = serde_json::from_slice(&stats.stdout).unwrap();
    // C-000002: opened 11-01, resolved by hand the same day: 0 days.
    assert_eq!(doc["time_to_resolution"]["all"]["resolved"], 1);
    assert_eq!(doc["time_to_resolution"]["all"]["median_days"], 0.0);
    assert_eq!(doc["reopened"]["reopenings"], 1);
    assert_eq!(doc["open_by_age"]["0-7"], 2);
    assert!(
        text(&s.run(&["ledger", "stats"]).stdout).contains("reopened: 1 case(s), 1 reopening(s)")
    );
}

// ---- the chain -----------------------------------------------------------

/// A ledger with two runs and a note: 2 cases, a dozen events.
fn recorded() -> Scratch {
    let s = Scratch::new(&[("flagged.rhai", RULE), ("routing.rhai", ROUTER)]);
    let mut p = BTreeMap::new();
    p.insert("p1".to_string(), "high".to_string());
    p.insert("p2".to_string(), "low".to_string());
    s.snapshot("shop-1", "2026-11-01", None, &p);
    assert!(s
        .run(&[
            "check",
            "snap.yaml",
            "--ledger",
            "cases.db",
            "--fail-on",
            "never"
        ])
        .status
        .success());
    assert!(s
        .run(&[
            "case",
            "note",
            "C-000001",
            "--by",
            "ann",
            "--on",
            "2026-11-02",
            "--kind",
            "contact",
            "--text",
            "called"
        ])
        .status
        .success());
    p.remove("p2");
    s.snapshot("shop-2", "2026-11-03", None, &p);
    assert!(s
        .run(&[
            "check",
            "snap.yaml",
            "--ledger",
            "cases.db",
            "--fail-on",
            "never"
        ])
        .status
        .success());
    assert_verified(&s);
    s
}

fn verify_fails_naming(s: &Scratch, want: &str) {
    let v = s.verify();
    assert_eq!(
        v.status.code(),
        Some(1),
        "{}{}",
        text(&v.stdout),
        text(&v.stderr)
    );
    assert!(
        text(&v.stdout).contains(want),
        "lacks `{want}`:\n{}",
        text(&v.stdout)
    );
}

#[test]
fn verify_names_an_edited_event() {
    let s = recorded();
    s.db()
        .execute("UPDATE events SET actor = 'mallory' WHERE seq = 4", [])
        .unwrap();
    verify_fails_naming(&s, "event 4: its content does not match its sha256");
}

#[test]
fn verify_names_an_edited_body() {
    let s = recorded();
    s.db()
        .execute(
            "UPDATE events SET body = replace(body, 'called', 'emailed') WHERE kind = 'note'",
            [],
        )
        .unwrap();
    let seq = s.count("SELECT seq FROM events WHERE kind = 'note'");
    verify_fails_naming(&s, &format!("event {seq}: its content does not match"));
}

#[test]
fn verify_names_a_removed_event() {
    let s = recorded();
    s.db()
        .execute("DELETE FROM events WHERE seq = 2", [])
        .unwrap();
    verify_fails_naming(&s, "event 3: expected event 2 next; event 2 is missing");
}

#[test]
fn verify_notices_the_last_events_removed() {
    let s = recorded();
    let last = s.count("SELECT MAX(seq) FROM events");
    s.db()
        .execute("DELETE FROM events WHERE seq = ?1", [last])
        .unwrap();
    verify_fails_naming(&s, &format!("the chain ends at event {}", last - 1));
}

#[test]
fn verify_names_an_inserted_event() {
    let s = recorded();
    let db = s.db();
    // A row slipped in between 2 and 3: renumber 3.. up by one first.
    db.execute_batch(
        "UPDATE events SET seq = seq + 1000 WHERE seq >= 3;
         UPDATE events SET seq = seq - 999 WHERE seq >= 1003;",
    )
    .unwrap();
    let prev: String = db
        .query_row("SELECT sha256 FROM events WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    db.execute(
        "INSERT INTO events (seq, case_id, run_id, kind, actor, at, body, prev_sha256, sha256) VALUES (3, 1, NULL, 'acknowledged', 'mallory', '2026-11-01', '{}', ?1, 'feed')",
        [prev],
    )
    .unwrap();
    verify_fails_naming(&s, "event 3: its content does not match its sha256");
}

#[test]
fn verify_names_a_case_changed_outside_its_events() {
    let s = recorded();
    s.db()
        .execute("UPDATE cases SET state = 'resolved' WHERE id = 1", [])
        .unwrap();
    verify_fails_naming(
        &s,
        "case C-000001 is `resolved` in the cases table, but its events say `open`",
    );
}

#[test]
fn verify_names_a_changed_observation() {
    let s = recorded();
    s.db()
        .execute(
            "UPDATE observations SET severity = 'info' WHERE run_id = 2",
            [],
        )
        .unwrap();
    verify_fails_naming(&s, "run 2: its observations do not match the digest");
}

// ---- the file ------------------------------------------------------------

#[test]
fn a_ledger_newer_than_trueup_is_refused() {
    let s = recorded();
    s.db().execute_batch("PRAGMA user_version = 99").unwrap();
    for args in [
        &["cases"][..],
        &["ledger", "verify"],
        &["check", "snap.yaml", "--ledger", "cases.db"],
    ] {
        let out = s.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("has schema version 99, newer than this trueup knows"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn an_older_ledger_is_migrated() {
    // Version 0: an SQLite file trueup never wrote to.
    let s = Scratch::new(&[("flagged.rhai", RULE)]);
    {
        let db = s.db();
        db.execute_batch("CREATE TABLE unrelated (x); PRAGMA user_version = 0;")
            .unwrap();
    }
    one_product(&s, "2026-11-01");
    assert!(s
        .run(&[
            "check",
            "snap.yaml",
            "--ledger",
            "cases.db",
            "--fail-on",
            "never"
        ])
        .status
        .success());
    assert_eq!(s.count("PRAGMA user_version"), 1);
    assert_eq!(s.cases().len(), 1);
}

#[test]
fn a_file_that_is_not_a_ledger_is_refused() {
    let s = Scratch::new(&[("flagged.rhai", RULE)]);
    s.write("cases.db", "this is not a database, just some text long enough to be read as one ............................................................................................................");
    let out = s.run(&["cases"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cases.db"),
        "{}",
        text(&out.stderr)
    );
    let missing = s
        .command(&["cases", "--ledger", "nowhere.db"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("nowhere.db`: no such file"));
}

#[test]
fn a_second_writer_waits_then_fails_with_exit_2_and_never_corrupts() {
    let s = recorded();
    let db = s.db();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let start = Instant::now();
    let out = s
        .command(&[
            "case",
            "ack",
            "C-000001",
            "--by",
            "ann",
            "--on",
            "2026-11-03",
        ])
        .env("TRUEUP_LEDGER_BUSY_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is busy: another trueup is writing to it (waited 300 ms)"),
        "{}",
        text(&out.stderr)
    );
    assert!(start.elapsed() >= Duration::from_millis(250));
    let check = s
        .command(&[
            "check",
            "snap.yaml",
            "--ledger",
            "cases.db",
            "--as-of",
            "2026-11-04",
        ])
        .env("TRUEUP_LEDGER_BUSY_TIMEOUT_MS", "200")
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    // Readers are not blocked by a writer.
    assert_eq!(s.run(&["cases"]).status.code(), Some(0));
    db.execute_batch("COMMIT").unwrap();
    // Released: a writer waiting within its timeout gets through.
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let waiting = s
        .command(&[
            "case",
            "ack",
            "C-000001",
            "--by",
            "ann",
            "--on",
            "2026-11-03",
        ])
        .env("TRUEUP_LEDGER_BUSY_TIMEOUT_MS", "5000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    db.execute_batch("COMMIT").unwrap();
    let done = waiting.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert_verified(&s);
}

/// A small deterministic generator for kill delays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn a_killed_check_leaves_the_ledger_as_before_or_after() {
    let s = Scratch::new(&[("seen.rhai", DEVICE_RULE), ("routing.rhai", ROUTER)]);
    let gen = s.run(&[
        "generate",
        "--installations",
        "10000",
        "--seed",
        "3",
        "-o",
        "big.yaml",
    ]);
    assert!(gen.status.success(), "{}", text(&gen.stderr));
    let check = |day: u32| -> Command {
        let mut c = s.command(&[
            "check",
            "big.yaml",
            "--ledger",
            "cases.db",
            "--fail-on",
            "never",
            "-o",
            "out.txt",
            "--as-of",
        ]);
        c.arg(format!("2026-11-{day:02}"));
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let start = Instant::now();
    assert!(check(1).status().unwrap().success());
    let full = start.elapsed();
    let cases = s.count("SELECT COUNT(*) FROM cases");
    assert!(cases >= 1000, "{cases} cases");
    let per_run_events = s.count("SELECT COUNT(*) FROM events");
    let mut runs = 1;
    let mut rng = Lcg(7);
    let mut killed = 0;
    let budget = Duration::from_secs(25);
    let t0 = Instant::now();
    let mut day = 2;
    while killed < 20 && t0.elapsed() < budget && day <= 30 {
        let mut child = check(day).spawn().unwrap();
        // From 40% of a whole run (loading and evaluating come first, and
        // the transaction last) to a little past its end.
        let delay = full.as_millis() as u64 * (40 + rng.below(80)) / 100;
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        let now = s.count("SELECT COUNT(*) FROM runs");
        assert!(now == runs || now == runs + 1, "{now} runs after {runs}");
        if now == runs + 1 {
            runs = now;
            day += 1;
        }
        assert_verified(&s);
        // Consistent: every case open and seen on the latest run; one
        // observation per case per run; one `recorded` event per run.
        assert_eq!(s.count("SELECT COUNT(*) FROM cases"), cases);
        assert_eq!(s.count("SELECT COUNT(*) FROM cases WHERE state = 'open' AND last_seen = (SELECT MAX(as_of) FROM runs)"), cases);
        assert_eq!(s.count("SELECT COUNT(*) FROM observations"), cases * runs);
        assert_eq!(
            s.count("SELECT COUNT(*) FROM events WHERE kind = 'recorded'"),
            runs
        );
        assert_eq!(
            s.count("SELECT COUNT(*) FROM events"),
            per_run_events + runs - 1
        );
    }
    assert!(killed >= 5, "only {killed} runs were killed");
}

/// `diff --ledger` records its head run, as `check --ledger` would, and
/// only with the flag: a pre-merge diff under `TRUEUP_LEDGER` writes
/// nothing.
#[test]
fn diff_records_its_head_run_only_when_asked() {
    let s = Scratch::new(&[("flagged.rhai", RULE), ("routing.rhai", ROUTER)]);
    let mut p = BTreeMap::new();
    p.insert("p1".to_string(), "high".to_string());
    s.snapshot("shop-20261101", "2026-11-01", None, &p);
    std::fs::rename(s.path().join("snap.yaml"), s.path().join("base.yaml")).unwrap();
    p.insert("p2".to_string(), "low".to_string());
    s.snapshot("shop-20261108", "2026-11-08", None, &p);
    let diff = [
        "diff",
        "--base",
        "base.yaml",
        "--head",
        "snap.yaml",
        "--fail-on",
        "never",
    ];
    assert_eq!(s.run(&diff).status.code(), Some(0));
    assert!(!s.ledger().exists(), "TRUEUP_LEDGER alone records nothing");

    let out = s.run(&[&diff[..], &["--ledger", "cases.db"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(s.count("SELECT COUNT(*) FROM runs"), 1);
    let cases = s.cases();
    assert_eq!(cases.len(), 2, "{cases:?}");
    assert!(
        cases.iter().all(|c| c["opened"] == "2026-11-08"),
        "{cases:?}"
    );
    assert_verified(&s);
}

/// A rehearsal and the real thing agree: `simulate` over two quiet months
/// of acme (nothing happens but the passage of time) and `check --ledger`
/// run on each date the simulation evaluated give every finding the same
/// opening, resolution and number of reopenings.
#[test]
fn simulate_and_daily_checks_with_a_ledger_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    let acme = root.join("examples/acme.yaml");
    let policies = root.join("policies");
    let scenario = dir.path().join("quiet.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: two quiet months\nsnapshot: {}\nstart: 2026-11-01\nuntil: 2026-12-31\nevents: []\n",
            acme.display()
        ),
    )
    .unwrap();
    let trueup = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_trueup"))
            .args(args)
            .env_remove("TRUEUP_LEDGER")
            .output()
            .expect("trueup runs");
        assert!(
            out.status.code().is_some_and(|c| c < 2),
            "{}",
            text(&out.stderr)
        );
        out
    };
    let p = policies.as_os_str();
    let sim = trueup(&[
        "simulate".as_ref(),
        "-p".as_ref(),
        p,
        "-f".as_ref(),
        "json".as_ref(),
        "--fail-on".as_ref(),
        "never".as_ref(),
        scenario.as_os_str(),
    ]);
    let sim: Value = serde_json::from_slice(&sim.stdout).unwrap();
    let sim = &sim["scenarios"][0];

    let ledger = dir.path().join("cases.db");
    let dates: Vec<&str> = sim["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(dates.len() > 10, "{dates:?}");
    for day in &dates {
        trueup(&[
            "check".as_ref(),
            "-p".as_ref(),
            p,
            "--as-of".as_ref(),
            day.as_ref(),
            "--ledger".as_ref(),
            ledger.as_os_str(),
            "--fail-on".as_ref(),
            "never".as_ref(),
            acme.as_os_str(),
        ]);
    }
    let cases = trueup(&[
        "cases".as_ref(),
        "--ledger".as_ref(),
        ledger.as_os_str(),
        "-f".as_ref(),
        "json".as_ref(),
    ]);
    let cases: Value = serde_json::from_slice(&cases.stdout).unwrap();

    // Per finding id: first opened, last resolved (None while open), and
    // how many times it came back.
    type Run = (String, Option<String>, usize);
    let mut rehearsed: BTreeMap<String, Run> = BTreeMap::new();
    for f in sim["findings"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap().to_string();
        let opened = f["opened"].as_str().unwrap().to_string();
        let resolved = f["resolved"].as_str().map(str::to_string);
        rehearsed
            .entry(id)
            .and_modify(|r| {
                r.1 = resolved.clone();
                r.2 += 1;
            })
            .or_insert((opened, resolved, 0));
    }
    let recorded: BTreeMap<String, Run> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["finding"].as_str().unwrap().to_string(),
                (
                    c["opened"].as_str().unwrap().to_string(),
                    c["resolved_on"].as_str().map(str::to_string),
                    c["reopened"].as_u64().unwrap() as usize,
                ),
            )
        })
        .collect();
    assert!(rehearsed.len() > 20, "{} findings", rehearsed.len());
    assert!(
        rehearsed.values().any(|r| r.1.is_some()),
        "time alone resolves some findings (an install spike passes)"
    );
    let differ: Vec<String> = rehearsed
        .iter()
        .filter(|(id, r)| recorded.get(*id) != Some(r))
        .map(|(id, r)| format!("{id}: simulate {r:?}, ledger {:?}", recorded.get(id)))
        .chain(
            recorded
                .keys()
                .filter(|id| !rehearsed.contains_key(*id))
                .map(|id| format!("{id}: only in the ledger")),
        )
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// `simulate --ledger FILE` keeps the rehearsal's ledger: it verifies, holds
/// a case per finding the rehearsal saw, feeds `cases` and `dashboard` like
/// a real one, and is never written over an existing file.
#[test]
fn a_rehearsal_keeps_its_ledger_when_asked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = dir.path().join("rehearsal.db");
    let scenario = root.join("scenarios/onboarding.yaml");
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_trueup"))
            .current_dir(dir.path())
            .args(args)
            .env_remove("TRUEUP_LEDGER")
            .output()
            .expect("trueup runs")
    };
    let p = root.join("policies");
    let simulate = |extra: &[&std::ffi::OsStr]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "simulate".as_ref(),
            "-p".as_ref(),
            p.as_os_str(),
            "-f".as_ref(),
            "json".as_ref(),
            "--ledger".as_ref(),
            ledger.as_os_str(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = simulate(&[scenario.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sim: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: std::collections::BTreeSet<&str> = sim["scenarios"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();

    let verify = run(&[
        "ledger".as_ref(),
        "verify".as_ref(),
        "--ledger".as_ref(),
        ledger.as_os_str(),
    ]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stderr));
    let cases = run(&[
        "cases".as_ref(),
        "--ledger".as_ref(),
        ledger.as_os_str(),
        "-f".as_ref(),
        "json".as_ref(),
    ]);
    let cases: Value = serde_json::from_slice(&cases.stdout).unwrap();
    let recorded: std::collections::BTreeSet<&str> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["finding"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, ids);
    let dashboard = run(&[
        "dashboard".as_ref(),
        "--ledger".as_ref(),
        ledger.as_os_str(),
        "-o".as_ref(),
        "d.html".as_ref(),
    ]);
    assert_eq!(
        dashboard.status.code(),
        Some(0),
        "{}",
        text(&dashboard.stderr)
    );

    // Never over an existing file, and one scenario at a time.
    let before = std::fs::read(&ledger).unwrap();
    let again = simulate(&[scenario.as_os_str()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
    let other = root.join("scenarios/silent-installs.yaml");
    let two = simulate(&[scenario.as_os_str(), other.as_os_str()]);
    assert_eq!(two.status.code(), Some(2), "{}", text(&two.stderr));
}
