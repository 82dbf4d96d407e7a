//! Reading a snapshot in pieces on every core must give exactly what reading
//! it in one piece gives: the same records, the same symbols, the same
//! diagnostics at the same lines. Each case below changes a generated
//! snapshot in a way that could trip the cutting, and compares both reads.

use std::path::Path;

use trueup::diag::Diagnostics;
use trueup::generate::{write_snapshot, Params};
use trueup::inventory::load::parse_in_pieces;
use trueup::inventory::Snapshot;

/// Small enough that every list section is cut into many pieces.
const SMALL_PIECES: usize = 2_000;

fn generated() -> String {
    let mut out = Vec::new();
    write_snapshot(
        &mut out,
        Params {
            installations: 3_000,
            seed: 7,
            publisher_metrics: true,
        },
    )
    .expect("generates");
    String::from_utf8(out).expect("UTF-8")
}

fn render(result: Result<Snapshot, Diagnostics>) -> String {
    match result {
        Ok(s) => format!(
            "{} {:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            s.sha256,
            s.meta,
            s.products,
            s.contracts,
            s.entitlements,
            s.devices,
            s.users,
            s.installations,
            s.usage,
            s.strings.iter().collect::<Vec<_>>()
        ),
        Err(d) => format!("errors:\n{d}"),
    }
}

