//! The validated snapshot: what was bought, what is deployed, what is used.
//!
//! Ids are interned ([`Sym`]) so a million installations cost a few dozen
//! bytes each and lookups by id are integer hashes. Everything here has been
//! checked by the loader; code that holds a [`Snapshot`] never re-validates.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::num::NonZeroU32;

use hashbrown::{DefaultHashBuilder, HashTable};
use std::path::PathBuf;

use crate::date::Date;

/// An interned string: an id, a version, an environment name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(NonZeroU32);

/// The string table of one snapshot. Each string is stored once, in one
/// buffer; the table holds only symbols, hashed by their text. A
/// million-installation snapshot has some 400,000 distinct ids, so this is
/// tens of megabytes less than a map of boxed strings.
#[derive(Clone, Default)]
pub struct Interner {
    /// Every string's bytes, one after another.
    bytes: String,
    /// Where each string ends in `bytes`: symbol `n` ends at `ends[n - 1]`.
    ends: Vec<usize>,
    table: HashTable<Sym>,
    hasher: DefaultHashBuilder,
}

fn text<'a>(bytes: &'a str, ends: &[usize], sym: Sym) -> &'a str {
    let i = sym.0.get() as usize - 1;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &bytes[start..ends[i]]
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        let Interner {
            bytes,
            ends,
            table,
            hasher,
        } = self;
        let hash = hasher.hash_one(s);
        if let Some(&sym) = table.find(hash, |&sym| text(bytes, ends, sym) == s) {
            return sym;
        }
        bytes.push_str(s);
        ends.push(bytes.len());
        let sym = Sym(NonZeroU32::new(ends.len() as u32).expect("index starts at 1"));
        table.insert_unique(hash, sym, |&sym| hasher.hash_one(text(bytes, ends, sym)));
        sym
    }

    /// The symbol of `s`, if the snapshot mentions it anywhere.
    pub fn get(&self, s: &str) -> Option<Sym> {
        let hash = self.hasher.hash_one(s);
        self.table
            .find(hash, |&sym| self.resolve(sym) == s)
            .copied()
    }

    pub fn resolve(&self, sym: Sym) -> &str {
        text(&self.bytes, &self.ends, sym)
    }

    /// Every string, in the order first interned (symbol 1 first).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (1..=self.ends.len() as u32).map(|n| self.resolve(Sym(NonZeroU32::new(n).expect("from 1"))))
    }

    /// Interns every string of `other` in the order `other` first saw them,
    /// so symbols number as if one interner had seen both in turn; returns
    /// the translation from `other`'s symbols to this interner's.
    pub fn absorb(&mut self, other: &Interner) -> Remap {
        Remap(other.iter().map(|s| self.intern(s)).collect())
    }
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Symbols of one interner translated into another's.
pub struct Remap(Vec<Sym>);

impl Remap {
    pub fn sym(&self, s: Sym) -> Sym {
        self.0[s.0.get() as usize - 1]
    }

    pub fn opt(&self, s: Option<Sym>) -> Option<Sym> {
        s.map(|s| self.sym(s))
    }
}

