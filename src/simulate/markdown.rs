//! `-f markdown`: the report as a document to paste into a ticket or a wiki
//! page: headings per scenario, tables for events and findings.

use std::fmt::Write;

use super::text::{count, each, entry_text, summary_lines, verdict};
use super::timeline::Simulation;
use crate::report::escape::{self, line};
use crate::report::FailOn;

pub fn render(sims: &[Simulation], fail_on: FailOn) -> String {
    let mut out = each(sims, fail_on, one);
    if sims.iter().any(|s| !s.expectations.is_empty()) {
        let _ = writeln!(out, "\n**{}**", verdict(sims, fail_on));
    }
    escape::text(&out).into_owned()
}

/// Table cells must not break the table, start a code span, carry HTML or
/// control characters.
fn cell(s: &str) -> String {
    line(s)
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('<', "&lt;")
}

/// Inline text of a heading or list item: one line, no HTML.
fn inline(s: &str) -> String {
    line(s).replace('<', "&lt;")
}

/// A code span; text with a backtick is a cell instead.
fn code(s: &str) -> String {
    if s.contains('`') {
        cell(s)
    } else {
        format!("`{}`", line(s))
    }
}

fn one(out: &mut String, sim: &Simulation, fail_on: FailOn) {
    let _ = writeln!(out, "# Scenario: {}\n", inline(&sim.name));
    if let Some(d) = &sim.description {
        let _ = writeln!(out, "{}\n", d.trim());
    }
    let _ = writeln!(
        out,
        "{} · snapshot {} ({}) · {} to {} · {} · {}\n",
        code(&sim.file.display().to_string()),
        code(&sim.snapshot.path.display().to_string()),
        code(&sim.snapshot.meta.id),
        sim.start,
        sim.until,
        count(sim.events.len(), "event"),
        count(sim.evaluations(), "evaluation"),
    );

    if !sim.events.is_empty() {
        let _ = writeln!(
            out,
            "## Events\n\n| date | line | event |\n| --- | --- | --- |"
        );
        for e in &sim.events {
            let _ = writeln!(out, "| {} | {} | {} |", e.on, e.line, cell(&e.summary));
        }
        out.push('\n');
    }

    let _ = writeln!(out, "## Timeline\n");
    for step in &sim.steps {
        if !step.baseline && step.events.is_empty() && step.entries.is_empty() {
            continue;
        }
        if step.baseline {
            let _ = writeln!(
                out,
                "### {} (start: {} open)\n",
                step.date,
                count(step.open, "finding")
            );
        } else {
            let _ = writeln!(out, "### {}\n", step.date);
        }
        for &e in &step.events {
            let ev = &sim.events[e];
            let _ = writeln!(
                out,
                "- **event** {} (line {})",
                inline(&ev.summary),
                ev.line
            );
        }
        for entry in &step.entries {
            let (label, text, detail) = entry_text(sim, entry, step);
            let _ = write!(out, "- **{label}** {}", inline(&text));
            if let Some(d) = detail {
                let _ = write!(out, "  \n  {}", inline(&d));
            }
            out.push('\n');
        }
        out.push('\n');
    }

    let _ = writeln!(
        out,
        "## Findings\n\n| finding | opened | resolved | days out | highest escalation | peak shortfall | exposure |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for ep in &sim.findings {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&ep.label()),
            ep.opened,
            ep.resolved.map_or("still open".into(), |d| d.to_string()),
            ep.days_out,
            ep.highest().map_or("none".into(), |h| cell(&format!(
                "{} ({}/{}) on {}",
                h.to, h.step, h.of, h.on
            ))),
            ep.peak_shortfall.map_or("".into(), |p| p.to_string()),
            if ep.peak_shortfall.is_some() {
                ep.exposure.to_string()
            } else {
                String::new()
            },
        );
    }

    let _ = writeln!(out, "\n## Summary\n");
    for l in summary_lines(sim) {
        let _ = writeln!(out, "- {}", inline(&l));
    }

    if !sim.expectations.is_empty() {
        let met = sim.expectations.iter().filter(|o| o.met).count();
        let _ = writeln!(
            out,
            "\n## Expectations: {met} of {} met\n\n| line | expectation | result |\n| --- | --- | --- |",
            sim.expectations.len()
        );
        for o in &sim.expectations {
            let result = if o.met {
                "met".to_string()
            } else {
                let below = if fail_on.fails_expectation(o) {
                    ""
                } else {
                    "not failing (below `--fail-on`): "
                };
                let misses: Vec<String> = o
                    .mismatches
                    .iter()
                    .map(|(f, w, g)| format!("**{f}**: want {}, got {}", cell(w), cell(g)))
                    .collect();
                format!("{below}{}", misses.join("; "))
            };
            let _ = writeln!(out, "| {} | {} | {} |", o.line, cell(&o.describe), result);
        }
    }
}
