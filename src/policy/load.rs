//! Finding, compiling and describing the scripts of a playbook.
//!
//! Every `*.rhai` under the policies folder is one module, in path order.
//! Each is compiled once; its top-level constants (`ID`, `TITLE`, thresholds)
//! are evaluated once and handed to every call, so functions may use them by
//! name under strict variables.

use std::path::{Path, PathBuf};

use rhai::{Dynamic, Engine, Scope, AST};
use sha2::{Digest, Sha256};

use super::error::{compile_error, script_error};
use super::sandbox::{self, Limits};
use crate::diag::{Diagnostic, Diagnostics};

/// A compiled script.
pub struct Module {
    /// The script's path as the user named it (`policies/overuse.rhai`).
    pub path: PathBuf,
    pub source: String,
    pub ast: AST,
    /// Top-level constants in declaration order.
    pub constants: Vec<(String, Dynamic)>,
    /// Names of the functions the script defines.
    pub functions: Vec<String>,
    tag: Dynamic,
}

impl Module {
    pub fn defines(&self, name: &str) -> bool {
        self.functions.iter().any(|f| f == name)
    }

    /// A text constant, such as `TITLE`.
    pub fn constant_str(&self, name: &str) -> Option<String> {
        self.constants
            .iter()
            .find(|(n, v)| n == name && v.is_string())
            .map(|(_, v)| v.to_string())
    }

    /// The rule id: the `ID` constant, else the file's stem.
    pub fn rule_id(&self) -> String {
        self.constant_str("ID").unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    }

    /// The module's constants as a shared map, handed to every call as the
    /// evaluation's tag so that functions can read them by name (see
    /// [`super::sandbox::engine`]).
    pub fn constants_tag(&self) -> Dynamic {
        self.tag.clone()
    }

    /// The line where function `name` is defined, or 0.
    pub fn fn_line(&self, name: &str) -> u32 {
        self.source
            .lines()
            .position(|l| {
                l.trim_start()
                    .strip_prefix("fn ")
                    .is_some_and(|rest| rest.trim_start().starts_with(&format!("{name}(")))
            })
            .map_or(0, |i| i as u32 + 1)
    }

    /// Whether the script defines `check`, i.e. is a rule.
    pub fn is_rule(&self) -> bool {
        self.defines("check")
    }
}

/// Every compiled module of a policies folder.
pub struct Playbook {
    pub root: PathBuf,
    pub engine: Engine,
    /// The limits `engine` was built with.
    pub limits: Limits,
    pub modules: Vec<Module>,
    /// sha256 over every script's, metric profile's and template's relative
    /// path and text.
    pub digest: String,
    /// The metric profiles of `metrics/`.
    pub profiles: std::sync::Arc<crate::inventory::profile::Profiles>,
    /// The notice templates of `templates/`.
    pub templates: std::sync::Arc<crate::notice::Templates>,
}

