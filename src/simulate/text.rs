//! The terminal report of a simulation: the events, the timeline by date,
//! each finding's run, the scenario's totals and its expectations.

use std::fmt::Write;

use super::expect::Outcome;
use super::timeline::{Entry, Episode, Simulation, Step};
use crate::report::escape::{self, line};
use crate::report::{route_line, FailOn};

/// Renders every simulation, one after another; with expectations, a last
/// line gives the verdict under `fail_on`.
pub fn render(sims: &[Simulation], fail_on: FailOn) -> String {
    let mut out = each(sims, fail_on, one);
    if sims.iter().any(|s| !s.expectations.is_empty()) {
        let _ = writeln!(out, "\n{}", verdict(sims, fail_on));
    }
    // Names, ids and messages come from the scenario, the snapshot and the
    // scripts: the one-line ones are escaped where they are printed, and no
    // control character of any other reaches the terminal.
    escape::text(&out).into_owned()
}

/// `expectations: 3 of 4 met; 1 fails the run (--fail-on info): failing`.
pub(super) fn verdict(sims: &[Simulation], fail_on: FailOn) -> String {
    let all: Vec<_> = sims.iter().flat_map(|s| &s.expectations).collect();
    let met = all.iter().filter(|o| o.met).count();
    let failing = failing(sims, fail_on);
    let status = if failing > 0 { "failing" } else { "passing" };
    format!(
        "expectations: {met} of {} met; {failing} fail{} the run ({}): {status}",
        all.len(),
        if failing == 1 { "s" } else { "" },
        fail_on.flag()
    )
}

/// How many unmet expectations fail the run under `fail_on`.
pub fn failing(sims: &[Simulation], fail_on: FailOn) -> usize {
    sims.iter()
        .flat_map(|s| &s.expectations)
        .filter(|o| fail_on.fails_expectation(o))
        .count()
}

/// How an expectation reads: `ok`, `FAIL` when it fails the run, `miss`
/// when it is unmet below `--fail-on`.
pub(super) fn mark(o: &Outcome, fail_on: FailOn) -> &'static str {
    if o.met {
        "ok"
    } else if fail_on.fails_expectation(o) {
        "FAIL"
    } else {
        "miss"
    }
}

/// Renders each simulation with `one`, a blank line between them.
pub(super) fn each(
    sims: &[Simulation],
    fail_on: FailOn,
    one: fn(&mut String, &Simulation, FailOn),
) -> String {
    let mut out = String::new();
    for (i, sim) in sims.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        one(&mut out, sim, fail_on);
    }
    out
}

fn one(out: &mut String, sim: &Simulation, fail_on: FailOn) {
    let _ = writeln!(
        out,
        "scenario `{}` ({})",
        line(&sim.name),
        line(&sim.file.display().to_string())
    );
    if let Some(d) = &sim.description {
        let _ = writeln!(out, "  {}", d.trim());
    }
    let _ = writeln!(
        out,
        "snapshot {} (`{}`), {} to {}: {}, {}",
        line(&sim.snapshot.path.display().to_string()),
        line(&sim.snapshot.meta.id),
        sim.start,
        sim.until,
        count(sim.events.len(), "event"),
        count(sim.evaluations(), "evaluation")
    );

    let _ = writeln!(out, "\ntimeline");
    for step in &sim.steps {
        step_text(out, sim, step);
    }

    let _ = writeln!(out, "\nfindings ({})", sim.findings.len());
    for ep in &sim.findings {
        let _ = writeln!(
            out,
            "  {}: {}",
            line(&ep.label()),
            line(&finding_summary(ep))
        );
    }

    let _ = writeln!(out, "\nsummary");
    for l in summary_lines(sim) {
        let _ = writeln!(out, "  {}", line(&l));
    }

    if !sim.expectations.is_empty() {
        let met = sim.expectations.iter().filter(|o| o.met).count();
        let _ = writeln!(
            out,
            "\nexpectations: {met} of {} met",
            sim.expectations.len()
        );
        for o in &sim.expectations {
            let _ = writeln!(
                out,
                "  {:<4}  line {}: {}",
                mark(o, fail_on),
                o.line,
                line(&o.describe)
            );
            if !o.met {
                for (field, want, got) in &o.mismatches {
                    let _ = writeln!(
                        out,
                        "          {field}:\n            want: {}\n            got:  {}",
                        line(want),
                        line(got)
                    );
                }
            }
        }
    }
}

fn step_text(out: &mut String, sim: &Simulation, step: &Step) {
    if step.baseline {
        let _ = writeln!(
            out,
            "{}  start: {} open",
            step.date,
            count(step.open, "finding")
        );
    } else if step.events.is_empty() && step.entries.is_empty() {
        return;
    } else {
        let _ = writeln!(out, "{}", step.date);
    }
    for &e in &step.events {
        let ev = &sim.events[e];
        let _ = writeln!(
            out,
            "  {:<10} {} (line {})",
            "event",
            line(&ev.summary),
            ev.line
        );
    }
    for entry in &step.entries {
        let (label, text, detail) = entry_text(sim, entry, step);
        let _ = writeln!(out, "  {label:<10} {}", line(&text));
        if let Some(d) = detail {
            let _ = writeln!(out, "  {:<10} {}", "", line(&d));
        }
    }
}

