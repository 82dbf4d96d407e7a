//! The timeline: the playbook evaluated through the scenario's window.
//!
//! The snapshot is parsed once; events are applied to it in memory, in
//! place. The playbook is evaluated on `start` (before any event), on each
//! event date (after that date's events), and on each date a notice or an
//! escalation step of an open finding falls due, or a waiver on one lapses.
//! Route dates count from the day each finding opened, which the engine is
//! told through [`EvalOptions::opened`]: each evaluation is recorded in a
//! case ledger in memory, by the same code as `check --ledger`, and those
//! dates are the ledger's. Nothing is written anywhere.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::date::Date;
use crate::diag::Diagnostics;
use crate::engine::{evaluate, EvalOptions, Evaluation, Finding, Route, Severity, Subject};
use crate::inventory::Snapshot;
use crate::policy::Playbook;
use crate::waivers::WaiverSet;

use super::events::{apply, Change, Event};
use super::expect::{self, Outcome};
use super::Prepared;
use crate::ledger::chain::{sha256_hex, Appender};
use crate::ledger::record::{self, RecordOptions};
use crate::ledger::Ledger;

/// A finished simulation: the timeline, each finding's run, the totals.
#[derive(Debug)]
pub struct Simulation {
    pub name: String,
    pub description: Option<String>,
    pub file: std::path::PathBuf,
    pub snapshot: Arc<Snapshot>,
    pub start: Date,
    pub until: Date,
    pub events: Vec<Event>,
    /// One per evaluation, in order; two on `start` when events fall on it.
    pub steps: Vec<Step>,
    /// Each finding's episodes (opened to resolved), in the order they opened.
    pub findings: Vec<Episode>,
    /// Per event, in order: the first finding it caused.
    pub impacts: Vec<Impact>,
    pub expectations: Vec<Outcome>,
}

/// One evaluation and what changed at it.
#[derive(Clone, Debug)]
pub struct Step {
    pub date: Date,
    /// The evaluation before any event, on `start`.
    pub baseline: bool,
    /// Indices into [`Simulation::events`] applied just before it.
    pub events: Vec<usize>,
    pub entries: Vec<Entry>,
    /// Findings open after it.
    pub open: usize,
}

/// What happened to one finding at one step. `episode` indexes
/// [`Simulation::findings`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// As the finding was when it opened.
    Opened {
        episode: usize,
        severity: Severity,
        message: String,
        route: Option<Route>,
    },
    Changed {
        episode: usize,
        /// `(what, from, to)`: `severity`, `queue`, `owner` or `waiver`.
        changes: Vec<(&'static str, String, String)>,
    },
    Resolved {
        episode: usize,
    },
    /// The deadline to notify the route's queue fell due.
    Notice {
        episode: usize,
        queue: String,
        owner: Option<String>,
        due: Date,
    },
    /// An escalation step was reached (`due` is later than the step's date
    /// only when a waiver held it).
    Escalated {
        episode: usize,
        to: String,
        step: usize,
        of: usize,
        due: Date,
    },
}

impl Entry {
    pub fn episode(&self) -> usize {
        match self {
            Entry::Opened { episode, .. }
            | Entry::Changed { episode, .. }
            | Entry::Resolved { episode }
            | Entry::Notice { episode, .. }
            | Entry::Escalated { episode, .. } => *episode,
        }
    }
}

/// A notice that fell due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub on: Date,
    pub queue: String,
    pub owner: Option<String>,
}

/// An escalation step reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reached {
    pub to: String,
    /// 1-based position in the route's ladder, and the ladder's length.
    pub step: usize,
    pub of: usize,
    pub on: Date,
}

/// One finding from the day it opened to the day it resolved.
#[derive(Clone, Debug)]
pub struct Episode {
    /// The finding's id, `rule:kind:id`.
    pub id: String,
    pub rule: String,
    pub subject: Subject,
    pub opened: Date,
    /// The step it opened at.
    pub opened_step: usize,
    pub opened_severity: Severity,
    /// `None`: still open at `until`.
    pub resolved: Option<Date>,
    /// As at the last evaluation it was seen in.
    pub severity: Severity,
    pub peak_severity: Severity,
    pub message: String,
    pub route: Option<Route>,
    pub waived: bool,
    /// Every queue it was routed to, in order.
    pub queues: Vec<String>,
    pub notices: Vec<Notice>,
    pub escalations: Vec<Reached>,
    pub peak_shortfall: Option<u64>,
    /// Shortfall × days, summed over the days it was open.
    pub exposure: u64,
    /// Days out of compliance: from opening to resolution, or through `until`.
    pub days_out: u64,
    /// Ids the finding is about (subject, product, contract), to match events.
    pub about: Vec<String>,
    /// `(date, shortfall)` at each evaluation it was seen in.
    shortfalls: Vec<(Date, u64)>,
    /// While waived: the waiver's last day.
    waiver_expires: Option<Date>,
}

