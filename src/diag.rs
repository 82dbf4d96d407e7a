//! Diagnostics: what trueup says when input is wrong.
//!
//! Every problem with a user's file (snapshot, script, waiver, test case)
//! becomes a [`Diagnostic`] naming the file, line and column, worded in plain
//! lowercase words, with the offending source line and a caret under it.
//! Loaders collect every diagnostic in a file before failing, so one run shows
//! every mistake.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Source lines longer than this many characters are shown as a window
/// around the column, and only that window is kept.
const MAX_SHOWN: usize = 120;
/// Diagnostics shown in full for one file; the rest are counted.
pub const PER_FILE: usize = 50;
/// Kinds of message named in the count of the rest; the others are lumped.
const SHAPES_SHOWN: usize = 3;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Error,
}

/// One problem at one place in one file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Diagnostic {
    pub level: Level,
    pub file: PathBuf,
    /// 1-based; 0 when the problem is with the file as a whole.
    pub line: u32,
    /// 1-based character column; 0 when unknown.
    pub column: u32,
    pub message: String,
    /// The part of the source line the position points into, shown under
    /// the message.
    #[serde(skip)]
    pub excerpt: Option<Box<Excerpt>>,
    /// Further lines of context (a call chain, a hint).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// When this diagnostic counts those of its file not shown (see
    /// [`capped`]): how many of each kind; empty for an ordinary one.
    /// Reports carry the total as `suppressed`.
    #[serde(
        rename = "suppressed",
        skip_serializing_if = "Counted::is_empty",
        serialize_with = "Counted::serialize_total"
    )]
    pub counted: Counted,
}

/// At most [`MAX_SHOWN`] characters of a source line, around the column.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Excerpt {
    pub text: String,
    /// Characters of `text` before the caret.
    pub caret: usize,
    /// Whether the line goes on before and after `text`.
    pub cut_before: bool,
    pub cut_after: bool,
}

impl Excerpt {
    /// The window of `line` around byte offset `at` (a character boundary).
    fn around(line: &str, at: usize) -> Excerpt {
        let at = at.min(line.len());
        let start = line[..at]
            .char_indices()
            .rev()
            .take(MAX_SHOWN / 2)
            .last()
            .map_or(at, |(i, _)| i);
        let end = line[start..]
            .char_indices()
            .nth(MAX_SHOWN)
            .map_or(line.len(), |(i, _)| start + i);
        Excerpt {
            text: line[start..end].to_string(),
            caret: line[start..at].chars().count(),
            cut_before: start > 0,
            cut_after: end < line.len(),
        }
    }
}

impl Diagnostic {
    /// An error at `line:column` of `file`.
    pub fn error(file: &Path, line: u32, column: u32, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Error,
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            excerpt: None,
            notes: Vec::new(),
            counted: Counted::default(),
        }
    }

    /// A warning at `line:column` of `file`.
    pub fn warning(file: &Path, line: u32, column: u32, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(file, line, column, message)
        }
    }

    /// Attaches the part of `source` that this diagnostic points into.
    /// For many diagnostics of one text, [`attach_sources`] reads it once.
    pub fn with_source(mut self, source: &str) -> Self {
        self.excerpt = None;
        attach_sources(std::slice::from_mut(&mut self), source);
        self
    }

    /// Adds a line of context printed after the source excerpt.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// `file:line:col`, as editors and CI annotations read it.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (0, _) => self.file.display().to_string(),
            (l, 0) => format!("{}:{l}", self.file.display()),
            (l, c) => format!("{}:{l}:{c}", self.file.display()),
        }
    }
}

