//! The one Rhai engine every script runs in, and its limits.
//!
//! Scripts get no file, network, module or clock access (Rhai is built
//! without `std::time` and module loading), `eval` is disabled, variables
//! must be declared, reading a missing map property is an error rather than
//! a silent `()`, and every run is bounded in operations, call depth and
//! expression depth: a runaway script is an error naming its file, never a
//! hang.

use rhai::{Engine, OptimizationLevel};

use super::host;

/// Limits a script runs under.
///
/// There is deliberately no limit on string, array or map sizes: Rhai's size
/// check walks the whole value after every update, which made collecting
/// findings quadratic and copied host collections twice. Every element a
/// script adds costs an operation, so `max_operations` bounds growth; it can
/// be raised from the CLI for playbooks that walk large collections on purpose.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 1_000_000,
            max_call_levels: 48,
            max_expr_depth: 64,
        }
    }
}

/// Builds the configured engine, with the host API registered.
pub fn engine(limits: Limits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_optimization_level(OptimizationLevel::Simple)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .disable_symbol("eval");
    // Output from `print` and `debug` is for the author at a terminal, never
    // part of results.
    engine.on_print(|s| eprintln!("{s}"));
    engine.on_debug(|s, src, pos| match (src, pos.line()) {
        (Some(src), Some(line)) => eprintln!("{src}:{line}: {s}"),
        _ => eprintln!("{s}"),
    });
    // Rhai functions cannot see top-level variables. Constants are the
    // playbook's thresholds, so every call carries its module's constants as
    // the evaluation tag and unresolved names are looked up there.
    #[allow(deprecated)] // volatile, not deprecated: Rhai marks it so
    engine.on_var(|name, index, ctx| {
        if index > 0 {
            return Ok(None);
        }
        Ok(ctx
            .tag()
            .read_lock::<rhai::Map>()
            .and_then(|m| m.get(name).cloned()))
    });
    host::register(&mut engine);
    engine
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the panic message silenced on this thread: the caller
/// catches the panic and reports it as a script error instead.
pub fn quiet_panics<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                default(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    out.unwrap_or_else(|p| std::panic::resume_unwind(p))
}
