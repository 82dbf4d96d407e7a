//! Reading a snapshot file into a validated [`Snapshot`].
//!
//! The file is read as a stream of records; each record is checked as it is
//! read and every problem is collected, so one run names every bad field.
//! Cross-references (an entitlement's contract and product, a device's host)
//! are checked once every collection is in.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::model::*;
use super::split::{self, Section};
use crate::date::Date;
use crate::diag::{attach_sources, Diagnostic, Diagnostics};
use crate::yaml::{Fields, Node, Pos, Reader, Sink};

/// The snapshot format version this build reads.
pub const FORMAT_VERSION: u64 = 1;
/// Larger snapshot files are refused before they are read.
pub const MAX_SNAPSHOT_BYTES: u64 = 2 << 30;

/// Every top-level section: the header, then the lists of records.
const TOP: &[&str] = &[
    "trueup",
    "snapshot",
    "products",
    "contracts",
    "entitlements",
    "devices",
    "users",
    "installations",
    "usage",
];

/// The sections that are lists of records.
const LISTS: &[&str] = TOP.split_at(2).1;

/// Loads and validates a snapshot file.
pub fn load(path: &Path) -> Result<Snapshot, Diagnostics> {
    let text = crate::yaml::read_text(path, MAX_SNAPSHOT_BYTES)?;
    parse(path, &text)
}

/// Sections this large are read in pieces, on every core.
const PIECE_BYTES: usize = 1 << 20;

/// Validates snapshot text read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Snapshot, Diagnostics> {
    if rayon::current_num_threads() > 1 {
        parse_in_pieces(path, text, PIECE_BYTES).0
    } else {
        parse_whole(path, text)
    }
}

/// [`parse`], reading list sections of at least `piece_bytes` in pieces in
/// parallel; also says how many pieces were read that way (0: the file was
/// read in one piece). Whatever the pieces, the result is the one-piece
/// result: same records, same symbols, same diagnostics (see [`split`]).
pub fn parse_in_pieces(
    path: &Path,
    text: &str,
    piece_bytes: usize,
) -> (Result<Snapshot, Diagnostics>, usize) {
    let max_pieces = 4 * rayon::current_num_threads();
    let mut sections = split::plan(text, piece_bytes, max_pieces);
    sections.retain(|s| LISTS.contains(&s.name.as_str()));
    let pieces = sections.iter().map(|s| s.pieces.len()).sum();
    if pieces > 0 {
        if let Some(b) = read_in_pieces(path, text, sections) {
            return (b.conclude(text), pieces);
        }
    }
    (parse_whole(path, text), 0)
}

/// Reads the file in one piece, on one core.
fn parse_whole(path: &Path, text: &str) -> Result<Snapshot, Diagnostics> {
    let mut b = Builder::new(path);
    if let Err(d) = b.read(text, Vec::new()) {
        // Reading stopped part-way: cross-checks would report records that
        // are merely unread.
        let mut diags = std::mem::take(&mut b.sink.diags);
        diags.push(d);
        let mut diags = crate::diag::capped(diags);
        attach_sources(&mut diags, text);
        return Err(Diagnostics(diags));
    }
    b.conclude(text)
}

/// Validates an inventory written inline in another file (a test case);
/// `text` is that file's whole text, for source lines and the digest.
pub fn from_node(path: &Path, node: &Node, text: &str) -> Result<Snapshot, Diagnostics> {
    let mut b = Builder::new(path);
    b.read_node(node);
    b.conclude(text)
}

/// Reads the planned sections' pieces in parallel, then the rest of the
/// file; `None` when any of it does not read cleanly, for the caller to read
/// the file in one piece and report exactly where.
fn read_in_pieces<'p>(path: &'p Path, text: &str, sections: Vec<Section>) -> Option<Builder<'p>> {
    let jobs: Vec<(&str, &split::Piece)> = sections
        .iter()
        .flat_map(|s| s.pieces.iter().map(move |p| (s.name.as_str(), p)))
        .collect();
    let (skeleton, parts) = rayon::join(
        || split::skeleton(text, &sections),
        || {
            jobs.par_iter()
                .map(|(name, piece)| {
                    read_piece(path, name, &text[piece.range.clone()], piece.first_line)
                })
                .collect::<Vec<_>>()
        },
    );
    let mut parts = parts.into_iter().collect::<Option<Vec<_>>>()?.into_iter();
    let pending: Vec<Pending> = sections
        .iter()
        .map(|s| Pending {
            name: s.name.clone(),
            key_line: s.key_line,
            parts: parts.by_ref().take(s.pieces.len()).collect(),
        })
        .collect();
    let mut b = Builder::new(path);
    b.reserve(pending.iter().flat_map(|p| &p.parts));
    b.read(&skeleton, pending).ok()?;
    Some(b)
}

