//! Remediation options as changes to a snapshot.
//!
//! A rule's `fn remediate(f, inv)` offers options for each finding, most
//! preferred first: maps such as `#{ action: "purchase", metric: "device",
//! quantity: 8 }`. This module gives every action one meaning, as a change
//! to the inventory or to the waivers in force, so that an option can be
//! tried on a copy of a snapshot and the playbook evaluated again on the same
//! date. The default playbook promises that each option alone clears its
//! finding; `tests/remediation.rs` holds it to that. The meanings are the
//! user contract in `docs/reference.md` ("Remediation options").
//!
//! Options are resolved against the snapshot first ([`resolve`]: every id
//! checked, every generated id fresh), then applied ([`Remedy::apply`]),
//! which cannot fail. The simulator's changes ([`Change`]) are used where
//! they fit. Nothing here writes a file: a snapshot is only changed in
//! memory.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::date::Date;
use crate::engine::Finding;
use crate::inventory::model::{Contract, ContractStatus, Device, Entitlement, Product, RiskTier};
use crate::inventory::{Metric, Snapshot, Sym};
use crate::simulate::events::{self, Change, NewEntitlement};
use crate::waivers::{Waiver, WaiverSet};

/// Actions that record a decision and change nothing in the inventory. A
/// finding offering one must also offer an option that clears it.
pub const DECISIONS: &[&str] = &["investigate", "freeze_versions"];

/// Every action with a meaning, decisions included, in the order
/// `docs/reference.md` describes them.
pub const ACTIONS: &[&str] = &[
    "purchase",
    "uninstall",
    "reharvest",
    "reduce_at_renewal",
    "register_device",
    "rescan",
    "retire_device",
    "collect_data",
    "renew_maintenance",
    "grace_period",
    "investigate",
    "freeze_versions",
];

/// How long `renew_maintenance` renews for, in days.
pub const RENEWAL_DAYS: i64 = 365;

/// Who a `grace_period` waiver is approved by.
pub const GRACE_APPROVER: &str = "remediation option";

/// Why an option cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemedyError {
    /// The option is not a map with a text `action`.
    Shape(String),
    /// The action has no meaning.
    UnknownAction(String),
    /// The action is known, but a field is missing or wrong, or names
    /// something the snapshot does not have.
    Invalid { action: String, why: String },
}

impl fmt::Display for RemedyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemedyError::Shape(why) => f.write_str(why),
            RemedyError::UnknownAction(a) => write!(
                f,
                "unknown action `{a}`: known actions are {}",
                ACTIONS.join(", ")
            ),
            RemedyError::Invalid { action, why } => write!(f, "action `{action}`: {why}"),
        }
    }
}

impl std::error::Error for RemedyError {}

/// An option, resolved against a snapshot.
#[derive(Clone, Debug)]
pub struct Remedy {
    pub action: String,
    pub effect: Effect,
}

/// What applying an option does.
#[derive(Clone, Debug)]
pub enum Effect {
    /// Records a decision: nothing changes.
    Decision,
    /// Changes the inventory, in this order.
    Changes(Vec<Step>),
    /// A waiver of the finding joins the waivers in force.
    Waive(Box<Waiver>),
}

/// The inventory data a `collect_data` option asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Cores,
    Sockets,
    User,
    Usage(Metric),
}

/// One change an option makes to the inventory, with concrete ids.
#[derive(Clone, Debug)]
pub enum Step {
    /// A change the simulator makes too: `Uninstall` or `Purchase`.
    Change(Change),
    /// A new active contract for what a purchase buys: from the as-of date,
    /// no end, no exempt environments.
    AddContract {
        id: String,
        publisher: Option<String>,
    },
    /// A product the catalogue does not list, listed (named by its id, risk
    /// tier high) so that it can be bought.
    AddProduct { id: String },
    /// An entitlement's quantity lowered by `by`.
    Lower { entitlement: String, by: u64 },
    /// A device added to the device list (nothing else known about it).
    RegisterDevice { device: String },
    /// A device reported its inventory on the as-of date.
    Seen { device: String },
    /// A device and everything installed on it are gone.
    Retire { device: String },
    /// Missing inventory data arrived. trueup cannot know the real figures,
    /// so it fills the gaps with stand-ins: 1 core or socket on each device
    /// (an unlisted one is registered), a user of their own for each
    /// installation of `product` with none, and the usage month of the
    /// as-of date repeating the latest figure (0 when there is none).
    Collect {
        product: String,
        field: Field,
        devices: Vec<String>,
    },
    /// An entitlement's maintenance now ends on `until`.
    Maintenance { entitlement: String, until: Date },
}

