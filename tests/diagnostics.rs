//! How much trueup says when input is very wrong: at most fifty diagnostics
//! a file and a count of the rest, in time linear in the input, whatever the
//! length of its lines. Each test runs the built binary as a user does.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::trueup;

const HEADER: &str = "trueup: 1\nsnapshot: { id: s1, taken_at: 2026-11-01 }\n";

/// `n` installations with a bad date, all on one line of a flow list.
fn bad_dates_on_one_line(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{{ device: d{i}, product: p, installed_on: 2026-13-{:02} }}",
                i % 28 + 1
            )
        })
        .collect();
    format!("{HEADER}installations: [{}]\n", items.join(", "))
}

fn errors(stderr: &str, file: &str) -> usize {
    let prefix = format!("error: {file}:");
    stderr
        .lines()
        .filter(|l| {
            l.strip_prefix(&prefix)
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("writes the file");
}

/// Regression: rendering each diagnostic walked its whole source line and
/// every diagnostic kept a copy of it, so 200 KB of errors on one line took
/// over 20 seconds and printed hundreds of megabytes.
#[test]
fn many_errors_on_one_long_line_cost_a_screenful() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = bad_dates_on_one_line(4_000);
    assert!(text.len() > 200_000, "{} bytes", text.len());
    write(dir.path(), "s.yaml", &text);
    let started = Instant::now();
    let run = trueup(dir.path(), &["position", "s.yaml"]).expect("trueup finishes");
    let took = started.elapsed();
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert_eq!(errors(&run.stderr, "s.yaml"), 50, "{}", run.describe());
    assert!(
        run.stderr.lines().any(|l| l
            == "error: s.yaml: and 3,950 more like this: field `installed_on` must be a date (YYYY-MM-DD)"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.len() < 30_000,
        "{} bytes of stderr",
        run.stderr.len()
    );
    assert!(
        run.stderr.lines().all(|l| l.chars().count() < 200),
        "every line is cut around its caret\n{}",
        run.describe()
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// The cap is per file: each bad file gets its fifty and its own count.
#[test]
fn each_file_gets_its_own_fifty() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(dir.path(), "a.yaml", &bad_dates_on_one_line(80));
    write(dir.path(), "b.yaml", &bad_dates_on_one_line(120));
    let run = trueup(dir.path(), &["position", "a.yaml", "b.yaml"]).expect("trueup finishes");
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert_eq!(errors(&run.stderr, "a.yaml"), 50, "{}", run.describe());
    assert_eq!(errors(&run.stderr, "b.yaml"), 50, "{}", run.describe());
    assert!(run.stderr.contains("error: a.yaml: and 30 more like this"));
    assert!(run.stderr.contains("error: b.yaml: and 70 more like this"));
}

/// A report that carries errors carries them capped the same way, with the
/// count of the rest as `suppressed`.
#[test]
fn json_errors_are_capped_too() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    write(dir.path(), "s.yaml", &bad_dates_on_one_line(500));
    let policies = root.join("policies");
    let run = trueup(
        dir.path(),
        &[
            "check",
            "s.yaml",
            "-f",
            "json",
            "-p",
            policies.to_str().expect("utf-8 path"),
        ],
    )
    .expect("trueup finishes");
    assert_eq!(run.code, Some(2), "{}", run.describe());
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json on stdout");
    let errors = doc["errors"].as_array().expect("an errors list");
    assert_eq!(errors.len(), 51, "{}", run.describe());
    assert_eq!(errors[50]["suppressed"], 450);
    assert_eq!(errors[50]["line"], 0);
    assert!(errors[..50].iter().all(|e| e.get("suppressed").is_none()));
}

/// Regression: lint attached each warning's source line by walking the
/// script from its start, and kept the whole line in every warning.
#[test]
fn lint_warnings_on_one_long_line_are_cut_and_capped() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let tests: Vec<String> = (0..12_000)
        .map(|i| format!("if x > {} {{ x = 0; }}", i + 101))
        .collect();
    let script = format!(
        "const TITLE = \"t\";\nconst DESCRIPTION = \"d\";\nfn check(inv) {{\n    let x = 1;\n    {}\n    []\n}}\n",
        tests.join(" ")
    );
    assert!(script.len() > 200_000);
    std::fs::create_dir(dir.path().join("policies")).expect("makes the folder");
    write(&dir.path().join("policies"), "long.rhai", &script);
    let run = trueup(dir.path(), &["lint"]).expect("trueup finishes");
    let warnings = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: policies/long.rhai:5:"))
        .count();
    assert_eq!(warnings, 50, "{}", run.describe());
    assert!(
        run.stderr
            .contains("policies/long.rhai: and 11,950 more like this: magic number `…` in a comparison; name it as a top-level `const`"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.len() < 30_000,
        "{} bytes of stderr",
        run.stderr.len()
    );
}

/// Regression: the count of errors in a report's verdict and in the `-o`
/// line counted the cap's summary as one error, so 61 errors read as 51.
#[test]
fn verdicts_count_every_error_not_the_ones_shown() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(dir.path(), "s.yaml", &bad_dates_on_one_line(61));
    let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let policies = policies.to_str().expect("a UTF-8 path");
    let run = trueup(dir.path(), &["check", "-p", policies, "s.yaml"]).expect("trueup finishes");
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stdout
            .contains("61 errors: the run could not be trusted"),
        "{}",
        run.describe()
    );
    let run = trueup(
        dir.path(),
        &[
            "check", "-p", policies, "s.yaml", "-f", "json", "-o", "r.json",
        ],
    )
    .expect("trueup finishes");
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(run.stderr.contains("61 errors"), "{}", run.describe());
}