impl Episode {
    /// The last step reached, if any.
    pub fn highest(&self) -> Option<&Reached> {
        self.escalations
            .iter()
            .max_by(|a, b| a.on.cmp(&b.on).then(a.step.cmp(&b.step)))
    }

    /// `rule kind id`, how reports name it.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.rule, self.subject.kind, self.subject.id)
    }
}

/// The first findings an event caused.
#[derive(Clone, Debug)]
pub struct Impact {
    pub event: usize,
    /// Days from the event to the first related finding's opening.
    pub days: Option<i64>,
    /// Every related finding that opened then (episode indices).
    pub first: Vec<usize>,
}

impl Simulation {
    /// Whether every expectation was met.
    pub fn passed(&self) -> bool {
        self.expectations.iter().all(|o| o.met)
    }

    /// The escalation that went furthest: the highest share of its route's
    /// ladder climbed, then the most severe finding, then the earliest.
    /// `opened_during`: only findings that opened after the baseline.
    pub fn highest_escalation(&self, opened_during: bool) -> Option<(usize, &Reached)> {
        let mut best: Option<(usize, &Reached)> = None;
        for (i, ep) in self.findings.iter().enumerate() {
            if opened_during && ep.opened_step == 0 {
                continue;
            }
            for r in &ep.escalations {
                let better = match best {
                    None => true,
                    Some((j, b)) => {
                        let share = (r.step * b.of).cmp(&(b.step * r.of));
                        share
                            .then(ep.peak_severity.cmp(&self.findings[j].peak_severity))
                            .then(b.on.cmp(&r.on))
                            .is_gt()
                    }
                };
                if better {
                    best = Some((i, r));
                }
            }
        }
        best
    }

    /// Shortfall × days over every finding with a shortfall in its evidence
    /// (`opened_during`: only those that opened after the baseline).
    pub fn exposure(&self, opened_during: bool) -> u64 {
        self.findings
            .iter()
            .filter(|e| !opened_during || e.opened_step > 0)
            .map(|e| e.exposure)
            .sum()
    }

    /// How many evaluations ran.
    pub fn evaluations(&self) -> usize {
        self.steps.len()
    }
}

