//! Hostile and broken snapshot files, run through the built binary as
//! `trueup position FILE`. Each must be refused with exit 2 and a message
//! naming the file, never a panic, and promptly: every run is killed after
//! [`support::HANG_GUARD`] and that counts as a failure (a hang guard, not a
//! timing assertion).

mod support;

use std::fs::File;
use std::path::Path;

use support::{trueup, Run};
use trueup::inventory::load::MAX_SNAPSHOT_BYTES;
use trueup::yaml::MAX_COUNT;

const HEADER: &str = "trueup: 1\nsnapshot: { id: s1, taken_at: 2026-11-01 }\n";

/// Runs `trueup position NAME` in `dir`, panicking with the output on a hang.
fn position(dir: &Path, name: &str) -> Run {
    trueup(dir, &["position", name]).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes `bytes` as `name` in a fresh temporary directory and loads it.
fn load_bytes(name: &str, bytes: &[u8]) -> Run {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join(name), bytes).expect("write snapshot");
    position(dir.path(), name)
}

/// The run was refused as an untrusted run: exit 2, no panic, an `error:`
/// line that names `name` and says one of `what`.
#[track_caller]
fn assert_refused(run: &Run, name: &str, what: &[&str]) {
    assert!(
        !run.stderr.contains("panicked"),
        "trueup panicked\n{}",
        run.describe()
    );
    assert_eq!(run.code, Some(2), "expected exit 2\n{}", run.describe());
    assert!(
        run.stderr.lines().any(|l| l.starts_with("error: ")
            && l.contains(name)
            && what.iter().any(|w| l.contains(w))),
        "expected an error naming `{name}` that says one of {what:?}\n{}",
        run.describe()
    );
}

#[test]
fn empty_file() {
    let run = load_bytes("empty.yaml", b"");
    assert_refused(&run, "empty.yaml", &["empty snapshot"]);
}

#[test]
fn file_of_only_comments_and_blank_lines() {
    let run = load_bytes("comments.yaml", b"# nothing here yet\n\n   \n");
    assert_refused(&run, "comments.yaml", &["empty snapshot"]);
}

#[test]
fn truncated_in_a_flow_mapping() {
    let text = format!("{HEADER}devices:\n  - {{ id: ws-1, cores: 8 }}\n  - {{ id: ws-2, cor");
    let run = load_bytes("cut.yaml", text.as_bytes());
    assert_refused(&run, "cut.yaml:5:", &["invalid YAML"]);
}

#[test]
fn truncated_in_a_quoted_string() {
    let text = format!("{HEADER}products:\n  - id: acme-cad\n    name: \"Acme CA");
    let run = load_bytes("cut.yaml", text.as_bytes());
    assert_refused(&run, "cut.yaml:", &["invalid YAML"]);
}

#[test]
fn truncated_in_a_utf8_character() {
    // "é" is 0xc3 0xa9; the file ends after the first byte, on line 4.
    let mut bytes = format!("{HEADER}products:\n  - {{ id: caf").into_bytes();
    bytes.push(0xc3);
    let run = load_bytes("cut.yaml", &bytes);
    assert_refused(&run, "cut.yaml:4:", &["UTF-8"]);
}

#[test]
fn not_utf8_names_the_line() {
    // The bytes 0xff 0xfe (a UTF-16 byte-order mark) in the middle of line 4.
    let mut bytes = format!("{HEADER}products:\n  - {{ id: acme").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"-cad }\ndevices: []\n");
    let run = load_bytes("latin.yaml", &bytes);
    assert_refused(&run, "latin.yaml:4:", &["not valid UTF-8"]);
}

#[test]
fn utf16_file() {
    let text = format!("{HEADER}products: []\n");
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let run = load_bytes("utf16.yaml", &bytes);
    assert_refused(&run, "utf16.yaml:1:", &["not valid UTF-8"]);
}

