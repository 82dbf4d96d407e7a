//! `cargo bench [-- SIZE...]`: how fast trueup is on generated snapshots of
//! 10k, 100k and 1M installations (or the sizes given: `10k`, `100k`, `1M`,
//! or a plain number), phase by phase, against serde_yaml parsing the same
//! file into a `serde_yaml::Value` in the same kind of process.
//!
//! Snapshots are generated into `target/bench/` with the seeded generator
//! (`trueup generate --installations N --seed 1`, and the same with
//! `--publisher-metrics` for the metric-profile mix), again whenever the
//! generator's source changes. Each
//! measurement runs in a process of its own, so one phase's memory never
//! counts against another: the yardstick in one, trueup's phases in-library
//! in another (peak memory is read after each phase, so it is the peak so
//! far), and whole `trueup` commands as a user runs them. Whole commands
//! run three times; the median is reported.
//!
//! The last table checks the targets trueup holds itself to, as ratios
//! measured in this one run.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use trueup::engine::{evaluate, EvalOptions};
use trueup::generate::{write_snapshot, Params};
use trueup::policy::{Limits, Playbook};
use trueup::report::{self, CheckReport, FailOn, Format};

const SEED: u64 = 1;
/// Set in the processes this benchmark starts to measure one thing.
const CHILD: &str = "TRUEUP_BENCH_CHILD";
/// Whole-command runs per measurement; the median is kept.
const RUNS: usize = 3;
/// Published whole-process figures for the overuse, unlicensed and
/// install-spike rules on a generated 1M-installation snapshot, 2-core
/// machine: regorus (Rego in Rust, from YAML) and OPA (from JSON).
const REGORUS_1M_SECS: f64 = 36.0;
const OPA_1M_SECS: f64 = 48.0;
/// The three rules the published figures cover.
const THREE_RULES: &[&str] = &["overuse.rhai", "unlicensed.rhai", "install-spike.rhai"];

fn main() {
    if let Ok(what) = std::env::var(CHILD) {
        let path = PathBuf::from(std::env::var_os("TRUEUP_BENCH_FILE").expect("file"));
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        match what.as_str() {
            "yardstick" => yardstick(&path),
            "load" => load_only(&path),
            _ => phases(&root, &path),
        }
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // `ledger` selects the case-ledger measurement, alone or with sizes;
    // `import` the import benchmark, at 1M rows only; alone, it runs
    // nothing else.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let with_ledger = args.iter().any(|a| a == "ledger");
    if args.iter().any(|a| a == "import") {
        if let Err(e) = import_bench(&root) {
            eprintln!("error: import: {e}");
            std::process::exit(2);
        }
        if !args.iter().any(|a| !a.starts_with('-') && a != "import") {
            return;
        }
    }
    // `cargo bench` passes `--bench`; anything else that is a size selects it.
    let mut sizes: Vec<usize> = args
        .into_iter()
        .filter(|a| !a.starts_with('-') && a != "import" && a != "ledger")
        .filter_map(|a| {
            let s = parse_size(&a);
            if s.is_none() {
                eprintln!("note: ignoring `{a}` (not a size such as 10k, 100k, 1M)");
            }
            s
        })
        .collect();
    if sizes.is_empty() && with_ledger {
        match ledger::bench(&root) {
            Ok(line) => targets_table(&[line]),
            Err(e) => {
                eprintln!("error: ledger: {e}");
                std::process::exit(2);
            }
        }
        return;
    }
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000, 1_000_000];
    }
    // The ledger measurement runs beside the large sizes, or when asked.
    let ledger_line = if with_ledger || sizes.iter().any(|&n| n >= 100_000) {
        match ledger::bench(&root) {
            Ok(line) => Some(line),
            Err(e) => {
                eprintln!("error: ledger: {e}");
                std::process::exit(2);
            }
        }
    } else {
        None
    };
    let mut results = Vec::new();
    for n in sizes {
        match bench(&root, n) {
            Ok(r) => results.push(r),
            Err(e) => {
                eprintln!("error: {} installations: {e}", label(n));
                std::process::exit(2);
            }
        }
    }
    let mut lines = targets(&results);
    lines.extend(ledger_line);
    targets_table(&lines);
}

// ---- measurements, each in its own process ----

/// One measured step: seconds and the process's peak memory by then.
#[derive(Clone, Debug)]
struct Row {
    phase: String,
    secs: f64,
    peak: Option<u64>,
}