/// Runs a prepared scenario. `base` is the waivers file in force, if any;
/// the scenario's `waive` events add to it from their dates.
pub fn run(
    playbook: &Playbook,
    prepared: Prepared,
    base: Option<&WaiverSet>,
    keep: Option<&Path>,
) -> Result<Simulation, Diagnostics> {
    let Prepared {
        scenario,
        snapshot,
        events,
    } = prepared;
    let mut snap = snapshot;
    let mut t = Tracker::default();
    // Cases are kept by the ledger's own code, in memory: the dates routes
    // count from are the ones `check --ledger` would give.
    let estate = snap.meta.estate().to_string();
    let name = scenario.file.clone();
    let in_scenario = |e: crate::ledger::LedgerError| {
        Diagnostics(vec![crate::diag::Diagnostic::error(
            &name,
            0,
            0,
            e.to_string(),
        )])
    };
    let mut ledger = Ledger::in_memory(&name).map_err(in_scenario)?;
    let tx = ledger.write().map_err(in_scenario)?;
    let mut chain = Appender::start(&tx)
        .map_err(|e| in_scenario(crate::ledger::wrap(&name, 0, "cannot start", e)))?;
    let mut steps: Vec<Step> = Vec::new();
    let mut next_event = 0;
    let mut date = scenario.start;
    let mut waivers = base.cloned();
    let mut baseline = true;
    loop {
        // Apply this date's events (none before the baseline).
        let mut applied = Vec::new();
        if !baseline {
            let mut reindex = false;
            while next_event < events.len() && events[next_event].on == date {
                let e = &events[next_event];
                if let Change::Waive(w) = &e.change {
                    let set = waivers.get_or_insert_with(|| WaiverSet {
                        file: scenario.file.clone(),
                        waivers: Vec::new(),
                    });
                    set.waivers.push((**w).clone());
                } else {
                    // No evaluation holds the snapshot now, so this changes it in place.
                    apply(Arc::make_mut(&mut snap), &e.change, date);
                    reindex |= e.change.reindexes();
                }
                applied.push(next_event);
                next_event += 1;
            }
            if reindex {
                Arc::make_mut(&mut snap).reindex();
            }
        }
        let opened = record::open_since(&name, &tx, &estate).map_err(in_scenario)?;
        debug_assert_eq!(opened, t.opened(), "the ledger and the timeline disagree");
        let mut eval = evaluate(
            playbook,
            snap.clone(),
            EvalOptions {
                as_of: Some(date),
                waivers: waivers.as_ref(),
                opened: Some(&opened),
            },
        )
        .map_err(|mut d| {
            for diag in &mut d.0 {
                diag.notes.push(format!(
                    "while simulating `{}` on {date}",
                    scenario.file.display()
                ));
            }
            d
        })?;
        // Each evaluation is a state of the snapshot of its own.
        let state = sha256_hex(format!("{}:{}", snap.sha256, steps.len()).as_bytes());
        record::record(
            &name,
            &tx,
            &mut chain,
            &mut eval,
            RecordOptions {
                policies_digest: &playbook.digest,
                sha256: &state,
                annotate: false,
            },
        )
        .map_err(in_scenario)?;
        let entries = t.observe(&eval, steps.len());
        drop(eval);
        steps.push(Step {
            date,
            baseline,
            events: applied,
            entries,
            open: t.open.len(),
        });
        // The next date: the next event (which may be `start` itself, after
        // the baseline) or the next deadline, whichever is first.
        let next_on = events.get(next_event).map(|e| e.on);
        let Some(next) = next_on.into_iter().chain(t.next_due(date)).min() else {
            break;
        };
        if next > scenario.until {
            break;
        }
        date = next;
        baseline = false;
    }
    // `simulate --ledger FILE`: the rehearsal's ledger, kept.
    if let Some(path) = keep {
        chain
            .finish(&tx)
            .map_err(|e| in_scenario(crate::ledger::wrap(&name, 0, "cannot finish", e)))?;
        Ledger::commit(&name, tx).map_err(in_scenario)?;
        ledger.save_as(path).map_err(|e| {
            Diagnostics(vec![crate::diag::Diagnostic::error(
                path,
                0,
                0,
                e.to_string(),
            )])
        })?;
    }
    let until = scenario.until;
    let mut findings = t.episodes;
    for ep in &mut findings {
        ep.finish(until);
    }
    let impacts = impacts(&events, &steps, &findings);
    let mut sim = Simulation {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        file: scenario.file.clone(),
        snapshot: snap,
        start: scenario.start,
        until,
        events,
        steps,
        findings,
        impacts,
        expectations: Vec::new(),
    };
    sim.expectations = expect::judge(&sim, &scenario.expect);
    Ok(sim)
}

/// The findings open so far and every episode seen.
#[derive(Default)]
struct Tracker {
    /// Finding id → index of its open episode.
    open: HashMap<String, usize>,
    episodes: Vec<Episode>,
}

impl Tracker {
    /// When each open finding opened, for route dates.
    fn opened(&self) -> HashMap<String, Date> {
        self.open
            .iter()
            .map(|(id, &i)| (id.clone(), self.episodes[i].opened))
            .collect()
    }

    /// Compares an evaluation with what was open: what opened, changed and
    /// resolved, then which notices and escalation steps fell due.
    fn observe(&mut self, eval: &Evaluation, step: usize) -> Vec<Entry> {
        let date = eval.as_of;
        let mut opened = Vec::new();
        let mut changed = Vec::new();
        let mut seen = vec![false; self.episodes.len()];
        for f in &eval.findings {
            match self.open.get(&f.id).copied() {
                None => {
                    let i = self.episodes.len();
                    self.episodes
                        .push(Episode::open(f, date, step, &eval.snapshot));
                    self.open.insert(f.id.clone(), i);
                    seen.push(true);
                    opened.push(Entry::Opened {
                        episode: i,
                        severity: f.severity,
                        message: f.message.clone(),
                        route: f.route.clone(),
                    });
                }
                Some(i) => {
                    seen[i] = true;
                    let changes = self.episodes[i].update(f, date);
                    if !changes.is_empty() {
                        changed.push(Entry::Changed {
                            episode: i,
                            changes,
                        });
                    }
                }
            }
        }
        let mut resolved: Vec<usize> = self.open.values().copied().filter(|&i| !seen[i]).collect();
        resolved.sort_unstable();
        for &i in &resolved {
            self.episodes[i].resolved = Some(date);
            self.open.remove(&self.episodes[i].id);
        }
        let mut entries = opened;
        entries.append(&mut changed);
        entries.extend(
            resolved
                .into_iter()
                .map(|episode| Entry::Resolved { episode }),
        );
        let mut open: Vec<usize> = self.open.values().copied().collect();
        open.sort_unstable();
        let mut due: Vec<Entry> = open
            .into_iter()
            .flat_map(|i| self.episodes[i].fall_due(i, date))
            .collect();
        // Notices first, then escalations; each in the order findings opened.
        due.sort_by_key(|e| matches!(e, Entry::Escalated { .. }));
        entries.append(&mut due);
        entries
    }

