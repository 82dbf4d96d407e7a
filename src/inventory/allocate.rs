//! Allocation: which licence pool covers each consumer of a product.
//!
//! A product's consumers (devices, or users for the `user` metric) are
//! covered across its valid entitlements ("pools"), each consumer once. A
//! device in an environment that the contract of any valid entitlement
//! exempts is covered at no cost. The others go to the pools in order:
//! `priority` (lower first), then metric (`site`, `device`, `user`, then the
//! capacity metrics `core` and `processor`), then entitlement id; within a
//! pool, consumers in id order. A device's cores (or sockets) may be split
//! across pools of one capacity metric, never across metrics. After a
//! product's own pools come those of every product whose `covers` lists it,
//! once that product's own consumers were allocated. Whatever no pool could
//! cover is charged to the first valid pool (the pool then shows consumed >
//! entitled); with no valid pool, to a row of nothing entitled.
//!
//! Usage-based metrics (`concurrent`, `subscription`) are not allocated per
//! consumer: their rows compare usage figures with their own pools.
//!
//! Nothing here may count one consumer against two pools, or read any date
//! but the as-of date.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::model::*;
use super::profile::{self, Counts, Profiles, MILLI};
use crate::date::Date;

/// Who consumes a licence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Consumer {
    Device(Sym),
    User(Sym),
    /// An installation with no user, on a device with no primary user:
    /// counted as a user of its own.
    Unattributed {
        device: Sym,
        line: u32,
    },
}

/// Why a consumer is covered by the pool it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Its device's environment is exempted by the pool's contract.
    Exempt { environment: Sym },
    /// Allocated from the product's own pool.
    Allocated,
    /// Allocated from the pool of a product whose `covers` lists it.
    Covers,
    /// Already covered by this pool for another product it covers: no
    /// further cost.
    Shared,
    /// No pool had room: charged to this pool as shortfall.
    Shortfall,
}

/// One consumer of one product, and the pool that covers it.
#[derive(Clone, Debug)]
pub struct Cover {
    /// The installed product.
    pub product: Sym,
    pub consumer: Consumer,
    /// The pool's entitlement, an index into [`Snapshot::entitlements`];
    /// `None` when no entitlement of the product is valid.
    pub entitlement: Option<usize>,
    pub metric: Metric,
    /// What it costs in that pool's metric, in whole licences (rounded up).
    pub units: u64,
    /// Under a metric profile, the same in thousandths of a licence.
    pub milli: Option<u64>,
    /// Under a metric profile, how the units were worked out.
    pub working: Option<String>,
    /// Its size (cores, sockets) or its user is unknown; `units` is a lower
    /// bound.
    pub unknown: bool,
    pub basis: Basis,
}

/// A pool's totals after allocation.
#[derive(Clone, Debug)]
pub struct PoolTotal {
    /// Index into [`Snapshot::entitlements`].
    pub entitlement: usize,
    pub used: u64,
    pub unknown_capacity: u64,
    pub unattributed: u64,
}

/// Consumption charged to a product with no valid pool, by metric.
#[derive(Clone, Debug, Default)]
pub struct Unpooled {
    pub metric: Option<Metric>,
    pub used: u64,
    pub unknown_capacity: u64,
    pub unattributed: u64,
}

/// The outcome for one product.
#[derive(Clone, Debug)]
pub struct ProductAllocation {
    pub product: Sym,
    /// Its own valid pools, in allocation order.
    pub pools: Vec<PoolTotal>,
    /// What was charged with no valid pool to take it.
    pub unpooled: Unpooled,
    /// Consumption that no pool covers (0: the product is fully covered).
    pub uncovered: u64,
}

/// What to allocate and what to record.
#[derive(Default)]
pub struct Options<'a> {
    /// Allocate only these products (a set closed under `covers`).
    pub only: Option<&'a HashSet<Sym>>,
    /// Leave out the installations of this product on these devices, as if
    /// they were uninstalled.
    pub without: Option<(Sym, &'a HashSet<Sym>)>,
    /// Record every consumer of this product, and every consumer its pools
    /// cover for other products.
    pub explain: Option<Sym>,
    /// The playbook's metric profiles (none: built-in metrics only).
    pub profiles: Option<&'a Profiles>,
}

/// What allocation reads besides the snapshot: the metric profiles, and
/// each cluster's hosts.
struct Env<'a> {
    snap: &'a Snapshot,
    profiles: &'a Profiles,
    clusters: SymMap<Vec<Sym>>,
}

