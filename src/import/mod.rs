//! Inventory import: discovery-tool exports in, a snapshot out.
//!
//! Each source reader ([`sources`]) turns rows of an export into devices
//! and raw software entries; the [`Builder`] recognises each entry's
//! product with the recognition rules ([`recognition`]), merges devices
//! seen by several sources by name, and keeps where every record came from
//! (`FILE:LINE`). [`write`] renders the snapshot, sorted, so the same
//! inputs always give the same bytes; [`Report`] says what no rule
//! recognised and which rows could not be read.
//!
//! A bad row is reported and skipped; it never stops the other rows. Only
//! an input that cannot be read as a whole is an error.

pub mod mapping;
pub mod read;
pub mod recognition;
pub mod sources;
pub mod write;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::date::Date;
use crate::diag::Diagnostic;
pub use mapping::Mapping;
pub use recognition::{Outcome, Recognition};

/// The discovery tools trueup reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Source {
    /// Configuration Manager CSV exports: installed software and systems
    Mecm,
    /// Intune discovered-apps export (CSV)
    Intune,
    /// osquery JSON results: programs, deb_packages, rpm_packages, system_info
    Osquery,
    /// Any CSV, with a mapping file naming the columns
    Csv,
}

/// What to import.
pub struct Options<'a> {
    /// Each export with the tool it comes from.
    pub files: Vec<(Source, PathBuf)>,
    pub recognition: &'a Recognition,
    pub mapping: Mapping,
    pub entitlements: Option<PathBuf>,
    /// The snapshot's id.
    pub id: String,
    /// The snapshot's `taken_at`; by default the latest `last_seen`, else
    /// the latest installation date, of the inputs.
    pub taken_at: Option<Date>,
}

/// Row problems kept for the report; past them, only counted, so that an
/// export of a million bad rows does not hold a million messages.
pub const MAX_PROBLEMS: usize = 10_000;

/// No product, no version: an index that stands for none.
const NONE: u32 = u32::MAX;

/// A device as the sources describe it.
#[derive(Clone, Debug)]
pub(crate) struct Device {
    /// The spelling that sorts first of those the sources use.
    pub id: String,
    pub cores: Option<u64>,
    pub sockets: Option<u64>,
    pub last_seen: Option<Date>,
    pub environment: Option<String>,
    /// The first line of each file that names it.
    pub sources: Vec<(u16, u64)>,
}

/// An installation of a recognised product.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inst {
    pub device: u32,
    pub product: u32,
    pub version: u32,
    pub user: u32,
    pub installed_on: Option<Date>,
    pub tool: u16,
    pub file: u16,
    pub line: u64,
}

/// A purchase, as an entitlement.
#[derive(Clone, Debug)]
pub(crate) struct Entitlement {
    pub id: String,
    pub contract: String,
    pub product: u32,
    pub metric: String,
    pub quantity: Option<u64>,
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub maintenance_end: Option<Date>,
    pub perpetual: bool,
    pub file: u16,
    pub line: u64,
}

/// A contract, from the purchases that name it.
#[derive(Clone, Debug)]
pub(crate) struct Contract {
    pub publisher: Option<String>,
    pub start: Option<Date>,
    pub end: Option<Date>,
    /// `active` (left out), `terminated` or `expired`.
    pub status: Option<&'static str>,
    pub terminated_on: Option<Date>,
    pub file: u16,
    pub line: u64,
}

/// What the rules made of an entry, kept per distinct entry.
#[derive(Clone, Copy)]
enum Memo {
    Product { product: u32, version: u32 },
    Ignored,
    Unrecognised(u32),
}

/// Everything read so far.
pub struct Builder<'r> {
    recognition: &'r Recognition,
    pub(crate) files: Vec<String>,
    file_ix: HashMap<String, u16>,
    pub(crate) tools: Vec<String>,
    pub(crate) devices: Vec<Device>,
    by_name: HashMap<String, u32>,
    by_lower: HashMap<String, u32>,
    pub(crate) installs: Vec<Inst>,
    pub(crate) entitlements: Vec<Entitlement>,
    pub(crate) contracts: BTreeMap<String, Contract>,
    pub(crate) strings: Vec<String>,
    string_ix: HashMap<String, u32>,
    memo: HashMap<Box<str>, Memo>,
    key: String,
    /// Unrecognised entries: publisher, name, count, first seen at.
    unrecognised: Vec<(String, String, u64, (u16, u64))>,
    unrecognised_ix: HashMap<String, u32>,
    ignored: u64,
    entries: u64,
    problems: Vec<(u16, u64, String)>,
    more_problems: u64,
    notes: Vec<String>,
}

