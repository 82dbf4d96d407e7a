//! The host API: what scripts can read and call.
//!
//! Scripts see the snapshot read-only through an [`Inventory`] handle. Small
//! collections become Rhai maps on first use and are cached; the large ones
//! (devices, installations) are only materialised if a script asks for the
//! whole collection. The fast path is aggregates computed in Rust: licence
//! positions, counts of installations by product (as of the evaluation
//! date, or by install date range), the licences that can cover a product,
//! unlisted and stale devices. Policy authors find every function in
//! `docs/policy-api.md`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use hashbrown::DefaultHashBuilder;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map};

use crate::date::Date;
use crate::engine::Severity;
use crate::inventory::allocate::licences_for;
use crate::inventory::model::*;
use crate::inventory::position::{consuming_installations, Position};
use crate::inventory::profile::Profiles;
use crate::inventory::reclaim;
use crate::waivers::{Waiver, WaiverSet};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// Every key of every map the host hands to scripts (records, positions,
/// waivers, the finding as hooks see it). `trueup lint` reads a property
/// outside this list, and outside the script's own map literals, as a typo.
pub const MAP_KEYS: &[&str] = &[
    // records
    "id",
    "name",
    "publisher",
    "risk_tier",
    "covers",
    "line",
    "start",
    "end",
    "status",
    "terminated_on",
    "true_up",
    "audit_notice_days",
    "exempt_environments",
    "valid",
    "contract",
    "product",
    "metric",
    "quantity",
    "maintenance_end",
    "perpetual",
    "priority",
    "environment",
    "cores",
    "sockets",
    "virtual_host",
    "primary_user",
    "last_seen",
    "active",
    "device",
    "version",
    "installed_on",
    "removed_on",
    "user",
    "discovered_by",
    "device_listed",
    "period",
    "peak_concurrent",
    "active_users",
    "taken_at",
    "sources",
    // positions and aggregates
    "product_name",
    "listed",
    "entitled",
    "unlimited",
    "consumed",
    "shortfall",
    "surplus",
    "utilization",
    "incomplete",
    "stale",
    "unknown_capacity",
    "pack",
    "unattributed",
    "installations",
    "products",
    "first_installed",
    "devices",
    "users",
    "days_since",
    // waivers
    "rule",
    "subject",
    "reason",
    "approved_by",
    "ticket",
    "expires",
    // findings as hooks see them
    "kind",
    "severity",
    "message",
    "evidence",
    "opened",
    "audit_clause",
    "remediation",
];

/// The snapshot as a script sees it, on one as-of date.
#[derive(Clone)]
pub struct Inventory(Arc<Inner>);

struct Inner {
    snap: Arc<Snapshot>,
    as_of: Date,
    positions: Arc<Vec<Position>>,
    waivers: Option<Arc<WaiverSet>>,
    profiles: Arc<Profiles>,
    cache: Cache,
}

#[derive(Default)]
struct Cache {
    products: OnceLock<Array>,
    contracts: OnceLock<Array>,
    entitlements: OnceLock<Array>,
    devices: OnceLock<Array>,
    users: OnceLock<Array>,
    installations: OnceLock<Array>,
    usage: OnceLock<Array>,
    positions: OnceLock<Array>,
    unlisted_devices: OnceLock<Array>,
    /// Rows with a surplus, by the product's publisher and the metric.
    surplus: OnceLock<HashMap<(Sym, Metric), Vec<usize>, DefaultHashBuilder>>,
    /// Each product's rows (rows are sorted by product).
    rows_of: OnceLock<SymMap<std::ops::Range<usize>>>,
    /// Each cluster's hosts, for metric profiles.
    clusters: OnceLock<SymMap<Vec<Sym>>>,
}

impl Inventory {
    pub fn new(
        snap: Arc<Snapshot>,
        as_of: Date,
        positions: Arc<Vec<Position>>,
        waivers: Option<Arc<WaiverSet>>,
        profiles: Arc<Profiles>,
    ) -> Self {
        Inventory(Arc::new(Inner {
            snap,
            as_of,
            positions,
            waivers,
            profiles,
            cache: Cache::default(),
        }))
    }