impl<'a> Env<'a> {
    fn new(snap: &'a Snapshot, profiles: &'a Profiles) -> Self {
        let clusters = if profiles.iter().next().is_some() {
            profile::clusters(snap)
        } else {
            SymMap::default()
        };
        Env {
            snap,
            profiles,
            clusters,
        }
    }

    /// Whether a pool of `metric` covers users rather than devices.
    fn per_user(&self, metric: Metric) -> bool {
        metric == Metric::User
            || self
                .profiles
                .get(metric)
                .is_some_and(|p| p.counts == Counts::Users)
    }
}

/// The allocation of every product on one date.
pub struct Allocation {
    /// By product id.
    pub products: Vec<ProductAllocation>,
    /// What [`Options::explain`] asked for, in no particular order.
    pub covers: Vec<Cover>,
}

/// Where a pool comes in allocation order, before its id: `priority`
/// (lower first, none last), then metric.
fn pool_rank(e: &Entitlement) -> (u64, u8) {
    let metric = match e.metric {
        Metric::Site => 0,
        Metric::Device => 1,
        Metric::User => 2,
        _ => 3,
    };
    (e.priority.unwrap_or(u64::MAX), metric)
}

/// Whether entitlements of `metric` are allocated per consumer.
pub fn allocated(metric: Metric) -> bool {
    !matches!(metric, Metric::Concurrent | Metric::Subscription)
}

/// Indices of a product's entitlements in pool order, valid ones only when
/// `valid_only`.
pub fn pools_of(snap: &Snapshot, product: Sym, as_of: Date, valid_only: bool) -> Vec<usize> {
    let mut v: Vec<usize> = snap
        .index
        .entitlements_by_product
        .get(&product)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&i| {
            let e = &snap.entitlements[i];
            allocated(e.metric) && (!valid_only || snap.entitlement_valid(e, as_of))
        })
        .collect();
    v.sort_by(|&a, &b| {
        let (ea, eb) = (&snap.entitlements[a], &snap.entitlements[b]);
        (pool_rank(ea), snap.str(ea.id)).cmp(&(pool_rank(eb), snap.str(eb.id)))
    });
    v
}

/// Products whose `covers` lists `product`, in id order.
pub fn covering(snap: &Snapshot, product: Sym) -> Vec<Sym> {
    snap.index
        .covered_by
        .get(&product)
        .cloned()
        .unwrap_or_default()
}

/// The valid entitlements that can license `product`: its own, then those
/// of the products that cover it, each in pool order (usage-based ones
/// after the allocated ones of the same product).
pub fn licences_for(snap: &Snapshot, product: Sym, as_of: Date) -> Vec<usize> {
    let mut out = Vec::new();
    for p in std::iter::once(product).chain(covering(snap, product)) {
        out.extend(pools_of(snap, p, as_of, true));
        out.extend(
            snap.index
                .entitlements_by_product
                .get(&p)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&i| {
                    let e = &snap.entitlements[i];
                    !allocated(e.metric) && snap.entitlement_valid(e, as_of)
                }),
        );
    }
    out
}

/// The environments that exempt a device from needing a licence of
/// `product`, each with the first valid entitlement whose contract exempts
/// it: the product's own, then those of the products that cover it.
pub fn exemptions(snap: &Snapshot, product: Sym, as_of: Date) -> Vec<(Sym, usize)> {
    let mut out: Vec<(Sym, usize)> = Vec::new();
    for e in licences_for(snap, product, as_of) {
        let c = &snap.contracts[snap.entitlements[e].contract_ix];
        for &env in &c.exempt_environments {
            if !out.iter().any(|(x, _)| *x == env) {
                out.push((env, e));
            }
        }
    }
    out
}

/// The products connected to `product` through `covers`, either way,
/// itself included: what allocating `product` alone depends on.
pub fn component(snap: &Snapshot, product: Sym) -> HashSet<Sym> {
    let mut seen = HashSet::from([product]);
    let mut todo = vec![product];
    while let Some(p) = todo.pop() {
        let mut next: Vec<Sym> = covering(snap, p);
        if let Some(pr) = snap.product(p) {
            next.extend(pr.covers.iter().copied());
        }
        for n in next {
            if seen.insert(n) {
                todo.push(n);
            }
        }
    }
    seen
}