/// VmHWM (peak resident set) of this process, in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Prints a row for the parent to read.
fn report_row(phase: &str, secs: f64) {
    println!("row\t{phase}\t{secs}\t{}", peak_rss().unwrap_or(0));
}

fn yardstick(path: &Path) {
    let start = Instant::now();
    let text = std::fs::read_to_string(path).expect("read");
    let v: serde_yaml::Value = serde_yaml::from_str(&text).expect("serde_yaml parses");
    let secs = start.elapsed().as_secs_f64();
    report_row("serde_yaml → Value (yardstick)", secs);
    drop(v);
}

fn load_only(path: &Path) {
    let start = Instant::now();
    let snapshot = trueup::inventory::load(path).expect("the snapshot loads");
    report_row(
        "load (read, parse, validate)",
        start.elapsed().as_secs_f64(),
    );
    drop(snapshot);
}

fn phases(root: &Path, path: &Path) {
    let policies = root.join("policies");
    let playbook = Playbook::load(&policies, Limits::default()).expect("the playbook loads");
    let timed = |phase: &str, start: Instant| report_row(phase, start.elapsed().as_secs_f64());

    let start = Instant::now();
    let snapshot = Arc::new(trueup::inventory::load(path).expect("the snapshot loads"));
    timed("load (read, parse, validate)", start);

    let start = Instant::now();
    let rows = trueup::inventory::positions(&snapshot, snapshot.meta.taken_at);
    timed("licence position", start);
    println!("count\tposition rows\t{}", rows.len());
    drop(rows);

    let start = Instant::now();
    let evaluation = evaluate(&playbook, snapshot, EvalOptions::default()).expect("evaluates");
    timed("evaluate (position, rules, remediation, routes)", start);
    println!("count\tfindings\t{}", evaluation.findings.len());

    let check = CheckReport {
        policies: policies.clone(),
        policies_digest: playbook.digest.clone(),
        evaluations: vec![evaluation],
        errors: Vec::new(),
        fail_on: FailOn::parse("high").expect("a severity"),
        rules: report::RuleInfo::of(&playbook),
        ledger: None,
    };
    let start = Instant::now();
    let text = report::render_check(&check, Format::Text, false);
    let json = report::render_check(&check, Format::Json, false);
    timed("output (text and JSON)", start);
    println!("count\tbytes of output\t{}", text.len() + json.len());
}

/// What a child measured: rows, and counts of what it saw.
type Measurements = (Vec<Row>, Vec<(String, u64)>);

/// Runs this benchmark again as a child measuring `what` on `file`.
fn child(what: &str, file: &Path) -> Result<Measurements, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(CHILD, what)
        .env("TRUEUP_BENCH_FILE", file)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("measuring {what} failed ({})", out.status));
    }
    let mut rows = Vec::new();
    let mut counts = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["row", phase, secs, peak] => rows.push(Row {
                phase: phase.to_string(),
                secs: secs.parse().unwrap_or(f64::NAN),
                peak: peak.parse().ok().filter(|&p| p > 0),
            }),
            ["count", what, n] => counts.push((what.to_string(), n.parse().unwrap_or(0))),
            _ => {}
        }
    }
    Ok((rows, counts))
}