impl Remedy {
    /// Whether the option only records a decision.
    pub fn is_decision(&self) -> bool {
        matches!(self.effect, Effect::Decision)
    }

    /// Applies the option on `as_of` to `snap` (lookups rebuilt) and to the
    /// waivers in force (created if there were none).
    pub fn apply(&self, snap: &mut Snapshot, waivers: &mut Option<WaiverSet>, as_of: Date) {
        match &self.effect {
            Effect::Decision => {}
            Effect::Waive(w) => waivers
                .get_or_insert_with(WaiverSet::default)
                .waivers
                .push((**w).clone()),
            Effect::Changes(steps) => {
                for step in steps {
                    apply_step(snap, step, as_of);
                }
                snap.reindex();
            }
        }
    }
}

fn apply_step(snap: &mut Snapshot, step: &Step, as_of: Date) {
    match step {
        Step::Change(change) => events::apply(snap, change, as_of),
        Step::AddContract { id, publisher } => {
            let contract = Contract {
                id: snap.strings.intern(id),
                publisher: publisher.as_deref().map(|p| snap.strings.intern(p)),
                start: Some(as_of),
                end: None,
                status: ContractStatus::Active,
                terminated_on: None,
                true_up: None,
                audit_notice_days: None,
                exempt_environments: Vec::new(),
                line: 0,
            };
            snap.contracts.push(contract);
        }
        Step::AddProduct { id } => {
            let product = Product {
                id: snap.strings.intern(id),
                name: id.clone(),
                publisher: None,
                risk_tier: RiskTier::High,
                covers: Vec::new(),
                line: 0,
            };
            snap.products.push(product);
        }
        Step::Lower { entitlement, by } => {
            if let Some(e) = entitlement_mut(snap, entitlement) {
                e.quantity = e.quantity.saturating_sub(*by);
            }
        }
        Step::RegisterDevice { device } => {
            let device = Device {
                id: snap.strings.intern(device),
                environment: None,
                cores: None,
                sockets: None,
                virtual_host: None,
                primary_user: None,
                last_seen: None,
                cpu: None,
                cluster: None,
                line: 0,
            };
            snap.devices.push(device);
        }
        Step::Maintenance { entitlement, until } => {
            if let Some(e) = entitlement_mut(snap, entitlement) {
                e.maintenance_end = Some(*until);
            }
        }
        Step::Seen { device } => {
            if let Some(d) = device_mut(snap, device) {
                d.last_seen = Some(as_of);
            }
        }
        Step::Retire { device } => {
            if let Some(d) = snap.sym(device) {
                snap.installations.retain(|i| i.device != d);
                snap.devices.retain(|x| x.id != d);
            }
        }
        Step::Collect {
            product,
            field,
            devices,
        } => collect(snap, product, *field, devices, as_of),
    }
}

fn device_mut<'a>(snap: &'a mut Snapshot, id: &str) -> Option<&'a mut Device> {
    let sym = snap.sym(id)?;
    snap.devices.iter_mut().find(|d| d.id == sym)
}

