//! A seeded mutation fuzzer over every input trueup reads: snapshots,
//! waivers, policy test cases, scenarios and policy scripts.
//!
//! Each target starts from a corpus of real files (the shipped example cut
//! down, the files under `tests/cases/` and `tests/golden/`, the playbook's
//! own tests and scenarios, the waiver samples, the shipped scripts) and
//! mutates them: byte flips, lines duplicated, deleted or spliced in from
//! another corpus file, numbers replaced with extremes, long strings, deep
//! nesting, anchors and aliases, control characters. Every input is run
//! through the library in-process (a panic is caught and is a failure), and
//! every [`BINARY_EVERY`]th through the built binary, under a memory limit,
//! asserting no panic, an exit code of 0, 1 or 2, a file:line on every
//! diagnostic, and an end within [`TIME_BOUND`].
//!
//! A failing input is saved under `target/fuzz-failures/` with a note of the
//! failure and the mutations that made it. The run is deterministic: the
//! same seed and iteration count give the same inputs.
//!
//! ```sh
//! cargo test --test fuzz                                             # the CI run
//! TRUEUP_FUZZ_ITERS=100000 cargo test --release --test fuzz          # a long run
//! TRUEUP_FUZZ_SEED=7 TRUEUP_FUZZ_ITERS=5000 cargo test --test fuzz   # other inputs
//! ```
//!
//! See docs/fuzzing.md.

use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Once};
use std::time::{Duration, Instant};

use trueup::diag::Diagnostics;
use trueup::engine::{evaluate, EvalOptions};
use trueup::policy::{Limits, Playbook};

/// Longest any one input may take, in-process or through the binary: 5 s
/// in a release build, 15 s in a debug one (a script may run up to its
/// million operations, which takes seconds there on a loaded machine).
const TIME_BOUND: Duration = Duration::from_secs(if cfg!(debug_assertions) { 15 } else { 5 });

/// The scripts' time limit in the harness (`--time-limit`, or
/// `Limits::max_run_time`): well inside [`TIME_BOUND`], so that a script
/// that makes every operation slow (a huge value re-checked on each) is
/// stopped by trueup's own watchdog and the harness sees that it was.
const SCRIPT_SECONDS: u64 = if cfg!(debug_assertions) { 4 } else { 2 };

fn limits() -> Limits {
    Limits {
        max_run_time: Duration::from_secs(SCRIPT_SECONDS),
        ..Limits::default()
    }
}

/// Address space the binary may use, in KiB (`ulimit -v`).
const MEMORY_LIMIT_KIB: u64 = 4 << 20;

/// One input in this many also runs through the binary.
const BINARY_EVERY: usize = 10;

/// Inputs per target when `TRUEUP_FUZZ_ITERS` is not set: about a minute
/// and a half for the whole harness in a debug build on two cores.
const DEFAULT_ITERS: usize = 300;

const DEFAULT_SEED: u64 = 0x7275_6575_7066_757a;

/// Failures of a kind that is known and being fixed: each is
/// `(target, what the failure says, the input shape)`. A failure whose
/// target matches and whose text contains the phrase is counted and
/// listed, not failed on. Empty this list as the fixes land.
const KNOWN_UNTIL_FIXED: &[(Target, &str, &str)] = &[];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Snapshot,
    Waivers,
    Cases,
    Scenario,
    Policy,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Snapshot => "snapshot",
            Target::Waivers => "waivers",
            Target::Cases => "cases",
            Target::Scenario => "scenario",
            Target::Policy => "policy",
        }
    }

    /// Where the mutated input goes, relative to the workspace.
    fn input(self) -> &'static str {
        match self {
            Target::Snapshot => "fuzz/snapshot.yaml",
            Target::Waivers => "fuzz/waivers.yaml",
            Target::Cases => "p/tests/fuzz.yaml",
            Target::Scenario => "scenarios/fuzz.yaml",
            Target::Policy => "lint/fuzz.rhai",
        }
    }
}

// ---------------------------------------------------------------- random

