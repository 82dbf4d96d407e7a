//! `trueup dashboard`: a known ledger rendered as a page, its figures
//! checked in the HTML text and, when Chromium is installed, in the page as
//! a headless browser built it (with a screenshot in
//! `target/dashboard.png` for review). A rendered notice is also printed
//! to PDF by the browser.
//!
//! Without Chromium the browser tests print a note and pass, unless
//! `TRUEUP_REQUIRE_BROWSER` is set (as `.ci/run` sets it), when they fail.
//!
//! The known ledger is `examples/acme.yaml` recorded on 2026-11-01 and
//! again as of 2026-11-12, with a few people's actions between:
//!
//! - 2026-11-01: 24 cases open (2 critical, 7 high, 9 medium, 6 low).
//! - C-000001 (critical overuse of ct-sqlserver) acknowledged on 11-02,
//!   its notice deadline, with a note of kind `evidence`. Its escalations
//!   (cio on 11-03, external-counsel on 11-06) come after that
//!   acknowledgement, so both are overdue on 11-12.
//! - C-000002 gets a contact note with an attachment on 11-02 and is
//!   acknowledged on 11-09, after its notice deadline of 11-02.
//! - C-000004 is assigned to `bob <b&b>` (markup to escape).
//! - C-000022 (low shelfware) resolved by hand on 11-05: 4 days.
//! - 2026-11-12: C-000003 (high install-spike) resolves with the run
//!   (11 days), C-000025 (medium) opens, C-000022 reopens.
//! - C-000023 (low shelfware) resolved by hand on 12-05: 34 days.
//!
//! So as of 11-12: 23 open (2 critical, 6 high, 10 medium, 5 low), 3
//! resolutions (4, 11, 34 days: median 11; November 4 and 11, median 7.5;
//! December 34), audit readiness: 1 acknowledged in time (C-000001), 2 with
//! evidence (C-000001, C-000002), 1 ready.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ACME: &str = "examples/acme.yaml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], code: i32) -> support::Run {
    let run = support::trueup(&root(), args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        run.code,
        Some(code),
        "`trueup {}`\n{}",
        args.join(" "),
        run.describe()
    );
    run
}

/// Builds the known ledger described above in `dir`; returns its path.
fn known_ledger(dir: &Path) -> String {
    let l = dir.join("cases.db").display().to_string();
    let attach = root().join(ACME).display().to_string();
    let steps: &[&[&str]] = &[
        &["check", ACME, "--fail-on", "never"],
        &[
            "case",
            "ack",
            "C-000001",
            "--by",
            "alice",
            "--on",
            "2026-11-02",
        ],
        &[
            "case",
            "note",
            "C-000001",
            "--by",
            "alice",
            "--kind",
            "evidence",
            "--text",
            "PO 4471 raised",
            "--on",
            "2026-11-02",
        ],
        &[
            "case",
            "note",
            "C-000002",
            "--by",
            "alice",
            "--kind",
            "contact",
            "--text",
            "called the vendor",
            "--attach",
            &attach,
            "--on",
            "2026-11-02",
        ],
        &[
            "case",
            "ack",
            "C-000002",
            "--by",
            "alice",
            "--on",
            "2026-11-09",
        ],
        &[
            "case",
            "assign",
            "C-000004",
            "--to",
            "bob <b&b>",
            "--by",
            "alice",
            "--on",
            "2026-11-03",
        ],
        &[
            "case",
            "resolve",
            "C-000022",
            "--by",
            "carol",
            "--reason",
            "reharvested",
            "--on",
            "2026-11-05",
        ],
        &["check", ACME, "--as-of", "2026-11-12", "--fail-on", "never"],
        &[
            "case",
            "resolve",
            "C-000023",
            "--by",
            "carol",
            "--reason",
            "reduced",
            "--on",
            "2026-12-05",
        ],
    ];
    for s in steps {
        run(&[s, &["--ledger", &l][..]].concat(), 0);
    }
    l
}

/// The text of the element carrying `data-figure="name"`.
fn figure(page: &str, name: &str) -> String {
    let key = format!("data-figure=\"{name}\">");
    let at = page
        .find(&key)
        .unwrap_or_else(|| panic!("no figure `{name}` in the page"));
    let rest = &page[at + key.len()..];
    rest[..rest.find('<').expect("the element closes")].to_string()
}

