//! The effective licence position (ELP): per product and metric, what is
//! entitled on the as-of date against what is consumed.
//!
//! Counting rules (docs/reference.md): everything is read as of one date. An
//! entitlement counts only while its own term and its contract are valid (a
//! perpetual one outlives both, not a termination); an installation consumes
//! only while it exists (from `installed_on`, until `removed_on`). Which pool
//! covers each consumer is [`super::allocate`]'s business; a row sums what
//! its metric's pools took. Usage counts only for months that began on or
//! before the as-of date; a figure older than the two months before the
//! as-of month is `stale`.

use super::allocate::{allocate, allocated, exemptions, Allocation, Options, ProductAllocation};
use super::model::*;
use super::profile::{Profiles, MILLI};
use crate::date::Date;

/// One row of the licence position.
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    pub product: Sym,
    pub metric: Metric,
    /// `None` means unlimited (a valid site licence).
    pub entitled: Option<u64>,
    pub consumed: u64,
    pub shortfall: u64,
    /// `None` when entitlement is unlimited.
    pub surplus: Option<u64>,
    /// consumed / entitled, unrounded (reports round it for display); `None`
    /// when nothing countable is entitled.
    pub utilization: Option<f64>,
    /// Some consumption could not be counted (missing cores, sockets, users or
    /// usage figures); the consumed figure is a lower bound.
    pub incomplete: bool,
    /// A usage-based row whose latest figure is more than two months older
    /// than the as-of month; such a row is also `incomplete`.
    pub stale: bool,
    /// Devices counted in this row whose cores or sockets nobody recorded
    /// (counted as nothing; the row is `incomplete`).
    pub unknown_capacity: u64,
    /// Installations with no user, each counted as a user of its own (the
    /// row is `incomplete`).
    pub unattributed: u64,
}

/// Every row of the position on `as_of`, sorted by product id then metric.
pub fn positions(snap: &Snapshot, as_of: Date) -> Vec<Position> {
    positions_with(snap, as_of, Profiles::none())
}

/// [`positions`] with the playbook's metric profiles.
pub fn positions_with(snap: &Snapshot, as_of: Date, profiles: &Profiles) -> Vec<Position> {
    let opts = Options {
        profiles: Some(profiles),
        ..Options::default()
    };
    rows(snap, as_of, &allocate(snap, as_of, &opts))
}

/// The rows of an allocation, sorted by product id then metric.
pub fn rows(snap: &Snapshot, as_of: Date, alloc: &Allocation) -> Vec<Position> {
    let mut rows = Vec::new();
    for a in &alloc.products {
        let product = a.product;
        let mut metrics: Vec<Metric> = snap.entitlements_of(product).map(|e| e.metric).collect();
        if let Some(m) = a.unpooled.metric.filter(|_| a.unpooled.used > 0) {
            metrics.push(m);
        }
        metrics.sort();
        metrics.dedup();
        if metrics.is_empty() {
            if !snap
                .installations_of(product)
                .iter()
                .any(|i| i.exists_on(as_of))
            {
                continue;
            }
            metrics.push(Metric::Device);
        }
        for metric in metrics {
            rows.push(position_row(snap, a, metric, as_of));
        }
    }
    rows
}

/// The installations of `product` that consume licences on `as_of`: those
/// that exist on that day, on a device whose environment no valid licence
/// of the product exempts.
pub fn consuming_installations(snap: &Snapshot, product: Sym, as_of: Date) -> Vec<&Installation> {
    let exempt = exemptions(snap, product, as_of);
    snap.installations_of(product)
        .iter()
        .filter(|i| {
            if !i.exists_on(as_of) {
                return false;
            }
            let env = snap.device(i.device).and_then(|d| d.environment);
            !env.is_some_and(|e| exempt.iter().any(|(x, _)| *x == e))
        })
        .collect()
}

fn position_row(snap: &Snapshot, a: &ProductAllocation, metric: Metric, as_of: Date) -> Position {
    let valid: Vec<&Entitlement> = snap
        .entitlements_of(a.product)
        .filter(|e| e.metric == metric && snap.entitlement_valid(e, as_of))
        .collect();
    let entitled = match metric {
        Metric::Site if !valid.is_empty() => None,
        _ => Some(
            valid
                .iter()
                .map(|e| e.quantity)
                .fold(0, u64::saturating_add),
        ),
    };
    let (consumed, incomplete, stale, unknown_capacity, unattributed) = if allocated(metric) {
        let mut consumed = 0u64;
        let (mut unknown, mut unattributed) = (0, 0);
        for p in &a.pools {
            if snap.entitlements[p.entitlement].metric == metric {
                consumed = consumed.saturating_add(p.used);
                unknown += p.unknown_capacity;
                unattributed += p.unattributed;
            }
        }
        if a.unpooled.metric == Some(metric) {
            consumed = consumed.saturating_add(a.unpooled.used);
            unknown += a.unpooled.unknown_capacity;
            unattributed += a.unpooled.unattributed;
        }
        // Profile pools count thousandths of a licence: a part is a licence.
        if metric.is_profile() {
            consumed = consumed.div_ceil(MILLI);
        }
        (
            consumed,
            unknown + unattributed > 0,
            false,
            unknown,
            unattributed,
        )
    } else {
        let u = usage_consumption(snap, a.product, metric, as_of);
        (u.consumed, u.incomplete, u.stale, 0, 0)
    };
    let (shortfall, surplus, utilization) = match entitled {
        None => (0, None, None),
        Some(n) => (
            consumed.saturating_sub(n),
            Some(n.saturating_sub(consumed)),
            (n > 0).then(|| consumed as f64 / n as f64),
        ),
    };
    Position {
        product: a.product,
        metric,
        entitled,
        consumed,
        shortfall,
        surplus,
        utilization,
        incomplete,
        stale,
        unknown_capacity,
        unattributed,
    }
}

/// What a product consumes in a usage-based metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Consumption {
    consumed: u64,
    /// Some consumption could not be counted; `consumed` is a lower bound.
    incomplete: bool,
    /// The latest usage figure is older than the two months before the
    /// as-of month (implies `incomplete`).
    stale: bool,
}

/// The first day of the month two months before `day`'s: the oldest month
/// whose usage figure is still current on `day`.
fn current_from(day: Date) -> Date {
    let (y, m, _) = day.ymd();
    let months = y * 12 + m as i32 - 1 - 2;
    Date::from_ymd(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1)
        .expect("the first of a month exists")
}

/// `concurrent`: the highest `peak_concurrent` of the as-of month and the
/// two before it; `subscription`: the latest month's `active_users`. Only
/// months that began on or before `as_of` count.
fn usage_consumption(snap: &Snapshot, product: Sym, metric: Metric, as_of: Date) -> Consumption {
    // Periods are `YYYY-MM`, so they compare as text with a month's own period.
    let upto = as_of.period();
    let from = current_from(as_of).period();
    let records = snap.usage_of(product);
    let records = &records[..records.partition_point(|u| u.period <= upto)];
    let stale = records.last().is_some_and(|u| u.period < from);
    let (consumed, missing) = if metric == Metric::Concurrent {
        let current = &records[records.partition_point(|u| u.period < from)..];
        let peak = current.iter().filter_map(|u| u.peak_concurrent).max();
        let missing = current.is_empty() || current.iter().any(|u| u.peak_concurrent.is_none());
        (peak.unwrap_or(0), missing)
    } else {
        let figure = records.last().and_then(|u| u.active_users);
        (figure.unwrap_or(0), figure.is_none())
    };
    Consumption {
        consumed,
        incomplete: missing || stale,
        stale,
    }
}