/// xorshift64*: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------- corpus

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out.iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// The shipped example with each section cut to its first few records, and
/// the records that refer to what was cut kept anyway: dangling references
/// are inputs too.
fn acme_cut() -> String {
    const KEEP: usize = 6;
    let mut out = String::new();
    let mut items = 0;
    let mut keeping = true;
    for line in read("examples/acme.yaml").lines() {
        if !line.starts_with(' ') {
            items = 0;
            keeping = true;
        } else if line.starts_with("  - ") {
            items += 1;
            keeping = items <= KEEP;
        }
        if keeping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

struct Corpus {
    seeds: Vec<String>,
    /// Lines of every corpus file, for splicing.
    donors: Vec<String>,
}

fn corpus(target: Target) -> Corpus {
    let snapshots = || {
        let mut s = vec![
            acme_cut(),
            read("tests/golden/base.yaml"),
            read("tests/golden/head.yaml"),
            read("docs/policy-api-sample.yaml"),
        ];
        for dir in [
            "tests/cases/load",
            "tests/cases/position",
            "tests/cases/simulate",
        ] {
            s.extend(files(dir, "yaml"));
        }
        s
    };
    let waivers = || {
        vec![
            read("docs/policy-api-sample-waivers.yaml"),
            read("tests/golden/waivers.yaml"),
        ]
    };
    let cases = || files("policies/tests", "yaml");
    let scenarios = || files("scenarios", "yaml");
    let scripts = || {
        let mut s = files("policies", "rhai");
        s.extend(files("tests/golden/policies", "rhai"));
        s.extend(files("tests/cases/simulate/policies", "rhai"));
        s
    };
    let seeds = match target {
        Target::Snapshot => snapshots(),
        Target::Waivers => waivers(),
        Target::Cases => cases(),
        Target::Scenario => scenarios(),
        Target::Policy => scripts(),
    };
    let mut all = snapshots();
    all.extend(waivers());
    all.extend(cases());
    all.extend(scenarios());
    all.extend(scripts());
    let donors = all
        .iter()
        .flat_map(|t| t.lines().map(str::to_string))
        .filter(|l| !l.trim().is_empty())
        .collect();
    Corpus { seeds, donors }
}

// ---------------------------------------------------------------- mutation

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "30000000",
    "4294967296",
    "0.0000001",
    ".nan",
    ".inf",
    "99999-12-31",
    "2026-02-30",
];

const CONTROLS: &[&str] = &[
    "\0", "\x1b[2J", "\r", "\r\n", "\t", "\u{feff}", "\u{202e}", "\u{2066}", "\u{85}", "\u{fffe}",
    "\x7f", "\u{2028}",
];

/// Applies one to three mutations to `seed`; returns the input and their names.
fn mutate(rng: &mut Rng, seed: &str, donors: &[String], script: bool) -> (Vec<u8>, Vec<String>) {
    let mut text = seed.to_string();
    let mut bytes: Option<Vec<u8>> = None;
    let mut names = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        let at = rng.below(lines.len());
        let kind = rng.below(11);
        match kind {
            0 => {
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    let i = rng.below(lines.len());
                    lines.remove(i);
                    if lines.is_empty() {
                        break;
                    }
                }
                names.push(format!("delete {n} lines"));
            }
            1 => {
                let times = *rng.pick(&[1, 2, 10, 1000]);
                for _ in 0..times {
                    let l = lines[at].clone();
                    lines.insert(at, l);
                }
                names.push(format!("duplicate line {} x{times}", at + 1));
            }
            2 => {
                let n = 1 + rng.below(5);
                for _ in 0..n {
                    let l = rng.pick(donors).clone();
                    let i = rng.below(lines.len() + 1);
                    lines.insert(i, l);
                }
                names.push(format!("splice {n} lines"));
            }
            3 => {
                let extreme = *rng.pick(EXTREMES);
                let pick = rng.below(8);
                if let Some(l) = replace_number(&lines[at], extreme, pick) {
                    lines[at] = l;
                    names.push(format!("number on line {} -> {extreme}", at + 1));
                } else {
                    // No number there: the first line with one.
                    if let Some((i, l)) = lines
                        .iter()
                        .enumerate()
                        .skip(at)
                        .find_map(|(i, l)| replace_number(l, extreme, pick).map(|l| (i, l)))
                    {
                        lines[i] = l;
                        names.push(format!("number on line {} -> {extreme}", i + 1));
                    }
                }
            }
            4 => {
                let n = *rng.pick(&[300, 5_000, 100_000, 1_000_000]);
                let long = "a".repeat(n);
                let l = &lines[at];
                lines[at] = match l.find(": ") {
                    Some(p) if script => format!("{}\"{long}\"{}", &l[..p + 2], &l[p + 2..]),
                    Some(p) => format!("{}{long}", &l[..p + 2]),
                    None => format!("{l}{long}"),
                };
                names.push(format!("string of {n} on line {}", at + 1));
            }
            5 => {
                let depth = *rng.pick(&[50, 65, 500, 10_000]);
                let (open, close) = if script {
                    *rng.pick(&[("(", ")"), ("[", "]"), ("#{a: ", "}"), ("{", "}")])
                } else {
                    *rng.pick(&[("[", "]"), ("{a: ", "}")])
                };
                let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                let l = &lines[at];
                lines[at] = match l.find(": ") {
                    Some(p) => format!("{}{nested}", &l[..p + 2]),
                    None => format!("{l} {nested}"),
                };
                names.push(format!("nesting {depth} deep on line {}", at + 1));
            }
            6 if !script => {
                // Aliases of aliases: each level doubles what it stands for.
                let levels = 1 + rng.below(24);
                let mut block = vec!["a0: &a0 [x, y]".to_string()];
                for k in 1..levels {
                    block.push(format!("a{k}: &a{k} [*a{}, *a{}]", k - 1, k - 1));
                }
                let l = &lines[at];
                if let Some(p) = l.find(": ") {
                    lines[at] = format!("{}*a{}", &l[..p + 2], levels - 1);
                }
                for (k, b) in block.into_iter().enumerate() {
                    lines.insert(k, b);
                }
                names.push(format!("alias chain of {levels} levels"));
            }
            6 => {
                let n = *rng.pick(&[10, 10_000, 1_000_000]);
                lines.insert(
                    at,
                    format!(
                        "let big = []; for i in 0..{n} {{ big.push(\"{}\"); }}",
                        "x".repeat(100)
                    ),
                );
                names.push(format!("array of {n} on line {}", at + 1));
            }
            7 => {
                let c = *rng.pick(CONTROLS);
                let l = &mut lines[at];
                let p = char_boundary(l, rng.below(l.len() + 1));
                l.insert_str(p, c);
                names.push(format!("control {c:?} on line {}", at + 1));
            }
            8 => {
                let l = &lines[at];
                if let Some(p) = l.find(": ") {
                    let field =
                        rng.pick(&["quantity", "id", "cores", "expires", "count", "on", "zzz"]);
                    let extra = format!("{field}: {}", rng.pick(EXTREMES));
                    lines.insert(at + 1, format!("{}{extra}", " ".repeat(p.min(6))));
                    names.push(format!("field `{extra}` after line {}", at + 1));
                }
            }
            9 => {
                // Cut the file short.
                let keep = rng.below(lines.len() + 1);
                lines.truncate(keep);
                names.push(format!("truncate to {keep} lines"));
            }
            _ => {
                let mut b = lines.join("\n").into_bytes();
                let n = 1 + rng.below(6);
                for _ in 0..n {
                    if b.is_empty() {
                        break;
                    }
                    let i = rng.below(b.len());
                    b[i] = match rng.below(3) {
                        0 => b[i] ^ (1 << rng.below(8)),
                        1 => *rng.pick(b"{}[]:-&*!|>'\"#%@`,?\n "),
                        _ => rng.next() as u8,
                    };
                }
                names.push(format!("flip {n} bytes"));
                match String::from_utf8(b) {
                    Ok(s) => {
                        text = s;
                        continue;
                    }
                    Err(e) => {
                        bytes = Some(e.into_bytes());
                        break;
                    }
                }
            }
        }
        text = lines.join("\n");
        if seed.ends_with('\n') {
            text.push('\n');
        }
    }
    (bytes.unwrap_or_else(|| text.into_bytes()), names)
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The line with one of its numbers (the `pick`th, wrapping) replaced, if
/// it has any.
fn replace_number(line: &str, with: &str, pick: usize) -> Option<String> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices().chain([(line.len(), ' ')]) {
        match (start, c.is_ascii_digit() || (start.is_some() && c == '.')) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    let (start, end) = *runs.get(pick % runs.len().max(1))?;
    Some(format!("{}{with}{}", &line[..start], &line[end..]))
}