#[test]
fn billion_laughs_alias_bomb() {
    // The classic: ten levels of ten aliases each, 10^10 nodes if expanded.
    let mut text =
        format!("{HEADER}lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let prev = format!("*l{}", level - 1);
        let items = [prev.as_str(); 10].join(", ");
        text.push_str(&format!("lol{level}: &l{level} [{items}]\n"));
    }
    let run = load_bytes("bomb.yaml", text.as_bytes());
    assert_refused(&run, "bomb.yaml:", &["alias bomb"]);
}

#[test]
fn alias_bomb_inside_a_record_field() {
    // The same bomb, built only from fields the format knows.
    let mut text = format!("{HEADER}devices:\n");
    text.push_str(
        "  - { id: d0, environment: &e0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol] }\n",
    );
    for level in 1..=9 {
        let prev = format!("*e{}", level - 1);
        let items = [prev.as_str(); 10].join(", ");
        text.push_str(&format!(
            "  - {{ id: d{level}, environment: &e{level} [{items}] }}\n"
        ));
    }
    let run = load_bytes("bomb.yaml", text.as_bytes());
    assert_refused(&run, "bomb.yaml:", &["alias bomb"]);
}

#[test]
fn deep_flow_sequence_nesting() {
    let text = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let run = load_bytes("deep.yaml", text.as_bytes());
    assert_refused(&run, "deep.yaml:1:", &["nesting", "recursion limit"]);
}

#[test]
fn deep_nesting_inside_a_section() {
    let text = format!(
        "{HEADER}products: {}{}\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let run = load_bytes("deep.yaml", text.as_bytes());
    assert_refused(&run, "deep.yaml:3:", &["nesting", "recursion limit"]);
}

#[test]
fn deep_flow_mapping_nesting() {
    let text = format!(
        "{HEADER}devices: [{}x{}]\n",
        "{a: ".repeat(20_000),
        "}".repeat(20_000)
    );
    let run = load_bytes("deep.yaml", text.as_bytes());
    assert_refused(&run, "deep.yaml:3:", &["nesting", "recursion limit"]);
}

#[test]
fn deep_block_sequence_nesting() {
    // `- - - … x`: 20,000 nested block sequences on one line.
    let text = format!("{HEADER}users:\n  {}x\n", "- ".repeat(20_000));
    let run = load_bytes("deep.yaml", text.as_bytes());
    assert_refused(&run, "deep.yaml:4:", &["nesting", "recursion limit"]);
}

#[test]
fn deep_nesting_never_closed() {
    let run = load_bytes("deep.yaml", "[".repeat(20_000).as_bytes());
    assert_refused(&run, "deep.yaml:1:", &[""]);
}

#[test]
fn huge_file_is_refused_before_reading() {
    // A sparse file over 2 GiB and over the limit: nothing is written to
    // disk, and trueup must refuse it from its size instead of reading it.
    let size = (2u64 << 30).max(MAX_SNAPSHOT_BYTES) + 1;
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = File::create(dir.path().join("huge.yaml")).expect("create");
    file.set_len(size).expect("set_len");
    drop(file);
    let run = position(dir.path(), "huge.yaml");
    assert_refused(&run, "huge.yaml", &["too large"]);
}

#[test]
fn directory_instead_of_a_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join("snapshots.yaml")).expect("mkdir");
    let run = position(dir.path(), "snapshots.yaml");
    assert_refused(&run, "snapshots.yaml", &["directory"]);
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = position(dir.path(), "missing.yaml");
    assert_refused(&run, "missing.yaml", &["no such file"]);
}

#[test]
fn second_document() {
    let text = format!("{HEADER}---\n{HEADER}");
    let run = load_bytes("two.yaml", text.as_bytes());
    assert_refused(&run, "two.yaml:3:", &["one YAML document"]);
}

#[test]
fn nul_bytes() {
    let text = format!("{HEADER}products: [{{ id: \"a\0b\" }}]\n\0\0\0");
    let run = load_bytes("nul.yaml", text.as_bytes());
    assert_refused(&run, "nul.yaml:3:", &[""]);
}

