//! A YAML reader that keeps every node's line and column.
//!
//! trueup reads YAML through `granit-parser`'s event stream rather than a
//! serde layer: every record keeps the line it came from (errors, SARIF and
//! annotations need it), the loaders can report every mistake in a file
//! instead of stopping at the first, and a snapshot is read one record at a
//! time, so a million installations never exist as a generic value tree.
//!
//! It must never panic or hang on hostile input: nesting is capped, aliases
//! are expanded against a budget of nodes and of bytes (no "billion
//! laughs", nor one long scalar copied a hundred thousand times), a file
//! read whole as a tree has a budget of nodes, and a file holds one
//! document.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use granit_parser::{Event, Parser, ScalarStyle, Span, StrInput};

use crate::date::Date;
use crate::diag::Diagnostic;

/// Deeper nesting than this is refused; no trueup file needs more than six.
pub const MAX_DEPTH: usize = 64;
/// The largest whole number any count field holds (quantities, cores,
/// sockets, usage figures, scenario counts): a trillion, far beyond any real
/// estate, and small enough that sums of millions of them never overflow.
pub const MAX_COUNT: u64 = 1_000_000_000_000;
/// Nodes that aliases may copy in one file, in total.
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Bytes of scalar text that aliases may copy in one file, in total: one
/// alias of a long scalar copies all of it, so nodes alone do not bound it.
pub const MAX_ALIAS_BYTES: usize = 16 << 20;
/// Nodes in a file read whole as one tree (waivers, test cases, scenarios);
/// a snapshot is read one record at a time and has no such limit.
pub const MAX_DOCUMENT_NODES: usize = 1_000_000;

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// One YAML node with its position.
#[derive(Clone, Debug)]
pub struct Node<'a> {
    pub value: Value<'a>,
    pub pos: Pos,
}

/// What a node holds.
#[derive(Clone, Debug)]
pub enum Value<'a> {
    /// A scalar's text; `plain` when written unquoted and untagged, the only
    /// form in which `null`, `true` or `12` mean anything but text.
    Scalar {
        text: Cow<'a, str>,
        plain: bool,
    },
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// True for `~`, `null`, an empty value and their spellings.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The text of a non-null scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// How this node reads to a user, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.value {
            _ if self.is_null() => "nothing".into(),
            Value::Scalar { text, .. } => format!("`{}`", shorten(text)),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }

    /// Nodes and bytes of scalar text, this node's and all below it.
    fn size(&self) -> (usize, usize) {
        let add = |(n, b): (usize, usize), (m, c): (usize, usize)| (n + m, b + c);
        match &self.value {
            Value::Scalar { text, .. } => (1, text.len()),
            Value::Seq(items) => items.iter().map(Node::size).fold((1, 0), add),
            Value::Map(pairs) => pairs
                .iter()
                .map(|(k, v)| add(k.size(), v.size()))
                .fold((1, 0), add),
        }
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Reads a whole file's text, refusing what cannot be YAML text, through
/// [`crate::fsutil::read_bounded`]: never more than `max_bytes`, whatever the
/// file is, and stopping at the first byte that is not text (invalid UTF-8,
/// or a NUL or other control character YAML does not allow), so that
/// `/dev/zero` or `/dev/urandom` is refused at once.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, Diagnostic> {
    use crate::fsutil::{read_bounded, ReadError};
    // Bytes known to be text, and where the first that is not text is.
    let mut checked = 0;
    let mut bad: Option<(usize, NotText)> = None;
    let result = read_bounded(path, max_bytes, |bytes| {
        match scan_text(&bytes[checked..]) {
            Ok(n) => checked += n,
            Err((at, why)) => bad = Some((checked + at, why)),
        }
        bad.is_none()
    });
    match result {
        Ok(bytes) => match bad {
            // Text throughout, unless it ends in the middle of a character.
            None if checked == bytes.len() => {
                Ok(String::from_utf8(bytes).expect("checked as UTF-8 text"))
            }
            _ => Err(not_text(path, &bytes[..checked], NotText::Utf8)),
        },
        Err(ReadError::Refused(bytes)) => {
            let (at, why) = bad.expect("refused only at a byte that is not text");
            Err(not_text(path, &bytes[..at], why))
        }
        Err(ReadError::Io(e)) => Err(io_error(path, &e)),
        Err(ReadError::IsDirectory) => {
            Err(Diagnostic::error(path, 0, 0, "is a directory, not a file"))
        }
        Err(ReadError::TooLarge { size }) => {
            let size = size.map_or_else(String::new, |s| format!("{} MiB; ", s >> 20));
            Err(Diagnostic::error(
                path,
                0,
                0,
                format!(
                    "file is too large ({size}the limit is {} MiB)",
                    max_bytes >> 20
                ),
            ))
        }
    }
}