impl<'r> Builder<'r> {
    pub fn new(recognition: &'r Recognition) -> Self {
        Builder {
            recognition,
            files: Vec::new(),
            file_ix: HashMap::new(),
            tools: Vec::new(),
            devices: Vec::new(),
            by_name: HashMap::new(),
            by_lower: HashMap::new(),
            installs: Vec::new(),
            entitlements: Vec::new(),
            contracts: BTreeMap::new(),
            strings: Vec::new(),
            string_ix: HashMap::new(),
            memo: HashMap::new(),
            key: String::new(),
            unrecognised: Vec::new(),
            unrecognised_ix: HashMap::new(),
            ignored: 0,
            entries: 0,
            problems: Vec::new(),
            more_problems: 0,
            notes: Vec::new(),
        }
    }

    pub fn recognition(&self) -> &'r Recognition {
        self.recognition
    }

    /// The index of an input file, as its records name it.
    pub fn file(&mut self, path: &Path) -> u16 {
        let name = path.display().to_string();
        let next = self.files.len() as u16;
        let i = *self.file_ix.entry(name.clone()).or_insert(next);
        if i == next {
            self.files.push(name);
        }
        i
    }

    /// The index of a tool name (`discovered_by`), listed in `sources`.
    pub fn tool(&mut self, name: &str) -> u16 {
        match self.tools.iter().position(|t| t == name) {
            Some(i) => i as u16,
            None => {
                self.tools.push(name.to_string());
                (self.tools.len() - 1) as u16
            }
        }
    }

    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return NONE;
        }
        if let Some(&i) = self.string_ix.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.string_ix.insert(s.to_string(), i);
        i
    }

    /// The device named `name` (case-insensitively), listed from now on,
    /// with `file:line` among its sources if it is the file's first line
    /// naming it.
    pub fn device(&mut self, name: &str, file: u16, line: u64) -> u32 {
        let name = name.trim();
        let ix = match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                let lower = name.to_lowercase();
                let i = match self.by_lower.get(&lower) {
                    Some(&i) => {
                        if name < self.devices[i as usize].id.as_str() {
                            self.devices[i as usize].id = name.to_string();
                        }
                        i
                    }
                    None => {
                        let i = self.devices.len() as u32;
                        self.devices.push(Device {
                            id: name.to_string(),
                            cores: None,
                            sockets: None,
                            last_seen: None,
                            environment: None,
                            sources: Vec::new(),
                        });
                        self.by_lower.insert(lower, i);
                        i
                    }
                };
                self.by_name.insert(name.to_string(), i);
                i
            }
        };
        let d = &mut self.devices[ix as usize];
        if !d.sources.iter().any(|(f, _)| *f == file) {
            d.sources.push((file, line));
        }
        ix
    }

    /// What a source says of a device: counts and environment are kept from
    /// the first source that gives them, `last_seen` is the latest.
    pub fn facts(
        &mut self,
        device: u32,
        cores: Option<u64>,
        sockets: Option<u64>,
        last_seen: Option<Date>,
        environment: Option<&str>,
    ) {
        let d = &mut self.devices[device as usize];
        d.cores = d.cores.or(cores);
        d.sockets = d.sockets.or(sockets);
        d.last_seen = d.last_seen.max(last_seen);
        if d.environment.is_none() {
            d.environment = environment.filter(|e| !e.is_empty()).map(str::to_string);
        }
    }

    /// One raw software entry on a device: recognised, ignored or counted
    /// as unrecognised.
    #[allow(clippy::too_many_arguments)]
    pub fn entry(
        &mut self,
        device: u32,
        publisher: &str,
        name: &str,
        version: &str,
        installed_on: Option<Date>,
        user: &str,
        tool: u16,
        file: u16,
        line: u64,
    ) {
        use recognition::normalize;
        self.entries += 1;
        let (publisher, name, version) =
            (normalize(publisher), normalize(name), normalize(version));
        if name.is_empty() {
            self.problem(file, line, "the row names no software");
            return;
        }
        self.key.clear();
        for part in [&publisher, &name, &version] {
            self.key.push_str(part);
            self.key.push('\u{1f}');
        }
        let memo = match self.memo.get(self.key.as_str()) {
            Some(m) => *m,
            None => {
                let m = match self.recognition.recognize(&publisher, &name, &version) {
                    Outcome::Product {
                        product,
                        version: captured,
                        ..
                    } => Memo::Product {
                        product: product as u32,
                        version: self.intern(captured.as_deref().unwrap_or(&version)),
                    },
                    Outcome::Ignored { .. } => Memo::Ignored,
                    Outcome::Unrecognised => {
                        // One count per publisher and name, whatever the version.
                        let both = format!("{publisher}\u{1f}{name}");
                        let next = self.unrecognised.len() as u32;
                        let at = *self.unrecognised_ix.entry(both).or_insert(next);
                        if at == next {
                            self.unrecognised.push((
                                publisher.to_string(),
                                name.to_string(),
                                0,
                                (file, line),
                            ));
                        }
                        Memo::Unrecognised(at)
                    }
                };
                self.memo.insert(self.key.as_str().into(), m);
                m
            }
        };
        match memo {
            Memo::Product { product, version } => {
                let user = self.intern(user.trim());
                self.installs.push(Inst {
                    device,
                    product,
                    version,
                    user,
                    installed_on,
                    tool,
                    file,
                    line,
                });
            }
            Memo::Ignored => self.ignored += 1,
            Memo::Unrecognised(i) => self.unrecognised[i as usize].2 += 1,
        }
    }

    /// A row that could not be read, or part of one that was left out.
    pub fn problem(&mut self, file: u16, line: u64, message: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push((file, line, message.into()));
        } else {
            self.more_problems += 1;
        }
    }

    /// Something the report should say about a whole file.
    pub fn note(&mut self, message: impl Into<String>) {
        self.notes.push(message.into());
    }

    /// The snapshot's date: the latest `last_seen`, else the latest
    /// installation date.
    pub fn latest_date(&self) -> Option<Date> {
        self.devices
            .iter()
            .filter_map(|d| d.last_seen)
            .max()
            .or_else(|| self.installs.iter().filter_map(|i| i.installed_on).max())
    }

    /// Sorts and merges what was read, into what the snapshot lists.
    pub fn finish(mut self, id: String, taken_at: Date) -> Imported {
        // Devices by id; installations follow the new numbering.
        let mut order: Vec<u32> = (0..self.devices.len() as u32).collect();
        order.sort_by(|&a, &b| {
            self.devices[a as usize]
                .id
                .cmp(&self.devices[b as usize].id)
        });
        let mut rank = vec![0u32; order.len()];
        for (r, &d) in order.iter().enumerate() {
            rank[d as usize] = r as u32;
        }
        let mut devices: Vec<Device> = order
            .iter()
            .map(|&d| std::mem::replace(&mut self.devices[d as usize], empty_device()))
            .collect();
        for d in &mut devices {
            d.sources.sort_unstable();
        }
        // Strings (versions, users) by text, for a sort by integers.
        let mut s_order: Vec<u32> = (0..self.strings.len() as u32).collect();
        s_order.sort_by(|&a, &b| self.strings[a as usize].cmp(&self.strings[b as usize]));
        let mut s_rank = vec![0u32; s_order.len()];
        for (r, &s) in s_order.iter().enumerate() {
            s_rank[s as usize] = r as u32;
        }
        let srank = |s: u32| if s == NONE { 0 } else { s_rank[s as usize] + 1 };
        let products = &self.recognition.products;
        let mut p_order: Vec<u32> = (0..products.len() as u32).collect();
        p_order.sort_by(|&a, &b| products[a as usize].id.cmp(&products[b as usize].id));
        let mut p_rank = vec![0u32; p_order.len()];
        for (r, &p) in p_order.iter().enumerate() {
            p_rank[p as usize] = r as u32;
        }
        for i in &mut self.installs {
            i.device = rank[i.device as usize];
        }
        self.installs.sort_unstable_by_key(|i| {
            (
                i.device,
                p_rank[i.product as usize],
                srank(i.version),
                i.file,
                i.line,
            )
        });
        // The same product and version on one device, from two sources or
        // two entries, is one installation: the first source, the earliest date.
        let before = self.installs.len();
        self.installs.dedup_by(|later, first| {
            let same = later.device == first.device
                && later.product == first.product
                && later.version == first.version;
            if same {
                first.installed_on = match (first.installed_on, later.installed_on) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if first.user == NONE {
                    first.user = later.user;
                }
            }
            same
        });
        let merged = before - self.installs.len();
        if self.more_problems > 0 {
            self.notes.push(format!(
                "{} more row problems are not listed (the report keeps the first {MAX_PROBLEMS})",
                self.more_problems
            ));
        }
        let mut used = vec![false; products.len()];
        for i in &self.installs {
            used[i.product as usize] = true;
        }
        for e in &self.entitlements {
            used[e.product as usize] = true;
        }
        self.entitlements.sort_by(|a, b| a.id.cmp(&b.id));
        let mut unrecognised = std::mem::take(&mut self.unrecognised);
        unrecognised.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.1, &a.0).cmp(&(&b.1, &b.0))));
        self.problems.sort();
        let mut tools = self.tools.clone();
        tools.sort();
        let files = self.files.clone();
        let report = Report {
            devices: devices.len(),
            installations: self.installs.len(),
            products: used.iter().filter(|u| **u).count(),
            entitlements: self.entitlements.len(),
            contracts: self.contracts.len(),
            entries: self.entries,
            ignored: self.ignored,
            merged,
            unrecognised: unrecognised
                .into_iter()
                .map(|(p, n, c, (f, l))| Unrecognised {
                    publisher: p,
                    name: n,
                    count: c,
                    first: format!("{}:{l}", files[f as usize]),
                })
                .collect(),
            problem_count: self.problems.len() as u64 + self.more_problems,
            problems: self
                .problems
                .iter()
                .map(|(f, l, m)| format!("{}:{l}: {m}", files[*f as usize]))
                .collect(),
            notes: std::mem::take(&mut self.notes),
        };
        Imported {
            id,
            taken_at,
            tools,
            files,
            products: p_order
                .into_iter()
                .filter(|&p| used[p as usize])
                .map(|p| products[p as usize].clone())
                .collect(),
            product_ids: products.iter().map(|p| p.id.clone()).collect(),
            devices,
            installs: self.installs,
            entitlements: self.entitlements,
            contracts: self.contracts,
            strings: self.strings,
            tool_names: self.tools,
            recognition_file: self.recognition.file.display().to_string(),
            report,
        }
    }
}

