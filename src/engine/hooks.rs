//! The hooks that run for each finding after the rules: `remediate` beside
//! the rule that produced it, then routers in path order.

use rhai::{Dynamic, ImmutableString, Map};

use super::{call, to_json, Finding};
use crate::date::Date;
use crate::diag::Diagnostic;
use crate::policy::host::Inventory;
use crate::policy::sandbox::{depth_within, Watchdog};
use crate::policy::{Module, Playbook};
use crate::routing::{parse_answer, RouteSpec};

/// Adds remediation options and the route to a finding.
pub fn finish(
    playbook: &Playbook,
    inv: &Inventory,
    watch: &Watchdog,
    f: &mut Finding,
    opened: Date,
) -> Result<(), Diagnostic> {
    let max_depth = playbook.limits.max_value_depth;
    let mut ctx = context(inv, f, opened);
    if let Some(rule) = playbook.rule(&f.rule).filter(|m| m.defines("remediate")) {
        let context = format!("while computing remediation for `{}`", f.id);
        let out = call(
            playbook,
            rule,
            watch,
            "remediate",
            (Dynamic::from(ctx.clone()), Dynamic::from(inv.clone())),
            &context,
        )?;
        f.remediation = remediation(&out, max_depth)
            .map_err(|msg| hook_error(rule, "remediate", &format!("{context}: {msg}")))?;
        let options: rhai::Array = out.into_array().unwrap_or_default();
        ctx.insert("remediation".into(), Dynamic::from(options));
    } else {
        ctx.insert("remediation".into(), Dynamic::from(rhai::Array::new()));
    }
    let ctx = Dynamic::from(ctx);
    for router in playbook.routers() {
        let context = format!("while routing `{}`", f.id);
        let answer = call(playbook, router, watch, "route", (ctx.clone(),), &context)?;
        if depth_within(&answer, max_depth).is_none() {
            let msg = format!("{context}: the answer nests deeper than {max_depth} levels");
            return Err(hook_error(router, "route", &msg));
        }
        let spec = parse_answer(&answer)
            .map_err(|msg| hook_error(router, "route", &format!("{context}: {msg}")))?;
        if let Some(spec) = spec {
            f.route = Some(spec.dated(opened, Some(&router.path)));
            return Ok(());
        }
    }
    f.route = Some(RouteSpec::unrouted().dated(opened, None));
    Ok(())
}

/// The finding as hooks see it: what the rule built, plus its id, rule, the
/// day it opened, and the product context routers decide on.
fn context(inv: &Inventory, f: &Finding, opened: Date) -> Map {
    let snap = inv.snapshot();
    let text = |s: &str| Dynamic::from(ImmutableString::from(s));
    let mut m = f.raw.clone();
    m.insert("id".into(), text(&f.id));
    m.insert("rule".into(), text(&f.rule));
    m.insert("opened".into(), Dynamic::from(opened));
    let product_id = match f.subject.kind.as_str() {
        "product" => Some(f.subject.id.clone()),
        "entitlement" => snap
            .sym(&f.subject.id)
            .and_then(|s| snap.entitlement(s))
            .map(|e| snap.str(e.product).to_string()),
        _ => f
            .evidence
            .get("product")
            .and_then(|p| p.as_str())
            .map(str::to_string),
    };
    let product = product_id
        .as_deref()
        .and_then(|id| snap.sym(id))
        .and_then(|s| snap.product(s));
    let publisher = product.and_then(|p| p.publisher);
    // An audit clause: some contract with this publisher gives notice days.
    let audit_clause = publisher.is_some_and(|p| {
        snap.contracts
            .iter()
            .any(|c| c.publisher == Some(p) && c.audit_notice_days.is_some())
    });
    m.insert(
        "product".into(),
        product_id.as_deref().map_or(Dynamic::UNIT, text),
    );
    m.insert(
        "publisher".into(),
        publisher.map_or(Dynamic::UNIT, |p| text(snap.str(p))),
    );
    m.insert(
        "risk_tier".into(),
        text(product.map_or(
            if product_id.is_some() {
                "high"
            } else {
                "medium"
            },
            |p| p.risk_tier.as_str(),
        )),
    );
    m.insert("audit_clause".into(), Dynamic::from(audit_clause));
    m
}

fn remediation(out: &Dynamic, max_depth: usize) -> Result<Vec<serde_json::Value>, String> {
    if out.is_unit() {
        return Ok(Vec::new());
    }
    if depth_within(out, max_depth + 1).is_none() {
        return Err(format!(
            "remediation options nest deeper than {max_depth} levels"
        ));
    }
    let Some(items) = out.read_lock::<rhai::Array>() else {
        return Err(format!(
            "`remediate` must return an array of options, returned {}",
            out.type_name()
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ok = item
                .read_lock::<Map>()
                .is_some_and(|m| m.get("action").is_some_and(Dynamic::is_string));
            if ok {
                Ok(to_json(item))
            } else {
                Err(format!(
                    "remediation option {} must be a map with a text `action`",
                    i + 1
                ))
            }
        })
        .collect()
}

/// An error about what a hook returned, at the line where the hook is defined.
fn hook_error(module: &Module, name: &str, message: &str) -> Diagnostic {
    let line = module.fn_line(name);
    Diagnostic::error(&module.path, line, u32::from(line > 0), message).with_source(&module.source)
}
