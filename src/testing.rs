//! The playbook's own tests: YAML cases under `policies/tests/**/*.yaml`.
//!
//! Each case evaluates the playbook against a snapshot (a path relative to
//! the case file, or an inline `inventory:`) and checks that every `want`
//! is found, no `absent` rule fired, and, with `exact: true`, nothing else.
//! Loading reports every malformed case; running reports want against got.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde_json::Value as Json;

use crate::date::Date;
use crate::diag::{Diagnostic, Diagnostics};
use crate::engine::{evaluate, EvalOptions, Finding};
use crate::inventory::{self, Snapshot};
use crate::policy::Playbook;
use crate::waivers::WaiverSet;
use crate::yaml::{self, Fields, Node, Sink, Value};

/// One expected finding: each field given must match.
#[derive(Clone, Debug, Default)]
pub struct Want {
    pub fields: BTreeMap<String, Json>,
    pub line: u32,
}

impl Want {
    /// The rule this expectation is about.
    pub fn rule(&self) -> &str {
        self.fields.get("rule").and_then(Json::as_str).unwrap_or("")
    }

    /// `rule subject`, how messages name the expectation.
    pub fn describe(&self) -> String {
        match self.fields.get("subject").and_then(Json::as_str) {
            Some(s) => format!("{} {s}", self.rule()),
            None => self.rule().to_string(),
        }
    }
}

/// Where a case's inventory comes from.
#[derive(Clone, Debug)]
pub enum Source {
    File(PathBuf),
    Inline(Arc<Snapshot>),
}

/// One test case.
#[derive(Clone, Debug)]
pub struct Case {
    pub file: PathBuf,
    pub line: u32,
    pub note: String,
    pub source: Source,
    pub as_of: Option<Date>,
    pub waivers: Option<WaiverSet>,
    pub want: Vec<Want>,
    pub absent: Vec<String>,
    /// The line of each `absent` entry.
    pub absent_lines: Vec<u32>,
    pub exact: bool,
}

impl Case {
    /// `file:line note`, how a case is named in output and `--run` matches.
    pub fn name(&self) -> String {
        format!("{}:{}: {}", self.file.display(), self.line, self.note)
    }
}

const WANT_KEYS: &[&str] = &[
    "rule",
    "subject",
    "kind",
    "severity",
    "message",
    "queue",
    "owner",
    "router",
    "notify_by",
    "escalates_to",
    "waived",
    "remediation",
    "evidence",
];

/// Every `*.yaml` case file below `dir`, in path order.
pub fn case_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Reads the cases of one file, reporting every malformed one.
pub fn load_cases(path: &Path) -> Result<Vec<Case>, Diagnostics> {
    let text = yaml::read_text(path, 64 << 20)?;
    let mut sink = Sink::new(path);
    let mut cases = Vec::new();
    let root = match yaml::parse_document(path, &text) {
        Ok(Some(root)) => Some(root),
        Ok(None) => {
            sink.error(
                yaml::Pos { line: 1, col: 0 },
                "empty test file: expected `cases:` and a list of test cases",
            );
            None
        }
        Err(d) => {
            sink.diags.push(d);
            None
        }
    };
    if let Some(root) = root {
        if let Some(top) = Fields::of(&root, "test file", &["cases"], &mut sink) {
            match top.require("cases", &mut sink).map(|n| &n.value) {
                Some(Value::Seq(items)) if items.is_empty() => {
                    let pos = top.get("cases").map_or(top.pos(), |n| n.pos);
                    sink.error(pos, "`cases` is empty: a test file needs at least one case");
                }
                Some(Value::Seq(items)) => {
                    for item in items {
                        if let Some(c) = case(path, &text, item, &mut sink) {
                            cases.push(c);
                        }
                    }
                }
                Some(_) => sink.error(top.pos(), "`cases` must be a list"),
                None => {}
            }
        }
    }
    let mut diags = sink.diags;
    crate::diag::attach_sources(&mut diags, &text);
    Diagnostics(diags).into_result(cases)
}

