//! One reader per discovery tool: which columns (or JSON keys) hold the
//! device, the software's publisher, name and version, and the device's
//! cores, sockets and last inventory.
//!
//! Columns are looked up by header, case, spaces and punctuation aside
//! (see [`read::key`]), so an export whose columns were reordered, or
//! renamed from `ARPDisplayName0` to `ARP Display Name`, still reads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::mapping::{Columns, Mapping, ENTITLEMENT_FIELDS, INSTALLATION_FIELDS};
use super::read::{self, Cell, DateOrder, Row, Table};
use super::{Builder, Contract, Entitlement, Outcome};
use crate::date::Date;
use crate::diag::Diagnostic;
use crate::inventory::model::Metric;

/// A date cell; what is no date is reported and left out.
fn date_of(
    b: &mut Builder,
    file: u16,
    line: u64,
    field: &str,
    text: &str,
    order: DateOrder,
) -> Option<Date> {
    match read::date(text, order) {
        Cell::Date(d) => Some(d),
        Cell::Empty => None,
        Cell::Bad => {
            b.problem(
                file,
                line,
                format!(
                    "`{field}` `{}` is not a date trueup reads; left out",
                    shorten(text)
                ),
            );
            None
        }
    }
}

/// A count cell; what is no whole number is reported and left out.
fn count_of(b: &mut Builder, file: u16, line: u64, field: &str, text: &str) -> Option<u64> {
    if text.trim().is_empty() {
        return None;
    }
    let n = read::count(text);
    if n.is_none() {
        b.problem(
            file,
            line,
            format!(
                "`{field}` `{}` is not a whole number; left out",
                shorten(text)
            ),
        );
    }
    n
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Notes on how a table was decoded, when that is worth knowing.
fn table_notes(b: &mut Builder, t: &Table) {
    if t.encoding == read::Encoding::Windows1252 {
        b.note(format!(
            "{}: not UTF-8; read as Windows-1252",
            t.file.display()
        ));
    }
    if t.replaced > 0 {
        b.note(format!(
            "{}: {} characters could not be decoded and read as U+FFFD",
            t.file.display(),
            t.replaced
        ));
    }
}

fn missing_columns(path: &Path, what: &str, expected: &[&str], t: &Table) -> Diagnostic {
    Diagnostic::error(
        path,
        1,
        0,
        format!(
            "not {what}: expected columns {}; the header has {}",
            expected
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            t.headers
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

const MECM_SOFTWARE: &[&str] = &[
    "ResourceID",
    "ARPDisplayName0",
    "ProductName0",
    "ProductVersion0",
    "Publisher0",
    "InstallDate0",
];
const MECM_SYSTEMS: &[&str] = &[
    "ResourceID",
    "Name0",
    "NumberOfCores0",
    "NumberOfProcessors0",
    "LastHWScan",
];

/// Configuration Manager exports: installed software (`ResourceID`,
/// `ARPDisplayName0`, `ProductName0`, `ProductVersion0`, `Publisher0`,
/// `InstallDate0`) and systems (`ResourceID`, `Name0`, `NumberOfCores0`,
/// `NumberOfProcessors0`, `LastHWScan`), told apart by their headers.
/// Systems are read first, so software rows name devices by `Name0`.
pub fn mecm(b: &mut Builder, files: &[PathBuf], errors: &mut Vec<Diagnostic>) {
    let mut software = Vec::new();
    let mut systems = Vec::new();
    for path in files {
        match Table::open(path) {
            Err(d) => errors.push(d),
            Ok(t) => {
                let id = t.column(&["ResourceID"]).is_some();
                if id && t.column(&["ARPDisplayName0", "ProductName0"]).is_some() {
                    software.push(t);
                } else if id && t.column(&["Name0"]).is_some() {
                    systems.push(t);
                } else {
                    errors.push(Diagnostic::error(
                        path,
                        1,
                        0,
                        format!(
                            "neither a Configuration Manager installed-software export ({}) nor a systems export ({}): the header has {}",
                            MECM_SOFTWARE.join(", "),
                            MECM_SYSTEMS.join(", "),
                            t.headers.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    let tool = b.tool("mecm");
    let order = DateOrder::MonthFirst;
    let mut resources: HashMap<String, u32> = HashMap::new();
    for t in &systems {
        table_notes(b, t);
        let file = b.file(&t.file);
        let c = |names: &[&str]| t.column(names);
        let (rid, name) = (c(&["ResourceID"]), c(&["Name0"]));
        let cores = c(&["NumberOfCores0", "NumberOfCores", "Cores"]);
        let sockets = c(&[
            "NumberOfProcessors0",
            "NumberOfProcessors",
            "Sockets",
            "Processors",
        ]);
        let scan = c(&["LastHWScan", "LastHWScan0", "LastHardwareScan"]);
        t.rows(|row| {
            let row = match row {
                Ok(r) => r,
                Err((line, m)) => return b.problem(file, line, m),
            };
            let (id, n) = (row.get(rid), row.get(name));
            if n.is_empty() {
                return b.problem(file, row.line, "the row has no `Name0`");
            }
            let d = b.device(n, file, row.line);
            if !id.is_empty() {
                resources.insert(id.to_string(), d);
            }
            let cores = count_of(b, file, row.line, "NumberOfCores0", row.get(cores));
            let sockets = count_of(b, file, row.line, "NumberOfProcessors0", row.get(sockets));
            let seen = date_of(b, file, row.line, "LastHWScan", row.get(scan), order);
            b.facts(d, cores, sockets, seen, None);
        });
    }
    for t in &software {
        table_notes(b, t);
        let file = b.file(&t.file);
        let c = |names: &[&str]| t.column(names);
        let rid = c(&["ResourceID"]);
        let (arp, product) = (c(&["ARPDisplayName0"]), c(&["ProductName0"]));
        let version = c(&["ProductVersion0", "Version0"]);
        let publisher = c(&["Publisher0"]);
        let installed = c(&["InstallDate0"]);
        let mut unlisted = 0u64;
        t.rows(|row| {
            let row = match row {
                Ok(r) => r,
                Err((line, m)) => return b.problem(file, line, m),
            };
            let id = row.get(rid);
            if id.is_empty() {
                return b.problem(file, row.line, "the row has no `ResourceID`");
            }
            let d = match resources.get(id) {
                Some(&d) => {
                    b.device(&b.devices[d as usize].id.clone(), file, row.line);
                    d
                }
                None => {
                    unlisted += 1;
                    b.device(id, file, row.line)
                }
            };
            let name = match row.get(arp) {
                "" => row.get(product),
                n => n,
            };
            let on = date_of(b, file, row.line, "InstallDate0", row.get(installed), order);
            b.entry(
                d,
                row.get(publisher),
                name,
                row.get(version),
                on,
                "",
                tool,
                file,
                row.line,
            );
        });
        if unlisted > 0 {
            b.note(format!(
                "{}: {unlisted} {} a ResourceID that no systems export lists; the device is named by its ResourceID",
                t.file.display(),
                if unlisted == 1 { "row names" } else { "rows name" }
            ));
        }
    }
}

/// Intune's discovered-apps export (the per-device `AppInvRawData`
/// report): `DeviceName`, `ApplicationName`, `ApplicationVersion`,
/// `ApplicationPublisher`, `Platform`, and the user if it has one.
pub fn intune(b: &mut Builder, files: &[PathBuf], errors: &mut Vec<Diagnostic>) {
    let tool = b.tool("intune");
    for path in files {
        let t = match Table::open(path) {
            Ok(t) => t,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let c = |names: &[&str]| t.column(names);
        let device = c(&["DeviceName", "Device"]);
        let name = c(&["ApplicationName", "AppName", "Application"]);
        if device.is_none() || name.is_none() {
            errors.push(missing_columns(
                path,
                "an Intune discovered-apps export",
                &[
                    "DeviceName",
                    "ApplicationName",
                    "ApplicationVersion",
                    "ApplicationPublisher",
                    "Platform",
                ],
                &t,
            ));
            continue;
        }
        let version = c(&["ApplicationVersion", "ApplicationShortVersion", "Version"]);
        let publisher = c(&["ApplicationPublisher", "Publisher"]);
        let user = c(&["UserPrincipalName", "EmailAddress", "UserName"]);
        table_notes(b, &t);
        let file = b.file(path);
        t.rows(|row| {
            let row = match row {
                Ok(r) => r,
                Err((line, m)) => return b.problem(file, line, m),
            };
            let dev = row.get(device);
            if dev.is_empty() {
                return b.problem(file, row.line, "the row has no `DeviceName`");
            }
            let d = b.device(dev, file, row.line);
            let (p, n, v, u) = (
                row.get(publisher),
                row.get(name),
                row.get(version),
                row.get(user),
            );
            b.entry(d, p, n, v, None, u, tool, file, row.line);
        });
    }
}

/// Any CSV, its columns named by the mapping's `installations:`.
pub fn mapped(b: &mut Builder, files: &[PathBuf], mapping: &Mapping, errors: &mut Vec<Diagnostic>) {
    let tool = b.tool(&mapping.tool);
    let cols = &mapping.installations;
    for path in files {
        let t = match Table::open(path) {
            Ok(t) => t,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let Some(ix) = columns(
            path,
            &t,
            mapping,
            cols,
            INSTALLATION_FIELDS,
            &["device", "name"],
            errors,
        ) else {
            continue;
        };
        let at = |f: &str| {
            ix[INSTALLATION_FIELDS
                .iter()
                .position(|x| *x == f)
                .expect("field")]
        };
        let (device, name, publisher, version) =
            (at("device"), at("name"), at("publisher"), at("version"));
        let (installed, user, cores, sockets) =
            (at("installed_on"), at("user"), at("cores"), at("sockets"));
        let (seen, env) = (at("last_seen"), at("environment"));
        table_notes(b, &t);
        let file = b.file(path);
        let order = mapping.date_order;
        t.rows(|row: Result<Row, _>| {
            let row = match row {
                Ok(r) => r,
                Err((line, m)) => return b.problem(file, line, m),
            };
            let dev = row.get(device);
            if dev.is_empty() {
                let h = cols.header(INSTALLATION_FIELDS, "device");
                return b.problem(
                    file,
                    row.line,
                    format!("the row has no device (column `{h}`)"),
                );
            }
            let d = b.device(dev, file, row.line);
            let c = count_of(b, file, row.line, "cores", row.get(cores));
            let s = count_of(b, file, row.line, "sockets", row.get(sockets));
            let l = date_of(b, file, row.line, "last_seen", row.get(seen), order);
            b.facts(d, c, s, l, Some(row.get(env)));
            let on = date_of(b, file, row.line, "installed_on", row.get(installed), order);
            let (p, n, v, u) = (
                row.get(publisher),
                row.get(name),
                row.get(version),
                row.get(user),
            );
            b.entry(d, p, n, v, on, u, tool, file, row.line);
        });
    }
}

/// The column of each field (`None`: not in this file), or an error when
/// a required field's column, or one the mapping names, is not there.
fn columns(
    path: &Path,
    t: &Table,
    mapping: &Mapping,
    cols: &Columns,
    fields: &[&str],
    required: &[&str],
    errors: &mut Vec<Diagnostic>,
) -> Option<Vec<Option<usize>>> {
    let mut out = Vec::new();
    let mut ok = true;
    for f in fields {
        let header = cols.header(fields, f);
        let found = t.column(&[header]);
        if found.is_none() && (required.contains(f) || cols.pos(fields, f).is_some()) {
            ok = false;
            let mut d = Diagnostic::error(
                path,
                1,
                0,
                format!(
                    "no column `{header}` for field `{f}`; the header has {}",
                    t.headers
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            if let (Some(m), Some(pos)) = (&mapping.file, cols.pos(fields, f)) {
                d = d.with_note(format!(
                    "the column is named at {}:{}",
                    m.display(),
                    pos.line
                ));
            } else {
                d = d.with_note("name its column in a mapping file (`--mapping FILE`)");
            }
            errors.push(d);
        }
        out.push(found);
    }
    ok.then_some(out)
}

/// Purchase records, as entitlements and their contracts, columns named by
/// the mapping's `entitlements:` (else by the snapshot's own field names).
/// A row's product is a product id of the recognition file, or a name the
/// rules recognise.
pub fn purchases(b: &mut Builder, path: &Path, mapping: &Mapping, errors: &mut Vec<Diagnostic>) {
    let t = match Table::open(path) {
        Ok(t) => t,
        Err(d) => return errors.push(d),
    };
    let cols = &mapping.entitlements;
    let required = ["contract", "product", "metric", "quantity"];
    let Some(ix) = columns(
        path,
        &t,
        mapping,
        cols,
        ENTITLEMENT_FIELDS,
        &required,
        errors,
    ) else {
        return;
    };
    let at = |f: &str| {
        ix[ENTITLEMENT_FIELDS
            .iter()
            .position(|x| *x == f)
            .expect("field")]
    };
    table_notes(b, &t);
    let file = b.file(path);
    let order = mapping.date_order;
    let recognition = b.recognition();
    let mut ids: HashMap<String, u64> = HashMap::new();
    t.rows(|row| {
        let row = match row {
            Ok(r) => r,
            Err((line, m)) => return b.problem(file, line, m),
        };
        let line = row.line;
        let contract = row.get(at("contract"));
        let product = row.get(at("product"));
        let publisher = row.get(at("publisher"));
        if contract.is_empty() {
            return b.problem(file, line, "the purchase names no contract");
        }
        let product = match recognition.product(product) {
            Some(p) => p,
            None => match recognition.recognize(publisher, &super::recognition::normalize(product), "") {
                Outcome::Product { product: p, .. } => p,
                _ => {
                    return b.problem(
                        file,
                        line,
                        format!("product `{}` is no product id of the recognition file, and no rule recognises it", shorten(product)),
                    )
                }
            },
        };
        let metric = row.get(at("metric")).to_lowercase();
        if !Metric::well_formed(&metric) {
            return b.problem(
                file,
                line,
                format!(
                    "metric `{}` is none of {} and no metric profile's name",
                    shorten(&metric),
                    Metric::NAMES.join(", ")
                ),
            );
        }
        let q = row.get(at("quantity"));
        let quantity = match read::count(q) {
            Some(n) => Some(n),
            None if q.is_empty() && metric == "site" => None,
            None => return b.problem(file, line, format!("quantity `{}` is not a whole number", shorten(q))),
        };
        // Three optional date columns; the first that is not a date is the row's problem.
        let dates_of = |fields: [&str; 3]| -> Result<[Option<Date>; 3], String> {
            let mut dates = [None; 3];
            for (i, f) in fields.into_iter().enumerate() {
                match read::date(row.get(at(f)), order) {
                    Cell::Date(d) => dates[i] = Some(d),
                    Cell::Empty => {}
                    Cell::Bad => {
                        return Err(format!("`{f}` `{}` is not a date trueup reads", shorten(row.get(at(f)))))
                    }
                }
            }
            Ok(dates)
        };
        let [start, end, maintenance_end] = match dates_of(["start", "end", "maintenance_end"]) {
            Ok(d) => d,
            Err(m) => return b.problem(file, line, m),
        };
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                return b.problem(file, line, format!("the purchase ends ({e}) before it starts ({s})"));
            }
        }
        let perpetual = match row.get(at("perpetual")).to_lowercase().as_str() {
            "" | "false" | "no" | "n" | "0" => false,
            "true" | "yes" | "y" | "1" => true,
            other => {
                return b.problem(file, line, format!("perpetual `{}` is not yes or no", shorten(other)))
            }
        };
        let id = match row.get(at("id")) {
            "" => format!("{contract}-{line}"),
            id => id.to_string(),
        };
        if let Some(first) = ids.get(&id) {
            return b.problem(file, line, format!("entitlement `{id}` is given twice (first at line {first})"));
        }
        ids.insert(id.clone(), line);
        let publisher = Some(publisher)
            .filter(|p| !p.is_empty())
            .unwrap_or(recognition.products[product].publisher.as_str())
            .to_string();
        // The contract's own term and status: from its first purchase; a
        // later purchase that says otherwise is reported.
        let [c_start, c_end, terminated_on] = match dates_of(["contract_start", "contract_end", "terminated_on"]) {
            Ok(d) => d,
            Err(m) => return b.problem(file, line, m),
        };
        let status = match row.get(at("contract_status")).to_lowercase().as_str() {
            "" | "active" => None,
            "terminated" => Some("terminated"),
            "expired" => Some("expired"),
            other => {
                return b.problem(
                    file,
                    line,
                    format!("contract status `{}` is none of active, terminated, expired", shorten(other)),
                )
            }
        };
        if status == Some("terminated") && terminated_on.is_none() {
            return b.problem(file, line, "a terminated contract needs `terminated_on`");
        }
        if let (Some(s), Some(e)) = (c_start, c_end) {
            if e < s {
                return b.problem(file, line, format!("the contract ends ({e}) before it starts ({s})"));
            }
        }
        let this = Contract {
            publisher: Some(publisher),
            start: c_start,
            end: c_end,
            status,
            terminated_on,
            file,
            line,
        };
        match b.contracts.get(contract) {
            Some(first)
                if (this.start, this.end, this.status, this.terminated_on) != (None, None, None, None)
                    && (first.start, first.end, first.status, first.terminated_on)
                        != (this.start, this.end, this.status, this.terminated_on) =>
            {
                let first_line = first.line;
                b.problem(
                    file,
                    line,
                    format!("contract `{contract}` has another term or status than at line {first_line}; the first is kept"),
                );
            }
            Some(_) => {}
            None => {
                b.contracts.insert(contract.to_string(), this);
            }
        }
        b.entitlements.push(Entitlement {
            id,
            contract: contract.to_string(),
            product: product as u32,
            metric,
            quantity,
            start,
            end,
            maintenance_end,
            perpetual,
            file,
            line,
        });
    });
}

/// osquery results as JSON: `osqueryi --json` output (an array of rows,
/// each with the host in `hostname` or `computer_name`), or osqueryd's
/// result log (one JSON object a line, event or snapshot format, the host
/// in `hostIdentifier`). The table is told from a row's columns:
/// `system_info`, `programs`, `deb_packages`, `rpm_packages`.
pub fn osquery(b: &mut Builder, files: &[PathBuf], errors: &mut Vec<Diagnostic>) {
    let tool = b.tool("osquery");
    for path in files {
        let text = match read::read_text(path) {
            Ok(t) => t.text,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let trimmed = text.trim_start();
        let mut rows: Vec<(u64, serde_json::Value)> = Vec::new();
        if trimmed.starts_with('[') {
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Array(items)) => {
                    let lines = element_lines(&text);
                    for (i, item) in items.into_iter().enumerate() {
                        rows.push((lines.get(i).copied().unwrap_or(0), item));
                    }
                }
                Ok(_) => unreachable!("starts with `[`"),
                Err(e) => {
                    errors.push(Diagnostic::error(
                        path,
                        e.line() as u32,
                        e.column() as u32,
                        format!("not osquery JSON results: {e}"),
                    ));
                    continue;
                }
            }
        } else if trimmed.starts_with('{') {
            let file = b.file(path);
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(v) => rows.push((i as u64 + 1, v)),
                    Err(e) => b.problem(file, i as u64 + 1, format!("not a JSON object: {e}")),
                }
            }
        } else {
            errors.push(Diagnostic::error(
                path,
                1,
                0,
                "not osquery JSON results: expected a JSON array of rows (`osqueryi --json`) or osqueryd's result log (a JSON object a line)",
            ));
            continue;
        }
        let file = b.file(path);
        for (line, v) in rows {
            let Some(obj) = v.as_object() else {
                b.problem(file, line, "a row is not a JSON object");
                continue;
            };
            if obj.get("action").and_then(|a| a.as_str()) == Some("removed") {
                continue;
            }
            let host = obj.get("hostIdentifier").and_then(|h| h.as_str());
            let seen = obj
                .get("unixTime")
                .and_then(|t| {
                    t.as_i64()
                        .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
                })
                .map(|secs| {
                    Date::from_ymd(1970, 1, 1)
                        .expect("a date")
                        .add_days(secs.div_euclid(86_400))
                });
            let table_rows: Vec<&serde_json::Map<String, serde_json::Value>> =
                if let Some(cols) = obj.get("columns").and_then(|c| c.as_object()) {
                    vec![cols]
                } else if let Some(snap) = obj.get("snapshot").and_then(|s| s.as_array()) {
                    snap.iter().filter_map(|r| r.as_object()).collect()
                } else {
                    vec![obj]
                };
            for r in table_rows {
                osquery_row(b, r, host, seen, tool, file, line);
            }
        }
    }
}

fn osquery_row(
    b: &mut Builder,
    r: &serde_json::Map<String, serde_json::Value>,
    host: Option<&str>,
    seen: Option<Date>,
    tool: u16,
    file: u16,
    line: u64,
) {
    let text = |k: &str| -> String {
        match r.get(k) {
            Some(serde_json::Value::String(s)) => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    let host = ["computer_name", "hostname", "host", "host_identifier"]
        .iter()
        .map(|k| text(k))
        .find(|h| !h.is_empty())
        .or_else(|| host.map(str::to_string))
        .unwrap_or_default();
    if host.is_empty() {
        return b.problem(
            file,
            line,
            "the row names no host: select `hostname` with it (`SELECT si.hostname, p.* FROM programs p, system_info si`)",
        );
    }
    let has = |k: &str| r.contains_key(k);
    let d = b.device(&host, file, line);
    if has("cpu_physical_cores") || has("cpu_logical_cores") || has("hardware_model") {
        let cores = count_of(
            b,
            file,
            line,
            "cpu_physical_cores",
            &text("cpu_physical_cores"),
        );
        let sockets = count_of(b, file, line, "cpu_sockets", &text("cpu_sockets"));
        b.facts(d, cores, sockets, seen, None);
        return;
    }
    b.facts(d, None, None, seen, None);
    let name = text("name");
    if name.is_empty() {
        return b.problem(file, line, "the row is none of system_info, programs, deb_packages, rpm_packages: it has no `name`");
    }
    let (publisher, version) = if has("maintainer") {
        (text("maintainer"), text("version"))
    } else if has("vendor") || has("release") {
        let (v, rel) = (text("version"), text("release"));
        (
            text("vendor"),
            if rel.is_empty() {
                v
            } else {
                format!("{v}-{rel}")
            },
        )
    } else {
        (text("publisher"), text("version"))
    };
    let on = date_of(
        b,
        file,
        line,
        "install_date",
        &text("install_date"),
        DateOrder::YearFirst,
    );
    b.entry(d, &publisher, &name, &version, on, "", tool, file, line);
}

/// The line on which each element of a top-level JSON array starts.
fn element_lines(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut line) = (0u32, false, false, 1u64);
    let mut expecting = false;
    for b in text.bytes() {
        if b == b'\n' {
            line += 1;
        }
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if depth == 1 && expecting && !b.is_ascii_whitespace() && b != b']' {
            out.push(line);
            expecting = false;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_lines_follow_the_array() {
        let text = "[\n  {\"a\": \"x,\\\"]\"},\n  {\"b\": [1, {\"c\": 2}]}\n  ,\n{}]";
        assert_eq!(element_lines(text), vec![2, 3, 5]);
    }
}