fn empty_device() -> Device {
    Device {
        id: String::new(),
        cores: None,
        sockets: None,
        last_seen: None,
        environment: None,
        sources: Vec::new(),
    }
}

/// A snapshot ready to be written, and the report of how it was made.
pub struct Imported {
    pub id: String,
    pub taken_at: Date,
    /// The tools, sorted, for `snapshot.sources`.
    pub tools: Vec<String>,
    pub(crate) files: Vec<String>,
    pub(crate) products: Vec<recognition::ProductInfo>,
    pub(crate) product_ids: Vec<String>,
    pub(crate) devices: Vec<Device>,
    pub(crate) installs: Vec<Inst>,
    pub(crate) entitlements: Vec<Entitlement>,
    pub(crate) contracts: BTreeMap<String, Contract>,
    pub(crate) strings: Vec<String>,
    pub(crate) tool_names: Vec<String>,
    /// The recognition file, as product records name it.
    pub(crate) recognition_file: String,
    pub report: Report,
}

/// An entry no rule recognised, with how often it was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unrecognised {
    pub publisher: String,
    pub name: String,
    pub count: u64,
    /// `FILE:LINE` of the first row with it.
    pub first: String,
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub devices: usize,
    pub installations: usize,
    pub products: usize,
    pub entitlements: usize,
    pub contracts: usize,
    /// Software entries read.
    pub entries: u64,
    pub ignored: u64,
    /// Entries that repeated an installation already listed.
    pub merged: usize,
    /// Most frequent first.
    pub unrecognised: Vec<Unrecognised>,
    /// `FILE:LINE: message`, sorted; at most [`MAX_PROBLEMS`].
    pub problems: Vec<String>,
    /// Row problems in all, listed or not.
    pub problem_count: u64,
    pub notes: Vec<String>,
}