// ---------------------------------------------------------------- workspace

/// A folder laid out as a project: the cut example in `examples/`, the
/// shipped playbook in `p/`, and the places the mutated inputs go.
struct Workspace {
    dir: tempfile::TempDir,
    playbook: Arc<Playbook>,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["examples", "p/tests", "scenarios", "fuzz", "lint"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("examples/acme.yaml"), acme_cut()).unwrap();
        for entry in std::fs::read_dir(root().join("policies"))
            .unwrap()
            .flatten()
        {
            let p = entry.path();
            if p.extension().is_some_and(|x| x == "rhai") {
                std::fs::copy(&p, d.join("p").join(p.file_name().unwrap())).unwrap();
            }
        }
        let playbook = Arc::new(Playbook::load(&d.join("p"), limits()).unwrap());
        Workspace { dir, playbook }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

// ---------------------------------------------------------------- running

/// What went wrong with one input.
#[derive(Debug)]
struct Failure {
    how: &'static str,
    detail: String,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static FUZZING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A panic hook that, on the threads running inputs, is silent and keeps the
/// message and place of the last panic, so a caught panic can be reported
/// with them; elsewhere (the harness's own assertions) it prints as usual.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !FUZZING.with(|f| f.get()) {
                return default(info);
            }
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg} at {at}")));
        }));
    });
}

