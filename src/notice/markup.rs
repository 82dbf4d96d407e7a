//! A rendered notice's Markdown as HTML or as plain text.
//!
//! The HTML is one self-contained page: no script, no external asset, no
//! link or image from the text, and any raw HTML in the Markdown shown as
//! text rather than passed through.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

fn parser(markdown: &str) -> Parser<'_> {
    Parser::new_ext(markdown, Options::ENABLE_TABLES)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:48em;margin:2em auto;padding:0 1em;line-height:1.45;color:#111}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #999;padding:.25em .6em;text-align:left}\
code{font-size:.95em}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}";

/// A whole HTML page titled `title`.
pub fn to_html(markdown: &str, title: &str) -> String {
    let events = parser(markdown).filter_map(|e| match e {
        // Raw HTML in the text is shown, not obeyed.
        Event::Html(s) | Event::InlineHtml(s) => Some(Event::Text(s)),
        Event::Start(Tag::Link { .. } | Tag::Image { .. })
        | Event::End(TagEnd::Link | TagEnd::Image) => None,
        e => Some(e),
    });
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, events);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        crate::report::escape::html(title)
    )
}

/// Plain text: headings underlined, lists with dashes, tables in aligned
/// columns, emphasis and escapes gone.
pub fn to_text(markdown: &str) -> String {
    let mut out = String::new();
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut heading: Option<(HeadingLevel, usize)> = None;
    let mut table: Option<Vec<Vec<String>>> = None;
    let mut in_code = false;
    let push = |out: &mut String, table: &mut Option<Vec<Vec<String>>>, s: &str| match table {
        Some(rows) => {
            if let Some(cell) = rows.last_mut().and_then(|r| r.last_mut()) {
                cell.push_str(s);
            }
        }
        None => out.push_str(s),
    };
    for event in parser(markdown) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                blank_line(&mut out);
                heading = Some((level, out.len()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, start)) = heading.take() {
                    let width = out[start..].chars().count();
                    let rule = match level {
                        HeadingLevel::H1 => Some('='),
                        HeadingLevel::H2 => Some('-'),
                        _ => None,
                    };
                    out.push('\n');
                    if let Some(c) = rule {
                        out.extend(std::iter::repeat_n(c, width));
                        out.push('\n');
                    }
                }
            }
            Event::Start(Tag::Paragraph) if lists.is_empty() => blank_line(&mut out),
            Event::End(TagEnd::Paragraph) if lists.is_empty() => out.push('\n'),
            Event::Start(Tag::List(first)) => {
                if lists.is_empty() {
                    blank_line(&mut out);
                } else if !out.ends_with('\n') {
                    out.push('\n');
                }
                lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            Event::Start(Tag::Item) => {
                if !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
                let depth = lists.len().saturating_sub(1);
                out.push_str(&"  ".repeat(depth));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("- "),
                }
            }
            Event::End(TagEnd::Item) if !out.ends_with('\n') => out.push('\n'),
            Event::Start(Tag::Table(_)) => {
                blank_line(&mut out);
                table = Some(Vec::new());
            }
            Event::Start(Tag::TableHead | Tag::TableRow) => {
                if let Some(rows) = table.as_mut() {
                    rows.push(Vec::new());
                }
            }
            Event::Start(Tag::TableCell) => {
                if let Some(row) = table.as_mut().and_then(|r| r.last_mut()) {
                    row.push(String::new());
                }
            }
            Event::End(TagEnd::Table) => {
                if let Some(rows) = table.take() {
                    out.push_str(&columns(&rows));
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                blank_line(&mut out);
                in_code = true;
            }
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(s) if in_code => {
                for l in s.lines() {
                    out.push_str("    ");
                    out.push_str(l);
                    out.push('\n');
                }
            }
            Event::Text(s) | Event::Code(s) | Event::Html(s) | Event::InlineHtml(s) => {
                push(&mut out, &mut table, &s);
            }
            Event::SoftBreak | Event::HardBreak => {
                let indent = "  ".repeat(lists.len());
                push(&mut out, &mut table, &format!("\n{indent}"));
            }
            Event::Rule => {
                blank_line(&mut out);
                out.push_str(&"-".repeat(40));
                out.push('\n');
            }
            _ => {}
        }
    }
    let mut text = out.trim_end().to_string();
    text.push('\n');
    text
}

/// Ends the text so far with an empty line, unless it is empty.
fn blank_line(out: &mut String) {
    if out.is_empty() {
        return;
    }
    while !out.ends_with("\n\n") {
        out.push('\n');
    }
}

/// Table rows in columns padded to their widest cell.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = (0..n)
            .map(|i| {
                let c = row.get(i).map_or("", String::as_str);
                format!("{c:<w$}", w = widths[i])
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_shows_raw_html_and_drops_links() {
        let page = to_html(
            "# Hi\n\n<script>x()</script>\n\n[a](javascript:x) ![i](http://e/i.png)",
            "t<",
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(!page.contains("href") && !page.contains("<img"), "{page}");
        assert!(page.contains("<title>t&lt;</title>"));
    }

    #[test]
    fn text_has_no_markup() {
        let text = to_text("# Title\n\nSome **bold** \\*x\\*.\n\n- one\n- two\n\n| a | b |\n| --- | --- |\n| 1 | 22 |\n");
        assert_eq!(
            text,
            "Title\n=====\n\nSome bold *x*.\n\n- one\n- two\n\na  b\n1  22\n"
        );
    }
}