/// Why bytes are not YAML text.
#[derive(Clone, Copy)]
enum NotText {
    Utf8,
    Control,
}

/// How many bytes at the start of `bytes` are text (a character cut off at
/// the end is left for the next chunk), or where the first that is not is.
fn scan_text(bytes: &[u8]) -> Result<usize, (usize, NotText)> {
    let (valid, invalid) = match std::str::from_utf8(bytes) {
        Ok(s) => (s.len(), false),
        Err(e) => (e.valid_up_to(), e.error_len().is_some()),
    };
    // YAML allows no C0 control character but tab, line feed and carriage
    // return; `/dev/zero` is nothing but NULs.
    let control = bytes[..valid]
        .iter()
        .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'));
    match (control, invalid) {
        (Some(at), _) => Err((at, NotText::Control)),
        (None, true) => Err((valid, NotText::Utf8)),
        (None, false) => Ok(valid),
    }
}

/// The error for bytes that are not text right after `good`.
fn not_text(path: &Path, good: &[u8], why: NotText) -> Diagnostic {
    let line = good.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let col =
        std::str::from_utf8(&good[good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)..])
            .map_or(0, |s| s.chars().count() as u32 + 1);
    let message = match why {
        NotText::Utf8 => "file is not valid UTF-8 text",
        NotText::Control => "file is not text: it holds a control character (such as NUL)",
    };
    Diagnostic::error(path, line, col, message)
}

fn io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => format!("cannot read: {e}"),
    };
    Diagnostic::error(path, 0, 0, what)
}

fn pos_of(span: &Span, line_offset: u32) -> Pos {
    Pos {
        line: span.start.line() as u32 + line_offset,
        col: span.start.col() as u32 + 1,
    }
}

/// A pull reader over one YAML document.
pub struct Reader<'a, 'p> {
    file: &'p Path,
    parser: Parser<'a, StrInput<'a>>,
    peeked: Option<(Event<'a>, Span)>,
    anchors: HashMap<usize, Node<'a>>,
    alias_nodes: usize,
    alias_bytes: usize,
    /// Nodes read so far, and how many may be.
    nodes: usize,
    max_nodes: usize,
    started: bool,
    /// Lines before `text` in its file, when `text` is a piece of it.
    line_offset: u32,
}

impl<'a, 'p> Reader<'a, 'p> {
    pub fn new(file: &'p Path, text: &'a str) -> Self {
        Self::at_line(file, text, 1)
    }

    /// A reader over a piece of a file that starts at the beginning of line
    /// `first_line`: positions are the file's, not the piece's.
    pub fn at_line(file: &'p Path, text: &'a str, first_line: u32) -> Self {
        Reader {
            file,
            parser: Parser::new_from_str(text),
            peeked: None,
            anchors: HashMap::new(),
            alias_nodes: 0,
            alias_bytes: 0,
            nodes: 0,
            max_nodes: usize::MAX,
            started: false,
            line_offset: first_line.saturating_sub(1),
        }
    }

    fn pos_of(&self, span: &Span) -> Pos {
        pos_of(span, self.line_offset)
    }

    /// An error at `pos` in this reader's file.
    pub fn error(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.file, pos.line, pos.col, message)
    }

    fn raw_next(&mut self) -> Result<(Event<'a>, Span), Diagnostic> {
        if let Some(e) = self.peeked.take() {
            return Ok(e);
        }
        match self.parser.next() {
            Some(Ok(e)) => Ok(e),
            Some(Err(e)) => {
                let m = e.marker();
                let info = e.info();
                let message = if info.contains("recursion limit") {
                    format!("nesting is too deep (trueup reads at most {MAX_DEPTH} levels)")
                } else {
                    format!("invalid YAML: {info}")
                };
                Err(Diagnostic::error(
                    self.file,
                    m.line() as u32 + self.line_offset,
                    m.col() as u32 + 1,
                    message,
                ))
            }
            None => Ok((
                Event::StreamEnd,
                Span::empty(granit_parser::Marker::new(0, 1, 0)),
            )),
        }
    }