/// Allocates every product (or those of [`Options::only`]) on `as_of`.
pub fn allocate(snap: &Snapshot, as_of: Date, opts: &Options) -> Allocation {
    let mut products: Vec<Sym> = match opts.only {
        // A what-if over a few products: no pass over the whole catalogue.
        Some(only) => only
            .iter()
            .copied()
            .filter(|&p| snap.product(p).is_some() || !snap.installations_of(p).is_empty())
            .collect(),
        None => {
            let mut all: Vec<Sym> = snap.products.iter().map(|p| p.id).collect();
            let listed: HashSet<Sym> = all.iter().copied().collect();
            all.extend(
                snap.installed_products()
                    .into_iter()
                    .filter(|p| !listed.contains(p)),
            );
            all
        }
    };
    products.sort_by(|a, b| snap.str(*a).cmp(snap.str(*b)));

    let env = Env::new(snap, opts.profiles.unwrap_or(Profiles::none()));
    let env = &env;
    let covered_by: Vec<Vec<Sym>> = products.iter().map(|&p| covering(snap, p)).collect();
    let coverers: HashSet<Sym> = covered_by.iter().flatten().copied().collect();
    let slot: SymMap<usize> = products.iter().enumerate().map(|(i, &p)| (p, i)).collect();
    let explained: HashSet<Sym> = match opts.explain {
        Some(x) => {
            let mut s: HashSet<Sym> = snap
                .product(x)
                .map_or(Vec::new(), |p| p.covers.clone())
                .into_iter()
                .collect();
            s.insert(x);
            s
        }
        None => HashSet::new(),
    };

    // Own pools first, every product on its own.
    let mut states: Vec<State> = products
        .par_iter()
        .zip(covered_by.par_iter())
        .map(|(&product, by)| {
            let mut st = State::new(snap, product, as_of, opts, coverers.contains(&product));
            if explained.contains(&product) {
                st.work.log = Some(Vec::new());
            }
            st.work.exempt(snap, &exemptions(snap, product, as_of));
            for i in 0..st.pools.len() {
                let pool = &mut st.pools[i];
                st.work.fill(env, pool, Basis::Allocated);
            }
            if by.is_empty() {
                st.charge(env, None);
            }
            st
        })
        .collect();

    // Then the pools of the products that cover them, in product order.
    for (y, by) in covered_by.iter().enumerate() {
        if by.is_empty() {
            continue;
        }
        let mut first_valid: Option<(usize, usize)> = None;
        for x in by {
            let Some(&xs) = slot.get(x) else { continue };
            let (ys, xst) = two_mut(&mut states, y, xs);
            for (i, pool) in xst.pools.iter_mut().enumerate() {
                first_valid.get_or_insert((xs, i));
                ys.work.fill(env, pool, Basis::Covers);
            }
        }
        match first_valid {
            // With no valid pool of its own, a covered product's shortfall
            // is charged to the first pool that covers it.
            Some((xs, i)) if states[y].pools.is_empty() => {
                let (ys, xst) = two_mut(&mut states, y, xs);
                ys.charge(env, Some(&mut xst.pools[i]));
            }
            _ => states[y].charge(env, None),
        }
    }

    // User profiles with a minimum per processor (Oracle NUP): each pool
    // consumes at least that many per processor of the devices the product
    // runs on, counted under the profile that counts processors.
    for st in &mut states {
        st.apply_floors(env);
    }

    let mut covers = Vec::new();
    let products = states
        .into_iter()
        .map(|mut st| {
            if let Some(log) = st.work.log.take() {
                covers.extend(
                    log.into_iter()
                        .filter(|c| Some(c.product) == opts.explain || explains(snap, c, opts)),
                );
            }
            st.finish()
        })
        .collect();
    Allocation { products, covers }
}

/// Two distinct elements of `v`, both mutable.
fn two_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b, "a product never covers itself");
    if a < b {
        let (lo, hi) = v.split_at_mut(b);
        (&mut lo[a], &mut hi[0])
    } else {
        let (lo, hi) = v.split_at_mut(a);
        (&mut hi[0], &mut lo[b])
    }
}

/// Whether a recorded cover of a covered product is drawn from the pool of
/// the product being explained.
fn explains(snap: &Snapshot, c: &Cover, opts: &Options) -> bool {
    c.entitlement
        .is_some_and(|e| Some(snap.entitlements[e].product) == opts.explain)
}

/// A pool while allocating.
#[derive(Debug)]
struct Pool {
    entitlement: usize,
    metric: Metric,
    /// `None`: unlimited (a site licence).
    capacity: Option<u64>,
    used: u64,
    unknown_capacity: u64,
    unattributed: u64,
    /// Consumers it covers, kept for pools of products that cover others,
    /// whose consumers may share them.
    devices: Option<HashSet<Sym>>,
    users: Option<HashSet<Consumer>>,
}

