//! Reading exports as discovery tools write them: text in UTF-8 (with or
//! without a byte-order mark), UTF-16 with a mark (what Windows tools
//! write as "Unicode"), or Windows-1252 when it is not UTF-8; CSV with
//! `,`, `;`, tab or `|` between fields (sniffed from the header, or given
//! by an Excel `sep=` line), quoted fields holding newlines; and the dates
//! those tools write.
//!
//! A file that cannot be read as a whole is an error; a row that cannot be
//! read is the caller's to report, and never stops the other rows.

use std::path::{Path, PathBuf};

use crate::date::Date;
use crate::diag::Diagnostic;

/// Larger inputs are refused before they are read.
pub const MAX_INPUT_BYTES: u64 = 2 << 30;

/// How a file's bytes were read as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf16Le => "UTF-16 LE",
            Encoding::Utf16Be => "UTF-16 BE",
            Encoding::Windows1252 => "Windows-1252",
        }
    }
}

/// A whole input file as text.
pub struct Text {
    pub text: String,
    pub encoding: Encoding,
    /// Characters that could not be decoded (an unpaired UTF-16 surrogate),
    /// read as U+FFFD.
    pub replaced: usize,
}

/// Reads a file whole and decodes it.
pub fn read_text(path: &Path) -> Result<Text, Diagnostic> {
    use crate::fsutil::{read_bounded, ReadError};
    let bytes = match read_bounded(path, MAX_INPUT_BYTES, |_| true) {
        Ok(b) => b,
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Diagnostic::error(path, 0, 0, "no such file"))
        }
        Err(ReadError::Io(e)) => {
            return Err(Diagnostic::error(path, 0, 0, format!("cannot read: {e}")))
        }
        Err(ReadError::IsDirectory) => {
            return Err(Diagnostic::error(path, 0, 0, "is a directory, not a file"))
        }
        Err(ReadError::TooLarge { .. }) => {
            return Err(Diagnostic::error(
                path,
                0,
                0,
                format!(
                    "file is too large (the limit is {} MiB)",
                    MAX_INPUT_BYTES >> 20
                ),
            ))
        }
        Err(ReadError::Refused(_)) => unreachable!("nothing is refused"),
    };
    decode(path, bytes)
}

/// Decodes an export's bytes: a byte-order mark says UTF-8 or UTF-16;
/// without one, UTF-8 if the bytes are, else Windows-1252 (what Windows
/// tools write as "ANSI").
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<Text, Diagnostic> {
    let utf16 = |body: &[u8], le: bool, encoding| {
        if body.len() % 2 == 1 {
            return Err(Diagnostic::error(
                path,
                0,
                0,
                format!(
                    "file is not {} text: it ends in the middle of a character",
                    Encoding::as_str(encoding)
                ),
            ));
        }
        let units = body.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        let mut text = String::with_capacity(body.len() / 2);
        let mut replaced = 0;
        for c in char::decode_utf16(units) {
            text.push(c.unwrap_or_else(|_| {
                replaced += 1;
                char::REPLACEMENT_CHARACTER
            }));
        }
        Ok(Text {
            text,
            encoding,
            replaced,
        })
    };
    match bytes.as_slice() {
        [0xFF, 0xFE, body @ ..] => return utf16(body, true, Encoding::Utf16Le),
        [0xFE, 0xFF, body @ ..] => return utf16(body, false, Encoding::Utf16Be),
        _ => {}
    }
    let start = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    let mut bytes = bytes;
    bytes.drain(..start);
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Text {
            text,
            encoding: Encoding::Utf8,
            replaced: 0,
        }),
        Err(e) => {
            let bytes = e.into_bytes();
            Ok(Text {
                text: bytes.iter().map(|&b| windows_1252(b)).collect(),
                encoding: Encoding::Windows1252,
                replaced: 0,
            })
        }
    }
}

/// One Windows-1252 byte as a character (the five unassigned bytes read as
/// the C1 controls Windows maps them to).
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// A CSV export, decoded, with its header.
pub struct Table {
    pub file: PathBuf,
    text: String,
    pub encoding: Encoding,
    pub replaced: usize,
    pub delimiter: u8,
    /// Bytes of `text` before the header (an Excel `sep=` line).
    skip: usize,
    /// Lines before the header line.
    skip_lines: u64,
    /// The header's cells as written.
    pub headers: Vec<String>,
    /// The same, normalized by [`key`].
    keys: Vec<String>,
}

/// A header cell as columns are looked up: lowercase letters and digits
/// only, so `Device Name`, `DeviceName` and `device_name` are one column.
pub fn key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The delimiter of a header line: the most frequent of `,`, `;`, tab and
/// `|` outside quotes (`,` on a tie or when there is none).
fn sniff(header: &str) -> u8 {
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for b in header.bytes() {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b',' => counts[0] += 1,
            b';' => counts[1] += 1,
            b'\t' => counts[2] += 1,
            b'|' => counts[3] += 1,
            _ => {}
        }
    }
    let best = (0..4).max_by_key(|&i| (counts[i], 4 - i)).unwrap_or(0);
    [b',', b';', b'\t', b'|'][best]
}

