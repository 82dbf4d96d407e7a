//! The default playbook's promise about remediation: each option a rule
//! offers for a finding, applied alone, clears that finding.
//!
//! For `examples/acme.yaml` and a generated snapshot, every open finding's
//! every option is applied (`trueup::remedy`) to a copy of the snapshot and
//! the playbook evaluated again on the same as-of date: the finding (same
//! id) must be gone, or waived for a `grace_period`. An action that only
//! records a decision (`remedy::DECISIONS`) must sit beside an option that
//! changes the inventory and clears the finding. An action without a meaning
//! fails the test by name.
//!

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{json, Value};

use trueup::date::Date;
use trueup::engine::{evaluate, EvalOptions, Evaluation, Finding};
use trueup::inventory::{self, Snapshot};
use trueup::policy::{Limits, Playbook};
use trueup::remedy::{self, Effect, RemedyError};
use trueup::waivers::WaiverSet;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn playbook() -> Playbook {
    Playbook::load(&root().join("policies"), Limits::default()).expect("the default playbook loads")
}

/// The waivers the default playbook uses when none are named.
fn waivers() -> Option<WaiverSet> {
    let policies = root().join("policies");
    trueup::waivers::locate(None, &policies)
        .expect("waivers file located")
        .map(|p| WaiverSet::load(&p).expect("waivers load"))
}

fn acme() -> Snapshot {
    inventory::load(&root().join("examples/acme.yaml")).expect("acme loads")
}

/// Installations in the generated snapshot: the generator's mix of every
/// finding, small enough that a debug build tries every option in seconds.
const GENERATED_INSTALLATIONS: usize = 5_000;
const GENERATED_SEED: u64 = 7;

/// The generated snapshot; with `publisher_metrics`, a third of its
/// products on the shipped metric profiles.
fn generated(publisher_metrics: bool) -> Snapshot {
    let mut text = Vec::new();
    trueup::generate::write_snapshot(
        &mut text,
        trueup::generate::Params {
            installations: GENERATED_INSTALLATIONS,
            seed: GENERATED_SEED,
            publisher_metrics,
        },
    )
    .expect("generated");
    let text = String::from_utf8(text).expect("utf-8");
    let name = format!("generated-{GENERATED_INSTALLATIONS}-seed-{GENERATED_SEED}.yaml");
    inventory::load::parse(Path::new(&name), &text).expect("the generated snapshot loads")
}

fn eval(
    playbook: &Playbook,
    snap: Arc<Snapshot>,
    waivers: Option<&WaiverSet>,
    as_of: Date,
) -> Evaluation {
    evaluate(
        playbook,
        snap,
        EvalOptions {
            as_of: Some(as_of),
            waivers,
            opened: None,
        },
    )
    .unwrap_or_else(|d| panic!("evaluation fails: {d:?}"))
}

fn is_open(f: &Finding) -> bool {
    !f.is_waived()
}

/// What became of one option.
enum Outcome {
    /// It cleared the finding (by changing the inventory, or by a waiver).
    Cleared { changed: bool },
    /// It records a decision; nothing to check.
    Decision,
    /// It did not clear the finding: why.
    Failed(String),
    /// Its action has no meaning.
    Unknown,
}

/// One option of one finding, tried.
struct Tried {
    snapshot: String,
    finding: String,
    rule: String,
    index: usize,
    option: Value,
    action: String,
    outcome: Outcome,
}

impl Tried {
    fn describe(&self, what: &str) -> String {
        format!(
            "{}: finding `{}`: option {} {}: {what}",
            self.snapshot,
            self.finding,
            self.index + 1,
            self.option
        )
    }
}

/// Applies `option` of `f` to a copy of the snapshot and re-evaluates.
fn try_option(
    playbook: &Playbook,
    base: &Evaluation,
    waivers: Option<&WaiverSet>,
    f: &Finding,
    option: &Value,
) -> Outcome {
    let r = match remedy::resolve(&base.snapshot, f, option, base.as_of) {
        Ok(r) => r,
        Err(RemedyError::UnknownAction(_)) => return Outcome::Unknown,
        Err(e) => return Outcome::Failed(format!("cannot be applied: {e}")),
    };
    if r.is_decision() {
        return Outcome::Decision;
    }
    let mut snap = (*base.snapshot).clone();
    let mut w = waivers.cloned();
    r.apply(&mut snap, &mut w, base.as_of);
    let after = eval(playbook, Arc::new(snap), w.as_ref(), base.as_of);
    let again = after.findings.iter().find(|g| g.id == f.id);
    match (&r.effect, again) {
        (Effect::Waive(_), Some(g)) if g.is_waived() => Outcome::Cleared { changed: false },
        (Effect::Waive(_), Some(g)) => Outcome::Failed(format!(
            "the finding is still open, not waived: {}",
            g.message
        )),
        (Effect::Waive(_), None) => {
            Outcome::Failed("a waiver made the finding disappear instead of waiving it".into())
        }
        (_, Some(g)) if is_open(g) => Outcome::Failed(format!("still open: {}", g.message)),
        _ => Outcome::Cleared { changed: true },
    }
}

