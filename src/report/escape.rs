//! Escaping for text that reaches a terminal, a CI log or a rendered page.
//!
//! Ids, names and messages come from snapshots and scripts, which trueup
//! does not control. Printed raw, an escape sequence could rewrite the
//! terminal, a carriage return could hide what a line says, a bidi control
//! could show it reordered, and a newline could start a line of its own such
//! as `::error::…`, which a GitHub Actions log reads as a workflow command.
//! These functions make every such character visible instead (`\u{1b}`,
//! `\n`), and never change text without them.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls, DEL,
/// bidi controls and the Unicode line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

/// A one-line field (an id, a message shown on one line): every unsafe
/// character, newlines included, becomes a visible escape; tabs stay.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// `&`, `<`, `>` and both quotes as HTML entities: text for an element or
/// a quoted attribute (nothing else is changed).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text whose lines are meant to stay lines (a description, a rendered
/// report): like [`line`], but newlines stay.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let keep = |c: char| c == '\t' || (keep_newlines && c == '\n');
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if keep(c) || !is_unsafe(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_become_visible() {
        assert_eq!(line("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(line("x\0y\rz"), "x\\u{0}y\\rz");
        assert_eq!(line("one\n::error::two"), "one\\n::error::two");
        assert_eq!(
            line("\u{202e}evil\u{2066}\u{200f}"),
            "\\u{202e}evil\\u{2066}\\u{200f}"
        );
        assert_eq!(line("\u{85}\u{7f}\u{2028}"), "\\u{85}\\u{7f}\\u{2028}");
        assert_eq!(text("a\nb\x1bc\r"), "a\nb\\u{1b}c\\r");
    }

    #[test]
    fn plain_text_is_unchanged() {
        let plain = "Acme CAD Pro: 12 devices → 3 over, ünïcödé\tok";
        assert!(matches!(line(plain), Cow::Borrowed(_)));
        assert_eq!(line(plain), plain);
    }

    #[test]
    fn escaping_twice_changes_nothing_more() {
        let once = line("a\x1b\n\u{202e}").into_owned();
        assert_eq!(line(&once), once);
    }
}
