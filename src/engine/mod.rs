//! Evaluation: a playbook against a snapshot on an as-of date → findings.
//!
//! Rules run in parallel over one shared, read-only snapshot; each rule's
//! findings are checked and converted to [`Finding`]s here, so reports never
//! see script values. Every rule that fails is reported, then the run fails.

mod finding;
mod hooks;

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use rhai::{CallFnOptions, Dynamic, Map};

pub use finding::*;

use crate::date::Date;
use crate::diag::{Diagnostic, Diagnostics};
use crate::inventory::position::positions_with;
use crate::inventory::{Position, Snapshot};
use crate::policy::error::script_error;
use crate::policy::host::Inventory;
use crate::policy::sandbox::{self, Watch, Watchdog};
use crate::policy::{Module, Playbook};
use crate::waivers::{WaiverSet, WaiverSummary};

/// The result of evaluating one snapshot.
pub struct Evaluation {
    pub snapshot: Arc<Snapshot>,
    pub as_of: Date,
    pub positions: Arc<Vec<Position>>,
    /// Sorted by severity (worst first), rule, then subject.
    pub findings: Vec<Finding>,
    pub waivers: WaiverSummary,
}

impl Evaluation {
    /// Findings no router answered for.
    pub fn unrouted(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.route.as_ref().is_some_and(|r| r.router.is_none()))
            .count()
    }
}

/// What an evaluation needs besides the playbook and snapshot.
#[derive(Clone, Copy, Default)]
pub struct EvalOptions<'a> {
    /// Evaluate as of this date instead of the snapshot's `taken_at`.
    pub as_of: Option<Date>,
    pub waivers: Option<&'a WaiverSet>,
    /// When each finding opened, for route dates; a finding not listed opens
    /// on the as-of date.
    pub opened: Option<&'a HashMap<String, Date>>,
}

/// Evaluates `playbook` against `snapshot`: rules, then remediation, routing
/// and waivers for each finding.
pub fn evaluate(
    playbook: &Playbook,
    snapshot: Arc<Snapshot>,
    opts: EvalOptions,
) -> Result<Evaluation, Diagnostics> {
    let as_of = opts.as_of.unwrap_or(snapshot.meta.taken_at);
    let unknown = playbook.profiles.check(&snapshot);
    if !unknown.is_empty() {
        return Err(Diagnostics(unknown));
    }
    let positions = Arc::new(positions_with(&snapshot, as_of, &playbook.profiles));
    let waivers = opts.waivers.map(|w| Arc::new(w.clone()));
    let inv = Inventory::new(
        snapshot.clone(),
        as_of,
        positions.clone(),
        waivers,
        playbook.profiles.clone(),
    );
    // One deadline for every script of this evaluation.
    let watch = Watch::start(playbook.limits.max_run_time);
    let mut findings = sandbox::run(|| run_scripts(playbook, &inv, &watch, opts.opened, as_of))?;
    locate(&snapshot, &mut findings);
    let waivers = opts
        .waivers
        .map(|w| w.apply(&mut findings, as_of))
        .unwrap_or_default();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    Ok(Evaluation {
        snapshot,
        as_of,
        positions,
        findings,
        waivers,
    })
}

/// Every rule, then the hooks of every finding.
fn run_scripts(
    playbook: &Playbook,
    inv: &Inventory,
    watch: &Watchdog,
    opened: Option<&HashMap<String, Date>>,
    as_of: Date,
) -> Result<Vec<Finding>, Diagnostics> {
    let rules: Vec<&Module> = playbook.rules().collect();
    let results: Vec<Result<Vec<Finding>, Diagnostic>> = rules
        .par_iter()
        .map(|m| run_rule(playbook, m, inv, watch))
        .collect();
    let mut diags = Diagnostics::default();
    let mut findings = Vec::new();
    for r in results {
        match r {
            Ok(f) => findings.extend(f),
            Err(d) => diags.push(d),
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let hook_errors: Vec<Diagnostic> = findings
        .par_iter_mut()
        .filter_map(|f| {
            let opened = opened.and_then(|o| o.get(&f.id).copied()).unwrap_or(as_of);
            hooks::finish(playbook, inv, watch, f, opened).err()
        })
        .collect();
    if !hook_errors.is_empty() {
        let mut hook_errors = hook_errors;
        hook_errors
            .sort_by(|a, b| (&a.file, a.line, &a.message).cmp(&(&b.file, b.line, &b.message)));
        hook_errors.dedup();
        return Err(Diagnostics(hook_errors));
    }
    Ok(findings)
}

/// Calls a script function with the module's constants in scope.
pub(crate) fn call(
    playbook: &Playbook,
    module: &Module,
    watch: &Watchdog,
    name: &str,
    args: impl rhai::FuncArgs,
    context: &str,
) -> Result<Dynamic, Diagnostic> {
    let _watch = watch.enter();
    let mut scope = rhai::Scope::new();
    let mut options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
    options.tag = Some(module.constants_tag());
    // A panic inside the script engine must not take trueup down with it.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::policy::sandbox::quiet_panics(|| {
            playbook.engine.call_fn_with_options::<Dynamic>(
                options,
                &mut scope,
                &module.ast,
                name,
                args,
            )
        })
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(crate::policy::error::engine_panic(&what))
    });
    result.map_err(|e| {
        let d = script_error(
            &module.path,
            &module.source,
            &e,
            context,
            playbook.engine.max_operations(),
        );
        if d.line > 0 {
            return d;
        }
        // Rhai gives no position for some errors (limits): point at the function.
        let line = module.fn_line(name);
        Diagnostic {
            line,
            column: 1,
            ..d
        }
        .with_source(&module.source)
    })
}

