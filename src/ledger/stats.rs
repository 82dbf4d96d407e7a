//! `trueup ledger stats`: how long cases take to resolve, how old the open
//! ones are, how often they come back, and which steps are overdue.

use std::collections::BTreeMap;

use rusqlite::Transaction;
use serde_json::{json, Value};

use super::query::{all_cases, latest_as_of, CaseRow};
use super::steps::StepStatus;
use crate::date::Date;

/// Open-case age buckets, in days since the open period began.
pub const AGE_BUCKETS: &[(&str, i64, i64)] = &[
    ("0-7", 0, 7),
    ("8-30", 8, 30),
    ("31-90", 31, 90),
    ("91-365", 91, 365),
    ("366+", 366, i64::MAX),
];

/// Median and 90th percentile (nearest rank) of days, with the count.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Spread {
    pub resolved: usize,
    pub median_days: f64,
    pub p90_days: i64,
}

pub fn spread(mut days: Vec<i64>) -> Spread {
    days.sort_unstable();
    let n = days.len();
    let median = if n == 0 {
        0.0
    } else if n % 2 == 1 {
        days[n / 2] as f64
    } else {
        (days[n / 2 - 1] + days[n / 2]) as f64 / 2.0
    };
    let p90 = if n == 0 {
        0
    } else {
        days[(n * 9).div_ceil(10) - 1]
    };
    Spread {
        resolved: n,
        median_days: median,
        p90_days: p90,
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Stats {
    pub cases: usize,
    pub open: usize,
    pub resolved: usize,
    /// Each resolution: days from (re)opening to resolution.
    pub time_to_resolution: Spread,
    pub by_rule: BTreeMap<String, Spread>,
    pub by_queue: BTreeMap<String, Spread>,
    pub by_severity: BTreeMap<String, Spread>,
    pub open_by_age: Vec<(String, usize)>,
    pub reopened_cases: usize,
    pub reopenings: i64,
    /// Overdue steps of open cases, as of each estate's latest run, by queue.
    pub overdue_steps: BTreeMap<String, usize>,
}

/// One open period of a case that ended in a resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Episode {
    pub case: i64,
    /// The day the case was opened or reopened.
    pub began: Date,
    pub resolved: Date,
}

impl Episode {
    /// Days from (re)opening to resolution.
    pub fn days(&self) -> i64 {
        self.began.days_until(self.resolved).max(0)
    }
}

/// Every resolution in the events (not only the last of each case), with
/// the day its open period began, in the order they were recorded.
pub fn episodes(tx: &Transaction<'_>) -> rusqlite::Result<Vec<Episode>> {
    let mut stmt = tx.prepare(
        "SELECT case_id, kind, at FROM events WHERE kind IN ('opened', 'reopened', 'resolved') AND case_id IS NOT NULL ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut began: BTreeMap<i64, Date> = BTreeMap::new();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let case: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let at = super::date_col(r, 2)?;
        if kind == "resolved" {
            if let Some(start) = began.remove(&case) {
                out.push(Episode {
                    case,
                    began: start,
                    resolved: at,
                });
            }
        } else {
            began.insert(case, at);
        }
    }
    Ok(out)
}

/// The age bucket (an index into [`AGE_BUCKETS`]) of a case open `age` days.
pub fn age_bucket(age: i64) -> Option<usize> {
    AGE_BUCKETS
        .iter()
        .position(|(_, lo, hi)| age >= *lo && age <= *hi)
}

/// Computes the figures from the events (every resolution, not only the
/// last of each case) and the cases table.
pub fn compute(tx: &Transaction<'_>) -> rusqlite::Result<Stats> {
    let cases = all_cases(tx)?;
    let latest = latest_as_of(tx)?;
    let by_id: BTreeMap<i64, &CaseRow> = cases.iter().map(|c| (c.id, c)).collect();
    let episodes: Vec<(i64, i64)> = episodes(tx)?
        .into_iter()
        .map(|e| (e.case, e.days()))
        .collect();
    let mut all = Vec::new();
    let mut by_rule: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut by_queue: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut by_severity: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (case, days) in episodes {
        let Some(c) = by_id.get(&case) else { continue };
        all.push(days);
        by_rule.entry(c.rule.clone()).or_default().push(days);
        by_queue.entry(c.queue.clone()).or_default().push(days);
        by_severity
            .entry(c.severity.clone())
            .or_default()
            .push(days);
    }
    let open: Vec<&CaseRow> = cases.iter().filter(|c| c.state == "open").collect();
    let mut ages = vec![0usize; AGE_BUCKETS.len()];
    let mut overdue: BTreeMap<String, usize> = BTreeMap::new();
    for c in &open {
        let Some(as_of) = latest.get(&c.estate).copied() else {
            continue;
        };
        let age = c.since.days_until(as_of).max(0);
        if let Some(i) = age_bucket(age) {
            ages[i] += 1;
        }
        let n = c
            .steps(as_of)
            .iter()
            .filter(|s| s.2 == StepStatus::Overdue)
            .count();
        if n > 0 {
            *overdue.entry(c.queue.clone()).or_default() += n;
        }
    }
    let map = |m: BTreeMap<String, Vec<i64>>| m.into_iter().map(|(k, v)| (k, spread(v))).collect();
    Ok(Stats {
        cases: cases.len(),
        open: open.len(),
        resolved: cases.len() - open.len(),
        time_to_resolution: spread(all),
        by_rule: map(by_rule),
        by_queue: map(by_queue),
        by_severity: map(by_severity),
        open_by_age: AGE_BUCKETS
            .iter()
            .zip(ages)
            .map(|((name, _, _), n)| (name.to_string(), n))
            .collect(),
        reopened_cases: cases.iter().filter(|c| c.reopened > 0).count(),
        reopenings: cases.iter().map(|c| c.reopened).sum(),
        overdue_steps: overdue,
    })
}

pub fn json(s: &Stats) -> Value {
    let spreads = |m: &BTreeMap<String, Spread>| -> Value {
        Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
    };
    json!({
        "cases": s.cases,
        "open": s.open,
        "resolved": s.resolved,
        "time_to_resolution": {
            "all": s.time_to_resolution,
            "by_rule": spreads(&s.by_rule),
            "by_queue": spreads(&s.by_queue),
            "by_severity": spreads(&s.by_severity),
        },
        "open_by_age": Value::Object(s.open_by_age.iter().map(|(k, n)| (k.clone(), json!(n))).collect()),
        "reopened": { "cases": s.reopened_cases, "reopenings": s.reopenings },
        "overdue_steps": {
            "total": s.overdue_steps.values().sum::<usize>(),
            "by_queue": s.overdue_steps,
        },
    })
}

pub fn text(s: &Stats) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cases: {} ({} open, {} resolved)",
        s.cases, s.open, s.resolved
    );
    let row = |out: &mut String, name: &str, sp: &Spread| {
        let _ = writeln!(
            out,
            "  {name}: {} resolved, median {} days, p90 {} days",
            sp.resolved, sp.median_days, sp.p90_days
        );
    };
    let _ = writeln!(out, "\ntime to resolution");
    row(&mut out, "all", &s.time_to_resolution);
    for (title, m) in [
        ("rule", &s.by_rule),
        ("queue", &s.by_queue),
        ("severity", &s.by_severity),
    ] {
        let _ = writeln!(out, "\nby {title}");
        if m.is_empty() {
            let _ = writeln!(out, "  none resolved");
        }
        for (k, sp) in m {
            row(&mut out, &crate::report::escape::line(k), sp);
        }
    }
    let _ = writeln!(out, "\nopen cases by age (days since opened or reopened)");
    for (k, n) in &s.open_by_age {
        let _ = writeln!(out, "  {k}: {n}");
    }
    let _ = writeln!(
        out,
        "\nreopened: {} case(s), {} reopening(s)",
        s.reopened_cases, s.reopenings
    );
    let total: usize = s.overdue_steps.values().sum();
    let _ = writeln!(out, "\noverdue steps: {total}");
    for (q, n) in &s.overdue_steps {
        let _ = writeln!(out, "  {}: {n}", crate::report::escape::line(q));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_nearest_rank() {
        assert_eq!(spread(vec![]).resolved, 0);
        let s = spread(vec![4, 1, 3, 2]);
        assert_eq!((s.median_days, s.p90_days), (2.5, 4));
        let s = spread((1..=10).collect());
        assert_eq!((s.median_days, s.p90_days), (5.5, 9));
        let s = spread(vec![7]);
        assert_eq!((s.median_days, s.p90_days), (7.0, 7));
    }
}