impl Playbook {
    /// Loads every script under `root`, reporting every one that fails to compile.
    pub fn load(root: &Path, limits: Limits) -> Result<Playbook, Diagnostics> {
        let files = script_files(root)?;
        let engine = sandbox::engine(limits);
        let mut diags = Diagnostics::default();
        let mut modules = Vec::new();
        let mut hasher = Sha256::new();
        for path in files {
            // Not valid UTF-8 is an error at the line where the text stops being so.
            let source = match crate::yaml::read_text(&path, crate::policy::MAX_SCRIPT_BYTES) {
                Ok(s) => s,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let rel = path.strip_prefix(root).unwrap_or(&path);
            hasher.update(rel.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(source.as_bytes());
            hasher.update([0]);
            match compile(&engine, &limits, &path, source) {
                Ok(m) => modules.push(m),
                Err(d) => diags.push(d),
            }
        }
        let metrics = root.join("metrics");
        let profiles = match crate::inventory::profile::Profiles::load(&metrics) {
            Ok(p) => p,
            Err(d) => {
                diags.0.extend(d.0);
                Default::default()
            }
        };
        for p in profiles.iter() {
            if let Ok(text) = std::fs::read(&p.file) {
                let rel = p.file.strip_prefix(root).unwrap_or(&p.file);
                hasher.update(rel.to_string_lossy().as_bytes());
                hasher.update([0]);
                hasher.update(&text);
                hasher.update([0]);
            }
        }
        let templates = match crate::notice::Templates::load(root) {
            Ok(t) => t,
            Err(d) => {
                diags.0.extend(d.0);
                Default::default()
            }
        };
        for t in &templates.list {
            let rel = t.path.strip_prefix(root).unwrap_or(&t.path);
            hasher.update(rel.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(t.source.as_bytes());
            hasher.update([0]);
        }
        let digest = crate::inventory::load::hex(&hasher.finalize());
        let playbook = Playbook {
            root: root.to_path_buf(),
            engine,
            limits,
            modules,
            digest,
            profiles: std::sync::Arc::new(profiles),
            templates: std::sync::Arc::new(templates),
        };
        if let Err(d) = playbook.check_rule_ids() {
            diags.0.extend(d.0);
        }
        diags.into_result(playbook)
    }

    fn check_rule_ids(&self) -> Result<(), Diagnostics> {
        let mut diags = Diagnostics::default();
        let mut seen: Vec<(String, &Path)> = Vec::new();
        for m in self.rules() {
            let id = m.rule_id();
            if let Some((_, first)) = seen.iter().find(|(i, _)| *i == id) {
                diags.push(Diagnostic::error(
                    &m.path,
                    0,
                    0,
                    format!(
                        "duplicate rule id `{id}` (also the id of {})",
                        first.display()
                    ),
                ));
            } else {
                seen.push((id, &m.path));
            }
        }
        diags.into_result(())
    }

    /// An error naming the folder when no script in it is a rule: checking
    /// against such a playbook would pass whatever the inventory.
    pub fn require_rules(&self) -> Result<(), Diagnostic> {
        if self.rules().next().is_some() {
            return Ok(());
        }
        Err(no_rules(&self.root))
    }

    /// The modules that define `check`, in path order.
    pub fn rules(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.is_rule())
    }

    /// The modules that define `route`, in path order.
    pub fn routers(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.defines("route"))
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Module> {
        self.rules().find(|m| m.rule_id() == id)
    }
}

/// The error for a policies folder with no rule in it.
pub fn no_rules(root: &Path) -> Diagnostic {
    Diagnostic::error(
        root,
        0,
        0,
        "no rule in this policies folder: no script defines `fn check(inv)`",
    )
}

/// Every `*.rhai` below `root`, in path order.
pub fn script_files(root: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    if !root.is_dir() {
        return Err(Diagnostic::error(
            root,
            0,
            0,
            "policies folder not found (pass `-p DIR`)",
        ));
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Diagnostic::error(&dir, 0, 0, format!("cannot list folder: {e}")))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rhai") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Compiles one script: a lenient pass finds its top-level constants, then a
/// strict pass compiles it with them in scope.
pub fn compile(
    engine: &Engine,
    limits: &Limits,
    path: &Path,
    source: String,
) -> Result<Module, Diagnostic> {
    let guarded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::sandbox::quiet_panics(|| compile_unguarded(engine, limits, path, &source))
    }));
    match guarded {
        Ok(Ok(mut m)) => {
            m.source = source;
            Ok(m)
        }
        Ok(Err(d)) => Err(d),
        Err(_) => Err(Diagnostic::error(
            path,
            0,
            0,
            "the script engine failed while compiling this script",
        )),
    }
}