    /// The first date after `after` on which a notice or escalation step of
    /// an open finding falls due, or a waiver on one lapses.
    fn next_due(&self, after: Date) -> Option<Date> {
        self.open
            .values()
            .filter_map(|&i| self.episodes[i].next_due(after))
            .min()
    }
}

fn shortfall(f: &Finding) -> Option<u64> {
    match f.evidence.get("shortfall")? {
        Json::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|x| x.max(0.0).ceil() as u64)),
        _ => None,
    }
}

impl Episode {
    fn open(f: &Finding, date: Date, step: usize, snap: &Snapshot) -> Episode {
        let mut ep = Episode {
            id: f.id.clone(),
            rule: f.rule.clone(),
            subject: f.subject.clone(),
            opened: date,
            opened_step: step,
            opened_severity: f.severity,
            resolved: None,
            severity: f.severity,
            peak_severity: f.severity,
            message: f.message.clone(),
            route: None,
            waived: f.is_waived(),
            queues: Vec::new(),
            notices: Vec::new(),
            escalations: Vec::new(),
            peak_shortfall: None,
            exposure: 0,
            days_out: 0,
            about: about(f, snap),
            shortfalls: Vec::new(),
            waiver_expires: None,
        };
        ep.update(f, date);
        ep
    }

    /// Takes in the finding as evaluated on `date`; returns what changed.
    fn update(&mut self, f: &Finding, date: Date) -> Vec<(&'static str, String, String)> {
        let mut changes = Vec::new();
        if f.severity != self.severity {
            changes.push((
                "severity",
                self.severity.to_string(),
                f.severity.to_string(),
            ));
        }
        let queue = |r: &Option<Route>| r.as_ref().map(|r| r.queue.clone()).unwrap_or_default();
        let owner = |r: &Option<Route>| {
            r.as_ref()
                .and_then(|r| r.owner.clone())
                .unwrap_or_else(|| "nobody".into())
        };
        if self.route.is_some() {
            if queue(&self.route) != queue(&f.route) {
                changes.push(("queue", queue(&self.route), queue(&f.route)));
            } else if owner(&self.route) != owner(&f.route) {
                changes.push(("owner", owner(&self.route), owner(&f.route)));
            }
        }
        let waived = f.is_waived();
        if waived != self.waived {
            let state = |w: bool| if w { "waived" } else { "not waived" };
            changes.push(("waiver", state(self.waived).into(), state(waived).into()));
        }
        self.severity = f.severity;
        self.peak_severity = self.peak_severity.max(f.severity);
        self.waived = waived;
        // Most findings stay as they were; copy only what differs.
        if self.message != f.message {
            self.message.clone_from(&f.message);
        }
        if self.route != f.route {
            self.route.clone_from(&f.route);
            let q = queue(&self.route);
            if !self.queues.contains(&q) {
                self.queues.push(q);
            }
        }
        if let Some(s) = shortfall(f) {
            self.shortfalls.push((date, s));
            self.peak_shortfall = Some(self.peak_shortfall.unwrap_or(0).max(s));
        }
        self.waiver_expires = f.waiver.as_ref().filter(|_| waived).map(|w| w.expires);
        changes
    }

    /// Notices and steps due by `date` and not yet given, unless waived.
    fn fall_due(&mut self, i: usize, date: Date) -> Vec<Entry> {
        if self.waived {
            return Vec::new();
        }
        // Taken out and put back, so the notices and steps can be recorded.
        let Some(route) = self.route.take() else {
            return Vec::new();
        };
        let out = self.record_due(i, date, &route);
        self.route = Some(route);
        out
    }

