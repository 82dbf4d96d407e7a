//! Metric profiles: publisher metrics as playbook data.
//!
//! A profile (`policies/metrics/NAME.yaml`) says how many licences one
//! device needs under a publisher's metric: cores times a core factor by
//! processor family, units per core, minimums per processor, device or
//! virtual machine, rounding, and whether a virtual machine counts itself
//! or its host (and the host's cluster). The position applies them in Rust,
//! per device, without running a script.
//!
//! Figures are kept in thousandths of a licence, so that `round: none`
//! can sum fractions across devices and round once.

use std::path::{Path, PathBuf};

use super::model::*;
use crate::diag::{Diagnostic, Diagnostics};
use crate::yaml::{self, Fields, Node, Sink, Value};

/// Thousandths of a licence in one licence.
pub const MILLI: u64 = 1000;

/// What a profile counts per device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counts {
    Devices,
    Users,
    Cores,
    Sockets,
}

/// What a virtual machine counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Virtual {
    /// Its own cores.
    Vm,
    /// Its host's, or every host of the host's cluster.
    Host,
}

/// One metric profile, validated.
#[derive(Clone, Debug)]
pub struct Profile {
    pub metric: Metric,
    pub counts: Counts,
    /// By processor family; `default` is the last resort.
    pub core_factor: Vec<(String, f64)>,
    pub per_core: Vec<(String, f64)>,
    pub min_per_processor: Option<u64>,
    pub min_per_device: Option<u64>,
    pub min_per_vm: Option<u64>,
    pub round_up: bool,
    pub pack: u64,
    pub virtual_: Virtual,
    pub processor_metric: Option<Metric>,
    pub file: PathBuf,
}

/// A device's licences under a profile, and how they were worked out.
#[derive(Clone, Debug, PartialEq)]
pub struct Units {
    /// Thousandths of a licence.
    pub milli: u64,
    /// Cores or sockets were not recorded: a lower bound.
    pub unknown: bool,
    /// The arithmetic, for `position --explain`.
    pub working: String,
}

fn by_cpu(table: &[(String, f64)], cpu: Option<&str>) -> Option<f64> {
    cpu.and_then(|c| table.iter().find(|(k, _)| k == c))
        .or_else(|| table.iter().find(|(k, _)| k == "default"))
        .map(|(_, v)| *v)
}

/// Thousandths of a licence in licences, as people write them: `8`, `1.5`.
pub fn licences(milli: u64) -> String {
    number(milli as f64 / MILLI as f64)
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        let s = format!("{n:.3}");
        s.trim_end_matches('0').to_string()
    }
}