/// Every option of every open finding of `snap`, tried.
fn try_all(name: &str, playbook: &Playbook, snap: Snapshot) -> Vec<Tried> {
    let waivers = waivers();
    let as_of = snap.meta.taken_at;
    let base = eval(playbook, Arc::new(snap), waivers.as_ref(), as_of);
    let jobs: Vec<(&Finding, usize, &Value)> = base
        .findings
        .iter()
        .filter(|f| is_open(f))
        .flat_map(|f| {
            f.remediation
                .iter()
                .enumerate()
                .map(move |(i, o)| (f, i, o))
        })
        .collect();
    assert!(!jobs.is_empty(), "{name}: no finding offers an option");
    jobs.into_par_iter()
        .map(|(f, index, option)| Tried {
            snapshot: name.to_string(),
            finding: f.id.clone(),
            rule: f.rule.clone(),
            index,
            option: option.clone(),
            action: option["action"].as_str().unwrap_or("").to_string(),
            outcome: try_option(playbook, &base, waivers.as_ref(), f, option),
        })
        .collect()
}

#[test]
fn each_option_alone_clears_its_finding() {
    let playbook = playbook();
    let mut tried = try_all("examples/acme.yaml", &playbook, acme());
    let generated_name = format!(
        "generated snapshot ({GENERATED_INSTALLATIONS} installations, seed {GENERATED_SEED})"
    );
    tried.extend(try_all(&generated_name, &playbook, generated(false)));
    tried.extend(try_all(
        &format!("{generated_name} on publisher metrics"),
        &playbook,
        generated(true),
    ));

    let mut unknown = Vec::new();
    // (rule, action) → what failed.
    let mut failing: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    // Finding → whether an option that changes the inventory cleared it,
    // and the decisions it offers.
    let mut findings: BTreeMap<(String, String), (bool, Vec<&Tried>)> = BTreeMap::new();
    for t in &tried {
        let pair = (t.rule.clone(), t.action.clone());
        seen.insert(pair.clone());
        let entry = findings
            .entry((t.snapshot.clone(), t.finding.clone()))
            .or_default();
        match &t.outcome {
            Outcome::Unknown => unknown.push(t.describe(&format!(
                "action `{}` has no meaning: give it one in src/remedy.rs and docs/reference.md",
                t.action
            ))),
            Outcome::Failed(why) => failing.entry(pair).or_default().push(t.describe(why)),
            Outcome::Cleared { changed } => entry.0 |= *changed,
            Outcome::Decision => entry.1.push(t),
        }
    }
    for (cleared, decisions) in findings.values() {
        for t in decisions.iter().filter(|_| !cleared) {
            failing
                .entry((t.rule.clone(), t.action.clone()))
                .or_default()
                .push(t.describe(&format!(
                    "`{}` records a decision, and no option of the finding that changes the inventory clears it",
                    t.action
                )));
        }
    }
    assert!(unknown.is_empty(), "\n{}\n", unknown.join("\n"));

    let problems: Vec<String> = failing.into_values().flatten().collect();
    assert!(
        problems.is_empty(),
        "{} of {} options tried:\n{}\n",
        problems.len(),
        tried.len(),
        problems.join("\n")
    );
}

/// A one-product snapshot for trying meanings by hand: `app` is entitled
/// to 10 device licences under C-1 and installed on d1 to d3 and d9 (which
/// is not in the device list); its installation on d4 was removed in March.
fn small() -> Snapshot {
    let text = "\
trueup: 1
snapshot: { id: s, taken_at: 2026-06-01 }
products:
  - { id: app, name: App, publisher: acme }
contracts:
  - { id: C-1, publisher: acme, start: 2026-01-01 }
entitlements:
  - { id: E-1, contract: C-1, product: app, metric: device, quantity: 10, maintenance_end: 2026-07-01 }
devices:
  - { id: d1 }
  - { id: d2 }
  - { id: d3 }
  - { id: d4 }
installations:
  - { device: d1, product: app, installed_on: 2026-02-01 }
  - { device: d2, product: app, installed_on: 2026-02-01 }
  - { device: d3, product: app, installed_on: 2026-02-01 }
  - { device: d9, product: app, installed_on: 2026-02-01 }
  - { device: d4, product: app, installed_on: 2026-02-01, removed_on: 2026-03-01 }
";
    inventory::load::parse(Path::new("small.yaml"), text).expect("small loads")
}

