//! `trueup lint`: every problem in a playbook, in one run.
//!
//! Scripts are compiled without optimisation so the checks see the source as
//! written (the optimiser would inline constants and hide magic numbers).
//! What is checked: syntax; calls to functions neither the host API nor the
//! script defines; properties of the inventory it does not have, and other
//! properties no host map or script map literal has (a warning: scripts may
//! build maps the linter cannot see); modules that are neither rule nor
//! router; notice templates that do not compile; rules without `TITLE` or
//! `DESCRIPTION`; duplicate rule ids; bare numbers in comparisons that
//! should be named constants (a warning).

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use rhai::{ASTNode, Engine, Expr, OptimizationLevel, Stmt};

use crate::diag::{Diagnostic, Level};
use crate::policy::host::MAP_KEYS;
use crate::policy::load::{compile, script_files, Module};
use crate::policy::sandbox::{self, Limits};

/// Functions the language itself provides, which the registry does not list.
const KEYWORD_FNS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_fn",
    "is_def_var",
    "is_shared",
    "range",
];
const COMPARISONS: &[&str] = &["<", "<=", ">", ">=", "==", "!="];
/// Numbers that read as themselves and need no name.
const PLAIN_NUMBERS: &[f64] = &[0.0, 1.0, -1.0, 100.0];

/// The outcome of linting a playbook.
pub struct LintReport {
    pub diagnostics: Vec<Diagnostic>,
    /// Whether the playbook cannot be trusted at all: some script failed
    /// to compile, or no script is a rule.
    pub compile_errors: bool,
}

/// Lints every script under `root`.
pub fn lint(root: &Path) -> Result<LintReport, Diagnostic> {
    let files = script_files(root)?;
    let mut engine = sandbox::engine(Limits::default());
    engine.set_optimization_level(OptimizationLevel::None);
    let known = known_functions(&engine);
    let getters: HashSet<String> = known
        .iter()
        .filter_map(|n| n.strip_prefix("get$").map(str::to_string))
        .collect();
    let mut diags = Vec::new();
    let mut compile_errors = false;
    let mut rules: Vec<(String, std::path::PathBuf)> = Vec::new();
    for path in files {
        let source = match crate::yaml::read_text(&path, crate::policy::MAX_SCRIPT_BYTES) {
            Ok(s) => s,
            Err(d) => {
                // A script that cannot be read cannot be trusted either.
                compile_errors = true;
                diags.push(d);
                continue;
            }
        };
        let module = match compile(&engine, &Limits::default(), &path, source) {
            Ok(m) => m,
            Err(d) => {
                compile_errors = true;
                diags.push(d);
                continue;
            }
        };
        check_module(&module, &known, &getters, &mut diags);
        if module.is_rule() {
            let id = module.rule_id();
            if let Some((_, first)) = rules.iter().find(|(i, _)| *i == id) {
                diags.push(
                    Diagnostic::error(
                        &path,
                        const_line(&module.source, "ID"),
                        1,
                        format!(
                            "duplicate rule id `{id}` (also the id of {})",
                            first.display()
                        ),
                    )
                    .with_source(&module.source),
                );
            } else {
                rules.push((id, path.clone()));
            }
        }
    }
    // Metric profiles are read as the playbook reads them.
    if let Err(d) = crate::inventory::profile::Profiles::load(&root.join("metrics")) {
        diags.extend(d.0);
        compile_errors = true;
    }
    // So are the notice templates.
    if let Err(d) = crate::notice::Templates::load(root) {
        diags.extend(d.0);
        compile_errors = true;
    }
    if rules.is_empty() && !compile_errors {
        diags.push(crate::policy::load::no_rules(root));
        compile_errors = true;
    }
    diags.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    Ok(LintReport {
        diagnostics: diags,
        compile_errors,
    })
}

fn known_functions(engine: &Engine) -> HashSet<String> {
    engine
        .gen_fn_signatures(true)
        .into_iter()
        .filter_map(|sig| sig.split('(').next().map(|n| n.trim().to_string()))
        .chain(KEYWORD_FNS.iter().map(|s| s.to_string()))
        .collect()
}