impl Profile {
    /// The devices whose licences cover `device` for a product: the device
    /// itself, or under `virtual: host` a VM's host, or every listed host of
    /// the host's cluster.
    pub fn licensed<'c>(
        &self,
        snap: &Snapshot,
        clusters: &'c SymMap<Vec<Sym>>,
        device: Sym,
    ) -> Licensed<'c> {
        if self.virtual_ == Virtual::Host {
            if let Some(host) = snap.device(device).and_then(|d| d.virtual_host) {
                if let Some(c) = snap.device(host).and_then(|h| h.cluster) {
                    if let Some(hosts) = clusters.get(&c) {
                        return Licensed::Many(hosts);
                    }
                }
                return Licensed::One([host]);
            }
        }
        Licensed::One([device])
    }

    /// How covering `device` is worked out, for `position --explain`: its
    /// own arithmetic, or the host (or every host of the cluster) it pulls
    /// in, each with its arithmetic or as already licensed (`done`).
    pub fn explain(
        &self,
        snap: &Snapshot,
        clusters: &SymMap<Vec<Sym>>,
        device: Sym,
        done: impl Fn(Sym) -> bool,
    ) -> String {
        let each = |h: Sym| {
            if done(h) {
                "already licensed for this product".to_string()
            } else {
                self.worked(snap, h).working
            }
        };
        let licensed = self.licensed(snap, clusters, device);
        let hosts = licensed.as_slice();
        if hosts == [device] {
            return each(device);
        }
        let host = snap.device(device).and_then(|d| d.virtual_host);
        let cluster = host.and_then(|h| snap.device(h)).and_then(|h| h.cluster);
        let on = host.map_or(String::new(), |h| format!("a VM on `{}`", snap.str(h)));
        if hosts.iter().all(|&h| done(h)) {
            return match cluster {
                Some(c) => format!(
                    "{on}, whose cluster `{}` is already licensed for this product",
                    snap.str(c)
                ),
                None => format!("{on}, already licensed for this product"),
            };
        }
        let mut out = match cluster {
            Some(c) => format!(
                "{on} of cluster `{}` counts every host of the cluster: ",
                snap.str(c)
            ),
            None => format!("{on} counts its host: "),
        };
        let parts: Vec<String> = hosts
            .iter()
            .map(|&h| format!("`{}` {}", snap.str(h), each(h)))
            .collect();
        out.push_str(&parts.join("; "));
        out
    }

    /// Which sizes of a licensed device this profile needs but the
    /// snapshot does not record: (cores, sockets). Either makes its units
    /// a lower bound.
    pub fn missing(&self, snap: &Snapshot, device: Sym) -> (bool, bool) {
        let d = snap.device(device);
        let vm = d.is_some_and(|d| d.virtual_host.is_some()) && self.virtual_ == Virtual::Vm;
        let cores = self.counts == Counts::Cores && d.and_then(|d| d.cores).is_none();
        let sockets = matches!(self.counts, Counts::Cores | Counts::Sockets)
            && !vm
            && d.and_then(|d| d.sockets).is_none();
        (cores, sockets)
    }

    /// What one licensed device needs (see docs/reference.md, "Metric
    /// profiles"); `working` is left empty.
    pub fn units(&self, snap: &Snapshot, device: Sym) -> Units {
        self.reckon(snap, device, false)
    }

    /// The same, with the arithmetic in words.
    pub fn worked(&self, snap: &Snapshot, device: Sym) -> Units {
        self.reckon(snap, device, true)
    }

    fn reckon(&self, snap: &Snapshot, device: Sym, explain: bool) -> Units {
        let d = snap.device(device);
        let cpu = d.and_then(|d| d.cpu).map(|c| snap.str(c));
        let vm = d.is_some_and(|d| d.virtual_host.is_some()) && self.virtual_ == Virtual::Vm;
        let sockets = d.and_then(|d| d.sockets);
        let p = sockets.unwrap_or(1).max(1);
        // A VM counted on its own is one processor when nobody says otherwise.
        let mut unknown = sockets.is_none() && self.counts != Counts::Devices && !vm;
        let mut working = Working(explain.then(Vec::new));
        let total: f64 = match self.counts {
            Counts::Devices | Counts::Users => {
                working.say(|| "1 device".to_string());
                1.0
            }
            Counts::Sockets => {
                working.say(|| format!("{p} processor{}", if p == 1 { "" } else { "s" }));
                p as f64
            }
            Counts::Cores => {
                let cores = d.and_then(|d| d.cores);
                unknown |= cores.is_none();
                let c = cores.unwrap_or(0);
                let factor = by_cpu(&self.core_factor, cpu).unwrap_or(1.0);
                let per_core = by_cpu(&self.per_core, cpu).unwrap_or(1.0);
                let product = c as f64 / p as f64 * factor * per_core;
                // A VM counted on its own has its own minimum instead.
                let min = self.min_per_processor.filter(|_| !vm);
                let per_proc = match min {
                    Some(m) if product < m as f64 => m as f64,
                    _ => product,
                };
                working.say(|| {
                    let mut w = format!("{c} cores");
                    if p > 1 && min.is_some() {
                        w.push_str(&format!(" on {p} processors"));
                    }
                    if factor != 1.0 {
                        let family = cpu.unwrap_or("default");
                        w.push_str(&format!(" × {} ({family})", number(factor)));
                    }
                    if per_core != 1.0 {
                        w.push_str(&format!(" × {} per core", number(per_core)));
                    }
                    w.push_str(&format!(" = {}", number(product * p as f64)));
                    if per_proc != product {
                        let raised = number(per_proc * p as f64);
                        w.push_str(&format!(
                            ", at least {} per processor: {raised}",
                            number(per_proc)
                        ));
                    }
                    w
                });
                per_proc * p as f64
            }
        };
        let floor = if vm {
            self.min_per_vm
        } else {
            self.min_per_device
        };
        let mut total = total;
        if let Some(min) = floor {
            if total < min as f64 {
                total = min as f64;
                let per = if vm { "VM" } else { "device" };
                working.say(|| format!("at least {min} per {per}"));
            }
        }
        let milli = if self.round_up {
            // A hair under the next whole licence is that licence: factors
            // such as 0.5 are exact, products of them may not be.
            let whole = (total - 1e-9).ceil().max(0.0);
            if whole != total {
                working.say(|| format!("rounded up to {}", number(whole)));
            }
            whole as u64 * MILLI
        } else {
            (total * MILLI as f64).round() as u64
        };
        Units {
            milli,
            unknown,
            working: working.0.map(|w| w.join(", ")).unwrap_or_default(),
        }
    }
}