impl Pool {
    fn new(snap: &Snapshot, entitlement: usize, shared: bool) -> Self {
        let e = &snap.entitlements[entitlement];
        Pool {
            entitlement,
            metric: e.metric,
            capacity: (e.metric != Metric::Site).then_some(if e.metric.is_profile() {
                e.quantity.saturating_mul(MILLI)
            } else {
                e.quantity
            }),
            used: 0,
            unknown_capacity: 0,
            unattributed: 0,
            devices: shared.then(HashSet::new),
            users: shared.then(HashSet::new),
        }
    }

    fn room(&self) -> u64 {
        self.capacity
            .map_or(u64::MAX, |c| c.saturating_sub(self.used))
    }
}

struct State {
    product: Sym,
    pools: Vec<Pool>,
    /// The metric charged when no pool is valid: that of the first
    /// entitlement in pool order, valid or not.
    fallback: Option<Metric>,
    /// Every entitlement of the product is usage-based: its installations
    /// are not charged, its usage is.
    usage_only: bool,
    work: Work,
    unpooled: Unpooled,
    uncovered: u64,
}

impl State {
    fn new(snap: &Snapshot, product: Sym, as_of: Date, opts: &Options, shared: bool) -> Self {
        let pools: Vec<Pool> = pools_of(snap, product, as_of, true)
            .into_iter()
            .map(|e| Pool::new(snap, e, shared))
            .collect();
        let fallback = pools_of(snap, product, as_of, false)
            .first()
            .map(|&e| snap.entitlements[e].metric);
        let usage_only = fallback.is_none() && snap.entitlements_of(product).next().is_some();
        let without = opts.without.filter(|(p, _)| *p == product).map(|(_, d)| d);
        State {
            product,
            pools,
            fallback,
            usage_only,
            work: Work::new(snap, product, as_of, without),
            unpooled: Unpooled::default(),
            uncovered: 0,
        }
    }

    /// Charges what no pool covered: to `other` (another product's pool),
    /// else to the first own valid pool, else to no pool.
    fn charge(&mut self, env: &Env, other: Option<&mut Pool>) {
        let target = match other {
            Some(p) => Some(p),
            None => self.pools.first_mut(),
        };
        let total = match target {
            None if self.usage_only => 0,
            Some(pool) => {
                let metric = pool.metric;
                self.work.charge(env, metric, &mut Sink::Pool(pool))
            }
            None => {
                let metric = self.fallback.unwrap_or(Metric::Device);
                self.unpooled.metric = Some(metric);
                self.work
                    .charge(env, metric, &mut Sink::Unpooled(&mut self.unpooled))
            }
        };
        // Remainders of devices split across capacity pools go to the pool
        // that took their first part.
        let partial = self.work.charge_partials(&mut self.pools);
        self.uncovered = total + partial;
    }

    fn apply_floors(&mut self, env: &Env) {
        for i in 0..self.pools.len() {
            let Some(profile) = env.profiles.get(self.pools[i].metric) else {
                continue;
            };
            let (Some(min), Some(processor)) =
                (profile.min_per_processor, profile.processor_metric)
            else {
                continue;
            };
            if profile.counts != Counts::Users
                || i > 0 && self.pools[..i].iter().any(|p| p.metric == profile.metric)
            {
                continue;
            }
            let Some(counter) = env.profiles.get(processor) else {
                continue;
            };
            let mut hosts: HashSet<Sym> = HashSet::new();
            for d in &self.work.devices {
                hosts.extend(counter.licensed(env.snap, &env.clusters, d.id).as_slice());
            }
            // Oracle adds the processors of every server up, then rounds.
            let processors: u64 = hosts
                .iter()
                .map(|&h| counter.units(env.snap, h).milli)
                .fold(0u64, u64::saturating_add)
                .div_ceil(MILLI);
            let floor = min.saturating_mul(processors).saturating_mul(MILLI);
            let used: u64 = self
                .pools
                .iter()
                .filter(|p| p.metric == profile.metric)
                .map(|p| p.used)
                .sum();
            if used < floor {
                self.pools[i].used += floor - used;
            }
        }
    }

    fn finish(self) -> ProductAllocation {
        ProductAllocation {
            product: self.product,
            pools: self
                .pools
                .into_iter()
                .map(|p| PoolTotal {
                    entitlement: p.entitlement,
                    used: p.used,
                    unknown_capacity: p.unknown_capacity,
                    unattributed: p.unattributed,
                })
                .collect(),
            unpooled: self.unpooled,
            uncovered: self.uncovered,
        }
    }
}