/// One piece of a list section: a YAML list on its own, starting at line
/// `first_line` of the file.
fn read_piece<'p>(
    path: &'p Path,
    section: &str,
    text: &str,
    first_line: u32,
) -> Option<Builder<'p>> {
    let mut b = Builder::new(path);
    let mut r = Reader::at_line(path, text, first_line);
    r.begin_seq().ok()??;
    while let Some(item) = r.next_item().ok()? {
        b.record(section, &item);
    }
    r.finish().ok()?;
    b.shrink();
    Some(b)
}

/// A section read in pieces, waiting for its key in the rest of the file.
struct Pending<'p> {
    name: String,
    key_line: u32,
    parts: Vec<Builder<'p>>,
}

/// Runs `$m!(list)` for each record list a [`Builder`] holds.
macro_rules! each_list {
    ($m:ident) => {
        $m!(products);
        $m!(contracts);
        $m!(raw_entitlements);
        $m!(devices);
        $m!(users);
        $m!(installations);
        $m!(usage);
        $m!(hosts);
        $m!(covers);
    };
}

struct Builder<'p> {
    sink: Sink<'p>,
    strings: Interner,
    version: Option<(u64, Pos)>,
    meta: Option<SnapshotMeta>,
    products: Vec<Product>,
    contracts: Vec<Contract>,
    raw_entitlements: Vec<(Entitlement, Pos, Pos)>,
    devices: Vec<Device>,
    users: Vec<User>,
    installations: Vec<Installation>,
    usage: Vec<Usage>,
    /// Each `virtual_host` named and where, to report a dangling one.
    hosts: Vec<(Sym, Pos)>,
    /// Each `covers` entry (product, covered product) and where, to report
    /// a dangling one.
    covers: Vec<(Sym, Sym, Pos)>,
}

impl<'p> Builder<'p> {
    fn new(path: &'p Path) -> Self {
        Builder {
            sink: Sink::new(path),
            strings: Interner::default(),
            version: None,
            meta: None,
            products: Vec::new(),
            contracts: Vec::new(),
            raw_entitlements: Vec::new(),
            devices: Vec::new(),
            users: Vec::new(),
            installations: Vec::new(),
            usage: Vec::new(),
            hosts: Vec::new(),
            covers: Vec::new(),
        }
    }

    /// The snapshot, or every diagnostic with its source line.
    fn conclude(mut self, text: &str) -> Result<Snapshot, Diagnostics> {
        let mut diags = std::mem::take(&mut self.sink.diags);
        // Cross-checks run even after field errors, so one run reports both.
        if let Some(snapshot) = self.finish(text, &mut diags) {
            if diags.is_empty() {
                return Ok(snapshot);
            }
        }
        diags.sort_by_key(|d| (d.line, d.column));
        let mut diags = crate::diag::capped(diags);
        attach_sources(&mut diags, text);
        Err(Diagnostics(diags))
    }

    /// Reads the file's text; `pending` sections were read in pieces and
    /// their bodies blanked out of `text` (an error when one is not where
    /// the plan put it).
    fn read(&mut self, text: &str, mut pending: Vec<Pending<'p>>) -> Result<(), Diagnostic> {
        let file = self.sink.file;
        let mut r = Reader::new(file, text);
        let Some(_) = r.begin_map()? else {
            return Err(Diagnostic::error(
                file,
                1,
                0,
                "empty snapshot: expected a mapping starting with `trueup: 1`",
            ));
        };
        let mut seen: HashMap<String, Pos> = HashMap::new();
        while let Some(key) = r.next_key()? {
            let Some(name) = self.section_name(&key, &mut seen) else {
                r.value(1)?;
                continue;
            };
            if let Some(i) = pending
                .iter()
                .position(|p| p.name == name && p.key_line == key.pos.line && key.pos.col == 1)
            {
                let v = r.value(1)?;
                if !v.is_null() {
                    return Err(r.error(
                        v.pos,
                        "a section read in pieces is not where it was planned",
                    ));
                }
                for part in pending.remove(i).parts {
                    self.absorb(part);
                }
                continue;
            }
            if matches!(name.as_str(), "trueup" | "snapshot") || r.begin_seq()?.is_none() {
                let v = r.value(1)?;
                self.section(&name, &v);
                continue;
            }
            while let Some(item) = r.next_item()? {
                self.record(&name, &item);
            }
        }
        r.finish()?;
        if let Some(p) = pending.first() {
            let pos = Pos {
                line: p.key_line,
                col: 1,
            };
            return Err(r.error(pos, "a section read in pieces is not where it was planned"));
        }
        self.require_header(&seen);
        Ok(())
    }