fn collect(snap: &mut Snapshot, product: &str, field: Field, devices: &[String], as_of: Date) {
    match field {
        Field::Cores | Field::Sockets => {
            for id in devices {
                if device_mut(snap, id).is_none() {
                    apply_step(snap, &Step::RegisterDevice { device: id.clone() }, as_of);
                }
                let d = device_mut(snap, id).expect("registered above");
                let n = if field == Field::Cores {
                    &mut d.cores
                } else {
                    &mut d.sockets
                };
                n.get_or_insert(1);
            }
        }
        Field::User => {
            let Some(p) = snap.sym(product) else { return };
            let primary: HashSet<Sym> = snap
                .devices
                .iter()
                .filter(|d| d.primary_user.is_some())
                .map(|d| d.id)
                .collect();
            let mut n = 0;
            for i in 0..snap.installations.len() {
                let inst = snap.installations[i];
                if inst.product == p && inst.user.is_none() && !primary.contains(&inst.device) {
                    n += 1;
                    let user = snap.strings.intern(&format!("collected-user-{n}"));
                    snap.installations[i].user = Some(user);
                }
            }
        }
        Field::Usage(metric) => {
            let Some(p) = snap.sym(product) else { return };
            let period = as_of.period();
            let latest = snap.usage_of(p).last().cloned();
            let figure = |f: fn(&crate::inventory::model::Usage) -> Option<u64>| {
                latest.as_ref().and_then(f).unwrap_or(0)
            };
            snap.usage
                .retain(|u| !(u.product == p && u.period == period));
            snap.usage.push(crate::inventory::model::Usage {
                product: p,
                period,
                peak_concurrent: (metric == Metric::Concurrent)
                    .then(|| figure(|u| u.peak_concurrent)),
                active_users: (metric == Metric::Subscription).then(|| figure(|u| u.active_users)),
                line: 0,
            });
        }
    }
}

fn entitlement_mut<'a>(snap: &'a mut Snapshot, id: &str) -> Option<&'a mut Entitlement> {
    let sym = snap.sym(id)?;
    let ix = *snap.index.entitlements.get(&sym)?;
    snap.entitlements.get_mut(ix)
}

/// Checks `option` (one of `finding`'s remediation options) against `snap`
/// as of `as_of` and resolves it into what applying it does.
pub fn resolve(
    snap: &Snapshot,
    finding: &Finding,
    option: &Value,
    as_of: Date,
) -> Result<Remedy, RemedyError> {
    let map = option.as_object().ok_or_else(|| {
        RemedyError::Shape(format!(
            "a remediation option must be a map, not `{option}`"
        ))
    })?;
    let action = map
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| RemedyError::Shape("a remediation option has no text `action`".into()))?;
    let mut r = Resolver {
        snap,
        finding,
        action,
        map,
        as_of,
        fresh: HashSet::new(),
    };
    let effect = r.effect().map_err(|why| match why {
        Why::Unknown => RemedyError::UnknownAction(action.to_string()),
        Why::Invalid(why) => RemedyError::Invalid {
            action: action.to_string(),
            why,
        },
    })?;
    Ok(Remedy {
        action: action.to_string(),
        effect,
    })
}

enum Why {
    Unknown,
    Invalid(String),
}

impl From<String> for Why {
    fn from(s: String) -> Why {
        Why::Invalid(s)
    }
}

struct Resolver<'a> {
    snap: &'a Snapshot,
    finding: &'a Finding,
    action: &'a str,
    map: &'a Map<String, Value>,
    as_of: Date,
    /// Ids generated so far, not yet in the snapshot.
    fresh: HashSet<String>,
}