/// The figures of the known ledger, as the page (or the browser's DOM of
/// it) must show them; `overdue` is `ledger stats`' own total.
fn check_figures(page: &str, overdue: u64) {
    let want = [
        ("as-of", "2026-11-12"),
        ("open", "23"),
        ("resolved", "2"),
        ("severity-critical", "2"),
        ("severity-high", "6"),
        ("severity-medium", "10"),
        ("severity-low", "5"),
        ("severity-info", "0"),
        ("age-0-7", "2"),
        ("age-8-30", "21"),
        ("resolutions", "3"),
        ("resolution-median", "11"),
        ("median-2026-11", "7.5"),
        ("median-2026-12", "34"),
        ("acknowledged-in-time", "1"),
        ("evidenced", "2"),
        ("ready", "1"),
        ("readiness", "4%"),
        // ct-sqlserver: 104 cores consumed of 96 entitled.
        ("utilization-ct-sqlserver-core", "108.3%"),
    ];
    for (name, value) in want {
        assert_eq!(figure(page, name), value, "figure `{name}`");
    }
    assert_eq!(figure(page, "overdue"), overdue.to_string());
    assert_eq!(figure(page, "overdue-total"), overdue.to_string());
    // C-000001's two escalations, acknowledged before either was reached.
    let rows = page.matches("<tr data-case=\"C-000001\"><td>C-000001</td><td><span class=\"sev sev-critical\">critical</span></td><td>").count();
    assert_eq!(rows, 2 + 1, "two overdue steps and one task for C-000001");
    assert!(page.contains("<td>cio</td><td>2026-11-03</td><td class=\"num\">9</td>"));
    assert!(page.contains("<td>external-counsel</td><td>2026-11-06</td><td class=\"num\">6</td>"));
    // The first option of C-000001's finding (buy the 8 cores short), with its owner.
    assert!(page.contains("<td>purchase: metric core, quantity 8</td><td>licensing-counsel</td>"));
}

fn stats_overdue(ledger: &str) -> u64 {
    let out = run(&["ledger", "stats", "--ledger", ledger, "-f", "json"], 0).stdout;
    let v: serde_json::Value = serde_json::from_str(&out).expect("stats is json");
    v["overdue_steps"]["total"].as_u64().expect("a total")
}

fn render(ledger: &str, out: &Path, snapshot: bool) -> String {
    let out_s = out.display().to_string();
    let mut args = vec!["dashboard", "--ledger", ledger, "-o", &out_s];
    if snapshot {
        args.push(ACME);
    }
    run(&args, 0);
    std::fs::read_to_string(out).expect("the page was written")
}

#[test]
fn the_page_shows_the_known_figures_self_contained_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = known_ledger(dir.path());
    let page = render(&ledger, &dir.path().join("d.html"), true);
    check_figures(&page, stats_overdue(&ledger));
    assert_eq!(stats_overdue(&ledger), 26);
    // Nothing fetched from anywhere: no script, link, font or remote image.
    for bad in [
        "<script", "<link", "@import", "url(", "http://", "https://", "src=",
    ] {
        assert!(!page.contains(bad), "the page holds `{bad}`");
    }
    assert!(page.contains("<svg"), "charts are inline SVG");
    assert!(page.contains("@media print"), "a print stylesheet");
    assert!(page.contains("@media (max-width"), "a narrow-screen layout");
    // The owner given with markup is text.
    assert!(page.contains("bob &lt;b&amp;b&gt;"));
    assert!(!page.contains("bob <b&b>"));
}

#[test]
fn the_same_ledger_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = known_ledger(dir.path());
    let a = render(&ledger, &dir.path().join("a.html"), true);
    let b = render(&ledger, &dir.path().join("b.html"), true);
    assert_eq!(a, b);
    // TRUEUP_LEDGER names it as --ledger does, and stdout gets the page.
    let out = Command::new(env!("CARGO_BIN_EXE_trueup"))
        .args(["dashboard", ACME])
        .env("TRUEUP_LEDGER", &ledger)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), a);
}

#[test]
fn without_a_snapshot_the_page_says_there_is_no_position() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = known_ledger(dir.path());
    let page = render(&ledger, &dir.path().join("d.html"), false);
    assert!(page.contains("No snapshot was given, so there is no licence position to show"));
    assert!(!page.contains("data-figure=\"utilization-"));
    assert_eq!(figure(&page, "open"), "23");
    // --as-of moves the date steps and ages are counted on.
    let out = dir.path().join("later.html").display().to_string();
    run(
        &[
            "dashboard",
            "--ledger",
            &ledger,
            "--as-of",
            "2027-01-01",
            "-o",
            &out,
        ],
        0,
    );
    let later = std::fs::read_to_string(&out).unwrap();
    assert_eq!(figure(&later, "as-of"), "2027-01-01");
    assert_eq!(figure(&later, "age-31-90"), "23");
}

#[test]
fn bad_input_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db").display().to_string();
    let r = run(&["dashboard", "--ledger", &missing], 2);
    assert!(
        r.stderr.contains("nope.db") && r.stderr.contains("no such file"),
        "{}",
        r.stderr
    );
    let r = run(
        &["dashboard", "--ledger", &missing, "--as-of", "2026-13-01"],
        2,
    );
    assert!(
        r.stderr.contains("`2026-13-01` is not a date"),
        "{}",
        r.stderr
    );
    let ledger = known_ledger(dir.path());
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "snapshot: [\n").unwrap();
    let r = run(
        &["dashboard", "--ledger", &ledger, &bad.display().to_string()],
        2,
    );
    assert!(r.stderr.contains("bad.yaml"), "{}", r.stderr);
    let r = support::trueup(&root(), &["dashboard"]).unwrap();
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("no ledger"), "{}", r.stderr);
}

