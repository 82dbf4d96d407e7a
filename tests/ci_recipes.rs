//! The CI recipes work as written: every `trueup …` command in the code
//! blocks of `docs/ci.md`, and every hook of `.pre-commit-hooks.yaml`, runs
//! against the shipped example and exits 0 or 1 (never 2) with output.
//!
//! A command is a line of a ```yaml, ```sh (or bash, shell) block that starts
//! with `trueup ` once a YAML list dash and a `run:` or `entry:` key are
//! taken off. It runs in a scratch repository shaped like the one the page
//! assumes: `inventory.yaml`, `policies/` (with the `examples/` its cases
//! refer to), and the files the snippets' `git` lines would create, as
//! copies: `base.yaml` from `examples/acme.yaml`, `../base/policies` from
//! `policies/`. Commands are run directly, not through a shell, so they must
//! stay plain: no variables, quotes, pipes or redirections (`-o FILE`
//! writes a file).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use support::{get, items};
use trueup::yaml::parse_document;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A command found in the page: its line number and its words after `trueup`.
struct Recipe {
    line: usize,
    text: String,
}

/// Every `trueup` command in the fenced yaml and shell blocks of `markdown`.
fn recipes(markdown: &str) -> Vec<Recipe> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut pending: Option<Recipe> = None;
    for (i, raw) in markdown.lines().enumerate() {
        let line = raw.trim();
        if let Some(info) = line.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(info.trim().to_string()),
            };
            continue;
        }
        let Some(lang) = &fence else { continue };
        if !matches!(lang.as_str(), "yaml" | "yml" | "sh" | "bash" | "shell") {
            continue;
        }
        if let Some(mut r) = pending.take() {
            // A continuation of the line before.
            let (text, more) = continued(line);
            r.text.push(' ');
            r.text.push_str(text);
            if more {
                pending = Some(r);
            } else {
                out.push(r);
            }
            continue;
        }
        let mut rest = line.strip_prefix("- ").unwrap_or(line).trim_start();
        for key in ["run:", "entry:"] {
            if let Some(r) = rest.strip_prefix(key) {
                rest = r.trim_start();
            }
        }
        if rest.starts_with("trueup ") || rest == "trueup" {
            let (text, more) = continued(rest);
            let r = Recipe {
                line: i + 1,
                text: text.to_string(),
            };
            if more {
                pending = Some(r);
            } else {
                out.push(r);
            }
        }
    }
    out
}

/// A line without its trailing `\`, and whether it had one.
fn continued(line: &str) -> (&str, bool) {
    match line.strip_suffix('\\') {
        Some(text) => (text.trim_end(), true),
        None => (line, false),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch repository as docs/ci.md assumes it, after the snippets' `git`
/// lines ran; returns the temp dir (kept alive) and the repository folder.
fn scratch_repo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let acme = root().join("examples/acme.yaml");
    copy_dir(&root().join("policies"), &repo.join("policies"));
    copy_dir(&root().join("examples"), &repo.join("examples"));
    std::fs::copy(&acme, repo.join("inventory.yaml")).unwrap();
    // git show origin/main:inventory.yaml > base.yaml
    std::fs::copy(&acme, repo.join("base.yaml")).unwrap();
    // git worktree add --detach ../base origin/main
    copy_dir(&root().join("policies"), &dir.path().join("base/policies"));
    (dir, repo)
}

/// Whether this binary has the `lint` subcommand yet.
fn has_lint(repo: &Path) -> bool {
    support::trueup(repo, &["lint", "--help"]).is_ok_and(|r| r.code == Some(0))
}

/// Runs one command in `repo`; returns a failure description, if any.
fn run(repo: &Path, origin: &str, text: &str) -> Option<String> {
    if let Some(c) = text.chars().find(|c| "$'\"|&;<>`*(){}".contains(*c)) {
        return Some(format!(
            "{origin}: `{text}` has `{c}`; keep trueup lines plain so this test can run them"
        ));
    }
    let args: Vec<&str> = text.split_whitespace().skip(1).collect();
    let output = args
        .iter()
        .position(|a| *a == "-o" || *a == "--output")
        .and_then(|i| args.get(i + 1))
        .map(|f| repo.join(f));
    if let Some(f) = &output {
        let _ = std::fs::remove_file(f);
    }
    let run = match support::trueup(repo, &args) {
        Ok(run) => run,
        Err(e) => return Some(format!("{origin}: {e}")),
    };
    if !matches!(run.code, Some(0 | 1)) {
        return Some(format!(
            "{origin}: `{text}` should exit 0 or 1\n{}",
            run.describe()
        ));
    }
    let empty = match &output {
        Some(f) => std::fs::metadata(f).map_or(true, |m| m.len() == 0),
        None => run.stdout.trim().is_empty() && run.stderr.trim().is_empty(),
    };
    if empty {
        return Some(format!(
            "{origin}: `{text}` printed nothing{}\n{}",
            output
                .as_ref()
                .map_or(String::new(), |f| format!(" into {}", f.display())),
            run.describe()
        ));
    }
    None
}

/// A note on the test's stderr that the harness does not swallow.
fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "note: {text}");
}