enum Sink<'a> {
    Pool(&'a mut Pool),
    Unpooled(&'a mut Unpooled),
}

impl Sink<'_> {
    fn add(&mut self, units: u64, unknown_capacity: bool, unattributed: bool) {
        let (used, uc, ua) = match self {
            Sink::Pool(p) => (&mut p.used, &mut p.unknown_capacity, &mut p.unattributed),
            Sink::Unpooled(u) => (&mut u.used, &mut u.unknown_capacity, &mut u.unattributed),
        };
        *used = used.saturating_add(units);
        *uc += u64::from(unknown_capacity);
        *ua += u64::from(unattributed);
    }

    fn entitlement(&self) -> Option<usize> {
        match self {
            Sink::Pool(p) => Some(p.entitlement),
            Sink::Unpooled(_) => None,
        }
    }
}

/// One consuming installation: indices into [`Work::devices`] and
/// [`Work::users`].
#[derive(Clone, Copy, Default)]
struct Inst {
    dev: u32,
    user: u32,
    covered: bool,
}

struct Dev {
    id: Sym,
    /// Range of [`Work::by_device`].
    insts: std::ops::Range<u32>,
    uncovered: u32,
    cores: Option<u64>,
    sockets: Option<u64>,
    /// Part of its size is covered by a capacity pool; the rest is still
    /// to cover in the same metric.
    partial: Option<Partial>,
}

#[derive(Clone, Copy)]
struct Partial {
    metric: Metric,
    remaining: u64,
    entitlement: usize,
}

struct Usr {
    key: Consumer,
    insts: std::ops::Range<u32>,
    uncovered: u32,
}

/// The consumers of one product and what covers them so far.
struct Work {
    product: Sym,
    insts: Vec<Inst>,
    devices: Vec<Dev>,
    users: Vec<Usr>,
    /// Installation indices grouped by device, then by user.
    by_device: Vec<u32>,
    by_user: Vec<u32>,
    device_order: Option<Vec<u32>>,
    /// Devices already licensed for this product under each metric
    /// profile: a host counted once covers every VM on it.
    licensed: HashMap<Metric, HashSet<Sym>>,
    user_order: Option<Vec<u32>>,
    log: Option<Vec<Cover>>,
}

impl Work {
    fn new(snap: &Snapshot, product: Sym, as_of: Date, without: Option<&HashSet<Sym>>) -> Self {
        let mut dev_ix: SymMap<u32> = SymMap::default();
        let mut user_ix: SymMap<u32> = SymMap::default();
        let mut devices: Vec<Dev> = Vec::new();
        let mut users: Vec<Usr> = Vec::new();
        let mut insts = Vec::new();
        for i in snap.installations_of(product) {
            if !i.exists_on(as_of) || without.is_some_and(|w| w.contains(&i.device)) {
                continue;
            }
            let device = snap.device(i.device);
            let dev = *dev_ix.entry(i.device).or_insert_with(|| {
                devices.push(Dev {
                    id: i.device,
                    insts: 0..0,
                    uncovered: 0,
                    cores: device.and_then(|d| d.cores),
                    sockets: device.and_then(|d| d.sockets),
                    partial: None,
                });
                devices.len() as u32 - 1
            });
            let key = match i.user.or_else(|| device.and_then(|d| d.primary_user)) {
                Some(u) => Consumer::User(u),
                None => Consumer::Unattributed {
                    device: i.device,
                    line: i.line,
                },
            };
            let push = |users: &mut Vec<Usr>| {
                users.push(Usr {
                    key,
                    insts: 0..0,
                    uncovered: 0,
                });
                users.len() as u32 - 1
            };
            let user = match key {
                Consumer::User(u) => *user_ix.entry(u).or_insert_with(|| push(&mut users)),
                _ => push(&mut users),
            };
            insts.push(Inst {
                dev,
                user,
                covered: false,
            });
        }
        let by_device = group(
            &insts,
            devices.len(),
            |i| i.dev,
            |d, r| {
                devices[d].uncovered = r.len() as u32;
                devices[d].insts = r;
            },
        );
        let by_user = group(
            &insts,
            users.len(),
            |i| i.user,
            |u, r| {
                users[u].uncovered = r.len() as u32;
                users[u].insts = r;
            },
        );
        Work {
            product,
            insts,
            devices,
            users,
            by_device,
            by_user,
            device_order: None,
            licensed: HashMap::new(),
            user_order: None,
            log: None,
        }
    }

