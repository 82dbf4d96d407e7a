//! The README's examples, run as a reader would run them, so they cannot
//! drift from what trueup does.
//!
//! - The sample rule and its test case ("Writing policies"), and the sample
//!   case of `docs/reference.md`, copied beside the shipped playbook, pass
//!   `trueup test` as printed.
//! - Every flag the command table lists is one the command accepts.
//! - The sample `check` output (with its `...` elisions) and the
//!   reference's `position` samples are what trueup prints.

mod support;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(doc: &str) -> String {
    let path = root().join(doc);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn readme() -> String {
    read("README.md")
}

/// The fenced code blocks of a Markdown text, without their fences.
fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        if line.starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

/// The code block whose first line names `path` in a comment (`// path`
/// or `# path`).
fn block_for(markdown: &str, path: &str) -> String {
    code_blocks(markdown)
        .into_iter()
        .find(|b| {
            let first = b.lines().next().unwrap_or_default();
            first == format!("// {path}") || first == format!("# {path}")
        })
        .unwrap_or_else(|| panic!("no code block starts with a `{path}` comment"))
}

/// Copies the directory `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("readable directory entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        }
    }
}

/// Regression: the sample case once wanted a `vault` finding that the
/// example inventory cannot produce, and an `absent` rule that fires on it.
#[test]
fn the_sample_rules_and_cases_pass_beside_the_shipped_playbook() {
    let readme = readme();
    let reference = read("docs/reference.md");
    let samples = [
        (
            "policies/dev-critical.rhai",
            block_for(&readme, "policies/dev-critical.rhai"),
        ),
        (
            "policies/tests/dev-critical.yaml",
            block_for(&readme, "policies/tests/dev-critical.yaml"),
        ),
        (
            "policies/tests/northwind.yaml",
            block_for(&reference, "policies/tests/northwind.yaml"),
        ),
    ];

    let dir = tempfile::tempdir().expect("a temporary directory");
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    copy_dir(&root().join("examples"), &dir.path().join("examples"));
    for (path, text) in &samples {
        std::fs::write(dir.path().join(path), text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    let run = support::trueup(dir.path(), &["test", "policies"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.code, Some(0), "{}", run.describe());

    for (path, text) in samples.iter().filter(|(p, _)| p.ends_with(".yaml")) {
        let notes: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("- note: "))
            .collect();
        assert!(!notes.is_empty(), "{path} has no `- note:` lines:\n{text}");
        for note in notes {
            let ran = run
                .stdout
                .lines()
                .any(|l| l.starts_with("  ok    line ") && l.ends_with(&format!(": {note}")));
            assert!(
                ran,
                "{path}: case `{note}` did not run and pass\n{}",
                run.describe()
            );
        }
    }

    let lint = support::trueup(dir.path(), &["lint", "policies"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lint.code,
        Some(0),
        "the sample rule lints clean\n{}",
        lint.describe()
    );
    assert!(
        lint.stderr.contains("0 errors, 0 warnings"),
        "{}",
        lint.describe()
    );
}

/// The command table's rows: the subcommand and every flag the row lists,
/// as `(short, long)` with `short` empty for a long-only flag.
fn command_table(markdown: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in markdown.lines() {
        if line.starts_with("| command | flags |") {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("| ---") {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        // Cells split on `|` not escaped as `\|`.
        let cells: Vec<String> = line
            .replace("\\|", "\u{0}")
            .split('|')
            .map(|c| c.trim().replace('\u{0}', "|"))
            .collect();
        let (command, flags) = (&cells[1], &cells[2]);
        // `trueup case note ID`: the subcommand is every lowercase word
        // after `trueup`, so nested commands are checked by their own help.
        let name: Vec<&str> = command
            .trim_matches('`')
            .split_whitespace()
            .skip(1)
            .take_while(|w| {
                w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
            })
            .collect();
        assert!(!name.is_empty(), "no subcommand in `{command}`");
        let name = name.join(" ");
        rows.push((name, flags_in(&format!("{command} {flags}"))));
    }
    assert!(
        !rows.is_empty(),
        "README.md has no `| command | flags |` table"
    );
    rows
}

/// `-x/--long` and `--long` tokens of a cell.
fn flags_in(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || c == '`' || c == ',') {
        let (short, long) = match token.split_once("/--") {
            Some((short, long)) if short.len() == 2 && short.starts_with('-') => {
                (short.to_string(), long)
            }
            _ => match token.strip_prefix("--") {
                Some(long) => (String::new(), long),
                None => continue,
            },
        };
        let long: String = long
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if !long.is_empty() {
            out.push((short, format!("--{long}")));
        }
    }
    out
}

#[test]
fn every_flag_in_the_command_table_is_one_the_command_takes() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for (command, flags) in command_table(&readme()) {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let run = support::trueup(&root(), &args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            run.code,
            Some(0),
            "`trueup {command} --help`\n{}",
            run.describe()
        );
        for (short, long) in flags {
            checked += 1;
            let has_long = run
                .stdout
                .split(|c: char| c.is_whitespace() || c == ',')
                .any(|w| w == long);
            let has_short = short.is_empty() || run.stdout.contains(&format!("{short}, {long}"));
            if !has_long || !has_short {
                let flag = if short.is_empty() {
                    long
                } else {
                    format!("{short}/{long}")
                };
                missing.push(format!("`trueup {command}` has no `{flag}`"));
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} flags found in the command table"
    );
    assert!(
        missing.is_empty(),
        "the README's command table lists flags `--help` does not show:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn table_cells_yield_short_and_long_flags() {
    let flags =
        flags_in("`-p/--policies DIR`, `-f/--format text\\|json`, `--as-of DATE`, `--coverage`");
    let flags: Vec<(&str, &str)> = flags
        .iter()
        .map(|(s, l)| (s.as_str(), l.as_str()))
        .collect();
    assert_eq!(
        flags,
        [
            ("-p", "--policies"),
            ("-f", "--format"),
            ("", "--as-of"),
            ("", "--coverage")
        ]
    );
}

/// The block of `markdown` that starts with the command line `$ COMMAND`,
/// without that line.
fn output_block(markdown: &str, command: &str) -> String {
    let head = format!("$ {command}\n");
    code_blocks(markdown)
        .into_iter()
        .find_map(|b| b.strip_prefix(&head).map(str::to_string))
        .unwrap_or_else(|| panic!("no code block starts with `$ {command}`"))
}

/// Whether `sample`, whose `...` lines each stand for any number of lines,
/// is what `output` prints: every run of lines between elisions appears in
/// `output` as it is, in order, the first at its start.
fn matches_elided(sample: &str, output: &str) -> Result<(), String> {
    let out: Vec<&str> = output.lines().collect();
    let mut at = 0;
    for (i, run) in sample.split("...\n").enumerate() {
        let run: Vec<&str> = run.lines().collect();
        if run.is_empty() {
            continue;
        }
        let found = (at..=out.len().saturating_sub(run.len()))
            .find(|&k| out[k..k + run.len()] == run[..])
            .filter(|&k| i > 0 || k == 0);
        match found {
            Some(k) => at = k + run.len(),
            None => return Err(format!("not printed as shown:\n{}", run.join("\n"))),
        }
    }
    Ok(())
}

/// Regression: routing changed the example's dates and the order of its
/// findings, and the README went on showing the old ones.
#[test]
fn the_sample_check_output_is_what_check_prints() {
    let run = support::trueup(&root(), &["check", "examples/acme.yaml"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let sample = output_block(&readme(), "trueup check examples/acme.yaml");
    if let Err(e) = matches_elided(&sample, &run.stdout) {
        panic!("README.md's sample check output: {e}\n{}", run.describe());
    }
}

/// The reference's `position` samples, run on the `lab.yaml` it shows.
#[test]
fn the_reference_position_samples_are_what_position_prints() {
    let reference = read("docs/reference.md");
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("lab.yaml"),
        block_for(&reference, "lab.yaml"),
    )
    .expect("lab.yaml written");
    prints_as_shown(
        &reference,
        dir.path(),
        &[
            "trueup position lab.yaml",
            "trueup position -f json lab.yaml",
            "trueup position --explain cad lab.yaml",
        ],
    );
}

/// Each command, run in `dir`, exits 0 and prints the reference's sample.
fn prints_as_shown(reference: &str, dir: &Path, commands: &[&str]) {
    for command in commands {
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let run = support::trueup(dir, &args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(run.code, Some(0), "{}", run.describe());
        assert_eq!(
            output_block(reference, command).trim_end(),
            run.stdout.trim_end(),
            "docs/reference.md's `{command}`"
        );
    }
}

/// The metric profiles' `--explain` samples, run on the `oracle-lab.yaml`
/// the reference shows, beside the shipped playbook.
#[test]
fn the_reference_profile_samples_are_what_position_prints() {
    let reference = read("docs/reference.md");
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy_dir(&root().join("policies"), &dir.path().join("policies"));
    std::fs::write(
        dir.path().join("oracle-lab.yaml"),
        block_for(&reference, "oracle-lab.yaml"),
    )
    .expect("oracle-lab.yaml written");
    prints_as_shown(
        &reference,
        dir.path(),
        &[
            "trueup position --explain oradb oracle-lab.yaml",
            "trueup position --explain sqlsrv oracle-lab.yaml",
        ],
    );
}

#[test]
fn elided_samples_match_only_what_is_printed_in_order() {
    let out = "a\nb\nc\nd\n";
    assert!(matches_elided("a\nb\n...\nd\n", out).is_ok());
    assert!(matches_elided("a\n...\nc\nd\n", out).is_ok());
    assert!(
        matches_elided("b\n...\nd\n", out).is_err(),
        "must start at the top"
    );
    assert!(
        matches_elided("a\n...\nd\n...\nc\n", out).is_err(),
        "out of order"
    );
    assert!(matches_elided("a\nc\n", out).is_err(), "a gap needs `...`");
}
