//! Dry-run simulations (`trueup simulate`): what if a team onboards forty
//! people, discovery finds silent installations, or a contract ends with
//! installations still in place? Who hears of it, when does it escalate,
//! how long are we out of compliance?
//!
//! A scenario ([`scenario`]) names a snapshot, a window of dates and the
//! events to rehearse; [`events`] checks each against the inventory and
//! resolves it into a change; [`timeline`] applies the changes in memory and
//! evaluates the playbook through the window; [`expect`] judges the
//! scenario's expectations; [`text`], [`json`] and [`markdown`] render the
//! result.
//!
//! It is a dry run and must stay one: nothing here writes a file, and the
//! snapshot on disk is only ever read.

pub mod events;
pub mod expect;
pub mod json;
pub mod markdown;
pub mod scenario;
pub mod text;
pub mod timeline;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Diagnostic, Diagnostics};
use crate::inventory::{self, Snapshot};
use crate::policy::Playbook;
use crate::testing::CaseResult;
use crate::waivers::WaiverSet;

pub use events::Event;
pub use scenario::Scenario;
pub use timeline::{run, Simulation};

/// A scenario ready to run: its file read, its snapshot loaded, its events
/// checked against the snapshot and resolved.
pub struct Prepared {
    pub scenario: Scenario,
    pub snapshot: Arc<Snapshot>,
    pub events: Vec<Event>,
}

/// Snapshots loaded so far, by path: scenarios that share one parse it once.
#[derive(Default)]
pub struct Snapshots(HashMap<PathBuf, Arc<Snapshot>>);

impl Snapshots {
    fn load(&mut self, path: &Path) -> Result<Arc<Snapshot>, Diagnostics> {
        if let Some(s) = self.0.get(path) {
            return Ok(s.clone());
        }
        let s = Arc::new(inventory::load(path)?);
        self.0.insert(path.to_path_buf(), s.clone());
        Ok(s)
    }
}

/// Reads a scenario, loads its snapshot and checks its events: every
/// problem in the scenario file and the snapshot, in one go.
pub fn prepare(path: &Path, snapshots: &mut Snapshots) -> Result<Prepared, Diagnostics> {
    let (scenario, mut diags) = scenario::read(path);
    let Some(scenario) = scenario else {
        return Err(sorted(diags, path));
    };
    // Anything that exists is read, within the snapshot size limit: a
    // directory or a device is refused by the reader with its own message.
    let snapshot = if scenario.snapshot.exists() {
        match snapshots.load(&scenario.snapshot) {
            Ok(s) => Some(s),
            Err(d) => {
                let note = format!("the snapshot of scenario `{}`", path.display());
                diags.extend(d.0.into_iter().map(|d| d.with_note(note.clone())));
                None
            }
        }
    } else {
        let pos = scenario.snapshot_pos;
        diags.push(
            Diagnostic::error(
                path,
                pos.line,
                pos.col,
                format!("snapshot `{}` not found", scenario.snapshot.display()),
            )
            .with_source(&scenario.text),
        );
        None
    };
    let Some(snapshot) = snapshot else {
        return Err(sorted(diags, path));
    };
    match events::resolve_all(&scenario, &snapshot) {
        Ok(events) if diags.is_empty() => Ok(Prepared {
            scenario,
            snapshot,
            events,
        }),
        Ok(_) => Err(sorted(diags, path)),
        Err(more) => {
            diags.extend(more);
            Err(sorted(diags, path))
        }
    }
}

/// The scenario file's diagnostics in line order, then any others.
fn sorted(mut diags: Vec<Diagnostic>, scenario: &Path) -> Diagnostics {
    diags.sort_by_key(|d| (d.file != scenario, d.line, d.column));
    Diagnostics(diags)
}

/// Prepares and runs scenarios, all checked before any runs.
/// `keep`: with one scenario, where to write its ledger.
pub fn simulate_all(
    playbook: &Playbook,
    paths: &[PathBuf],
    waivers: Option<&WaiverSet>,
    keep: Option<&Path>,
) -> Result<Vec<Simulation>, Diagnostics> {
    let mut snapshots = Snapshots::default();
    let mut prepared = Vec::new();
    let mut errors = Diagnostics::default();
    for p in paths {
        match prepare(p, &mut snapshots) {
            Ok(s) => prepared.push(s),
            Err(d) => errors.0.extend(d.0),
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    // Each scenario then holds the only handle on its snapshot and changes it in place.
    drop(snapshots);
    prepared
        .into_iter()
        .map(|p| run(playbook, p, waivers, keep))
        .collect()
}

/// The scenario files beside a playbook: `<policies>/../scenarios/*.yaml`.
pub fn scenario_files(policies: &Path) -> Vec<PathBuf> {
    let dir = policies.parent().unwrap_or(Path::new("")).join("scenarios");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

/// Runs the scenarios beside a playbook for `trueup test`: each expectation
/// is one case. With `filter`, only scenarios with a case whose name
/// contains it run, and only those cases are kept.
pub fn test_cases(
    playbook: &Playbook,
    policies: &Path,
    filter: Option<&str>,
) -> Result<Vec<CaseResult>, Diagnostics> {
    let files = scenario_files(policies);
    if files.is_empty() {
        return Ok(Vec::new());
    }
    // The same waivers `trueup simulate` uses by default, so both agree.
    let waivers = match crate::waivers::locate(None, policies)? {
        Some(p) => Some(WaiverSet::load(&p)?),
        None => None,
    };
    let mut snapshots = Snapshots::default();
    let mut prepared = Vec::new();
    let mut errors = Diagnostics::default();
    for f in &files {
        match prepare(f, &mut snapshots) {
            Ok(p) => prepared.push(p),
            Err(d) => errors.0.extend(d.0),
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    drop(snapshots);
    let name = |s: &Scenario, e: &expect::Expectation| {
        format!(
            "{}:{}: scenario `{}`: {}",
            s.file.display(),
            e.pos.line,
            s.name,
            e.describe()
        )
    };
    let mut out = Vec::new();
    for p in prepared {
        let wanted =
            |s: &Scenario, e: &expect::Expectation| filter.is_none_or(|f| name(s, e).contains(f));
        if !p.scenario.expect.iter().any(|e| wanted(&p.scenario, e)) {
            continue;
        }
        let scenario = p.scenario.clone();
        let sim = run(playbook, p, waivers.as_ref(), None)?;
        for (e, o) in scenario.expect.iter().zip(&sim.expectations) {
            if !wanted(&scenario, e) {
                continue;
            }
            out.push(CaseResult {
                name: name(&scenario, e),
                note: format!("scenario `{}`: {}", scenario.name, e.describe()),
                file: scenario.file.clone(),
                line: e.pos.line,
                failures: if o.met {
                    Vec::new()
                } else {
                    vec![o.failure_text()]
                },
                got: Vec::new(),
                // Coverage counts the playbook's own cases only.
                fired: Vec::new(),
                routed_by: Vec::new(),
                remediated: Vec::new(),
                seen: Vec::new(),
                absent: Vec::new(),
            });
        }
    }
    Ok(out)
}