    /// The next node event, past stream and document markers.
    fn next_event(&mut self) -> Result<(Event<'a>, Span), Diagnostic> {
        loop {
            let (ev, span) = self.raw_next()?;
            match ev {
                Event::StreamStart | Event::Anchor(..) => continue,
                Event::DocumentStart(..) if !self.started => {
                    self.started = true;
                    continue;
                }
                Event::DocumentStart(..) => {
                    return Err(self.error(
                        self.pos_of(&span),
                        "a file holds one YAML document; found a second `---`",
                    ));
                }
                _ => return Ok((ev, span)),
            }
        }
    }

    fn peek(&mut self) -> Result<&(Event<'a>, Span), Diagnostic> {
        if self.peeked.is_none() {
            let e = self.next_event()?;
            self.peeked = Some(e);
        }
        Ok(self.peeked.as_ref().expect("peeked was just filled"))
    }

    /// Reads the whole document as a node tree; `None` for an empty file.
    pub fn document(mut self) -> Result<Option<Node<'a>>, Diagnostic> {
        let (ev, span) = self.next_event()?;
        if matches!(ev, Event::StreamEnd | Event::DocumentEnd) {
            return Ok(None);
        }
        let node = self.node(ev, span, 0)?;
        self.finish()?;
        Ok(Some(node))
    }

    /// Checks nothing follows the document.
    pub fn finish(&mut self) -> Result<(), Diagnostic> {
        loop {
            let (ev, span) = self.next_event()?;
            match ev {
                Event::DocumentEnd => continue,
                Event::StreamEnd => return Ok(()),
                _ => {
                    return Err(
                        self.error(self.pos_of(&span), "unexpected content after the document")
                    )
                }
            }
        }
    }

    /// Starts reading a document whose top level is a mapping, key by key.
    /// Returns `None` for an empty document.
    pub fn begin_map(&mut self) -> Result<Option<Pos>, Diagnostic> {
        let (ev, span) = self.next_event()?;
        match ev {
            Event::StreamEnd | Event::DocumentEnd => Ok(None),
            Event::MappingStart(..) => Ok(Some(self.pos_of(&span))),
            other => {
                let node = self.node(other, span, 0)?;
                // `---` and nothing after it is an empty document too.
                if node.is_null() {
                    self.finish()?;
                    return Ok(None);
                }
                Err(self.error(
                    node.pos,
                    format!(
                        "expected a mapping at the top of the file, found {}",
                        node.describe()
                    ),
                ))
            }
        }
    }

    /// The next key of the mapping begun with [`Reader::begin_map`], or `None` at its end.
    pub fn next_key(&mut self) -> Result<Option<Node<'a>>, Diagnostic> {
        let (ev, span) = self.next_event()?;
        if matches!(ev, Event::MappingEnd) {
            return Ok(None);
        }
        self.node(ev, span, 1).map(Some)
    }

    /// If the next value is a list, consumes its start and returns its position;
    /// then call [`Reader::next_item`] until it returns `None`.
    pub fn begin_seq(&mut self) -> Result<Option<Pos>, Diagnostic> {
        let offset = self.line_offset;
        let (ev, span) = self.peek()?;
        // An anchored list is read whole, so that aliases can copy it.
        if matches!(ev, Event::SequenceStart(_, 0, _)) {
            let pos = pos_of(span, offset);
            self.peeked = None;
            Ok(Some(pos))
        } else {
            Ok(None)
        }
    }

    /// The next item of the list begun with [`Reader::begin_seq`], or `None` at its end.
    pub fn next_item(&mut self) -> Result<Option<Node<'a>>, Diagnostic> {
        let (ev, span) = self.next_event()?;
        if matches!(ev, Event::SequenceEnd) {
            return Ok(None);
        }
        self.node(ev, span, 2).map(Some)
    }

    /// Reads the next whole node at the given depth.
    pub fn value(&mut self, depth: usize) -> Result<Node<'a>, Diagnostic> {
        let (ev, span) = self.next_event()?;
        self.node(ev, span, depth)
    }

    fn node(&mut self, ev: Event<'a>, span: Span, depth: usize) -> Result<Node<'a>, Diagnostic> {
        let pos = self.pos_of(&span);
        if depth > MAX_DEPTH {
            return Err(self.error(pos, format!("nesting is deeper than {MAX_DEPTH} levels")));
        }
        self.nodes += 1;
        if self.nodes > self.max_nodes {
            return Err(self.error(
                pos,
                format!(
                    "the file has more than {} YAML values; trueup reads at most that many in one file of this kind",
                    self.max_nodes
                ),
            ));
        }
        let (value, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain && tag.is_none();
                (Value::Scalar { text, plain }, anchor)
            }
            Event::SequenceStart(_, anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next_event()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span, depth + 1)?);
                }
                (Value::Seq(items), anchor)
            }
            Event::MappingStart(_, anchor, _) => {
                let mut pairs = Vec::new();
                loop {
                    let (ev, span) = self.next_event()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(ev, span, depth + 1)?;
                    let value = self.value(depth + 1)?;
                    pairs.push((key, value));
                }
                (Value::Map(pairs), anchor)
            }
            Event::Alias(id) => return self.alias(id, pos),
            Event::UnresolvedAlias(name) => {
                return Err(self.error(
                    pos,
                    format!("alias `*{name}` names no anchor defined before it"),
                ))
            }
            Event::StreamEnd | Event::DocumentEnd => {
                return Err(self.error(pos, "the file ends in the middle of a value"))
            }
            _ => return Err(self.error(pos, "unexpected YAML structure")),
        };
        let node = Node { value, pos };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn alias(&mut self, id: usize, pos: Pos) -> Result<Node<'a>, Diagnostic> {
        let Some(target) = self.anchors.get(&id) else {
            return Err(self.error(pos, "alias names no anchor defined before it"));
        };
        let (nodes, bytes) = target.size();
        self.alias_nodes += nodes;
        self.alias_bytes += bytes;
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(self.error(
                pos,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes; refusing a possible alias bomb"),
            ));
        }
        if self.alias_bytes > MAX_ALIAS_BYTES {
            return Err(self.error(
                pos,
                format!(
                    "aliases expand to more than {} MiB of text; refusing a possible alias bomb",
                    MAX_ALIAS_BYTES >> 20
                ),
            ));
        }
        let mut node = target.clone();
        node.pos = pos;
        Ok(node)
    }
}

