//! Waivers: approved, expiring exceptions to findings (`waivers.yaml`).
//!
//! A waiver matches findings by globs over rule ids and subject ids. An
//! unexpired match waives the finding: it is still reported, as waived, and
//! does not fail the run. An expired waiver no longer applies and is reported;
//! a waiver that matched nothing is reported as unused. A waiver without an
//! approver or an expiry date is invalid and stops the run.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::Serialize;

use crate::date::Date;
use crate::diag::{Diagnostic, Diagnostics};
use crate::engine::{Finding, WaiverNote};
use crate::yaml::{self, Fields, Sink, Value};

/// Larger waivers files are refused (read through the one bounded reader).
pub const MAX_WAIVERS_BYTES: u64 = 16 << 20;
/// The longest `rule` or `subject` glob, in characters.
pub const MAX_GLOB_CHARS: usize = 1024;
/// The most wildcards (`*`, `?`, `[`, `{`) one glob may hold.
pub const MAX_GLOB_WILDCARDS: usize = 64;
/// The deepest nesting of `{a,{b,c}}` alternations in one glob.
pub const MAX_GLOB_NESTING: usize = 4;

/// Checks a glob against the limits above before it is compiled: a glob
/// past them is refused with a message, never handed to the matcher
/// compiler, which panics or takes long on patterns far past them.
pub(crate) fn check_glob(pattern: &str) -> Result<(), String> {
    let chars = pattern.chars().count();
    if chars > MAX_GLOB_CHARS {
        return Err(format!(
            "glob is too long ({chars} characters; the limit is {MAX_GLOB_CHARS})"
        ));
    }
    let wildcards = pattern
        .chars()
        .filter(|c| matches!(c, '*' | '?' | '[' | '{'))
        .count();
    if wildcards > MAX_GLOB_WILDCARDS {
        return Err(format!(
            "glob has too many wildcards ({wildcards}; the limit is {MAX_GLOB_WILDCARDS} of `*`, `?`, `[` and `{{`)"
        ));
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut escaped = false;
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_GLOB_NESTING {
        return Err(format!(
            "glob nests alternations {deepest} deep (the limit is {MAX_GLOB_NESTING})"
        ));
    }
    Ok(())
}

/// One approved exception.
#[derive(Clone, Debug, Serialize)]
pub struct Waiver {
    pub rule: String,
    pub subject: String,
    pub reason: String,
    pub approved_by: String,
    pub ticket: Option<String>,
    pub expires: Date,
    pub line: u32,
    #[serde(skip)]
    rule_glob: GlobMatcher,
    #[serde(skip)]
    subject_glob: GlobMatcher,
}

impl Waiver {
    /// A waiver of exactly one rule and subject (no wildcards, whatever
    /// characters the ids hold), as a remediation option grants one.
    pub fn exact(
        rule: &str,
        subject: &str,
        reason: &str,
        approved_by: &str,
        expires: Date,
    ) -> Waiver {
        // Escaped, and a backslash taken as itself: the glob matches `s` alone.
        let exact = |s: &str| {
            globset::GlobBuilder::new(&globset::escape(s))
                .backslash_escape(false)
                .build()
                .expect("an escaped glob compiles")
                .compile_matcher()
        };
        Waiver {
            rule: rule.to_string(),
            subject: subject.to_string(),
            reason: reason.to_string(),
            approved_by: approved_by.to_string(),
            ticket: None,
            expires,
            line: 0,
            rule_glob: exact(rule),
            subject_glob: exact(subject),
        }
    }

    /// Whether the waiver's globs cover this rule and subject id.
    pub fn covers(&self, rule: &str, subject: &str) -> bool {
        self.rule_glob.is_match(rule) && self.subject_glob.is_match(subject)
    }

    /// Whether it still applies on `day` (the expiry date itself included).
    pub fn active_on(&self, day: Date) -> bool {
        day <= self.expires
    }
}

/// The waivers of one file.
#[derive(Clone, Debug, Default)]
pub struct WaiverSet {
    pub file: PathBuf,
    pub waivers: Vec<Waiver>,
}

/// What applying waivers found, beside the findings they marked.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WaiverSummary {
    pub file: Option<PathBuf>,
    /// Waivers past their expiry date.
    pub expired: Vec<Waiver>,
    /// Unexpired waivers that matched no finding.
    pub unused: Vec<Waiver>,
}