/// How a product's risk to the organisation is rated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskTier {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskTier {
    pub const NAMES: &'static [&'static str] = &["low", "medium", "high", "critical"];

    pub fn parse(s: &str) -> Option<RiskTier> {
        Some(match s {
            "low" => RiskTier::Low,
            "medium" => RiskTier::Medium,
            "high" => RiskTier::High,
            "critical" => RiskTier::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// What an entitlement counts: a built-in metric, or a metric profile of
/// the playbook (`policies/metrics/*.yaml`) by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    Device,
    User,
    Core,
    Processor,
    Concurrent,
    Subscription,
    Site,
    /// A metric profile, by its name's number in [`profile_names`].
    Profile(u32),
}

/// Every profile name any snapshot or playbook of this process used, each
/// stored once for the life of the process, so that a [`Metric`] stays a
/// small `Copy` value with a `&'static str` name.
fn profile_names() -> &'static std::sync::RwLock<Vec<&'static str>> {
    static NAMES: std::sync::OnceLock<std::sync::RwLock<Vec<&'static str>>> =
        std::sync::OnceLock::new();
    NAMES.get_or_init(Default::default)
}

impl Metric {
    pub const NAMES: &'static [&'static str] = &[
        "device",
        "user",
        "core",
        "processor",
        "concurrent",
        "subscription",
        "site",
    ];

    /// A built-in metric by name.
    pub fn parse(s: &str) -> Option<Metric> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Self::ALL[i])
    }

    /// A built-in metric, or a metric profile some playbook or snapshot
    /// read in this process has named; never registers a new name.
    pub fn known(s: &str) -> Option<Metric> {
        Metric::parse(s).or_else(|| {
            profile_names()
                .read()
                .expect("the profile names are never poisoned")
                .iter()
                .position(|n| *n == s)
                .map(|i| Metric::Profile(i as u32))
        })
    }

    /// The built-in metric of that name, else the metric profile of that
    /// name (whether the playbook defines it is checked where the playbook
    /// is known).
    pub fn named(s: &str) -> Metric {
        if let Some(m) = Metric::parse(s) {
            return m;
        }
        let names = profile_names();
        if let Some(i) = names
            .read()
            .expect("the profile names are never poisoned")
            .iter()
            .position(|n| *n == s)
        {
            return Metric::Profile(i as u32);
        }
        let mut names = names.write().expect("the profile names are never poisoned");
        if let Some(i) = names.iter().position(|n| *n == s) {
            return Metric::Profile(i as u32);
        }
        names.push(Box::leak(s.to_string().into_boxed_str()));
        Metric::Profile(names.len() as u32 - 1)
    }

    /// Whether a text is a well-formed metric name: lowercase letters,
    /// digits and `-`, starting with a letter.
    pub fn well_formed(s: &str) -> bool {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    pub const ALL: [Metric; 7] = [
        Metric::Device,
        Metric::User,
        Metric::Core,
        Metric::Processor,
        Metric::Concurrent,
        Metric::Subscription,
        Metric::Site,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Profile(i) => profile_names()
                .read()
                .expect("the profile names are never poisoned")[i as usize],
            m => Self::NAMES[Self::ALL.iter().position(|x| *x == m).expect("built in")],
        }
    }

    /// Whether it is a metric profile rather than a built-in metric.
    pub fn is_profile(self) -> bool {
        matches!(self, Metric::Profile(_))
    }
}

/// Built-in metrics in their declared order, then profiles by name.
impl Ord for Metric {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |m: &Metric| match m {
            Metric::Profile(_) => (1, 0, m.as_str()),
            _ => (
                0,
                Self::ALL.iter().position(|x| x == m).expect("built in"),
                "",
            ),
        };
        rank(self).cmp(&rank(other))
    }
}

impl PartialOrd for Metric {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A contract's state as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractStatus {
    Active,
    Terminated,
    Expired,
}