/// Reads one small YAML file (waivers, test cases, scenarios) as a node tree.
/// At most [`MAX_DOCUMENT_NODES`] values are read.
pub fn parse_document<'a>(file: &Path, text: &'a str) -> Result<Option<Node<'a>>, Diagnostic> {
    let mut reader = Reader::new(file, text);
    reader.max_nodes = MAX_DOCUMENT_NODES;
    reader.document()
}

/// Typed reading of mappings into records, collecting every problem.
///
/// Loaders call [`Fields::of`] on a mapping node with the keys a record may
/// have; it reports unknown and duplicate keys, then hands out the values by
/// name with typed accessors that report wrong types and missing fields.
pub struct Fields<'n, 'a> {
    pos: Pos,
    what: &'static str,
    names: &'static [&'static str],
    slots: Vec<Option<&'n Node<'a>>>,
}

/// Where diagnostics go while a file is read. Past the first
/// [`crate::diag::PER_FILE`] errors it only counts them (one summary
/// diagnostic in `diags`), so memory stays bounded however bad the file.
pub struct Sink<'p> {
    pub file: &'p Path,
    pub diags: Vec<Diagnostic>,
    kept: usize,
}

impl<'p> Sink<'p> {
    pub fn new(file: &'p Path) -> Self {
        Sink {
            file,
            diags: Vec::new(),
            kept: 0,
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let d = Diagnostic::error(self.file, pos.line, pos.col, message);
        crate::diag::push_bounded(&mut self.diags, &mut self.kept, d);
    }
}

impl<'n, 'a> Fields<'n, 'a> {
    /// Splits a mapping into the allowed fields; `None` when it is not a mapping.
    pub fn of(
        node: &'n Node<'a>,
        what: &'static str,
        names: &'static [&'static str],
        sink: &mut Sink,
    ) -> Option<Self> {
        let Value::Map(pairs) = &node.value else {
            sink.error(
                node.pos,
                format!("expected {what} as a mapping, found {}", node.describe()),
            );
            return None;
        };
        let mut slots = vec![None; names.len()];
        for (key, value) in pairs {
            let Some(name) = key.as_str() else {
                sink.error(
                    key.pos,
                    format!("expected a field name in {what}, found {}", key.describe()),
                );
                continue;
            };
            match names.iter().position(|n| *n == name) {
                Some(i) if slots[i].is_some() => {
                    sink.error(key.pos, format!("duplicate field `{name}` in {what}"))
                }
                Some(i) => slots[i] = Some(value),
                None => sink.error(
                    key.pos,
                    format!(
                        "unknown field `{name}` in {what}; expected one of: {}",
                        names.join(", ")
                    ),
                ),
            }
        }
        Some(Fields {
            pos: node.pos,
            what,
            names,
            slots,
        })
    }