/// Attaches to each diagnostic that has none the excerpt of `text` it
/// points into. Linear in the text and the diagnostics together, however
/// many point into one long line.
pub fn attach_sources(diags: &mut [Diagnostic], text: &str) {
    let mut order: Vec<usize> = (0..diags.len())
        .filter(|&i| diags[i].line > 0 && diags[i].excerpt.is_none())
        .collect();
    if order.is_empty() {
        return;
    }
    order.sort_by_key(|&i| (diags[i].line, diags[i].column));
    // The line in hand: its number and text, and how far into it the
    // previous column was found (characters, bytes).
    let mut number = 1u32;
    let mut start = 0usize;
    let line_at = |start: usize| {
        let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
        text[start..end].trim_end_matches('\r')
    };
    let mut line = line_at(0);
    let mut cursor = (0usize, 0usize);
    for i in order {
        let want = diags[i].line;
        while number < want {
            let Some(n) = text[start..].find('\n') else {
                break;
            };
            start += n + 1;
            number += 1;
            line = line_at(start);
            cursor = (0, 0);
        }
        if number != want {
            break;
        }
        let col = (diags[i].column as usize).saturating_sub(1);
        let rest = line[cursor.1..].char_indices().map(|(b, _)| cursor.1 + b);
        // Columns on one line come in order: carry on from the last one.
        let byte = rest
            .chain(std::iter::once(line.len()))
            .nth(col.saturating_sub(cursor.0))
            .unwrap_or(line.len());
        cursor = (col, byte);
        diags[i].excerpt = Some(Box::new(Excerpt::around(line, cursor.1)));
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.location(), self.message)?;
        if let Some(ex) = &self.excerpt {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            let (pre, post) = (
                if ex.cut_before { "…" } else { "" },
                if ex.cut_after { "…" } else { "" },
            );
            write!(f, "\n {pad} |\n {gutter} | {pre}{}{post}", ex.text)?;
            if self.column > 0 {
                // Tabs keep their width so the caret lands under the right character.
                let lead: String = pre
                    .chars()
                    .map(|_| ' ')
                    .chain(
                        ex.text
                            .chars()
                            .take(ex.caret)
                            .map(|c| if c == '\t' { '\t' } else { ' ' }),
                    )
                    .collect();
                write!(f, "\n {pad} | {lead}^")?;
            }
        }
        for note in &self.notes {
            write!(f, "\n  = {note}")?;
        }
        Ok(())
    }
}

/// At most [`PER_FILE`] diagnostics of each file, in their order, each
/// file's rest counted in one more diagnostic after its last shown one:
/// "and 999,950 more like this: field `installed_on` must be a date".
/// A million mistakes in one file cost a screenful, not the terminal.
pub fn capped(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let (keep, summaries) = plan(&diags);
    if summaries.is_empty() {
        return diags;
    }
    let mut summaries = summaries.into_iter().peekable();
    let mut out = Vec::with_capacity(keep.iter().filter(|k| **k).count() + summaries.len());
    for (i, d) in diags.into_iter().enumerate() {
        if keep[i] {
            out.push(d);
        }
        while summaries.peek().is_some_and(|(after, _)| *after == i) {
            out.extend(summaries.next().map(|(_, s)| s));
        }
    }
    out
}

/// [`capped`], borrowing: what to print of `diags`.
pub fn shown(diags: &[Diagnostic]) -> Vec<std::borrow::Cow<'_, Diagnostic>> {
    use std::borrow::Cow;
    let (keep, summaries) = plan(diags);
    let mut summaries = summaries.into_iter().peekable();
    let mut out = Vec::new();
    for (i, d) in diags.iter().enumerate() {
        if keep[i] {
            out.push(Cow::Borrowed(d));
        }
        while summaries.peek().is_some_and(|(after, _)| *after == i) {
            out.extend(summaries.next().map(|(_, s)| Cow::Owned(s)));
        }
    }
    out
}

/// Kinds of message counted apart in a summary; the rest count as others.
const SHAPES_KEPT: usize = 16;

/// What a summary counts: kinds of message with their counts, in the
/// order first seen; an empty kind stands for all the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counted(Vec<(String, u64)>);

impl Counted {
    fn add(&mut self, shape: String, n: u64) {
        if let Some(slot) = self.0.iter_mut().find(|(s, _)| *s == shape) {
            slot.1 += n;
        } else if self.0.iter().filter(|(s, _)| !s.is_empty()).count() < SHAPES_KEPT {
            self.0.push((shape, n));
        } else {
            self.add(String::new(), n);
        }
    }

    fn merge(&mut self, other: &Counted) {
        for (shape, n) in &other.0 {
            self.add(shape.clone(), *n);
        }
    }

