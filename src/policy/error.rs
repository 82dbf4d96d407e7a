//! Turning Rhai's errors into diagnostics a policy author can act on.
//!
//! Errors inside functions that `check` calls are walked down to the
//! innermost one, so the caret lands on the line that failed; the calls that
//! led there are listed as notes.

use std::path::Path;

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};

use crate::diag::{thousands, Diagnostic};

fn at(path: &Path, source: &str, pos: Position, message: String) -> Diagnostic {
    let line = pos.line().unwrap_or(0) as u32;
    let col = pos.position().unwrap_or(0) as u32;
    Diagnostic::error(path, line, col, message).with_source(source)
}

/// A compile (syntax) error.
pub fn compile_error(path: &Path, source: &str, err: &ParseError) -> Diagnostic {
    use ParseErrorType as P;
    let at_end = is_at_end(source, err.position());
    // A block left open shows up where the script ends: point at its `{`.
    if at_end || matches!(err.err_type(), P::MissingToken(t, _) if t == "}") {
        if let Some((line, col)) = unclosed_brace(source) {
            return Diagnostic::error(
                path,
                line,
                col,
                "syntax error: this `{` is never closed; a `}` is missing",
            )
            .with_source(source)
            .with_note("the script ends before it is closed");
        }
    }
    // A `fn` inside a block usually means the block before it was left open.
    if let (P::WrongFnDefinition, Some(line)) = (err.err_type(), err.position().line()) {
        let before: usize = source
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum();
        if let Some((open_line, col)) = unclosed_brace(&source[..before]) {
            return Diagnostic::error(
                path,
                open_line,
                col,
                "syntax error: this `{` is not closed before the next `fn`; a `}` is missing",
            )
            .with_source(source)
            .with_note(format!("the next `fn` is at line {line}"));
        }
    }
    let message = match err.err_type() {
        P::VariableUndefined(name) => {
            format!("variable `{name}` is not defined (declare it with `let`, or as a top-level `const`)")
        }
        P::FnMissingBody(name) => format!("function `{name}` has no body"),
        P::UnknownOperator(op) => format!("unknown operator `{op}`"),
        P::Reserved(word) => format!("`{word}` is reserved or disabled in policies"),
        P::AssignmentToConstant(name) if name.is_empty() => {
            "cannot assign to a constant".to_string()
        }
        P::AssignmentToConstant(name) => format!(
            "cannot assign to constant `{name}`; copy it into a variable with `let` to change it"
        ),
        P::MissingToken(token, what) => format!("expected `{token}` {what}"),
        P::MismatchedType(want, got) => {
            format!("expected {}, found {}", plain_type(want), plain_type(got))
        }
        P::UnexpectedEOF => "the script ends in the middle of an expression".to_string(),
        P::DuplicatedProperty(name) => format!("property `{name}` is given twice in this map"),
        P::VariableExists(name) | P::DuplicatedVariable(name) => {
            format!("variable `{name}` is already defined")
        }
        P::FnDuplicatedDefinition(name, n) => format!(
            "function `{name}` with {n} parameter{} is defined twice",
            if *n == 1 { "" } else { "s" }
        ),
        P::WrongFnDefinition => {
            "functions must be defined at the top level, not inside a block or another function"
                .to_string()
        }
        other => plain_text(&lower_first(&other.to_string())),
    };
    at(
        path,
        source,
        err.position(),
        format!("syntax error: {message}"),
    )
}

/// Whether `pos` is at the end of `source` (past its last non-blank text).
fn is_at_end(source: &str, pos: Position) -> bool {
    let Some(line) = pos.line() else {
        return false;
    };
    let last = source
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(0);
    line > last
}

/// The innermost `{` that no `}` closes, as (line, character column),
/// skipping strings, characters and comments.
fn unclosed_brace(source: &str) -> Option<(u32, u32)> {
    let mut open: Vec<(u32, u32)> = Vec::new();
    let (mut line, mut col) = (1u32, 0u32);
    let mut chars = source.chars().peekable();
    let mut quote: Option<char> = None;
    let mut comment: Option<bool> = None; // Some(true): block comment
    while let Some(c) = chars.next() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
            if comment == Some(false) {
                comment = None;
            }
            continue;
        }
        match (quote, comment) {
            (Some(q), _) => {
                if c == '\\' {
                    chars.next();
                    col += 1;
                } else if c == q {
                    quote = None;
                }
            }
            (None, Some(true)) => {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    col += 1;
                    comment = None;
                }
            }
            (None, Some(false)) => {}
            (None, None) => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '/' if chars.peek() == Some(&'/') => comment = Some(false),
                '/' if chars.peek() == Some(&'*') => comment = Some(true),
                '{' => open.push((line, col)),
                '}' => {
                    open.pop();
                }
                _ => {}
            },
        }
    }
    open.last().copied()
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
    let what = match err {
        EvalAltResult::ErrorFunctionNotFound(sig, _) if is_method_call(source, pos) => {
            method_not_found(sig)
        }
        _ => describe(err, max_operations),
    };
    let mut d = at(path, source, pos, format!("{context}: {what}"));
    for call in calls.into_iter().rev() {
        d = d.with_note(call);
    }
    d
}