    /// Where the record starts.
    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// The raw node of a field, if present and not null.
    pub fn get(&self, name: &str) -> Option<&'n Node<'a>> {
        let i = self
            .names
            .iter()
            .position(|n| *n == name)
            .expect("field names are static");
        self.slots[i].filter(|n| !n.is_null())
    }

    /// A required field's node; reports it missing otherwise.
    pub fn require(&self, name: &str, sink: &mut Sink) -> Option<&'n Node<'a>> {
        let node = self.get(name);
        if node.is_none() {
            sink.error(
                self.pos,
                format!("{} is missing required field `{name}`", self.what),
            );
        }
        node
    }

    /// An optional text field.
    pub fn str(&self, name: &str, sink: &mut Sink) -> Option<&'n str> {
        let node = self.get(name)?;
        let s = node.as_str();
        if s.is_none() {
            sink.error(
                node.pos,
                format!("field `{name}` must be text, found {}", node.describe()),
            );
        }
        s
    }

    /// A required text field.
    pub fn req_str(&self, name: &str, sink: &mut Sink) -> Option<&'n str> {
        self.require(name, sink)?;
        self.str(name, sink)
    }

    /// An optional `YYYY-MM-DD` date field.
    pub fn date(&self, name: &str, sink: &mut Sink) -> Option<Date> {
        let node = self.get(name)?;
        let d = node.as_str().and_then(Date::parse);
        if d.is_none() {
            sink.error(
                node.pos,
                format!(
                    "field `{name}` must be a date (YYYY-MM-DD), found {}",
                    node.describe()
                ),
            );
        }
        d
    }

    /// A required date field.
    pub fn req_date(&self, name: &str, sink: &mut Sink) -> Option<Date> {
        self.require(name, sink)?;
        self.date(name, sink)
    }

    /// An optional whole number from 0 to [`MAX_COUNT`], written with or
    /// without quotes (`12`, `"12"`): as for dates, quoting does not change
    /// what a field means.
    pub fn count(&self, name: &str, sink: &mut Sink) -> Option<u64> {
        let node = self.get(name)?;
        let text = node.as_str().unwrap_or("");
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            sink.error(
                node.pos,
                format!(
                    "field `{name}` must be a whole number, found {}",
                    node.describe()
                ),
            );
            return None;
        }
        let zero = digits.bytes().all(|b| b == b'0');
        if negative && !zero {
            sink.error(
                node.pos,
                format!("field `{name}` must not be negative, found `{text}`"),
            );
            return None;
        }
        match digits.parse::<u64>() {
            Ok(n) if n <= MAX_COUNT => Some(n),
            _ => {
                sink.error(
                    node.pos,
                    format!(
                        "field `{name}` must be at most {MAX_COUNT} (trueup's limit for any count), found {}",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// A required whole number.
    pub fn req_count(&self, name: &str, sink: &mut Sink) -> Option<u64> {
        self.require(name, sink)?;
        self.count(name, sink)
    }

    /// An optional `true`/`false`, written with or without quotes.
    pub fn bool(&self, name: &str, sink: &mut Sink) -> Option<bool> {
        let node = self.get(name)?;
        match node.as_str() {
            Some("true" | "True" | "TRUE") => Some(true),
            Some("false" | "False" | "FALSE") => Some(false),
            _ => {
                sink.error(
                    node.pos,
                    format!(
                        "field `{name}` must be true or false, found {}",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// An optional field whose text must be one of `choices`.
    pub fn choice(
        &self,
        name: &str,
        choices: &[&'static str],
        sink: &mut Sink,
    ) -> Option<&'static str> {
        let node = self.get(name)?;
        let found = node
            .as_str()
            .and_then(|s| choices.iter().find(|c| **c == s).copied());
        if found.is_none() {
            sink.error(
                node.pos,
                format!(
                    "field `{name}` must be one of {}, found {}",
                    choices.join(", "),
                    node.describe()
                ),
            );
        }
        found
    }

    /// An optional list of text.
    pub fn str_list(&self, name: &str, sink: &mut Sink) -> Vec<&'n str> {
        self.str_items(name, sink)
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    }

    /// [`Fields::str_list`], with where each item is written.
    pub fn str_items(&self, name: &str, sink: &mut Sink) -> Vec<(&'n str, Pos)> {
        let Some(node) = self.get(name) else {
            return Vec::new();
        };
        let Value::Seq(items) = &node.value else {
            sink.error(
                node.pos,
                format!("field `{name}` must be a list, found {}", node.describe()),
            );
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| {
                let s = item.as_str();
                if s.is_none() {
                    sink.error(
                        item.pos,
                        format!("items of `{name}` must be text, found {}", item.describe()),
                    );
                }
                s.map(|s| (s, item.pos))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Node<'_>>, Diagnostic> {
        parse_document(Path::new("t.yaml"), text)
    }

    #[test]
    fn keeps_positions() {
        let node = parse("a: 1\nb:\n  - x\n  - { c: d }\n").unwrap().unwrap();
        let Value::Map(pairs) = &node.value else {
            panic!("not a map")
        };
        assert_eq!(pairs[1].0.pos, Pos { line: 2, col: 1 });
        let Value::Seq(items) = &pairs[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[1].pos.line, 4);
    }

    #[test]
    fn refuses_alias_bombs() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='k' {
            text.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{}", err.message);
    }

    /// A document whose aliases copy `copies` times a double-quoted
    /// (owned) scalar of `len` bytes.
    fn aliased_scalar(len: usize, copies: usize) -> String {
        let mut text = format!("a: &big \"{}\\t\"\nb: [", "x".repeat(len - 1));
        text.push_str(&vec!["*big"; copies].join(", "));
        text.push_str("]\n");
        text
    }

    // Regression: the alias budget counted nodes only, so a hundred
    // thousand aliases of one long scalar copied gigabytes of text.
    #[test]
    fn alias_copies_of_text_are_capped_in_bytes() {
        let len = 1 << 20;
        let fits = MAX_ALIAS_BYTES / len;
        let text = aliased_scalar(len, fits);
        let node = parse(&text).unwrap().unwrap();
        let Value::Map(pairs) = &node.value else {
            panic!("not a map")
        };
        let Value::Seq(copies) = &pairs[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(copies.len(), fits);
        assert_eq!(copies[0].as_str().map(str::len), Some(len));
        let err = parse(&aliased_scalar(len, fits + 1)).unwrap_err();
        assert!(err.message.contains("MiB of text"), "{}", err.message);
        assert_eq!(err.line, 2);
    }

    #[test]
    fn a_document_read_whole_has_a_node_budget() {
        // A list of n scalars under a key is n + 3 nodes: the mapping, the
        // key, the list and its items.
        let list = |n: usize| format!("a: [{}]\n", vec!["x"; n].join(","));
        assert!(parse(&list(MAX_DOCUMENT_NODES - 3)).is_ok());
        let err = parse(&list(MAX_DOCUMENT_NODES - 2)).unwrap_err();
        assert!(err.message.contains("YAML values"), "{}", err.message);
    }

    #[test]
    fn refuses_deep_nesting() {
        let text = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("nesting"), "{}", err.message);
    }

    #[test]
    fn empty_is_none() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("# only a comment\n").unwrap().is_none());
    }

    #[test]
    fn refuses_second_document() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
