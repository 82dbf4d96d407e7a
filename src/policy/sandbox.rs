//! The one Rhai engine every script runs in, and its limits.
//!
//! Scripts get no file, network, module or clock access (Rhai is built
//! without `std::time` and module loading), `eval` is disabled, variables
//! must be declared, reading a missing map property is an error rather than
//! a silent `()`, and every run is bounded in operations, call depth,
//! expression depth, value sizes, wall time and printed output: a runaway
//! script is an error naming its file and line, never a hang or a crash.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rhai::{Dynamic, Engine, OptimizationLevel};

use super::host;

/// Limits a script runs under. Only `max_operations` can be changed from the
/// command line (`--max-operations`); the others are fixed so that a
/// playbook cannot ask for more than the engine was built to give.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Operations in one call of a script function (`check`, `remediate`,
    /// `route`).
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// Nesting of expressions and statements in the source.
    pub max_expr_depth: usize,
    /// Bytes of text in one value (a string, or every string inside an
    /// array or map together). Room for the host's own collections: the
    /// installations of a 1M-installation snapshot as maps hold some 50 MB.
    pub max_string_size: usize,
    /// Elements in one value, counting those of nested arrays.
    pub max_array_size: usize,
    /// Map entries in one value, counting those of nested maps. Small maps
    /// cost some 700 bytes an entry, so this bounds a value to about 3 GB;
    /// the installations of a 500k-installation snapshot as maps hold 4M.
    pub max_map_size: usize,
    /// Nesting of the data a script hands back (findings' evidence,
    /// remediation options, routers' answers); reports never recurse deeper.
    pub max_value_depth: usize,
    /// Wall time of one evaluation (every rule, remediation and router of
    /// one snapshot on one date), shared by all its scripts.
    pub max_run_time: Duration,
    /// Bytes scripts may write with `print` and `debug` in one process;
    /// after that one line says the output was truncated.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 1_000_000,
            max_call_levels: 48,
            max_expr_depth: 64,
            max_string_size: 128 << 20,
            max_array_size: 10_000_000,
            max_map_size: 4_000_000,
            max_value_depth: 32,
            max_run_time: Duration::from_secs(60),
            max_output: 1 << 20,
        }
    }
}

/// The watchdog of one run: a deadline shared by every script of the run.
/// A timer thread raises a flag when the deadline passes; scripts look at
/// the flag on every operation, on whichever thread they run, through
/// [`Watchdog::enter`]. The timer ends when the [`Watchdog`] is dropped.
#[derive(Debug)]
pub struct Watch {
    limit: Duration,
    expired: AtomicBool,
    /// Set when the run is over, to end the timer early.
    done: Mutex<bool>,
    wake: Condvar,
}

/// Owns a running [`Watch`]; dropping it stops the timer.
pub struct Watchdog(Arc<Watch>);

impl Watch {
    /// Starts the timer of a run that may take `limit`.
    pub fn start(limit: Duration) -> Watchdog {
        let watch = Arc::new(Watch {
            limit,
            expired: AtomicBool::new(false),
            done: Mutex::new(false),
            wake: Condvar::new(),
        });
        let timer = watch.clone();
        let spawned = std::thread::Builder::new()
            .name("trueup-watchdog".into())
            .spawn(move || {
                let done = timer.done.lock().unwrap_or_else(|e| e.into_inner());
                let (done, _) = timer
                    .wake
                    .wait_timeout_while(done, timer.limit, |done| !*done)
                    .unwrap_or_else(|e| e.into_inner());
                if !*done {
                    timer.expired.store(true, Ordering::Relaxed);
                }
            });
        if spawned.is_err() {
            // Without a timer thread, time cannot be watched: stop at once
            // rather than run unwatched.
            watch.expired.store(true, Ordering::Relaxed);
        }
        Watchdog(watch)
    }

    fn expired(&self) -> bool {
        self.expired.load(Ordering::Relaxed)
    }
}