    /// `unsized_devices(product, metric)`: the devices whose unrecorded
    /// cores or sockets make the product's `metric` row a lower bound
    /// (under a metric profile, the hosts a VM pulls in), as `#{ cores,
    /// sockets }`, each a sorted array of ids.
    fn unsized_devices(&self, product: &str, metric: &str) -> Map {
        let snap = &self.0.snap;
        let mut cores: Vec<Sym> = Vec::new();
        let mut sockets: Vec<Sym> = Vec::new();
        if let (Some(p), Some(metric)) = (self.lookup(product), Metric::known(metric)) {
            let profile = self.0.profiles.get(metric);
            let clusters = self
                .0
                .cache
                .clusters
                .get_or_init(|| crate::inventory::profile::clusters(snap));
            let mut seen: hashbrown::HashSet<Sym> = hashbrown::HashSet::new();
            for i in consuming_installations(snap, p, self.0.as_of) {
                if !seen.insert(i.device) {
                    continue;
                }
                let size = |d: Sym| {
                    snap.device(d)
                        .map_or((None, None), |d| (d.cores, d.sockets))
                };
                match (metric, profile) {
                    (Metric::Core, _) if size(i.device).0.is_none() => cores.push(i.device),
                    (Metric::Processor, _) if size(i.device).1.is_none() => sockets.push(i.device),
                    (_, Some(profile)) => {
                        for &h in profile.licensed(snap, clusters, i.device).as_slice() {
                            let (c, s) = profile.missing(snap, h);
                            if c {
                                cores.push(h);
                            }
                            if s {
                                sockets.push(h);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut out = Map::new();
        for (key, mut ids) in [("cores", cores), ("sockets", sockets)] {
            ids.sort_by(|a, b| snap.str(*a).cmp(snap.str(*b)));
            ids.dedup();
            out.insert(
                key.into(),
                ids.into_iter()
                    .map(|d| self.text(d))
                    .collect::<Array>()
                    .into(),
            );
        }
        out
    }

    fn waiver_map(&self, w: &Waiver) -> Map {
        let mut m = Map::new();
        let text = |s: &str| Dynamic::from(ImmutableString::from(s));
        m.insert("rule".into(), text(&w.rule));
        m.insert("subject".into(), text(&w.subject));
        m.insert("reason".into(), text(&w.reason));
        m.insert("approved_by".into(), text(&w.approved_by));
        m.insert(
            "ticket".into(),
            w.ticket.as_deref().map_or(Dynamic::UNIT, text),
        );
        m.insert("expires".into(), Dynamic::from(w.expires));
        m.insert("active".into(), Dynamic::from(w.active_on(self.0.as_of)));
        m.insert("line".into(), Dynamic::from(i64::from(w.line)));
        m
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.0.snap
    }

    pub fn as_of(&self) -> Date {
        self.0.as_of
    }

    fn text(&self, sym: Sym) -> Dynamic {
        Dynamic::from(ImmutableString::from(self.0.snap.str(sym)))
    }

    fn opt_text(&self, sym: Option<Sym>) -> Dynamic {
        sym.map_or(Dynamic::UNIT, |s| self.text(s))
    }

    fn cached(&self, cell: &OnceLock<Array>, build: impl FnOnce() -> Array) -> Array {
        cell.get_or_init(build).clone()
    }

    /// Every position row as a script map, built once per evaluation.
    fn position_maps(&self) -> &Array {
        self.0
            .cache
            .positions
            .get_or_init(|| maps(&self.0.positions, |p| self.position_map(p)))
    }

    /// Copies of the maps of the rows at `rows`: hooks ask for a few rows
    /// per finding, and copying a map costs far less than building it.
    fn position_rows(&self, rows: impl IntoIterator<Item = usize>) -> Array {
        let maps = self.position_maps();
        rows.into_iter().map(|i| maps[i].clone()).collect()
    }

    /// The rows of `product`.
    fn rows_of(&self, product: Sym) -> std::ops::Range<usize> {
        let index = self.0.cache.rows_of.get_or_init(|| {
            let mut index = SymMap::default();
            for (i, p) in self.0.positions.iter().enumerate() {
                index.entry(p.product).or_insert(i..i).end = i + 1;
            }
            index
        });
        index.get(&product).cloned().unwrap_or(0..0)
    }

    /// Rows with a surplus of `metric` at products of `publisher`.
    fn surplus_rows(&self, publisher: Sym, metric: Metric) -> &[usize] {
        let index = self.0.cache.surplus.get_or_init(|| {
            let snap = &self.0.snap;
            let mut index: HashMap<(Sym, Metric), Vec<usize>, DefaultHashBuilder> =
                HashMap::default();
            for (i, p) in self.0.positions.iter().enumerate() {
                let publisher = snap.product(p.product).and_then(|pr| pr.publisher);
                if let (Some(publisher), Some(1..)) = (publisher, p.surplus) {
                    index.entry((publisher, p.metric)).or_default().push(i);
                }
            }
            index
        });
        index.get(&(publisher, metric)).map_or(&[], Vec::as_slice)
    }

    /// The Rhai map of a product.
    pub fn product_map(&self, p: &Product) -> Map {
        let mut m = Map::new();
        m.insert("id".into(), self.text(p.id));
        m.insert(
            "name".into(),
            Dynamic::from(ImmutableString::from(p.name.as_str())),
        );
        m.insert("publisher".into(), self.opt_text(p.publisher));
        m.insert(
            "risk_tier".into(),
            Dynamic::from(ImmutableString::from(p.risk_tier.as_str())),
        );
        let covers: Array = p.covers.iter().map(|c| self.text(*c)).collect();
        m.insert("covers".into(), Dynamic::from(covers));
        m.insert("line".into(), Dynamic::from(i64::from(p.line)));
        m
    }

    fn contract_map(&self, c: &Contract) -> Map {
        let mut m = Map::new();
        m.insert("id".into(), self.text(c.id));
        m.insert("publisher".into(), self.opt_text(c.publisher));
        m.insert("start".into(), opt_date(c.start));
        m.insert("end".into(), opt_date(c.end));
        m.insert(
            "status".into(),
            Dynamic::from(ImmutableString::from(c.status.as_str())),
        );
        m.insert("terminated_on".into(), opt_date(c.terminated_on));
        m.insert("true_up".into(), opt_date(c.true_up));
        m.insert(
            "audit_notice_days".into(),
            c.audit_notice_days.map_or(Dynamic::UNIT, int),
        );
        let envs: Array = c
            .exempt_environments
            .iter()
            .map(|e| self.text(*e))
            .collect();
        m.insert("exempt_environments".into(), Dynamic::from(envs));
        m.insert("valid".into(), Dynamic::from(c.valid_on(self.0.as_of)));
        m.insert("line".into(), Dynamic::from(i64::from(c.line)));
        m
    }

    fn entitlement_map(&self, e: &Entitlement) -> Map {
        let snap = &self.0.snap;
        let mut m = Map::new();
        m.insert("id".into(), self.text(e.id));
        m.insert("contract".into(), self.text(e.contract));
        m.insert("product".into(), self.text(e.product));
        m.insert(
            "metric".into(),
            Dynamic::from(ImmutableString::from(e.metric.as_str())),
        );
        m.insert("quantity".into(), int(e.quantity));
        m.insert("start".into(), opt_date(e.start));
        m.insert("end".into(), opt_date(e.end));
        m.insert("maintenance_end".into(), opt_date(e.maintenance_end));
        m.insert("perpetual".into(), Dynamic::from(e.perpetual));
        m.insert("priority".into(), e.priority.map_or(Dynamic::UNIT, int));
        m.insert(
            "valid".into(),
            Dynamic::from(snap.entitlement_valid(e, self.0.as_of)),
        );
        m.insert("line".into(), Dynamic::from(i64::from(e.line)));
        m
    }

    fn device_map(&self, d: &Device) -> Map {
        let mut m = Map::new();
        m.insert("id".into(), self.text(d.id));
        m.insert("environment".into(), self.opt_text(d.environment));
        m.insert("cores".into(), d.cores.map_or(Dynamic::UNIT, int));
        m.insert("sockets".into(), d.sockets.map_or(Dynamic::UNIT, int));
        m.insert("virtual_host".into(), self.opt_text(d.virtual_host));
        m.insert("primary_user".into(), self.opt_text(d.primary_user));
        m.insert("last_seen".into(), opt_date(d.last_seen));
        m.insert("line".into(), Dynamic::from(i64::from(d.line)));
        m
    }

    fn user_map(&self, u: &User) -> Map {
        let mut m = Map::new();
        m.insert("id".into(), self.text(u.id));
        m.insert("active".into(), Dynamic::from(u.active));
        m.insert("line".into(), Dynamic::from(i64::from(u.line)));
        m
    }

    fn installation_map(&self, i: &Installation) -> Map {
        let mut m = Map::new();
        m.insert("device".into(), self.text(i.device));
        m.insert("product".into(), self.text(i.product));
        m.insert("version".into(), self.opt_text(i.version));
        m.insert("installed_on".into(), opt_date(i.installed_on));
        m.insert("removed_on".into(), opt_date(i.removed_on));
        m.insert("user".into(), self.opt_text(i.user));
        m.insert("discovered_by".into(), self.opt_text(i.discovered_by));
        m.insert(
            "device_listed".into(),
            Dynamic::from(self.0.snap.device(i.device).is_some()),
        );
        m.insert("line".into(), Dynamic::from(i64::from(i.line)));
        m
    }

    fn usage_map(&self, u: &Usage) -> Map {
        let mut m = Map::new();
        m.insert("product".into(), self.text(u.product));
        m.insert(
            "period".into(),
            Dynamic::from(ImmutableString::from(u.period.as_str())),
        );
        m.insert(
            "peak_concurrent".into(),
            u.peak_concurrent.map_or(Dynamic::UNIT, int),
        );
        m.insert(
            "active_users".into(),
            u.active_users.map_or(Dynamic::UNIT, int),
        );
        m.insert("line".into(), Dynamic::from(i64::from(u.line)));
        m
    }

    /// The Rhai map of a licence position row.
    pub fn position_map(&self, p: &Position) -> Map {
        let snap = &self.0.snap;
        let product = snap.product(p.product);
        let mut m = Map::new();
        m.insert("product".into(), self.text(p.product));
        m.insert(
            "product_name".into(),
            match product {
                Some(pr) => Dynamic::from(ImmutableString::from(pr.name.as_str())),
                None => self.text(p.product),
            },
        );
        m.insert("listed".into(), Dynamic::from(product.is_some()));
        m.insert(
            "publisher".into(),
            self.opt_text(product.and_then(|p| p.publisher)),
        );
        m.insert(
            "risk_tier".into(),
            Dynamic::from(ImmutableString::from(
                // Products missing from the catalogue are treated as high risk.
                product.map_or(RiskTier::High, |p| p.risk_tier).as_str(),
            )),
        );
        m.insert(
            "metric".into(),
            Dynamic::from(ImmutableString::from(p.metric.as_str())),
        );
        m.insert("entitled".into(), p.entitled.map_or(Dynamic::UNIT, int));
        m.insert("unlimited".into(), Dynamic::from(p.entitled.is_none()));
        m.insert("consumed".into(), int(p.consumed));
        m.insert("shortfall".into(), int(p.shortfall));
        m.insert("surplus".into(), p.surplus.map_or(Dynamic::UNIT, int));
        m.insert(
            "utilization".into(),
            p.utilization.map_or(Dynamic::UNIT, Dynamic::from_float),
        );
        m.insert("incomplete".into(), Dynamic::from(p.incomplete));
        m.insert("stale".into(), Dynamic::from(p.stale));
        m.insert("unknown_capacity".into(), int(p.unknown_capacity));
        // Licences of a metric profile may be sold in packs.
        let pack = self.0.profiles.get(p.metric).map_or(1, |pr| pr.pack);
        m.insert("pack".into(), int(pack));
        m.insert("unattributed".into(), int(p.unattributed));
        m
    }

    /// The installations of `product` that exist on the as-of date.
    fn existing_installations(&self, product: Sym) -> impl Iterator<Item = &Installation> {
        let as_of = self.0.as_of;
        self.0
            .snap
            .installations_of(product)
            .iter()
            .filter(move |i| i.exists_on(as_of))
    }

    /// The entitlements valid on the as-of date that can license `product`:
    /// its own, then those of each product whose `covers` lists it, in that
    /// product's id order; each product's in file order.
    fn lookup(&self, id: &str) -> Option<Sym> {
        self.0.snap.sym(id)
    }

    fn unlisted_devices(&self) -> Array {
        let snap = &self.0.snap;
        // Per unlisted device: its products, installation count, first install date, first line.
        type Seen = (Vec<Sym>, i64, Option<Date>, u32);
        let mut by_device: std::collections::BTreeMap<&str, Seen> =
            std::collections::BTreeMap::new();
        for i in &snap.installations {
            if snap.device(i.device).is_some() || !i.exists_on(self.0.as_of) {
                continue;
            }
            let e = by_device
                .entry(snap.str(i.device))
                .or_insert((Vec::new(), 0, None, u32::MAX));
            if !e.0.contains(&i.product) {
                e.0.push(i.product);
            }
            e.1 += 1;
            e.2 = match (e.2, i.installed_on) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            e.3 = e.3.min(i.line);
        }
        by_device
            .into_iter()
            .map(|(id, (products, count, first, line))| {
                let mut names: Vec<&str> = products.iter().map(|p| snap.str(*p)).collect();
                names.sort_unstable();
                let mut m = Map::new();
                m.insert("id".into(), Dynamic::from(ImmutableString::from(id)));
                m.insert("installations".into(), Dynamic::from(count));
                m.insert("products".into(), texts(names));
                m.insert("risk_tier".into(), riskiest(snap, &products));
                m.insert("first_installed".into(), opt_date(first));
                m.insert("line".into(), Dynamic::from(i64::from(line)));
                Dynamic::from(m)
            })
            .collect()
    }

    /// Listed devices whose `last_seen` falls more than `days` days before
    /// the as-of date, sorted by id, each with what is installed on it on
    /// that date. Devices without `last_seen` are never stale: nobody said
    /// when they were last seen, which is not the same as long ago.
    fn stale_devices(&self, days: i64) -> Fallible<Array> {
        if days < 0 {
            return Err(format!("`stale_devices({days})`: days must be 0 or more").into());
        }
        let snap = &self.0.snap;
        let as_of = self.0.as_of;
        let mut stale: SymMap<Stale> = SymMap::default();
        for d in &snap.devices {
            let old = d
                .last_seen
                .is_some_and(|seen| seen.days_until(as_of) > days);
            // A repeated id is the first device of that id, as lookups by id are.
            if old
                && snap
                    .device(d.id)
                    .is_some_and(|first| std::ptr::eq(first, d))
            {
                stale.insert(d.id, (d, Vec::new(), 0));
            }
        }
        if !stale.is_empty() {
            for i in &snap.installations {
                let Some(e) = stale.get_mut(&i.device) else {
                    continue;
                };
                if !i.exists_on(as_of) {
                    continue;
                }
                if !e.1.contains(&i.product) {
                    e.1.push(i.product);
                }
                e.2 += 1;
            }
        }
        let mut rows: Vec<(&str, Stale)> = stale
            .into_iter()
            .map(|(id, row)| (snap.str(id), row))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Ok(rows
            .into_iter()
            .map(|(id, (d, products, count))| {
                let mut names: Vec<&str> = products.iter().map(|p| snap.str(*p)).collect();
                names.sort_unstable();
                let seen = d.last_seen.expect("only devices with last_seen are stale");
                let mut m = Map::new();
                m.insert("id".into(), Dynamic::from(ImmutableString::from(id)));
                m.insert("last_seen".into(), Dynamic::from(seen));
                m.insert("days_since".into(), Dynamic::from(seen.days_until(as_of)));
                m.insert("installations".into(), Dynamic::from(count));
                m.insert("products".into(), texts(names));
                m.insert("risk_tier".into(), riskiest(snap, &products));
                m.insert("line".into(), Dynamic::from(i64::from(d.line)));
                Dynamic::from(m)
            })
            .collect())
    }
}

/// The riskiest tier of `products`, a product the catalogue does not list
/// counting as high: what a device carrying them risks. The default tier
/// of a device with no product is low.
fn riskiest(snap: &Snapshot, products: &[Sym]) -> Dynamic {
    let tier = products
        .iter()
        .map(|&p| snap.product(p).map_or(RiskTier::High, |p| p.risk_tier))
        .max()
        .unwrap_or(RiskTier::Low);
    Dynamic::from(ImmutableString::from(tier.as_str()))
}

/// A stale device, its distinct products and its installation count.
type Stale<'a> = (&'a Device, Vec<Sym>, i64);

/// A count as a script integer: never wrapped into a negative number (Rhai
/// integers are `i64`; a larger count reads as `i64::MAX`).
fn int(n: u64) -> Dynamic {
    Dynamic::from(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A list of texts as a script array.
fn texts<'a>(items: impl IntoIterator<Item = &'a str>) -> Dynamic {
    Dynamic::from(
        items
            .into_iter()
            .map(|n| Dynamic::from(ImmutableString::from(n)))
            .collect::<Array>(),
    )
}

fn opt_date(d: Option<Date>) -> Dynamic {
    d.map_or(Dynamic::UNIT, Dynamic::from)
}

fn maps<T>(items: &[T], f: impl Fn(&T) -> Map) -> Array {
    items.iter().map(|x| Dynamic::from(f(x))).collect()
}

fn or_unit(m: Option<Map>) -> Dynamic {
    m.map_or(Dynamic::UNIT, Dynamic::from)
}

/// Day arithmetic past 0001-01-01 or 9999-12-31 is an error at the script
/// line, never a date that wrapped around.
fn out_of_range(d: Date, op: &str, n: i64) -> Box<EvalAltResult> {
    format!("date out of range: `{d} {op} {n}` is not between 0001-01-01 and 9999-12-31").into()
}

fn bad_date(s: &str) -> Box<EvalAltResult> {
    format!("`{s}` is not a date (YYYY-MM-DD)").into()
}

/// A list of findings that grows in constant time. Rhai checks the size of
/// a whole array after every `push`, so building a plain array of n
/// findings costs n² steps; a `findings()` list is opaque to that check and
/// bounded by its own length limit instead.
#[derive(Clone, Default)]
pub struct FindingList(pub Array);

/// Registers every host type and function on the engine. `max_depth` bounds
/// how deeply a finding's evidence may nest; `max_len` how many findings a
/// `findings()` list may hold.
pub fn register(engine: &mut Engine, max_depth: usize, max_len: usize) {
    register_dates(engine);
    register_inventory(engine);
    engine
        .register_type_with_name::<FindingList>("Findings")
        .register_fn("findings", FindingList::default)
        .register_fn(
            "push",
            move |list: &mut FindingList, f: Map| -> Fallible<()> {
                if list.0.len() >= max_len {
                    return Err(
                        format!("a `findings()` list may hold at most {max_len} findings").into(),
                    );
                }
                list.0.push(Dynamic::from(f));
                Ok(())
            },
        )
        .register_fn("len", |list: &mut FindingList| list.0.len() as i64)
        .register_fn("is_empty", |list: &mut FindingList| list.0.is_empty());
    engine
        .register_fn("finding", move |map: Map| finding(map, max_depth))
        .register_fn("join", |items: Array, sep: &str| {
            items.iter().map(display).collect::<Vec<_>>().join(sep)
        })
        .register_fn("plural", plural);
}

fn register_dates(engine: &mut Engine) {
    engine
        .register_type_with_name::<Date>("Date")
        .register_fn("date", |s: &str| -> Fallible<Date> {
            Date::parse(s).ok_or_else(|| bad_date(s))
        })
        .register_fn("days", |n: i64| n)
        .register_fn("weeks", |n: i64| -> Fallible<i64> {
            n.checked_mul(7)
                .ok_or_else(|| format!("date out of range: `weeks({n})`").into())
        })
        .register_fn("days_between", |a: Date, b: Date| a.days_until(b))
        .register_fn("+", |d: Date, n: i64| -> Fallible<Date> {
            d.checked_add_days(n).ok_or_else(|| out_of_range(d, "+", n))
        })
        .register_fn("-", |d: Date, n: i64| -> Fallible<Date> {
            n.checked_neg()
                .and_then(|m| d.checked_add_days(m))
                .ok_or_else(|| out_of_range(d, "-", n))
        })
        .register_fn("-", |a: Date, b: Date| b.days_until(a))
        .register_fn("==", |a: Date, b: Date| a == b)
        .register_fn("!=", |a: Date, b: Date| a != b)
        .register_fn("<", |a: Date, b: Date| a < b)
        .register_fn("<=", |a: Date, b: Date| a <= b)
        .register_fn(">", |a: Date, b: Date| a > b)
        .register_fn(">=", |a: Date, b: Date| a >= b)
        .register_fn("min", |a: Date, b: Date| a.min(b))
        .register_fn("max", |a: Date, b: Date| a.max(b))
        .register_get("year", |d: &mut Date| i64::from(d.ymd().0))
        .register_get("month", |d: &mut Date| i64::from(d.ymd().1))
        .register_get("day", |d: &mut Date| i64::from(d.ymd().2))
        .register_get("period", |d: &mut Date| d.period())
        .register_fn("to_string", |d: &mut Date| d.to_string())
        .register_fn("to_debug", |d: &mut Date| d.to_string());
}

fn register_inventory(engine: &mut Engine) {
    engine
        .register_type_with_name::<Inventory>("Inventory")
        .register_get("as_of", |inv: &mut Inventory| inv.as_of())
        .register_get("snapshot", |inv: &mut Inventory| {
            let meta = &inv.snapshot().meta;
            let mut m = Map::new();
            m.insert(
                "id".into(),
                Dynamic::from(ImmutableString::from(meta.id.as_str())),
            );
            m.insert("taken_at".into(), Dynamic::from(meta.taken_at));
            let sources: Array = meta
                .sources
                .iter()
                .map(|s| Dynamic::from(ImmutableString::from(s.as_str())))
                .collect();
            m.insert("sources".into(), Dynamic::from(sources));
            m
        })
        .register_get("products", |inv: &mut Inventory| {
            inv.cached(&inv.0.cache.products, || {
                maps(&inv.0.snap.products, |p| inv.product_map(p))
            })
        })
        .register_get("contracts", |inv: &mut Inventory| {
            inv.cached(&inv.0.cache.contracts, || {
                maps(&inv.0.snap.contracts, |c| inv.contract_map(c))
            })
        })
        .register_get("entitlements", |inv: &mut Inventory| {
            inv.cached(&inv.0.cache.entitlements, || {
                maps(&inv.0.snap.entitlements, |e| inv.entitlement_map(e))
            })
        })
        .register_get("devices", |inv: &mut Inventory| {
            inv.cached(&inv.0.cache.devices, || {
                maps(&inv.0.snap.devices, |d| inv.device_map(d))
            })
        })
        .register_get("users", |inv: &mut Inventory| {
            inv.cached(&inv.0.cache.users, || {
                maps(&inv.0.snap.users, |u| inv.user_map(u))
            })
        })
        .register_get("installations", |inv: &mut Inventory| {
            inv.cached(&inv.0.cache.installations, || {
                maps(&inv.0.snap.installations, |i| inv.installation_map(i))
            })
        })
        .register_get("usage", |inv: &mut Inventory| {
            inv.cached(&inv.0.cache.usage, || {
                maps(&inv.0.snap.usage, |u| inv.usage_map(u))
            })
        })
        .register_fn("product", |inv: &mut Inventory, id: &str| {
            or_unit(
                inv.lookup(id)
                    .and_then(|s| inv.0.snap.product(s))
                    .map(|p| inv.product_map(p)),
            )
        })
        .register_fn("contract", |inv: &mut Inventory, id: &str| {
            or_unit(
                inv.lookup(id)
                    .and_then(|s| inv.0.snap.contract(s))
                    .map(|c| inv.contract_map(c)),
            )
        })
        .register_fn("entitlement", |inv: &mut Inventory, id: &str| {
            or_unit(
                inv.lookup(id)
                    .and_then(|s| inv.0.snap.entitlement(s))
                    .map(|e| inv.entitlement_map(e)),
            )
        })
        .register_fn("device", |inv: &mut Inventory, id: &str| {
            or_unit(
                inv.lookup(id)
                    .and_then(|s| inv.0.snap.device(s))
                    .map(|d| inv.device_map(d)),
            )
        })
        .register_fn("user", |inv: &mut Inventory, id: &str| {
            or_unit(
                inv.lookup(id)
                    .and_then(|s| inv.0.snap.user(s))
                    .map(|u| inv.user_map(u)),
            )
        })
        .register_fn("positions", |inv: &mut Inventory| {
            inv.position_maps().clone()
        })
        .register_fn(
            "positions_of",
            |inv: &mut Inventory, product: &str| -> Array {
                let Some(sym) = inv.lookup(product) else {
                    return Array::new();
                };
                inv.position_rows(inv.rows_of(sym))
            },
        )
        .register_fn(
            "surplus",
            |inv: &mut Inventory, publisher: &str, metric: &str| -> Array {
                let (Some(publisher), Some(metric)) =
                    (inv.lookup(publisher), Metric::parse(metric))
                else {
                    return Array::new();
                };
                inv.position_rows(inv.surplus_rows(publisher, metric).iter().copied())
            },
        )
        .register_fn(
            "entitlements_of",
            |inv: &mut Inventory, product: &str| -> Array {
                let Some(sym) = inv.lookup(product) else {
                    return Array::new();
                };
                inv.0
                    .snap
                    .entitlements_of(sym)
                    .map(|e| Dynamic::from(inv.entitlement_map(e)))
                    .collect()
            },
        )
        .register_fn(
            "licences_for",
            |inv: &mut Inventory, product: &str| -> Array {
                let Some(sym) = inv.lookup(product) else {
                    return Array::new();
                };
                licences_for(&inv.0.snap, sym, inv.0.as_of)
                    .into_iter()
                    .map(|e| Dynamic::from(inv.entitlement_map(&inv.0.snap.entitlements[e])))
                    .collect()
            },
        )
        .register_fn(
            "installations_of",
            |inv: &mut Inventory, product: &str| -> Array {
                let Some(sym) = inv.lookup(product) else {
                    return Array::new();
                };
                inv.existing_installations(sym)
                    .map(|i| Dynamic::from(inv.installation_map(i)))
                    .collect()
            },
        )
        .register_fn(
            "installations_of",
            |inv: &mut Inventory, product: &str, from: Date, to: Date| -> Array {
                let Some(sym) = inv.lookup(product) else {
                    return Array::new();
                };
                maps(inv.0.snap.installations_between(sym, from, to), |i| {
                    inv.installation_map(i)
                })
            },
        )
        .register_fn(
            "install_count",
            |inv: &mut Inventory, product: &str| -> i64 {
                inv.lookup(product)
                    .map_or(0, |s| inv.existing_installations(s).count() as i64)
            },
        )
        .register_fn(
            "install_count",
            |inv: &mut Inventory, product: &str, from: Date, to: Date| -> i64 {
                inv.lookup(product).map_or(0, |s| {
                    inv.0.snap.installations_between(s, from, to).len() as i64
                })
            },
        )
        .register_fn(
            "consuming_devices",
            |inv: &mut Inventory, product: &str| -> Array {
                let Some(sym) = inv.lookup(product) else {
                    return Array::new();
                };
                let mut devices: Vec<Sym> = consuming_installations(&inv.0.snap, sym, inv.0.as_of)
                    .into_iter()
                    .map(|i| i.device)
                    .collect();
                devices.sort_by(|a, b| inv.0.snap.str(*a).cmp(inv.0.snap.str(*b)));
                devices.dedup();
                devices.into_iter().map(|d| inv.text(d)).collect()
            },
        )
        .register_fn(
            "unsized_devices",
            |inv: &mut Inventory, product: &str, metric: &str| -> Map {
                inv.unsized_devices(product, metric)
            },
        )
        .register_fn("usage_of", |inv: &mut Inventory, product: &str| -> Array {
            let Some(sym) = inv.lookup(product) else {
                return Array::new();
            };
            maps(inv.0.snap.usage_of(sym), |u| inv.usage_map(u))
        })
        .register_fn("installed_products", |inv: &mut Inventory| -> Array {
            inv.0
                .snap
                .installed_products_on(inv.0.as_of)
                .into_iter()
                .map(|p| inv.text(p))
                .collect()
        })
        .register_fn("waivers", |inv: &mut Inventory| -> Array {
            let Some(set) = &inv.0.waivers else {
                return Array::new();
            };
            set.waivers
                .iter()
                .map(|w| Dynamic::from(inv.waiver_map(w)))
                .collect()
        })
        .register_fn(
            "waivers_matching",
            |inv: &mut Inventory, rule: &str, subject: &str| -> Array {
                let Some(set) = &inv.0.waivers else {
                    return Array::new();
                };
                set.matching(rule, subject)
                    .map(|w| Dynamic::from(inv.waiver_map(w)))
                    .collect()
            },
        )
        .register_fn(
            "idle_devices",
            |inv: &mut Inventory, product: &str| -> Array {
                let Some(sym) = inv.lookup(product) else {
                    return Array::new();
                };
                reclaim::idle_devices(&inv.0.snap, sym, inv.0.as_of)
                    .into_iter()
                    .map(|d| inv.text(d))
                    .collect()
            },
        )
        .register_fn(
            "uninstall_plan",
            |inv: &mut Inventory, product: &str, metric: &str, max_consumed: i64| -> Dynamic {
                let (Some(sym), Some(metric)) = (inv.lookup(product), Metric::parse(metric)) else {
                    return Dynamic::UNIT;
                };
                let max = u64::try_from(max_consumed).unwrap_or(0);
                let Some(plan) = reclaim::uninstall_plan(
                    &inv.0.snap,
                    &inv.0.profiles,
                    inv.0.as_of,
                    sym,
                    metric,
                    max,
                ) else {
                    return Dynamic::UNIT;
                };
                let ids = |v: &[Sym]| -> Array { v.iter().map(|&d| inv.text(d)).collect() };
                let mut m = Map::new();
                m.insert("devices".into(), Dynamic::from(ids(&plan.devices)));
                m.insert("users".into(), Dynamic::from(ids(&plan.users)));
                Dynamic::from(m)
            },
        )
        .register_fn("unlisted_devices", |inv: &mut Inventory| {
            inv.cached(&inv.0.cache.unlisted_devices, || inv.unlisted_devices())
        })
        .register_fn("stale_devices", |inv: &mut Inventory, days: i64| {
            inv.stale_devices(days)
        });
}

const FINDING_KEYS: &[&str] = &["subject", "severity", "message", "evidence"];

/// `finding(#{ subject, severity, message, evidence })`: checks the shape of
/// a finding where the script builds it, so a mistake points at that line.
fn finding(map: Map, max_depth: usize) -> Fallible<Map> {
    validate_finding(&map, max_depth)?;
    Ok(map)
}

/// The checks `finding()` makes; the engine makes them again on whatever
/// `check` returns, so a hand-built map cannot slip past them. Evidence may
/// nest at most `max_depth` deep.
pub fn validate_finding(map: &Map, max_depth: usize) -> Result<(), String> {
    for key in map.keys() {
        if !FINDING_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "finding has unknown key `{key}`; expected {}",
                FINDING_KEYS.join(", ")
            ));
        }
    }
    let subject = map
        .get("subject")
        .and_then(|s| s.read_lock::<Map>().map(|m| m.clone()))
        .ok_or("finding needs `subject: #{ kind, id }`")?;
    for key in ["kind", "id"] {
        let ok = subject
            .get(key)
            .is_some_and(|v| v.is_string() && !v.to_string().is_empty());
        if !ok {
            return Err(format!("finding subject needs a non-empty text `{key}`"));
        }
    }
    let severity = map
        .get("severity")
        .map(|s| s.to_string())
        .unwrap_or_default();
    if Severity::parse(&severity).is_none() {
        return Err(format!(
            "finding severity must be one of {}, found `{severity}`",
            Severity::NAMES.join(", ")
        ));
    }
    if !map.get("message").is_some_and(Dynamic::is_string) {
        return Err("finding needs a text `message`".into());
    }
    if let Some(evidence) = map.get("evidence") {
        if !evidence.is_map() {
            return Err("finding `evidence` must be a map".into());
        }
        if super::sandbox::depth_within(evidence, max_depth).is_none() {
            return Err(format!(
                "finding `evidence` nests deeper than {max_depth} levels"
            ));
        }
    }
    Ok(())
}

/// `plural(3, "entry")` is `3 entries`.
fn plural(n: i64, word: &str) -> String {
    if n == 1 {
        return format!("1 {word}");
    }
    let consonant_y = word.ends_with('y')
        && !word.ends_with("ay")
        && !word.ends_with("ey")
        && !word.ends_with("oy")
        && !word.ends_with("uy");
    if consonant_y {
        format!("{n} {}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        format!("{n} {word}es")
    } else {
        format!("{n} {word}s")
    }
}

/// Text of a script value as messages want it: dates as `YYYY-MM-DD`.
fn display(v: &Dynamic) -> String {
    match v.read_lock::<Date>() {
        Some(d) => d.to_string(),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `script` returns with `inv` bound to `snapshot` as of `as_of`.
    fn eval(snapshot: &str, as_of: &str, script: &str) -> Dynamic {
        let path = std::path::Path::new("case.yaml");
        let snap = crate::inventory::load::parse(path, snapshot).expect("the snapshot loads");
        let as_of = Date::parse(as_of).expect("a date");
        let inv = Inventory::new(
            Arc::new(snap),
            as_of,
            Arc::new(Vec::new()),
            None,
            Default::default(),
        );
        let mut engine = Engine::new();
        register(&mut engine, 32, 1000);
        let mut scope = rhai::Scope::new();
        scope.push("inv", inv);
        engine
            .eval_with_scope::<Dynamic>(&mut scope, script)
            .expect("the script runs")
    }

    const COVERS: &str = "trueup: 1
snapshot: { id: s, taken_at: 2026-11-01 }
products:
  - { id: std }
  - { id: zeta-ent, covers: [std] }
  - { id: alpha-ent, covers: [std] }
  - { id: other }
contracts:
  - { id: ACTIVE, status: active }
  - { id: OVER, end: 2026-06-30, status: expired }
entitlements:
  - { id: Z, contract: ACTIVE, product: zeta-ent, metric: device, quantity: 1 }
  - { id: S-OLD, contract: OVER, product: std, metric: device, quantity: 1 }
  - { id: S-KEPT, contract: OVER, product: std, metric: device, quantity: 1, perpetual: true }
  - { id: A, contract: ACTIVE, product: alpha-ent, metric: core, quantity: 8 }
  - { id: A-OLD, contract: OVER, product: alpha-ent, metric: core, quantity: 8 }
  - { id: S-NEW, contract: ACTIVE, product: std, metric: user, quantity: 5 }
";

    // `licences_for` is what `unlicensed` and `terminated-contract-use`
    // decide by: the product's own valid entitlements in file order, then
    // those of each product that covers it, by that product's id.
    #[test]
    fn licences_for_lists_own_then_covering_valid_entitlements() {
        let ids = |product: &str| {
            let script = format!("inv.licences_for(\"{product}\").map(|e| e.id)");
            let got: Vec<String> = eval(COVERS, "2026-11-01", &script)
                .into_array()
                .expect("an array")
                .iter()
                .map(|d| d.to_string())
                .collect();
            got
        };
        assert_eq!(ids("std"), ["S-KEPT", "S-NEW", "A", "Z"]);
        assert_eq!(ids("alpha-ent"), ["A"]);
        assert_eq!(ids("other"), Vec::<String>::new());
        assert_eq!(ids("no-such-product"), Vec::<String>::new());
    }

    const REMOVED: &str = "trueup: 1
snapshot: { id: s, taken_at: 2026-11-01 }
installations:
  - { device: d1, product: p, installed_on: 2026-01-10, removed_on: 2026-06-01 }
  - { device: d2, product: p, installed_on: 2026-03-01 }
  - { device: d3, product: p }
  - { device: d4, product: p, installed_on: 2026-10-01, removed_on: 2026-11-01 }
  - { device: d5, product: p, installed_on: 2026-12-01 }
";

    // Regression: `install_count(product)` and `installations_of(product)`
    // counted every installation ever recorded, so a product removed
    // everywhere still read as in use (`maintenance-expiring`). d1 and d4
    // are removed by 2026-11-01 (d4 on that very day), d5 not yet there.
    #[test]
    fn install_count_and_installations_of_read_the_as_of_date() {
        let count = |script: &str| {
            eval(REMOVED, "2026-11-01", script)
                .as_int()
                .expect("an integer")
        };
        assert_eq!(count("inv.install_count(\"p\")"), 2);
        assert_eq!(count("inv.installations_of(\"p\").len()"), 2);
        let devices = eval(
            REMOVED,
            "2026-11-01",
            "inv.installations_of(\"p\").map(|i| i.device)",
        );
        assert_eq!(devices.to_string(), r#"["d3", "d2"]"#);
        // The ranged forms stay "installed between": removals do not matter.
        let ranged = "inv.install_count(\"p\", date(\"2026-01-01\"), date(\"2026-12-31\"))";
        assert_eq!(count(ranged), 4);
        assert_eq!(
            eval(REMOVED, "2026-05-31", "inv.install_count(\"p\")").as_int(),
            Ok(3)
        );
    }

    // Regression: counts were handed to scripts with `as i64`, so a sum
    // past i64::MAX read as a negative number.
    #[test]
    fn counts_never_wrap_into_negative_integers() {
        assert_eq!(int(u64::MAX).as_int(), Ok(i64::MAX));
        assert_eq!(int(i64::MAX as u64 + 1).as_int(), Ok(i64::MAX));
        assert_eq!(int(i64::MAX as u64).as_int(), Ok(i64::MAX));
        assert_eq!(int(12).as_int(), Ok(12));
    }

    #[test]
    fn plural_forms() {
        assert_eq!(plural(1, "device"), "1 device");
        assert_eq!(plural(2, "device"), "2 devices");
        assert_eq!(plural(2, "entry"), "2 entries");
        assert_eq!(plural(3, "day"), "3 days");
        assert_eq!(plural(0, "licence"), "0 licences");
        assert_eq!(plural(2, "box"), "2 boxes");
    }
}
