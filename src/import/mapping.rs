//! The mapping file: which column of a CSV export is which field, for
//! exports trueup has no reader of its own for (ServiceNow, Lansweeper, a
//! spreadsheet) and for purchase records.
//!
//! ```yaml
//! tool: servicenow          # written as each installation's `discovered_by`
//! date_order: dmy           # how `30/10/2026` reads: mdy, dmy or ymd
//! installations:            # for `--from csv`
//!   device: Computer
//!   name: Display name
//!   publisher: Publisher
//!   version: Version
//!   installed_on: Install date
//! entitlements:             # for `--entitlements FILE`
//!   contract: Agreement
//!   product: Product
//!   metric: Licence metric
//!   quantity: Quantity
//! ```
//!
//! A field left out is read from a column named as the field is.

use std::path::{Path, PathBuf};

use super::read::DateOrder;
use crate::diag::{Diagnostic, Diagnostics};
use crate::yaml::{self, Fields, Pos, Sink};

const MAX_MAPPING_BYTES: u64 = 1 << 20;

/// The fields of an installed-software row, in the order `columns` holds them.
pub const INSTALLATION_FIELDS: &[&str] = &[
    "device",
    "name",
    "publisher",
    "version",
    "installed_on",
    "user",
    "cores",
    "sockets",
    "last_seen",
    "environment",
];

/// The fields of a purchase row.
pub const ENTITLEMENT_FIELDS: &[&str] = &[
    "id",
    "contract",
    "product",
    "publisher",
    "metric",
    "quantity",
    "start",
    "end",
    "maintenance_end",
    "perpetual",
    "contract_start",
    "contract_end",
    "contract_status",
    "terminated_on",
];

/// Columns named for fields: `columns[i]` is the header of `fields[i]`.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    pub columns: Vec<Option<(String, Pos)>>,
}

impl Columns {
    /// The header the field is read from: the mapped one, else its name.
    pub fn header<'a>(&'a self, fields: &[&'a str], field: &str) -> &'a str {
        let i = fields
            .iter()
            .position(|f| *f == field)
            .expect("known field");
        self.columns
            .get(i)
            .and_then(|c| c.as_ref())
            .map_or(fields[i], |(h, _)| h.as_str())
    }

    /// Where the mapping names the field's column, if it does.
    pub fn pos(&self, fields: &[&str], field: &str) -> Option<Pos> {
        let i = fields.iter().position(|f| *f == field)?;
        self.columns.get(i)?.as_ref().map(|(_, p)| *p)
    }
}

/// A mapping file, validated.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub file: Option<PathBuf>,
    pub tool: String,
    pub date_order: DateOrder,
    pub installations: Columns,
    pub entitlements: Columns,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping {
            file: None,
            tool: "csv".into(),
            date_order: DateOrder::YearFirst,
            installations: Columns::default(),
            entitlements: Columns::default(),
        }
    }
}

impl Mapping {
    pub fn load(path: &Path) -> Result<Mapping, Diagnostics> {
        let text = yaml::read_text(path, MAX_MAPPING_BYTES).map_err(|d| Diagnostics(vec![d]))?;
        let root = match yaml::parse_document(path, &text) {
            Ok(Some(root)) => root,
            Ok(None) => {
                return Err(Diagnostics(vec![Diagnostic::error(
                    path,
                    1,
                    0,
                    "empty mapping file: expected `installations:` or `entitlements:`",
                )
                .with_source(&text)]))
            }
            Err(d) => return Err(Diagnostics(vec![d.with_source(&text)])),
        };
        let mut sink = Sink::new(path);
        let mut m = Mapping {
            file: Some(path.to_path_buf()),
            ..Mapping::default()
        };
        if let Some(f) = Fields::of(
            &root,
            "the mapping file",
            &["tool", "date_order", "installations", "entitlements"],
            &mut sink,
        ) {
            if let Some(t) = f.str("tool", &mut sink) {
                m.tool = t.to_string();
            }
            if let Some(o) = f
                .choice("date_order", DateOrder::NAMES, &mut sink)
                .and_then(DateOrder::parse)
            {
                m.date_order = o;
            }
            if let Some(node) = f.get("installations") {
                m.installations = columns(node, "installations", INSTALLATION_FIELDS, &mut sink);
            }
            if let Some(node) = f.get("entitlements") {
                m.entitlements = columns(node, "entitlements", ENTITLEMENT_FIELDS, &mut sink);
            }
        }
        let mut diags = sink.diags;
        crate::diag::attach_sources(&mut diags, &text);
        if diags.is_empty() {
            Ok(m)
        } else {
            Err(Diagnostics(diags))
        }
    }
}

fn columns(
    node: &yaml::Node,
    what: &'static str,
    fields: &'static [&'static str],
    sink: &mut Sink,
) -> Columns {
    let Some(f) = Fields::of(node, what, fields, sink) else {
        return Columns::default();
    };
    Columns {
        columns: fields
            .iter()
            .map(|name| {
                let pos = f.get(name).map(|n| n.pos)?;
                f.str(name, sink).map(|h| (h.to_string(), pos))
            })
            .collect(),
    }
}