impl Table {
    /// Reads a CSV file and its header. An empty file, or one whose header
    /// has no column, is an error.
    pub fn open(path: &Path) -> Result<Table, Diagnostic> {
        let t = read_text(path)?;
        Table::from_text(path, t)
    }

    pub fn from_text(path: &Path, t: Text) -> Result<Table, Diagnostic> {
        let text = t.text;
        let mut skip = 0;
        let mut skip_lines = 0;
        let mut delimiter = None;
        let first_line = |from: usize| {
            let rest = &text[from..];
            &rest[..rest.find('\n').unwrap_or(rest.len())]
        };
        let first = first_line(0).trim_end_matches('\r');
        if let Some(sep) = first.strip_prefix("sep=") {
            if sep.len() == 1 {
                delimiter = Some(sep.as_bytes()[0]);
                skip = first_line(0).len() + 1;
                skip_lines = 1;
            }
        }
        let skip = skip.min(text.len());
        let header_line = first_line(skip).trim_end_matches('\r');
        if header_line.trim().is_empty() {
            return Err(Diagnostic::error(
                path,
                skip_lines as u32 + 1,
                0,
                "no header line: expected the export's column names on the first line",
            ));
        }
        let delimiter = delimiter.unwrap_or_else(|| sniff(header_line));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(&text.as_bytes()[skip..]);
        let mut record = csv::StringRecord::new();
        match reader.read_record(&mut record) {
            Ok(true) => {}
            _ => {
                return Err(Diagnostic::error(
                    path,
                    skip_lines as u32 + 1,
                    0,
                    "the header line cannot be read as CSV",
                ))
            }
        }
        let headers: Vec<String> = record.iter().map(|h| h.trim().to_string()).collect();
        let keys = headers.iter().map(|h| key(h)).collect();
        Ok(Table {
            file: path.to_path_buf(),
            text,
            encoding: t.encoding,
            replaced: t.replaced,
            delimiter,
            skip,
            skip_lines,
            headers,
            keys,
        })
    }

    /// The index of the first column whose normalized header is one of
    /// `names` (tried in order).
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.keys.iter().position(|k| k == &key(n)))
    }

    /// Whether the header has every one of `names`.
    pub fn has(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.column(&[n]).is_some())
    }

    /// The line a record starts on. After a `\r\n` the reader's position
    /// is still on the line ending of the row before.
    fn line_of(&self, pos: Option<&csv::Position>) -> u64 {
        let Some(pos) = pos else { return 0 };
        let bytes = &self.text.as_bytes()[self.skip..];
        let mut line = pos.line();
        let mut at = pos.byte() as usize;
        while let Some(&b) = bytes.get(at) {
            match b {
                b'\n' => line += 1,
                b'\r' => {}
                _ => break,
            }
            at += 1;
        }
        line
    }

    /// Calls `each` for every row after the header, with the row's first
    /// line, or an error at that line for a row that cannot be read. Blank
    /// lines are skipped.
    pub fn rows(&self, mut each: impl FnMut(Result<Row<'_>, (u64, String)>)) {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(true)
            .flexible(true)
            .from_reader(&self.text.as_bytes()[self.skip..]);
        let mut record = csv::ByteRecord::new();
        let width = self.headers.len();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = self.line_of(record.position()) + self.skip_lines;
                    if record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    if record.len() != width {
                        each(Err((
                            line,
                            format!("the row has {} fields, the header {width}", record.len()),
                        )));
                        continue;
                    }
                    each(Ok(Row {
                        line,
                        record: &record,
                    }));
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line()) + self.skip_lines;
                    each(Err((line, format!("cannot read the row: {e}"))));
                    if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                        break;
                    }
                }
            }
        }
    }
}

/// One row of a [`Table`].
pub struct Row<'r> {
    pub line: u64,
    record: &'r csv::ByteRecord,
}

impl Row<'_> {
    /// The trimmed text of column `i`; empty when the column is absent.
    pub fn get(&self, i: Option<usize>) -> &str {
        i.and_then(|i| self.record.get(i))
            .and_then(|b| std::str::from_utf8(b).ok())
            .map_or("", str::trim)
    }
}

/// Which part of a date with `/` (or `.`) between its parts comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateOrder {
    /// `10/30/2026`: what Microsoft's exports write in the United States.
    MonthFirst,
    /// `30/10/2026`, `30.10.2026`.
    DayFirst,
    /// Only `YYYY-MM-DD`, `YYYY/MM/DD` and `YYYYMMDD`.
    YearFirst,
}

impl DateOrder {
    pub const NAMES: &'static [&'static str] = &["mdy", "dmy", "ymd"];

    pub fn parse(s: &str) -> Option<DateOrder> {
        Some(match s {
            "mdy" => DateOrder::MonthFirst,
            "dmy" => DateOrder::DayFirst,
            "ymd" => DateOrder::YearFirst,
            _ => return None,
        })
    }
}

