//! `trueup dashboard`: the case ledger (and optionally one snapshot's
//! licence position) as one self-contained HTML page.
//!
//! [`gather`] reads every figure in one read transaction, through the
//! ledger's own queries and statistics ([`crate::ledger::query`],
//! [`crate::ledger::stats`]); [`html::render`] lays them out. The page
//! needs nothing but itself: no script, no font, no style sheet from
//! anywhere; charts are inline SVG. Nothing reads the clock: the page's
//! date is `--as-of` or the latest run's, so the same ledger and inputs
//! give the same bytes.

pub mod html;

use std::collections::BTreeMap;

use rusqlite::Transaction;
use serde_json::Value;

use crate::date::Date;
use crate::engine::Evaluation;
use crate::ledger::query::{all_cases, evidenced_cases, latest_as_of, CaseRow};
use crate::ledger::stats::{self, Spread, AGE_BUCKETS};
use crate::ledger::steps::StepStatus;

/// Severities worst first, as the panels list them.
pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// Every figure the page shows.
#[derive(Debug)]
pub struct Dashboard {
    /// The ledger as the user named it.
    pub ledger: String,
    /// The date of the page: `--as-of`, else the latest run's; `None` when
    /// the ledger has recorded no run.
    pub as_of: Option<Date>,
    pub cases: usize,
    pub open: usize,
    pub resolved: usize,
    /// Open cases per severity, worst first; every severity is listed.
    pub by_severity: Vec<(String, usize)>,
    /// Open cases per age bucket ([`AGE_BUCKETS`]).
    pub by_age: Vec<(String, usize)>,
    /// Open cases per queue, by queue name.
    pub by_queue: Vec<(String, usize)>,
    pub overdue: Vec<Overdue>,
    pub tasks: Vec<Task>,
    /// Every resolution: days from (re)opening to resolution.
    pub time_to_resolution: Spread,
    /// Resolutions by month of resolution, oldest first.
    pub by_month: Vec<(String, Spread)>,
    pub position: Option<PositionPanel>,
    pub readiness: Readiness,
}

/// One overdue step of an open case.
#[derive(Debug)]
pub struct Overdue {
    pub case: String,
    pub severity: String,
    pub queue: String,
    pub owner: Option<String>,
    /// `notice`, or whom the step escalates to.
    pub step: String,
    pub due: Date,
    /// Days past its date, on the date steps are counted on.
    pub days: i64,
}

/// One open case's first remediation option and who owns it.
#[derive(Debug)]
pub struct Task {
    pub case: String,
    pub severity: String,
    pub finding: String,
    /// The option as text (`purchase: metric device, quantity 8`); `None`
    /// when the snapshot was not given or its finding offers none.
    pub option: Option<String>,
    pub owner: Option<String>,
    /// The next step not yet done, with its date and status.
    pub next_step: Option<(String, Date, StepStatus)>,
}

/// The licence position of the snapshot given.
#[derive(Debug)]
pub struct PositionPanel {
    pub snapshot: String,
    pub snapshot_id: String,
    pub as_of: Date,
    pub rows: Vec<PositionRow>,
}

#[derive(Debug)]
pub struct PositionRow {
    pub product: String,
    pub name: String,
    pub metric: String,
    /// `None`: unlimited.
    pub entitled: Option<u64>,
    pub consumed: u64,
    pub shortfall: u64,
    pub utilization: Option<f64>,
    pub incomplete: bool,
}

/// How ready the open cases are for an audit.
#[derive(Debug, Default)]
pub struct Readiness {
    pub open: usize,
    /// Acknowledged on or before the notice deadline (any acknowledgement
    /// when the route sets no deadline).
    pub acknowledged_in_time: usize,
    /// With a note of kind `evidence` or an attachment.
    pub evidenced: usize,
    /// Both.
    pub ready: usize,
}