impl WaiverSet {
    /// Reads and validates a waivers file, reporting every invalid waiver.
    pub fn load(path: &Path) -> Result<WaiverSet, Diagnostics> {
        let text = yaml::read_text(path, MAX_WAIVERS_BYTES)?;
        WaiverSet::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<WaiverSet, Diagnostics> {
        match yaml::parse_document(path, text) {
            Ok(Some(root)) => WaiverSet::from_node(path, &root, text),
            Ok(None) => Err(Diagnostics(vec![Diagnostic::error(
                path,
                1,
                0,
                "empty waivers file: expected `waivers:` and a list of waivers",
            )
            .with_source(text)])),
            Err(d) => Err(Diagnostics(vec![d.with_source(text)])),
        }
    }

    /// Reads waivers from a parsed `waivers:` mapping (a file, or a test
    /// case's inline list); `text` is the whole file, for source lines.
    pub fn from_node(path: &Path, root: &yaml::Node, text: &str) -> Result<WaiverSet, Diagnostics> {
        let mut sink = Sink::new(path);
        let mut waivers = Vec::new();
        let Some(top) = Fields::of(root, "waivers file", &["waivers"], &mut sink) else {
            return Err(Diagnostics(sink.diags));
        };
        let items = match top.get("waivers").map(|n| &n.value) {
            Some(Value::Seq(items)) => items.as_slice(),
            None => &[],
            Some(_) => {
                let pos = top.get("waivers").map_or(top.pos(), |n| n.pos);
                sink.error(pos, "`waivers` must be a list");
                &[]
            }
        };
        let names = &[
            "rule",
            "subject",
            "reason",
            "approved_by",
            "ticket",
            "expires",
        ];
        for item in items {
            let Some(f) = Fields::of(item, "waiver", names, &mut sink) else {
                continue;
            };
            let rule = f.req_str("rule", &mut sink);
            let subject = f.str("subject", &mut sink).unwrap_or("*");
            let reason = f.req_str("reason", &mut sink);
            let approved_by = f.req_str("approved_by", &mut sink);
            let ticket = f.str("ticket", &mut sink);
            let expires = f.req_date("expires", &mut sink);
            let glob = |field: &str, pattern: &str, sink: &mut Sink| {
                let compiled = check_glob(pattern)
                    .and_then(|()| Glob::new(pattern).map_err(|e| e.kind().to_string()));
                match compiled {
                    Ok(g) => Some(g.compile_matcher()),
                    Err(why) => {
                        let pos = f.get(field).map_or(f.pos(), |n| n.pos);
                        let shown: String = pattern.chars().take(40).collect();
                        let more = if shown.len() < pattern.len() {
                            "…"
                        } else {
                            ""
                        };
                        sink.error(
                            pos,
                            format!("field `{field}`: `{shown}{more}` is not a valid glob: {why}"),
                        );
                        None
                    }
                }
            };
            let rule_glob = rule.and_then(|r| glob("rule", r, &mut sink));
            let subject_glob = glob("subject", subject, &mut sink);
            if let (
                Some(rule),
                Some(reason),
                Some(approved_by),
                Some(expires),
                Some(rule_glob),
                Some(subject_glob),
            ) = (rule, reason, approved_by, expires, rule_glob, subject_glob)
            {
                waivers.push(Waiver {
                    rule: rule.to_string(),
                    subject: subject.to_string(),
                    reason: reason.to_string(),
                    approved_by: approved_by.to_string(),
                    ticket: ticket.map(str::to_string),
                    expires,
                    line: f.pos().line,
                    rule_glob,
                    subject_glob,
                });
            }
        }
        let mut diags = sink.diags;
        crate::diag::attach_sources(&mut diags, text);
        Diagnostics(diags).into_result(WaiverSet {
            file: path.to_path_buf(),
            waivers,
        })
    }

    /// The waivers covering a rule and subject, in file order.
    pub fn matching<'a>(
        &'a self,
        rule: &'a str,
        subject: &'a str,
    ) -> impl Iterator<Item = &'a Waiver> {
        self.waivers.iter().filter(move |w| w.covers(rule, subject))
    }

    /// Marks findings waived (first unexpired match) or carrying an expired
    /// waiver, and reports expired and unused waivers.
    pub fn apply(&self, findings: &mut [Finding], as_of: Date) -> WaiverSummary {
        let mut used = vec![false; self.waivers.len()];
        for f in findings.iter_mut() {
            let mut expired = None;
            let mut active = None;
            for (i, w) in self.waivers.iter().enumerate() {
                if !w.covers(&f.rule, &f.subject.id) {
                    continue;
                }
                if w.active_on(as_of) {
                    active = Some(i);
                    break;
                }
                expired.get_or_insert(i);
            }
            let Some((i, state)) = active
                .map(|i| (i, "waived"))
                .or(expired.map(|i| (i, "expired")))
            else {
                continue;
            };
            used[i] = true;
            let w = &self.waivers[i];
            f.waiver = Some(WaiverNote {
                state: state.to_string(),
                reason: w.reason.clone(),
                approved_by: w.approved_by.clone(),
                ticket: w.ticket.clone(),
                expires: w.expires,
                file: self.file.clone(),
                line: w.line,
            });
        }
        WaiverSummary {
            file: Some(self.file.clone()),
            expired: self
                .waivers
                .iter()
                .filter(|w| !w.active_on(as_of))
                .cloned()
                .collect(),
            unused: self
                .waivers
                .iter()
                .zip(&used)
                .filter(|(w, used)| !**used && w.active_on(as_of))
                .map(|(w, _)| w.clone())
                .collect(),
        }
    }
}