fn run_rule(
    playbook: &Playbook,
    module: &Module,
    inv: &Inventory,
    watch: &Watchdog,
) -> Result<Vec<Finding>, Diagnostic> {
    let rule = module.rule_id();
    let context = format!("while evaluating rule `{rule}`");
    let out = call(
        playbook,
        module,
        watch,
        "check",
        (Dynamic::from(inv.clone()),),
        &context,
    )?;
    let line = module.fn_line("check");
    let fail = |msg: String| {
        Diagnostic::error(
            &module.path,
            line,
            u32::from(line > 0),
            format!("{context}: {msg}"),
        )
        .with_source(&module.source)
    };
    let out = match out.try_cast_result::<crate::policy::host::FindingList>() {
        Ok(list) => Dynamic::from(list.0),
        Err(out) => out,
    };
    let items = out.into_array().map_err(|t| {
        fail(format!(
            "`check` must return an array of findings, returned {}",
            crate::policy::error::plain_type(t)
        ))
    })?;
    let mut findings = Vec::with_capacity(items.len());
    let mut seen = HashMap::new();
    for item in items {
        let type_name = crate::policy::error::plain_type(item.type_name());
        let raw: Map = item
            .try_cast::<Map>()
            .ok_or_else(|| fail(format!("`check` returned {type_name} where a finding was expected; build findings with `finding(#{{...}})`")))?;
        let f = to_finding(&rule, module, raw, playbook.limits.max_value_depth).map_err(fail)?;
        if seen.insert(f.id.clone(), ()).is_some() {
            return Err(fail(format!(
                "two findings have the same id `{}`; one finding per subject",
                f.id
            )));
        }
        findings.push(f);
    }
    Ok(findings)
}

fn to_finding(
    rule: &str,
    module: &Module,
    mut raw: Map,
    max_depth: usize,
) -> Result<Finding, String> {
    crate::policy::host::validate_finding(&raw, max_depth)?;
    raw.entry("evidence".into())
        .or_insert_with(|| Dynamic::from(Map::new()));
    let text = |m: &Map, k: &str| m.get(k).filter(|v| v.is_string()).map(|v| v.to_string());
    let subject_map = raw
        .get("subject")
        .and_then(|s| s.read_lock::<Map>().map(|m| m.clone()))
        .ok_or("a finding has no `subject` map; build findings with `finding(#{...})`")?;
    let subject = Subject {
        kind: text(&subject_map, "kind").ok_or("a finding subject has no text `kind`")?,
        id: text(&subject_map, "id").ok_or("a finding subject has no text `id`")?,
    };
    let severity = text(&raw, "severity")
        .and_then(|s| Severity::parse(&s))
        .ok_or("a finding has no valid `severity`")?;
    let message = text(&raw, "message").ok_or("a finding has no text `message`")?;
    let evidence = raw.get("evidence").map_or(serde_json::json!({}), to_json);
    Ok(Finding {
        id: format!("{rule}:{}:{}", subject.kind, subject.id),
        rule: rule.to_string(),
        policy: module.path.clone(),
        severity,
        subject,
        message,
        evidence,
        route: None,
        remediation: Vec::new(),
        waiver: None,
        location: None,
        case: None,
        raw,
    })
}

/// Points each finding at the snapshot line of the record it is about.
fn locate(snap: &Snapshot, findings: &mut [Finding]) {
    let mut first_install_line: Option<HashMap<crate::inventory::Sym, u32>> = None;
    for f in findings.iter_mut() {
        let Some(sym) = snap.sym(&f.subject.id) else {
            continue;
        };
        let listed = match f.subject.kind.as_str() {
            "product" => snap.product(sym).map(|p| p.line),
            "contract" => snap.contract(sym).map(|c| c.line),
            "entitlement" => snap.entitlement(sym).map(|e| e.line),
            "device" => snap.device(sym).map(|d| d.line),
            "user" => snap.user(sym).map(|u| u.line),
            _ => None,
        };
        let line = listed.or_else(|| match f.subject.kind.as_str() {
            // Unlisted products and devices are known only from their installations.
            "product" => snap.installations_of(sym).iter().map(|i| i.line).min(),
            "device" => first_install_line
                .get_or_insert_with(|| {
                    let mut m: HashMap<_, u32> = HashMap::new();
                    for i in &snap.installations {
                        let e = m.entry(i.device).or_insert(i.line);
                        *e = (*e).min(i.line);
                    }
                    m
                })
                .get(&sym)
                .copied(),
            _ => None,
        });
        f.location = line.map(|line| Location {
            file: snap.path.clone(),
            line,
        });
    }
}