impl Report {
    /// Entries no rule recognised, in all.
    pub fn unrecognised_entries(&self) -> u64 {
        self.unrecognised.iter().map(|u| u.count).sum()
    }

    /// The one-line summary.
    pub fn summary(&self, output: &str) -> String {
        format!(
            "imported {} devices, {} installations of {} products, {} entitlements from {} software entries into {output} ({} ignored, {} unrecognised, {} row problems)",
            self.devices,
            self.installations,
            self.products,
            self.entitlements,
            self.entries,
            self.ignored,
            self.unrecognised_entries(),
            self.problem_count,
        )
    }

    /// The report as text; at most `limit` lines of each list (all with `None`).
    pub fn render(&self, output: &str, limit: Option<usize>) -> String {
        let mut out = self.summary(output);
        out.push('\n');
        let cut = |n: usize| limit.map_or(n, |l| l.min(n));
        if !self.unrecognised.is_empty() {
            let _ = writeln!(
                out,
                "unrecognised ({} distinct, most frequent first; add rules to the recognition file):",
                self.unrecognised.len()
            );
            for u in &self.unrecognised[..cut(self.unrecognised.len())] {
                let publisher = if u.publisher.is_empty() {
                    "no publisher".to_string()
                } else {
                    format!("publisher `{}`", u.publisher)
                };
                let _ = writeln!(
                    out,
                    "  {:>7}  `{}` ({publisher}), first at {}",
                    u.count, u.name, u.first
                );
            }
            let left = self.unrecognised.len() - cut(self.unrecognised.len());
            if left > 0 {
                let _ = writeln!(out, "  ... and {left} more (`--report FILE` lists all)");
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(out, "rows not read, or read in part:");
            for p in &self.problems[..cut(self.problems.len())] {
                let _ = writeln!(out, "  {p}");
            }
            let left = self.problems.len() - cut(self.problems.len());
            if left > 0 {
                let _ = writeln!(out, "  ... and {left} more (`--report FILE` lists all)");
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }
}

/// Reads every input, recognises, merges: the snapshot and its report.
/// Errors are inputs that cannot be read as a whole.
pub fn import(opts: &Options) -> Result<Imported, Vec<Diagnostic>> {
    let mut b = Builder::new(opts.recognition);
    let mut errors = Vec::new();
    // One source after another, in this order, so that which source a
    // device's counts come from never depends on the order of the arguments.
    for source in [Source::Mecm, Source::Intune, Source::Osquery, Source::Csv] {
        // Sorted, so that neither which record of a repeated installation
        // is kept nor whose counts a device gets depends on argument order.
        let mut files: Vec<PathBuf> = opts
            .files
            .iter()
            .filter(|(s, _)| *s == source)
            .map(|(_, f)| f.clone())
            .collect();
        files.sort();
        files.dedup();
        if files.is_empty() {
            continue;
        }
        match source {
            Source::Mecm => sources::mecm(&mut b, &files, &mut errors),
            Source::Intune => sources::intune(&mut b, &files, &mut errors),
            Source::Osquery => sources::osquery(&mut b, &files, &mut errors),
            Source::Csv => sources::mapped(&mut b, &files, &opts.mapping, &mut errors),
        }
    }
    if let Some(p) = &opts.entitlements {
        sources::purchases(&mut b, p, &opts.mapping, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let taken_at = match opts.taken_at.or_else(|| b.latest_date()) {
        Some(d) => d,
        None => {
            return Err(vec![Diagnostic::error(
                &opts.files[0].1,
                0,
                0,
                "the inputs hold no date to take the snapshot's `taken_at` from; give `--taken-at DATE`",
            )])
        }
    };
    Ok(b.finish(opts.id.clone(), taken_at))
}