fn case(path: &Path, text: &str, node: &Node, sink: &mut Sink) -> Option<Case> {
    let names = &[
        "note",
        "snapshot",
        "inventory",
        "as_of",
        "waivers",
        "want",
        "absent",
        "exact",
    ];
    let f = Fields::of(node, "test case", names, sink)?;
    let note = f.req_str("note", sink).unwrap_or_default().to_string();
    let as_of = f.date("as_of", sink);
    let exact = f.bool("exact", sink).unwrap_or(false);
    let absent = f
        .str_list("absent", sink)
        .into_iter()
        .map(str::to_string)
        .collect();
    let absent_lines = match f.get("absent").map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter(|i| i.as_str().is_some())
            .map(|i| i.pos.line)
            .collect(),
        _ => Vec::new(),
    };
    let given = |name: &str| match f.get(name).map(|n| &n.value) {
        Some(Value::Seq(items)) => !items.is_empty(),
        Some(_) => true,
        None => false,
    };
    if !given("want") && !given("absent") && !exact {
        sink.error(
            f.pos(),
            "test case checks nothing: give `want`, `absent` or `exact: true`",
        );
    }
    let source = match (f.get("snapshot"), f.get("inventory")) {
        (Some(_), Some(n)) => {
            sink.error(n.pos, "give either `snapshot` or `inventory`, not both");
            None
        }
        (Some(_), None) => f.str("snapshot", sink).map(|p| {
            let base = path.parent().unwrap_or(Path::new("."));
            Source::File(base.join(p))
        }),
        (None, Some(n)) => match inventory::load::from_node(path, n, text) {
            Ok(s) => Some(Source::Inline(Arc::new(s))),
            Err(d) => {
                sink.diags.extend(d.0);
                None
            }
        },
        (None, None) => {
            sink.error(
                f.pos(),
                "test case needs `snapshot: PATH` or an inline `inventory:`",
            );
            None
        }
    };
    let waivers = f
        .get("waivers")
        .and_then(|n| inline_waivers(path, text, n, sink));
    let mut want = Vec::new();
    if let Some(n) = f.get("want") {
        match &n.value {
            Value::Seq(items) => {
                for item in items {
                    let Some(w) = Fields::of(item, "want", WANT_KEYS, sink) else {
                        continue;
                    };
                    if w.require("rule", sink).is_none() {
                        continue;
                    }
                    let fields = WANT_KEYS
                        .iter()
                        .filter_map(|k| w.get(k).map(|v| (k.to_string(), to_json(v))))
                        .collect();
                    want.push(Want {
                        fields,
                        line: item.pos.line,
                    });
                }
            }
            _ => sink.error(n.pos, "`want` must be a list"),
        }
    }
    Some(Case {
        file: path.to_path_buf(),
        line: f.pos().line,
        note,
        source: source?,
        as_of,
        waivers,
        want,
        absent,
        absent_lines,
        exact,
    })
}

/// Checks that every rule the cases name in `want` and `absent` is a rule
/// of the playbook: a case about a misspelt rule would pass for ever.
pub fn check_rules(playbook: &Playbook, cases: &[Case]) -> Diagnostics {
    let ids: Vec<String> = playbook.rules().map(|m| m.rule_id()).collect();
    let mut diags = Diagnostics::default();
    for c in cases {
        let named = c.want.iter().map(|w| (w.rule(), w.line)).chain(
            c.absent
                .iter()
                .map(String::as_str)
                .zip(c.absent_lines.iter().copied()),
        );
        for (rule, line) in named {
            if ids.iter().any(|id| id == rule) {
                continue;
            }
            let message = match crate::diag::nearest(rule, &ids) {
                Some(near) => format!("no rule `{rule}`; did you mean `{near}`"),
                None => format!(
                    "no rule `{rule}` in the playbook (its rules: {})",
                    ids.join(", ")
                ),
            };
            diags.push(Diagnostic::error(&c.file, line, 0, message));
        }
    }
    diags
}