impl Resolver<'_> {
    fn effect(&mut self) -> Result<Effect, Why> {
        Ok(match self.action {
            "purchase" => Effect::Changes(self.purchase()?),
            "uninstall" => Effect::Changes(self.uninstall()?),
            "reharvest" | "reduce_at_renewal" => Effect::Changes(self.lower()?),
            "register_device" => Effect::Changes(self.register_device()?),
            "rescan" => Effect::Changes(self.rescan()?),
            "retire_device" => Effect::Changes(self.retire_device()?),
            "collect_data" => Effect::Changes(self.collect_data()?),
            "renew_maintenance" => Effect::Changes(self.renew_maintenance()?),
            "grace_period" => Effect::Waive(Box::new(self.grace_period()?)),
            a if DECISIONS.contains(&a) => Effect::Decision,
            _ => return Err(Why::Unknown),
        })
    }

    /// `purchase {product, metric, quantity}`: a new entitlement under a new
    /// contract of the product's publisher.
    fn purchase(&mut self) -> Result<Vec<Step>, Why> {
        let product = self.product("product")?;
        let metric = self.metric()?;
        let quantity = self.count("quantity")?;
        let snap = self.snap;
        let mut steps = Vec::new();
        let listed = snap.sym(&product).and_then(|s| snap.product(s));
        if listed.is_none() {
            steps.push(Step::AddProduct {
                id: product.clone(),
            });
        }
        let publisher = listed
            .and_then(|p| p.publisher)
            .map(|p| snap.str(p).to_string());
        let contract = self.fresh_id("remedy-contract");
        steps.push(Step::AddContract {
            id: contract.clone(),
            publisher,
        });
        // `also`: more lines of the same purchase, in other metrics.
        let mut lines = vec![(metric, quantity)];
        if let Some(also) = self.map.get("also") {
            let Value::Array(items) = also else {
                return Err(format!("field `also` must be a list, not `{also}`").into());
            };
            for item in items {
                let Value::Object(map) = item else {
                    return Err(format!("`also` holds `{item}`, not a map").into());
                };
                let line = Resolver {
                    map,
                    fresh: HashSet::new(),
                    ..*self
                };
                lines.push((line.metric()?, line.count("quantity")?));
            }
        }
        for (metric, quantity) in lines {
            steps.push(Step::Change(Change::Purchase(NewEntitlement {
                id: self.fresh_id("remedy-entitlement"),
                contract: contract.clone(),
                product: product.clone(),
                metric,
                quantity,
                end: None,
                maintenance_end: None,
            })));
        }
        Ok(steps)
    }

    /// `rescan {device}`: the device reports its inventory on the as-of date.
    fn rescan(&mut self) -> Result<Vec<Step>, Why> {
        let device = self.listed_device()?;
        Ok(vec![Step::Seen { device }])
    }

    /// `retire_device {device}`: the device leaves the estate, with
    /// everything installed on it.
    fn retire_device(&mut self) -> Result<Vec<Step>, Why> {
        let device = self.listed_device()?;
        Ok(vec![Step::Retire { device }])
    }

    fn listed_device(&self) -> Result<String, Why> {
        let device = self.subject_or("device", "device")?;
        if self
            .snap
            .sym(&device)
            .and_then(|d| self.snap.device(d))
            .is_none()
        {
            return Err(format!("device `{device}` is not listed").into());
        }
        Ok(device)
    }

    /// `collect_data {items: [#{field, metric, devices}]}`: the inventory
    /// data each item names arrives (see [`Step::Collect`]).
    fn collect_data(&mut self) -> Result<Vec<Step>, Why> {
        let product = self.product("product")?;
        let Some(Value::Array(items)) = self.map.get("items") else {
            return Err("field `items` must be a list of what to collect"
                .to_string()
                .into());
        };
        if items.is_empty() {
            return Err("`items` is empty".to_string().into());
        }
        let mut steps = Vec::new();
        for item in items {
            let Value::Object(map) = item else {
                return Err(format!("`items` holds `{item}`, not a map").into());
            };
            let item = Resolver {
                map,
                fresh: HashSet::new(),
                ..*self
            };
            let field = match item.text("field")?.as_str() {
                "cores" => Field::Cores,
                "sockets" => Field::Sockets,
                "user" => Field::User,
                "usage" => Field::Usage(item.metric()?),
                other => {
                    return Err(format!(
                        "`{other}` is not a field trueup can collect (cores, sockets, user, usage)"
                    )
                    .into())
                }
            };
            let devices = match field {
                Field::Cores | Field::Sockets => item.devices()?,
                _ => Vec::new(),
            };
            steps.push(Step::Collect {
                product: product.clone(),
                field,
                devices,
            });
        }
        Ok(steps)
    }

    /// `reharvest` and `reduce_at_renewal {metric, quantity}`: the
    /// product's valid entitlements in the metric are lowered (the last in
    /// file order first).
    fn lower(&mut self) -> Result<Vec<Step>, Why> {
        let product = self.product("product")?;
        let metric = self.metric()?;
        let quantity = self.count("quantity")?;
        Ok(self
            .take(&product, metric, quantity)?
            .into_iter()
            .map(|(entitlement, by)| Step::Lower { entitlement, by })
            .collect())
    }

    /// `quantity` licences out of `product`'s valid entitlements in
    /// `metric`, the last in file order first: `(entitlement, how many)`.
    fn take(
        &self,
        product: &str,
        metric: Metric,
        quantity: u64,
    ) -> Result<Vec<(String, u64)>, Why> {
        if metric == Metric::Site {
            return Err("a site licence has no quantity to take".to_string().into());
        }
        let snap = self.snap;
        let valid: Vec<&Entitlement> = snap
            .sym(product)
            .into_iter()
            .flat_map(|p| snap.entitlements_of(p))
            .filter(|e| e.metric == metric && snap.entitlement_valid(e, self.as_of))
            .collect();
        let entitled = valid
            .iter()
            .map(|e| e.quantity)
            .fold(0, u64::saturating_add);
        if entitled < quantity {
            return Err(format!(
                "`{product}` has {entitled} valid {} licences on {}, fewer than {quantity}",
                metric.as_str(),
                self.as_of
            )
            .into());
        }
        let mut left = quantity;
        let mut out = Vec::new();
        for e in valid.iter().rev() {
            if left == 0 {
                break;
            }
            let n = e.quantity.min(left);
            if n > 0 {
                out.push((snap.str(e.id).to_string(), n));
                left -= n;
            }
        }
        Ok(out)
    }

    /// `uninstall {devices}`: the product's installations on those devices
    /// are removed, whatever their dates; for a finding about a device and
    /// no `product`, every installation on them.
    fn uninstall(&mut self) -> Result<Vec<Step>, Why> {
        let devices = self.devices()?;
        if let Some(n) = self.opt_count("quantity")? {
            if n != devices.len() as u64 {
                return Err(
                    format!("`quantity` is {n} but `devices` lists {}", devices.len()).into(),
                );
            }
        }
        let snap = self.snap;
        let named = self.opt_text("product")?;
        let product = match named {
            Some(p) => Some(p),
            None if self.finding.subject.kind == "device" => None,
            None => Some(self.product("product")?),
        };
        // What each device has installed, on any date (of the product
        // alone, when there is one).
        let mut installed: std::collections::HashMap<Sym, Vec<Sym>> = Default::default();
        let installations = match &product {
            Some(p) => snap.sym(p).map_or(&[][..], |p| snap.installations_of(p)),
            None => &snap.installations[..],
        };
        for i in installations {
            installed.entry(i.device).or_default().push(i.product);
        }
        let mut products: Vec<Sym> = Vec::new();
        for d in &devices {
            match snap.sym(d).and_then(|d| installed.get(&d)) {
                Some(found) => products.extend(found),
                None => {
                    let what = product
                        .as_deref()
                        .map_or("anything".to_string(), |p| format!("`{p}`"));
                    return Err(format!("device `{d}` has no installation of {what}").into());
                }
            }
        }
        products.sort_by(|a, b| snap.str(*a).cmp(snap.str(*b)));
        products.dedup();
        Ok(products
            .into_iter()
            .map(|p| {
                Step::Change(Change::Uninstall {
                    product: snap.str(p).to_string(),
                    devices: devices.clone(),
                })
            })
            .collect())
    }

    /// `register_device {device}`: the device joins the device list.
    fn register_device(&mut self) -> Result<Vec<Step>, Why> {
        let device = self.subject_or("device", "device")?;
        if self
            .snap
            .sym(&device)
            .and_then(|d| self.snap.device(d))
            .is_some()
        {
            return Err(format!("device `{device}` is already listed").into());
        }
        Ok(vec![Step::RegisterDevice { device }])
    }

    /// `renew_maintenance {entitlement}`: maintenance runs [`RENEWAL_DAYS`]
    /// past its current end, or past the as-of date if it already ended.
    fn renew_maintenance(&mut self) -> Result<Vec<Step>, Why> {
        let entitlement = self.subject_or("entitlement", "entitlement")?;
        let e = self
            .snap
            .sym(&entitlement)
            .and_then(|e| self.snap.entitlement(e))
            .ok_or_else(|| format!("unknown entitlement `{entitlement}`"))?;
        let end = e
            .maintenance_end
            .ok_or_else(|| format!("entitlement `{entitlement}` has no maintenance to renew"))?;
        Ok(vec![Step::Maintenance {
            entitlement,
            until: end.max(self.as_of) + RENEWAL_DAYS,
        }])
    }

    /// `grace_period {days}`: a waiver of this finding until as-of + days.
    fn grace_period(&mut self) -> Result<Waiver, Why> {
        let days = self.count("days")?;
        let expires = i64::try_from(days)
            .ok()
            .and_then(|d| self.as_of.checked_add_days(d))
            .ok_or_else(|| format!("`days` ({days}) runs past the last date trueup knows"))?;
        let f = self.finding;
        Ok(Waiver::exact(
            &f.rule,
            &f.subject.id,
            &format!("grace period of {days} days"),
            GRACE_APPROVER,
            expires,
        ))
    }

    /// A field naming a product, or the finding's subject when it is one.
    fn product(&self, key: &str) -> Result<String, Why> {
        let product = self.subject_or(key, "product")?;
        let snap = self.snap;
        let known = snap
            .sym(&product)
            .is_some_and(|p| snap.product(p).is_some() || !snap.installations_of(p).is_empty());
        if !known {
            return Err(format!("unknown product `{product}`").into());
        }
        Ok(product)
    }

    /// Field `key`, or the finding's subject id when its kind is `kind`.
    fn subject_or(&self, key: &str, kind: &str) -> Result<String, Why> {
        if let Some(v) = self.opt_text(key)? {
            return Ok(v);
        }
        let s = &self.finding.subject;
        if s.kind == kind {
            return Ok(s.id.clone());
        }
        Err(format!(
            "field `{key}` is missing, and the finding is about a {} (`{}`), not a {kind}",
            s.kind, s.id
        )
        .into())
    }

    fn opt_text(&self, key: &str) -> Result<Option<String>, Why> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(format!("field `{key}` must be text, not `{v}`").into()),
        }
    }

    fn text(&self, key: &str) -> Result<String, Why> {
        self.opt_text(key)?
            .ok_or_else(|| format!("field `{key}` is missing").into())
    }

    /// A whole number of at least 1.
    fn opt_count(&self, key: &str) -> Result<Option<u64>, Why> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => Err(
                    format!("field `{key}` must be a whole number of at least 1, not `{v}`").into(),
                ),
            },
        }
    }

    fn count(&self, key: &str) -> Result<u64, Why> {
        self.opt_count(key)?
            .ok_or_else(|| format!("field `{key}` is missing").into())
    }

    fn metric(&self) -> Result<Metric, Why> {
        let m = self.text("metric")?;
        // A profile metric is checked against the playbook's profiles when
        // the changed snapshot is evaluated.
        Metric::known(&m).ok_or_else(|| {
            format!(
                "`{m}` is not a metric (one of {}, or a metric profile)",
                Metric::NAMES.join(", ")
            )
            .into()
        })
    }

    /// `devices`: a non-empty list of distinct device ids.
    fn devices(&self) -> Result<Vec<String>, Why> {
        let Some(Value::Array(items)) = self.map.get("devices") else {
            return Err("field `devices` must be a list of device ids"
                .to_string()
                .into());
        };
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(items.len());
        for v in items {
            let d = v
                .as_str()
                .ok_or_else(|| format!("`devices` holds `{v}`, not a device id"))?;
            if !seen.insert(d) {
                return Err(format!("`devices` lists `{d}` twice").into());
            }
            out.push(d.to_string());
        }
        if out.is_empty() {
            return Err("`devices` is empty".to_string().into());
        }
        Ok(out)
    }

    /// `prefix-N`: the first the snapshot does not mention and this option
    /// has not used.
    fn fresh_id(&mut self, prefix: &str) -> String {
        let id = (1u64..)
            .map(|n| format!("{prefix}-{n}"))
            .find(|id| self.snap.sym(id).is_none() && !self.fresh.contains(id))
            .expect("some number is free");
        self.fresh.insert(id.clone());
        id
    }
}