impl ContractStatus {
    pub const NAMES: &'static [&'static str] = &["active", "terminated", "expired"];

    pub fn parse(s: &str) -> Option<ContractStatus> {
        Some(match s {
            "active" => ContractStatus::Active,
            "terminated" => ContractStatus::Terminated,
            "expired" => ContractStatus::Expired,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Clone, Debug)]
pub struct Product {
    pub id: Sym,
    pub name: String,
    pub publisher: Option<Sym>,
    pub risk_tier: RiskTier,
    /// Products whose consumers this product's licences may also cover
    /// (edition and downgrade rights), after their own.
    pub covers: Vec<Sym>,
    pub line: u32,
}

#[derive(Clone, Debug)]
pub struct Contract {
    pub id: Sym,
    pub publisher: Option<Sym>,
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub status: ContractStatus,
    pub terminated_on: Option<Date>,
    pub true_up: Option<Date>,
    pub audit_notice_days: Option<u64>,
    pub exempt_environments: Vec<Sym>,
    pub line: u32,
}

impl Contract {
    /// Whether the contract grants rights on `day`: inside its term, and not
    /// terminated (from `terminated_on`) or expired.
    pub fn valid_on(&self, day: Date) -> bool {
        let in_term = self.start.is_none_or(|s| s <= day) && self.end.is_none_or(|e| day <= e);
        in_term
            && match self.status {
                ContractStatus::Active => true,
                ContractStatus::Expired => false,
                ContractStatus::Terminated => self.terminated_on.is_some_and(|t| day < t),
            }
    }
}

#[derive(Clone, Debug)]
pub struct Entitlement {
    pub id: Sym,
    pub contract: Sym,
    /// Index into [`Snapshot::contracts`]; the loader resolved it.
    pub contract_ix: usize,
    pub product: Sym,
    pub metric: Metric,
    pub quantity: u64,
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub maintenance_end: Option<Date>,
    /// The right to use survives the entitlement's `end` and its contract's
    /// end or expiry; `end` and `maintenance_end` then bound support only.
    pub perpetual: bool,
    /// Allocation order among the product's pools: lower first; pools
    /// without one follow, by metric and id.
    pub priority: Option<u64>,
    pub line: u32,
}

impl Entitlement {
    /// Whether the entitlement's own term covers `day`; a perpetual
    /// entitlement's right to use has no end.
    pub fn in_term(&self, day: Date) -> bool {
        self.start.is_none_or(|s| s <= day) && (self.perpetual || self.end.is_none_or(|e| day <= e))
    }
}

#[derive(Clone, Debug)]
pub struct Device {
    pub id: Sym,
    pub environment: Option<Sym>,
    pub cores: Option<u64>,
    pub sockets: Option<u64>,
    pub virtual_host: Option<Sym>,
    pub primary_user: Option<Sym>,
    /// The date of the device's latest inventory, when a source reports it.
    pub last_seen: Option<Date>,
    /// The processor family (`x86`, `sparc`, `power`, ...), for metric
    /// profiles' core factors.
    pub cpu: Option<Sym>,
    /// The cluster a host belongs to: under a profile with `virtual: host`,
    /// a VM on it licenses every host of the cluster.
    pub cluster: Option<Sym>,
    pub line: u32,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: Sym,
    pub active: bool,
    pub line: u32,
}

#[derive(Clone, Copy, Debug)]
pub struct Installation {
    pub device: Sym,
    pub product: Sym,
    pub version: Option<Sym>,
    pub installed_on: Option<Date>,
    /// The first day the installation is gone; `None` while it is still there.
    pub removed_on: Option<Date>,
    pub user: Option<Sym>,
    pub discovered_by: Option<Sym>,
    pub line: u32,
}

impl Installation {
    /// Whether the installation is there on `day`: from `installed_on` (if
    /// given) and until `removed_on` (if given, exclusive).
    pub fn exists_on(&self, day: Date) -> bool {
        self.installed_on.is_none_or(|d| d <= day) && self.removed_on.is_none_or(|d| day < d)
    }
}

#[derive(Clone, Debug)]
pub struct Usage {
    pub product: Sym,
    /// `YYYY-MM`; periods sort as text.
    pub period: String,
    pub peak_concurrent: Option<u64>,
    pub active_users: Option<u64>,
    pub line: u32,
}

/// The `snapshot:` header.
#[derive(Clone, Debug)]
pub struct SnapshotMeta {
    pub id: String,
    pub taken_at: Date,
    pub sources: Vec<String>,
    /// The estate the snapshot is of, as given; see [`SnapshotMeta::estate`].
    pub estate: Option<String>,
}

impl SnapshotMeta {
    /// The estate whose cases this snapshot confirms or resolves: `estate`
    /// when given, else the id up to its last `-` (`acme-2026-11` is of
    /// `acme-2026`; daily ids such as `acme-20261101` are of `acme`), else
    /// the whole id.
    pub fn estate(&self) -> &str {
        if let Some(e) = &self.estate {
            return e;
        }
        match self.id.rfind('-') {
            Some(i) if i > 0 => &self.id[..i],
            _ => &self.id,
        }
    }
}

/// A loaded, validated inventory snapshot.
///
/// `Clone` so that a simulation can change a copy in place (see
/// [`Snapshot::reindex`]).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub path: PathBuf,
    pub sha256: String,
    pub meta: SnapshotMeta,
    pub products: Vec<Product>,
    pub contracts: Vec<Contract>,
    pub entitlements: Vec<Entitlement>,
    pub devices: Vec<Device>,
    pub users: Vec<User>,
    /// Sorted by product, then install date, then line.
    pub installations: Vec<Installation>,
    /// Sorted by product, then period.
    pub usage: Vec<Usage>,
    pub strings: Interner,
    pub(crate) index: Index,
}

