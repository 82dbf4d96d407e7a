//! Runs that would pass without checking anything are errors instead: a test
//! case about a rule the playbook does not have, a case that asserts
//! nothing, `--run` matching no case, a playbook with no rule, and empty
//! input files. Each runs the built binary in a temporary playbook.

mod support;

use std::path::Path;

use support::{trueup, Run};

const RULE: &str = "const TITLE = \"t\";\nconst DESCRIPTION = \"d\";\nfn check(inv) { [] }\n";
const SNAPSHOT: &str = "trueup: 1\nsnapshot: { id: s1, taken_at: 2026-11-01 }\n";

fn write(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("makes folders");
    std::fs::write(path, text).expect("writes the file");
}

/// A playbook with rules `dev-critical` and `overuse`, a snapshot, and the
/// given test file.
fn playbook(cases: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(dir.path(), "policies/dev-critical.rhai", RULE);
    write(dir.path(), "policies/overuse.rhai", RULE);
    write(dir.path(), "s.yaml", SNAPSHOT);
    write(dir.path(), "policies/tests/t.yaml", cases);
    dir
}

fn assert_error(run: &Run, line: &str) {
    assert_eq!(run.code, Some(2), "expected exit 2\n{}", run.describe());
    assert!(
        run.stderr.lines().any(|l| l == line),
        "expected the line\n{line}\n{}",
        run.describe()
    );
}

#[test]
fn a_want_naming_no_rule_is_an_error_with_the_nearest_rule() {
    let dir = playbook(
        "cases:\n  - note: typo\n    snapshot: ../../s.yaml\n    want:\n      - { rule: dev-critcal }\n      - { rule: overuse }\n",
    );
    let run = trueup(dir.path(), &["test"]).expect("trueup finishes");
    assert_error(
        &run,
        "error: policies/tests/t.yaml:5: no rule `dev-critcal`; did you mean `dev-critical`",
    );
}

#[test]
fn an_absent_naming_no_rule_is_an_error_at_its_entry() {
    let dir = playbook(
        "cases:\n  - note: typo\n    snapshot: ../../s.yaml\n    absent:\n      - overuse\n      - unrelated-thing\n",
    );
    let run = trueup(dir.path(), &["test"]).expect("trueup finishes");
    assert_error(
        &run,
        "error: policies/tests/t.yaml:6: no rule `unrelated-thing` in the playbook (its rules: dev-critical, overuse)",
    );
}

#[test]
fn a_case_that_checks_nothing_is_an_error_at_its_line() {
    let dir = playbook(
        "cases:\n  - note: fine\n    snapshot: ../../s.yaml\n    exact: true\n  - note: nothing\n    snapshot: ../../s.yaml\n    want: []\n",
    );
    let run = trueup(dir.path(), &["test"]).expect("trueup finishes");
    assert_error(
        &run,
        "error: policies/tests/t.yaml:5:5: test case checks nothing: give `want`, `absent` or `exact: true`",
    );
    assert!(!run.stderr.contains("t.yaml:2:"), "{}", run.describe());
}

#[test]
fn run_matching_no_case_is_an_error() {
    let dir =
        playbook("cases:\n  - note: quiet\n    snapshot: ../../s.yaml\n    absent: [overuse]\n");
    let run = trueup(dir.path(), &["test", "--run", "quiet"]).expect("trueup finishes");
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let run = trueup(dir.path(), &["test", "--run", "loud"]).expect("trueup finishes");
    assert_error(
        &run,
        "error: no test case matches `--run loud` (it matches a case's file, line or note)",
    );
}

#[test]
fn a_playbook_without_rules_is_an_error_for_check_lint_and_test() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(dir.path(), "policies/route.rhai", "fn route(f) { () }\n");
    write(dir.path(), "s.yaml", SNAPSHOT);
    let line =
        "error: policies: no rule in this policies folder: no script defines `fn check(inv)`";
    for args in [&["check", "s.yaml"][..], &["lint"], &["test"]] {
        let run = trueup(dir.path(), args).expect("trueup finishes");
        assert_error(&run, line);
    }
}

#[test]
fn empty_and_comment_only_files_are_errors_at_line_one() {
    for text in ["", "# nothing yet\n\n"] {
        let dir = playbook("");
        write(dir.path(), "empty.yaml", text);
        write(dir.path(), "policies/tests/t.yaml", text);
        let cases = [
            (
                &["position", "empty.yaml"][..],
                "error: empty.yaml:1: empty snapshot",
            ),
            (
                &["check", "s.yaml", "--waivers", "empty.yaml"],
                "error: empty.yaml:1: empty waivers file",
            ),
            (&["test"], "error: policies/tests/t.yaml:1: empty test file"),
            (
                &["simulate", "empty.yaml"],
                "error: empty.yaml:1: empty scenario",
            ),
        ];
        for (args, start) in cases {
            let run = trueup(dir.path(), args).expect("trueup finishes");
            assert_eq!(run.code, Some(2), "{args:?}\n{}", run.describe());
            assert!(
                run.stderr.lines().any(|l| l.starts_with(start)),
                "{args:?} on {text:?}: expected a line starting `{start}`\n{}",
                run.describe()
            );
        }
    }
}

#[test]
fn a_playbook_with_no_cases_at_all_is_an_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write(dir.path(), "policies/overuse.rhai", RULE);
    let run = trueup(dir.path(), &["test"]).expect("trueup finishes");
    assert_error(
        &run,
        "error: policies: no test cases (add `tests/*.yaml` with `cases:`, or scenarios with `expect:`)",
    );
}

#[test]
fn a_test_file_with_no_cases_is_an_error() {
    let dir = playbook("cases: []\n");
    let run = trueup(dir.path(), &["test"]).expect("trueup finishes");
    assert_error(
        &run,
        "error: policies/tests/t.yaml:1:8: `cases` is empty: a test file needs at least one case",
    );
}