/// Diagnostics about a file or folder as a whole, which have no line to point at.
const WHOLE_FILE: &[&str] = &[
    "file is too large",
    // About the policies folder as a whole: a mutated script may define no rule.
    "no rule in this policies folder",
];

fn whole_file(message: &str) -> bool {
    WHOLE_FILE.iter().any(|w| message.contains(w))
}

/// Diagnostics that do not say where.
fn without_line(d: &Diagnostics) -> Option<Failure> {
    d.0.iter()
        .find(|d| d.line == 0 && !whole_file(&d.message) && d.counted.is_empty())
        .map(|d| Failure {
            how: "diagnostic without a line",
            detail: d.to_string(),
        })
}

/// Runs the library on the input already written for `target`.
fn library(target: Target, ws: &Workspace) -> Result<(), Failure> {
    let input = ws.path(target.input());
    let pb = &ws.playbook;
    let check = |r: Result<(), Diagnostics>| match r {
        Ok(()) => Ok(()),
        Err(d) => without_line(&d).map_or(Ok(()), Err),
    };
    match target {
        Target::Snapshot => check(
            trueup::inventory::load(&input)
                .and_then(|snap| evaluate(pb, Arc::new(snap), EvalOptions::default()).map(|_| ())),
        ),
        Target::Waivers => check(trueup::waivers::WaiverSet::load(&input).and_then(|w| {
            let snap = trueup::inventory::load(&ws.path("examples/acme.yaml"))?;
            let opts = EvalOptions {
                waivers: Some(&w),
                ..EvalOptions::default()
            };
            evaluate(pb, Arc::new(snap), opts).map(|_| ())
        })),
        Target::Cases => check(
            trueup::testing::load_cases(&input)
                .and_then(|cases| trueup::testing::run(pb, &cases).map(|_| ())),
        ),
        Target::Scenario => {
            check(trueup::simulate::simulate_all(pb, &[input], None, None).map(|_| ()))
        }
        Target::Policy => {
            match trueup::lint::lint(&ws.path("lint")) {
                Ok(report) => {
                    if let Some(d) = report
                        .diagnostics
                        .iter()
                        .find(|d| d.line == 0 && !whole_file(&d.message))
                    {
                        return Err(Failure {
                            how: "diagnostic without a line",
                            detail: d.to_string(),
                        });
                    }
                }
                Err(d) => {
                    return Err(Failure {
                        how: "lint could not read the playbook",
                        detail: d.to_string(),
                    })
                }
            }
            check(Playbook::load(&ws.path("lint"), limits()).and_then(|p| {
                let snap = trueup::inventory::load(&ws.path("examples/acme.yaml"))?;
                evaluate(&p, Arc::new(snap), EvalOptions::default()).map(|_| ())
            }))
        }
    }
}