/// Finds the waivers file: `--waivers FILE` if given (it must exist; a
/// named pipe or a device is read like a file, within the size limit), else
/// `waivers.yaml` beside the policies folder if present.
pub fn locate(explicit: Option<&Path>, policies: &Path) -> Result<Option<PathBuf>, Diagnostic> {
    if let Some(p) = explicit {
        if !p.exists() {
            return Err(Diagnostic::error(p, 0, 0, "waivers file not found"));
        }
        return Ok(Some(p.to_path_buf()));
    }
    let beside = policies
        .parent()
        .map(|d| d.join("waivers.yaml"))
        .filter(|p| p.is_file());
    Ok(beside)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rule: &str) -> Result<WaiverSet, Diagnostics> {
        let text = format!(
            "waivers:\n  - {{ rule: \"{rule}\", reason: r, approved_by: j, expires: 2027-01-01 }}\n"
        );
        WaiverSet::parse(Path::new("w.yaml"), &text)
    }

    fn refused(rule: &str, why: &str) {
        let d = load(rule).expect_err("refused");
        assert_eq!(d.0.len(), 1, "{:?}", d.0);
        assert_eq!(d.0[0].line, 2);
        assert!(d.0[0].message.contains(why), "{}", d.0[0].message);
    }

    #[test]
    fn glob_length_is_capped() {
        assert!(load(&"a".repeat(MAX_GLOB_CHARS)).is_ok());
        refused(&"a".repeat(MAX_GLOB_CHARS + 1), "too long");
    }

    #[test]
    fn glob_wildcards_are_capped() {
        assert!(load(&"a*".repeat(MAX_GLOB_WILDCARDS)).is_ok());
        refused(&"a*".repeat(MAX_GLOB_WILDCARDS + 1), "too many wildcards");
    }

    // Regression: alternations nested a few thousand deep made the glob
    // compiler panic ("regex compilation shouldn't fail").
    #[test]
    fn glob_nesting_is_capped() {
        let nested = |n: usize| format!("{}x{}", "{a,".repeat(n), "}".repeat(n));
        assert!(load(&nested(MAX_GLOB_NESTING)).is_ok());
        refused(&nested(MAX_GLOB_NESTING + 1), "nests alternations");
        refused(&nested(5000), "");
    }

    #[test]
    fn globs_at_every_limit_compile_and_match() {
        // As hard as the limits allow: the longest, most wildcards, deepest.
        let deep = format!(
            "{}{}{}",
            "{a,".repeat(MAX_GLOB_NESTING),
            "*?[ab]".repeat((MAX_GLOB_WILDCARDS - MAX_GLOB_NESTING) / 3),
            "}".repeat(MAX_GLOB_NESTING)
        );
        let long = format!("{}{}", "*".repeat(MAX_GLOB_WILDCARDS), "b".repeat(960));
        for rule in [deep, long] {
            assert!(rule.chars().count() <= MAX_GLOB_CHARS);
            let set = load(&rule).unwrap_or_else(|d| panic!("{rule}: {:?}", d.0));
            assert!(!set.waivers[0].covers(&"c".repeat(5000), "x"));
        }
    }

    #[test]
    fn an_escaped_brace_does_not_count_as_nesting() {
        let escaped = format!("{}x", "\\\\{".repeat(MAX_GLOB_NESTING + 1));
        assert!(load(&escaped).is_ok());
    }

    #[test]
    fn an_exact_waiver_covers_its_ids_alone() {
        let day = Date::parse("2027-01-01").unwrap();
        for id in ["acme-*", "a?b", "[x]", "{a,b}", "dom\\host", "trail\\", ""] {
            let w = Waiver::exact("overuse", id, "r", "j", day);
            assert!(w.covers("overuse", id), "{id}");
            assert!(!w.covers("overuse", &format!("{id}x")), "{id}");
            assert!(!w.covers("overuse-x", id), "{id}");
        }
        let w = Waiver::exact("overuse", "acme-*", "r", "j", day);
        assert!(!w.covers("overuse", "acme-cad"), "a star is a star");
    }
}