#[test]
fn one_good_file_and_one_bad_file_fail_together() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("good.yaml"), HEADER).expect("write");
    std::fs::write(dir.path().join("bad.yaml"), b"trueup: 1\n\xff\n").expect("write");
    let run = trueup(dir.path(), &["position", "good.yaml", "bad.yaml"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_refused(&run, "bad.yaml:2:", &["UTF-8"]);
}

/// Loads `text` as `big.yaml` and returns the one position row.
fn position_row(text: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("big.yaml"), text).expect("write");
    let run = trueup(dir.path(), &["position", "-f", "json", "big.yaml"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("json output");
    json["positions"][0].clone()
}

// Regression: quantities up to i64::MAX were accepted and summed as `u64`,
// then handed to scripts as `i64`: `entitled -2`, `surplus -4`. Counts are
// capped at MAX_COUNT on load, and sums of counts at the cap are exact.
#[test]
fn huge_quantities_are_refused_and_the_largest_add_up() {
    let big = i64::MAX;
    let text = format!(
        "{HEADER}products: [{{ id: p }}]\ncontracts: [{{ id: C }}]\nentitlements:\n\
         - {{ id: E1, contract: C, product: p, metric: core, quantity: {big} }}\n"
    );
    let run = load_bytes("big.yaml", text.as_bytes());
    assert_refused(&run, "big.yaml:6:", &["must be at most 1000000000000"]);

    let max = MAX_COUNT;
    let text = format!(
        "{HEADER}products: [{{ id: p }}]\ncontracts: [{{ id: C }}]\nentitlements:\n\
         - {{ id: E1, contract: C, product: p, metric: core, quantity: {max} }}\n\
         - {{ id: E2, contract: C, product: p, metric: core, quantity: {max} }}\n\
         - {{ id: E3, contract: C, product: p, metric: core, quantity: {max} }}\n\
         devices: [{{ id: d1, cores: {max} }}]\ninstallations: [{{ device: d1, product: p }}]\n"
    );
    let row = position_row(&text);
    assert_eq!(row["entitled"].as_u64(), Some(3 * max), "{row}");
    assert_eq!(row["consumed"].as_u64(), Some(max), "{row}");
    assert_eq!(row["surplus"].as_u64(), Some(2 * max), "{row}");
}

// Regression: core counts were summed over devices with the same effect.
#[test]
fn the_largest_core_counts_add_up() {
    let max = MAX_COUNT;
    let text = format!(
        "{HEADER}products: [{{ id: p }}]\ncontracts: [{{ id: C }}]\n\
         entitlements: [{{ id: E1, contract: C, product: p, metric: core, quantity: {max} }}]\n\
         devices:\n- {{ id: d1, cores: {max} }}\n- {{ id: d2, cores: {max} }}\n- {{ id: d3, cores: {max} }}\n\
         installations:\n- {{ device: d1, product: p }}\n- {{ device: d2, product: p }}\n- {{ device: d3, product: p }}\n"
    );
    let row = position_row(&text);
    assert_eq!(row["consumed"].as_u64(), Some(3 * max), "{row}");
    assert_eq!(row["shortfall"].as_u64(), Some(2 * max), "{row}");
}

#[test]
fn windows_line_endings_and_byte_order_mark() {
    // Not hostile, just Windows: a UTF-8 BOM and CRLF line endings load, and
    // diagnostics still count lines right.
    let good =
        "\u{feff}trueup: 1\r\nsnapshot: { id: s1, taken_at: 2026-11-01 }\r\nproducts: []\r\n";
    let run = load_bytes("windows.yaml", good.as_bytes());
    assert_eq!(
        run.code,
        Some(0),
        "a BOM and CRLF should load\n{}",
        run.describe()
    );
    let bad = "\u{feff}trueup: 1\r\nsnapshot: { id: s1, taken_at: 2026-11-01 }\r\nlicences: []\r\n";
    let run = load_bytes("windows.yaml", bad.as_bytes());
    assert_refused(&run, "windows.yaml:3:1:", &["unknown field `licences`"]);
}

/// A scratch folder with a one-rule playbook, the good snapshot `good.yaml`
/// and the files `files` (name, text) beside them.
fn playbook_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(policies.join("tests")).expect("mkdir");
    std::fs::write(policies.join("bare.rhai"), "fn check(inv) { [] }\n").expect("write rule");
    std::fs::write(dir.path().join("good.yaml"), HEADER).expect("write snapshot");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn run_in(dir: &Path, args: &[&str]) -> Run {
    trueup(dir, args).unwrap_or_else(|e| panic!("{e}"))
}

// Regression: `/dev/zero` has no size to check, so every input path read it
// until memory ran out. Each path is read through one bounded reader now,
// which stops at its first NUL.
#[cfg(unix)]
#[test]
fn dev_zero_as_a_snapshot_is_refused() {
    let dir = playbook_dir(&[]);
    let run = run_in(dir.path(), &["check", "/dev/zero"]);
    assert_refused(&run, "/dev/zero:1:1", &["control character"]);
    let run = run_in(dir.path(), &["position", "/dev/zero"]);
    assert_refused(&run, "/dev/zero:1:1", &["control character"]);
}

#[cfg(unix)]
#[test]
fn dev_zero_as_the_waivers_file_is_refused() {
    let dir = playbook_dir(&[]);
    let run = run_in(
        dir.path(),
        &["check", "good.yaml", "--waivers", "/dev/zero"],
    );
    assert_refused(&run, "/dev/zero:1:1", &["control character"]);
}

#[cfg(unix)]
#[test]
fn dev_zero_as_a_scenario_snapshot_is_refused() {
    let scenario =
        "name: z\nsnapshot: /dev/zero\nstart: 2026-11-01\nuntil: 2026-11-30\nevents: []\n";
    let dir = playbook_dir(&[("z.yaml", scenario)]);
    let run = run_in(dir.path(), &["simulate", "z.yaml"]);
    assert_refused(&run, "/dev/zero:1:1", &["control character"]);
}

#[cfg(unix)]
#[test]
fn dev_zero_as_a_test_snapshot_or_test_file_is_refused() {
    let dir = playbook_dir(&[]);
    let tests = dir.path().join("policies/tests");
    std::fs::write(
        tests.join("zero.yaml"),
        "cases:\n  - { note: zeros, snapshot: /dev/zero, exact: true }\n",
    )
    .expect("write case");
    let run = run_in(dir.path(), &["test", "policies"]);
    assert_refused(&run, "/dev/zero:1:1", &["control character"]);
    std::fs::remove_file(tests.join("zero.yaml")).expect("remove");
    std::os::unix::fs::symlink("/dev/zero", tests.join("zero.yaml")).expect("symlink");
    let run = run_in(dir.path(), &["test", "policies"]);
    assert_refused(&run, "zero.yaml:1:1", &["control character"]);
}

#[cfg(unix)]
#[test]
fn a_named_pipe_is_read_like_a_file() {
    // A pipe has no size either; `--waivers <(generate)` must still work.
    let dir = playbook_dir(&[]);
    let fifo = dir.path().join("waivers.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let writer = std::thread::spawn(move || {
        std::fs::write(
            &fifo,
            "waivers:\n  - { rule: bare, reason: r, approved_by: j, expires: 2027-01-01 }\n",
        )
    });
    let run = run_in(
        dir.path(),
        &["check", "good.yaml", "--waivers", "waivers.fifo"],
    );
    writer.join().expect("writer").expect("write to the pipe");
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains("waiver unused"), "{}", run.describe());
}

