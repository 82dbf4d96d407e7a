//! The dashboard as one HTML page: inline CSS (a screen, a narrow-screen
//! and a print layout), inline SVG charts, no script. Every text from the
//! ledger or the snapshot is escaped; each figure a reader checks carries
//! a `data-figure` name, so tests find it in the page as a browser built it.

use std::fmt::Write;

use super::{Dashboard, PositionPanel, Spread};

/// Text for an HTML element or a quoted attribute: `&`, `<`, `>`, `"` and
/// `'` as entities, control characters made visible.
pub fn esc(s: &str) -> String {
    crate::report::escape::html(&crate::report::escape::line(s))
}

/// The most rows a table of cases lists; the rest are counted, so a large
/// ledger still gives a page a browser opens at once.
pub const MAX_ROWS: usize = 500;

/// The note under a table cut at [`MAX_ROWS`].
fn more(o: &mut String, total: usize, all: &str) {
    if total > MAX_ROWS {
        let _ = writeln!(
            o,
            "<p class=\"note\" data-figure=\"not-shown\">{} more not shown: <code>{}</code> lists them all.</p>",
            total - MAX_ROWS,
            esc(all)
        );
    }
}

const STYLE: &str = r#"
:root { --ink: #1d2330; --muted: #5b6475; --line: #d8dce4; --panel: #ffffff; --page: #f3f5f8;
  --critical: #a4161a; --high: #d9480f; --medium: #e8a400; --low: #2b8a3e; --info: #1971c2; --bar: #3b5bdb; --over: #c92a2a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { padding: 20px 28px 8px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 2px 0; color: var(--muted); }
main { padding: 8px 28px 28px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { margin: 0 0 10px; font-size: 17px; }
p.note { color: var(--muted); margin: 4px 0 8px; font-size: 13px; }
.cards { display: grid; gap: 12px; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .n { display: block; font-size: 28px; font-weight: 650; }
.card .l { color: var(--muted); font-size: 13px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td:first-child { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
svg { display: block; width: 100%; height: auto; max-width: 640px; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
.sev { display: inline-block; padding: 0 6px; border-radius: 4px; color: #fff; font-size: 12px; }
.sev-critical { background: var(--critical); } .sev-high { background: var(--high); }
.sev-medium { background: var(--medium); color: #1d2330; } .sev-low { background: var(--low); } .sev-info { background: var(--info); }
.fill-critical { fill: var(--critical); } .fill-high { fill: var(--high); } .fill-medium { fill: var(--medium); }
.fill-low { fill: var(--low); } .fill-info { fill: var(--info); } .fill-bar { fill: var(--bar); } .fill-over { fill: var(--over); }
.track { fill: #e9ecf2; }
.meter { width: 160px; }
.empty { color: var(--muted); font-style: italic; }
@media (max-width: 640px) {
  header, main { padding-left: 10px; padding-right: 10px; }
  main { grid-template-columns: 1fr; }
  table { font-size: 13px; }
  .meter { width: 100px; }
  .card .n { font-size: 22px; }
}
@media print {
  body { background: #fff; font-size: 11pt; }
  main { display: block; padding: 0 12px; }
  section { border: 1px solid #999; border-radius: 0; margin: 0 0 12px; break-inside: avoid; page-break-inside: avoid; }
  .scroll { overflow: visible; }
  .sev { color: #000 !important; border: 1px solid #000; background: none !important; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// The whole page.
pub fn render(d: &Dashboard) -> String {
    let mut o = String::new();
    let date = d
        .as_of
        .map_or_else(|| "no run recorded".to_string(), |x| x.to_string());
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>trueup dashboard: {} as of {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&d.ledger),
        esc(&date)
    );
    let _ = write!(
        o,
        "<header>\n<h1>Licence compliance dashboard</h1>\n\
         <p>Ledger <code>{}</code>, as of <strong data-figure=\"as-of\">{}</strong>.</p>\n",
        esc(&d.ledger),
        esc(&date)
    );
    match &d.position {
        Some(p) => {
            let _ = writeln!(
                o,
                "<p>Licence position of snapshot <code>{}</code> (<code>{}</code>) as of {}.</p>",
                esc(&p.snapshot),
                esc(&p.snapshot_id),
                p.as_of
            );
        }
        None => o.push_str("<p>No snapshot given: the licence position and remediation options are not shown.</p>\n"),
    }
    o.push_str("</header>\n<main>\n");
    summary(&mut o, d);
    by_severity(&mut o, d);
    counts_panel(
        &mut o,
        "Open cases by age",
        "Days since each case was opened or last reopened.",
        "age",
        &d.by_age,
    );
    counts_panel(
        &mut o,
        "Open cases by queue",
        "The queue each case is routed to.",
        "queue",
        &d.by_queue,
    );
    overdue(&mut o, d);
    tasks(&mut o, d);
    resolution(&mut o, d);
    position(&mut o, d.position.as_ref());
    readiness(&mut o, d);
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

fn summary(o: &mut String, d: &Dashboard) {
    let overdue = d.overdue.len();
    let _ = write!(
        o,
        "<section class=\"wide\" id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">\n\
         <div class=\"card\"><span class=\"n\" data-figure=\"open\">{}</span><span class=\"l\">open cases</span></div>\n\
         <div class=\"card\"><span class=\"n\" data-figure=\"resolved\">{}</span><span class=\"l\">resolved cases</span></div>\n\
         <div class=\"card\"><span class=\"n\" data-figure=\"overdue-total\">{overdue}</span><span class=\"l\">overdue steps</span></div>\n\
         <div class=\"card\"><span class=\"n\" data-figure=\"median-days\">{}</span><span class=\"l\">median days to resolve</span></div>\n\
         <div class=\"card\"><span class=\"n\" data-figure=\"readiness\">{:.0}%</span><span class=\"l\">audit ready</span></div>\n\
         </div>\n</section>\n",
        d.open,
        d.resolved,
        days(&d.time_to_resolution),
        d.readiness.percent()
    );
}

fn days(s: &Spread) -> String {
    if s.resolved == 0 {
        "none".into()
    } else {
        s.median_days.to_string()
    }
}

/// A horizontal bar chart: one bar per row, `class` naming each bar's fill.
fn bars(title: &str, rows: &[(String, f64, String, String)]) -> String {
    const ROW: usize = 24;
    const LABEL: f64 = 150.0;
    const WIDTH: f64 = 260.0;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let height = ROW * rows.len().max(1) + 4;
    let mut s = format!(
        "<svg viewBox=\"0 0 480 {height}\" role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
        esc(title),
        esc(title)
    );
    for (i, (label, value, shown, class)) in rows.iter().enumerate() {
        let y = i * ROW + 2;
        let w = if max > 0.0 { value / max * WIDTH } else { 0.0 };
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\">{l}</text>\
             <rect class=\"track\" x=\"{bx}\" y=\"{y}\" width=\"{WIDTH}\" height=\"18\" rx=\"3\"></rect>\
             <rect class=\"{class}\" x=\"{bx}\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" rx=\"3\"></rect>\
             <text x=\"{vx}\" y=\"{ty}\">{v}</text>",
            x = LABEL - 6.0,
            ty = y + 14,
            l = esc(&shorten(label, 22)),
            bx = LABEL,
            vx = LABEL + WIDTH + 6.0,
            v = esc(shown),
            class = esc(class),
        );
    }
    s.push_str("</svg>\n");
    s
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn by_severity(o: &mut String, d: &Dashboard) {
    o.push_str("<section id=\"severity\">\n<h2>Open cases by severity</h2>\n");
    let rows: Vec<_> = d
        .by_severity
        .iter()
        .map(|(s, n)| (s.clone(), *n as f64, n.to_string(), format!("fill-{s}")))
        .collect();
    o.push_str(&bars("Open cases by severity", &rows));
    o.push_str(
        "<table><thead><tr><th>severity</th><th class=\"num\">open</th></tr></thead><tbody>\n",
    );
    for (s, n) in &d.by_severity {
        let _ = writeln!(
            o,
            "<tr><td><span class=\"sev sev-{s}\">{s}</span></td><td class=\"num\" data-figure=\"severity-{s}\">{n}</td></tr>",
            s = esc(s)
        );
    }
    o.push_str("</tbody></table>\n</section>\n");
}

fn counts_panel(o: &mut String, title: &str, note: &str, key: &str, rows: &[(String, usize)]) {
    let _ = write!(
        o,
        "<section id=\"{key}\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n",
        esc(title),
        esc(note)
    );
    if rows.is_empty() {
        o.push_str("<p class=\"empty\">No open case.</p>\n</section>\n");
        return;
    }
    let chart: Vec<_> = rows
        .iter()
        .map(|(k, n)| (k.clone(), *n as f64, n.to_string(), "fill-bar".to_string()))
        .collect();
    o.push_str(&bars(title, &chart));
    let _ = writeln!(
        o,
        "<table><thead><tr><th>{key}</th><th class=\"num\">open</th></tr></thead><tbody>"
    );
    for (k, n) in rows {
        let _ = writeln!(
            o,
            "<tr><td>{k}</td><td class=\"num\" data-figure=\"{key}-{k}\">{n}</td></tr>",
            k = esc(k)
        );
    }
    o.push_str("</tbody></table>\n</section>\n");
}

fn owner(o: &Option<String>) -> String {
    o.as_deref()
        .map_or_else(|| "<span class=\"empty\">nobody</span>".into(), esc)
}

fn overdue(o: &mut String, d: &Dashboard) {
    let _ = write!(
        o,
        "<section class=\"wide\" id=\"overdue\">\n<h2>Overdue steps (<span data-figure=\"overdue\">{}</span>)</h2>\n\
         <p class=\"note\">Notice and escalation steps of open cases past their date and not acknowledged.</p>\n",
        d.overdue.len()
    );
    if d.overdue.is_empty() {
        o.push_str("<p class=\"empty\">No step is overdue.</p>\n</section>\n");
        return;
    }
    o.push_str("<div class=\"scroll\"><table><thead><tr><th>case</th><th>severity</th><th>step</th><th>due</th><th class=\"num\">days over</th><th>queue</th><th>owner</th></tr></thead><tbody>\n");
    for s in d.overdue.iter().take(MAX_ROWS) {
        let _ = writeln!(
            o,
            "<tr data-case=\"{c}\"><td>{c}</td><td><span class=\"sev sev-{sev}\">{sev}</span></td><td>{step}</td><td>{due}</td><td class=\"num\">{days}</td><td>{q}</td><td>{own}</td></tr>",
            c = esc(&s.case),
            sev = esc(&s.severity),
            step = esc(&s.step),
            due = s.due,
            days = s.days,
            q = esc(&s.queue),
            own = owner(&s.owner),
        );
    }
    o.push_str("</tbody></table></div>\n");
    more(o, d.overdue.len(), "trueup cases --overdue");
    o.push_str("</section>\n");
}

fn tasks(o: &mut String, d: &Dashboard) {
    let _ = write!(
        o,
        "<section class=\"wide\" id=\"tasks\">\n<h2>Remediation tasks (<span data-figure=\"tasks\">{}</span>)</h2>\n\
         <p class=\"note\">Each open case's first remediation option and who owns it: its assignee, else its route's owner.</p>\n",
        d.tasks.len()
    );
    if d.position.is_none() {
        o.push_str(
            "<p class=\"note\">The options come from a snapshot: give one to list them.</p>\n",
        );
    }
    if d.tasks.is_empty() {
        o.push_str("<p class=\"empty\">No open case.</p>\n</section>\n");
        return;
    }
    o.push_str("<div class=\"scroll\"><table><thead><tr><th>case</th><th>severity</th><th>finding</th><th>first option</th><th>owner</th><th>next step</th></tr></thead><tbody>\n");
    for t in d.tasks.iter().take(MAX_ROWS) {
        let option = t.option.as_deref().map_or_else(
            || "<span class=\"empty\">none given</span>".to_string(),
            esc,
        );
        let next = t.next_step.as_ref().map_or_else(
            || "<span class=\"empty\">none</span>".to_string(),
            |(step, on, status)| format!("{} {}", esc(step), esc(&status.describe(*on))),
        );
        let _ = writeln!(
            o,
            "<tr data-case=\"{c}\"><td>{c}</td><td><span class=\"sev sev-{sev}\">{sev}</span></td><td>{f}</td><td>{option}</td><td>{own}</td><td>{next}</td></tr>",
            c = esc(&t.case),
            sev = esc(&t.severity),
            f = esc(&t.finding),
            own = owner(&t.owner),
        );
    }
    o.push_str("</tbody></table></div>\n");
    more(o, d.tasks.len(), "trueup cases --state open");
    o.push_str("</section>\n");
}

fn resolution(o: &mut String, d: &Dashboard) {
    let _ = write!(
        o,
        "<section class=\"wide\" id=\"resolution\">\n<h2>Time to resolution</h2>\n\
         <p class=\"note\">Days from a case's opening (or reopening) to its resolution, by month of resolution. \
         All resolutions: <span data-figure=\"resolutions\">{}</span>, median <span data-figure=\"resolution-median\">{}</span> days, p90 {} days.</p>\n",
        d.time_to_resolution.resolved,
        d.time_to_resolution.median_days,
        d.time_to_resolution.p90_days
    );
    if d.by_month.is_empty() {
        o.push_str("<p class=\"empty\">No case has been resolved yet.</p>\n</section>\n");
        return;
    }
    let rows: Vec<_> = d
        .by_month
        .iter()
        .map(|(m, s)| {
            (
                m.clone(),
                s.median_days,
                format!("median {} days", s.median_days),
                "fill-bar".to_string(),
            )
        })
        .collect();
    o.push_str(&bars(
        "Median days to resolve, by month of resolution",
        &rows,
    ));
    o.push_str("<table><thead><tr><th>month</th><th class=\"num\">resolved</th><th class=\"num\">median days</th><th class=\"num\">p90 days</th></tr></thead><tbody>\n");
    for (m, s) in &d.by_month {
        let _ = writeln!(
            o,
            "<tr><td>{m}</td><td class=\"num\">{}</td><td class=\"num\" data-figure=\"median-{m}\">{}</td><td class=\"num\">{}</td></tr>",
            s.resolved,
            s.median_days,
            s.p90_days,
            m = esc(m)
        );
    }
    o.push_str("</tbody></table>\n</section>\n");
}

/// A utilization bar: full at 100%, the part over 100% in red (drawn to
/// at most 150%).
fn meter(u: Option<f64>) -> String {
    let Some(u) = u else {
        return String::new();
    };
    let within = u.clamp(0.0, 1.0) * 100.0;
    let over = (u.clamp(1.0, 1.5) - 1.0) * 100.0;
    format!(
        "<svg class=\"meter\" viewBox=\"0 0 150 12\" role=\"img\" aria-label=\"{pct:.1}% used\">\
         <rect class=\"track\" x=\"0\" y=\"1\" width=\"100\" height=\"10\"></rect>\
         <rect class=\"fill-bar\" x=\"0\" y=\"1\" width=\"{within:.1}\" height=\"10\"></rect>\
         <rect class=\"fill-over\" x=\"100\" y=\"1\" width=\"{over:.1}\" height=\"10\"></rect></svg>",
        pct = u * 100.0
    )
}

fn position(o: &mut String, p: Option<&PositionPanel>) {
    o.push_str("<section class=\"wide\" id=\"position\">\n<h2>Licence position</h2>\n");
    let Some(p) = p else {
        o.push_str("<p class=\"empty\">No snapshot was given, so there is no licence position to show: \
                    run <code>trueup dashboard --ledger FILE SNAPSHOT</code> to add it.</p>\n</section>\n");
        return;
    };
    let _ = writeln!(
        o,
        "<p class=\"note\">Snapshot <code>{}</code> as of {}: consumed against entitled, per product and metric. \
         A bar past its track is overuse; a row marked * is a lower bound (some consumption could not be counted).</p>",
        esc(&p.snapshot),
        p.as_of
    );
    if p.rows.is_empty() {
        o.push_str("<p class=\"empty\">The snapshot has no position row.</p>\n</section>\n");
        return;
    }
    o.push_str("<div class=\"scroll\"><table><thead><tr><th>product</th><th>metric</th><th class=\"num\">entitled</th><th class=\"num\">consumed</th><th class=\"num\">shortfall</th><th class=\"num\">utilization</th><th>use</th></tr></thead><tbody>\n");
    for r in &p.rows {
        let key = format!("{}-{}", r.product, r.metric);
        let entitled = r
            .entitled
            .map_or_else(|| "unlimited".to_string(), |n| n.to_string());
        let util = r
            .utilization
            .map_or_else(|| "n/a".to_string(), |u| format!("{:.1}%", u * 100.0));
        let star = if r.incomplete { " *" } else { "" };
        let _ = writeln!(
            o,
            "<tr><td>{name} <code>{id}</code></td><td>{metric}</td><td class=\"num\">{entitled}</td><td class=\"num\">{consumed}{star}</td>\
             <td class=\"num\">{short}</td><td class=\"num\" data-figure=\"utilization-{key}\">{util}</td><td>{bar}</td></tr>",
            name = esc(&r.name),
            id = esc(&r.product),
            metric = esc(&r.metric),
            consumed = r.consumed,
            short = r.shortfall,
            key = esc(&key),
            bar = meter(r.utilization),
        );
    }
    o.push_str("</tbody></table></div>\n</section>\n");
}

fn readiness(o: &mut String, d: &Dashboard) {
    let r = &d.readiness;
    let _ = write!(
        o,
        "<section class=\"wide\" id=\"readiness\">\n<h2>Audit readiness</h2>\n\
         <p class=\"note\">An open case is ready when it was acknowledged on or before its notice deadline \
         (any acknowledgement when its route sets none) and has evidence on file: a note of kind <code>evidence</code> or an attachment.</p>\n\
         <table><tbody>\n\
         <tr><td>open cases</td><td class=\"num\">{}</td></tr>\n\
         <tr><td>acknowledged within the notice deadline</td><td class=\"num\" data-figure=\"acknowledged-in-time\">{}</td></tr>\n\
         <tr><td>with evidence attached</td><td class=\"num\" data-figure=\"evidenced\">{}</td></tr>\n\
         <tr><td>ready (both)</td><td class=\"num\" data-figure=\"ready\">{}</td></tr>\n\
         <tr><td>share ready</td><td class=\"num\">{:.1}%</td></tr>\n\
         </tbody></table>\n{}</section>\n",
        r.open,
        r.acknowledged_in_time,
        r.evidenced,
        r.ready,
        r.percent(),
        meter(Some(r.percent() / 100.0)),
    );
}

#[cfg(test)]
mod tests {
    use super::super::{Readiness, Task};
    use super::*;

    #[test]
    fn text_from_the_data_cannot_add_markup() {
        assert_eq!(
            esc("<b title=\"x\">A&B's</b>\u{1b}[2J"),
            "&lt;b title=&quot;x&quot;&gt;A&amp;B&#39;s&lt;/b&gt;\\u{1b}[2J"
        );
    }

    #[test]
    fn a_bar_past_its_track_is_drawn_to_150_percent_at_most() {
        assert!(meter(Some(1.0833)).contains("class=\"fill-over\" x=\"100\" y=\"1\" width=\"8.3\""));
        assert!(meter(Some(3.0)).contains("class=\"fill-over\" x=\"100\" y=\"1\" width=\"50.0\""));
        assert!(meter(Some(0.5)).contains("class=\"fill-bar\" x=\"0\" y=\"1\" width=\"50.0\""));
        assert_eq!(meter(None), "");
    }

    fn empty() -> Dashboard {
        Dashboard {
            ledger: "cases.db".into(),
            as_of: None,
            cases: 0,
            open: 0,
            resolved: 0,
            by_severity: Vec::new(),
            by_age: Vec::new(),
            by_queue: Vec::new(),
            overdue: Vec::new(),
            tasks: Vec::new(),
            time_to_resolution: crate::ledger::stats::spread(Vec::new()),
            by_month: Vec::new(),
            position: None,
            readiness: Readiness::default(),
        }
    }

    #[test]
    fn a_ledger_with_nothing_in_it_says_so() {
        let page = render(&empty());
        assert!(page.contains("as of <strong data-figure=\"as-of\">no run recorded</strong>"));
        assert!(page.contains("No step is overdue."));
        assert!(page.contains("No case has been resolved yet."));
        assert!(page.contains("<span class=\"n\" data-figure=\"readiness\">100%</span>"));
    }

    #[test]
    fn long_tables_are_cut_and_the_rest_counted() {
        let mut d = empty();
        d.tasks = (1..=MAX_ROWS + 7)
            .map(|i| Task {
                case: crate::ledger::case_name(i as i64),
                severity: "low".into(),
                finding: format!("shelfware:product:p{i}"),
                option: None,
                owner: None,
                next_step: None,
            })
            .collect();
        d.open = d.tasks.len();
        let page = render(&d);
        assert_eq!(page.matches("<tr data-case=").count(), MAX_ROWS);
        assert!(page.contains("<span data-figure=\"tasks\">507</span>"));
        assert!(page.contains("data-figure=\"not-shown\">7 more not shown"));
    }
}
