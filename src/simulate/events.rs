//! Scenario events against the inventory.
//!
//! Each event is checked against the snapshot as the events before it left
//! it (an uninstall can remove what an earlier install added) and resolved
//! into a [`Change`] with concrete ids, generated ones included. A change
//! applies to a snapshot without further checks. Resolution runs over a
//! scratch copy before anything is evaluated, so every bad event is reported
//! in one run and no evaluation time is spent on a scenario that cannot run.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::date::Date;
use crate::diag::Diagnostic;
use crate::inventory::model::SymMap;
use crate::inventory::model::{Device, Entitlement, Installation, Usage, User};
use crate::inventory::{Metric, Snapshot, Sym};
use crate::waivers::Waiver;

use super::scenario::{Action, EventSpec, Id, Scenario, Target};

/// An event, checked and resolved.
#[derive(Clone, Debug)]
pub struct Event {
    pub on: Date,
    /// Where the event is written in the scenario file.
    pub line: u32,
    pub kind: &'static str,
    /// What it does, in words.
    pub summary: String,
    /// Ids of what it touches: products, contracts, entitlements, devices.
    /// A finding about any of them can be one the event caused.
    pub touches: Vec<String>,
    pub change: Change,
}

/// A change to the inventory (or to the waivers in force), ready to apply.
#[derive(Clone, Debug)]
pub enum Change {
    Install {
        product: String,
        placements: Vec<Placement>,
        discovered_by: Option<String>,
    },
    /// Removes every installation of the product on these devices.
    Uninstall {
        product: String,
        devices: Vec<String>,
    },
    Purchase(NewEntitlement),
    Terminate {
        contract: String,
    },
    Expire {
        entitlement: String,
    },
    Usage {
        product: String,
        period: String,
        peak_concurrent: Option<u64>,
        active_users: Option<u64>,
    },
    Waive(Box<Waiver>),
}

/// One installation to add.
#[derive(Clone, Debug)]
pub struct Placement {
    pub device: String,
    /// A device the scenario creates; `None` for one that exists.
    pub new: Option<NewDevice>,
}

/// A generated device and the person who uses it.
#[derive(Clone, Debug)]
pub struct NewDevice {
    /// Whether it joins the inventory's device list.
    pub listed: bool,
    pub environment: Option<String>,
    pub cores: Option<u64>,
    pub sockets: Option<u64>,
    pub user: String,
}

#[derive(Clone, Debug)]
pub struct NewEntitlement {
    pub id: String,
    pub contract: String,
    pub product: String,
    pub metric: Metric,
    pub quantity: u64,
    pub end: Option<Date>,
    pub maintenance_end: Option<Date>,
}

impl Change {
    /// Whether applying it invalidates the snapshot's lookups.
    pub fn reindexes(&self) -> bool {
        matches!(
            self,
            Change::Install { .. }
                | Change::Uninstall { .. }
                | Change::Purchase(_)
                | Change::Usage { .. }
        )
    }
}

/// Checks and resolves every event of `scenario` against `snapshot`, in
/// order; the diagnostics name every bad event.
pub fn resolve_all(
    scenario: &Scenario,
    snapshot: &Snapshot,
) -> Result<Vec<Event>, Vec<Diagnostic>> {
    let mut scratch = Scratch::new(snapshot.clone());
    let mut names = Names::default();
    let mut events = Vec::with_capacity(scenario.events.len());
    let mut diags = Vec::new();
    for spec in &scenario.events {
        let mut r = Resolver {
            file: &scenario.file,
            snap: &scratch.snap,
            scratch: &scratch,
            names: &mut names,
            diags: Vec::new(),
        };
        match r.event(spec) {
            Some(event) if r.diags.is_empty() => {
                scratch.apply(&event.change, event.on);
                events.push(event);
            }
            _ => diags.extend(r.diags),
        }
    }
    if diags.is_empty() {
        Ok(events)
    } else {
        crate::diag::attach_sources(&mut diags, &scenario.text);
        Err(diags)
    }
}