/// A whole `trueup` command, `RUNS` times: the median wall time and the
/// peak memory of that run (from `/usr/bin/time` where it exists).
fn command(root: &Path, args: &[&std::ffi::OsStr]) -> Result<(f64, Option<u64>), String> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_trueup"));
    let time = Path::new("/usr/bin/time");
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let mut cmd = if time.exists() {
            let mut c = Command::new(time);
            c.arg("-v").arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.args(args)
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let out = cmd.output().map_err(|e| e.to_string())?;
        let secs = start.elapsed().as_secs_f64();
        if !matches!(out.status.code(), Some(0 | 1)) {
            return Err(format!(
                "`trueup {}` exited {}:\n{}",
                args.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let peak = String::from_utf8_lossy(&out.stderr)
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024);
        runs.push((secs, peak));
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(runs[runs.len() / 2])
}

// ---- one size ----

/// What the targets are checked against, for one size.
struct Measured {
    n: usize,
    size: u64,
    yardstick: f64,
    load: f64,
    position: f64,
    evaluate: f64,
    check: f64,
    check_peak: Option<u64>,
    /// `check` of the snapshot with a third of products on metric profiles.
    publisher_metrics: f64,
    three_rules: f64,
    simulate: Option<f64>,
}

fn bench(root: &Path, n: usize) -> Result<Measured, String> {
    let path = snapshot_path(root, n, false).map_err(|e| e.to_string())?;
    let mixed = snapshot_path(root, n, true).map_err(|e| e.to_string())?;
    let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    let three = three_rule_playbook(root).map_err(|e| e.to_string())?;

    let (mut rows, _) = child("yardstick", &path)?;
    let (phases, counts) = child("phases", &path)?;
    rows.extend(phases);
    let (check, check_peak) = command(root, &["check".as_ref(), path.as_os_str()])?;
    rows.push(Row {
        phase: "`trueup check` (whole process)".into(),
        secs: check,
        peak: check_peak,
    });
    let (publisher_metrics, mixed_peak) = command(root, &["check".as_ref(), mixed.as_os_str()])?;
    rows.push(Row {
        phase: "`trueup check`, a third of products on metric profiles".into(),
        secs: publisher_metrics,
        peak: mixed_peak,
    });
    let (three_rules, three_peak) = command(
        root,
        &[
            "check".as_ref(),
            "-p".as_ref(),
            three.as_os_str(),
            path.as_os_str(),
        ],
    )?;
    rows.push(Row {
        phase: "`trueup check`, three rules".into(),
        secs: three_rules,
        peak: three_peak,
    });
    // The simulation benchmark's scenario names the 100k snapshot.
    let scenario = root.join("benches").join("simulate-100k.yaml");
    let simulate = if n == 100_000 {
        let (secs, peak) = command(root, &["simulate".as_ref(), scenario.as_os_str()])?;
        rows.push(Row {
            phase: "`trueup simulate`, 90 days, 20 events".into(),
            secs,
            peak,
        });
        Some(secs)
    } else {
        None
    };

    let secs_of = |prefix: &str| {
        rows.iter()
            .find(|r| r.phase.starts_with(prefix))
            .map_or(f64::NAN, |r| r.secs)
    };
    let yard = secs_of("serde_yaml");
    println!();
    println!(
        "### {} installations ({:.1} MB of YAML; {})",
        label(n),
        size as f64 / 1e6,
        counts
            .iter()
            .map(|(what, k)| format!("{k} {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!("| phase | seconds | × serde_yaml | peak memory | × file size |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        let (peak, ratio) = match r.peak {
            Some(b) => (
                format!("{:.0} MB", b as f64 / 1e6),
                format!("{:.2}", b as f64 / size as f64),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        println!(
            "| {} | {:.3} | {:.2} | {peak} | {ratio} |",
            r.phase,
            r.secs,
            r.secs / yard
        );
    }
    Ok(Measured {
        n,
        size,
        yardstick: yard,
        load: secs_of("load"),
        position: secs_of("licence position"),
        evaluate: secs_of("evaluate"),
        check,
        check_peak,
        publisher_metrics,
        three_rules,
        simulate,
    })
}

/// A playbook of the three rules the published peer figures cover.
fn three_rule_playbook(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join("target").join("bench").join("three-rules");
    std::fs::create_dir_all(&dir)?;
    for rule in THREE_RULES {
        std::fs::copy(root.join("policies").join(rule), dir.join(rule))?;
    }
    Ok(dir)
}

// ---- the targets ----

/// One target: what was measured, the ratio against its target, met.
type Target = (String, String, bool);

fn targets(results: &[Measured]) -> Vec<Target> {
    let at = |n: usize| results.iter().find(|r| r.n == n);
    let mut lines: Vec<Target> = Vec::new();
    if let Some(m) = at(1_000_000) {
        let three = REGORUS_1M_SECS / m.three_rules;
        lines.push((
            format!(
                "three rules at 1M: {:.1} s; regorus {REGORUS_1M_SECS:.0} s, OPA {OPA_1M_SECS:.0} s",
                m.three_rules
            ),
            format!(
                "{three:.1}× regorus (≥ 3×), {:.1}× OPA (≥ 4×)",
                OPA_1M_SECS / m.three_rules
            ),
            three >= 3.0 && OPA_1M_SECS / m.three_rules >= 4.0,
        ));
        let check = REGORUS_1M_SECS / m.check;
        lines.push((
            format!("default playbook at 1M: `trueup check` {:.1} s", m.check),
            format!(
                "{check:.1}× regorus (≥ 3×), {:.1}× OPA (≥ 4×)",
                OPA_1M_SECS / m.check
            ),
            check >= 3.0 && OPA_1M_SECS / m.check >= 4.0,
        ));
        let mixed = m.publisher_metrics / m.check;
        lines.push((
            format!(
                "metric profiles at 1M: `trueup check` {:.2} s with a third of products on profiles, {:.2} s without",
                m.publisher_metrics, m.check
            ),
            format!("{mixed:.2}× (≤ 1.10×)"),
            mixed <= 1.10,
        ));
        // `evaluate` computes the position before any rule runs; the rest
        // is what the playbook costs.
        let rules = m.evaluate - m.position;
        let ratio = m.position / rules;
        lines.push((
            format!(
                "position at 1M: {:.2} s; evaluation {:.2} s, {:.2} s of it past the position",
                m.position, m.evaluate, rules
            ),
            format!("{ratio:.2}× (≤ 1×)"),
            ratio > 0.0 && ratio <= 1.0,
        ));
        let share = m.evaluate / m.load;
        lines.push((
            format!(
                "evaluation at 1M: {:.2} s on {:.2} s of loading",
                m.evaluate, m.load
            ),
            format!("adds {:.0}% (≤ 25%)", share * 100.0),
            share <= 0.25,
        ));
    }
    for r in results {
        let ratio = r.load / r.yardstick;
        lines.push((
            format!(
                "loading at {}: {:.2} s, serde_yaml → Value {:.2} s",
                label(r.n),
                r.load,
                r.yardstick
            ),
            format!("{ratio:.2}× (≤ 1×)"),
            ratio <= 1.0,
        ));
    }
    // A process starts at some 12 MB whatever it reads, so the memory
    // target is about large snapshots; smaller ones show in their tables.
    for r in results.iter().filter(|r| r.n >= 1_000_000) {
        if let Some(peak) = r.check_peak {
            let ratio = peak as f64 / r.size as f64;
            lines.push((
                format!(
                    "peak memory of `trueup check` at {}: {:.0} MB for {:.0} MB of YAML",
                    label(r.n),
                    peak as f64 / 1e6,
                    r.size as f64 / 1e6
                ),
                format!("{ratio:.2}× the file (≤ 3×)"),
                ratio <= 3.0,
            ));
        }
    }
    if let (Some(big), Some(small)) = (at(1_000_000), at(100_000)) {
        let ratio = big.check / small.check;
        lines.push((
            format!(
                "growth: `trueup check` {:.2} s at 1M, {:.2} s at 100k",
                big.check, small.check
            ),
            format!("{ratio:.1}× (≤ 11×)"),
            ratio <= 11.0,
        ));
    }
    if let Some(r) = at(100_000) {
        if let Some(sim) = r.simulate {
            let ratio = sim / r.check;
            lines.push((
                format!(
                    "simulation at 100k: {sim:.2} s, one `trueup check` {:.2} s",
                    r.check
                ),
                format!("{ratio:.1}× one check (≤ 10×)"),
                ratio <= 10.0,
            ));
        }
    }
    lines
}

fn targets_table(lines: &[Target]) {
    println!();
    println!("### Targets");
    println!();
    println!("| measured | ratio (target) | met |");
    println!("|---|---|---|");
    for (what, ratio, met) in lines {
        println!(
            "| {what} | {ratio} | {} |",
            if *met { "yes" } else { "**no**" }
        );
    }
}

// ---- snapshots and sizes ----

/// The generator's own source, so that a snapshot made by an older one is
/// made again: the workload is what the generator makes now.
const GENERATOR: &str = include_str!("../src/generate.rs");

/// The generated snapshot of `n` installations; with `publisher_metrics`,
/// a third of its products on the shipped metric profiles.
fn snapshot_path(root: &Path, n: usize, publisher_metrics: bool) -> std::io::Result<PathBuf> {
    use sha2::{Digest, Sha256};

    let dir = root.join("target").join("bench");
    std::fs::create_dir_all(&dir)?;
    let tag = if publisher_metrics { "-pm" } else { "" };
    let path = dir.join(format!("snapshot-{}-s{SEED}{tag}.yaml", label(n)));
    // Beside the snapshot: the digest of the generator that made it.
    let stamp = path.with_extension("yaml.generator");
    let digest: String = Sha256::digest(GENERATOR.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let current = path.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == digest);
    if !current {
        eprintln!("generating {} ...", path.display());
        let tmp = path.with_extension("yaml.tmp");
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        write_snapshot(
            &mut w,
            Params {
                installations: n,
                seed: SEED,
                publisher_metrics,
            },
        )?;
        drop(w);
        std::fs::rename(&tmp, &path)?;
        std::fs::write(&stamp, digest)?;
    }
    Ok(path)
}

fn parse_size(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let (num, mult) = match lower.strip_suffix('k') {
        Some(n) => (n, 1_000),
        None => match lower.strip_suffix('m') {
            Some(n) => (n, 1_000_000),
            None => (lower.as_str(), 1),
        },
    };
    num.parse::<usize>()
        .ok()
        .filter(|&n| n > 0)
        .map(|n| n * mult)
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

// ---- the case ledger ----

/// `check --ledger` against a ledger of a year of daily runs and 100,000
/// cases, built directly with SQL (not 365 checks), recording a run of
/// some 2,000 findings: how much longer than the same check without it.
mod ledger {
    use std::path::{Path, PathBuf};

    use rusqlite::params;
    use trueup::ledger::chain::{canonical, observation_line, sha256_hex, GENESIS};

    /// One finding per device: 2,000 on the 10k snapshot.
    const DEVICE_RULE: &str = r#"
const ID = "seen";
fn check(inv) {
    let out = findings();
    for d in inv.devices {
        out.push(finding(#{
            subject: #{ kind: "device", id: d.id },
            severity: "low",
            message: "device " + d.id,
            evidence: #{ cores: d.cores },
        }));
    }
    out
}
"#;
    const CASES: usize = 100_000;
    const DAYS: i64 = 365;

    pub fn bench(root: &Path) -> Result<super::Target, String> {
        let snapshot = super::snapshot_path(root, 10_000, false).map_err(|e| e.to_string())?;
        let dir = root.join("target").join("bench").join("ledger");
        let policies = dir.join("policies");
        std::fs::create_dir_all(&policies).map_err(|e| e.to_string())?;
        std::fs::copy(
            root.join("policies").join("routing.rhai"),
            policies.join("routing.rhai"),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(policies.join("seen.rhai"), DEVICE_RULE).map_err(|e| e.to_string())?;
        let snap =
            trueup::inventory::load(&snapshot).map_err(|_| "the snapshot loads".to_string())?;
        let devices: Vec<String> = snap
            .devices
            .iter()
            .map(|d| snap.str(d.id).to_string())
            .collect();
        let estate = snap.meta.estate().to_string();
        let base = dir.join("base.db");
        let start = std::time::Instant::now();
        build(&base, &estate, &devices).map_err(|e| format!("building the ledger: {e}"))?;
        eprintln!(
            "built a ledger of {CASES} cases and {DAYS} daily runs in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        let plain = median(|| run(root, &policies, &snapshot, None))?;
        let work = dir.join("work.db");
        let with = median(|| {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(PathBuf::from(format!("{}{ext}", work.display())));
            }
            std::fs::copy(&base, &work).map_err(|e| e.to_string())?;
            run(root, &policies, &snapshot, Some(&work))
        })?;
        let extra = with - plain;
        println!();
        println!("### Case ledger ({} findings a run)", devices.len());
        println!();
        println!("| phase | seconds |");
        println!("|---|---:|");
        println!("| `trueup check` (no ledger) | {plain:.3} |");
        println!("| `trueup check --ledger` ({CASES} cases, {DAYS} runs) | {with:.3} |");
        Ok((
            format!(
                "ledger: recording {} findings into {CASES} cases and {DAYS} runs: {with:.2} s, check alone {plain:.2} s",
                devices.len()
            ),
            format!("+{extra:.2} s, {:.2}× the check (≤ +1 s)", with / plain),
            extra < 1.0,
        ))
    }

    fn median(mut f: impl FnMut() -> Result<f64, String>) -> Result<f64, String> {
        let mut runs = Vec::new();
        for _ in 0..super::RUNS {
            runs.push(f()?);
        }
        runs.sort_by(f64::total_cmp);
        Ok(runs[runs.len() / 2])
    }

    fn run(
        root: &Path,
        policies: &Path,
        snapshot: &Path,
        ledger: Option<&Path>,
    ) -> Result<f64, String> {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trueup"));
        cmd.current_dir(root)
            .arg("check")
            .arg(snapshot)
            .arg("-p")
            .arg(policies)
            .args(["--fail-on", "never", "-f", "json"])
            .env_remove("TRUEUP_LEDGER")
            .stdout(std::process::Stdio::null());
        if let Some(l) = ledger {
            cmd.arg("--ledger").arg(l);
        }
        let start = std::time::Instant::now();
        let out = cmd.output().map_err(|e| e.to_string())?;
        let secs = start.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!(
                "check exited {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(secs)
    }

    /// 100,000 cases: one per device still open (seen every day for a
    /// year), the rest opened and resolved over the year; a run a day; a
    /// valid event chain.
    fn build(path: &Path, estate: &str, devices: &[String]) -> rusqlite::Result<()> {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(PathBuf::from(format!("{}{ext}", path.display())));
        }
        drop(
            trueup::ledger::Ledger::open(path, trueup::ledger::Access::Write)
                .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?,
        );
        let mut db = rusqlite::Connection::open(path)?;
        db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")?;
        let tx = db.transaction()?;
        let first = trueup::date::Date::parse("2025-11-01").expect("a date");
        let ladder =
            r#"{"queue":"it-asset-management","owner":"itam-lead","notify_by":null,"escalate":[]}"#;
        let mut seq = 0i64;
        let mut head = GENESIS.to_string();
        let mut event = |tx: &rusqlite::Transaction<'_>,
                         case: Option<i64>,
                         run: Option<i64>,
                         kind: &str,
                         at: &str,
                         body: &str|
         -> rusqlite::Result<()> {
            seq += 1;
            let sha =
                sha256_hex(canonical(seq, case, run, kind, "trueup", at, body, &head).as_bytes());
            tx.prepare_cached("INSERT INTO events (seq, case_id, run_id, kind, actor, at, body, prev_sha256, sha256) VALUES (?1, ?2, ?3, ?4, 'trueup', ?5, ?6, ?7, ?8)")?
                .execute(params![seq, case, run, kind, at, body, head, sha])?;
            head = sha;
            Ok(())
        };
        let evidence = r#"{"cores":4}"#;
        let evidence_sha = sha256_hex(evidence.as_bytes());
        tx.execute(
            "INSERT INTO evidence (sha256, json) VALUES (?1, ?2)",
            params![evidence_sha, evidence],
        )?;
        for day in 0..DAYS {
            let run = day + 1;
            let at = (first + day).to_string();
            tx.prepare_cached("INSERT INTO runs (id, estate, snapshot_path, snapshot_id, sha256, as_of, policies_digest) VALUES (?1, ?2, 'daily.yaml', 'daily', ?3, ?4, 'bench')")?
                .execute(params![run, estate, format!("{run:064}"), at])?;
        }
        // Open cases: every device but the last, so the run opens one.
        let open = devices.len().saturating_sub(1);
        let opened = first.to_string();
        for (i, d) in devices.iter().take(open).enumerate() {
            let id = i as i64 + 1;
            tx.prepare_cached("INSERT INTO cases (id, estate, finding_id, rule, subject_kind, subject_id, state, severity, queue, owner, route, waived, opened, since, last_seen, message) VALUES (?1, ?2, ?3, 'seen', 'device', ?4, 'open', 'low', 'it-asset-management', 'itam-lead', ?5, 0, ?6, ?6, ?7, ?8)")?
                .execute(params![id, estate, format!("seen:device:{d}"), d, ladder, opened, (first + (DAYS - 1)).to_string(), format!("device {d}")])?;
            event(
                &tx,
                Some(id),
                Some(1),
                "opened",
                &opened,
                r#"{"bench":true}"#,
            )?;
        }
        // Resolved cases spread over the year.
        for i in open..CASES {
            let id = i as i64 + 1;
            let on = first + (i as i64 % (DAYS - 30));
            let off = on + 3 + (i as i64 % 27);
            tx.prepare_cached("INSERT INTO cases (id, estate, finding_id, rule, subject_kind, subject_id, state, severity, queue, owner, route, waived, opened, since, last_seen, resolved_on, resolution, message) VALUES (?1, ?2, ?3, 'old', 'product', ?4, 'resolved', 'medium', 'sam-team', NULL, ?5, 0, ?6, ?6, ?7, ?7, 'run', 'gone')")?
                .execute(params![id, estate, format!("old:product:p{i}"), format!("p{i}"), ladder, on.to_string(), off.to_string()])?;
            event(
                &tx,
                Some(id),
                None,
                "opened",
                &on.to_string(),
                r#"{"bench":true}"#,
            )?;
            event(
                &tx,
                Some(id),
                None,
                "resolved",
                &off.to_string(),
                r#"{"bench":true}"#,
            )?;
        }
        // A run a day, each observing every open case.
        for day in 0..DAYS {
            let run = day + 1;
            let at = (first + day).to_string();
            let mut lines = Vec::with_capacity(open);
            for (i, d) in devices.iter().take(open).enumerate() {
                let case = i as i64 + 1;
                let message = format!("device {d}");
                tx.prepare_cached("INSERT INTO observations (case_id, run_id, severity, waived, message, evidence) VALUES (?1, ?2, 'low', 0, ?3, ?4)")?
                    .execute(params![case, run, message, evidence_sha])?;
                lines.push((
                    case,
                    observation_line(case, "low", false, &message, &evidence_sha),
                ));
            }
            lines.sort();
            let digest = sha256_hex(
                lines
                    .iter()
                    .map(|(_, l)| l.as_str())
                    .collect::<String>()
                    .as_bytes(),
            );
            event(
                &tx,
                None,
                Some(run),
                "recorded",
                &at,
                &format!(r#"{{"observations":"{digest}"}}"#),
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('head_seq', ?1)",
            [seq.to_string()],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('head_sha256', ?1)",
            [head.clone()],
        )?;
        tx.commit()?;
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

// ---- import ----

/// Rows of the generated installed-software export.
const IMPORT_ROWS: usize = 1_000_000;
/// Recognition rules, products, and distinct raw entries in the export.
const IMPORT_RULES: usize = 500;
const IMPORT_DEVICES: usize = 40_000;
const IMPORT_DISTINCT: usize = 20_000;

/// A tiny deterministic generator (64-bit LCG), for the import inputs.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Writes the import inputs once: a Configuration Manager installed-software
/// export of 1M rows and its systems export, and a recognition file of 500
/// rules (globs and regexes, 100 publishers, some `ignore`).
fn import_inputs(dir: &Path) -> std::io::Result<(PathBuf, PathBuf, PathBuf)> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let software = dir.join("mecm-software-1M-v2.csv");
    let systems = dir.join("mecm-systems.csv");
    let rules = dir.join("recognition-500.yaml");
    if software.exists() && systems.exists() && rules.exists() {
        return Ok((software, systems, rules));
    }
    eprintln!("generating {} ...", software.display());
    let vendors = 100;
    let mut r = String::from("products:\n");
    let ignores = 20;
    for k in 0..IMPORT_RULES - ignores {
        r.push_str(&format!(
            "  - {{ id: p{k:03}, name: Product {k:03}, publisher: Vendor{:03} }}\n",
            k % vendors
        ));
    }
    r.push_str("rules:\n");
    for k in 0..IMPORT_RULES - ignores {
        let v = k % vendors;
        if k % 4 == 0 {
            r.push_str(&format!(
                "  - {{ publisher: \"Vendor{v:03}*\", name: \"/^Vendor{v:03} Suite {k:03} (?P<version>\\\\d+)/\", product: p{k:03} }}\n"
            ));
        } else {
            r.push_str(&format!(
                "  - {{ publisher: \"Vendor{v:03}*\", name: \"Vendor{v:03} Tool {k:03}*\", product: p{k:03} }}\n"
            ));
        }
    }
    for k in 0..ignores {
        r.push_str(&format!(
            "  - {{ name: \"Runtime {k:02} *\", ignore: true }}\n"
        ));
    }
    std::fs::write(&rules, r)?;
    let mut w = BufWriter::new(std::fs::File::create(&systems)?);
    writeln!(
        w,
        "ResourceID,Name0,NumberOfCores0,NumberOfProcessors0,LastHWScan"
    )?;
    for d in 0..IMPORT_DEVICES {
        writeln!(w, "{},WS-{d:05},8,1,10/30/2026 8:12:44 AM", 16_777_216 + d)?;
    }
    drop(w);
    let mut g = Lcg(SEED);
    // Distinct entries: 60% recognised, 20% noise, 20% no rule knows.
    let pool: Vec<(String, String, String)> = (0..IMPORT_DISTINCT)
        .map(|i| {
            let k = g.next(IMPORT_RULES - ignores);
            let v = k % vendors;
            let version = format!(
                "{}.{}.{}.{}",
                1 + g.next(20),
                g.next(10),
                g.next(1000),
                g.next(10_000)
            );
            match i % 10 {
                0..=5 if k % 4 == 0 => (
                    format!(
                        "Vendor{v:03} Suite {k:03} {} (64-bit) - English (United States)",
                        2018 + g.next(8)
                    ),
                    format!("Vendor{v:03} Software Incorporated"),
                    version,
                ),
                0..=5 => (
                    format!(
                        "Vendor{v:03} Tool {k:03} Edition {} Workstation (x64) - en-us",
                        g.next(9)
                    ),
                    format!("Vendor{v:03} Software Incorporated"),
                    version,
                ),
                6 | 7 => (
                    format!(
                        "Runtime {:02} Redistributable Package (x64) - 14.{i}",
                        g.next(ignores)
                    ),
                    "Platform Corporation".to_string(),
                    version,
                ),
                _ => (
                    format!("Unknown Line-of-Business Utility {i} (64-bit)"),
                    format!("Small Vendor {} Limited", g.next(500)),
                    version,
                ),
            }
        })
        .collect();
    let tmp = software.with_extension("csv.tmp");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    writeln!(
        w,
        "ResourceID,ARPDisplayName0,ProductName0,ProductVersion0,Publisher0,InstallDate0"
    )?;
    for _ in 0..IMPORT_ROWS {
        let (name, publisher, version) = &pool[g.next(pool.len())];
        let d = 16_777_216 + g.next(IMPORT_DEVICES);
        let date = format!(
            "20{:02}{:02}{:02}",
            20 + g.next(7),
            1 + g.next(12),
            1 + g.next(28)
        );
        writeln!(
            w,
            "{d},\"{name}\",\"{name}\",{version},\"{publisher}\",{date}"
        )?;
    }
    drop(w);
    std::fs::rename(&tmp, &software)?;
    Ok((software, systems, rules))
}

/// `trueup import` of the 1M-row export with 500 rules, against loading
/// the snapshot it writes.
fn import_bench(root: &Path) -> Result<(), String> {
    let dir = root.join("target").join("bench").join("import");
    let (software, systems, rules) = import_inputs(&dir).map_err(|e| e.to_string())?;
    let out = dir.join("imported-1M.yaml");
    let size = std::fs::metadata(&software)
        .map_err(|e| e.to_string())?
        .len();
    let (import, peak) = command(
        root,
        &[
            "import".as_ref(),
            "--from".as_ref(),
            "mecm".as_ref(),
            software.as_os_str(),
            systems.as_os_str(),
            "--recognition".as_ref(),
            rules.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
    )?;
    let (rows, _) = child("load", &out)?;
    let load = rows.first().map_or(f64::NAN, |r| r.secs);
    let snapshot = std::fs::metadata(&out).map_err(|e| e.to_string())?.len();
    let ratio = import / load;
    println!();
    println!(
        "### import: {} installed-software rows ({:.0} MB of CSV), {IMPORT_RULES} rules, {IMPORT_DEVICES} devices",
        label(IMPORT_ROWS),
        size as f64 / 1e6
    );
    println!();
    println!("| phase | seconds | peak memory |");
    println!("|---|---:|---:|");
    let mb = |p: Option<u64>| p.map_or("n/a".into(), |b| format!("{:.0} MB", b as f64 / 1e6));
    println!(
        "| `trueup import` (whole process) | {import:.3} | {} |",
        mb(peak)
    );
    println!(
        "| load of the snapshot it writes ({:.0} MB) | {load:.3} | {} |",
        snapshot as f64 / 1e6,
        mb(rows.first().and_then(|r| r.peak))
    );
    println!();
    println!("| measured | ratio (target) | met |");
    println!("|---|---|---|");
    println!(
        "| import at 1M: {import:.2} s, loading its snapshot {load:.2} s | {ratio:.2}× (≤ 1.5×) | {} |",
        if ratio <= 1.5 { "yes" } else { "**no**" }
    );
    Ok(())
}