    fn record_due(&mut self, i: usize, date: Date, route: &Route) -> Vec<Entry> {
        let mut out = Vec::new();
        if let Some(due) = route.notify_by.filter(|d| *d <= date) {
            let given = self
                .notices
                .iter()
                .any(|n| n.queue == route.queue && n.owner == route.owner);
            if !given {
                self.notices.push(Notice {
                    on: date,
                    queue: route.queue.clone(),
                    owner: route.owner.clone(),
                });
                out.push(Entry::Notice {
                    episode: i,
                    queue: route.queue.clone(),
                    owner: route.owner.clone(),
                    due,
                });
            }
        }
        let of = route.escalate.len();
        for (k, step) in route.escalate.iter().enumerate() {
            if step.on > date || self.escalations.iter().any(|r| r.to == step.to) {
                continue;
            }
            self.escalations.push(Reached {
                to: step.to.clone(),
                step: k + 1,
                of,
                on: date,
            });
            out.push(Entry::Escalated {
                episode: i,
                to: step.to.clone(),
                step: k + 1,
                of,
                due: step.on,
            });
        }
        out
    }

    fn next_due(&self, after: Date) -> Option<Date> {
        if self.waived {
            return self.waiver_expires.map(|d| d + 1).filter(|d| *d > after);
        }
        let route = self.route.as_ref()?;
        let notice = route.notify_by.filter(|d| {
            *d > after
                && !self
                    .notices
                    .iter()
                    .any(|n| n.queue == route.queue && n.owner == route.owner)
        });
        let step = route
            .escalate
            .iter()
            .filter(|s| s.on > after && !self.escalations.iter().any(|r| r.to == s.to))
            .map(|s| s.on)
            .min();
        notice.into_iter().chain(step).min()
    }

    /// Totals once the window has closed.
    fn finish(&mut self, until: Date) {
        let end = self.resolved.unwrap_or(until + 1);
        self.days_out = self.opened.days_until(end).max(0) as u64;
        // Each shortfall holds until the next evaluation that saw the finding.
        let mut exposure = 0u64;
        for (k, &(d, s)) in self.shortfalls.iter().enumerate() {
            let to = self.shortfalls.get(k + 1).map_or(end, |n| n.0);
            exposure = exposure.saturating_add(s.saturating_mul(d.days_until(to).max(0) as u64));
        }
        self.exposure = exposure;
    }
}

/// What a finding is about, by id: its subject, the product and contracts
/// its evidence or its entitlement names.
fn about(f: &Finding, snap: &Snapshot) -> Vec<String> {
    let mut out = vec![f.subject.id.clone()];
    if f.subject.kind == "entitlement" {
        if let Some(e) = snap.sym(&f.subject.id).and_then(|s| snap.entitlement(s)) {
            out.push(snap.str(e.product).to_string());
            out.push(snap.str(e.contract).to_string());
        }
    }
    for key in ["product", "products", "contract", "contracts"] {
        match f.evidence.get(key) {
            Some(Json::String(s)) => out.push(s.clone()),
            Some(Json::Array(items)) => {
                out.extend(items.iter().filter_map(|i| i.as_str().map(str::to_string)))
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// For each event, the first finding it caused: one about something the
/// event touched, opening at the event's step or later but before the next
/// event that touches the same things.
fn impacts(events: &[Event], steps: &[Step], findings: &[Episode]) -> Vec<Impact> {
    let mut step_of = vec![usize::MAX; events.len()];
    for (s, step) in steps.iter().enumerate() {
        for &e in &step.events {
            step_of[e] = s;
        }
    }
    let related = |touches: &[String], about: &[String]| touches.iter().any(|t| about.contains(t));
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let from = step_of[i];
            let to = events
                .iter()
                .enumerate()
                .skip(i + 1)
                .filter(|(j, later)| {
                    step_of[*j] > from && later.touches.iter().any(|t| e.touches.contains(t))
                })
                .map(|(j, _)| step_of[j])
                .next()
                .unwrap_or(usize::MAX);
            let caused: Vec<(usize, &Episode)> = findings
                .iter()
                .enumerate()
                .filter(|(_, ep)| {
                    ep.opened_step >= from && ep.opened_step < to && related(&e.touches, &ep.about)
                })
                .collect();
            let first_step = caused.iter().map(|(_, ep)| ep.opened_step).min();
            Impact {
                event: i,
                days: caused
                    .iter()
                    .find(|(_, ep)| Some(ep.opened_step) == first_step)
                    .map(|(_, ep)| e.on.days_until(ep.opened)),
                first: caused
                    .iter()
                    .filter(|(_, ep)| Some(ep.opened_step) == first_step)
                    .map(|(k, _)| *k)
                    .collect(),
            }
        })
        .collect()
}
