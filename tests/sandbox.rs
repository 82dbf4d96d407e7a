//! Hostile policies: scripts that try to escape the sandbox, exhaust memory,
//! time or the stack, flood the terminal, or keep state between calls.
//!
//! Each `tests/cases/sandbox/*.yaml` file holds `cases:`, each a `note`, the
//! `scripts` of a playbook (file name → source; `script:` is one script named
//! `case.rhai`), optional extra `args` for `trueup check`, the expected
//! `exit` code, and for exit 2 the expected `error:` (`file`, default
//! `case.rhai`; `line`; `message` substring). A case that shows a script
//! harmless gives `exit: 0` or `1` and may ask for `stdout` fragments.
//!
//! Every case runs the built binary as `trueup check acme.yaml -p policies`
//! in a temporary directory, killed after [`support::HANG_GUARD`], and must
//! never panic or die of a signal. Every failing case is reported, with its
//! note, before the test fails. The tests below the case runner need more
//! than one case file can say: a short time limit, and many runs.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{case_files, cases, get, items, keys, trueup, Case};
use trueup::engine::{evaluate, EvalOptions};
use trueup::policy::{Limits, Playbook};
use trueup::yaml::{parse_document, Node};

const ACME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/acme.yaml");

/// Writes a playbook of `scripts` (file name, source) into `dir/policies`.
fn write_playbook(dir: &Path, scripts: &[(String, String)]) -> Result<(), String> {
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).map_err(|e| format!("cannot make policies: {e}"))?;
    for (name, source) in scripts {
        std::fs::write(policies.join(name), source)
            .map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    Ok(())
}

fn text<'n>(case: &'n Case, key: &str) -> Option<&'n str> {
    get(case.node, key).and_then(Node::as_str)
}

/// The scripts of a case: `script:` or `scripts:`.
fn scripts(case: &Case) -> Result<Vec<(String, String)>, String> {
    match (text(case, "script"), get(case.node, "scripts")) {
        (Some(source), None) => Ok(vec![("case.rhai".into(), source.into())]),
        (None, Some(map)) => {
            let names = keys(map);
            if names.is_empty() {
                return Err("`scripts:` must map file names to sources".into());
            }
            names
                .into_iter()
                .map(|name| {
                    let source = get(map, name)
                        .and_then(Node::as_str)
                        .ok_or_else(|| format!("script `{name}` has no source text"))?;
                    Ok((name.to_string(), source.to_string()))
                })
                .collect()
        }
        _ => Err("a case needs exactly one of `script:` and `scripts:`".into()),
    }
}

/// Runs one case; `Err` says what went wrong.
fn run_case(case: &Case) -> Result<(), String> {
    let scripts = scripts(case)?;
    let exit: i32 = text(case, "exit")
        .and_then(|s| s.parse().ok())
        .ok_or("a case needs `exit:` (0, 1 or 2)")?;
    let error = get(case.node, "error");
    if (exit == 2) != error.is_some() {
        return Err("`error:` is required with `exit: 2` and only then".into());
    }
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    write_playbook(dir.path(), &scripts)?;
    std::fs::copy(ACME, dir.path().join("acme.yaml"))
        .map_err(|e| format!("cannot copy the snapshot: {e}"))?;
    let mut args = vec!["check", "acme.yaml", "-p", "policies"];
    let extra: Vec<&str> = get(case.node, "args")
        .map(|a| items(a).iter().filter_map(Node::as_str).collect())
        .unwrap_or_default();
    args.extend(extra);
    let started = Instant::now();
    let run = trueup(dir.path(), &args)?;
    let took = started.elapsed();

    let mut problems = Vec::new();
    if run.stderr.contains("panicked") || run.code.is_none() {
        problems.push("trueup panicked or was killed by a signal".to_string());
    }
    if run.code != Some(exit) {
        problems.push(format!("expected exit {exit}, got {:?}", run.code));
    }
    if let Some(error) = error {
        let file = get(error, "file")
            .and_then(Node::as_str)
            .unwrap_or("case.rhai");
        let line = get(error, "line")
            .and_then(Node::as_str)
            .ok_or("`error:` needs `line`")?;
        let message = get(error, "message")
            .and_then(Node::as_str)
            .ok_or("`error:` needs `message`")?;
        let prefix = format!("error: policies/{file}:{line}:");
        let found = run
            .stderr
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(message));
        if !found {
            problems.push(format!(
                "missing an error line starting `{prefix}` that says `{message}`"
            ));
        }
    }
    if let Some(want) = get(case.node, "stdout") {
        for fragment in items(want).iter().filter_map(Node::as_str) {
            if !run.stdout.contains(fragment) {
                problems.push(format!("stdout lacks `{fragment}`"));
            }
        }
    }
    if let Some(max) = text(case, "max_stderr_bytes").and_then(|s| s.parse::<usize>().ok()) {
        if run.stderr.len() > max {
            problems.push(format!(
                "stderr has {} bytes, more than {max}",
                run.stderr.len()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n(took {took:.1?})\n{}",
            problems.join("\n"),
            run.describe()
        ))
    }
}