    /// Makes room for every record of `parts` at once: a million
    /// installations are not copied again each time their list doubles.
    fn reserve<'b>(&mut self, parts: impl Iterator<Item = &'b Builder<'p>> + Clone)
    where
        'p: 'b,
    {
        macro_rules! reserve {
            ($list:ident) => {
                self.$list
                    .reserve_exact(parts.clone().map(|p| p.$list.len()).sum())
            };
        }
        each_list!(reserve);
    }

    /// Gives back what a piece's lists over-allocated while growing; all
    /// pieces are held at once until they are taken in.
    fn shrink(&mut self) {
        macro_rules! shrink {
            ($list:ident) => {
                self.$list.shrink_to_fit()
            };
        }
        each_list!(shrink);
    }

    /// Takes in the records and diagnostics of a piece read on its own,
    /// as though this builder had read them itself.
    fn absorb(&mut self, part: Builder<'p>) {
        let m = self.strings.absorb(&part.strings);
        self.sink.diags.extend(part.sink.diags);
        self.products
            .extend(part.products.into_iter().map(|p| Product {
                id: m.sym(p.id),
                publisher: m.opt(p.publisher),
                covers: p.covers.iter().map(|&c| m.sym(c)).collect(),
                ..p
            }));
        self.contracts
            .extend(part.contracts.into_iter().map(|c| Contract {
                id: m.sym(c.id),
                publisher: m.opt(c.publisher),
                exempt_environments: c.exempt_environments.iter().map(|&e| m.sym(e)).collect(),
                ..c
            }));
        self.raw_entitlements
            .extend(
                part.raw_entitlements
                    .into_iter()
                    .map(|(e, contract_pos, product_pos)| {
                        let e = Entitlement {
                            id: m.sym(e.id),
                            contract: m.sym(e.contract),
                            product: m.sym(e.product),
                            ..e
                        };
                        (e, contract_pos, product_pos)
                    }),
            );
        self.devices
            .extend(part.devices.into_iter().map(|d| Device {
                id: m.sym(d.id),
                environment: m.opt(d.environment),
                virtual_host: m.opt(d.virtual_host),
                primary_user: m.opt(d.primary_user),
                cpu: m.opt(d.cpu),
                cluster: m.opt(d.cluster),
                ..d
            }));
        self.users.extend(part.users.into_iter().map(|u| User {
            id: m.sym(u.id),
            ..u
        }));
        self.installations
            .extend(part.installations.into_iter().map(|i| Installation {
                device: m.sym(i.device),
                product: m.sym(i.product),
                version: m.opt(i.version),
                user: m.opt(i.user),
                discovered_by: m.opt(i.discovered_by),
                ..i
            }));
        self.usage.extend(part.usage.into_iter().map(|u| Usage {
            product: m.sym(u.product),
            ..u
        }));
        self.hosts
            .extend(part.hosts.into_iter().map(|(h, pos)| (m.sym(h), pos)));
        self.covers.extend(
            part.covers
                .into_iter()
                .map(|(p, c, pos)| (m.sym(p), m.sym(c), pos)),
        );
    }

    /// Reads a snapshot given as an already-parsed node (a test case's inline
    /// `inventory:`).
    fn read_node(&mut self, node: &Node) {
        let crate::yaml::Value::Map(pairs) = &node.value else {
            self.sink.error(
                node.pos,
                format!("expected an inventory mapping, found {}", node.describe()),
            );
            return;
        };
        let mut seen: HashMap<String, Pos> = HashMap::new();
        for (key, value) in pairs {
            if let Some(name) = self.section_name(key, &mut seen) {
                self.section(&name, value);
            }
        }
        if seen.is_empty() {
            self.sink.error(
                node.pos,
                "empty inventory: expected `trueup: 1` and a `snapshot:` header",
            );
        } else {
            self.require_header_at(&seen, node.pos);
        }
    }