/// Applies a change made on `on`. Call [`Snapshot::reindex`] afterwards
/// when [`Change::reindexes`] says so (once for several changes is enough).
pub fn apply(snap: &mut Snapshot, change: &Change, on: Date) {
    match change {
        Change::Install {
            product,
            placements,
            discovered_by,
        } => {
            let product = snap.strings.intern(product);
            let discovered_by = discovered_by.as_deref().map(|s| snap.strings.intern(s));
            for p in placements {
                let device = snap.strings.intern(&p.device);
                let mut user = None;
                if let Some(new) = &p.new {
                    let u = snap.strings.intern(&new.user);
                    user = Some(u);
                    if new.listed {
                        let environment =
                            new.environment.as_deref().map(|e| snap.strings.intern(e));
                        snap.users.push(User {
                            id: u,
                            active: true,
                            line: 0,
                        });
                        snap.devices.push(Device {
                            id: device,
                            environment,
                            cores: new.cores,
                            sockets: new.sockets,
                            virtual_host: None,
                            primary_user: Some(u),
                            last_seen: None,
                            cpu: None,
                            cluster: None,
                            line: 0,
                        });
                    }
                }
                snap.installations.push(Installation {
                    device,
                    product,
                    version: None,
                    installed_on: Some(on),
                    removed_on: None,
                    user,
                    discovered_by,
                    line: 0,
                });
            }
        }
        Change::Uninstall { product, devices } => {
            let Some(product) = snap.sym(product) else {
                return;
            };
            let devices: HashSet<Sym> = devices.iter().filter_map(|d| snap.sym(d)).collect();
            snap.installations
                .retain(|i| i.product != product || !devices.contains(&i.device));
        }
        Change::Purchase(e) => {
            let entitlement = Entitlement {
                id: snap.strings.intern(&e.id),
                contract: snap.strings.intern(&e.contract),
                // `reindex` resolves it.
                contract_ix: usize::MAX,
                product: snap.strings.intern(&e.product),
                metric: e.metric,
                quantity: e.quantity,
                start: Some(on),
                end: e.end,
                maintenance_end: e.maintenance_end,
                perpetual: false,
                priority: None,
                line: 0,
            };
            snap.entitlements.push(entitlement);
        }
        Change::Terminate { contract } => {
            let ix = snap
                .sym(contract)
                .and_then(|s| snap.index.contracts.get(&s).copied());
            if let Some(c) = ix.map(|i| &mut snap.contracts[i]) {
                c.status = crate::inventory::model::ContractStatus::Terminated;
                c.terminated_on = Some(on);
            }
        }
        Change::Expire { entitlement } => {
            let ix = snap
                .sym(entitlement)
                .and_then(|s| snap.index.entitlements.get(&s).copied());
            if let Some(e) = ix.map(|i| &mut snap.entitlements[i]) {
                e.end = Some(on - 1);
            }
        }
        Change::Usage {
            product,
            period,
            peak_concurrent,
            active_users,
        } => {
            let product = snap.strings.intern(product);
            match snap
                .usage
                .iter_mut()
                .find(|u| u.product == product && u.period == *period)
            {
                Some(u) => {
                    u.peak_concurrent = peak_concurrent.or(u.peak_concurrent);
                    u.active_users = active_users.or(u.active_users);
                }
                None => {
                    // In place in the sorted list, so `usage_of` needs no reindex.
                    let at = snap
                        .usage
                        .partition_point(|u| (u.product, &u.period) < (product, period));
                    snap.usage.insert(
                        at,
                        Usage {
                            product,
                            period: period.clone(),
                            peak_concurrent: *peak_concurrent,
                            active_users: *active_users,
                            line: 0,
                        },
                    );
                }
            }
        }
        Change::Waive(_) => {}
    }
}

