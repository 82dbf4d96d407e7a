//! Turning Rhai's errors into diagnostics a policy author can act on.
//!
//! Errors inside functions that `check` calls are walked down to the
//! innermost one, so the caret lands on the line that failed; the calls that
//! led there are listed as notes.

use std::path::Path;

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};

use crate::diag::Diagnostic;

fn at(path: &Path, source: &str, pos: Position, message: String) -> Diagnostic {
    let line = pos.line().unwrap_or(0) as u32;
    let col = pos.position().unwrap_or(0) as u32;
    Diagnostic::error(path, line, col, message).with_source(source)
}

/// A compile (syntax) error.
pub fn compile_error(path: &Path, source: &str, err: &ParseError) -> Diagnostic {
    let message = match err.err_type() {
        ParseErrorType::VariableUndefined(name) => {
            format!("variable `{name}` is not defined (declare it with `let`, or as a top-level `const`)")
        }
        ParseErrorType::FnMissingBody(name) => format!("function `{name}` has no body"),
        ParseErrorType::UnknownOperator(op) => format!("unknown operator `{op}`"),
        ParseErrorType::Reserved(word) => format!("`{word}` is reserved or disabled in policies"),
        other => lower_first(&other.to_string()),
    };
    at(
        path,
        source,
        err.position(),
        format!("syntax error: {message}"),
    )
}

/// A run-time error, with `context` such as "while evaluating rule `overuse`".
/// `max_operations` is the limit in force, for the message when it is hit.
pub fn script_error(
    path: &Path,
    source: &str,
    err: &EvalAltResult,
    context: &str,
    max_operations: u64,
) -> Diagnostic {
    let mut calls = Vec::new();
    let mut err = err;
    let mut last_pos = err.position();
    while let EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) = err {
        if !pos.is_none() {
            last_pos = *pos;
            calls.push(format!(
                "in call to `{name}` at line {}",
                pos.line().unwrap_or(0)
            ));
        }
        err = inner;
    }
    let pos = if err.position().is_none() {
        last_pos
    } else {
        err.position()
    };
    let mut d = at(
        path,
        source,
        pos,
        format!("{context}: {}", describe(err, max_operations)),
    );
    for call in calls.into_iter().rev() {
        d = d.with_note(call);
    }
    d
}

/// Plain words for one Rhai error, without its position.
pub fn describe(err: &EvalAltResult, max_operations: u64) -> String {
    use EvalAltResult as E;
    match err {
        E::ErrorTooManyOperations(_) => format!(
            "stopped after {} operations; does it loop forever? (raise the limit with `--max-operations`)",
            thousands(max_operations)
        ),
        E::ErrorStackOverflow(_) => "calls nest too deeply; is there unbounded recursion?".into(),
        E::ErrorDataTooLarge(what, _) => format!(
            "{} grew past its size limit (see the limits in docs/policy-api.md)",
            lower_first(what)
        ),
        E::ErrorVariableNotFound(name, _) => format!("variable `{name}` is not defined"),
        E::ErrorPropertyNotFound(name, _) => format!("property `{name}` not found"),
        E::ErrorFunctionNotFound(sig, _) => format!("no function `{sig}` (see docs/policy-api.md)"),
        E::ErrorRuntime(value, _) => lower_first(&value.to_string()),
        E::ErrorIndexNotFound(idx, _) => format!("index `{idx}` not found"),
        E::ErrorArrayBounds(len, idx, _) => format!("index {idx} is out of bounds for a list of {len}"),
        E::ErrorMismatchDataType(want, got, _) => format!("expected {want}, found {got}"),
        E::ErrorMismatchOutputType(want, got, _) => format!("should return {want}, returned {got}"),
        E::ErrorArithmetic(msg, _) => lower_first(msg),
        E::ErrorAssignmentToConstant(name, _) => format!("cannot assign to constant `{name}`"),
        // Only the watchdog stops scripts; its token is its limit in ms.
        E::ErrorTerminated(token, _) if token.is_int() => format!(
            "stopped after {} s, the time limit of one run; does it loop forever, or walk a huge value again and again?",
            token.as_int().unwrap_or_default() as f64 / 1000.0
        ),
        E::ErrorTerminated(..) => "stopped by the engine".into(),
        other => {
            let text = other.to_string();
            let text = text.rfind(" (line ").map_or(text.as_str(), |i| &text[..i]);
            lower_first(text)
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if !chars.as_str().starts_with(|c: char| c.is_uppercase()) => {
            c.to_lowercase().chain(chars).collect()
        }
        _ => s.to_string(),
    }
}

/// `1000000` as `1,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