/// [`library`] on a thread of its own (with the stack of a main thread),
/// its panic caught, within [`TIME_BOUND`].
fn in_process(target: Target, ws: &Arc<Workspace>) -> Result<(), Failure> {
    let (tx, rx) = mpsc::channel();
    let ws2 = ws.clone();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            LAST_PANIC.with(|p| p.borrow_mut().take());
            FUZZING.with(|f| f.set(true));
            let out =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| library(target, &ws2)));
            let out = out.unwrap_or_else(|_| {
                Err(Failure {
                    how: "panic",
                    detail: LAST_PANIC
                        .with(|p| p.borrow_mut().take())
                        .map(|m| shorten(&m))
                        .unwrap_or_default(),
                })
            });
            let _ = tx.send(out);
        })
        .unwrap();
    match rx.recv_timeout(TIME_BOUND) {
        Ok(r) => r,
        Err(_) => Err(Failure {
            how: "hang",
            detail: format!("still running after {TIME_BOUND:?} in-process"),
        }),
    }
}

/// The command line of the binary run for `target`, relative to the workspace.
fn binary_args(target: Target) -> Vec<&'static str> {
    match target {
        Target::Snapshot => vec!["check", "-p", "p", "fuzz/snapshot.yaml"],
        Target::Waivers => vec![
            "check",
            "-p",
            "p",
            "--waivers",
            "fuzz/waivers.yaml",
            "examples/acme.yaml",
        ],
        Target::Cases => vec!["test", "p"],
        Target::Scenario => vec!["simulate", "-p", "p", "scenarios/fuzz.yaml"],
        Target::Policy => vec!["check", "-p", "lint", "examples/acme.yaml"],
    }
}