fn inline_waivers(path: &Path, text: &str, node: &Node, sink: &mut Sink) -> Option<WaiverSet> {
    // Waivers inline in a case read exactly like a waivers file's list.
    let wrapped = Node {
        value: Value::Map(vec![(
            Node {
                value: Value::Scalar {
                    text: "waivers".into(),
                    plain: true,
                },
                pos: node.pos,
            },
            node.clone(),
        )]),
        pos: node.pos,
    };
    match WaiverSet::from_node(path, &wrapped, text) {
        Ok(w) => Some(w),
        Err(d) => {
            sink.diags.extend(d.0);
            None
        }
    }
}

/// A YAML node as JSON, with plain scalars typed (numbers, booleans, null).
pub fn to_json(node: &Node) -> Json {
    match &node.value {
        _ if node.is_null() => Json::Null,
        Value::Scalar { text, plain } => {
            if *plain {
                if let Ok(i) = text.parse::<i64>() {
                    return Json::from(i);
                }
                if let Ok(f) = text.parse::<f64>() {
                    if let Some(n) = serde_json::Number::from_f64(f) {
                        return Json::Number(n);
                    }
                }
                match text.as_ref() {
                    "true" => return Json::Bool(true),
                    "false" => return Json::Bool(false),
                    _ => {}
                }
            }
            Json::String(text.to_string())
        }
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(pairs) => Json::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), to_json(v)))
                .collect(),
        ),
    }
}

/// The outcome of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: String,
    pub note: String,
    pub file: PathBuf,
    pub line: u32,
    /// Empty when the case passed.
    pub failures: Vec<String>,
    /// What fired, as `rule subject severity`, for the side-by-side view.
    pub got: Vec<String>,
    /// Rules that fired, routers that answered, rules whose `remediate` ran.
    pub fired: Vec<String>,
    pub routed_by: Vec<PathBuf>,
    pub remediated: Vec<String>,
    /// Each finding the case produced, in brief, for `trueup explain`.
    pub seen: Vec<Seen>,
    /// Rules the case requires to stay quiet.
    pub absent: Vec<String>,
}

/// A finding a case produced, in brief.
#[derive(Clone, Debug)]
pub struct Seen {
    pub rule: String,
    pub severity: crate::engine::Severity,
    pub router: Option<PathBuf>,
    pub queue: String,
    pub actions: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs the cases, in parallel, in order of the input.
pub fn run(playbook: &Playbook, cases: &[Case]) -> Result<Vec<CaseResult>, Diagnostics> {
    let snapshots: Mutex<HashMap<PathBuf, Arc<Snapshot>>> = Mutex::new(HashMap::new());
    let results: Vec<Result<CaseResult, (Diagnostics, &Case)>> = cases
        .par_iter()
        .map(|c| {
            let snap = match &c.source {
                Source::Inline(s) => s.clone(),
                Source::File(p) => {
                    let cached = snapshots
                        .lock()
                        .expect("no panics hold this lock")
                        .get(p)
                        .cloned();
                    match cached {
                        Some(s) => s,
                        None => {
                            let s = Arc::new(inventory::load(p).map_err(|d| (d, c))?);
                            snapshots
                                .lock()
                                .expect("no panics hold this lock")
                                .insert(p.clone(), s.clone());
                            s
                        }
                    }
                }
            };
            let opts = EvalOptions {
                as_of: c.as_of,
                waivers: c.waivers.as_ref(),
                opened: None,
            };
            let eval = evaluate(playbook, snap, opts).map_err(|d| (d, c))?;
            Ok(judge(c, &eval.findings))
        })
        .collect();
    let mut out = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(r) => out.push(r),
            Err((d, c)) => failed.extend(d.0.into_iter().map(|d| (d, c))),
        }
    }
    once_with_cases(failed).into_result(out)
}