#[test]
fn sandbox_cases() {
    const ALLOWED: &[&str] = &[
        "note",
        "script",
        "scripts",
        "args",
        "exit",
        "error",
        "stdout",
        "max_stderr_bytes",
    ];
    let mut failures = Vec::new();
    let mut count = 0;
    for file in case_files("sandbox") {
        let source = std::fs::read_to_string(&file).expect("readable case file");
        let doc = parse_document(&file, &source)
            .unwrap_or_else(|d| panic!("{d:?}"))
            .expect("a document");
        let list = cases(&file, &doc, ALLOWED).unwrap_or_else(|e| panic!("{e}"));
        for case in list {
            count += 1;
            if let Err(e) = run_case(&case) {
                failures.push(format!("{} ({}):\n{e}", case.note, case.origin));
            }
        }
    }
    assert!(count > 0, "no sandbox cases");
    assert!(
        failures.is_empty(),
        "{} of {count} sandbox cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Loads a one-script playbook under `limits` and evaluates it on the Acme
/// example, returning the first error's `file:line: message`.
fn evaluate_error(source: &str, limits: Limits) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_playbook(dir.path(), &[("slow.rhai".into(), source.into())]).expect("playbook");
    let playbook = Playbook::load(&dir.path().join("policies"), limits).expect("it compiles");
    let snapshot = trueup::inventory::load::load(Path::new(ACME)).expect("the example loads");
    match evaluate(&playbook, Arc::new(snapshot), EvalOptions::default()) {
        Ok(_) => panic!("the script was not stopped"),
        Err(d) => {
            let d = &d.0[0];
            format!("{}:{}: {}", d.file.display(), d.line, d.message)
        }
    }
}

/// A script that runs for ever without using up its operations (here, a
/// huge operations limit) is stopped by the run's time limit, promptly, with
/// an error that names the script and says why.
#[test]
fn the_time_limit_stops_an_endless_loop() {
    let limits = Limits {
        max_operations: u64::MAX / 2,
        max_run_time: Duration::from_millis(500),
        ..Limits::default()
    };
    let started = Instant::now();
    let error = evaluate_error("fn check(inv) {\n    loop { }\n}\n", limits);
    assert!(started.elapsed() < Duration::from_secs(10), "stopped late");
    assert!(
        error.contains("slow.rhai:") && error.contains("the time limit of one run"),
        "{error}"
    );
}

/// Regression: `contains` on a huge array is one operation that takes long,
/// so counting operations alone let such a loop run for minutes.
#[test]
fn the_time_limit_stops_slow_operations_on_huge_values() {
    let limits = Limits {
        max_run_time: Duration::from_millis(500),
        ..Limits::default()
    };
    let script = "fn check(inv) {\n    let a = [];\n    a.pad(5000000, 1);\n    for i in 0..100000 { a.contains(2); }\n    []\n}\n";
    let started = Instant::now();
    let error = evaluate_error(script, limits);
    assert!(started.elapsed() < Duration::from_secs(10), "stopped late");
    assert!(error.contains("the time limit of one run"), "{error}");
}

/// Regression: a closure kept in a constant shared its captured variables
/// between calls and threads, so output changed from run to run. Such a
/// constant is refused; a playbook with plain closures and local state, run
/// twenty times on a snapshot with many products, prints the same bytes
/// every time.
#[test]
fn runs_are_deterministic_whatever_a_script_does() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let gen = trueup(
        dir.path(),
        &["generate", "--installations", "20000", "-o", "big.yaml"],
    )
    .expect("generate");
    assert_eq!(gen.code, Some(0), "{}", gen.describe());
    let counter = "const NEXT = { let n = 0; || { n += 1; n } };\n\
        fn check(inv) {\n    inv.installed_products().map(|p| finding(#{ subject: #{ kind: \"product\", id: p }, severity: \"low\", message: `${NEXT.call()}` }))\n}\n";
    let plain = "const LABEL = |n| `seen ${n}`;\n\
        fn check(inv) {\n    let n = 0;\n    let out = [];\n    for p in inv.installed_products() {\n        n += 1;\n        out.push(finding(#{ subject: #{ kind: \"product\", id: p }, severity: \"low\", message: LABEL.call(n) }));\n    }\n    out\n}\n";
    let cases = [
        ("counter.rhai", counter, Some(2)),
        ("plain.rhai", plain, Some(0)),
    ];
    for (name, source, exit) in cases {
        let policies = dir.path().join(name.replace(".rhai", ""));
        std::fs::create_dir_all(&policies).expect("policies");
        // Several rules, so that they run on several threads at once.
        for i in 0..4 {
            let source = source.replace("fn check", &format!("const ID = \"r{i}\";\nfn check"));
            std::fs::write(policies.join(format!("{i}-{name}")), source).expect("script");
        }
        let policies = policies.to_string_lossy().into_owned();
        let args = [
            "check",
            "big.yaml",
            "-p",
            &policies,
            "-f",
            "json",
            "--fail-on",
            "never",
        ];
        let first = trueup(dir.path(), &args).expect("first run");
        assert_eq!(first.code, exit, "{name}: {}", first.describe());
        if exit == Some(2) {
            assert!(
                first.stderr.contains("captures variables"),
                "{name}: {}",
                first.describe()
            );
        } else {
            assert!(
                first.stdout.matches("\"rule\"").count() > 4 * 40,
                "{name}: too few findings to show anything\n{}",
                first.describe()
            );
        }
        for i in 1..20 {
            let again = trueup(dir.path(), &args).expect("another run");
            assert_eq!(again.code, first.code, "{name}: run {i}");
            assert!(
                again.stdout == first.stdout && again.stderr == first.stderr,
                "{name}: run {i} printed something else\n{}",
                again.describe()
            );
        }
    }
}