    /// How many diagnostics this counts.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn serialize_total<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.total())
    }

    /// "and 999,950 more like this: ...", most frequent kinds first.
    fn message(&self) -> String {
        let total = self.total();
        let mut named: Vec<(usize, &(String, u64))> = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| !s.is_empty())
            .collect();
        named.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
        if named.len() == 1 && named[0].1 .1 == total {
            return format!("and {} more like this: {}", thousands(total), named[0].1 .0);
        }
        let mut parts: Vec<String> = named
            .iter()
            .take(SHAPES_SHOWN)
            .map(|(_, (s, n))| format!("{} like this: {s}", thousands(*n)))
            .collect();
        let shown: u64 = named.iter().take(SHAPES_SHOWN).map(|(_, (_, n))| n).sum();
        if total > shown {
            parts.push(format!("{} others", thousands(total - shown)));
        }
        format!("and {} more: {}", thousands(total), parts.join("; "))
    }
}

impl Diagnostic {
    /// The diagnostic that counts what is not shown of `file`.
    fn summary(file: &Path, level: Level, counted: Counted) -> Diagnostic {
        Diagnostic {
            level,
            message: counted.message(),
            counted,
            ..Diagnostic::error(file, 0, 0, "")
        }
    }

    /// Counts `message` in this summary (see [`Diagnostic::summary`]).
    pub(crate) fn count(&mut self, level: Level, message: &str) {
        self.level = self.level.max(level);
        self.counted.add(shape(message), 1);
        self.message = self.counted.message();
    }
}

/// Collects one file's diagnostics as they are found, keeping the first
/// [`PER_FILE`] in full and only counting the rest, so a million bad
/// records cost the memory of fifty. Whatever it keeps, [`capped`] later
/// gives the same result as from every diagnostic, when they were found
/// in line order.
pub(crate) fn push_bounded(diags: &mut Vec<Diagnostic>, kept: &mut usize, d: Diagnostic) {
    if *kept < PER_FILE {
        *kept += 1;
        diags.push(d);
        return;
    }
    match diags
        .iter_mut()
        .rev()
        .find(|s| !s.counted.is_empty() && s.file == d.file)
    {
        Some(summary) => summary.count(d.level, &d.message),
        None => {
            let mut counted = Counted::default();
            counted.add(shape(&d.message), 1);
            diags.push(Diagnostic::summary(&d.file, d.level, counted));
        }
    }
}

/// Which diagnostics [`capped`] keeps, and each file's count of the rest
/// with the index it follows, in index order. Summaries already made (by a
/// loader that stopped keeping) are folded into the file's count.
fn plan(diags: &[Diagnostic]) -> (Vec<bool>, Vec<(usize, Diagnostic)>) {
    struct Rest<'d> {
        order: usize,
        shown: usize,
        last: usize,
        level: Level,
        counted: Counted,
        file: &'d Path,
    }
    let mut files: HashMap<&Path, Rest> = HashMap::new();
    let mut keep = vec![true; diags.len()];
    for (i, d) in diags.iter().enumerate() {
        let order = files.len();
        let rest = files.entry(&d.file).or_insert_with(|| Rest {
            order,
            shown: 0,
            last: usize::MAX,
            level: Level::Warning,
            counted: Counted::default(),
            file: &d.file,
        });
        if !d.counted.is_empty() {
            keep[i] = false;
            rest.level = rest.level.max(d.level);
            rest.counted.merge(&d.counted);
        } else if rest.shown < PER_FILE {
            rest.shown += 1;
            rest.last = i;
        } else {
            keep[i] = false;
            rest.level = rest.level.max(d.level);
            rest.counted.add(shape(&d.message), 1);
        }
    }
    let mut rests: Vec<Rest> = files
        .into_values()
        .filter(|r| r.counted.total() > 0)
        .collect();
    rests.sort_by_key(|r| r.order);
    let mut summaries: Vec<(usize, Diagnostic)> = rests
        .into_iter()
        .map(|r| {
            // A file with only a summary keeps it where it was.
            let after = if r.last == usize::MAX {
                diags
                    .iter()
                    .position(|d| d.file == r.file)
                    .unwrap_or_default()
            } else {
                r.last
            };
            (after, Diagnostic::summary(r.file, r.level, r.counted))
        })
        .collect();
    summaries.sort_by_key(|(after, _)| *after);
    (keep, summaries)
}