    /// Checks a top-level key; `None` (after reporting) when it is not a section.
    fn section_name(&mut self, key: &Node, seen: &mut HashMap<String, Pos>) -> Option<String> {
        let Some(name) = key.as_str().map(str::to_string) else {
            self.sink.error(
                key.pos,
                format!("expected a section name, found {}", key.describe()),
            );
            return None;
        };
        if seen.insert(name.clone(), key.pos).is_some() {
            self.sink
                .error(key.pos, format!("duplicate section `{name}`"));
        }
        if !TOP.contains(&name.as_str()) {
            self.sink.error(
                key.pos,
                format!(
                    "unknown field `{name}` in snapshot; expected one of: {}",
                    TOP.join(", ")
                ),
            );
            return None;
        }
        Some(name)
    }

    /// Reads one section's whole value.
    fn section(&mut self, name: &str, v: &Node) {
        match name {
            "trueup" => self.version(v),
            "snapshot" => self.meta(v),
            section => match &v.value {
                crate::yaml::Value::Seq(items) => {
                    for item in items {
                        self.record(section, item);
                    }
                }
                _ if v.is_null() => {}
                _ => self.sink.error(
                    v.pos,
                    format!("`{section}` must be a list, found {}", v.describe()),
                ),
            },
        }
    }

    fn require_header(&mut self, seen: &HashMap<String, Pos>) {
        self.require_header_at(seen, Pos { line: 1, col: 1 });
    }

    fn require_header_at(&mut self, seen: &HashMap<String, Pos>, pos: Pos) {
        if self.version.is_none() {
            self.sink
                .error(pos, "missing format version: add `trueup: 1` at the top");
        }
        if self.meta.is_none() && !seen.contains_key("snapshot") {
            self.sink
                .error(pos, "missing `snapshot:` header with `id` and `taken_at`");
        }
    }

    fn version(&mut self, v: &Node) {
        match v.as_str().and_then(|s| s.parse::<u64>().ok()) {
            Some(FORMAT_VERSION) => self.version = Some((FORMAT_VERSION, v.pos)),
            Some(n) => {
                self.version = Some((n, v.pos));
                self.sink.error(
                    v.pos,
                    format!(
                        "unknown format version `{n}`: this trueup reads version {FORMAT_VERSION}"
                    ),
                );
            }
            None => {
                self.version = Some((0, v.pos));
                self.sink.error(
                    v.pos,
                    format!("format version must be a number, found {}", v.describe()),
                );
            }
        }
    }

    fn meta(&mut self, v: &Node) {
        let Some(f) = Fields::of(
            v,
            "snapshot",
            &["id", "taken_at", "sources", "estate"],
            &mut self.sink,
        ) else {
            return;
        };
        let id = f.req_str("id", &mut self.sink);
        let taken_at = f.req_date("taken_at", &mut self.sink);
        let sources = f
            .str_list("sources", &mut self.sink)
            .into_iter()
            .map(str::to_string)
            .collect();
        let estate = f.str("estate", &mut self.sink).map(str::to_string);
        if let (Some(id), Some(taken_at)) = (id, taken_at) {
            self.meta = Some(SnapshotMeta {
                id: id.to_string(),
                taken_at,
                sources,
                estate,
            });
        }
    }

    fn sym(&mut self, s: Option<&str>) -> Option<Sym> {
        s.map(|s| self.strings.intern(s))
    }

