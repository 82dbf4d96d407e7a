//! Licences that can be taken back: devices nobody active uses, and the
//! smallest set of them whose uninstallation clears a shortfall.
//!
//! A plan is checked, not estimated: the product is allocated again without
//! the devices, under the same rules as the position, so an uninstall option
//! built from it clears what it claims to.

use std::collections::{BTreeMap, HashSet};

use super::allocate::{allocate, component, Options};
use super::model::*;
use super::position::{consuming_installations, rows};
use super::profile::Profiles;
use crate::date::Date;

/// The user an installation is recorded against: its own, else its
/// device's primary user.
fn user_of(snap: &Snapshot, i: &Installation) -> Option<Sym> {
    i.user
        .or_else(|| snap.device(i.device).and_then(|d| d.primary_user))
}

fn inactive(snap: &Snapshot, user: Option<Sym>) -> bool {
    user.and_then(|u| snap.user(u)).is_some_and(|u| !u.active)
}

/// Devices whose every consuming installation of `product` on `as_of`
/// belongs to a user listed as inactive, by id.
pub fn idle_devices(snap: &Snapshot, product: Sym, as_of: Date) -> Vec<Sym> {
    let mut idle: BTreeMap<&str, (Sym, bool)> = BTreeMap::new();
    for i in consuming_installations(snap, product, as_of) {
        let e = idle.entry(snap.str(i.device)).or_insert((i.device, true));
        e.1 &= inactive(snap, user_of(snap, i));
    }
    idle.into_values()
        .filter(|&(_, idle)| idle)
        .map(|(d, _)| d)
        .collect()
}

/// What to uninstall: devices, and for user licences the users whose every
/// device goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub devices: Vec<Sym>,
    pub users: Vec<Sym>,
}

/// The fewest idle devices (for `user`: whole inactive users with all their
/// devices), taken in id order, whose uninstallation leaves `product` with
/// no shortfall in any row and its `metric` row at `max_consumed` or less;
/// `None` when uninstalling every idle one would not.
pub fn uninstall_plan(
    snap: &Snapshot,
    profiles: &Profiles,
    as_of: Date,
    product: Sym,
    metric: Metric,
    max_consumed: u64,
) -> Option<Plan> {
    let idle = idle_devices(snap, product, as_of);
    // Each unit is what one step uninstalls: a device, or a user's devices.
    let units: Vec<(Option<Sym>, Vec<Sym>)> = if metric == Metric::User {
        let idle: HashSet<Sym> = idle.iter().copied().collect();
        let mut by_user: BTreeMap<&str, (Sym, Vec<Sym>, bool)> = BTreeMap::new();
        for i in consuming_installations(snap, product, as_of) {
            let Some(u) = user_of(snap, i).filter(|&u| inactive(snap, Some(u))) else {
                continue;
            };
            let e = by_user.entry(snap.str(u)).or_insert((u, Vec::new(), true));
            e.2 &= idle.contains(&i.device);
            if !e.1.contains(&i.device) {
                e.1.push(i.device);
            }
        }
        by_user
            .into_values()
            .filter(|(_, _, all_idle)| *all_idle)
            .map(|(u, devices, _)| (Some(u), devices))
            .collect()
    } else {
        idle.into_iter().map(|d| (None, vec![d])).collect()
    };
    let only = component(snap, product);
    let plan = |k: usize| -> Plan {
        let mut devices: Vec<Sym> = units[..k].iter().flat_map(|(_, d)| d.clone()).collect();
        devices.sort_by(|a, b| snap.str(*a).cmp(snap.str(*b)));
        devices.dedup();
        Plan {
            devices,
            users: units[..k].iter().filter_map(|(u, _)| *u).collect(),
        }
    };
    let clears = |k: usize| -> bool {
        let without: HashSet<Sym> = units[..k].iter().flat_map(|(_, d)| d.clone()).collect();
        let opts = Options {
            only: Some(&only),
            without: Some((product, &without)),
            explain: None,
            profiles: Some(profiles),
        };
        let alloc = allocate(snap, as_of, &opts);
        rows(snap, as_of, &alloc)
            .iter()
            .filter(|r| r.product == product)
            .all(|r| r.shortfall == 0 && (r.metric != metric || r.consumed <= max_consumed))
    };
    if !clears(units.len()) {
        return None;
    }
    // The smallest prefix that clears; `hi` always clears.
    let (mut lo, mut hi) = (0, units.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if clears(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(plan(hi))
}
