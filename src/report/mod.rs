//! Reports: pure functions from a run's result to text.
//!
//! Each format is one file and takes the same [`CheckReport`]; none of them
//! evaluates anything or reads the clock, so each is testable alone and the
//! same inputs always print the same bytes.

pub mod diff;
pub mod json;
pub mod junit;
pub mod position;
pub mod text;

use std::path::PathBuf;

use crate::diag::Diagnostic;
use crate::engine::{Evaluation, Finding, Severity};

/// An output format of `check` and `diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Renders a check in `format`; `terminal` says stdout is the destination
/// (colour is used only there, on a TTY, without `NO_COLOR`).
pub fn render_check(r: &CheckReport, format: Format, terminal: bool) -> String {
    match format {
        Format::Text => text::render(
            r,
            text::Style {
                color: terminal && crate::command::stdout_color(),
            },
        ),
        Format::Json => json::render(r),
    }
}

/// Renders a diff in `format`.
pub fn render_diff(r: &crate::diff::DiffReport, format: Format, terminal: bool) -> String {
    match format {
        Format::Text => diff::text(
            r,
            text::Style {
                color: terminal && crate::command::stdout_color(),
            },
        ),
        Format::Json => diff::json(r),
    }
}

/// The threshold at which findings fail a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Severity(Severity),
    Never,
}

impl FailOn {
    pub fn parse(s: &str) -> Option<FailOn> {
        if s == "never" {
            Some(FailOn::Never)
        } else {
            Severity::parse(s).map(FailOn::Severity)
        }
    }

    /// Whether this finding fails the run.
    pub fn fails(self, f: &Finding) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::Severity(s) => f.severity >= s && !f.is_waived(),
        }
    }
}

/// Everything `trueup check` found, ready to print.
pub struct CheckReport {
    pub policies: PathBuf,
    pub policies_digest: String,
    pub evaluations: Vec<Evaluation>,
    pub errors: Vec<Diagnostic>,
    pub fail_on: FailOn,
}

impl CheckReport {
    /// Every finding of every snapshot, in report order.
    pub fn findings(&self) -> impl Iterator<Item = (&Evaluation, &Finding)> {
        self.evaluations
            .iter()
            .flat_map(|e| e.findings.iter().map(move |f| (e, f)))
    }

    /// Counts by severity (index = severity), not counting waived findings.
    pub fn counts(&self) -> [usize; 5] {
        let mut counts = [0; 5];
        for (_, f) in self.findings().filter(|(_, f)| !f.is_waived()) {
            counts[f.severity as usize] += 1;
        }
        counts
    }

    pub fn waived(&self) -> usize {
        self.findings().filter(|(_, f)| f.is_waived()).count()
    }

    pub fn failing(&self) -> usize {
        self.findings()
            .filter(|(_, f)| self.fail_on.fails(f))
            .count()
    }

    /// 2 when the run could not be trusted, 1 when a finding fails it, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.failing() > 0 {
            1
        } else {
            0
        }
    }
}