    fn record(
        &mut self,
        consumer: Consumer,
        entitlement: Option<usize>,
        metric: Metric,
        units: u64,
        unknown: bool,
        basis: Basis,
    ) {
        // Profile pools count thousandths of a licence; people read licences.
        let milli = metric.is_profile().then_some(units);
        let units = milli.map_or(units, |m| m.div_ceil(MILLI));
        if let Some(log) = &mut self.log {
            log.push(Cover {
                product: self.product,
                consumer,
                entitlement,
                metric,
                units,
                milli,
                working: None,
                unknown,
                basis,
            });
        }
    }

    /// Adds a metric profile's arithmetic to the cover just recorded.
    fn explained(&mut self, working: Option<String>) {
        if let Some(c) = self.log.as_mut().and_then(|l| l.last_mut()) {
            c.working = working;
        }
    }

    /// Under a metric profile, how covering device `d` is worked out; only
    /// when explaining, and before [`Work::license`] marks its hosts.
    fn working(&self, env: &Env, d: usize, metric: Metric) -> Option<String> {
        self.log.as_ref()?;
        let profile = env.profiles.get(metric)?;
        let done = self.licensed.get(&metric);
        Some(
            profile.explain(env.snap, &env.clusters, self.devices[d].id, |h| {
                done.is_some_and(|s| s.contains(&h))
            }),
        )
    }

    /// Covers, at no cost, every device in an exempt environment.
    fn exempt(&mut self, snap: &Snapshot, exemptions: &[(Sym, usize)]) {
        if exemptions.is_empty() {
            return;
        }
        for d in 0..self.devices.len() {
            let id = self.devices[d].id;
            let Some(env) = snap.device(id).and_then(|d| d.environment) else {
                continue;
            };
            let Some(&(_, e)) = exemptions.iter().find(|(x, _)| *x == env) else {
                continue;
            };
            self.cover_device(d);
            let metric = snap.entitlements[e].metric;
            self.record(
                Consumer::Device(id),
                Some(e),
                metric,
                0,
                false,
                Basis::Exempt { environment: env },
            );
        }
    }

    fn cover_device(&mut self, d: usize) {
        let r = self.devices[d].insts.clone();
        for &i in &self.by_device[r.start as usize..r.end as usize] {
            let inst = &mut self.insts[i as usize];
            if !inst.covered {
                inst.covered = true;
                self.users[inst.user as usize].uncovered -= 1;
            }
        }
        self.devices[d].uncovered = 0;
        self.devices[d].partial = None;
    }

    fn cover_user(&mut self, u: usize) {
        let r = self.users[u].insts.clone();
        for &i in &self.by_user[r.start as usize..r.end as usize] {
            let inst = &mut self.insts[i as usize];
            if !inst.covered {
                inst.covered = true;
                self.devices[inst.dev as usize].uncovered -= 1;
            }
        }
        self.users[u].uncovered = 0;
    }

    /// What covering a device costs in `metric`, for this product: 1 for
    /// `device` and `site`, its cores or sockets, or under a metric profile
    /// the thousandths of a licence of every device that licenses it (a
    /// VM's host, or the host's cluster) not yet licensed for the product;
    /// and whether a size was unknown (counted as 0).
    fn cost(&self, env: &Env, d: usize, metric: Metric) -> (u64, bool) {
        let dev = &self.devices[d];
        match metric {
            Metric::Core => (dev.cores.unwrap_or(0), dev.cores.is_none()),
            Metric::Processor => (dev.sockets.unwrap_or(0), dev.sockets.is_none()),
            m if m.is_profile() => {
                let Some(profile) = env.profiles.get(m) else {
                    return (0, true);
                };
                let done = self.licensed.get(&m);
                let mut total = 0u64;
                let mut unknown = false;
                for &h in profile.licensed(env.snap, &env.clusters, dev.id).as_slice() {
                    if done.is_some_and(|s| s.contains(&h)) {
                        continue;
                    }
                    let u = profile.units(env.snap, h);
                    total = total.saturating_add(u.milli);
                    unknown |= u.unknown;
                }
                (total, unknown)
            }
            _ => (1, false),
        }
    }

    /// Records that covering device `d` licensed its hosts under `metric`.
    fn license(&mut self, env: &Env, d: usize, metric: Metric) {
        if let Some(profile) = env.profiles.get(metric) {
            let hosts = profile.licensed(env.snap, &env.clusters, self.devices[d].id);
            self.licensed
                .entry(metric)
                .or_default()
                .extend(hosts.as_slice());
        }
    }

