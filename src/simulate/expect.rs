//! `expect:` entries: what a scenario must produce, which makes it a test.
//!
//! Each expectation names a rule (and usually a subject) and the facts of
//! that finding's run through the timeline that must hold; every field given
//! must match one episode of the finding. An unmet expectation is reported
//! field by field, want against got.

use crate::date::Date;
use crate::engine::Severity;
use crate::yaml::{Fields, Node, Pos, Sink};

use super::timeline::{Episode, Simulation};

const KEYS: &[&str] = &[
    "rule",
    "subject",
    "kind",
    "opened",
    "resolved",
    "open",
    "severity",
    "queue",
    "escalated_to",
    "days_out",
    "peak_shortfall",
];

/// One expected fact, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// `opened: DATE`.
    Opened(Date),
    /// `opened: null`: the finding never opens.
    NeverOpened,
    /// `resolved: DATE`, or `resolved: null` for still open at `until`.
    Resolved(Option<Date>),
    /// `open: true` (still open at `until`) or `open: false`.
    Open(bool),
    /// The highest severity the finding reached.
    Severity(Severity),
    /// A queue the finding was routed to.
    Queue(String),
    /// A recipient an escalation step reached.
    EscalatedTo(String),
    /// Days out of compliance.
    DaysOut(u64),
    PeakShortfall(u64),
}

