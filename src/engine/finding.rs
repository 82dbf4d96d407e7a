//! Findings: what a rule found, as data that flows unchanged to every report.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// How serious a finding is, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const NAMES: &'static [&'static str] = &["info", "low", "medium", "high", "critical"];
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn parse(s: &str) -> Option<Severity> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Self::ALL[i])
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about: `#{ kind: "product", id: "acme-cad" }`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Subject {
    pub kind: String,
    pub id: String,
}

/// A place in a snapshot file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
}

/// One escalation step, dated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub after: String,
    pub to: String,
    pub on: crate::date::Date,
    /// With a ledger: whether this step is due, overdue, done or waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::ledger::steps::StepStatus>,
}

/// Who must hear of a finding and by when, as the winning router said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    pub queue: String,
    pub owner: Option<String>,
    pub notify_within: Option<String>,
    pub notify_by: Option<crate::date::Date>,
    /// With a ledger: whether the notice is due, overdue, done or waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_status: Option<crate::ledger::steps::StepStatus>,
    pub escalate: Vec<Escalation>,
    /// The router script that answered, or `None` for the `unrouted` queue.
    pub router: Option<PathBuf>,
}

/// A waiver's effect on a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WaiverNote {
    /// `waived` or `expired`.
    pub state: String,
    pub reason: String,
    pub approved_by: String,
    pub ticket: Option<String>,
    pub expires: crate::date::Date,
    /// Where the waiver is written.
    pub file: PathBuf,
    pub line: u32,
}

/// A finding, from a rule to every report.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// `rule:subject.kind:subject.id`, the key for diffs, waivers and cases.
    pub id: String,
    pub rule: String,
    /// The script that produced it.
    pub policy: PathBuf,
    pub severity: Severity,
    pub subject: Subject,
    pub message: String,
    pub evidence: serde_json::Value,
    pub route: Option<Route>,
    pub remediation: Vec<serde_json::Value>,
    pub waiver: Option<WaiverNote>,
    pub location: Option<Location>,
    /// With a ledger: the case this finding is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<crate::ledger::CaseRef>,
    /// The finding as the script built it, handed back to `remediate` and `route`.
    #[serde(skip)]
    pub(crate) raw: rhai::Map,
}

impl Finding {
    /// Whether a waiver currently applies.
    pub fn is_waived(&self) -> bool {
        self.waiver.as_ref().is_some_and(|w| w.state == "waived")
    }
}

/// How deep [`to_json`] goes: deeper than any value the engine accepts from
/// a script, so it only ever cuts values no report receives (such as a
/// constant shown by `trueup explain`).
const JSON_DEPTH: usize = 64;

/// Converts a script value into JSON for evidence and remediation.
///
/// Maps come out with sorted keys (Rhai keeps them sorted), so output is
/// stable. Dates and other host values print as text. Nesting past
/// [`JSON_DEPTH`] comes out as `"..."`, so the result is never deeper.
pub fn to_json(value: &rhai::Dynamic) -> serde_json::Value {
    to_json_within(value, JSON_DEPTH)
}

fn to_json_within(value: &rhai::Dynamic, left: usize) -> serde_json::Value {
    use serde_json::Value;
    let is_container = value.is_array() || value.is_map();
    if left == 0 && is_container {
        return Value::String("...".into());
    }
    let to_json = |v: &rhai::Dynamic| to_json_within(v, left.saturating_sub(1));
    if value.is_unit() {
        Value::Null
    } else if let Ok(b) = value.as_bool() {
        Value::Bool(b)
    } else if let Ok(i) = value.as_int() {
        Value::from(i)
    } else if let Ok(f) = value.as_float() {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    } else if value.is_string() {
        Value::String(value.to_string())
    } else if let Some(d) = value.read_lock::<crate::date::Date>() {
        Value::String(d.to_string())
    } else if let Some(arr) = value.read_lock::<rhai::Array>() {
        Value::Array(arr.iter().map(&to_json).collect())
    } else if let Some(map) = value.read_lock::<rhai::Map>() {
        Value::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        )
    } else {
        Value::String(value.to_string())
    }
}