/// Case notes named in full when one error comes from many cases.
const CASES_NAMED: usize = 5;

/// Each distinct error once, saying which cases it came from: a broken
/// rule fails every case, and one message says so better than forty.
fn once_with_cases(failed: Vec<(Diagnostic, &Case)>) -> Diagnostics {
    let mut groups: Vec<(Diagnostic, Vec<&Case>)> = Vec::new();
    let mut index: HashMap<Diagnostic, usize> = HashMap::new();
    for (d, c) in failed {
        match index.get(&d) {
            Some(&i) => groups[i].1.push(c),
            None => {
                index.insert(d.clone(), groups.len());
                groups.push((d, vec![c]));
            }
        }
    }
    let mut diags = Diagnostics::default();
    for (mut d, cases) in groups {
        if let [c] = cases.as_slice() {
            d.notes.push(format!("in test case {}", c.name()));
        } else {
            let mut named: Vec<String> = cases
                .iter()
                .take(CASES_NAMED)
                .map(|c| c.note.clone())
                .collect();
            if cases.len() > CASES_NAMED {
                named.push(format!("... and {} more", cases.len() - CASES_NAMED));
            }
            d.message = format!(
                "{} (in {} cases: {})",
                d.message,
                cases.len(),
                named.join(", ")
            );
        }
        diags.push(d);
    }
    diags
}

/// Compares what fired with what the case wants.
pub fn judge(c: &Case, findings: &[Finding]) -> CaseResult {
    let mut failures = Vec::new();
    for w in &c.want {
        if findings.iter().any(|f| matches(w, f)) {
            continue;
        }
        let subject = w.fields.get("subject").and_then(Json::as_str);
        let same = findings
            .iter()
            .find(|f| f.rule == w.rule() && subject.is_none_or(|s| s == f.subject.id));
        let mut text = format!("want: {}", w.describe());
        match same {
            // Side by side, field by field, for the finding the case means.
            Some(f) => {
                for (k, v) in w.fields.iter().filter(|(k, v)| !field_matches(k, v, f)) {
                    text.push_str(&format!(
                        "\n  {k}:\n    want: {}\n    got:  {}",
                        show(v),
                        show(&field_value(k, f))
                    ));
                }
            }
            None => {
                let near: Vec<String> = findings
                    .iter()
                    .filter(|f| f.rule == w.rule())
                    .map(got_line)
                    .collect();
                let got = if near.is_empty() {
                    "nothing from this rule".to_string()
                } else {
                    near.join("; ")
                };
                text.push_str(&format!("\ngot:  {got}"));
            }
        }
        failures.push(text);
    }
    for rule in &c.absent {
        let fired: Vec<String> = findings
            .iter()
            .filter(|f| &f.rule == rule)
            .map(got_line)
            .collect();
        if !fired.is_empty() {
            failures.push(format!(
                "want: no `{rule}` finding\ngot:  {}",
                fired.join("; ")
            ));
        }
    }
    if c.exact {
        for f in findings
            .iter()
            .filter(|f| !c.want.iter().any(|w| matches(w, f)))
        {
            failures.push(format!(
                "want: nothing beyond `want` (exact)\ngot:  {}",
                got_line(f)
            ));
        }
    }
    let mut fired: Vec<String> = findings.iter().map(|f| f.rule.clone()).collect();
    fired.sort();
    fired.dedup();
    let mut routed_by: Vec<PathBuf> = findings
        .iter()
        .filter_map(|f| f.route.as_ref().and_then(|r| r.router.clone()))
        .collect();
    routed_by.sort();
    routed_by.dedup();
    let mut remediated: Vec<String> = findings
        .iter()
        .filter(|f| !f.remediation.is_empty())
        .map(|f| f.rule.clone())
        .collect();
    remediated.sort();
    remediated.dedup();
    CaseResult {
        name: c.name(),
        note: c.note.clone(),
        file: c.file.clone(),
        line: c.line,
        failures,
        got: findings.iter().map(got_line).collect(),
        fired,
        routed_by,
        remediated,
        seen: findings
            .iter()
            .map(|f| Seen {
                rule: f.rule.clone(),
                severity: f.severity,
                router: f.route.as_ref().and_then(|r| r.router.clone()),
                queue: f
                    .route
                    .as_ref()
                    .map(|r| r.queue.clone())
                    .unwrap_or_default(),
                actions: f
                    .remediation
                    .iter()
                    .filter_map(|o| o["action"].as_str().map(str::to_string))
                    .collect(),
            })
            .collect(),
        absent: c.absent.clone(),
    }
}