impl Readiness {
    /// The share of open cases that are ready, as a percentage; 100 when
    /// nothing is open.
    pub fn percent(&self) -> f64 {
        if self.open == 0 {
            100.0
        } else {
            self.ready as f64 * 100.0 / self.open as f64
        }
    }
}

/// Reads every figure. Steps and ages are counted on `as_of` when given,
/// else on each estate's latest run (as `trueup cases` counts them).
/// `eval` is the snapshot given, evaluated: its positions and the first
/// remediation option of each open case's finding.
pub fn gather(
    tx: &Transaction<'_>,
    ledger: &str,
    as_of: Option<Date>,
    eval: Option<&Evaluation>,
) -> rusqlite::Result<Dashboard> {
    let cases = all_cases(tx)?;
    let latest = latest_as_of(tx)?;
    let evidenced = evidenced_cases(tx)?;
    let page_date = as_of.or_else(|| latest.values().max().copied());
    let counted_on = |c: &CaseRow| as_of.or_else(|| latest.get(&c.estate).copied());

    let open: Vec<&CaseRow> = cases.iter().filter(|c| c.state == "open").collect();
    let mut severity: BTreeMap<&str, usize> = BTreeMap::new();
    let mut queue: BTreeMap<String, usize> = BTreeMap::new();
    let mut ages = vec![0usize; AGE_BUCKETS.len()];
    let mut overdue = Vec::new();
    let mut tasks = Vec::new();
    let mut readiness = Readiness {
        open: open.len(),
        ..Readiness::default()
    };
    let options = first_options(eval);
    for c in &open {
        *severity.entry(c.severity.as_str()).or_default() += 1;
        *queue.entry(c.queue.clone()).or_default() += 1;
        let on = counted_on(c);
        if let Some(i) = on.and_then(|d| stats::age_bucket(c.since.days_until(d).max(0))) {
            ages[i] += 1;
        }
        let steps = on.map(|d| c.steps(d)).unwrap_or_default();
        for (step, due, status) in &steps {
            if *status == StepStatus::Overdue {
                overdue.push(Overdue {
                    case: c.name(),
                    severity: c.severity.clone(),
                    queue: c.queue.clone(),
                    owner: c.owner_now().map(str::to_string),
                    step: step.clone(),
                    due: *due,
                    days: on.map_or(0, |d| due.days_until(d)),
                });
            }
        }
        let in_time = match (
            c.acked_on,
            c.ladder.notify_by.as_deref().and_then(Date::parse),
        ) {
            (Some(acked), Some(deadline)) => acked <= deadline,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let has_evidence = evidenced.contains(&c.id);
        readiness.acknowledged_in_time += usize::from(in_time);
        readiness.evidenced += usize::from(has_evidence);
        readiness.ready += usize::from(in_time && has_evidence);
        tasks.push(Task {
            case: c.name(),
            severity: c.severity.clone(),
            finding: c.finding_id.clone(),
            option: options
                .as_ref()
                .and_then(|(estate, m)| (estate == &c.estate).then(|| m.get(&c.finding_id)))
                .flatten()
                .cloned(),
            owner: c.owner_now().map(str::to_string),
            next_step: steps
                .iter()
                .find(|s| matches!(s.2, StepStatus::Due | StepStatus::Overdue))
                .cloned(),
        });
    }
    let rank = |s: &str| {
        SEVERITIES
            .iter()
            .position(|x| *x == s)
            .unwrap_or(SEVERITIES.len())
    };
    let mut by_severity: Vec<(String, usize)> = SEVERITIES
        .iter()
        .map(|s| (s.to_string(), severity.get(s).copied().unwrap_or(0)))
        .collect();
    // A severity trueup does not know (a ledger from elsewhere) still shows.
    by_severity.extend(
        severity
            .iter()
            .filter(|(s, _)| !SEVERITIES.contains(s))
            .map(|(s, n)| (s.to_string(), *n)),
    );
    overdue.sort_by(|a, b| {
        rank(&a.severity)
            .cmp(&rank(&b.severity))
            .then(b.days.cmp(&a.days))
            .then_with(|| a.case.cmp(&b.case))
            .then_with(|| a.step.cmp(&b.step))
    });
    tasks.sort_by(|a, b| {
        rank(&a.severity)
            .cmp(&rank(&b.severity))
            .then_with(|| a.case.cmp(&b.case))
    });

    let episodes = stats::episodes(tx)?;
    let known: std::collections::BTreeSet<i64> = cases.iter().map(|c| c.id).collect();
    let mut months: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut all = Vec::new();
    for e in episodes.iter().filter(|e| known.contains(&e.case)) {
        all.push(e.days());
        months
            .entry(e.resolved.period())
            .or_default()
            .push(e.days());
    }

    Ok(Dashboard {
        ledger: ledger.to_string(),
        as_of: page_date,
        cases: cases.len(),
        open: open.len(),
        resolved: cases.len() - open.len(),
        by_severity,
        by_age: AGE_BUCKETS
            .iter()
            .zip(ages)
            .map(|((name, _, _), n)| (name.to_string(), n))
            .collect(),
        by_queue: queue.into_iter().collect(),
        overdue,
        tasks,
        time_to_resolution: stats::spread(all),
        by_month: months
            .into_iter()
            .map(|(m, d)| (m, stats::spread(d)))
            .collect(),
        position: eval.map(position_panel),
        readiness,
    })
}

/// The snapshot's estate and each finding's first remediation option.
fn first_options(eval: Option<&Evaluation>) -> Option<(String, BTreeMap<String, String>)> {
    let eval = eval?;
    let options = eval
        .findings
        .iter()
        .filter_map(|f| {
            f.remediation
                .first()
                .map(|o| (f.id.clone(), describe_option(o)))
        })
        .collect();
    Some((eval.snapshot.meta.estate().to_string(), options))
}

/// `purchase: metric device, quantity 8`: the action, then the option's
/// other fields in their order.
pub fn describe_option(o: &Value) -> String {
    let Some(m) = o.as_object() else {
        return plain(o);
    };
    let action = m
        .get("action")
        .map(plain)
        .unwrap_or_else(|| "option".into());
    let rest: Vec<String> = m
        .iter()
        .filter(|(k, _)| k.as_str() != "action")
        .map(|(k, v)| format!("{k} {}", plain(v)))
        .collect();
    if rest.is_empty() {
        action
    } else {
        format!("{action}: {}", rest.join(", "))
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(" "),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

fn position_panel(eval: &Evaluation) -> PositionPanel {
    let snap = &eval.snapshot;
    let rows = eval
        .positions
        .iter()
        .map(|p| {
            let product = snap.str(p.product).to_string();
            let name = snap
                .product(p.product)
                .map(|x| x.name.to_string())
                .unwrap_or_else(|| product.clone());
            PositionRow {
                product,
                name,
                metric: p.metric.as_str().to_string(),
                entitled: p.entitled,
                consumed: p.consumed,
                shortfall: p.shortfall,
                utilization: p.utilization,
                incomplete: p.incomplete,
            }
        })
        .collect();
    PositionPanel {
        snapshot: snap.path.display().to_string(),
        snapshot_id: snap.meta.id.clone(),
        as_of: eval.as_of,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_option_reads_as_its_action_then_its_fields() {
        assert_eq!(
            describe_option(&json!({ "action": "purchase", "metric": "core", "quantity": 8 })),
            "purchase: metric core, quantity 8"
        );
        assert_eq!(
            describe_option(&json!({ "action": "uninstall", "devices": ["a", "b"] })),
            "uninstall: devices a b"
        );
        assert_eq!(
            describe_option(&json!({ "action": "investigate" })),
            "investigate"
        );
        assert_eq!(describe_option(&json!("retire")), "retire");
    }
}