    fn devices_in_id_order(&mut self, snap: &Snapshot) -> Vec<u32> {
        let devices = &self.devices;
        self.device_order
            .get_or_insert_with(|| {
                let mut v: Vec<u32> = (0..devices.len() as u32).collect();
                v.sort_by(|&a, &b| {
                    snap.str(devices[a as usize].id)
                        .cmp(snap.str(devices[b as usize].id))
                });
                v
            })
            .clone()
    }

    fn users_in_id_order(&mut self, snap: &Snapshot) -> Vec<u32> {
        let users = &self.users;
        self.user_order
            .get_or_insert_with(|| {
                let mut v: Vec<u32> = (0..users.len() as u32).collect();
                v.sort_by_cached_key(|&u| user_key(snap, users[u as usize].key));
                v
            })
            .clone()
    }

    /// Covers what it can of the uncovered consumers from `pool`.
    fn fill(&mut self, env: &Env, pool: &mut Pool, basis: Basis) {
        if env.per_user(pool.metric) {
            self.fill_users(env.snap, pool, basis);
        } else {
            self.fill_devices(env, pool, basis);
        }
    }

    fn fill_devices(&mut self, env: &Env, pool: &mut Pool, basis: Basis) {
        let snap = env.snap;
        let metric = pool.metric;
        let eligible = |d: &Dev| d.uncovered > 0 && d.partial.is_none_or(|p| p.metric == metric);
        let cost = |w: &Work, pool: &Pool, d: usize| -> (u64, bool, bool) {
            let dev = &w.devices[d];
            if pool.devices.as_ref().is_some_and(|s| s.contains(&dev.id)) {
                return (0, false, true);
            }
            if let Some(p) = dev.partial {
                return (p.remaining, false, false);
            }
            let (n, unknown) = w.cost(env, d, metric);
            (n, unknown, false)
        };
        let demand: u64 = (0..self.devices.len())
            .filter(|&d| eligible(&self.devices[d]))
            .map(|d| cost(self, pool, d).0)
            .fold(0, u64::saturating_add);
        let order: Vec<u32> = if demand <= pool.room() {
            (0..self.devices.len() as u32).collect()
        } else {
            self.devices_in_id_order(snap)
        };
        for d in order {
            let d = d as usize;
            if !eligible(&self.devices[d]) {
                continue;
            }
            let (units, unknown, shared) = cost(self, pool, d);
            let room = pool.room();
            let id = self.devices[d].id;
            let consumer = Consumer::Device(id);
            let basis = if shared { Basis::Shared } else { basis };
            let working = if shared {
                None
            } else {
                self.working(env, d, metric)
            };
            if units <= room {
                self.cover_device(d);
                self.license(env, d, metric);
                pool.used += units;
                pool.unknown_capacity += u64::from(unknown);
                if let Some(s) = &mut pool.devices {
                    s.insert(id);
                }
                self.record(
                    consumer,
                    Some(pool.entitlement),
                    metric,
                    units,
                    unknown,
                    basis,
                );
                self.explained(working);
            } else if room > 0
                && (matches!(metric, Metric::Core | Metric::Processor) || metric.is_profile())
            {
                pool.used += room;
                self.license(env, d, metric);
                self.devices[d].partial = Some(Partial {
                    metric,
                    remaining: units - room,
                    entitlement: pool.entitlement,
                });
                self.record(consumer, Some(pool.entitlement), metric, room, false, basis);
                self.explained(working.map(|w| {
                    format!(
                        "{} of {} fit; {w}",
                        profile::licences(room),
                        profile::licences(units)
                    )
                }));
            }
        }
    }

    fn fill_users(&mut self, snap: &Snapshot, pool: &mut Pool, basis: Basis) {
        // A user profile's pool counts thousandths of a licence.
        let one = if pool.metric.is_profile() { MILLI } else { 1 };
        let cost = |w: &Work, pool: &Pool, u: usize| -> u64 {
            let key = w.users[u].key;
            one * u64::from(!pool.users.as_ref().is_some_and(|s| s.contains(&key)))
        };
        let demand: u64 = (0..self.users.len())
            .filter(|&u| self.users[u].uncovered > 0)
            .map(|u| cost(self, pool, u))
            .sum();
        let order: Vec<u32> = if demand <= pool.room() {
            (0..self.users.len() as u32).collect()
        } else {
            self.users_in_id_order(snap)
        };
        for u in order {
            let u = u as usize;
            if self.users[u].uncovered == 0 {
                continue;
            }
            let units = cost(self, pool, u);
            if units > pool.room() {
                continue;
            }
            let key = self.users[u].key;
            let unattributed = matches!(key, Consumer::Unattributed { .. });
            self.cover_user(u);
            pool.used += units;
            pool.unattributed += u64::from(unattributed && units > 0);
            if let Some(s) = &mut pool.users {
                s.insert(key);
            }
            let basis = if units == 0 { Basis::Shared } else { basis };
            let metric = if pool.metric.is_profile() {
                pool.metric
            } else {
                Metric::User
            };
            self.record(
                key,
                Some(pool.entitlement),
                metric,
                units,
                unattributed,
                basis,
            );
        }
    }

