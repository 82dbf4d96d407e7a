//! Output safety: ids, names and messages from a snapshot, a scenario and a
//! script never reach stdout with the control characters they hold.
//!
//! Regression: the text and Markdown reports printed ESC, NUL, CR, bidi
//! controls and newlines as they were, so a product id could rewrite the
//! terminal or forge a `::warning file=…::` line in a GitHub Actions log;
//! `-f junit` was not well-formed XML when a message held U+FFFE or U+FFFF.
//!
//! The fixture is written to a temporary folder: a snapshot whose snapshot
//! id, product id and product name hold escape sequences, bidi controls and
//! `\r\n::warning …` (YAML double-quoted escapes), and a playbook whose
//! message, title, route and remediation hold the same (Rhai escapes).

mod support;

use std::path::{Path, PathBuf};

/// A product id that tries to set the terminal title and forge an annotation.
const PRODUCT: &str = r#""cad\e]0;pwned\a\u2066x\r\n::warning file=x::forged""#;

fn fixture(dir: &Path) {
    let snapshot = format!(
        r#"trueup: 1
snapshot: {{ id: "evil\e[2J\u202e-1", taken_at: 2026-11-01 }}
products:
  - {{ id: {PRODUCT}, name: "CAD\0 Pro\u200f\u202a\n::error::name", publisher: Acme }}
contracts:
  - {{ id: C1, publisher: Acme, start: 2025-01-01, end: 2027-12-31 }}
entitlements:
  - {{ id: E1, contract: C1, product: {PRODUCT}, metric: device, quantity: 1 }}
devices:
  - {{ id: ws-1, environment: prod }}
  - {{ id: ws-2, environment: prod }}
installations:
  - {{ device: ws-1, product: {PRODUCT}, installed_on: 2026-09-01 }}
  - {{ device: ws-2, product: {PRODUCT}, installed_on: 2026-09-01 }}
"#
    );
    std::fs::write(dir.join("snap.yaml"), &snapshot).unwrap();
    // The base of `diff`: the same estate with nothing over.
    let base = snapshot.replace("quantity: 1", "quantity: 5");
    std::fs::write(dir.join("base.yaml"), base).unwrap();
    std::fs::create_dir_all(dir.join("policies/tests")).unwrap();
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(
        dir.join("policies/over.rhai"),
        r#"const TITLE = "Over\x1b[31m title\n::error::t";
fn check(inv) {
    let out = [];
    for row in inv.positions() {
        if row.shortfall == 0 { continue; }
        out.push(finding(#{
            subject: #{ kind: "product", id: row.product },
            severity: "high",
            message: `${row.product_name}: over` + "\x1b[31m\x00\r\n::error file=a.yaml,line=1::forged\u202e\ufffe\uffff\x01",
            evidence: #{ note: "\x1b]8;;x\x07" },
        }));
    }
    out
}
fn remediate(f, inv) { [#{ action: "purchase\x1b[1m", quantity: 1 }] }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("policies/routing.rhai"),
        r#"fn route(f) { #{ queue: "q\x1b[5m\n::error::q", owner: "o\u202e", notify_within: "2d", escalate: [#{ after: "3d", to: "cio\x1b[0m\n::error::e" }] } }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("policies/tests/over.yaml"),
        "cases:\n  - note: \"over\\e[31m\\n::error::note\"\n    snapshot: ../../snap.yaml\n    want:\n      - { rule: over, severity: low }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("scenarios/grow.yaml"),
        format!(
            "name: \"grow\\e[31m\\n::error::scenario\"\nsnapshot: ../snap.yaml\nstart: 2026-11-01\nuntil: 2026-11-20\nevents:\n  - {{ on: 2026-11-03, install: {{ product: {PRODUCT}, count: 2, environment: prod }} }}\nexpect:\n  - {{ rule: over, subject: \"x\\e[1m\", opened: 2026-11-03 }}\n"
        ),
    )
    .unwrap();
}

/// Characters that must never reach the output raw.
fn raw_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Runs `trueup ARGS` in the fixture and checks stdout (and stderr): no raw
/// control or bidi character, and no line that starts a workflow command
/// unless `annotations` (the `github` format, whose own lines do, and
/// JUnit, a file whose multi-line failure text is not read as a log).
fn safe_run(dir: &Path, args: &[&str], annotations: bool) -> String {
    let run = support::trueup(dir, args).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(run.code, Some(0..=2)),
        "`trueup {}`\n{}",
        args.join(" "),
        run.describe()
    );
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if let Some(c) = text.chars().find(|c| raw_unsafe(*c)) {
            panic!(
                "`trueup {}`: {stream} holds U+{:04X}\n{}",
                args.join(" "),
                c as u32,
                run.describe()
            );
        }
        for line in text.lines() {
            assert!(
                annotations || !line.trim_start().starts_with("::"),
                "`trueup {}`: {stream} line starts a workflow command: {line:?}",
                args.join(" ")
            );
        }
    }
    run.stdout
}

