//! Cutting a large snapshot into pieces that parse on their own, so that
//! both cores read it.
//!
//! A snapshot is a mapping of a few sections, each a long list of one-line
//! records. A section written as a block list at the top level,
//!
//! ```yaml
//! installations:
//!   - { device: ws-0001, product: p-01 }
//!   - { device: ws-0002, product: p-01 }
//! ```
//!
//! can be cut before any item at the list's own indentation, and each piece
//! is then a YAML document of its own: a list at that indentation. The rest
//! of the file, with the cut sections' bodies replaced by empty lines (so
//! every line keeps its number), is the *skeleton*.
//!
//! The plan is only ever a guess made from lines. The loader treats it as
//! one: a piece or skeleton that does not read cleanly, or a section not
//! found where the plan put it, sends the whole file down the one-piece path,
//! so what a user sees never depends on where a file was cut. Bodies that
//! hold anchors or aliases (`&`, `*`), tabs in indentation, or lines less
//! indented than their list are never cut.

use std::ops::Range;

/// One top-level section whose body is cut into pieces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// The 1-based line of `name:`.
    pub key_line: u32,
    /// Byte range of the body: every line after the key line up to the next
    /// line that belongs to the top-level mapping.
    pub body: Range<usize>,
    /// Byte ranges that together cover `body`, each with its first line
    /// (while planning: where each item starts).
    pub pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub range: Range<usize>,
    pub first_line: u32,
}

/// The sections of `text` worth cutting: bodies of at least `piece_bytes`,
/// each cut into pieces of about `piece_bytes` (at most `max_pieces`).
pub fn plan(text: &str, piece_bytes: usize, max_pieces: usize) -> Vec<Section> {
    let bytes = text.as_bytes();
    let mut sections = Vec::new();
    let mut open: Option<Open> = None;
    let mut start = 0;
    let mut line = 1u32;
    while start < bytes.len() {
        let end = memchr_newline(bytes, start);
        let content = trim_cr(&bytes[start..end]);
        if let Some(o) = open.as_mut() {
            if o.takes(content, start, line) {
                advance(&mut start, &mut line, end);
                continue;
            }
            let body_end = start;
            if let Some(s) = open.take().and_then(|o| o.close(bytes, body_end)) {
                sections.push(s);
            }
        }
        if let Some(name) = section_key(content) {
            let next = (end + 1).min(bytes.len());
            open = Some(Open::new(name, line, next));
        }
        advance(&mut start, &mut line, end);
    }
    if let Some(s) = open.and_then(|o| o.close(bytes, bytes.len())) {
        sections.push(s);
    }
    for s in &mut sections {
        s.pieces = cut(s, piece_bytes, max_pieces);
    }
    sections.retain(|s| s.pieces.len() > 1);
    sections
}

/// `text` with each section's body replaced by as many empty lines.
pub fn skeleton(text: &str, sections: &[Section]) -> String {
    let mut out =
        String::with_capacity(text.len() - sections.iter().map(|s| s.body.len()).sum::<usize>());
    let mut at = 0;
    for s in sections {
        out.push_str(&text[at..s.body.start]);
        let lines = text[s.body.clone()].bytes().filter(|&b| b == b'\n').count();
        out.extend(std::iter::repeat_n('\n', lines));
        at = s.body.end;
    }
    out.push_str(&text[at..]);
    out
}

fn advance(start: &mut usize, line: &mut u32, end: usize) {
    *start = end + 1;
    *line += 1;
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| from + i)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `name:` alone on a line at column 0 (a comment may follow).
fn section_key(line: &[u8]) -> Option<String> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, rest) = (&line[..colon], &line[colon + 1..]);
    let first = *name.first()?;
    let plain = (first.is_ascii_alphabetic() || first == b'_')
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_');
    let rest = trim_spaces(rest);
    (plain && (rest.is_empty() || rest[0] == b'#'))
        .then(|| String::from_utf8_lossy(name).into_owned())
}

fn trim_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

/// `-` followed by a space or the end of the line.
fn is_item(s: &[u8]) -> bool {
    s.first() == Some(&b'-') && matches!(s.get(1), None | Some(b' '))
}

/// A section being read line by line.
struct Open {
    name: String,
    key_line: u32,
    body_start: usize,
    /// The list's indentation, once its first item is seen.
    indent: Option<usize>,
    /// Lines where an item starts at the list's indentation.
    items: Vec<Piece>,
    cuttable: bool,
}

impl Open {
    fn new(name: String, key_line: u32, body_start: usize) -> Open {
        Open {
            name,
            key_line,
            body_start,
            indent: None,
            items: Vec::new(),
            cuttable: true,
        }
    }

    /// Takes a line into the body; false when the line ends the body.
    fn takes(&mut self, line: &[u8], start: usize, number: u32) -> bool {
        let spaces = line.iter().take_while(|&&b| b == b' ').count();
        let rest = &line[spaces..];
        if rest.is_empty() || rest[0] == b'#' {
            return true;
        }
        if spaces == 0 {
            // Column 0: an item of a list written flush with its key, or the
            // top-level mapping again (a key, `---`, `...`).
            if !(is_item(rest) && matches!(self.indent, None | Some(0))) {
                return false;
            }
        }
        if rest[0] == b'\t' {
            self.cuttable = false;
            return true;
        }
        match self.indent {
            None if is_item(rest) => {
                self.indent = Some(spaces);
                self.items.push(Piece {
                    range: start..start,
                    first_line: number,
                });
            }
            None => self.cuttable = false,
            Some(k) if spaces < k => self.cuttable = false,
            Some(k) if spaces == k => {
                if is_item(rest) {
                    self.items.push(Piece {
                        range: start..start,
                        first_line: number,
                    });
                } else {
                    self.cuttable = false;
                }
            }
            Some(_) => {}
        }
        true
    }

    fn close(self, bytes: &[u8], body_end: usize) -> Option<Section> {
        let body = self.body_start..body_end.max(self.body_start);
        let aliased = bytes[body.clone()].iter().any(|&b| b == b'&' || b == b'*');
        if !self.cuttable || self.items.is_empty() || aliased {
            return None;
        }
        Some(Section {
            name: self.name,
            key_line: self.key_line,
            body,
            pieces: self.items,
        })
    }
}

/// Chooses cut points among the item starts so that pieces hold about
/// `piece_bytes` each (fewer, larger pieces when there would be more than
/// `max_pieces`). The first piece starts with the body, on the line after
/// the key, and may open with comments.
fn cut(section: &Section, piece_bytes: usize, max_pieces: usize) -> Vec<Piece> {
    let body = &section.body;
    let target = piece_bytes.max(body.len() / max_pieces.max(1) + 1);
    let mut pieces = vec![Piece {
        range: body.clone(),
        first_line: section.key_line + 1,
    }];
    for item in &section.pieces {
        let last = pieces.last_mut().expect("one piece at least");
        if item.range.start - last.range.start >= target {
            last.range.end = item.range.start;
            pieces.push(Piece {
                range: item.range.start..body.end,
                first_line: item.first_line,
            });
        }
    }
    pieces
}