    fn record(&mut self, section: &str, node: &Node) {
        let s = &mut self.sink;
        let line = node.pos.line;
        match section {
            "products" => {
                let Some(f) = Fields::of(
                    node,
                    "product",
                    &["id", "name", "publisher", "risk_tier", "covers", "source"],
                    s,
                ) else {
                    return;
                };
                // Where the record came from (`trueup import` writes it): text, unread.
                f.str("source", s);
                let id = f.req_str("id", s);
                let name = f.str("name", s);
                let publisher = f.str("publisher", s);
                let tier = f
                    .choice("risk_tier", RiskTier::NAMES, s)
                    .and_then(RiskTier::parse);
                let covers = f.str_items("covers", s);
                if let Some(id) = id {
                    let id = self.strings.intern(id);
                    let covers: Vec<Sym> = covers
                        .into_iter()
                        .map(|(c, pos)| {
                            let c = self.strings.intern(c);
                            self.covers.push((id, c, pos));
                            c
                        })
                        .collect();
                    let product = Product {
                        id,
                        name: name.unwrap_or(self.strings.resolve(id)).to_string(),
                        publisher: self.sym(publisher),
                        risk_tier: tier.unwrap_or(RiskTier::Medium),
                        covers,
                        line,
                    };
                    self.products.push(product);
                }
            }
            "contracts" => {
                let names = &[
                    "id",
                    "publisher",
                    "start",
                    "end",
                    "status",
                    "terminated_on",
                    "true_up",
                    "audit_notice_days",
                    "exempt_environments",
                    "source",
                ];
                let Some(f) = Fields::of(node, "contract", names, s) else {
                    return;
                };
                // Where the record came from (`trueup import` writes it): text, unread.
                f.str("source", s);
                let id = f.req_str("id", s);
                let publisher = f.str("publisher", s);
                let start = f.date("start", s);
                let end = f.date("end", s);
                let status = f
                    .choice("status", ContractStatus::NAMES, s)
                    .and_then(ContractStatus::parse);
                let terminated_on = f.date("terminated_on", s);
                let true_up = f.date("true_up", s);
                let audit_notice_days = f.count("audit_notice_days", s);
                let exempt: Vec<String> = f
                    .str_list("exempt_environments", s)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                if let (Some(a), Some(b)) = (start, end) {
                    if b < a {
                        s.error(
                            f.get("end").map_or(f.pos(), |n| n.pos),
                            format!("contract ends ({b}) before it starts ({a})"),
                        );
                    }
                }
                if status == Some(ContractStatus::Terminated) && terminated_on.is_none() {
                    s.error(f.pos(), "a terminated contract needs `terminated_on`");
                }
                let Some(id) = id else { return };
                let contract = Contract {
                    id: self.strings.intern(id),
                    publisher: self.sym(publisher),
                    start,
                    end,
                    status: status.unwrap_or(ContractStatus::Active),
                    terminated_on,
                    true_up,
                    audit_notice_days,
                    exempt_environments: exempt.iter().map(|e| self.strings.intern(e)).collect(),
                    line,
                };
                self.contracts.push(contract);
            }
            "entitlements" => {
                let names = &[
                    "id",
                    "contract",
                    "product",
                    "metric",
                    "quantity",
                    "start",
                    "end",
                    "maintenance_end",
                    "perpetual",
                    "priority",
                    "source",
                ];
                let Some(f) = Fields::of(node, "entitlement", names, s) else {
                    return;
                };
                // Where the record came from (`trueup import` writes it): text, unread.
                f.str("source", s);
                let id = f.req_str("id", s);
                let contract = f.req_str("contract", s);
                let product = f.req_str("product", s);
                // A name that is not built in is a metric profile; whether
                // the playbook defines it is checked once the playbook is known.
                let metric = f.req_str("metric", s).and_then(|m| {
                    if Metric::well_formed(m) {
                        Some(Metric::named(m))
                    } else {
                        let pos = f.get("metric").map_or(f.pos(), |n| n.pos);
                        s.error(
                            pos,
                            format!(
                                "field `metric` must be one of {} or the name of a metric profile (lowercase letters, digits and `-`), found `{m}`",
                                Metric::NAMES.join(", ")
                            ),
                        );
                        None
                    }
                });
                let quantity = match metric {
                    Some(Metric::Site) => f.count("quantity", s).or(Some(0)),
                    _ => f.req_count("quantity", s),
                };
                let start = f.date("start", s);
                let end = f.date("end", s);
                let maintenance_end = f.date("maintenance_end", s);
                let perpetual = f.bool("perpetual", s).unwrap_or(false);
                let priority = f.count("priority", s);
                if let (Some(a), Some(b)) = (start, end) {
                    if b < a {
                        s.error(
                            f.get("end").map_or(f.pos(), |n| n.pos),
                            format!("entitlement ends ({b}) before it starts ({a})"),
                        );
                    }
                }
                let contract_pos = f.get("contract").map_or(f.pos(), |n| n.pos);
                let product_pos = f.get("product").map_or(f.pos(), |n| n.pos);
                if let (Some(id), Some(contract), Some(product), Some(metric), Some(quantity)) =
                    (id, contract, product, metric, quantity)
                {
                    let e = Entitlement {
                        id: self.strings.intern(id),
                        contract: self.strings.intern(contract),
                        contract_ix: usize::MAX,
                        product: self.strings.intern(product),
                        metric,
                        quantity,
                        start,
                        end,
                        maintenance_end,
                        perpetual,
                        priority,
                        line,
                    };
                    self.raw_entitlements.push((e, contract_pos, product_pos));
                }
            }
            "devices" => {
                let names = &[
                    "id",
                    "environment",
                    "cores",
                    "sockets",
                    "virtual_host",
                    "primary_user",
                    "last_seen",
                    "cpu",
                    "cluster",
                    "source",
                    "sources",
                ];
                let Some(f) = Fields::of(node, "device", names, s) else {
                    return;
                };
                // Where the record came from (`trueup import` writes it): text, unread.
                f.str("source", s);
                f.str_list("sources", s);
                let id = f.req_str("id", s);
                let environment = f.str("environment", s);
                let cores = f.count("cores", s);
                let sockets = f.count("sockets", s);
                let host = f.str("virtual_host", s);
                let primary_user = f.str("primary_user", s);
                let last_seen = f.date("last_seen", s);
                let cpu = f.str("cpu", s);
                let cluster = f.str("cluster", s);
                if let (Some(h), Some(name)) = (f.get("virtual_host"), host) {
                    let sym = self.strings.intern(name);
                    self.hosts.push((sym, h.pos));
                }
                let Some(id) = id else { return };
                let device = Device {
                    id: self.strings.intern(id),
                    environment: self.sym(environment),
                    cores,
                    sockets,
                    virtual_host: self.sym(host),
                    primary_user: self.sym(primary_user),
                    last_seen,
                    cpu: self.sym(cpu),
                    cluster: self.sym(cluster),
                    line,
                };
                self.devices.push(device);
            }
            "users" => {
                let Some(f) = Fields::of(node, "user", &["id", "active", "source"], s) else {
                    return;
                };
                // Where the record came from (`trueup import` writes it): text, unread.
                f.str("source", s);
                let id = f.req_str("id", s);
                let active = f.bool("active", s).unwrap_or(true);
                if let Some(id) = id {
                    let user = User {
                        id: self.strings.intern(id),
                        active,
                        line,
                    };
                    self.users.push(user);
                }
            }
            "installations" => {
                let names = &[
                    "device",
                    "product",
                    "version",
                    "installed_on",
                    "removed_on",
                    "user",
                    "discovered_by",
                    "source",
                ];
                let Some(f) = Fields::of(node, "installation", names, s) else {
                    return;
                };
                // Where the record came from (`trueup import` writes it): text, unread.
                f.str("source", s);
                let device = f.req_str("device", s);
                let product = f.req_str("product", s);
                let version = f.str("version", s);
                let installed_on = f.date("installed_on", s);
                let removed_on = f.date("removed_on", s);
                if let (Some(a), Some(b)) = (installed_on, removed_on) {
                    if b < a {
                        s.error(
                            f.get("removed_on").map_or(f.pos(), |n| n.pos),
                            format!("installation is removed ({b}) before it is installed ({a})"),
                        );
                    }
                }
                let user = f.str("user", s);
                let discovered_by = f.str("discovered_by", s);
                if let (Some(device), Some(product)) = (device, product) {
                    let inst = Installation {
                        device: self.strings.intern(device),
                        product: self.strings.intern(product),
                        version: self.sym(version),
                        installed_on,
                        removed_on,
                        user: self.sym(user),
                        discovered_by: self.sym(discovered_by),
                        line,
                    };
                    self.installations.push(inst);
                }
            }
            "usage" => {
                let names = &[
                    "product",
                    "period",
                    "peak_concurrent",
                    "active_users",
                    "source",
                ];
                let Some(f) = Fields::of(node, "usage record", names, s) else {
                    return;
                };
                // Where the record came from (`trueup import` writes it): text, unread.
                f.str("source", s);
                let product = f.req_str("product", s);
                let period = f.req_str("period", s);
                if let Some(p) = period {
                    if Date::parse(&format!("{p}-01")).is_none() {
                        let pos = f.get("period").map_or(f.pos(), |n| n.pos);
                        s.error(
                            pos,
                            format!("field `period` must be a month (YYYY-MM), found `{p}`"),
                        );
                    }
                }
                let peak_concurrent = f.count("peak_concurrent", s);
                let active_users = f.count("active_users", s);
                if let (Some(product), Some(period)) = (product, period) {
                    let u = Usage {
                        product: self.strings.intern(product),
                        period: period.to_string(),
                        peak_concurrent,
                        active_users,
                        line,
                    };
                    self.usage.push(u);
                }
            }
            _ => unreachable!("sections are checked against TOP"),
        }
    }