/// A map keyed by symbols, with a fast hasher: symbols are small integers
/// from the snapshot's own table, so there is nothing to defend against.
pub type SymMap<V> = HashMap<Sym, V, DefaultHashBuilder>;

/// Lookups the loader builds once, and [`Snapshot::reindex`] rebuilds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    pub products: SymMap<usize>,
    pub contracts: SymMap<usize>,
    pub entitlements: SymMap<usize>,
    pub devices: SymMap<usize>,
    pub users: SymMap<usize>,
    /// Product → range of [`Snapshot::installations`].
    pub installs_by_product: SymMap<std::ops::Range<usize>>,
    /// Product → indices of its entitlements.
    pub entitlements_by_product: SymMap<Vec<usize>>,
    /// Product → the products whose `covers` lists it, in id order.
    pub covered_by: SymMap<Vec<Sym>>,
}

impl Index {
    /// Each item's id → its position. A repeated id keeps the first and
    /// calls `duplicate(position, first position)`.
    pub(crate) fn ids<T>(
        items: &[T],
        id: impl Fn(&T) -> Sym,
        mut duplicate: impl FnMut(usize, usize),
    ) -> SymMap<usize> {
        let mut out = SymMap::with_capacity_and_hasher(items.len(), Default::default());
        for (i, item) in items.iter().enumerate() {
            match out.entry(id(item)) {
                std::collections::hash_map::Entry::Occupied(first) => duplicate(i, *first.get()),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
        out
    }

    /// Builds [`Index::covered_by`] from the products' `covers` lists.
    pub(crate) fn cover(&mut self, products: &[Product], strings: &Interner) {
        self.covered_by.clear();
        for p in products {
            for &c in &p.covers {
                self.covered_by.entry(c).or_default().push(p.id);
            }
        }
        for v in self.covered_by.values_mut() {
            v.sort_by(|a, b| strings.resolve(*a).cmp(strings.resolve(*b)));
            v.dedup();
        }
    }

    /// Sorts installations (by product, install date, line) and usage (by
    /// product, period), and builds the per-product lookups over them.
    pub(crate) fn link(
        &mut self,
        entitlements: &[Entitlement],
        installations: &mut [Installation],
        usage: &mut [Usage],
    ) {
        self.entitlements_by_product.clear();
        for (i, e) in entitlements.iter().enumerate() {
            self.entitlements_by_product
                .entry(e.product)
                .or_default()
                .push(i);
        }
        installations.sort_by_key(|i| (i.product, i.installed_on, i.line));
        self.installs_by_product.clear();
        let mut start = 0;
        for i in 1..=installations.len() {
            if i == installations.len() || installations[i].product != installations[start].product
            {
                self.installs_by_product
                    .insert(installations[start].product, start..i);
                start = i;
            }
        }
        usage.sort_by(|a, b| (a.product, &a.period).cmp(&(b.product, &b.period)));
    }
}

impl Snapshot {
    /// Rebuilds every lookup after the collections were changed in place, as
    /// a simulation does when it adds installations or entitlements.
    ///
    /// The caller keeps what the loader checked true: ids unique within each
    /// collection, every entitlement's contract and product listed.
    pub fn reindex(&mut self) {
        let mut index = Index {
            products: Index::ids(&self.products, |p| p.id, |_, _| {}),
            contracts: Index::ids(&self.contracts, |c| c.id, |_, _| {}),
            entitlements: Index::ids(&self.entitlements, |e| e.id, |_, _| {}),
            devices: Index::ids(&self.devices, |d| d.id, |_, _| {}),
            users: Index::ids(&self.users, |u| u.id, |_, _| {}),
            ..Index::default()
        };
        for e in &mut self.entitlements {
            if let Some(&ix) = index.contracts.get(&e.contract) {
                e.contract_ix = ix;
            }
        }
        index.link(&self.entitlements, &mut self.installations, &mut self.usage);
        index.cover(&self.products, &self.strings);
        self.index = index;
    }

    /// Adds a device and its lookup (a repeated id keeps the first, as on
    /// load), without rebuilding any other lookup.
    pub fn push_device(&mut self, d: Device) {
        self.index.devices.entry(d.id).or_insert(self.devices.len());
        self.devices.push(d);
    }

    /// Adds a user and its lookup, as [`Snapshot::push_device`] does.
    pub fn push_user(&mut self, u: User) {
        self.index.users.entry(u.id).or_insert(self.users.len());
        self.users.push(u);
    }

    /// Indexes the entitlement last pushed onto [`Snapshot::entitlements`]:
    /// its contract, its id and its product's list, and nothing else.
    pub fn index_last_entitlement(&mut self) {
        let ix = self.entitlements.len() - 1;
        let e = &mut self.entitlements[ix];
        if let Some(&c) = self.index.contracts.get(&e.contract) {
            e.contract_ix = c;
        }
        self.index.entitlements.entry(e.id).or_insert(ix);
        self.index
            .entitlements_by_product
            .entry(e.product)
            .or_default()
            .push(ix);
    }

    /// The text of an interned id.
    pub fn str(&self, sym: Sym) -> &str {
        self.strings.resolve(sym)
    }

    /// Looks up a symbol by its text.
    pub fn sym(&self, s: &str) -> Option<Sym> {
        self.strings.get(s)
    }

    pub fn product(&self, id: Sym) -> Option<&Product> {
        self.index.products.get(&id).map(|&i| &self.products[i])
    }

    pub fn contract(&self, id: Sym) -> Option<&Contract> {
        self.index.contracts.get(&id).map(|&i| &self.contracts[i])
    }

    pub fn entitlement(&self, id: Sym) -> Option<&Entitlement> {
        self.index
            .entitlements
            .get(&id)
            .map(|&i| &self.entitlements[i])
    }

    pub fn device(&self, id: Sym) -> Option<&Device> {
        self.index.devices.get(&id).map(|&i| &self.devices[i])
    }

    pub fn user(&self, id: Sym) -> Option<&User> {
        self.index.users.get(&id).map(|&i| &self.users[i])
    }

    /// Installations of a product, in install-date order (undated first).
    pub fn installations_of(&self, product: Sym) -> &[Installation] {
        self.index
            .installs_by_product
            .get(&product)
            .map_or(&[], |r| &self.installations[r.clone()])
    }

    /// Installations of a product installed between `from` and `to`, both included.
    pub fn installations_between(&self, product: Sym, from: Date, to: Date) -> &[Installation] {
        let all = self.installations_of(product);
        let lo = all.partition_point(|i| i.installed_on.is_none_or(|d| d < from));
        let hi = all.partition_point(|i| i.installed_on.is_none_or(|d| d <= to));
        &all[lo..hi.max(lo)]
    }

    /// Entitlements of a product, in file order.
    pub fn entitlements_of(&self, product: Sym) -> impl Iterator<Item = &Entitlement> {
        self.index
            .entitlements_by_product
            .get(&product)
            .into_iter()
            .flatten()
            .map(|&i| &self.entitlements[i])
    }

    /// Whether an entitlement counts on `day`: its term and its contract are
    /// valid. A perpetual entitlement outlives its contract's end or expiry,
    /// but not its termination.
    pub fn entitlement_valid(&self, e: &Entitlement, day: Date) -> bool {
        let c = &self.contracts[e.contract_ix];
        e.in_term(day)
            && if e.perpetual {
                c.start.is_none_or(|s| s <= day)
                    && (c.status != ContractStatus::Terminated
                        || c.terminated_on.is_some_and(|t| day < t))
            } else {
                c.valid_on(day)
            }
    }

    /// Products that have installations, listed or not, in id order.
    pub fn installed_products(&self) -> Vec<Sym> {
        let mut v: Vec<Sym> = self.index.installs_by_product.keys().copied().collect();
        v.sort_by(|a, b| self.str(*a).cmp(self.str(*b)));
        v
    }

    /// Products with an installation that exists on `day`, listed or not,
    /// in id order.
    pub fn installed_products_on(&self, day: Date) -> Vec<Sym> {
        let mut v = self.installed_products();
        v.retain(|&p| self.installations_of(p).iter().any(|i| i.exists_on(day)));
        v
    }

    /// Usage records of a product, oldest period first.
    pub fn usage_of(&self, product: Sym) -> &[Usage] {
        let lo = self.usage.partition_point(|u| u.product < product);
        let hi = self.usage.partition_point(|u| u.product <= product);
        &self.usage[lo..hi]
    }
}