/// Plain words for one Rhai error, without its position: no Rust or
/// Rhai type names, no signature dumps.
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
            plain_text(&lower_first(what))
        ),
        E::ErrorVariableNotFound(name, _) => format!("variable `{name}` is not defined"),
        E::ErrorPropertyNotFound(name, _) => format!("property `{name}` not found"),
        E::ErrorFunctionNotFound(sig, _) => function_not_found(sig),
        E::ErrorRuntime(value, _) => lower_first(&value.to_string()),
        E::ErrorIndexNotFound(idx, _) => format!("index `{idx}` not found"),
        E::ErrorArrayBounds(len, idx, _) => {
            format!("index {idx} is out of bounds for a list of {len}")
        }
        E::ErrorStringBounds(len, idx, _) => {
            format!("index {idx} is out of bounds for text of {len} characters")
        }
        E::ErrorMismatchDataType(want, got, _) => {
            format!("expected {}, found {}", plain_type(want), plain_type(got))
        }
        E::ErrorMismatchOutputType(want, got, _) => format!(
            "should return {}, returned {}",
            plain_type(want),
            plain_type(got)
        ),
        E::ErrorArithmetic(msg, _) => lower_first(msg),
        E::ErrorAssignmentToConstant(name, _) => format!(
            "cannot assign to constant `{name}`; copy it into a variable with `let` to change it"
        ),
        E::ErrorNonPureMethodCallOnConstant(name, _) => {
            let name = name.strip_prefix("set$").unwrap_or(name);
            format!(
                "cannot change a constant with `{name}`; copy it into a variable with `let` to change it"
            )
        }
        E::ErrorDotExpr(text, _) => dot_error(text),
        E::ErrorIndexingType(what, _) => format!("cannot index {}", plain_type(what)),
        E::ErrorDataRace(what, _) => {
            let method = what.split('\'').nth(1).unwrap_or("the method");
            format!(
                "`{method}` is called on a value that its own closure also uses; \
                 read the value into a variable with `let` first"
            )
        }
        E::ErrorFor(_) => "a `for` loop goes over a list, a range or text, not this value".into(),
        // Only the watchdog stops scripts; its token is its limit in ms.
        E::ErrorTerminated(token, _) if token.is_int() => format!(
            "stopped after {} s, the time limit of one run; does it loop forever, or walk a huge value again and again?",
            token.as_int().unwrap_or_default() as f64 / 1000.0
        ),
        E::ErrorTerminated(..) => "stopped by the engine".into(),
        other => {
            let text = other.to_string();
            let text = text.rfind(" (line ").map_or(text.as_str(), |i| &text[..i]);
            plain_text(&lower_first(text))
        }
    }
}

/// "Function not found: frob (&str | ImmutableString | String, i64)" in
/// plain words, by what was called: a function, a method, an operator, a
/// property or an index.
fn function_not_found(sig: &str) -> String {
    let (name, args) = match sig.find(" (") {
        Some(i) if sig.ends_with(')') => (&sig[..i], &sig[i + 2..sig.len() - 1]),
        _ => (sig, ""),
    };
    let args: Vec<String> = split_types(args).iter().map(|t| plain_type(t)).collect();
    let list = |args: &[String]| args.join(", ");
    if let Some(prop) = name.strip_prefix("get$") {
        if args.first().is_some_and(|a| a == "nothing") {
            return format!(
                "cannot read property `{prop}` of `()`; check the value is not `()` first"
            );
        }
        return format!(
            "{} has no property `{prop}` (see docs/policy-api.md)",
            args.first().map_or("this value", String::as_str)
        );
    }
    if let Some(prop) = name.strip_prefix("set$") {
        return format!(
            "cannot set property `{prop}` on {}",
            args.first().map_or("this value", String::as_str)
        );
    }
    if name == "index$get$" || name == "index$set$" {
        return match args.as_slice() {
            [on, by, ..] => format!("cannot index {on} by {by}"),
            _ => "cannot index this value".to_string(),
        };
    }
    if !name.is_empty() && !name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        return match args.as_slice() {
            [a, b] => format!("cannot apply `{name}` to {a} and {b}"),
            [a] => format!("cannot apply `{name}` to {a}"),
            _ => format!("cannot apply `{name}` to these values"),
        };
    }
    if args.is_empty() {
        format!("no function `{name}` that takes no arguments (see docs/policy-api.md)")
    } else {
        format!(
            "no function `{name}` that takes ({}) (see docs/policy-api.md)",
            list(&args)
        )
    }
}