    /// Cross-checks references and builds the indexes.
    fn finish(self, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Snapshot> {
        let file = self.sink.file;
        let strings = self.strings;
        let err = |line: u32, col: u32, msg: String| Diagnostic::error(file, line, col, msg);
        let mut index = Index::default();

        fn unique<T>(
            items: &[T],
            what: &str,
            key: impl Fn(&T) -> (Sym, u32),
            strings: &Interner,
            out: &mut SymMap<usize>,
            diags: &mut Vec<Diagnostic>,
            file: &Path,
        ) {
            *out = Index::ids(
                items,
                |item| key(item).0,
                |at, first| {
                    let (id, line) = key(&items[at]);
                    let (_, first_line) = key(&items[first]);
                    diags.push(Diagnostic::error(
                        file,
                        line,
                        0,
                        format!(
                            "duplicate {what} id `{}` (first defined on line {first_line})",
                            strings.resolve(id)
                        ),
                    ));
                },
            );
        }
        unique(
            &self.products,
            "product",
            |p| (p.id, p.line),
            &strings,
            &mut index.products,
            diags,
            file,
        );
        unique(
            &self.contracts,
            "contract",
            |c| (c.id, c.line),
            &strings,
            &mut index.contracts,
            diags,
            file,
        );
        unique(
            &self.devices,
            "device",
            |d| (d.id, d.line),
            &strings,
            &mut index.devices,
            diags,
            file,
        );
        unique(
            &self.users,
            "user",
            |u| (u.id, u.line),
            &strings,
            &mut index.users,
            diags,
            file,
        );

        let mut entitlements = Vec::with_capacity(self.raw_entitlements.len());
        for (mut e, contract_pos, product_pos) in self.raw_entitlements {
            let mut ok = true;
            match index.contracts.get(&e.contract) {
                Some(&ix) => e.contract_ix = ix,
                None => {
                    diags.push(err(
                        contract_pos.line,
                        contract_pos.col,
                        format!(
                            "entitlement `{}` names contract `{}`, which the snapshot does not list",
                            strings.resolve(e.id),
                            strings.resolve(e.contract)
                        ),
                    ));
                    ok = false;
                }
            }
            if !index.products.contains_key(&e.product) {
                diags.push(err(
                    product_pos.line,
                    product_pos.col,
                    format!(
                        "entitlement `{}` names product `{}`, which the snapshot does not list",
                        strings.resolve(e.id),
                        strings.resolve(e.product)
                    ),
                ));
                ok = false;
            }
            if ok {
                entitlements.push(e);
            }
        }
        unique(
            &entitlements,
            "entitlement",
            |e| (e.id, e.line),
            &strings,
            &mut index.entitlements,
            diags,
            file,
        );
        for &(host, pos) in &self.hosts {
            if !index.devices.contains_key(&host) {
                diags.push(err(
                    pos.line,
                    pos.col,
                    format!(
                        "`virtual_host` names device `{}`, which the snapshot does not list",
                        strings.resolve(host)
                    ),
                ));
            }
        }

        for &(product, covered, pos) in &self.covers {
            let msg = if product == covered {
                format!("product `{}` cannot cover itself", strings.resolve(product))
            } else if !index.products.contains_key(&covered) {
                format!(
                    "product `{}` covers product `{}`, which the snapshot does not list",
                    strings.resolve(product),
                    strings.resolve(covered)
                )
            } else {
                continue;
            };
            diags.push(err(pos.line, pos.col, msg));
        }

        let mut installations = self.installations;
        let mut usage = self.usage;
        index.link(&entitlements, &mut installations, &mut usage);
        index.cover(&self.products, &strings);

        let meta = self.meta?;
        if !diags.is_empty() {
            return None;
        }
        Some(Snapshot {
            path: file.to_path_buf(),
            sha256: hex(&Sha256::digest(text.as_bytes())),
            meta,
            products: self.products,
            contracts: self.contracts,
            entitlements,
            devices: self.devices,
            users: self.users,
            installations,
            usage,
            strings,
            index,
        })
    }
}

/// Lowercase hexadecimal of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