/// One `expect:` entry.
#[derive(Clone, Debug)]
pub struct Expectation {
    pub pos: Pos,
    pub rule: String,
    pub subject: Option<String>,
    pub kind: Option<String>,
    /// The facts to check, as `(field, want)`, in a fixed field order.
    pub wants: Vec<(&'static str, Want)>,
}

impl Expectation {
    /// `rule subject`, how output names the expectation.
    pub fn describe(&self) -> String {
        match &self.subject {
            Some(s) => format!("{} {s}", self.rule),
            None => self.rule.clone(),
        }
    }
}

/// Reads one entry, reporting every bad field.
pub fn parse(node: &Node, sink: &mut Sink) -> Option<Expectation> {
    let f = Fields::of(node, "expectation", KEYS, sink)?;
    let rule = f.req_str("rule", sink).map(str::to_string);
    let subject = f.str("subject", sink).map(str::to_string);
    let kind = f.str("kind", sink).map(str::to_string);
    let mut wants = Vec::new();
    let mut ok = true;
    // A key written as `null` (absent to `Fields::get`) still means something here.
    let present_null = |name: &str| match &node.value {
        crate::yaml::Value::Map(pairs) => pairs
            .iter()
            .any(|(k, v)| k.as_str() == Some(name) && v.is_null()),
        _ => false,
    };
    if present_null("opened") {
        wants.push(("opened", Want::NeverOpened));
    } else if f.get("opened").is_some() {
        match f.date("opened", sink) {
            Some(d) => wants.push(("opened", Want::Opened(d))),
            None => ok = false,
        }
    }
    if present_null("resolved") {
        wants.push(("resolved", Want::Resolved(None)));
    } else if f.get("resolved").is_some() {
        match f.date("resolved", sink) {
            Some(d) => wants.push(("resolved", Want::Resolved(Some(d)))),
            None => ok = false,
        }
    }
    if f.get("open").is_some() {
        match f.bool("open", sink) {
            Some(b) => wants.push(("open", Want::Open(b))),
            None => ok = false,
        }
    }
    if f.get("severity").is_some() {
        match f
            .choice("severity", Severity::NAMES, sink)
            .and_then(Severity::parse)
        {
            Some(s) => wants.push(("severity", Want::Severity(s))),
            None => ok = false,
        }
    }
    for (key, make) in [
        ("queue", Want::Queue as fn(String) -> Want),
        ("escalated_to", Want::EscalatedTo),
    ] {
        if f.get(key).is_some() {
            match f.str(key, sink) {
                Some(s) => wants.push((key, make(s.to_string()))),
                None => ok = false,
            }
        }
    }
    for (key, make) in [
        ("days_out", Want::DaysOut as fn(u64) -> Want),
        ("peak_shortfall", Want::PeakShortfall),
    ] {
        if f.get(key).is_some() {
            match f.count(key, sink) {
                Some(n) => wants.push((key, make(n))),
                None => ok = false,
            }
        }
    }
    if wants.iter().any(|(_, w)| *w == Want::NeverOpened) && wants.len() > 1 {
        sink.error(
            f.pos(),
            "`opened: null` says the finding never opens; it cannot go with other facts about it",
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(Expectation {
        pos: f.pos(),
        rule: rule?,
        subject,
        kind,
        wants,
    })
}

/// How an expectation fared.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub line: u32,
    pub describe: String,
    pub met: bool,
    /// For an unmet expectation: `(field, want, got)`, or one `("finding",
    /// ..)` line when no episode of the finding exists.
    pub mismatches: Vec<(String, String, String)>,
    /// How serious the finding it is about is, for `--fail-on`: the
    /// `severity:` it wants, else the highest its finding reached; `None`
    /// when neither is known (no such finding and no severity wanted).
    pub severity: Option<Severity>,
}

impl Outcome {
    /// The want-against-got text of an unmet expectation.
    pub fn failure_text(&self) -> String {
        // Its lines are lines of output: a value's own newline must not start one.
        use crate::report::escape::line;
        let mut text = format!("want: {}", line(&self.describe));
        for (field, want, got) in &self.mismatches {
            text.push_str(&format!(
                "\n  {field}:\n    want: {}\n    got:  {}",
                line(want),
                line(got)
            ));
        }
        text
    }
}

/// Judges every expectation of a finished simulation.
pub fn judge(sim: &Simulation, expectations: &[Expectation]) -> Vec<Outcome> {
    expectations.iter().map(|e| judge_one(sim, e)).collect()
}

fn judge_one(sim: &Simulation, e: &Expectation) -> Outcome {
    let candidates: Vec<&Episode> = sim
        .findings
        .iter()
        .filter(|ep| {
            ep.rule == e.rule
                && e.subject.as_ref().is_none_or(|s| *s == ep.subject.id)
                && e.kind.as_ref().is_none_or(|k| *k == ep.subject.kind)
        })
        .collect();
    let wanted = e.wants.iter().find_map(|(_, w)| match w {
        Want::Severity(s) => Some(*s),
        _ => None,
    });
    let severity = wanted.or(candidates.iter().map(|ep| ep.peak_severity).max());
    let outcome = |met: bool, mismatches| Outcome {
        line: e.pos.line,
        describe: e.describe(),
        met,
        mismatches,
        severity,
    };
    if e.wants.iter().any(|(_, w)| *w == Want::NeverOpened) {
        let got: Vec<String> = candidates
            .iter()
            .map(|ep| format!("opened {}", ep.opened))
            .collect();
        return outcome(
            got.is_empty(),
            vec![("opened".into(), "never".into(), got.join("; "))],
        );
    }
    if candidates.is_empty() {
        let others: Vec<String> = sim
            .findings
            .iter()
            .filter(|ep| ep.rule == e.rule)
            .map(|ep| format!("{} {}", ep.subject.kind, ep.subject.id))
            .collect();
        let got = if others.is_empty() {
            "nothing from this rule".to_string()
        } else {
            let mut others = others;
            others.dedup();
            format!("only {}", others.join(", "))
        };
        return outcome(false, vec![("finding".into(), e.describe(), got)]);
    }
    // Met by any episode; otherwise show the one that comes closest.
    let mut best: Option<Vec<(String, String, String)>> = None;
    for ep in candidates {
        let misses: Vec<(String, String, String)> = e
            .wants
            .iter()
            .filter(|(_, w)| !holds(w, ep))
            .map(|(k, w)| (k.to_string(), show_want(w), show_got(k, ep)))
            .collect();
        if misses.is_empty() {
            return outcome(true, Vec::new());
        }
        if best.as_ref().is_none_or(|b| misses.len() < b.len()) {
            best = Some(misses);
        }
    }
    outcome(false, best.unwrap_or_default())
}

fn holds(want: &Want, ep: &Episode) -> bool {
    match want {
        Want::Opened(d) => ep.opened == *d,
        Want::NeverOpened => false,
        Want::Resolved(d) => ep.resolved == *d,
        Want::Open(open) => ep.resolved.is_none() == *open,
        Want::Severity(s) => ep.peak_severity == *s,
        Want::Queue(q) => ep.queues.iter().any(|x| x == q),
        Want::EscalatedTo(to) => ep.escalations.iter().any(|x| x.to == *to),
        Want::DaysOut(n) => ep.days_out == *n,
        Want::PeakShortfall(n) => ep.peak_shortfall == Some(*n),
    }
}

fn show_want(want: &Want) -> String {
    match want {
        Want::Opened(d) => d.to_string(),
        Want::NeverOpened => "never".into(),
        Want::Resolved(Some(d)) => d.to_string(),
        Want::Resolved(None) => "still open at `until`".into(),
        Want::Open(true) => "still open at `until`".into(),
        Want::Open(false) => "resolved by `until`".into(),
        Want::Severity(s) => s.to_string(),
        Want::Queue(q) => q.clone(),
        Want::EscalatedTo(to) => to.clone(),
        Want::DaysOut(n) => n.to_string(),
        Want::PeakShortfall(n) => n.to_string(),
    }
}

fn show_got(field: &str, ep: &Episode) -> String {
    match field {
        "opened" => ep.opened.to_string(),
        "resolved" | "open" => match ep.resolved {
            Some(d) => format!("resolved {d}"),
            None => "still open at `until`".into(),
        },
        "severity" => format!("{} (highest reached)", ep.peak_severity),
        "queue" => ep.queues.join(", "),
        "escalated_to" if ep.escalations.is_empty() => "no escalation reached".into(),
        "escalated_to" => ep
            .escalations
            .iter()
            .map(|x| format!("{} on {}", x.to, x.on))
            .collect::<Vec<_>>()
            .join(", "),
        "days_out" => ep.days_out.to_string(),
        "peak_shortfall" => ep
            .peak_shortfall
            .map_or("no shortfall in evidence".into(), |n| n.to_string()),
        _ => String::new(),
    }
}