/// What to tell the author when the script engine panicked: Rhai panics
/// on assignment into a constant map or array (`W.low = 0`), and its text
/// names the place ("cannot assign to expression: 1 @ 5:5").
pub fn engine_panic(what: &str) -> Box<EvalAltResult> {
    let pos = what
        .rsplit_once(" @ ")
        .and_then(|(_, at)| {
            let (l, c) = at
                .trim_end_matches(|c: char| !c.is_ascii_digit())
                .split_once(':')?;
            Some(Position::new(l.parse().ok()?, c.parse().ok()?))
        })
        .unwrap_or(Position::NONE);
    let message = if what.contains("cannot assign to expression") {
        "cannot assign into a constant map or list; copy it into a variable with `let` to change it"
    } else {
        "the script engine failed on this script"
    };
    Box::new(EvalAltResult::ErrorRuntime(message.into(), pos))
}

/// Whether the call at `pos` is written as a method, `value.name(...)`.
fn is_method_call(source: &str, pos: Position) -> bool {
    let (Some(line), Some(col)) = (pos.line(), pos.position()) else {
        return false;
    };
    source.lines().nth(line - 1).and_then(|l| {
        l.chars()
            .take(col - 1)
            .filter(|c| !c.is_whitespace())
            .last()
    }) == Some('.')
}

/// A method call that matched no method: the receiver is the first type.
fn method_not_found(sig: &str) -> String {
    let (name, args) = match sig.find(" (") {
        Some(i) if sig.ends_with(')') => (&sig[..i], &sig[i + 2..sig.len() - 1]),
        _ => return function_not_found(sig),
    };
    let types: Vec<String> = split_types(args).iter().map(|t| plain_type(t)).collect();
    match types.split_first() {
        Some((on, [])) => format!("no method `{name}` on {on} (see docs/policy-api.md)"),
        Some((on, rest)) => format!(
            "no method `{name}` on {on} that takes ({}) (see docs/policy-api.md)",
            rest.join(", ")
        ),
        None => function_not_found(sig),
    }
}

/// Rhai's "unknown property 'x' - a getter is not registered for type 'T'".
fn dot_error(text: &str) -> String {
    let quoted: Vec<&str> = text.split('\'').skip(1).step_by(2).collect();
    match (
        text.starts_with("Unknown property") || text.starts_with("unknown property"),
        quoted.as_slice(),
    ) {
        (true, [prop, ty, ..]) if plain_type(ty) == "nothing" => {
            format!("cannot read property `{prop}` of `()`; check the value is not `()` first")
        }
        (true, [prop, ty, ..]) => format!(
            "{} has no property `{prop}` (see docs/policy-api.md)",
            plain_type(ty)
        ),
        (true, [prop]) => format!("property `{prop}` not found (see docs/policy-api.md)"),
        _ => plain_text(&lower_first(text)),
    }
}

/// The types of a signature's argument list, split at top-level commas.
fn split_types(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in args.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !args[start..].trim().is_empty() {
        out.push(args[start..].trim());
    }
    out
}

/// A Rust or Rhai type name as a policy author says it: `&str |
/// ImmutableString | String` is text, `rhai::Map` a map, `i64` a whole
/// number.
pub fn plain_type(name: &str) -> String {
    let mut words: Vec<&'static str> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    for part in name.split('|') {
        let part = part
            .trim()
            .trim_start_matches('&')
            .trim_start_matches("mut ");
        let base = part.rsplit("::").next().unwrap_or(part);
        let base = base.split('<').next().unwrap_or(base).trim();
        let word = match base {
            "str" | "String" | "ImmutableString" | "string" => Some("text"),
            "i64" | "i32" | "u64" | "u32" | "usize" | "INT" | "int" | "integer" => {
                Some("a whole number")
            }
            "f64" | "f32" | "FLOAT" | "float" | "decimal" => Some("a decimal number"),
            "bool" => Some("true or false"),
            "char" => Some("a character"),
            "Array" | "array" | "Vec" => Some("a list"),
            "Map" | "map" | "BTreeMap" | "HashMap" => Some("a map"),
            "()" | "unit" | "" => Some("nothing"),
            "Dynamic" | "?" => Some("any value"),
            "FnPtr" | "Fn" => Some("a function"),
            "Blob" | "blob" => Some("bytes"),
            "Range" | "RangeInclusive" | "range" => Some("a range"),
            "Date" => Some("a date"),
            "Inventory" => Some("the inventory"),
            "Findings" => Some("a `findings()` list"),
            "Instant" | "timestamp" => Some("a time"),
            _ => None,
        };
        match word {
            Some(w) if !words.contains(&w) => words.push(w),
            Some(_) => {}
            // Rhai sometimes says what it wanted in words already.
            None if base.contains(' ') => other.push(base.to_string()),
            None => other.push(format!("`{base}`")),
        }
    }
    let mut all: Vec<String> = words.into_iter().map(str::to_string).collect();
    all.extend(other);
    all.join(" or ")
}

/// Rhai's own wording with its type names and quotes made plain.
fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let typed = word.contains("::")
            || matches!(
                word.as_str(),
                "ImmutableString"
                    | "Map"
                    | "Array"
                    | "Dynamic"
                    | "FnPtr"
                    | "i64"
                    | "f64"
                    | "INT"
                    | "FLOAT"
            );
        if typed {
            out.push_str(&plain_type(word));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(if c == '\'' { '`' } else { c });
        }
    }
    flush(&mut word, &mut out);
    out
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
