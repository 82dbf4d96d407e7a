//! Shared helpers for the integration tests: run the built `trueup` binary
//! as a user would, with a hang guard, and read the YAML case files with the
//! project's own reader.

// Each test crate uses its own subset of these helpers.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trueup::yaml::{Node, Value};

/// How long one run of the binary may take before it counts as a hang.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Run {
    /// `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The exit code and both streams, for failure messages; very long
    /// lines (a 20,000-character source line) are shortened.
    pub fn describe(&self) -> String {
        format!(
            "exit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            shorten(&self.stdout),
            shorten(&self.stderr)
        )
    }
}

fn shorten(text: &str) -> String {
    const MAX_LINE: usize = 300;
    const MAX_LINES: usize = 200;
    let mut out: Vec<String> = text
        .lines()
        .take(MAX_LINES)
        .map(|l| match l.char_indices().nth(MAX_LINE) {
            Some((cut, _)) => format!("{}… ({} bytes)", &l[..cut], l.len()),
            None => l.to_string(),
        })
        .collect();
    let total = text.lines().count();
    if total > MAX_LINES {
        out.push(format!("… ({} more lines)", total - MAX_LINES));
    }
    out.join("\n")
}

/// Runs `trueup ARGS...` in `dir`. Kills the process and returns `Err` when it
/// runs longer than [`HANG_GUARD`]; this is a hang guard, not a timing test.
pub fn trueup(dir: &Path, args: &[&str]) -> Result<Run, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trueup"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start trueup: {e}"))?;
    // Drain both pipes on their own threads so a chatty child cannot block.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout is piped")));
    let err = drain(Box::new(child.stderr.take().expect("stderr is piped")));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > HANG_GUARD => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`trueup {}` still running after {HANG_GUARD:?}; killed it",
                    args.join(" ")
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for trueup: {e}")),
        }
    };
    Ok(Run {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// The `*.yaml` files of `tests/cases/<topic>`, in path order.
pub fn case_files(topic: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(topic);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    files
}

/// The value under `key` in a mapping node.
pub fn get<'n, 'a>(node: &'n Node<'a>, key: &str) -> Option<&'n Node<'a>> {
    match &node.value {
        Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The keys of a mapping node, for checking that a case has no stray fields.
pub fn keys<'n>(node: &'n Node<'_>) -> Vec<&'n str> {
    match &node.value {
        Value::Map(pairs) => pairs.iter().filter_map(|(k, _)| k.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// The items of a sequence node; empty for anything else.
pub fn items<'n, 'a>(node: &'n Node<'a>) -> &'n [Node<'a>] {
    match &node.value {
        Value::Seq(items) => items,
        _ => &[],
    }
}

/// A YAML scalar as JSON: `null`, booleans and numbers when plain, else text.
pub fn scalar_json(node: &Node<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    if node.is_null() {
        return J::Null;
    }
    match &node.value {
        Value::Scalar { text, plain: true } => match text.as_ref() {
            "true" => J::Bool(true),
            "false" => J::Bool(false),
            t => t
                .parse::<u64>()
                .map(J::from)
                .or_else(|_| t.parse::<f64>().map(J::from))
                .unwrap_or_else(|_| J::String(t.to_string())),
        },
        Value::Scalar { text, .. } => J::String(text.to_string()),
        _ => J::String(node.describe()),
    }
}

/// One case of a case file: its note, where it is, and its mapping node.
pub struct Case<'n, 'a> {
    pub note: String,
    /// `file:line` of the case, for failure messages.
    pub origin: String,
    pub node: &'n Node<'a>,
}

/// The cases of a parsed case file, checking each has a `note` and only `allowed` keys.
pub fn cases<'n, 'a>(
    file: &Path,
    doc: &'n Node<'a>,
    allowed: &[&str],
) -> Result<Vec<Case<'n, 'a>>, String> {
    let list = get(doc, "cases").ok_or_else(|| format!("{}: no `cases:` list", file.display()))?;
    let mut out = Vec::new();
    for node in items(list) {
        let origin = format!("{}:{}", file.display(), node.pos.line);
        if let Some(bad) = keys(node).into_iter().find(|k| !allowed.contains(k)) {
            return Err(format!(
                "{origin}: unknown case field `{bad}`; expected one of: {}",
                allowed.join(", ")
            ));
        }
        let note = get(node, "note")
            .and_then(Node::as_str)
            .ok_or_else(|| format!("{origin}: case has no `note`"))?
            .to_string();
        out.push(Case { note, origin, node });
    }
    if out.is_empty() {
        return Err(format!("{}: `cases:` is empty", file.display()));
    }
    Ok(out)
}

/// Where a case's own metric profiles go, under its temporary directory.
pub const METRICS: &str = "policies/metrics";

/// Writes a case's `metrics:` files (file name to profile text) into
/// `dir/policies/metrics`; whether it had any.
pub fn write_metrics(case: &Case, dir: &Path) -> Result<bool, String> {
    let Some(node) = get(case.node, "metrics") else {
        return Ok(false);
    };
    let Value::Map(files) = &node.value else {
        return Err("`metrics:` maps file names to profile text".into());
    };
    let folder = dir.join(METRICS);
    std::fs::create_dir_all(&folder).map_err(|e| format!("cannot make {METRICS}: {e}"))?;
    for (name, text) in files {
        let (Some(name), Some(text)) = (name.as_str(), text.as_str()) else {
            return Err("`metrics:` maps file names to profile text".into());
        };
        std::fs::write(folder.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    Ok(true)
}

/// Compares `got` with the golden file `name`, or rewrites it under
/// `TRUEUP_BLESS=1`; returns a description of the mismatch, if any.
pub fn golden(name: &str, got: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("TRUEUP_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return None;
    }
    let want = match std::fs::read_to_string(&path) {
        Ok(w) => w,
        Err(e) => return Some(format!("{}: {e}", path.display())),
    };
    if want == got {
        return None;
    }
    let (n, (w, g)) = want
        .lines()
        .chain(std::iter::repeat("<end of file>"))
        .zip(got.lines().chain(std::iter::repeat("<end of file>")))
        .enumerate()
        .find(|(_, (w, g))| w != g)
        .unwrap_or((0, ("(line endings differ)", "")));
    Some(format!(
        "{} differs from the output, first at line {}:\n  want: {w}\n  got:  {g}",
        path.display(),
        n + 1
    ))
}