fn got_line(f: &Finding) -> String {
    let queue = f
        .route
        .as_ref()
        .map(|r| format!(" queue={}", r.queue))
        .unwrap_or_default();
    let waived = if f.is_waived() { " waived=true" } else { "" };
    format!(
        "{} {} severity={}{queue}{waived}",
        f.rule, f.subject.id, f.severity
    )
}

/// Whether a finding has every field the expectation gives.
pub fn matches(w: &Want, f: &Finding) -> bool {
    w.fields.iter().all(|(k, v)| field_matches(k, v, f))
}

fn show(v: &Json) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// A finding's value for a `want` field, as the case would write it.
fn field_value(key: &str, f: &Finding) -> Json {
    let route = f.route.as_ref();
    match key {
        "rule" => Json::from(f.rule.as_str()),
        "subject" => Json::from(f.subject.id.as_str()),
        "kind" => Json::from(f.subject.kind.as_str()),
        "severity" => Json::from(f.severity.as_str()),
        "message" => Json::from(f.message.as_str()),
        "queue" => route.map_or(Json::Null, |r| Json::from(r.queue.as_str())),
        "owner" => route
            .and_then(|r| r.owner.as_deref())
            .map_or(Json::Null, Json::from),
        "router" => route
            .and_then(|r| r.router.as_ref())
            .map_or(Json::Null, |p| Json::from(p.display().to_string())),
        "notify_by" => route
            .and_then(|r| r.notify_by)
            .map_or(Json::Null, |d| Json::from(d.to_string())),
        "escalates_to" => Json::Array(route.map_or(vec![], |r| {
            r.escalate
                .iter()
                .map(|e| Json::from(e.to.as_str()))
                .collect()
        })),
        "waived" => Json::Bool(f.is_waived()),
        "remediation" => Json::Array(f.remediation.clone()),
        "evidence" => f.evidence.clone(),
        _ => Json::Null,
    }
}

fn field_matches(key: &str, want: &Json, f: &Finding) -> bool {
    let got = field_value(key, f);
    let s = want.as_str();
    match key {
        "message" => s.is_some_and(|s| f.message.contains(s)),
        "router" => s.is_some_and(|s| {
            f.route
                .as_ref()
                .and_then(|r| r.router.as_ref())
                .is_some_and(|p| p.file_stem().is_some_and(|stem| stem == s) || p.ends_with(s))
        }),
        "escalates_to" => got
            .as_array()
            .is_some_and(|steps| steps.iter().any(|t| t == want)),
        // The first options, in order: an action name, or a map of fields.
        "remediation" => match want {
            Json::Array(want) => {
                want.len() <= f.remediation.len()
                    && want.iter().zip(&f.remediation).all(|(w, got)| match w {
                        Json::String(action) => got["action"] == *action.as_str(),
                        _ => subset(w, got),
                    })
            }
            _ => false,
        },
        "evidence" => subset(want, &got),
        _ => *want == got,
    }
}

/// Whether every field of `want` is in `got` with an equal value (numbers
/// compare by value).
pub fn subset(want: &Json, got: &Json) -> bool {
    match (want, got) {
        (Json::Object(w), Json::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| subset(v, gv))),
        (Json::Array(w), Json::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(a, b)| subset(a, b))
        }
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        _ => want == got,
    }
}