fn check_module(
    m: &Module,
    known: &HashSet<String>,
    getters: &HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    let first = diags.len();
    let at = |line: u32, col: u32, level: Level, msg: String| Diagnostic {
        level,
        ..Diagnostic::error(&m.path, line, col, msg)
    };
    let is_router = m.defines("route");
    if !m.is_rule() && !is_router {
        diags.push(at(
            1,
            1,
            Level::Error,
            "defines neither `check` (a rule) nor `route` (a router)".into(),
        ));
    }
    if m.defines("remediate") && !m.is_rule() {
        let line = m.fn_line("remediate");
        diags.push(at(
            line,
            1,
            Level::Error,
            "`remediate` without `check`: remediation belongs beside its rule".into(),
        ));
    }
    if m.is_rule() {
        for name in ["TITLE", "DESCRIPTION"] {
            if m.constant_str(name).is_none() {
                diags.push(at(
                    1,
                    1,
                    Level::Error,
                    format!(
                        "rule `{}` has no `{name}` constant; add `const {name} = \"...\";`",
                        m.rule_id()
                    ),
                ));
            }
        }
    }

    let own: HashSet<&str> = m.functions.iter().map(String::as_str).collect();
    let mut literal_keys: BTreeSet<String> = BTreeSet::new();
    m.ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Map(x, _))) = path.last() {
            literal_keys.extend(x.0.iter().map(|(ident, _)| ident.name.to_string()));
        }
        true
    });

    m.ast.walk(&mut |path: &[ASTNode]| {
        let Some(node) = path.last() else { return true };
        let pos = node.position();
        let (line, col) = (pos.line().unwrap_or(0) as u32, pos.position().unwrap_or(0) as u32);
        let call = match node {
            ASTNode::Stmt(Stmt::FnCall(x, _)) | ASTNode::Expr(Expr::FnCall(x, _)) => Some((x, false)),
            ASTNode::Expr(Expr::MethodCall(x, _)) => Some((x, true)),
            _ => None,
        };
        if let Some((x, method)) = call {
            let name = x.name.as_str();
            if x.op_token.is_none() && !own.contains(name) && !known.contains(name) {
                let what = if method { "method" } else { "function" };
                diags.push(at(
                    line,
                    col,
                    Level::Error,
                    format!("no {what} `{name}` in the host API or this script (see docs/policy-api.md)"),
                ));
            }
            if x.op_token.is_some() && COMPARISONS.contains(&name) {
                for arg in x.args.iter() {
                    let number = match arg {
                        Expr::IntegerConstant(n, _) => Some(*n as f64),
                        Expr::FloatConstant(f, _) => Some(**f),
                        _ => None,
                    };
                    if let Some(n) = number.filter(|n| !PLAIN_NUMBERS.contains(n)) {
                        let p = arg.position();
                        diags.push(at(
                            p.line().unwrap_or(0) as u32,
                            p.position().unwrap_or(0) as u32,
                            Level::Warning,
                            format!("magic number `{n}` in a comparison; name it as a top-level `const`"),
                        ));
                    }
                }
            }
        }
        if let ASTNode::Expr(Expr::Property(x, _)) = node {
            let name = x.2.as_str();
            let on_inventory = path.len() >= 2
                && matches!(&path[path.len() - 2], ASTNode::Expr(Expr::Dot(b, ..)) if matches!(&b.lhs, Expr::Variable(v, ..) if v.1 == "inv"));
            if on_inventory && !getters.contains(name) {
                diags.push(at(line, col, Level::Error, format!("the inventory has no property `{name}` (see docs/policy-api.md)")));
            } else if !on_inventory && !getters.contains(name) && !MAP_KEYS.contains(&name) && !literal_keys.contains(name) {
                diags.push(at(
                    line,
                    col,
                    Level::Warning,
                    format!("property `{name}` is on no host record and no map this script builds; a typo?"),
                ));
            }
        }
        true
    });
    crate::diag::attach_sources(&mut diags[first..], &m.source);
}

/// The line declaring `const NAME`, else 1.
fn const_line(source: &str, name: &str) -> u32 {
    source
        .lines()
        .position(|l| {
            l.trim_start().strip_prefix("const ").is_some_and(|r| {
                r.trim_start()
                    .strip_prefix(name)
                    .is_some_and(|r| r.trim_start().starts_with('='))
            })
        })
        .map_or(1, |i| i as u32 + 1)
}