/// An entry in words: a label, a line, and an optional second line.
pub(crate) fn entry_text(
    sim: &Simulation,
    entry: &Entry,
    step: &Step,
) -> (&'static str, String, Option<String>) {
    let ep = &sim.findings[entry.episode()];
    match entry {
        Entry::Opened {
            severity,
            message,
            route,
            ..
        } => (
            if step.baseline { "open" } else { "opened" },
            format!("{severity} {}: {message}", ep.label()),
            route.as_ref().map(route_line),
        ),
        Entry::Changed { changes, .. } => {
            let what: Vec<String> = changes
                .iter()
                .map(|(k, from, to)| format!("{k} {from} → {to}"))
                .collect();
            (
                "changed",
                format!("{}: {}", ep.label(), what.join(", ")),
                None,
            )
        }
        Entry::Resolved { .. } => (
            "resolved",
            format!(
                "{}, after {}",
                ep.label(),
                count(ep.days_out as usize, "day")
            ),
            None,
        ),
        Entry::Notice {
            queue, owner, due, ..
        } => (
            "notice",
            format!(
                "{}: notify {}{}{}",
                ep.label(),
                queue,
                owner
                    .as_deref()
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default(),
                if step.date > *due {
                    format!(", overdue since {due}")
                } else {
                    ", due today".to_string()
                }
            ),
            None,
        ),
        Entry::Escalated {
            to,
            step: k,
            of,
            due,
            ..
        } => {
            // Late when a waiver held it, or a new route's ladder was already past it.
            let late = if step.date > *due {
                format!(", overdue since {due}")
            } else {
                String::new()
            };
            (
                "escalated",
                format!("{}: to {to} (step {k} of {of}){late}", ep.label()),
                None,
            )
        }
    }
}

/// One finding's run in a line.
pub(crate) fn finding_summary(ep: &Episode) -> String {
    let mut s = format!("opened {}", ep.opened);
    match ep.resolved {
        Some(r) => {
            let _ = write!(s, ", resolved {r}");
        }
        None => s.push_str(", still open"),
    }
    let _ = write!(
        s,
        " ({} out of compliance)",
        count(ep.days_out as usize, "day")
    );
    match ep.highest() {
        Some(h) => {
            let _ = write!(
                s,
                "; highest escalation {} (step {} of {}) on {}",
                h.to, h.step, h.of, h.on
            );
        }
        None => s.push_str("; no escalation reached"),
    }
    if let Some(p) = ep.peak_shortfall {
        let _ = write!(
            s,
            "; peak shortfall {p}, exposure {} licence-days",
            ep.exposure
        );
    }
    if ep.peak_severity != ep.opened_severity {
        let _ = write!(s, "; peak severity {}", ep.peak_severity);
    }
    s
}

/// The scenario's totals, a line each.
pub(crate) fn summary_lines(sim: &Simulation) -> Vec<String> {
    let mut lines = Vec::new();
    let at_start = sim.findings.iter().filter(|e| e.opened_step == 0).count();
    let opened = sim.findings.len() - at_start;
    let resolved = sim.findings.iter().filter(|e| e.resolved.is_some()).count();
    let open = sim.findings.len() - resolved;
    lines.push(format!(
        "findings: {at_start} open at start, {opened} opened, {resolved} resolved, {open} open at {}",
        sim.until
    ));
    for imp in &sim.impacts {
        let ev = &sim.events[imp.event];
        let what = match imp.days {
            Some(days) => format!(
                "{} opened {}",
                first_findings(sim, &imp.first),
                match days {
                    0 => "the same day".to_string(),
                    n => format!("{} later", count(n as usize, "day")),
                }
            ),
            None => "no new finding".to_string(),
        };
        lines.push(format!("{} {} (line {}) → {what}", ev.on, ev.kind, ev.line));
    }
    let highest = |opened_during| match sim.highest_escalation(opened_during) {
        Some((k, r)) => format!(
            "{} (step {} of {}) for {}, on {}",
            r.to,
            r.step,
            r.of,
            sim.findings[k].label(),
            r.on
        ),
        None => "none reached".into(),
    };
    lines.push(format!("highest escalation: {}", highest(false)));
    lines.push(format!(
        "highest escalation of findings opened during the scenario: {}",
        highest(true)
    ));
    let with = |opened_during: bool| {
        sim.findings
            .iter()
            .filter(|e| e.peak_shortfall.is_some_and(|p| p > 0))
            .filter(|e| !opened_during || e.opened_step > 0)
            .count()
    };
    lines.push(format!(
        "exposure (shortfall × days): {} licence-days over {}; {} over the {} opened during the scenario",
        sim.exposure(false),
        count(with(false), "finding"),
        sim.exposure(true),
        with(true)
    ));
    lines
}

/// The findings an event caused, the first few by name.
fn first_findings(sim: &Simulation, episodes: &[usize]) -> String {
    const SHOWN: usize = 5;
    let mut names: Vec<String> = episodes
        .iter()
        .take(SHOWN)
        .map(|&k| sim.findings[k].label())
        .collect();
    if episodes.len() > SHOWN {
        names.push(format!("{} more", episodes.len() - SHOWN));
    }
    names.join(", ")
}

pub(crate) fn count(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}
