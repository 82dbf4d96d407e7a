//! Script errors in plain words: what Rhai says (Rust type names, signature
//! dumps, "Expecting ';'" at the end of the file) never reaches a policy
//! author. Each case is one small rule in a temporary playbook, run with
//! `trueup lint` or `trueup check` as an author would; the message must be
//! the plain one, on the line that is wrong.

mod support;

use std::path::Path;

use support::trueup;

const HEAD: &str = "const TITLE = \"t\";\nconst DESCRIPTION = \"d\";\n";
const SNAPSHOT: &str = "trueup: 1\nsnapshot: { id: s1, taken_at: 2026-11-01 }\n";

/// Words that belong to Rust or Rhai, never to a message.
const INTERNALS: &[&str] = &[
    "rhai::",
    "ImmutableString",
    "&str",
    "i64",
    "f64",
    "Map",
    "Array",
    "Dynamic",
    "Expecting",
    "Function not found",
    "getter is not registered",
];

struct Case {
    note: &'static str,
    /// Lines after `TITLE` and `DESCRIPTION` (which are lines 1 and 2).
    script: &'static str,
    command: &'static str,
    /// `line:col` of the diagnostic in `policies/r.rhai`.
    at: &'static str,
    message: &'static str,
}

const CASES: &[Case] = &[
    Case {
        note: "assigning to a constant inside a function",
        script: "const LIMIT = 1;\nfn check(inv) {\n    LIMIT = 2;\n    []\n}\n",
        command: "check",
        at: "5:5",
        message: "while evaluating rule `r`: cannot assign to constant `LIMIT`; copy it into a variable with `let` to change it",
    },
    Case {
        note: "assigning to a constant at the top level",
        script: "const LIMIT = 1;\nLIMIT = 2;\nfn check(inv) { [] }\n",
        command: "lint",
        at: "4:1",
        message: "syntax error: cannot assign to constant `LIMIT`; copy it into a variable with `let` to change it",
    },
    Case {
        note: "changing a constant list with a method",
        script: "const SEEN = [];\nfn check(inv) {\n    SEEN.push(1);\n    []\n}\n",
        command: "check",
        at: "5:10",
        message: "cannot change a constant with `push`; copy it into a variable with `let` to change it",
    },
    Case {
        note: "a missing `}` points at the `{` left open, not the end of the file",
        script: "fn check(inv) {\n    let out = [];\n    if true {\n        out.push(1);\n    out\n}\n\n",
        command: "lint",
        at: "3:15",
        message: "syntax error: this `{` is never closed; a `}` is missing",
    },
    Case {
        note: "a brace inside a string or comment does not count",
        script: "fn check(inv) {\n    let s = \"}\"; // }\n    if true {\n        s\n    \n",
        command: "lint",
        at: "5:13",
        message: "syntax error: this `{` is never closed; a `}` is missing",
    },
    Case {
        note: "a block left open before the next function points at its `{`",
        script: "fn helper(x) {\n    if x > 1 {\n        x\n    }\n\nfn check(inv) {\n    []\n}\n",
        command: "lint",
        at: "3:14",
        message: "syntax error: this `{` is not closed before the next `fn`; a `}` is missing",
    },
    Case {
        note: "an unknown variable",
        script: "fn check(inv) {\n    let n = limit + 1;\n    []\n}\n",
        command: "lint",
        at: "4:13",
        message: "syntax error: variable `limit` is not defined (declare it with `let`, or as a top-level `const`)",
    },
    Case {
        note: "a function called with the wrong argument types lists them in words",
        script: "fn check(inv) {\n    [finding(5)]\n}\n",
        command: "check",
        at: "4:6",
        message: "no function `finding` that takes (a whole number) (see docs/policy-api.md)",
    },
    Case {
        note: "a method that does not exist on text",
        script: "fn check(inv) {\n    let s = \"x\";\n    s.frobnicate(1, [2], #{ a: 3 });\n    []\n}\n",
        command: "check",
        at: "5:7",
        message: "no method `frobnicate` on text that takes (a whole number, a list, a map) (see docs/policy-api.md)",
    },
    Case {
        note: "a method the inventory does not have",
        script: "fn check(inv) {\n    let p = inv.products();\n    []\n}\n",
        command: "check",
        at: "4:17",
        message: "no method `products` on the inventory (see docs/policy-api.md)",
    },
    Case {
        note: "a property the inventory does not have",
        script: "fn check(inv) {\n    let d = inv.taken_at;\n    []\n}\n",
        command: "check",
        at: "4:17",
        message: "the inventory has no property `taken_at` (see docs/policy-api.md)",
    },
    Case {
        note: "an operator on values it does not apply to",
        script: "fn check(inv) {\n    let n = 1 + #{ x: 1 };\n    []\n}\n",
        command: "check",
        at: "4:15",
        message: "cannot apply `+` to a whole number and a map",
    },
    Case {
        note: "subtracting from text",
        script: "fn check(inv) {\n    let n = \"a\" - 1;\n    []\n}\n",
        command: "check",
        at: "4:17",
        message: "cannot apply `-` to text and a whole number",
    },
    Case {
        note: "indexing a map by a number",
        script: "fn check(inv) {\n    let m = #{ a: 1 };\n    let v = m[1];\n    []\n}\n",
        command: "check",
        at: "5:15",
        message: "expected text, found a whole number",
    },
    Case {
        note: "a rule returning a map instead of a list",
        script: "fn check(inv) {\n    #{ a: 1 }\n}\n",
        command: "check",
        at: "3:1",
        message: "`check` must return an array of findings, returned a map",
    },
    Case {
        note: "a list item that is not a finding",
        script: "fn check(inv) {\n    [5]\n}\n",
        command: "check",
        at: "3:1",
        message: "`check` returned a whole number where a finding was expected",
    },
    Case {
        note: "assigning into a constant map",
        script: "const W = #{ low: 1 };\nfn check(inv) {\n    W.low = 0;\n    []\n}\n",
        command: "check",
        at: "5:5",
        message: "cannot assign into a constant map or list; copy it into a variable with `let` to change it",
    },
    Case {
        note: "reading a property of `()`",
        script: "fn check(inv) {\n    let e = inv.entitlement(\"none\");\n    let d = e.maintenance_end + 1;\n    []\n}\n",
        command: "check",
        at: "5:15",
        message: "cannot read property `maintenance_end` of `()`; check the value is not `()` first",
    },
    Case {
        note: "a closure using the value its method is called on",
        script: "fn check(inv) {\n    inv.positions().filter(|r| inv.install_count(r.product) > 1);\n    []\n}\n",
        command: "check",
        at: "3:1",
        message: "`filter` is called on a value that its own closure also uses; read the value into a variable with `let` first",
    },
    Case {
        note: "an index past the end of a list",
        script: "fn check(inv) {\n    let l = [1, 2];\n    l[5]\n}\n",
        command: "check",
        at: "5:7",
        message: "index 5 is out of bounds for a list of 2",
    },
    Case {
        note: "a negative age for stale devices",
        script: "fn check(inv) {\n    inv.stale_devices(-1);\n    []\n}\n",
        command: "check",
        at: "4:9",
        message: "`stale_devices(-1)`: days must be 0 or more",
    },
];