    /// Charges every consumer still uncovered (devices split across
    /// capacity pools aside) in `metric` to `sink`; returns the units.
    fn charge(&mut self, env: &Env, metric: Metric, sink: &mut Sink) -> u64 {
        let mut total = 0u64;
        let entitlement = sink.entitlement();
        if env.per_user(metric) {
            for u in 0..self.users.len() {
                if self.users[u].uncovered == 0 {
                    continue;
                }
                // Skip users whose every uncovered installation is on a
                // device split across capacity pools: those are charged in
                // that metric.
                let r = self.users[u].insts.clone();
                let only_partial =
                    self.by_user[r.start as usize..r.end as usize]
                        .iter()
                        .all(|&i| {
                            let inst = self.insts[i as usize];
                            inst.covered || self.devices[inst.dev as usize].partial.is_some()
                        });
                if only_partial {
                    continue;
                }
                let key = self.users[u].key;
                let unattributed = matches!(key, Consumer::Unattributed { .. });
                let one = if metric.is_profile() { MILLI } else { 1 };
                sink.add(one, false, unattributed);
                total += one;
                self.record(
                    key,
                    entitlement,
                    metric,
                    one,
                    unattributed,
                    Basis::Shortfall,
                );
                self.cover_user(u);
            }
            return total;
        }
        for d in 0..self.devices.len() {
            if self.devices[d].uncovered == 0 || self.devices[d].partial.is_some() {
                continue;
            }
            let (units, unknown) = self.cost(env, d, metric);
            let working = self.working(env, d, metric);
            self.license(env, d, metric);
            sink.add(units, unknown, false);
            total = total.saturating_add(units);
            let id = self.devices[d].id;
            self.record(
                Consumer::Device(id),
                entitlement,
                metric,
                units,
                unknown,
                Basis::Shortfall,
            );
            self.explained(working);
            self.cover_device(d);
        }
        total
    }

    /// Charges the rest of each device split across capacity pools to the
    /// pool that took its first part, if it is one of `pools`.
    fn charge_partials(&mut self, pools: &mut [Pool]) -> u64 {
        let mut total = 0u64;
        for d in 0..self.devices.len() {
            let Some(p) = self.devices[d].partial else {
                continue;
            };
            if self.devices[d].uncovered == 0 {
                continue;
            }
            if let Some(pool) = pools.iter_mut().find(|x| x.entitlement == p.entitlement) {
                pool.used = pool.used.saturating_add(p.remaining);
            }
            total = total.saturating_add(p.remaining);
            let id = self.devices[d].id;
            self.record(
                Consumer::Device(id),
                Some(p.entitlement),
                p.metric,
                p.remaining,
                false,
                Basis::Shortfall,
            );
            self.cover_device(d);
        }
        total
    }
}

/// Sorts installation indices by `key` (a counting sort), and hands each
/// group's range to `range`.
fn group(
    insts: &[Inst],
    groups: usize,
    key: impl Fn(&Inst) -> u32,
    mut range: impl FnMut(usize, std::ops::Range<u32>),
) -> Vec<u32> {
    let mut start = vec![0u32; groups + 1];
    for i in insts {
        start[key(i) as usize + 1] += 1;
    }
    for g in 0..groups {
        start[g + 1] += start[g];
    }
    let mut next = start.clone();
    let mut out = vec![0u32; insts.len()];
    for (n, i) in insts.iter().enumerate() {
        let g = key(i) as usize;
        out[next[g] as usize] = n as u32;
        next[g] += 1;
    }
    for g in 0..groups {
        range(g, start[g]..start[g + 1]);
    }
    out
}

/// Users in id order; installations with no user after them, by device
/// id and line.
fn user_key(snap: &Snapshot, c: Consumer) -> (u8, String, u32) {
    match c {
        Consumer::User(u) => (0, snap.str(u).to_string(), 0),
        Consumer::Device(d) => (1, snap.str(d).to_string(), 0),
        Consumer::Unattributed { device, line } => (2, snap.str(device).to_string(), line),
    }
}