/// A message with what varies from one record to the next taken out, so
/// that "field `installed_on` must be a date (YYYY-MM-DD), found `2026-13-01`"
/// and the same with another date count as one kind of mistake: what is
/// quoted and numbers go, except field names (after "field") and hints
/// (after "; "), which say which mistake it is.
pub fn shape(message: &str) -> String {
    let message = message.find(", found ").map_or(message, |i| &message[..i]);
    // What follows a `; ` is a hint, the same for every record.
    let (message, hint) = message.split_at(message.find("; ").unwrap_or(message.len()));
    let mut out = String::with_capacity(message.len() + hint.len());
    let mut rest = message;
    while let Some(open) = rest.find('`') {
        let Some(close) = rest[open + 1..].find('`').map(|c| open + 1 + c) else {
            break;
        };
        let before = &rest[..open];
        out.push_str(&digits_out(before));
        if before.ends_with("field ") {
            out.push_str(&rest[open..=close]);
        } else {
            out.push_str("`…`");
        }
        rest = &rest[close + 1..];
    }
    out.push_str(&digits_out(rest));
    out.push_str(hint);
    out
}

/// Runs of digits as `N`: line numbers and dates vary, the words do not.
fn digits_out(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// `1000000` as `1,000,000`.
pub fn thousands(n: u64) -> String {
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

/// Every diagnostic of a failed step; an error in its own right.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// True when any diagnostic is an error (warnings alone do not fail).
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.level == Level::Error)
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// `Ok(value)` when nothing is an error, else every diagnostic as the error.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(value)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in shown(&self.0).iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// How many diagnostics `diags` stands for: a count of those not shown
/// (see [`capped`]) adds what it counts, so 61 errors of one file read as
/// 61, not as the 50 shown and their one count.
pub fn total(diags: &[Diagnostic]) -> usize {
    diags
        .iter()
        .map(|d| {
            if d.counted.is_empty() {
                1
            } else {
                usize::try_from(d.counted.total()).unwrap_or(usize::MAX)
            }
        })
        .fold(0, usize::saturating_add)
}

/// The name in `names` closest to `name` by edit distance, when close
/// enough to be the one meant: for "did you mean" hints.
pub fn nearest<'a>(name: &str, ids: &'a [String]) -> Option<&'a str> {
    ids.iter()
        .map(|id| (edit_distance(name, id), id))
        .filter(|(d, id)| d * 2 <= name.chars().count().max(id.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, id)| id.as_str())
}

