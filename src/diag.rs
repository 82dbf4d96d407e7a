//! Diagnostics: what trueup says when input is wrong.
//!
//! Every problem with a user's file (snapshot, script, waiver, test case)
//! becomes a [`Diagnostic`] naming the file, line and column, worded in plain
//! lowercase words, with the offending source line and a caret under it.
//! Loaders collect every diagnostic in a file before failing, so one run shows
//! every mistake.

use std::fmt;
use std::path::{Path, PathBuf};

/// Source lines longer than this are shown as a window around the column.
const MAX_SHOWN: usize = 120;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Error,
}

/// One problem at one place in one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub level: Level,
    pub file: PathBuf,
    /// 1-based; 0 when the problem is with the file as a whole.
    pub line: u32,
    /// 1-based character column; 0 when unknown.
    pub column: u32,
    pub message: String,
    /// The source line the position points into, shown under the message.
    #[serde(skip)]
    pub source_line: Option<String>,
    /// Further lines of context (a call chain, a hint).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
            source_line: None,
            notes: Vec::new(),
        }
    }

    /// A warning at `line:column` of `file`.
    pub fn warning(file: &Path, line: u32, column: u32, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(file, line, column, message)
        }
    }

    /// Attaches the source line from `source` that this diagnostic points into.
    pub fn with_source(mut self, source: &str) -> Self {
        if self.line > 0 {
            self.source_line = source
                .lines()
                .nth(self.line as usize - 1)
                .map(|l| l.trim_end_matches('\r').to_string());
        }
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

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.location(), self.message)?;
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            // A very long line shows only a window around the column.
            let col = (self.column as usize).saturating_sub(1);
            let start = col.saturating_sub(MAX_SHOWN / 2);
            let shown: String = src.chars().skip(start).take(MAX_SHOWN).collect();
            let more = src.chars().count() > start + MAX_SHOWN;
            let (pre, post) = (
                if start > 0 { "…" } else { "" },
                if more { "…" } else { "" },
            );
            write!(f, "\n {pad} |\n {gutter} | {pre}{shown}{post}")?;
            if self.column > 0 {
                // Tabs keep their width so the caret lands under the right character.
                let lead: String = pre
                    .chars()
                    .map(|_| ' ')
                    .chain(
                        shown
                            .chars()
                            .take(col - start)
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
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

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
}