/// Runs the binary under `ulimit -v`, killed after [`TIME_BOUND`].
fn binary(target: Target, ws: &Workspace) -> Result<(), Failure> {
    let mut args: Vec<String> = binary_args(target).into_iter().map(String::from).collect();
    args.extend(["--time-limit".to_string(), SCRIPT_SECONDS.to_string()]);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_trueup"))
        .args(&args)
        .current_dir(ws.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > TIME_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure {
                how: "hang",
                detail: format!(
                    "`trueup {}` still running after {TIME_BOUND:?}",
                    args.join(" ")
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = drain.join().unwrap_or_default();
    let shown = || shorten(&stderr);
    if stderr.contains("panicked at") {
        return Err(Failure {
            how: "panic",
            detail: shown(),
        });
    }
    match status.code() {
        Some(0..=1) => Ok(()),
        Some(2) => match stderr
            .lines()
            .find(|l| is_diagnostic(l) && !has_place(l) && !whole_file(l) && !is_count(l))
        {
            Some(l) => Err(Failure {
                how: "diagnostic without a line",
                detail: l.chars().take(400).collect(),
            }),
            None if !stderr.lines().any(is_diagnostic) => Err(Failure {
                how: "exit 2 without a diagnostic",
                detail: shown(),
            }),
            None => Ok(()),
        },
        Some(code) => Err(Failure {
            how: "bad exit code",
            detail: format!("exit code {code}\n{}", shown()),
        }),
        None => Err(Failure {
            how: "killed by a signal",
            detail: format!(
                "{status} (memory limit {MEMORY_LIMIT_KIB} KiB)\n{}",
                shown()
            ),
        }),
    }
}

fn is_diagnostic(line: &str) -> bool {
    line.starts_with("error: ") || line.starts_with("warning: ")
}

/// `error: FILE: and 950 more like this: …`: the count of a file's
/// diagnostics past the first fifty, which are each at their line.
fn is_count(line: &str) -> bool {
    line.split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": and "))
        .is_some_and(|(_, count)| count.contains(" more"))
}

/// `error: FILE:LINE[:COL]: message`, with LINE at least 1.
fn has_place(line: &str) -> bool {
    let rest = line.split_once(": ").map_or("", |(_, r)| r);
    let Some((place, _)) = rest.split_once(": ") else {
        return false;
    };
    let mut parts = place.rsplit(':');
    let last = parts.next().and_then(|p| p.parse::<u32>().ok());
    let before = parts.next().and_then(|p| p.parse::<u32>().ok());
    match (before, last) {
        (Some(line), Some(_)) => line > 0,
        (None, Some(line)) => line > 0,
        _ => false,
    }
}

fn shorten(s: &str) -> String {
    s.lines()
        .take(20)
        .map(|l| match l.char_indices().nth(300) {
            Some((cut, _)) => format!("{}… ({} bytes)", &l[..cut], l.len()),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------- the harness

fn iterations() -> usize {
    std::env::var("TRUEUP_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERS)
}

fn seed() -> u64 {
    std::env::var("TRUEUP_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

fn failures_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or(Path::new("target"))
        .join("fuzz-failures")
}

/// Saves a failing input and its note; returns the input's path.
fn save(target: Target, iter: usize, input: &[u8], mutations: &[String], f: &Failure) -> PathBuf {
    let dir = failures_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let ext = Path::new(target.input())
        .extension()
        .unwrap()
        .to_string_lossy();
    let path = dir.join(format!("{}-{iter}.{ext}", target.name()));
    std::fs::write(&path, input).unwrap();
    let note = format!(
        "target: {}\niteration: {iter}\nseed: {}\nfailure: {}\n{}\nmutations:\n  {}\n",
        target.name(),
        seed(),
        f.how,
        f.detail,
        mutations.join("\n  ")
    );
    std::fs::write(path.with_extension(format!("{ext}.txt")), note).unwrap();
    path
}

fn known(target: Target, f: &Failure) -> Option<&'static str> {
    let text = format!("{}: {}", f.how, f.detail);
    KNOWN_UNTIL_FIXED
        .iter()
        .find(|(t, phrase, _)| *t == target && text.contains(phrase))
        .map(|(_, _, shape)| *shape)
}

/// Address space this test process may use, in bytes: an input that makes
/// the library allocate without bound aborts the harness here instead of
/// taking the machine's memory (its input is then the in-flight file).
const IN_PROCESS_MEMORY: u64 = 8 << 30;

/// Limits this process's address space with `prlimit`, where it exists.
fn limit_own_memory() {
    static LIMIT: Once = Once::new();
    LIMIT.call_once(|| {
        let _ = Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--as={IN_PROCESS_MEMORY}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    });
}

fn fuzz(target: Target) {
    install_panic_hook();
    limit_own_memory();
    let corpus = corpus(target);
    let ws = Arc::new(Workspace::new());
    let input_path = ws.path(target.input());
    let mut rng = Rng::new(seed() ^ (target as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let script = target == Target::Policy;
    let iters = iterations();
    let started = Instant::now();
    let mut unknown = Vec::new();
    let mut known_seen: Vec<(usize, &str, String)> = Vec::new();
    let mut binary_runs = 0;
    let mut slowest = Duration::ZERO;
    std::fs::create_dir_all(failures_dir()).unwrap();
    let ext = Path::new(target.input())
        .extension()
        .unwrap()
        .to_string_lossy();
    let in_flight = failures_dir().join(format!("{}-in-flight.{ext}", target.name()));
    for iter in 0..iters {
        let seed_text = rng.pick(&corpus.seeds).clone();
        let (input, mutations) = mutate(&mut rng, &seed_text, &corpus.donors, script);
        std::fs::write(&input_path, &input).unwrap();
        // Kept only if the harness itself dies on this input.
        std::fs::write(&in_flight, &input).unwrap();
        let t = Instant::now();
        let mut result = in_process(target, &ws);
        if result.is_ok() && iter % BINARY_EVERY == 0 {
            binary_runs += 1;
            result = binary(target, &ws);
        }
        slowest = slowest.max(t.elapsed());
        if let Err(f) = result {
            let saved = save(target, iter, &input, &mutations, &f);
            match known(target, &f) {
                Some(shape) => known_seen.push((iter, shape, f.how.to_string())),
                None => unknown.push(format!(
                    "{}: {}\n  {}\n  mutations: {}",
                    saved.display(),
                    f.how,
                    f.detail.replace('\n', "\n  "),
                    mutations.join("; ")
                )),
            }
            if f.how == "hang" && unknown.len() > 3 {
                break; // hung threads pile up; the first few say enough
            }
        }
    }
    let _ = std::fs::remove_file(&in_flight);
    eprintln!(
        "fuzz {}: {iters} inputs ({binary_runs} through the binary) in {:.1?}, slowest {:.1?}; {} known failures, {} new",
        target.name(),
        started.elapsed(),
        slowest,
        known_seen.len(),
        unknown.len()
    );
    for (_, shape, _) in KNOWN_UNTIL_FIXED.iter().filter(|k| k.0 == target) {
        let seen: Vec<&(usize, &str, String)> =
            known_seen.iter().filter(|k| k.1 == *shape).collect();
        if let Some((first, _, how)) = seen.first() {
            eprintln!(
                "  known ({how}), {} inputs, the first {first}: {shape}",
                seen.len()
            );
        }
    }
    assert!(
        unknown.is_empty(),
        "fuzz {}: {} failing inputs (saved under {}):\n{}",
        target.name(),
        unknown.len(),
        failures_dir().display(),
        unknown.join("\n")
    );
}

#[test]
fn fuzz_snapshot_loader() {
    fuzz(Target::Snapshot);
}

#[test]
fn fuzz_waivers() {
    fuzz(Target::Waivers);
}

#[test]
fn fuzz_policy_test_cases() {
    fuzz(Target::Cases);
}

#[test]
fn fuzz_scenarios() {
    fuzz(Target::Scenario);
}

#[test]
fn fuzz_policy_compiler() {
    fuzz(Target::Policy);
}

/// The mutator is deterministic: the same seed gives the same inputs.
#[test]
fn mutations_are_reproducible() {
    let corpus = corpus(Target::Snapshot);
    let run = || {
        let mut rng = Rng::new(42);
        (0..50)
            .map(|_| mutate(&mut rng, &corpus.seeds[0], &corpus.donors, false))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn places_are_recognised() {
    assert!(has_place("error: a/b.yaml:3:5: unknown field `x`"));
    assert!(has_place(
        "error: a/b.yaml:3: scenario `x`: expectation not met"
    ));
    assert!(!has_place("error: a/b.yaml: empty file"));
    assert!(!has_place("error: a/b.yaml:0:0: empty file"));
}

/// Regression: a script that was not valid UTF-8 was reported as `cannot
/// read script` with no line, and `lint` exited 1 as if it had compiled.
#[test]
fn a_script_that_is_not_utf8_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"const ID = \"x\";\n// fine\nfn check(inv) { [] } // \xff\xfe\n".to_vec();
    bytes.extend_from_slice(b"\n");
    std::fs::write(dir.path().join("bad.rhai"), bytes).unwrap();
    std::fs::write(dir.path().join("s.yaml"), read("tests/golden/base.yaml")).unwrap();
    for args in [&["lint", "."][..], &["check", "-p", ".", "s.yaml"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_trueup"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "`trueup {}`: {stderr}",
            args.join(" ")
        );
        assert!(
            stderr.contains("bad.rhai:3:") && stderr.contains("not valid UTF-8"),
            "`trueup {}`: {stderr}",
            args.join(" ")
        );
    }
}