// Regression: a test file is read whole as one tree, so a file of a few
// megabytes of `[x,x,x,…]` drove memory past 400 MB. Such files now have a
// budget of YAML values.
#[test]
fn a_test_file_with_millions_of_values_is_refused() {
    let dir = playbook_dir(&[]);
    let many = vec!["x"; trueup::yaml::MAX_DOCUMENT_NODES + 1].join(",");
    std::fs::write(
        dir.path().join("policies/tests/many.yaml"),
        format!("cases:\n  - {{ note: many, snapshot: ../../good.yaml, absent: [{many}] }}\n"),
    )
    .expect("write case");
    let run = run_in(dir.path(), &["test", "policies"]);
    assert_refused(&run, "many.yaml:2:", &["YAML values"]);
}

// Regression: a waiver glob of alternations nested thousands deep made the
// glob compiler panic. Globs are checked against limits first.
#[test]
fn a_waiver_glob_nested_thousands_deep_is_refused() {
    let rule = format!("{}x{}", "{a,".repeat(5000), "}".repeat(5000));
    let waivers = format!(
        "waivers:\n  - {{ rule: \"{rule}\", reason: r, approved_by: j, expires: 2027-01-01 }}\n"
    );
    let dir = playbook_dir(&[("w.yaml", &waivers)]);
    let run = run_in(dir.path(), &["check", "good.yaml", "--waivers", "w.yaml"]);
    assert_refused(&run, "w.yaml:2:", &["not a valid glob"]);
    let long = "a".repeat(50_000);
    let waivers = format!(
        "waivers:\n  - {{ rule: r, subject: \"{long}\", reason: r, approved_by: j, expires: 2027-01-01 }}\n"
    );
    let dir = playbook_dir(&[("w.yaml", &waivers)]);
    let run = run_in(dir.path(), &["check", "good.yaml", "--waivers", "w.yaml"]);
    assert_refused(&run, "w.yaml:2:", &["too long"]);
}