/// Nesting an array or a map in itself copies it whole each time; the
/// copies stop at the size limit, or at the time limit on a slow machine,
/// never in an allocation failure that aborts the process.
#[test]
fn nesting_a_value_in_itself_ends_at_a_limit() {
    let limits = Limits {
        max_run_time: Duration::from_secs(5),
        ..Limits::default()
    };
    let cases = [
        ("a = [a, a]", "size of array/BLOB grew past its size limit"),
        (
            "a = #{ x: a, y: a }",
            "size of object map grew past its size limit",
        ),
    ];
    for (step, limit) in cases {
        let script = format!(
            "fn check(inv) {{\n    let a = [1];\n    for i in 0..64 {{ {step}; }}\n    []\n}}\n"
        );
        let error = evaluate_error(&script, limits);
        assert!(
            error.contains(limit) || error.contains("the time limit of one run"),
            "{step}: {error}"
        );
    }
}

/// A million findings: the operations limit stops the rule first; with the
/// operations limit lifted, collecting them (Rhai checks the size of the
/// whole list on every push) ends at the time limit.
#[test]
fn a_million_findings_end_at_a_limit() {
    let script = "fn check(inv) {\n    let out = [];\n    for i in 0..1000000 {\n        out.push(finding(#{ subject: #{ kind: \"product\", id: `p${i}` }, severity: \"low\", message: \"m\" }));\n    }\n    out\n}\n";
    for max_operations in [Limits::default().max_operations, u64::MAX / 2] {
        let limits = Limits {
            max_operations,
            max_run_time: Duration::from_secs(2),
            ..Limits::default()
        };
        let error = evaluate_error(script, limits);
        assert!(error.contains("slow.rhai:1: "), "{error}");
        assert!(
            error.contains("stopped after 1,000,000 operations")
                || error.contains("the time limit of one run"),
            "{error}"
        );
    }
}

/// `--time-limit SECONDS` sets the watchdog from the command line, on the
/// commands that run scripts: an endless loop under a huge operations limit
/// stops after that long, naming the script, with exit 2.
#[test]
fn time_limit_flag_stops_the_scripts_of_a_run() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("policies folder");
    std::fs::write(
        policies.join("spin.rhai"),
        "fn check(inv) {\n    loop { }\n}\n",
    )
    .expect("script");
    std::fs::write(
        dir.path().join("s.yaml"),
        "trueup: 1\nsnapshot: { id: s-1, taken_at: 2026-11-01 }\n",
    )
    .expect("snapshot");
    let started = Instant::now();
    let run = trueup(
        dir.path(),
        &[
            "check",
            "s.yaml",
            "--max-operations",
            "4000000000000000000",
            "--time-limit",
            "1",
        ],
    )
    .expect("trueup finishes");
    assert!(started.elapsed() < Duration::from_secs(30), "stopped late");
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains("policies/spin.rhai:") && run.stderr.contains("stopped after 1 s"),
        "{}",
        run.describe()
    );
    let bad = trueup(dir.path(), &["check", "s.yaml", "--time-limit", "0"]).expect("finishes");
    assert_eq!(bad.code, Some(2), "{}", bad.describe());
}

/// Regression: a script's top level (where its constants are computed) ran
/// under the default 60 s watchdog whatever `--time-limit` said, so a slow
/// loop there (each push re-checks the size of a growing array) held a run
/// for up to a minute.
#[test]
fn time_limit_flag_stops_a_slow_top_level() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("policies folder");
    // Nested arrays make every size check walk ten times as much.
    std::fs::write(
        policies.join("slow.rhai"),
        "let big = []; for i in 0..1000000 { big.push([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); }\nfn check(inv) { [] }\n",
    )
    .expect("script");
    std::fs::write(
        dir.path().join("s.yaml"),
        "trueup: 1\nsnapshot: { id: s-1, taken_at: 2026-11-01 }\n",
    )
    .expect("snapshot");
    let run = trueup(dir.path(), &["check", "s.yaml", "--time-limit", "1"]).expect("finishes");
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains("policies/slow.rhai:1") && run.stderr.contains("stopped after 1 s"),
        "{}",
        run.describe()
    );
}