#[test]
fn every_trueup_command_in_docs_ci_md_runs_on_the_example() {
    let page = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    let found = recipes(&page);
    for want in [
        "trueup check ",
        "trueup diff --base ",
        "trueup diff --base-policies ",
        "-f sarif",
        "-f github",
        "-f markdown",
        "-f junit",
        "trueup lint",
        "trueup test",
    ] {
        assert!(
            found.iter().any(|r| r.text.contains(want)),
            "docs/ci.md has no runnable `{want}` command (found: {})",
            found
                .iter()
                .map(|r| r.text.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let (_dir, repo) = scratch_repo();
    let lint = has_lint(&repo);
    let mut failures = Vec::new();
    for r in &found {
        let origin = format!("docs/ci.md:{}", r.line);
        if !lint && r.text.split_whitespace().nth(1) == Some("lint") {
            note(&format!(
                "{origin}: skipped `{}`: this trueup has no `lint` subcommand yet",
                r.text
            ));
            continue;
        }
        failures.extend(run(&repo, &origin, &r.text));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn pre_commit_hooks_run_on_the_playbook() {
    let file = root().join(".pre-commit-hooks.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let doc = parse_document(&file, &text)
        .unwrap_or_else(|d| panic!("{d}"))
        .expect("hooks are listed");
    let hooks = items(&doc);
    let ids: Vec<&str> = hooks
        .iter()
        .filter_map(|h| get(h, "id").and_then(|n| n.as_str()))
        .collect();
    assert_eq!(ids, ["trueup-lint", "trueup-test"]);
    let (_dir, repo) = scratch_repo();
    let lint = has_lint(&repo);
    let mut failures = Vec::new();
    for h in hooks {
        let field = |k: &str| get(h, k).and_then(|n| n.as_str()).unwrap_or_default();
        let origin = format!("{}:{}", file.display(), h.pos.line);
        assert_eq!(field("files"), "^policies/", "{origin}");
        assert_eq!(field("pass_filenames"), "false", "{origin}");
        assert!(matches!(field("language"), "rust" | "system"), "{origin}");
        let entry = field("entry");
        if !lint && entry == "trueup lint" {
            note(&format!(
                "{origin}: skipped `{entry}`: this trueup has no `lint` subcommand yet"
            ));
            continue;
        }
        failures.extend(run(&repo, &origin, entry));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn recipes_are_found_in_yaml_and_shell_blocks_only() {
    let page = "\
```yaml
steps:
  - run: trueup check a.yaml -f sarif
  - run: |
      trueup diff --base b.yaml \\
        --head a.yaml
  - name: trueup check
```

```text
trueup check not-run.yaml
```

```sh
# trueup in a comment
trueup test
```
";
    let found: Vec<(usize, String)> = recipes(page)
        .into_iter()
        .map(|r| (r.line, r.text))
        .collect();
    assert_eq!(
        found,
        [
            (3, "trueup check a.yaml -f sarif".to_string()),
            (5, "trueup diff --base b.yaml --head a.yaml".to_string()),
            (16, "trueup test".to_string()),
        ]
    );
}