/// A finding about `kind` `id` from rule `rule`, as the engine would hold it.
fn finding_about(rule: &str, kind: &str, id: &str) -> Finding {
    let playbook = playbook();
    let snap = small();
    let base = eval(&playbook, Arc::new(snap), None, date("2026-06-01"));
    let mut f = base
        .findings
        .into_iter()
        .next()
        .expect("the small snapshot has a finding");
    f.rule = rule.to_string();
    f.subject.kind = kind.to_string();
    f.subject.id = id.to_string();
    f.id = format!("{rule}:{kind}:{id}");
    f
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn applied(f: &Finding, option: Value) -> (Snapshot, Option<WaiverSet>) {
    let mut snap = small();
    let as_of = date("2026-06-01");
    let r = remedy::resolve(&snap, f, &option, as_of).unwrap_or_else(|e| panic!("{option}: {e}"));
    let mut w = None;
    r.apply(&mut snap, &mut w, as_of);
    (snap, w)
}

fn entitled(snap: &Snapshot, product: &str, on: Date) -> u64 {
    let p = snap.sym(product).unwrap();
    snap.entitlements_of(p)
        .filter(|e| snap.entitlement_valid(e, on))
        .map(|e| e.quantity)
        .sum()
}

#[test]
fn a_purchase_adds_a_valid_entitlement_under_a_new_contract() {
    let f = finding_about("overuse", "product", "app");
    let (snap, _) = applied(
        &f,
        json!({ "action": "purchase", "metric": "device", "quantity": 5 }),
    );
    // 10 entitled before, 5 bought, valid from the as-of date (not before).
    assert_eq!(entitled(&snap, "app", date("2026-06-01")), 15);
    assert_eq!(entitled(&snap, "app", date("2026-05-31")), 10);
    let e = snap.entitlements.last().unwrap();
    let c = snap.contract(e.contract).unwrap();
    assert_ne!(snap.str(c.id), "C-1");
    assert_eq!(c.publisher.map(|p| snap.str(p)), Some("acme"));
    assert!(c.exempt_environments.is_empty());
}

#[test]
fn a_purchase_of_an_unlisted_product_lists_it() {
    let f = finding_about("unlicensed", "product", "app");
    let mut snap = small();
    let as_of = date("2026-06-01");
    // `ghost` is known from an installation only.
    snap.installations
        .push(trueup::inventory::model::Installation {
            device: snap.sym("d1").unwrap(),
            product: snap.strings.intern("ghost"),
            version: None,
            installed_on: None,
            removed_on: None,
            user: None,
            discovered_by: None,
            line: 0,
        });
    snap.reindex();
    let option =
        json!({ "action": "purchase", "product": "ghost", "metric": "device", "quantity": 1 });
    let r = remedy::resolve(&snap, &f, &option, as_of).unwrap();
    r.apply(&mut snap, &mut None, as_of);
    let ghost = snap.sym("ghost").unwrap();
    assert!(snap.product(ghost).is_some());
    assert_eq!(entitled(&snap, "ghost", as_of), 1);
}

#[test]
fn reharvest_and_reduce_at_renewal_lower_what_is_entitled() {
    let f = finding_about("shelfware", "product", "app");
    for action in ["reharvest", "reduce_at_renewal"] {
        let (snap, _) = applied(
            &f,
            json!({ "action": action, "metric": "device", "quantity": 7 }),
        );
        assert_eq!(entitled(&snap, "app", date("2026-06-01")), 3, "{action}");
    }
    let snap = small();
    let too_many = json!({ "action": "reharvest", "metric": "device", "quantity": 11 });
    let e = remedy::resolve(&snap, &f, &too_many, date("2026-06-01")).unwrap_err();
    assert!(e.to_string().contains("10 valid device licences"), "{e}");
}

#[test]
fn uninstall_removes_the_products_installations_on_the_devices() {
    let f = finding_about("overuse", "product", "app");
    let (snap, _) = applied(
        &f,
        json!({ "action": "uninstall", "devices": ["d1", "d9"], "quantity": 2 }),
    );
    let app = snap.sym("app").unwrap();
    let left: Vec<&str> = snap
        .installations_of(app)
        .iter()
        .map(|i| snap.str(i.device))
        .collect();
    assert_eq!(left, ["d2", "d3", "d4"]);
    // An installation already removed is removed from the record too: a
    // rule that counts installations by date sees it no more.
    let (snap, _) = applied(&f, json!({ "action": "uninstall", "devices": ["d4"] }));
    let app = snap.sym("app").unwrap();
    assert_eq!(snap.installations_of(app).len(), 4);
    // A device without the product is refused, by name.
    let snap = small();
    let bad = json!({ "action": "uninstall", "devices": ["d7"] });
    let e = remedy::resolve(&snap, &f, &bad, date("2026-06-01")).unwrap_err();
    assert!(
        e.to_string()
            .contains("device `d7` has no installation of `app`"),
        "{e}"
    );
}

#[test]
fn register_device_lists_it_and_renew_maintenance_extends_it() {
    let f = finding_about("undisclosed-deployment", "device", "d9");
    let (snap, _) = applied(&f, json!({ "action": "register_device", "device": "d9" }));
    assert!(snap.device(snap.sym("d9").unwrap()).is_some());

    let f = finding_about("maintenance-expiring", "entitlement", "E-1");
    let (snap, _) = applied(
        &f,
        json!({ "action": "renew_maintenance", "entitlement": "E-1" }),
    );
    let e = snap.entitlement(snap.sym("E-1").unwrap()).unwrap();
    // One year past 2026-07-01.
    assert_eq!(e.maintenance_end, Some(date("2027-07-01")));
}

#[test]
fn a_grace_period_waives_the_finding_until_as_of_plus_days() {
    let f = finding_about("overuse", "product", "app");
    let (_, w) = applied(&f, json!({ "action": "grace_period", "days": 30 }));
    let w = &w.expect("a waiver set").waivers[0];
    assert_eq!(w.expires, date("2026-07-01"));
    assert!(w.covers("overuse", "app"));
    assert!(!w.covers("overuse", "app2"));
}

#[test]
fn a_purchase_buys_every_line_it_lists() {
    let f = finding_about("overuse", "product", "app");
    let option = json!({ "action": "purchase", "metric": "device", "quantity": 2,
        "also": [{ "metric": "core", "quantity": 8 }] });
    let (snap, _) = applied(&f, option);
    let of = |m: trueup::inventory::Metric| -> u64 {
        snap.entitlements
            .iter()
            .filter(|e| e.metric == m)
            .map(|e| e.quantity)
            .sum()
    };
    assert_eq!(of(trueup::inventory::Metric::Device), 12);
    assert_eq!(of(trueup::inventory::Metric::Core), 8);
}

#[test]
fn rescan_and_retire_act_on_the_device() {
    let f = finding_about("stale-inventory", "device", "d1");
    let (snap, _) = applied(&f, json!({ "action": "rescan", "device": "d1" }));
    let d1 = snap.device(snap.sym("d1").unwrap()).unwrap();
    assert_eq!(d1.last_seen, Some(date("2026-06-01")));
    let (snap, _) = applied(&f, json!({ "action": "retire_device", "device": "d1" }));
    let d1 = snap.sym("d1").unwrap();
    assert!(snap.device(d1).is_none());
    assert!(snap.installations.iter().all(|i| i.device != d1));
    let snap = small();
    let e = remedy::resolve(
        &snap,
        &f,
        &json!({ "action": "rescan", "device": "d9" }),
        date("2026-06-01"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("device `d9` is not listed"), "{e}");
}

#[test]
fn collected_data_fills_every_gap_it_names() {
    let f = finding_about("incomplete-position", "product", "app");
    let option = json!({ "action": "collect_data", "items": [
        { "field": "cores", "metric": "core", "devices": ["d1", "d9"] },
        { "field": "user", "metric": "user" },
        { "field": "usage", "metric": "concurrent" },
    ] });
    let (snap, _) = applied(&f, option);
    for d in ["d1", "d9"] {
        let dev = snap
            .device(snap.sym(d).unwrap())
            .expect("listed or registered");
        assert_eq!(dev.cores, Some(1), "{d}");
    }
    let app = snap.sym("app").unwrap();
    assert!(snap.installations_of(app).iter().all(|i| i.user.is_some()));
    let usage = snap.usage_of(app);
    assert_eq!(usage.last().map(|u| u.period.as_str()), Some("2026-06"));
    let e = remedy::resolve(
        &small(),
        &f,
        &json!({ "action": "collect_data", "items": [{ "field": "colour" }] }),
        date("2026-06-01"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("`colour` is not a field"), "{e}");
}

#[test]
fn decisions_change_nothing_and_unknown_actions_are_named() {
    let f = finding_about("install-spike", "product", "app");
    let snap = small();
    let as_of = date("2026-06-01");
    for action in remedy::DECISIONS {
        let r = remedy::resolve(&snap, &f, &json!({ "action": action }), as_of).unwrap();
        assert!(r.is_decision(), "{action}");
    }
    let e = remedy::resolve(&snap, &f, &json!({ "action": "pray" }), as_of).unwrap_err();
    assert_eq!(e, RemedyError::UnknownAction("pray".into()));
    assert!(e.to_string().contains("unknown action `pray`"), "{e}");
    let e = remedy::resolve(
        &snap,
        &f,
        &json!({ "action": "purchase", "metric": "seat", "quantity": 1 }),
        as_of,
    )
    .unwrap_err();
    assert!(e.to_string().contains("`seat` is not a metric"), "{e}");
}