#[test]
fn check_reports_print_no_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    for format in ["text", "markdown", "github", "junit"] {
        let out = safe_run(
            dir.path(),
            &["check", "-p", "policies", "snap.yaml", "-f", format],
            matches!(format, "github" | "junit"),
        );
        assert!(
            out.contains("over"),
            "`-f {format}` shows the finding:\n{out}"
        );
    }
    let text = safe_run(dir.path(), &["check", "-p", "policies", "snap.yaml"], false);
    assert!(
        text.contains(r"cad\u{1b}]0;pwned\u{7}\u{2066}x\r\n::warning"),
        "{text}"
    );
}

#[test]
fn github_annotations_cannot_start_a_new_command() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let out = safe_run(
        dir.path(),
        &["check", "-p", "policies", "snap.yaml", "-f", "github"],
        true,
    );
    let commands: Vec<&str> = out.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 1, "one finding, one command:\n{out}");
    assert!(
        commands[0].contains("%0A::error file=a.yaml,line=1::forged"),
        "{out}"
    );
}

#[test]
fn other_commands_print_no_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let runs: &[&[&str]] = &[
        &[
            "diff",
            "-p",
            "policies",
            "--base",
            "base.yaml",
            "--head",
            "snap.yaml",
        ],
        &[
            "diff",
            "-p",
            "policies",
            "--base",
            "base.yaml",
            "--head",
            "snap.yaml",
            "-f",
            "markdown",
        ],
        &["position", "snap.yaml"],
        &["explain", "-p", "policies", "over"],
        &["simulate", "-p", "policies", "scenarios/grow.yaml"],
        &[
            "simulate",
            "-p",
            "policies",
            "scenarios/grow.yaml",
            "-f",
            "markdown",
        ],
        &["test", "policies"],
        &["lint", "policies"],
    ];
    for args in runs {
        let out = safe_run(dir.path(), args, false);
        assert!(
            !out.is_empty() || args[0] == "lint",
            "`trueup {}` printed nothing",
            args.join(" ")
        );
    }
    let check = support::trueup(
        dir.path(),
        &["check", "-p", "policies", "snap.yaml", "-f", "json"],
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let id = json["findings"][0]["id"].as_str().unwrap().to_string();
    safe_run(
        dir.path(),
        &["explain", "-p", "policies", "snap.yaml", "--finding", &id],
        false,
    );
}

#[test]
fn diagnostics_print_no_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "trueup: 1\nsnapshot: { id: s, taken_at: 2026-11-01 }\nproducts:\n  - { id: p, \"na\\e[2Jme\\n::error::x\": 1 }\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    let run = support::trueup(dir.path(), &["check", "-p", "policies", "bad.yaml"]).unwrap();
    assert_eq!(run.code, Some(2), "{}", run.describe());
    safe_run(dir.path(), &["check", "-p", "policies", "bad.yaml"], false);
}