/// Each cluster's listed hosts, in id order: what `virtual: host` pulls in.
pub fn clusters(snap: &Snapshot) -> SymMap<Vec<Sym>> {
    let mut clusters: SymMap<Vec<Sym>> = SymMap::default();
    for d in &snap.devices {
        if let Some(c) = d.cluster {
            clusters.entry(c).or_default().push(d.id);
        }
    }
    for hosts in clusters.values_mut() {
        hosts.sort_by(|a, b| snap.str(*a).cmp(snap.str(*b)));
    }
    clusters
}

/// The devices licensed to cover one device: itself or its host, or the
/// hosts of a cluster.
pub enum Licensed<'c> {
    One([Sym; 1]),
    Many(&'c [Sym]),
}

impl Licensed<'_> {
    pub fn as_slice(&self) -> &[Sym] {
        match self {
            Licensed::One(one) => one,
            Licensed::Many(hosts) => hosts,
        }
    }
}

/// The arithmetic of [`Profile::worked`], written only when asked for.
struct Working(Option<Vec<String>>);

impl Working {
    fn say(&mut self, line: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.0 {
            lines.push(line());
        }
    }
}

/// The profiles of a playbook, by metric.
#[derive(Clone, Debug, Default)]
pub struct Profiles {
    list: Vec<Profile>,
}

const KEYS: &[&str] = &[
    "metric",
    "counts",
    "core_factor",
    "per_core",
    "min_per_processor",
    "min_per_device",
    "min_per_vm",
    "round",
    "pack",
    "virtual",
    "processor_metric",
];

/// Larger profile files are refused before they are read.
const MAX_PROFILE_BYTES: u64 = 1 << 20;

impl Profiles {
    /// No profiles: only the built-in metrics.
    pub fn none() -> &'static Profiles {
        static NONE: Profiles = Profiles { list: Vec::new() };
        &NONE
    }

    pub fn get(&self, metric: Metric) -> Option<&Profile> {
        self.list.iter().find(|p| p.metric == metric)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        self.list.iter()
    }

    /// Every profile of `dir` (`policies/metrics`), in file order; none when
    /// the folder does not exist. Every problem of every file is reported.
    pub fn load(dir: &Path) -> Result<Profiles, Diagnostics> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Profiles::default()),
            Err(e) => {
                return Err(Diagnostics(vec![Diagnostic::error(
                    dir,
                    0,
                    0,
                    format!("cannot list folder: {e}"),
                )]))
            }
        };
        files.sort();
        let mut list: Vec<Profile> = Vec::new();
        let mut diags = Vec::new();
        let mut pending: Vec<(usize, String, yaml::Pos)> = Vec::new();
        for file in files {
            let text = match yaml::read_text(&file, MAX_PROFILE_BYTES) {
                Ok(t) => t,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let root = match yaml::parse_document(&file, &text) {
                Ok(Some(root)) => root,
                Ok(None) => {
                    diags.push(
                        Diagnostic::error(
                            &file,
                            1,
                            0,
                            "empty metric profile: expected `metric:` and `counts:`",
                        )
                        .with_source(&text),
                    );
                    continue;
                }
                Err(d) => {
                    diags.push(d.with_source(&text));
                    continue;
                }
            };
            let mut sink = Sink::new(&file);
            if let Some((p, processor)) = read(&file, &root, &mut sink) {
                if let Some(first) = list.iter().find(|q| q.metric == p.metric) {
                    sink.error(
                        root.pos,
                        format!(
                            "metric `{}` is defined twice (first in {})",
                            p.metric.as_str(),
                            first.file.display()
                        ),
                    );
                } else {
                    if let Some((name, pos)) = processor {
                        pending.push((list.len(), name, pos));
                    }
                    list.push(p);
                }
            }
            let mut found = sink.diags;
            crate::diag::attach_sources(&mut found, &text);
            diags.extend(found);
        }
        for (i, name, pos) in pending {
            let metric = Metric::named(&name);
            let ok = list
                .iter()
                .any(|p| p.metric == metric && matches!(p.counts, Counts::Cores | Counts::Sockets));
            if ok {
                list[i].processor_metric = Some(metric);
            } else {
                diags.push(Diagnostic::error(
                    &list[i].file,
                    pos.line,
                    pos.col,
                    format!("`processor_metric` names `{name}`, which is no profile of this playbook counting cores or sockets"),
                ));
            }
        }
        if diags.is_empty() {
            Ok(Profiles { list })
        } else {
            Err(Diagnostics(diags))
        }
    }

    /// Entitlements whose metric is neither built in nor a profile here,
    /// each an error at its line naming the known metrics.
    pub fn check(&self, snap: &Snapshot) -> Vec<Diagnostic> {
        let mut known: Vec<&str> = Metric::NAMES.to_vec();
        known.extend(self.list.iter().map(|p| p.metric.as_str()));
        snap.entitlements
            .iter()
            .filter(|e| e.metric.is_profile() && self.get(e.metric).is_none())
            .map(|e| {
                Diagnostic::error(
                    &snap.path,
                    e.line,
                    0,
                    format!(
                        "entitlement `{}` uses metric `{}`, which is neither built in nor a metric profile of the playbook (policies/metrics/); known: {}",
                        snap.str(e.id),
                        e.metric.as_str(),
                        known.join(", ")
                    ),
                )
            })
            .collect()
    }
}