/// Runs `trueup check good.yaml` with one rule whose line 2 evaluates `expr`.
fn check_with_expression(expr: &str) -> Run {
    let dir = playbook_dir(&[]);
    std::fs::write(
        dir.path().join("policies/bare.rhai"),
        format!("fn check(inv) {{\n    let x = {expr};\n    []\n}}\n"),
    )
    .expect("write rule");
    run_in(dir.path(), &["check", "good.yaml"])
}

// Regression: `date + i64::MAX` wrapped around to 0001-01-01 and
// `weeks(i64::MAX)` to a negative number of days; both are errors now, at
// the script line, and the last dates in range still work.
#[test]
fn date_arithmetic_out_of_range_is_an_error_at_the_script_line() {
    for ok in [
        "date(\"9999-12-30\") + 1",
        "date(\"0001-01-02\") - 1",
        "weeks(1317624576693539401)",
        "inv.as_of + days(10)",
    ] {
        let run = check_with_expression(ok);
        assert_eq!(run.code, Some(0), "{ok}\n{}", run.describe());
    }
    for bad in [
        "date(\"9999-12-30\") + 2",
        "date(\"0001-01-02\") - 2",
        "inv.as_of + 9223372036854775807",
        "inv.as_of - (-9223372036854775807 - 1)",
        "weeks(1317624576693539402)",
        "inv.as_of + weeks(9223372036854775807)",
    ] {
        let run = check_with_expression(bad);
        assert_refused(&run, "bare.rhai:2:", &["date out of range"]);
    }
}

// Regression: policy scripts were read with no limit either, so a script
// that is a link to `/dev/zero` read until memory ran out.
#[cfg(unix)]
#[test]
fn dev_zero_as_a_policy_script_is_refused() {
    let dir = playbook_dir(&[]);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("policies/zero.rhai"))
        .expect("symlink");
    let run = run_in(dir.path(), &["check", "good.yaml"]);
    assert_refused(&run, "zero.rhai:1:1", &["control character"]);
    let run = run_in(dir.path(), &["lint", "policies"]);
    assert!(
        !run.stderr.contains("panicked") && run.code.is_some(),
        "{}",
        run.describe()
    );
}

// Regression: a snapshot glob on the command line went to the same glob
// compiler as waiver globs, with the same panic on deep alternations.
#[test]
fn a_snapshot_glob_nested_thousands_deep_is_refused() {
    let dir = playbook_dir(&[]);
    let glob = format!("{}x{}", "{a,".repeat(3000), "}".repeat(3000));
    let run = run_in(dir.path(), &["position", &glob]);
    assert_refused(&run, "{a,{a,", &["is not a valid glob: glob is too long"]);
}