#[test]
fn junit_is_well_formed_whatever_the_message_holds() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let run = support::trueup(
        dir.path(),
        &["check", "-p", "policies", "snap.yaml", "-f", "junit"],
    )
    .unwrap();
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let doc = roxmltree::Document::parse(&run.stdout)
        .unwrap_or_else(|e| panic!("junit is not well-formed: {e}\n{}", run.stdout));
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    let text = failure.text().unwrap_or_default();
    assert!(text.contains("forged"), "{text}");
    assert!(
        !text.contains(['\u{fffe}', '\u{ffff}', '\u{1b}', '\0']),
        "{text:?}"
    );
    for format in ["json", "sarif"] {
        let run = support::trueup(
            dir.path(),
            &["check", "-p", "policies", "snap.yaml", "-f", format],
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("`-f {format}` is not JSON: {e}"));
        let s = v.to_string();
        assert!(s.contains("forged"), "`-f {format}` keeps the message");
    }
}

/// Runs `trueup check -o OUT` under `umask 027` in the fixture.
#[cfg(unix)]
fn check_to(dir: &Path, out: &str) -> std::process::Output {
    let script = format!(
        "umask 027; exec '{}' check -p policies snap.yaml -o {out}",
        env!("CARGO_BIN_EXE_trueup")
    );
    std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir)
        .output()
        .unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Regression: `-o` over an existing report left it 0600, the mode of the
/// temporary it was renamed from.
#[cfg(unix)]
#[test]
fn a_replaced_report_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    for wanted in [0o644, 0o640] {
        let out = dir.path().join("report.txt");
        std::fs::write(&out, "old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(wanted)).unwrap();
        let run = check_to(dir.path(), "report.txt");
        assert_eq!(run.status.code(), Some(1), "{run:?}");
        assert!(std::fs::read_to_string(&out).unwrap().contains("summary:"));
        assert_eq!(mode(&out), wanted, "mode {wanted:o} kept");
    }
    // A new file: 0666 less the umask (027).
    let run = check_to(dir.path(), "new.txt");
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_eq!(mode(&dir.path().join("new.txt")), 0o640);
}

/// Regression: a run killed during `-o` left a `.tmpXXXXXX` file beside the
/// output, and every such run added one more.
#[cfg(unix)]
#[test]
fn a_temporary_left_by_a_killed_run_is_removed_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    // Process ids never go above 2^22 on Linux: this writer is gone.
    let stale = dir.path().join(".report.txt.trueup-tmp-4999999");
    std::fs::write(&stale, vec![b'x'; 1 << 20]).unwrap();
    // Another output's temporary is not this run's to remove.
    let other = dir.path().join(".other.txt.trueup-tmp-4999999");
    std::fs::write(&other, "x").unwrap();
    let run = check_to(dir.path(), "report.txt");
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(!stale.exists(), "the stale temporary is gone");
    assert!(other.exists(), "another output's temporary stays");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".report.txt"))
        .collect();
    assert!(left.is_empty(), "no temporary left: {left:?}");
}

/// The same, with a real run killed while it writes: `trueup generate -o`
/// of a large snapshot gets SIGKILL as soon as its temporary appears.
/// Regression: `generate -o` wrote straight into FILE, so a kill left a
/// partial snapshot under the name of a whole one.
#[cfg(unix)]
#[test]
fn a_run_killed_while_writing_leaves_a_temporary_the_next_run_removes() {
    let dir = tempfile::tempdir().unwrap();
    let temps = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".big.yaml.trueup-tmp-"))
            })
            .collect()
    };
    let mut caught = false;
    for _ in 0..5 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trueup"))
            .args(["generate", "--installations", "300000", "-o", "big.yaml"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(60) {
            if !temps(dir.path()).is_empty() {
                let _ = child.kill();
                caught = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let _ = child.kill();
        let _ = child.wait();
        if caught && !temps(dir.path()).is_empty() {
            break;
        }
        caught = false;
    }
    assert!(caught, "no run was caught writing its temporary");
    let run = support::trueup(
        dir.path(),
        &["generate", "--installations", "10", "-o", "big.yaml"],
    )
    .unwrap();
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(
        temps(dir.path()),
        Vec::<PathBuf>::new(),
        "the killed run's temporary is gone"
    );
}