/// Reads `text` both ways; returns the one-piece result and how many
/// pieces the parallel read used, after checking both agree.
fn agree(what: &str, text: &str) -> (String, usize) {
    let path = Path::new("snapshot.yaml");
    let (whole, none) = parse_in_pieces(path, text, usize::MAX);
    assert_eq!(none, 0, "{what}: one piece means no cutting");
    let whole = render(whole);
    let (parts, pieces) = parse_in_pieces(path, text, SMALL_PIECES);
    let parts = render(parts);
    if whole != parts {
        let at = whole
            .bytes()
            .zip(parts.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(whole.len().min(parts.len()));
        panic!(
            "{what}: reading in {pieces} pieces differs from one piece near:\n one piece: {}\n in pieces: {}",
            &whole[at.saturating_sub(80)..(at + 200).min(whole.len())],
            &parts[at.saturating_sub(80)..(at + 200).min(parts.len())]
        );
    }
    (whole, pieces)
}

/// Applies `f` to every `every`-th line that starts with `prefix`.
fn edit_lines(text: &str, prefix: &str, every: usize, f: impl Fn(&str) -> String) -> String {
    let mut n = 0;
    let mut out = String::with_capacity(text.len() + 1024);
    for line in text.split_inclusive('\n') {
        if line.starts_with(prefix) {
            n += 1;
            if n % every == 0 {
                out.push_str(&f(line));
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

/// Both reads agree, the snapshot is valid, and it was read in many pieces.
fn clean_in_pieces(what: &str, text: &str) {
    let (out, pieces) = agree(what, text);
    assert!(!out.starts_with("errors"), "{what}: {}", head(&out));
    assert!(pieces > 10, "{what}: expected many pieces, got {pieces}");
}

fn head(out: &str) -> &str {
    &out[..out.len().min(600)]
}

const INSTALL: &str = "  - { device: ";

#[test]
fn a_clean_snapshot_reads_the_same_in_pieces() {
    clean_in_pieces("clean", &generated());
}

#[test]
fn field_errors_in_many_pieces_are_reported_at_the_same_lines() {
    let text = edit_lines(&generated(), INSTALL, 397, |l| {
        l.replace("discovered_by", "discoverd_by")
            .replace("installed_on: 2026-", "installed_on: 2026-13-")
    });
    let (out, pieces) = agree("field errors", &text);
    assert!(
        out.contains("unknown field `discoverd_by`"),
        "{}",
        head(&out)
    );
    assert!(pieces > 10, "field errors do not stop the parallel read");
}

#[test]
fn duplicate_ids_across_pieces_name_the_first_line() {
    let text = generated();
    let first = text
        .lines()
        .find(|l| l.starts_with("  - { id: ws-"))
        .expect("a device line")
        .to_string();
    let text = edit_lines(&text, "  - { id: ws-", 101, |_| format!("{first}\n"));
    let (out, pieces) = agree("duplicate devices", &text);
    assert!(out.contains("duplicate device id"), "{}", head(&out));
    assert!(pieces > 10);
}

#[test]
fn a_syntax_error_in_one_piece_is_reported_as_in_one_piece() {
    let text = edit_lines(&generated(), INSTALL, 1_500, |l| l.replacen(" }", "", 1));
    let (out, pieces) = agree("unclosed mapping", &text);
    assert!(out.contains("invalid YAML"), "{}", head(&out));
    assert_eq!(
        pieces, 0,
        "a piece that does not parse sends the file down one path"
    );
}

#[test]
fn a_file_cut_off_mid_record_reads_the_same() {
    let text = generated();
    let mid = text.len() * 2 / 3;
    let cut = &text[..mid - 7];
    agree("truncated", cut);
}

#[test]
fn anchors_and_aliases_keep_their_section_whole() {
    let text = generated().replacen("  - { device: ", "  - &first { device: ", 1);
    let text = edit_lines(&text, INSTALL, 1_000, |l| format!("{l}  - *first\n"));
    let (out, _) = agree("aliases", &text);
    assert!(!out.starts_with("errors"), "{}", head(&out));
}

#[test]
fn windows_line_endings_read_the_same() {
    let text = generated().replace('\n', "\r\n");
    clean_in_pieces("CRLF", &text);
}

#[test]
fn lists_flush_with_their_key_read_the_same() {
    let text = edit_lines(&generated(), "  - { ", 1, |l| l.replacen("  - ", "- ", 1));
    clean_in_pieces("indent 0", &text);
}

#[test]
fn comments_blank_lines_and_a_commented_key_read_the_same() {
    let text = generated().replace(
        "installations:\n",
        "installations:   # every one\n\n# first\n",
    );
    let text = edit_lines(&text, INSTALL, 50, |l| {
        format!("{l}\n# a note at column 0\n    # an indented note\n")
    });
    clean_in_pieces("comments", &text);
}

#[test]
fn block_style_records_read_the_same() {
    let text = edit_lines(&generated(), INSTALL, 1, |l| {
        let inner = l
            .trim_end()
            .trim_start_matches("  - { ")
            .trim_end_matches(" }");
        let mut out = String::new();
        for (i, field) in inner.split(", ").enumerate() {
            out.push_str(if i == 0 { "  - " } else { "    " });
            out.push_str(field);
            out.push('\n');
        }
        out
    });
    clean_in_pieces("block records", &text);
}

#[test]
fn a_quoted_scalar_continued_on_an_item_like_line_reads_the_same() {
    let text = edit_lines(&generated(), INSTALL, 900, |l| {
        l.replacen("version: \"", "version: \"multi\n  - line ", 1)
    });
    agree("multi-line scalar", &text);
}

#[test]
fn odd_indentation_reads_the_same() {
    let tab = edit_lines(&generated(), INSTALL, 800, |l| {
        l.replacen("  - ", "\t- ", 1)
    });
    agree("tab", &tab);
    let shallow = edit_lines(&generated(), INSTALL, 800, |l| l.replacen("  - ", " - ", 1));
    agree("shallow", &shallow);
    let flush = edit_lines(&generated(), INSTALL, 800, |l| l.replacen("  - ", "- ", 1));
    agree("flush item in an indented list", &flush);
    let key = edit_lines(&generated(), INSTALL, 800, |l| format!("{l}stray: 1\n"));
    agree("a top-level key inside a list", &key);
    let marker = edit_lines(&generated(), INSTALL, 800, |l| format!("{l}---\n"));
    agree("a document marker inside a list", &marker);
}

#[test]
fn a_section_given_twice_reads_the_same() {
    let text = generated();
    let start = text.find("installations:\n").expect("installations");
    let again = format!(
        "{text}{}",
        &text[start..start + 5_000].rsplit_once('\n').unwrap().0
    );
    let (out, _) = agree("duplicate section", &format!("{again}\n"));
    assert!(
        out.contains("duplicate section `installations`"),
        "{}",
        head(&out)
    );
}