/// The inventory as the events so far left it, for checking the next one.
///
/// Each event costs what it changes: new devices, users and entitlements
/// join the snapshot's lookups one by one, and the installations events add
/// or remove are kept beside the snapshot's own, which stay as they are, so
/// no event rebuilds or re-sorts the snapshot.
struct Scratch {
    snap: Snapshot,
    /// Product → `(date, device)` the events installed it on, in order.
    added: SymMap<Vec<(Date, Sym)>>,
    /// `(product, device)` pairs of the snapshot's own installations that
    /// events removed.
    removed: HashSet<(Sym, Sym)>,
}

impl Scratch {
    fn new(snap: Snapshot) -> Scratch {
        Scratch {
            snap,
            added: SymMap::default(),
            removed: HashSet::new(),
        }
    }

    /// The snapshot's own installations of `product` still in place.
    fn own(&self, product: Sym) -> impl DoubleEndedIterator<Item = &Installation> {
        self.snap
            .installations_of(product)
            .iter()
            .filter(move |i| !self.removed.contains(&(product, i.device)))
    }

    fn added(&self, product: Sym) -> &[(Date, Sym)] {
        self.added.get(&product).map_or(&[], Vec::as_slice)
    }

    fn is_installed(&self, product: Sym) -> bool {
        !self.added(product).is_empty() || self.own(product).next().is_some()
    }

    fn has_product(&self, device: Sym, product: Sym) -> bool {
        self.added(product).iter().any(|&(_, d)| d == device)
            || self.own(product).any(|i| i.device == device)
    }

    /// Whether any installation of any product is on `device`.
    fn has_any(&self, device: Sym) -> bool {
        self.added.values().flatten().any(|&(_, d)| d == device)
            || self
                .snap
                .installations
                .iter()
                .any(|i| i.device == device && !self.removed.contains(&(i.product, device)))
    }

    /// Up to `n` distinct devices with `product`, the most recently
    /// installed first: the order the snapshot's installations would have,
    /// sorted by date then line, had the events' been added to them (an
    /// event's installations have line 0, before the file's on that date).
    fn most_recent(&self, product: Sym, n: usize) -> Vec<Sym> {
        let mut own = self.own(product).rev().peekable();
        let mut added = self.added(product).iter().rev().peekable();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        while out.len() < n {
            let take_added = match (own.peek(), added.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(i), Some(&&(on, _))) => (Some(on), 0) > (i.installed_on, i.line),
            };
            let device = if take_added {
                added.next().map(|&(_, d)| d)
            } else {
                own.next().map(|i| i.device)
            };
            if let Some(d) = device.filter(|&d| seen.insert(d)) {
                out.push(d);
            }
        }
        out
    }

    /// Applies a change, keeping every lookup current.
    fn apply(&mut self, change: &Change, on: Date) {
        let snap = &mut self.snap;
        match change {
            Change::Install {
                product,
                placements,
                ..
            } => {
                let product = snap.strings.intern(product);
                for p in placements {
                    let device = snap.strings.intern(&p.device);
                    if let Some(new) = p.new.as_ref().filter(|n| n.listed) {
                        let user = snap.strings.intern(&new.user);
                        let environment =
                            new.environment.as_deref().map(|e| snap.strings.intern(e));
                        snap.push_user(User {
                            id: user,
                            active: true,
                            line: 0,
                        });
                        snap.push_device(Device {
                            id: device,
                            environment,
                            cores: new.cores,
                            sockets: new.sockets,
                            virtual_host: None,
                            primary_user: Some(user),
                            last_seen: None,
                            cpu: None,
                            cluster: None,
                            line: 0,
                        });
                    }
                    self.added.entry(product).or_default().push((on, device));
                }
            }
            Change::Uninstall { product, devices } => {
                let Some(product) = snap.sym(product) else {
                    return;
                };
                let devices: HashSet<Sym> = devices.iter().filter_map(|d| snap.sym(d)).collect();
                if let Some(list) = self.added.get_mut(&product) {
                    list.retain(|(_, d)| !devices.contains(d));
                }
                self.removed
                    .extend(devices.into_iter().map(|d| (product, d)));
            }
            Change::Purchase(_) => {
                apply(snap, change, on);
                snap.index_last_entitlement();
            }
            Change::Usage { .. } | Change::Terminate { .. } | Change::Expire { .. } => {
                apply(snap, change, on)
            }
            Change::Waive(_) => {}
        }
    }
}

