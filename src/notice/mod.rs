//! Notices: letters, plans and audit responses written from one finding.
//!
//! Templates are playbook files (`templates/*.j2`, minijinja), so a team
//! words its own letters. Each renders Markdown from a context built here
//! from the finding, its product's licence position and contracts, and the
//! run's inputs; [`markup`] turns that Markdown into HTML or plain text.
//!
//! Undefined is strict: a template naming a field the context does not have
//! is an error at the template's file and line, never an empty gap in a
//! letter. Every value a template prints is escaped for Markdown, so a name
//! from a snapshot cannot add markup; templates hold wording, never numbers
//! (every figure comes from the context). Rendering reads no clock.

pub mod markup;

use std::path::{Path, PathBuf};

use minijinja::value::Value;
use minijinja::{Environment, Error, UndefinedBehavior};
use serde_json::{json, Value as Json};

use crate::diag::{Diagnostic, Diagnostics};
use crate::engine::{Evaluation, Finding};
use crate::policy::Playbook;

/// The playbook's folder of templates.
pub const DIR: &str = "templates";
/// A template's file extension.
pub const EXT: &str = "j2";
/// The template `trueup notice` renders when none is named.
pub const DEFAULT: &str = "notice";
/// Work one render may do (minijinja's fuel): a template that loops without
/// end stops with an error instead of hanging.
const FUEL: u64 = 5_000_000;
/// Largest template file read.
const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

/// One template file.
pub struct Template {
    /// The file's stem: `notice` for `templates/notice.j2`.
    pub name: String,
    pub path: PathBuf,
    pub source: String,
}

/// Every template of a playbook, compiled.
pub struct Templates {
    /// By name.
    pub list: Vec<Template>,
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            list: Vec::new(),
            env: environment(),
        }
    }
}

impl Templates {
    /// Reads and compiles `ROOT/templates/*.j2`; no folder is no templates.
    /// Every template that fails to compile is reported at its line.
    pub fn load(root: &Path) -> Result<Templates, Diagnostics> {
        let mut templates = Templates::default();
        let mut diags = Diagnostics::default();
        for path in files(root) {
            let source = match crate::yaml::read_text(&path, MAX_TEMPLATE_BYTES) {
                Ok(s) => s,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Err(e) = templates
                .env
                .add_template_owned(name.clone(), source.clone())
            {
                diags.push(diagnostic(&path, &source, &e));
                continue;
            }
            templates.list.push(Template { name, path, source });
        }
        diags.into_result(templates)
    }

    /// The template called `name`.
    pub fn get(&self, name: &str) -> Option<&Template> {
        self.list.iter().find(|t| t.name == name)
    }

    /// The names a user may render, in order: every template but those
    /// whose name starts with `_`, which hold macros the others import.
    pub fn names(&self) -> Vec<&str> {
        self.list
            .iter()
            .map(|t| t.name.as_str())
            .filter(|n| !n.starts_with('_'))
            .collect()
    }

    /// Renders template `name` with `context` into Markdown. An error (an
    /// undefined field, a filter given the wrong value, too much work) is
    /// reported at the file and line of the template where it happened.
    pub fn render(&self, name: &str, context: &Json) -> Result<String, Diagnostic> {
        let Some(template) = self.get(name) else {
            return Err(Diagnostic::error(
                Path::new(name),
                0,
                0,
                format!("no template `{name}`"),
            ));
        };
        let compiled = self
            .env
            .get_template(name)
            .map_err(|e| diagnostic(&template.path, &template.source, &e))?;
        compiled
            .render(Value::from(minijinja::value::Serde(context)))
            .map_err(|e| {
                // The error may be in a template this one includes or imports.
                let at = e.name().and_then(|n| self.get(n)).unwrap_or(template);
                let mut d = diagnostic(&at.path, &at.source, &e);
                match e.kind() {
                    minijinja::ErrorKind::UndefinedError => d = d.with_note(
                        "a template may use only the fields of the notice context: see the reference, section `Notices`",
                    ),
                    minijinja::ErrorKind::OutOfFuel => d = d.with_note(format!(
                        "a render may take at most {} steps: does a loop run longer than it should?",
                        crate::diag::thousands(FUEL)
                    )),
                    _ => {}
                }
                d
            })
    }
}

/// `ROOT/templates/*.j2`, in path order.
pub fn files(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join(DIR)) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == EXT))
        .collect();
    out.sort();
    out
}