/// What a date cell holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Nothing (an empty cell, `NULL`, `0`).
    Empty,
    Date(Date),
    /// Text that is no date this reader knows.
    Bad,
}

/// Reads a date as exports write it: `2026-10-30`, `2026-10-30 08:12:44`,
/// `2026-10-30T08:12:44Z`, `20261030`, `2026/10/30`, and, in `order`,
/// `10/30/2026 8:12:44 AM` or `30.10.2026`. The time of day is dropped.
pub fn date(text: &str, order: DateOrder) -> Cell {
    let t = text.trim();
    if t.is_empty() || t == "0" || t.eq_ignore_ascii_case("null") {
        return Cell::Empty;
    }
    let day = t.split([' ', 'T']).next().unwrap_or(t);
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let found = if day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit()) {
        Date::from_ymd(
            num(&day[..4]).unwrap_or(0) as i32,
            num(&day[4..6]).unwrap_or(0),
            num(&day[6..]).unwrap_or(0),
        )
    } else {
        let parts: Vec<&str> = day.split(['-', '/', '.']).collect();
        match parts.as_slice() {
            [y, m, d] if y.len() == 4 => Date::from_ymd(
                num(y).unwrap_or(0) as i32,
                num(m).unwrap_or(0),
                num(d).unwrap_or(0),
            ),
            [a, b, y] if y.len() == 4 => {
                let (a, b, y) = (
                    num(a).unwrap_or(0),
                    num(b).unwrap_or(0),
                    num(y).unwrap_or(0) as i32,
                );
                match order {
                    DateOrder::MonthFirst => Date::from_ymd(y, a, b),
                    DateOrder::DayFirst => Date::from_ymd(y, b, a),
                    DateOrder::YearFirst => None,
                }
            }
            _ => None,
        }
    };
    found.map_or(Cell::Bad, Cell::Date)
}

/// A count cell: digits, perhaps with a thousands separator (`1,000`);
/// `None` for anything else.
pub fn count(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits: String = if t.contains(',') {
        let groups: Vec<&str> = t.split(',').collect();
        let ok = !groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3);
        if !ok {
            return None;
        }
        groups.concat()
    } else {
        t.to_string()
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()
        .filter(|&n| n <= crate::yaml::MAX_COUNT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(bytes: Vec<u8>) -> Table {
        let p = Path::new("t.csv");
        Table::from_text(p, decode(p, bytes).unwrap()).unwrap()
    }

    fn rows(t: &Table) -> Vec<(u64, Vec<String>)> {
        let mut out = Vec::new();
        t.rows(|r| {
            let r = r.unwrap();
            out.push((
                r.line,
                (0..t.headers.len())
                    .map(|i| r.get(Some(i)).to_string())
                    .collect(),
            ));
        });
        out
    }

    #[test]
    fn sniffs_semicolons_and_honours_sep_lines() {
        let t = table(b"a;b,c;d\n1;2,5;3\n".to_vec());
        assert_eq!(t.delimiter, b';');
        assert_eq!(
            rows(&t),
            vec![(2, vec!["1".into(), "2,5".into(), "3".into()])]
        );
        let t = table(b"sep=|\na|b\n1|2\n".to_vec());
        assert_eq!(t.headers, vec!["a", "b"]);
        assert_eq!(rows(&t)[0].0, 3);
    }

    #[test]
    fn decodes_utf16_with_a_mark() {
        let text = "Name,Pub\r\nCafé,Ünï\r\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        for bytes in [le, be] {
            let t = table(bytes);
            assert_eq!(rows(&t)[0].1, vec!["Café", "Ünï"]);
        }
    }

    #[test]
    fn windows_1252_when_not_utf8() {
        let t = decode(Path::new("x"), b"caf\xe9 \x80".to_vec()).unwrap();
        assert_eq!(t.text, "café €");
        assert_eq!(t.encoding, Encoding::Windows1252);
    }

    #[test]
    fn dates_as_exports_write_them() {
        let d = |s| Cell::Date(Date::parse(s).unwrap());
        assert_eq!(date("20261030", DateOrder::YearFirst), d("2026-10-30"));
        assert_eq!(
            date("2026-10-30 08:12:44", DateOrder::YearFirst),
            d("2026-10-30")
        );
        assert_eq!(
            date("10/30/2026 8:12:44 AM", DateOrder::MonthFirst),
            d("2026-10-30")
        );
        assert_eq!(date("30.10.2026", DateOrder::DayFirst), d("2026-10-30"));
        assert_eq!(date("10/30/2026", DateOrder::YearFirst), Cell::Bad);
        assert_eq!(date("", DateOrder::YearFirst), Cell::Empty);
        assert_eq!(date("soon", DateOrder::YearFirst), Cell::Bad);
    }

    #[test]
    fn counts_with_separators() {
        assert_eq!(count("1,000"), Some(1000));
        assert_eq!(count("12"), Some(12));
        assert_eq!(count("1,00"), None);
        assert_eq!(count("-3"), None);
    }
}