/// Counters for generated ids, so that they stay distinct across events.
#[derive(Default)]
struct Names {
    next: HashMap<String, u64>,
}

impl Names {
    /// The next `prefix-NNNN` that the snapshot does not mention, nor
    /// `u-prefix-NNNN` when `with_user`.
    fn next(&mut self, prefix: &str, snap: &Snapshot, with_user: bool) -> String {
        let n = self.next.entry(prefix.to_string()).or_insert(1);
        loop {
            let id = format!("{prefix}-{n:04}");
            *n += 1;
            let free =
                snap.sym(&id).is_none() && !(with_user && snap.sym(&format!("u-{id}")).is_some());
            if free {
                return id;
            }
        }
    }
}

struct Resolver<'a> {
    file: &'a Path,
    /// `scratch.snap`.
    snap: &'a Snapshot,
    scratch: &'a Scratch,
    names: &'a mut Names,
    diags: Vec<Diagnostic>,
}

impl Resolver<'_> {
    fn error(&mut self, at: crate::yaml::Pos, message: String) {
        self.diags
            .push(Diagnostic::error(self.file, at.line, at.col, message));
    }

    /// A product the snapshot lists, installs or has usage for.
    fn known_product(&mut self, id: &Id) -> Option<Sym> {
        let snap = self.snap;
        let sym = snap.sym(&id.text).filter(|&s| {
            snap.product(s).is_some()
                || self.scratch.is_installed(s)
                || !snap.usage_of(s).is_empty()
        });
        if sym.is_none() {
            self.error(
                id.pos,
                format!(
                    "unknown product `{}`: the snapshot neither lists nor installs it",
                    id.text
                ),
            );
        }
        sym
    }

    fn listed_product(&mut self, id: &Id) -> Option<Sym> {
        let sym = self
            .snap
            .sym(&id.text)
            .filter(|&s| self.snap.product(s).is_some());
        if sym.is_none() {
            self.error(
                id.pos,
                format!(
                    "unknown product `{}`: an entitlement needs a product the snapshot lists",
                    id.text
                ),
            );
        }
        sym
    }

    fn contract(&mut self, id: &Id) -> Option<Sym> {
        let sym = self
            .snap
            .sym(&id.text)
            .filter(|&s| self.snap.contract(s).is_some());
        if sym.is_none() {
            self.error(id.pos, format!("unknown contract `{}`", id.text));
        }
        sym
    }

    fn has_product(&self, device: Sym, product: Sym) -> bool {
        self.scratch.has_product(device, product)
    }

    fn event(&mut self, spec: &EventSpec) -> Option<Event> {
        let snap = self.snap;
        let (summary, touches, change) = match &spec.action {
            Action::Install(i) => {
                let name = &i.product.text;
                let product = if i.new_product {
                    let known = snap
                        .sym(name)
                        .filter(|&s| snap.product(s).is_some() || self.scratch.is_installed(s));
                    if known.is_some() {
                        self.error(i.product.pos, format!("product `{name}` is already in the snapshot; `new_product: true` is for a product it has never seen"));
                        return None;
                    }
                    snap.sym(name)
                } else {
                    Some(self.known_product(&i.product)?)
                };
                let placements: Vec<Placement> = match &i.target {
                    Target::Count(n) => (0..*n)
                        .map(|_| {
                            let device = self.names.next(&format!("sim-{name}"), snap, true);
                            Placement {
                                new: Some(NewDevice {
                                    listed: i.listed,
                                    environment: i.environment.clone(),
                                    cores: i.cores,
                                    sockets: i.sockets,
                                    user: format!("u-{device}"),
                                }),
                                device,
                            }
                        })
                        .collect(),
                    Target::Devices(ids) => {
                        for d in ids {
                            let sym = snap.sym(&d.text);
                            let listed = sym.and_then(|s| snap.device(s)).is_some();
                            if i.listed && !listed {
                                self.error(d.pos, format!("unknown device `{}`: the snapshot does not list it (for a device it does not list, add `listed: false`)", d.text));
                            } else if !i.listed && listed {
                                self.error(d.pos, format!("device `{}` is in the snapshot's device list; `listed: false` is for devices it does not list", d.text));
                            } else if product
                                .is_some_and(|p| sym.is_some_and(|s| self.has_product(s, p)))
                            {
                                self.error(
                                    d.pos,
                                    format!("device `{}` already has `{name}` installed", d.text),
                                );
                            }
                        }
                        ids.iter()
                            .map(|d| Placement {
                                device: d.text.clone(),
                                new: None,
                            })
                            .collect()
                    }
                };
                let devices: Vec<String> = placements.iter().map(|p| p.device.clone()).collect();
                let what = match (&i.target, i.listed) {
                    (Target::Count(_), true) => format!(
                        "{} new{} device{}",
                        devices.len(),
                        i.environment
                            .as_deref()
                            .map(|e| format!(" {e}"))
                            .unwrap_or_default(),
                        if devices.len() == 1 { "" } else { "s" }
                    ),
                    (Target::Count(_), false) => format!(
                        "{} new unlisted device{}",
                        devices.len(),
                        if devices.len() == 1 { "" } else { "s" }
                    ),
                    (Target::Devices(_), true) => plural_devices(devices.len()),
                    (Target::Devices(_), false) => {
                        format!("{} unlisted", plural_devices(devices.len()))
                    }
                };
                let summary = format!("install {name} on {what} ({})", list(&devices));
                let mut touches = vec![name.clone()];
                touches.extend(devices);
                let change = Change::Install {
                    product: name.clone(),
                    placements,
                    discovered_by: i.discovered_by.clone(),
                };
                (summary, touches, change)
            }
            Action::Uninstall(u) => {
                let product = self.known_product(&u.product)?;
                let name = &u.product.text;
                let devices: Vec<String> = match &u.target {
                    Target::Count(n) => {
                        // The most recently installed go first.
                        let picked = self.scratch.most_recent(product, *n as usize);
                        if (picked.len() as u64) < *n {
                            self.error(
                                spec.pos,
                                format!(
                                    "cannot uninstall `{name}` from {n} devices: on {} it is installed on {}",
                                    spec.on,
                                    plural_devices(picked.len())
                                ),
                            );
                        }
                        picked
                            .into_iter()
                            .map(|d| snap.str(d).to_string())
                            .collect()
                    }
                    Target::Devices(ids) => {
                        for d in ids {
                            match snap.sym(&d.text) {
                                Some(s) if self.has_product(s, product) => {}
                                Some(s) if snap.device(s).is_some() || self.scratch.has_any(s) => {
                                    self.error(
                                        d.pos,
                                        format!(
                                            "device `{}` has no installation of `{name}`",
                                            d.text
                                        ),
                                    );
                                }
                                _ => self.error(d.pos, format!("unknown device `{}`", d.text)),
                            }
                        }
                        ids.iter().map(|d| d.text.clone()).collect()
                    }
                };
                let summary = format!(
                    "uninstall {name} from {} ({})",
                    plural_devices(devices.len()),
                    list(&devices)
                );
                let mut touches = vec![name.clone()];
                touches.extend(devices.iter().cloned());
                let change = Change::Uninstall {
                    product: name.clone(),
                    devices,
                };
                (summary, touches, change)
            }
            Action::Purchase(p) => {
                let product = self.listed_product(&p.product);
                let contract = self.contract(&p.contract);
                let id = match &p.id {
                    Some(id)
                        if snap
                            .sym(&id.text)
                            .is_some_and(|s| snap.entitlement(s).is_some()) =>
                    {
                        self.error(id.pos, format!("entitlement `{}` already exists", id.text));
                        None
                    }
                    Some(id) => Some(id.text.clone()),
                    None => Some(self.names.next("sim-purchase", snap, false)),
                };
                if let Some(end) = p.end.filter(|e| *e < spec.on) {
                    self.error(
                        spec.pos,
                        format!("the purchase ends ({end}) before it starts ({})", spec.on),
                    );
                }
                let (_, _, id) = (product?, contract?, id?);
                let quantity = if p.metric == Metric::Site {
                    "a site licence".to_string()
                } else {
                    format!(
                        "{} {} licence{}",
                        p.quantity,
                        p.metric.as_str(),
                        if p.quantity == 1 { "" } else { "s" }
                    )
                };
                let summary = format!(
                    "purchase {quantity} of {} under {} (entitlement {id})",
                    p.product.text, p.contract.text
                );
                let touches = vec![p.product.text.clone(), p.contract.text.clone(), id.clone()];
                let change = Change::Purchase(NewEntitlement {
                    id,
                    contract: p.contract.text.clone(),
                    product: p.product.text.clone(),
                    metric: p.metric,
                    quantity: p.quantity,
                    end: p.end,
                    maintenance_end: p.maintenance_end,
                });
                (summary, touches, change)
            }
            Action::Terminate { contract } => {
                let sym = self.contract(contract)?;
                let mut touches = vec![contract.text.clone()];
                for e in snap.entitlements.iter().filter(|e| e.contract == sym) {
                    touches.push(snap.str(e.id).to_string());
                    touches.push(snap.str(e.product).to_string());
                }
                touches.dedup();
                let summary = format!("terminate contract {} (from {})", contract.text, spec.on);
                let change = Change::Terminate {
                    contract: contract.text.clone(),
                };
                (summary, touches, change)
            }
            Action::Expire { entitlement } => {
                let Some(e) = snap
                    .sym(&entitlement.text)
                    .and_then(|s| snap.entitlement(s))
                else {
                    self.error(
                        entitlement.pos,
                        format!("unknown entitlement `{}`", entitlement.text),
                    );
                    return None;
                };
                let touches = vec![
                    entitlement.text.clone(),
                    snap.str(e.product).to_string(),
                    snap.str(e.contract).to_string(),
                ];
                let summary = format!(
                    "expire entitlement {} ({}; its last day is {})",
                    entitlement.text,
                    snap.str(e.product),
                    spec.on - 1
                );
                let change = Change::Expire {
                    entitlement: entitlement.text.clone(),
                };
                (summary, touches, change)
            }
            Action::Usage(u) => {
                self.known_product(&u.product)?;
                let mut figures = Vec::new();
                if let Some(n) = u.peak_concurrent {
                    figures.push(format!("peak concurrent {n}"));
                }
                if let Some(n) = u.active_users {
                    figures.push(format!("active users {n}"));
                }
                let summary = format!(
                    "usage of {} for {}: {}",
                    u.product.text,
                    u.period,
                    figures.join(", ")
                );
                let change = Change::Usage {
                    product: u.product.text.clone(),
                    period: u.period.clone(),
                    peak_concurrent: u.peak_concurrent,
                    active_users: u.active_users,
                };
                (summary, vec![u.product.text.clone()], change)
            }
            Action::Waive(w) => {
                let summary = format!(
                    "waive `{}` for `{}` until {} (approved by {})",
                    w.rule, w.subject, w.expires, w.approved_by
                );
                (summary, Vec::new(), Change::Waive(w.clone()))
            }
        };
        Some(Event {
            on: spec.on,
            line: spec.pos.line,
            kind: spec.kind(),
            summary,
            touches,
            change,
        })
    }
}

fn plural_devices(n: usize) -> String {
    format!("{n} device{}", if n == 1 { "" } else { "s" })
}

/// A short list of ids: all of a few, else the first and the last.
fn list(ids: &[String]) -> String {
    match ids {
        [] => String::new(),
        [a, b, .., z] if ids.len() > 4 => format!("{a}, {b} … {z}"),
        _ => ids.join(", "),
    }
}