fn diagnostic(path: &Path, source: &str, e: &Error) -> Diagnostic {
    let message = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    let line = e.line().unwrap_or(0) as u32;
    let d = Diagnostic::error(path, line, 0, message);
    if line > 0 {
        d.with_source(source)
    } else {
        d
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    // Values are escaped for Markdown by the formatter below; a custom
    // escape mode also marks what macros return as already escaped.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Custom("markdown".into()));
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            return Err(Error::from(minijinja::ErrorKind::UndefinedError));
        }
        let text = value.to_string();
        if value.is_safe() {
            out.write_str(&text).map_err(Error::from)?;
        } else {
            out.write_str(&markdown_escape(&text))
                .map_err(Error::from)?;
        }
        Ok(())
    });
    env.add_filter("percent", percent);
    env.add_filter("plural", plural);
    env
}

/// `{{ row.utilization | percent }}`: a ratio as a percentage, one decimal,
/// as `trueup position` prints it.
fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// `{{ "device" | plural(n) }}`: the word, with an `s` unless `n` is 1.
fn plural(word: String, n: i64) -> String {
    if n == 1 {
        word
    } else {
        format!("{word}s")
    }
}

/// A value as Markdown text: characters that Markdown reads as markup are
/// backslash-escaped, and control characters (a newline too) made visible,
/// so a name from a snapshot stays one piece of plain text.
pub fn markdown_escape(s: &str) -> String {
    let s = crate::report::escape::line(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What a template may use: see the reference, section `Notices`, which
/// lists every field. Top-level names are kept few and stable; more
/// (such as a case's history) can be added beside them.
pub fn context(
    playbook: &Playbook,
    eval: &Evaluation,
    f: &Finding,
    waivers: Option<&Path>,
) -> Json {
    let snap = &eval.snapshot;
    let product_id = crate::explain::product_of(f);
    let sym = product_id.as_deref().and_then(|p| snap.sym(p));
    let product = sym.and_then(|s| snap.product(s)).map(|p| {
        json!({
            "id": snap.str(p.id),
            "name": p.name,
            "publisher": p.publisher.map(|s| snap.str(s)),
            "risk_tier": p.risk_tier.as_str(),
        })
    });
    let product = match (product, &product_id) {
        (Some(p), _) => p,
        // Installed but not in the catalogue: its id is all there is.
        (None, Some(id)) => json!({ "id": id, "name": id, "publisher": null, "risk_tier": null }),
        (None, None) => Json::Null,
    };
    let positions: Vec<Json> = match &product_id {
        Some(id) => eval
            .positions
            .iter()
            .filter(|p| snap.str(p.product) == id)
            .map(|p| crate::report::position::position_json(id, p))
            .collect(),
        None => Vec::new(),
    };
    let entitlements: Vec<&crate::inventory::model::Entitlement> = sym
        .map(|s| {
            snap.entitlements
                .iter()
                .filter(|e| e.product == s)
                .collect()
        })
        .unwrap_or_default();
    let mut contract_ixs: Vec<usize> = entitlements.iter().map(|e| e.contract_ix).collect();
    if let Some(ends) = f.evidence.get("contracts").and_then(|c| c.as_array()) {
        for c in ends.iter().filter_map(|c| c.as_str()) {
            if let Some(ix) = snap.contracts.iter().position(|k| snap.str(k.id) == c) {
                contract_ixs.push(ix);
            }
        }
    }
    contract_ixs.sort_unstable();
    contract_ixs.dedup();
    let contracts: Vec<Json> = contract_ixs
        .into_iter()
        .map(|ix| {
            let c = &snap.contracts[ix];
            json!({
                "id": snap.str(c.id),
                "publisher": c.publisher.map(|s| snap.str(s)),
                "start": c.start,
                "end": c.end,
                "status": c.status.as_str(),
                "terminated_on": c.terminated_on,
                "true_up": c.true_up,
                "audit_notice_days": c.audit_notice_days,
                "valid": c.valid_on(eval.as_of),
            })
        })
        .collect();
    let entitlements: Vec<Json> = entitlements
        .into_iter()
        .map(|e| {
            json!({
                "id": snap.str(e.id),
                "contract": snap.str(e.contract),
                "metric": e.metric.as_str(),
                "quantity": e.quantity,
                "start": e.start,
                "end": e.end,
                "maintenance_end": e.maintenance_end,
                "perpetual": e.perpetual,
                "valid": snap.entitlement_valid(e, eval.as_of),
            })
        })
        .collect();
    let rule = playbook.rule(&f.rule);
    let mut finding = serde_json::to_value(f).expect("findings serialize");
    finding["snapshot"] = json!(snap.path);
    json!({
        "finding": finding,
        "rule": {
            "id": f.rule,
            "title": rule.and_then(|m| m.constant_str("TITLE")),
            "description": rule.and_then(|m| m.constant_str("DESCRIPTION")),
            "policy": f.policy,
        },
        "product": product,
        "positions": positions,
        "entitlements": entitlements,
        "contracts": contracts,
        "as_of": eval.as_of,
        "inputs": {
            "snapshot": {
                "path": snap.path,
                "sha256": snap.sha256,
                "id": snap.meta.id,
                "taken_at": snap.meta.taken_at,
            },
            "policies": playbook.root,
            "policies_digest": playbook.digest,
            "waivers": waivers,
        },
    })
}

/// The `case` of a notice rendered with a ledger: the finding's case, its
/// events and notes oldest first, and its steps as of `as_of`.
pub fn case_context(
    case: &crate::ledger::query::CaseRow,
    events: &[crate::ledger::query::Event],
    as_of: crate::date::Date,
) -> Json {
    let history: Vec<Json> = events
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "kind": e.kind,
                "by": e.actor,
                "on": e.at,
                "body": e.body,
            })
        })
        .collect();
    let notes: Vec<Json> = events
        .iter()
        .filter(|e| e.kind == "note")
        .map(|e| {
            json!({
                "kind": e.body.get("kind").cloned().unwrap_or(Json::Null),
                "text": e.body.get("text").cloned().unwrap_or(Json::Null),
                "attachment": e.body.get("attachment").cloned().unwrap_or(Json::Null),
                "by": e.actor,
                "on": e.at,
            })
        })
        .collect();
    let steps: Vec<Json> = case
        .steps(as_of)
        .into_iter()
        .map(|(step, on, status)| json!({ "step": step, "on": on, "status": status }))
        .collect();
    json!({
        "id": case.name(),
        "state": case.state,
        "opened": case.opened,
        "since": case.since,
        "last_seen": case.last_seen,
        "owner": case.owner_now(),
        "queue": case.queue,
        "acknowledged": case.acked_on,
        "resolved_on": case.resolved_on,
        "reopened": case.reopened,
        "events": history,
        "notes": notes,
        "steps": steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_add_markup() {
        assert_eq!(
            markdown_escape("*x* <b>[a](b)</b>\n# y"),
            "\\*x\\* \\<b\\>\\[a\\](b)\\</b\\>\\\\n\\# y"
        );
        assert_eq!(markdown_escape("ws-116, 2026-11-02"), "ws-116, 2026-11-02");
    }

    #[test]
    fn a_missing_field_is_an_error_at_its_line() {
        let mut t = Templates::default();
        t.env
            .add_template_owned("t", "line one\n{{ finding.nope }}\n")
            .unwrap();
        t.list.push(Template {
            name: "t".into(),
            path: "t.j2".into(),
            source: "line one\n{{ finding.nope }}\n".into(),
        });
        let e = t.render("t", &json!({ "finding": {} })).unwrap_err();
        assert_eq!((e.file.to_str(), e.line), (Some("t.j2"), 2), "{e}");
    }
}