fn compile_unguarded(
    engine: &Engine,
    limits: &Limits,
    path: &Path,
    source: &str,
) -> Result<Module, Diagnostic> {
    let source = source.to_string();
    let name = path.display().to_string();
    let constants = constants(engine, limits, path, &source)?;
    let mut scope = Scope::new();
    for (n, v) in &constants {
        scope.push_constant_dynamic(n.as_str(), v.clone());
    }
    let mut ast = engine
        .compile_with_scope(&scope, &source)
        .map_err(|e| compile_error(path, &source, &e))?;
    ast.set_source(name);
    let functions = ast.iter_functions().map(|f| f.name.to_string()).collect();
    let tag: rhai::Map = constants
        .iter()
        .map(|(n, v)| (n.as_str().into(), v.clone()))
        .collect();
    let tag = Dynamic::from(tag).into_shared();
    Ok(Module {
        path: path.to_path_buf(),
        source,
        ast,
        constants,
        functions,
        tag,
    })
}

/// Operations the top level of a script may take to compute its constants.
const CONSTANT_OPERATIONS: u64 = 100_000;

fn constants(
    engine: &Engine,
    limits: &Limits,
    path: &Path,
    source: &str,
) -> Result<Vec<(String, Dynamic)>, Diagnostic> {
    // Strict variables would reject the constants' own uses inside functions
    // in this first pass; the second, strict pass checks everything.
    let operations = CONSTANT_OPERATIONS.min(limits.max_operations);
    let mut lenient = sandbox::engine(Limits {
        max_operations: operations,
        ..*limits
    });
    lenient.set_strict_variables(false);
    let ast = lenient.compile(source).map_err(|e| {
        // Report the strict engine's view of a syntax error: it is the same error.
        match engine.compile(source) {
            Err(strict) => compile_error(path, source, &strict),
            Ok(_) => compile_error(path, source, &e),
        }
    })?;
    let mut scope = Scope::new();
    // Regression: the top level ran under the default 60 s whatever
    // `--time-limit` said, so a slow loop there outlived the run's limit.
    let watch = sandbox::Watch::start(limits.max_run_time);
    sandbox::run(|| {
        let _watch = watch.enter();
        lenient.run_ast_with_scope(&mut scope, &ast)
    })
    .map_err(|e| {
        script_error(
            path,
            source,
            &e,
            "while evaluating top-level constants",
            operations,
        )
    })?;
    let constants: Vec<(String, Dynamic)> = scope
        .iter()
        .filter(|(_, is_const, _)| *is_const)
        .map(|(n, _, v)| (n.to_string(), v))
        .collect();
    let max_depth = Limits::default().max_value_depth;
    for (name, value) in &constants {
        let problem = if sandbox::depth_within(value, max_depth).is_none() {
            format!("constant `{name}` nests deeper than {max_depth} levels")
        } else if keeps_state(value) {
            format!("constant `{name}` holds a closure that captures variables, which would keep state from one call to the next; constants must be plain values (use a function instead)")
        } else {
            continue;
        };
        let line = const_line(source, name);
        return Err(Diagnostic::error(path, line, u32::from(line > 0), problem).with_source(source));
    }
    Ok(constants)
}

/// Whether a constant holds state that calls could change and share: a
/// closure's captured variables. Constants are handed to every call on every
/// thread, so such state would make results depend on the order of calls.
/// Only for values whose depth is bounded.
fn keeps_state(value: &Dynamic) -> bool {
    if value.is_shared() {
        return true;
    }
    if let Some(arr) = value.read_lock::<rhai::Array>() {
        arr.iter().any(keeps_state)
    } else if let Some(map) = value.read_lock::<rhai::Map>() {
        map.values().any(keeps_state)
    } else if let Some(f) = value.read_lock::<rhai::FnPtr>() {
        f.iter_curry().any(keeps_state)
    } else {
        false
    }
}

/// The line where constant `name` is declared, or 0.
fn const_line(source: &str, name: &str) -> u32 {
    source
        .lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix("const ")
                .and_then(|rest| rest.trim_start().strip_prefix(name))
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |i| i as u32 + 1)
}
