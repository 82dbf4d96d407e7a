//! The imported snapshot as YAML: version 1, every list sorted, every
//! record one line with its `source: FILE:LINE` (devices: `sources`), so
//! that the same inputs give the same bytes and a diff of two imports reads
//! record by record.

use std::io::{self, Write};

use rayon::prelude::*;

use super::{Imported, NONE};
use crate::date::Date;

/// Text as a YAML scalar: plain when it cannot be read as anything else,
/// else double-quoted (JSON's escapes are YAML's).
pub fn scalar(text: &str) -> std::borrow::Cow<'_, str> {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'+'))
        && !text.starts_with(['-', '.', '+'])
        && !matches!(text, "null" | "Null" | "NULL" | "~");
    if plain {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("\"{}\"", escape(text)))
    }
}

/// The inside of a double-quoted YAML scalar: `"` and `\` escaped, and
/// every character YAML does not allow as it is (C0 and C1 controls, DEL,
/// the byte-order mark, the Unicode line and paragraph separators) written
/// as `\uXXXX`, so that whatever an export holds, the snapshot loads.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        matches!(c, '"' | '\\')
            || c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
    };
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if bad(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn opt_date(out: &mut String, key: &str, d: Option<Date>) {
    if let Some(d) = d {
        out.push_str(&format!(", {key}: {d}"));
    }
}

/// Installations written per batch, in parallel.
const BATCH: usize = 16_384;

/// Writes the snapshot.
pub fn snapshot(imp: &Imported, w: &mut dyn Write) -> io::Result<()> {
    let mut head = String::new();
    head.push_str(
        "# Written by `trueup import`: each record names the export and line it came from.\n",
    );
    head.push_str("trueup: 1\n");
    head.push_str(&format!(
        "snapshot: {{ id: {}, taken_at: {}, sources: [{}] }}\n",
        scalar(&imp.id),
        imp.taken_at,
        imp.tools
            .iter()
            .map(|t| scalar(t).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let recognition = &imp.recognition_file;
    head.push_str("products:");
    if imp.products.is_empty() {
        head.push_str(" []");
    }
    head.push('\n');
    for p in &imp.products {
        head.push_str(&format!(
            "  - {{ id: {}, name: {}, publisher: {}, risk_tier: {}, source: {} }}\n",
            scalar(&p.id),
            scalar(&p.name),
            scalar(&p.publisher),
            p.risk_tier.as_str(),
            scalar(&format!("{recognition}:{}", p.line))
        ));
    }
    let src =
        |file: u16, line: u64| scalar(&format!("{}:{line}", imp.files[file as usize])).into_owned();
    if !imp.contracts.is_empty() {
        head.push_str("contracts:\n");
        for (id, c) in &imp.contracts {
            head.push_str(&format!("  - {{ id: {}", scalar(id)));
            if let Some(p) = &c.publisher {
                head.push_str(&format!(", publisher: {}", scalar(p)));
            }
            opt_date(&mut head, "start", c.start);
            opt_date(&mut head, "end", c.end);
            if let Some(status) = c.status {
                head.push_str(&format!(", status: {status}"));
            }
            opt_date(&mut head, "terminated_on", c.terminated_on);
            head.push_str(&format!(", source: {} }}\n", src(c.file, c.line)));
        }
    }
    if !imp.entitlements.is_empty() {
        head.push_str("entitlements:\n");
        for e in &imp.entitlements {
            head.push_str(&format!(
                "  - {{ id: {}, contract: {}, product: {}, metric: {}",
                scalar(&e.id),
                scalar(&e.contract),
                scalar(&imp.product_ids[e.product as usize]),
                scalar(&e.metric)
            ));
            if let Some(q) = e.quantity {
                head.push_str(&format!(", quantity: {q}"));
            }
            opt_date(&mut head, "start", e.start);
            opt_date(&mut head, "end", e.end);
            opt_date(&mut head, "maintenance_end", e.maintenance_end);
            if e.perpetual {
                head.push_str(", perpetual: true");
            }
            head.push_str(&format!(", source: {} }}\n", src(e.file, e.line)));
        }
    }
    head.push_str("devices:");
    if imp.devices.is_empty() {
        head.push_str(" []");
    }
    head.push('\n');
    w.write_all(head.as_bytes())?;
    let devices: Vec<String> = imp
        .devices
        .par_iter()
        .map(|d| {
            let mut s = format!("  - {{ id: {}", scalar(&d.id));
            if let Some(e) = &d.environment {
                s.push_str(&format!(", environment: {}", scalar(e)));
            }
            if let Some(c) = d.cores {
                s.push_str(&format!(", cores: {c}"));
            }
            if let Some(c) = d.sockets {
                s.push_str(&format!(", sockets: {c}"));
            }
            opt_date(&mut s, "last_seen", d.last_seen);
            let sources: Vec<String> = d.sources.iter().map(|(f, l)| src(*f, *l)).collect();
            s.push_str(&format!(", sources: [{}] }}\n", sources.join(", ")));
            s
        })
        .collect();
    for d in devices {
        w.write_all(d.as_bytes())?;
    }
    w.write_all(b"installations:")?;
    if imp.installs.is_empty() {
        w.write_all(b" []")?;
    }
    w.write_all(b"\n")?;
    // Quoted once: each device, product, string, file is written many times.
    let dev: Vec<String> = imp
        .devices
        .iter()
        .map(|d| scalar(&d.id).into_owned())
        .collect();
    let prod: Vec<String> = imp
        .product_ids
        .iter()
        .map(|p| scalar(p).into_owned())
        .collect();
    let strs: Vec<String> = imp.strings.iter().map(|s| scalar(s).into_owned()).collect();
    let tools: Vec<String> = imp
        .tool_names
        .iter()
        .map(|t| scalar(t).into_owned())
        .collect();
    let files: Vec<String> = imp.files.iter().map(|f| escape(f).into_owned()).collect();
    let batches: Vec<String> = imp
        .installs
        .par_chunks(BATCH)
        .map(|chunk| {
            use std::fmt::Write as _;
            let mut s = String::with_capacity(chunk.len() * 128);
            for i in chunk {
                let _ = write!(
                    s,
                    "  - {{ device: {}, product: {}",
                    dev[i.device as usize], prod[i.product as usize]
                );
                if i.version != NONE {
                    let _ = write!(s, ", version: {}", version(&strs[i.version as usize]));
                }
                if let Some(d) = i.installed_on {
                    let _ = write!(s, ", installed_on: {d}");
                }
                if i.user != NONE {
                    let _ = write!(s, ", user: {}", strs[i.user as usize]);
                }
                let _ = writeln!(
                    s,
                    ", discovered_by: {}, source: \"{}:{}\" }}",
                    tools[i.tool as usize], files[i.file as usize], i.line
                );
            }
            s
        })
        .collect();
    for b in batches {
        w.write_all(b.as_bytes())?;
    }
    Ok(())
}

/// A version is text; quoted so that no reader takes `2024.10` for a number.
fn version(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with('"') {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(format!("\"{s}\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_could_read_as_something_else() {
        assert_eq!(scalar("ws-001"), "ws-001");
        assert_eq!(scalar("null"), "\"null\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("-x"), "\"-x\"");
        assert_eq!(scalar("Café \"x\""), "\"Café \\\"x\\\"\"");
        assert_eq!(scalar("a\u{81}b\u{7}"), "\"a\\u0081b\\u0007\"");
    }
}
