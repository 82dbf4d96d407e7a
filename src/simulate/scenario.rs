//! Scenario files: a snapshot, a window of dates, the events to rehearse in
//! it, and optionally what must come of them.
//!
//! Reading checks the file's own shape: known fields, dates, one kind per
//! event, events in date order and inside the window. Whether the ids an
//! event names exist is checked later, against the snapshot, by
//! [`super::events`]. Every problem is collected with its line and column;
//! nothing here panics on input.

use std::path::{Path, PathBuf};

use crate::date::Date;
use crate::diag::Diagnostic;
use crate::inventory::Metric;
use crate::waivers::{Waiver, WaiverSet};
use crate::yaml::{self, Fields, Node, Pos, Sink, Value};

use super::expect::{self, Expectation};

/// Larger scenario files are refused before they are read.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;
/// The longest window a scenario may cover, in days (ten years).
pub const MAX_DAYS: i64 = 3653;
/// The largest `count` of one `install` or `uninstall` event.
pub const MAX_EVENT_COUNT: u64 = 100_000;
/// The most installations the `install` events of one scenario may add in
/// all (each makes a device, a user and an installation in memory).
pub const MAX_SCENARIO_INSTALLS: u64 = 1_000_000;

const TOP: &[&str] = &[
    "name",
    "description",
    "snapshot",
    "start",
    "until",
    "events",
    "expect",
];

/// Every kind of event, as written in scenario files.
pub const KINDS: &[&str] = &[
    "install",
    "uninstall",
    "purchase",
    "terminate",
    "expire",
    "usage",
    "waive",
];

/// A scenario file whose shape is valid.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub file: PathBuf,
    /// The file's text, for showing source lines under later diagnostics.
    pub text: String,
    pub name: String,
    pub description: Option<String>,
    /// The snapshot, relative to the working directory.
    pub snapshot: PathBuf,
    pub snapshot_pos: Pos,
    pub start: Date,
    pub until: Date,
    /// In date order, every date within `start..=until`.
    pub events: Vec<EventSpec>,
    pub expect: Vec<Expectation>,
}

/// An id as written, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Id {
    pub text: String,
    pub pos: Pos,
}

/// One event as written.
#[derive(Clone, Debug)]
pub struct EventSpec {
    pub on: Date,
    /// Where the event starts.
    pub pos: Pos,
    pub action: Action,
}

impl EventSpec {
    pub fn kind(&self) -> &'static str {
        match self.action {
            Action::Install(_) => "install",
            Action::Uninstall(_) => "uninstall",
            Action::Purchase(_) => "purchase",
            Action::Terminate { .. } => "terminate",
            Action::Expire { .. } => "expire",
            Action::Usage(_) => "usage",
            Action::Waive(_) => "waive",
        }
    }
}

/// What an event does.
#[derive(Clone, Debug)]
pub enum Action {
    Install(Install),
    Uninstall(Uninstall),
    Purchase(Purchase),
    Terminate { contract: Id },
    Expire { entitlement: Id },
    Usage(UsageFigures),
    Waive(Box<Waiver>),
}

/// Where installations go: `count` new devices, or the devices named.
#[derive(Clone, Debug)]
pub enum Target {
    Count(u64),
    Devices(Vec<Id>),
}