impl Watchdog {
    /// Makes this run's watch the one scripts on this thread answer to
    /// until the guard is dropped.
    pub fn enter(&self) -> WatchGuard {
        let previous = CURRENT.with(|c| c.replace(Some(self.0.clone())));
        WatchGuard { previous }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        *self.0.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.0.wake.notify_all();
    }
}

/// Restores the previous watch of the thread when dropped.
pub struct WatchGuard {
    previous: Option<Arc<Watch>>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Watch>>> = const { RefCell::new(None) };
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Bytes of script output written so far in this process.
static OUTPUT: AtomicUsize = AtomicUsize::new(0);

/// Writes one line of script output to stderr, within `max` bytes for the
/// whole process; the first line past it is replaced by a note.
fn emit(line: &str, max: usize) {
    let len = line.len() + 1;
    let before = OUTPUT.fetch_add(len, Ordering::Relaxed);
    if before + len <= max {
        eprintln!("{line}");
    } else if before <= max {
        OUTPUT.store(usize::MAX / 2, Ordering::Relaxed);
        eprintln!(
            "note: script output truncated: `print` and `debug` may write {max} bytes in one run"
        );
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
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .disable_symbol("eval");
    engine.on_progress(|_| {
        // The token is the time limit in milliseconds, for the message.
        CURRENT.with(|c| {
            let watch = c.borrow();
            let watch = watch.as_ref().filter(|w| w.expired())?;
            Some(Dynamic::from_int(watch.limit.as_millis() as i64))
        })
    });
    // Output from `print` and `debug` is for the author at a terminal, never
    // part of results.
    let max = limits.max_output;
    engine.on_print(move |s| emit(s, max));
    engine.on_debug(move |s, src, pos| match (src, pos.line()) {
        (Some(src), Some(line)) => emit(&format!("{src}:{line}: {s}"), max),
        _ => emit(s, max),
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
    host::register(&mut engine, limits.max_value_depth, limits.max_array_size);
    engine
}

/// Stack of each thread scripts run on. Dropping or measuring a value walks
/// it recursively, inside Rhai as well as here, and a script can nest a
/// value about one level per operation; the stack leaves room for that at
/// the default operations limit.
const SCRIPT_STACK: usize = 512 << 20;

/// Runs `f` on the threads scripts run on: parallel iterators inside it use
/// them too.
pub fn run<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("trueup-script-{i}"))
            .stack_size(SCRIPT_STACK)
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// How deeply `value` nests, if no deeper than `max`: `None` when it nests
/// deeper. A plain value has depth 0, `#{ a: 1 }` depth 1. Never recurses
/// past `max`, whatever the value.
pub fn depth_within(value: &Dynamic, max: usize) -> Option<usize> {
    fn walk(value: &Dynamic, left: usize) -> Option<usize> {
        let inner = |items: &mut dyn Iterator<Item = &Dynamic>| -> Option<usize> {
            let left = left.checked_sub(1)?;
            let mut deepest = 0;
            for v in items {
                deepest = deepest.max(walk(v, left)?);
            }
            Some(deepest + 1)
        };
        if let Some(arr) = value.read_lock::<rhai::Array>() {
            inner(&mut arr.iter())
        } else if let Some(map) = value.read_lock::<rhai::Map>() {
            inner(&mut map.values())
        } else if let Some(f) = value.read_lock::<rhai::FnPtr>() {
            inner(&mut f.iter_curry())
        } else {
            Some(0)
        }
    }
    walk(value, max)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Dynamic {
        let mut v = Dynamic::from_int(1);
        for _ in 0..levels {
            let mut m = rhai::Map::new();
            m.insert("x".into(), v);
            v = Dynamic::from(vec![Dynamic::from(m)]);
        }
        v
    }

    #[test]
    fn depth_counts_arrays_and_maps_and_stops_at_the_limit() {
        assert_eq!(depth_within(&Dynamic::from_int(1), 0), Some(0));
        // Each level above is an array holding a map: two levels of nesting.
        assert_eq!(depth_within(&nested(3), 6), Some(6));
        assert_eq!(depth_within(&nested(3), 5), None);
        assert_eq!(depth_within(&nested(1_000), 32), None);
    }
}