/// Levenshtein distance, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_the_column() {
        let d = Diagnostic::error(Path::new("a.yaml"), 2, 5, "bad thing")
            .with_source("first\nab: cd\n");
        assert_eq!(
            d.to_string(),
            "error: a.yaml:2:5: bad thing\n   |\n 2 | ab: cd\n   |     ^"
        );
    }

    #[test]
    fn long_lines_show_a_window_with_the_caret_in_it() {
        let line = format!("{}X{}", "a".repeat(5_000), "b".repeat(5_000));
        let d = Diagnostic::error(Path::new("a.yaml"), 1, 5_001, "here").with_source(&line);
        let ex = d.excerpt.as_ref().expect("an excerpt");
        assert!(ex.text.chars().count() <= MAX_SHOWN);
        assert_eq!(ex.text.chars().nth(ex.caret), Some('X'));
        assert!(ex.cut_before && ex.cut_after);
        let shown = d.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        let caret = lines[3].find('^').expect("a caret");
        assert_eq!(lines[2].chars().nth(caret), Some('X'), "{shown}");
    }

    #[test]
    fn a_column_past_the_end_points_at_the_end() {
        let d = Diagnostic::error(Path::new("a.yaml"), 2, 99, "here").with_source("x\nabc\n");
        let ex = d.excerpt.expect("an excerpt");
        assert_eq!((ex.text.as_str(), ex.caret), ("abc", 3));
    }

    #[test]
    fn many_diagnostics_on_one_line_each_find_their_column() {
        let line: String = (0..2_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let text = format!("first\n{line}\nlast\n");
        let mut diags: Vec<Diagnostic> = (1..=2_000u32)
            .rev()
            .map(|c| Diagnostic::error(Path::new("a"), 2, c, "x"))
            .collect();
        diags.push(Diagnostic::error(Path::new("a"), 3, 2, "x"));
        attach_sources(&mut diags, &text);
        for d in &diags[..2_000] {
            let ex = d.excerpt.as_ref().expect("an excerpt");
            let want = line.chars().nth(d.column as usize - 1);
            assert_eq!(ex.text.chars().nth(ex.caret), want, "column {}", d.column);
        }
        assert_eq!(diags[2_000].excerpt.as_ref().map(|e| e.caret), Some(1));
    }

    /// Regression: every diagnostic kept a copy of its whole source line and
    /// rendering walked the line each time, so many errors on long lines
    /// took time and memory quadratic in the line. Four times the errors
    /// must cost about four times as long, not sixteen.
    #[test]
    fn excerpts_are_linear_in_the_errors_on_one_line() {
        let time = |n: u32| {
            let line = "ab ".repeat(n as usize);
            let started = std::time::Instant::now();
            let mut diags: Vec<Diagnostic> = (0..n)
                .map(|i| Diagnostic::error(Path::new("a"), 1, 3 * i + 1, "bad"))
                .collect();
            attach_sources(&mut diags, &line);
            let rendered: usize = diags.iter().map(|d| d.to_string().len()).sum();
            assert!(diags.iter().all(|d| d
                .excerpt
                .as_ref()
                .is_some_and(|e| e.text.len() <= 4 * MAX_SHOWN)));
            assert!(rendered < n as usize * 4 * MAX_SHOWN);
            started.elapsed()
        };
        time(1_000);
        let small = time(16_000);
        let large = time(64_000);
        assert!(
            large < small * 10 + std::time::Duration::from_millis(200),
            "16,000 errors: {small:?}; 64,000 errors: {large:?}"
        );
    }

    fn bad_dates(file: &str, n: usize) -> Vec<Diagnostic> {
        (0..n)
            .map(|i| {
                Diagnostic::error(
                    Path::new(file),
                    i as u32 + 1,
                    5,
                    format!(
                        "field `installed_on` must be a date (YYYY-MM-DD), found `2026-1{i}-01`"
                    ),
                )
            })
            .collect()
    }

    #[test]
    fn each_file_shows_its_first_fifty_then_counts_the_rest() {
        let mut diags = bad_dates("a.yaml", 1_000);
        diags.extend(bad_dates("b.yaml", 60));
        diags.push(Diagnostic::error(
            Path::new("b.yaml"),
            99,
            1,
            "duplicate device id `ws-1` (first defined on line 3)",
        ));
        let out = capped(diags);
        assert_eq!(out.len(), 2 * PER_FILE + 2);
        assert_eq!(out[PER_FILE - 1].line, PER_FILE as u32);
        let a = &out[PER_FILE];
        assert_eq!(
            (a.file.as_path(), a.line, a.counted.total()),
            (Path::new("a.yaml"), 0, 950)
        );
        assert_eq!(
            a.message,
            "and 950 more like this: field `installed_on` must be a date (YYYY-MM-DD)"
        );
        let b = out.last().expect("a summary");
        assert_eq!(
            b.message,
            "and 11 more: 10 like this: field `installed_on` must be a date (YYYY-MM-DD); \
             1 like this: duplicate device id `…` (first defined on line N)"
        );
        // Capping what is capped changes nothing.
        assert_eq!(capped(out.clone()), out);
    }

    #[test]
    fn bounded_collection_caps_like_capping_everything() {
        let all = bad_dates("a.yaml", 500);
        let mut bounded = Vec::new();
        let mut kept = 0;
        for d in all.clone() {
            push_bounded(&mut bounded, &mut kept, d);
        }
        assert_eq!(bounded.len(), PER_FILE + 1);
        assert_eq!(capped(bounded), capped(all));
    }

    #[test]
    fn a_summary_names_the_most_frequent_kinds_first() {
        let mut diags = bad_dates("a.yaml", PER_FILE);
        for i in 0..5 {
            for _ in 0..=i {
                diags.push(Diagnostic::error(
                    Path::new("a.yaml"),
                    9,
                    1,
                    format!("mistake {}", "x".repeat(i)),
                ));
            }
        }
        let out = capped(diags);
        assert_eq!(
            out.last().map(|d| d.message.as_str()),
            Some("and 15 more: 5 like this: mistake xxxx; 4 like this: mistake xxx; 3 like this: mistake xx; 3 others")
        );
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("overuse", "overuse"), 0);
        assert_eq!(edit_distance("dev-critcal", "dev-critical"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn nearest_suggests_only_a_close_id() {
        let ids = vec!["dev-critical".to_string(), "overuse".to_string()];
        assert_eq!(nearest("dev-critcal", &ids), Some("dev-critical"));
        assert_eq!(nearest("overused", &ids), Some("overuse"));
        assert_eq!(nearest("shelfware", &ids), None);
    }
}