/// Chromium's path, or `None` (with a note) when it is not installed and
/// not required.
fn browser() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var_os("TRUEUP_REQUIRE_BROWSER").is_none(),
            "TRUEUP_REQUIRE_BROWSER is set but no `chromium` is on PATH"
        );
        eprintln!("note: no `chromium` on PATH: the browser part of this test is skipped");
    }
    found
}

/// Runs headless Chromium with `args` then `url`; returns its stdout.
fn chromium(bin: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let out = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("chromium runs") {
            assert!(status.success(), "chromium failed: {status}");
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium took more than a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("the reader ends")
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}

#[test]
fn a_browser_builds_the_page_with_the_known_figures() {
    let Some(bin) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    known_ledger(dir.path());
    // Rendered beside the ledger and a copy of the snapshot, so the page
    // (and the screenshot the README shows) names them as a user would.
    std::fs::copy(root().join(ACME), dir.path().join("acme.yaml")).unwrap();
    let policies = root().join("policies").display().to_string();
    let r = support::trueup(
        dir.path(),
        &[
            "dashboard",
            "--ledger",
            "cases.db",
            "acme.yaml",
            "-p",
            &policies,
            "-o",
            "d.html",
        ],
    )
    .unwrap();
    assert_eq!(r.code, Some(0), "{}", r.describe());
    let page = dir.path().join("d.html");
    let ledger = dir.path().join("cases.db").display().to_string();
    let profile = dir.path().join("profile");
    let dom = chromium(&bin, &profile, &["--dump-dom".into()], &file_url(&page));
    assert!(dom.contains("<svg"), "the browser built the page:\n{dom}");
    check_figures(&dom, stats_overdue(&ledger));
    let shot = root().join("target/dashboard.png");
    chromium(
        &bin,
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
        ],
        &file_url(&page),
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
}

#[test]
fn a_browser_prints_a_notice_and_the_dashboard_to_pdf() {
    let Some(bin) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("notice.html");
    let html_s = html.display().to_string();
    run(
        &[
            "notice",
            "overuse:product:ct-sqlserver",
            ACME,
            "-f",
            "html",
            "-o",
            &html_s,
        ],
        0,
    );
    let pdf = dir.path().join("notice.pdf");
    chromium(
        &bin,
        &dir.path().join("profile"),
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
        &file_url(&html),
    );
    let bytes = std::fs::read(&pdf).expect("a PDF was written");
    assert!(bytes.starts_with(b"%PDF"), "the file is a PDF");
    // The dashboard prints too, with its print stylesheet.
    let ledger = known_ledger(dir.path());
    let page = dir.path().join("d.html");
    render(&ledger, &page, true);
    let pdf = dir.path().join("dashboard.pdf");
    chromium(
        &bin,
        &dir.path().join("profile"),
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
        &file_url(&page),
    );
    let bytes = std::fs::read(&pdf).expect("a PDF was written");
    assert!(bytes.starts_with(b"%PDF"), "the dashboard prints to a PDF");
}

/// Names from a snapshot and a ledger reach the page as text: a product
/// named with markup, an owner given with quotes and markup, a control
/// character made visible.
#[test]
fn names_from_the_data_are_text_in_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("hostile.yaml");
    // One device licence, two installations: overuse of `evil`.
    std::fs::write(
        &snap,
        "trueup: 1\n\
         snapshot: { id: lab-1, taken_at: 2026-11-01 }\n\
         products: [{ id: evil, name: \"<script>alert('x')</script>\\e[2J\" }]\n\
         contracts: [{ id: EA-1 }]\n\
         entitlements: [{ id: E-1, contract: EA-1, product: evil, metric: device, quantity: 1 }]\n\
         devices: [{ id: ws-01 }, { id: ws-02 }]\n\
         installations: [{ device: ws-01, product: evil }, { device: ws-02, product: evil }]\n",
    )
    .unwrap();
    let s = snap.display().to_string();
    let l = dir.path().join("cases.db").display().to_string();
    let r = support::trueup(
        &root(),
        &["check", &s, "--ledger", &l, "--fail-on", "never"],
    )
    .unwrap();
    assert_eq!(r.code, Some(0), "{}", r.describe());
    run(
        &[
            "case",
            "assign",
            "overuse:product:evil",
            "--to",
            "\"><img src=x>",
            "--by",
            "a",
            "--on",
            "2026-11-01",
            "--ledger",
            &l,
        ],
        0,
    );
    let out = dir.path().join("d.html");
    let o = out.display().to_string();
    run(&["dashboard", "--ledger", &l, &s, "-o", &o], 0);
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(
        !page.contains("<script") && !page.contains("<img"),
        "{page}"
    );
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\\u{1b}[2J"),
        "{page}"
    );
    assert!(page.contains("&quot;&gt;&lt;img src=x&gt;"), "{page}");
    assert_eq!(figure(&page, "utilization-evil-device"), "200.0%");
}