#[derive(Clone, Debug)]
pub struct Install {
    pub product: Id,
    pub target: Target,
    /// `false`: the devices are not in the inventory's device list (found by
    /// discovery only).
    pub listed: bool,
    /// The product is new to the snapshot: neither listed nor installed.
    /// Without this, an unknown product is an error (a typo, most likely).
    pub new_product: bool,
    /// For new listed devices.
    pub environment: Option<String>,
    pub cores: Option<u64>,
    pub sockets: Option<u64>,
    pub discovered_by: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Uninstall {
    pub product: Id,
    pub target: Target,
}

#[derive(Clone, Debug)]
pub struct Purchase {
    pub product: Id,
    pub contract: Id,
    pub metric: Metric,
    pub quantity: u64,
    /// The new entitlement's id; generated when not given.
    pub id: Option<Id>,
    pub end: Option<Date>,
    pub maintenance_end: Option<Date>,
}

#[derive(Clone, Debug)]
pub struct UsageFigures {
    pub product: Id,
    /// `YYYY-MM`.
    pub period: String,
    pub peak_concurrent: Option<u64>,
    pub active_users: Option<u64>,
}

/// Reads a scenario file. The scenario is `None` when its header (snapshot
/// and dates) is unusable; the diagnostics list every problem found.
pub fn read(path: &Path) -> (Option<Scenario>, Vec<Diagnostic>) {
    let text = match yaml::read_text(path, MAX_SCENARIO_BYTES) {
        Ok(t) => t,
        Err(d) => return (None, vec![d]),
    };
    let mut sink = Sink::new(path);
    let scenario = match yaml::parse_document(path, &text) {
        Ok(Some(root)) => parse(path, &text, &root, &mut sink),
        Ok(None) => {
            sink.diags.push(Diagnostic::error(
                path,
                1,
                0,
                "empty scenario: expected `name`, `snapshot`, `start`, `until` and `events`",
            ));
            None
        }
        Err(d) => {
            sink.diags.push(d);
            None
        }
    };
    let mut diags = sink.diags;
    crate::diag::attach_sources(&mut diags, &text);
    (scenario.map(|s| Scenario { text, ..s }), diags)
}

fn parse(path: &Path, text: &str, root: &Node, sink: &mut Sink) -> Option<Scenario> {
    let top = Fields::of(root, "scenario", TOP, sink)?;
    let name = top.req_str("name", sink).map(str::to_string);
    let description = top.str("description", sink).map(str::to_string);
    let snapshot = top.req_str("snapshot", sink).map(|s| {
        let base = path.parent().unwrap_or(Path::new(""));
        base.join(s)
    });
    let snapshot_pos = top.get("snapshot").map_or(top.pos(), |n| n.pos);
    let start = top.req_date("start", sink);
    let until = top.req_date("until", sink);
    if let (Some(s), Some(u)) = (start, until) {
        let pos = top.get("until").map_or(top.pos(), |n| n.pos);
        if u < s {
            sink.error(pos, format!("`until` ({u}) is before `start` ({s})"));
        } else if s.days_until(u) > MAX_DAYS {
            sink.error(
                pos,
                format!(
                    "a scenario covers at most {MAX_DAYS} days; {s} to {u} is {} days",
                    s.days_until(u)
                ),
            );
        }
    }
    let window = start.zip(until).filter(|(s, u)| s <= u);
    let mut events = Vec::new();
    match top.get("events").map(|n| (n, &n.value)) {
        Some((_, Value::Seq(items))) => {
            let mut last: Option<(Date, u32)> = None;
            let mut installs = 0u64;
            for item in items {
                let Some(e) = event(path, text, item, sink) else {
                    continue;
                };
                if let Action::Install(i) = &e.action {
                    let added = match &i.target {
                        Target::Count(n) => *n,
                        Target::Devices(ids) => ids.len() as u64,
                    };
                    installs += added;
                    // Reported once, at the event that passes the limit.
                    if installs > MAX_SCENARIO_INSTALLS && installs - added <= MAX_SCENARIO_INSTALLS
                    {
                        sink.error(
                            e.pos,
                            format!(
                                "the `install` events add more than {MAX_SCENARIO_INSTALLS} installations in all ({installs} with this one); a scenario adds at most that many"
                            ),
                        );
                    }
                    if installs > MAX_SCENARIO_INSTALLS {
                        continue;
                    }
                }
                if let Some((s, u)) = window {
                    if e.on < s || e.on > u {
                        sink.error(
                            e.pos,
                            format!(
                                "event date {} is outside the scenario's window, {s} to {u}",
                                e.on
                            ),
                        );
                        continue;
                    }
                }
                if let Some((prev, line)) = last.filter(|(prev, _)| e.on < *prev) {
                    sink.error(
                        e.pos,
                        format!(
                            "events out of date order: {} comes after {prev} (line {line}); list events from the earliest",
                            e.on
                        ),
                    );
                    continue;
                }
                last = Some((e.on, e.pos.line));
                events.push(e);
            }
        }
        Some((n, _)) => sink.error(
            n.pos,
            format!("`events` must be a list, found {}", n.describe()),
        ),
        None => {}
    }
    let mut expectations = Vec::new();
    match top.get("expect").map(|n| (n, &n.value)) {
        Some((_, Value::Seq(items))) => {
            expectations.extend(items.iter().filter_map(|item| expect::parse(item, sink)));
        }
        Some((n, _)) => sink.error(
            n.pos,
            format!("`expect` must be a list, found {}", n.describe()),
        ),
        None => {}
    }
    let (start, until) = window?;
    Some(Scenario {
        file: path.to_path_buf(),
        text: String::new(),
        name: name?,
        description,
        snapshot: snapshot?,
        snapshot_pos,
        start,
        until,
        events,
        expect: expectations,
    })
}

/// One `{ on: DATE, KIND: { ... } }`.
fn event(path: &Path, text: &str, node: &Node, sink: &mut Sink) -> Option<EventSpec> {
    let Value::Map(pairs) = &node.value else {
        sink.error(
            node.pos,
            format!(
                "expected an event as a mapping `{{ on: DATE, KIND: {{ ... }} }}`, found {}",
                node.describe()
            ),
        );
        return None;
    };
    let mut on: Option<&Node> = None;
    let mut kind: Option<(&str, &Node, &Node)> = None;
    let mut ok = true;
    for (key, value) in pairs {
        let Some(k) = key.as_str() else {
            sink.error(
                key.pos,
                format!("expected an event kind, found {}", key.describe()),
            );
            ok = false;
            continue;
        };
        if k == "on" {
            if on.replace(value).is_some() {
                sink.error(key.pos, "duplicate field `on` in event");
                ok = false;
            }
        } else if KINDS.contains(&k) {
            if let Some((first, _, _)) = kind {
                sink.error(
                    key.pos,
                    format!("an event has one kind; this one has `{first}` and `{k}`"),
                );
                ok = false;
            } else {
                kind = Some((k, key, value));
            }
        } else {
            sink.error(
                key.pos,
                format!(
                    "unknown event kind `{k}`; expected one of: {}",
                    KINDS.join(", ")
                ),
            );
            ok = false;
        }
    }
    let date = match on {
        None => {
            sink.error(node.pos, "event is missing `on: DATE`");
            None
        }
        Some(n) => {
            let d = n.as_str().and_then(Date::parse);
            if d.is_none() {
                sink.error(
                    n.pos,
                    format!(
                        "field `on` must be a date (YYYY-MM-DD), found {}",
                        n.describe()
                    ),
                );
            }
            d
        }
    };
    let Some((kind, key, body)) = kind else {
        if ok {
            sink.error(
                node.pos,
                format!("event has no kind; expected one of: {}", KINDS.join(", ")),
            );
        }
        return None;
    };
    let action = action(path, text, kind, key, body, sink);
    Some(EventSpec {
        on: date?,
        pos: node.pos,
        action: action?,
    })
}

fn id(f: &Fields, name: &str, sink: &mut Sink) -> Option<Id> {
    let text = f.req_str(name, sink)?;
    Some(Id {
        text: text.to_string(),
        pos: f.get(name).map_or(f.pos(), |n| n.pos),
    })
}

/// `count: N` or `devices: [...]`, exactly one.
fn target(f: &Fields, what: &str, sink: &mut Sink) -> Option<Target> {
    let count = f.count("count", sink);
    let devices = f.get("devices").map(|n| id_list(n, "devices", sink));
    match (count, devices, f.get("count")) {
        (Some(_), Some(_), _) => {
            sink.error(
                f.pos(),
                format!("{what} takes `count` or `devices`, not both"),
            );
            None
        }
        (Some(0), None, Some(n)) => {
            sink.error(n.pos, "field `count` must be at least 1");
            None
        }
        (Some(c), None, Some(n)) if c > MAX_EVENT_COUNT => {
            sink.error(
                n.pos,
                format!(
                    "field `count` must be at most {MAX_EVENT_COUNT} in one event, found `{c}`"
                ),
            );
            None
        }
        (Some(n), None, _) => Some(Target::Count(n)),
        (None, Some(Some(devices)), _) if devices.is_empty() => {
            sink.error(f.pos(), format!("{what} names no devices"));
            None
        }
        (None, Some(devices), _) => devices.map(Target::Devices),
        (None, None, None) => {
            sink.error(
                f.pos(),
                format!("{what} needs `count: N` or `devices: [...]`"),
            );
            None
        }
        // `count` was given but invalid, and reported.
        (None, None, Some(_)) => None,
    }
}

/// A list of distinct ids.
fn id_list(node: &Node, name: &str, sink: &mut Sink) -> Option<Vec<Id>> {
    let Value::Seq(items) = &node.value else {
        sink.error(
            node.pos,
            format!("field `{name}` must be a list, found {}", node.describe()),
        );
        return None;
    };
    let mut out: Vec<Id> = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        match item.as_str() {
            Some(s) if out.iter().any(|i| i.text == s) => {
                sink.error(item.pos, format!("`{s}` is listed twice in `{name}`"));
                ok = false;
            }
            Some(s) => out.push(Id {
                text: s.to_string(),
                pos: item.pos,
            }),
            None => {
                sink.error(
                    item.pos,
                    format!("items of `{name}` must be text, found {}", item.describe()),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn action(
    path: &Path,
    text: &str,
    kind: &str,
    key: &Node,
    body: &Node,
    sink: &mut Sink,
) -> Option<Action> {
    match kind {
        "install" => {
            let names = &[
                "product",
                "count",
                "devices",
                "listed",
                "new_product",
                "environment",
                "cores",
                "sockets",
                "discovered_by",
            ];
            let f = Fields::of(body, "`install` event", names, sink)?;
            let product = id(&f, "product", sink);
            let target = target(&f, "`install`", sink);
            let listed = f.bool("listed", sink).unwrap_or(true);
            let new_product = f.bool("new_product", sink).unwrap_or(false);
            let environment = f.str("environment", sink).map(str::to_string);
            let cores = f.count("cores", sink);
            let sockets = f.count("sockets", sink);
            let discovered_by = f.str("discovered_by", sink).map(str::to_string);
            // Devices that already exist keep what the inventory says of them.
            // Judged from the fields written, so a bad `count` is not also
            // reported here.
            let describes_new = f.get("count").is_some() && f.get("devices").is_none() && listed;
            for field in ["environment", "cores", "sockets"] {
                if let (Some(n), false) = (f.get(field), describes_new) {
                    sink.error(
                        n.pos,
                        format!("`{field}` describes new listed devices; it needs `count` and cannot go with `devices` or `listed: false`"),
                    );
                    return None;
                }
            }
            Some(Action::Install(Install {
                product: product?,
                target: target?,
                listed,
                new_product,
                environment,
                cores,
                sockets,
                discovered_by,
            }))
        }
        "uninstall" => {
            let f = Fields::of(
                body,
                "`uninstall` event",
                &["product", "count", "devices"],
                sink,
            )?;
            let product = id(&f, "product", sink);
            let target = target(&f, "`uninstall`", sink);
            Some(Action::Uninstall(Uninstall {
                product: product?,
                target: target?,
            }))
        }
        "purchase" => {
            let names = &[
                "product",
                "metric",
                "quantity",
                "contract",
                "id",
                "end",
                "maintenance_end",
            ];
            let f = Fields::of(body, "`purchase` event", names, sink)?;
            let product = id(&f, "product", sink);
            let contract = id(&f, "contract", sink);
            let metric = f
                .require("metric", sink)
                .and(f.choice("metric", Metric::NAMES, sink))
                .and_then(Metric::parse);
            let quantity = match metric {
                Some(Metric::Site) => f.count("quantity", sink).or(Some(0)),
                _ => f.req_count("quantity", sink),
            };
            let new_id = f.get("id").and_then(|_| id(&f, "id", sink));
            let end = f.date("end", sink);
            let maintenance_end = f.date("maintenance_end", sink);
            Some(Action::Purchase(Purchase {
                product: product?,
                contract: contract?,
                metric: metric?,
                quantity: quantity?,
                id: new_id,
                end,
                maintenance_end,
            }))
        }
        "terminate" => {
            let f = Fields::of(body, "`terminate` event", &["contract"], sink)?;
            Some(Action::Terminate {
                contract: id(&f, "contract", sink)?,
            })
        }
        "expire" => {
            let f = Fields::of(body, "`expire` event", &["entitlement"], sink)?;
            Some(Action::Expire {
                entitlement: id(&f, "entitlement", sink)?,
            })
        }
        "usage" => {
            let names = &["product", "period", "peak_concurrent", "active_users"];
            let f = Fields::of(body, "`usage` event", names, sink)?;
            let product = id(&f, "product", sink);
            let period = f.req_str("period", sink).and_then(|p| {
                if Date::parse(&format!("{p}-01")).is_some() {
                    Some(p.to_string())
                } else {
                    let pos = f.get("period").map_or(f.pos(), |n| n.pos);
                    sink.error(
                        pos,
                        format!("field `period` must be a month (YYYY-MM), found `{p}`"),
                    );
                    None
                }
            });
            let peak_concurrent = f.count("peak_concurrent", sink);
            let active_users = f.count("active_users", sink);
            if f.get("peak_concurrent").is_none() && f.get("active_users").is_none() {
                sink.error(
                    f.pos(),
                    "`usage` event needs `peak_concurrent` or `active_users`",
                );
                return None;
            }
            Some(Action::Usage(UsageFigures {
                product: product?,
                period: period?,
                peak_concurrent,
                active_users,
            }))
        }
        "waive" => waiver(path, text, key, body, sink).map(|w| Action::Waive(Box::new(w))),
        _ => unreachable!("kinds are checked against KINDS"),
    }
}

/// A `waive` event's body: one entry in the `waivers.yaml` format.
fn waiver(path: &Path, text: &str, key: &Node, body: &Node, sink: &mut Sink) -> Option<Waiver> {
    // Read exactly as a waivers file's list of one.
    let wrapped = Node {
        value: Value::Map(vec![(
            Node {
                value: Value::Scalar {
                    text: "waivers".into(),
                    plain: true,
                },
                pos: key.pos,
            },
            Node {
                value: Value::Seq(vec![body.clone()]),
                pos: body.pos,
            },
        )]),
        pos: key.pos,
    };
    match WaiverSet::from_node(path, &wrapped, text) {
        Ok(mut set) => set.waivers.pop(),
        Err(d) => {
            sink.diags.extend(d.0);
            None
        }
    }
}
