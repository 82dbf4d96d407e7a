//! Progress on stderr for long runs, and the line that says where `-o`
//! wrote a report.
//!
//! Progress is drawn only when stderr is a terminal: a CI log or a
//! redirected stderr gets nothing from it, so what reaches stderr there is
//! only diagnostics and the `-o` summary. It never touches stdout.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::Status;

/// A progress bar or spinner, or nothing when stderr is not a terminal.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `len` items (snapshots, scenarios) labelled `what`; a
    /// spinner when there is one item, whose progress cannot be counted.
    pub fn new(len: usize, what: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = if len > 1 {
            let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {pos}/{len} [{bar:30}] {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        } else {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        };
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// One item done.
    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    /// Clears the bar, so the report and diagnostics that follow start on a
    /// clean line.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `wrote 20 findings (2 critical, 5 high) to FILE: failing` on stderr,
/// after a report went to `-o FILE`; nothing when it went to stdout.
pub fn wrote(output: Option<&Path>, what: &str, status: Status) {
    if let Some(path) = output {
        eprintln!("wrote {what} to {}: {}", path.display(), status.as_str());
    }
}

/// `N things`, singular for one.
pub fn count(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}