fn run_case(c: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path();
    std::fs::create_dir(root.join("policies")).map_err(|e| e.to_string())?;
    std::fs::write(root.join("policies/r.rhai"), format!("{HEAD}{}", c.script))
        .map_err(|e| e.to_string())?;
    std::fs::write(root.join("s.yaml"), SNAPSHOT).map_err(|e| e.to_string())?;
    let args: &[&str] = match c.command {
        "check" => &["check", "s.yaml"],
        _ => &["lint"],
    };
    let run = trueup(Path::new(root), args)?;
    let mut problems = Vec::new();
    if run.code != Some(2) && !(c.command == "lint" && run.code == Some(1)) {
        problems.push(format!("unexpected exit code {:?}", run.code));
    }
    let prefix = format!("error: policies/r.rhai:{}: ", c.at);
    if !run
        .stderr
        .lines()
        .any(|l| l.starts_with(&prefix) && l.contains(c.message))
    {
        problems.push(format!("no line `{prefix}...{}`", c.message));
    }
    for word in INTERNALS {
        if run.stderr.contains(word) {
            problems.push(format!("`{word}` reached the user"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{}", problems.join("\n"), run.describe()))
    }
}

#[test]
fn script_errors_are_in_plain_words_on_the_real_line() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|c| run_case(c).err().map(|why| format!("{}:\n{why}", c.note)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

/// Regression: a rule that fails at run time failed every test case, and
/// the same error was printed once per case.
#[test]
fn one_runtime_error_in_many_cases_is_printed_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path();
    std::fs::create_dir_all(root.join("policies/tests")).expect("makes folders");
    std::fs::write(
        root.join("policies/r.rhai"),
        format!("{HEAD}fn check(inv) {{\n    let n = 1 + #{{ x: 1 }};\n    []\n}}\n"),
    )
    .expect("writes the rule");
    std::fs::write(root.join("s.yaml"), SNAPSHOT).expect("writes the snapshot");
    let cases: String = (1..=8)
        .map(|i| format!("  - note: case {i}\n    snapshot: ../../s.yaml\n    absent: [r]\n"))
        .collect();
    std::fs::write(
        root.join("policies/tests/t.yaml"),
        format!("cases:\n{cases}"),
    )
    .expect("writes the cases");
    let run = trueup(root, &["test"]).expect("trueup finishes");
    assert_eq!(run.code, Some(2), "{}", run.describe());
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors,
        ["error: policies/r.rhai:4:15: while evaluating rule `r`: cannot apply `+` to a whole number and a map \
          (in 8 cases: case 1, case 2, case 3, case 4, case 5, ... and 3 more)"],
        "{}",
        run.describe()
    );
}