/// A number (not below 0) written with or without quotes.
fn positive_number(node: &Node, what: &str, sink: &mut Sink) -> Option<f64> {
    let n = node.as_str().and_then(|t| t.parse::<f64>().ok());
    match n {
        Some(n) if n.is_finite() && (0.0..=1e6).contains(&n) => Some(n),
        _ => {
            sink.error(
                node.pos,
                format!(
                    "{what} must be a number from 0 to 1000000, found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

fn table(f: &Fields, key: &str, sink: &mut Sink) -> Vec<(String, f64)> {
    let Some(node) = f.get(key) else {
        return Vec::new();
    };
    let Value::Map(pairs) = &node.value else {
        sink.error(
            node.pos,
            format!(
                "field `{key}` must map processor families to numbers, found {}",
                node.describe()
            ),
        );
        return Vec::new();
    };
    let mut out: Vec<(String, f64)> = Vec::new();
    for (k, v) in pairs {
        let Some(name) = k.as_str() else {
            sink.error(
                k.pos,
                format!(
                    "keys of `{key}` must be processor families, found {}",
                    k.describe()
                ),
            );
            continue;
        };
        if out.iter().any(|(n, _)| n == name) {
            sink.error(
                k.pos,
                format!("duplicate processor family `{name}` in `{key}`"),
            );
            continue;
        }
        if let Some(n) = positive_number(v, &format!("`{key}.{name}`"), sink) {
            out.push((name.to_string(), n));
        }
    }
    out
}

/// One profile file's mapping; also the `processor_metric` named, to check
/// once every file is read.
fn read(
    file: &Path,
    root: &Node,
    sink: &mut Sink,
) -> Option<(Profile, Option<(String, yaml::Pos)>)> {
    let f = Fields::of(root, "metric profile", KEYS, sink)?;
    let name = f.req_str("metric", sink);
    let counts = f.require("counts", sink).and(f.choice(
        "counts",
        &["devices", "users", "cores", "sockets"],
        sink,
    ));
    let core_factor = table(&f, "core_factor", sink);
    let per_core = table(&f, "per_core", sink);
    let min_per_processor = f.count("min_per_processor", sink);
    let min_per_device = f.count("min_per_device", sink);
    let min_per_vm = f.count("min_per_vm", sink);
    let round = f.choice("round", &["up", "none"], sink);
    let pack = f.count("pack", sink);
    let virtual_ = f.choice("virtual", &["vm", "host"], sink);
    let processor = f.str("processor_metric", sink).map(|n| {
        (
            n.to_string(),
            f.get("processor_metric").map_or(f.pos(), |n| n.pos),
        )
    });
    if pack == Some(0) {
        let pos = f.get("pack").map_or(f.pos(), |n| n.pos);
        sink.error(pos, "field `pack` must be at least 1");
    }
    let name = name?;
    let pos = f.get("metric").map_or(f.pos(), |n| n.pos);
    if Metric::parse(name).is_some() {
        sink.error(
            pos,
            format!("`{name}` is a built-in metric; a profile needs a name of its own"),
        );
        return None;
    }
    if !Metric::well_formed(name) {
        sink.error(
            pos,
            format!("a metric name is lowercase letters, digits and `-`, found `{name}`"),
        );
        return None;
    }
    let counts = match counts? {
        "devices" => Counts::Devices,
        "users" => Counts::Users,
        "cores" => Counts::Cores,
        _ => Counts::Sockets,
    };
    if processor.is_some() && counts != Counts::Users {
        let pos = f.get("processor_metric").map_or(f.pos(), |n| n.pos);
        sink.error(
            pos,
            "`processor_metric` is for profiles with `counts: users`",
        );
    }
    Some((
        Profile {
            metric: Metric::named(name),
            counts,
            core_factor,
            per_core,
            min_per_processor,
            min_per_device,
            min_per_vm,
            round_up: round != Some("none"),
            pack: pack.unwrap_or(1).max(1),
            virtual_: if virtual_ == Some("host") {
                Virtual::Host
            } else {
                Virtual::Vm
            },
            processor_metric: None,
            file: file.to_path_buf(),
        },
        processor,
    ))
}
