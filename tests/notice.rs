//! `trueup notice`: the shipped templates rendered for the findings of
//! `examples/acme.yaml`, as a user runs them.
//!
//! - Every number a rendered notice prints comes from the data: the
//!   finding as `check -f json` reports it, its product's rows of
//!   `position -f json`, its product's entitlements and contracts in the
//!   snapshot, or the run's inputs. A template that typed a figure of its
//!   own would fail here.
//! - A few renders are golden files (`tests/golden/notice-*`), with the
//!   playbook digest masked since any playbook change moves it; re-bless
//!   with `TRUEUP_BLESS=1 cargo test --test notice` and review the diff.
//! - A template naming a field that does not exist, a template that does
//!   not compile, an unknown finding and an unknown template are errors,
//!   exit 2, naming the file and line or the nearest ids.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

const ACME: &str = "examples/acme.yaml";
const TEMPLATES: [&str; 4] = [
    "notice",
    "incident-report",
    "remediation-plan",
    "audit-response",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_in(dir: &Path, args: &[&str], code: i32) -> support::Run {
    let run = support::trueup(dir, args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        run.code,
        Some(code),
        "`trueup {}`\n{}",
        args.join(" "),
        run.describe()
    );
    run
}

fn run(args: &[&str], code: i32) -> String {
    run_in(&root(), args, code).stdout
}

/// The runs of digits, dots and dashes in `text` that start with a digit,
/// without a trailing dot or dash: `104`, `108.3`, `2026-11-02`, `116` of
/// `ws-116`.
fn figures(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut current = String::new();
    for c in text.chars().chain([' ']) {
        if c.is_ascii_digit() || (!current.is_empty() && (c == '.' || c == '-')) {
            current.push(c);
        } else if !current.is_empty() {
            let run = current.trim_end_matches(['.', '-']).to_string();
            out.insert(run);
            current.clear();
        }
    }
    out
}

/// Every utilization ratio in `v`, as the templates print it (`108.3`).
fn percents(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let (true, Some(u)) = (k == "utilization", x.as_f64()) {
                    out.insert(format!("{:.1}", u * 100.0));
                }
                percents(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| percents(x, out)),
        _ => {}
    }
}

/// The snapshot's entitlement and contract records for `product`, as text.
fn terms_of(snapshot: &serde_yaml::Value, product: &str) -> String {
    let ents: Vec<&serde_yaml::Value> = snapshot["entitlements"]
        .as_sequence()
        .map(|s| s.iter().filter(|e| e["product"] == product).collect())
        .unwrap_or_default();
    let contracts: BTreeSet<String> = ents
        .iter()
        .filter_map(|e| e["contract"].as_str().map(str::to_string))
        .collect();
    let mut text = serde_yaml::to_string(&ents).unwrap();
    for c in snapshot["contracts"].as_sequence().into_iter().flatten() {
        if c["id"].as_str().is_some_and(|id| contracts.contains(id)) {
            text.push_str(&serde_yaml::to_string(c).unwrap());
        }
    }
    text
}

/// The figures a notice about finding `f` may print: those of the finding
/// as `check -f json` reports it, its product's position rows, the run's
/// inputs, and its product's entitlements and contracts.
fn allowed_figures(
    f: &Value,
    position: &Value,
    snapshot: &serde_yaml::Value,
    inputs: &str,
) -> BTreeSet<String> {
    let product = match f["subject"]["kind"].as_str() {
        Some("product") => f["subject"]["id"].as_str(),
        _ => f["evidence"]["product"].as_str(),
    };
    let rows: Vec<&Value> = position["positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| product.is_some_and(|p| r["product"] == p))
        .collect();
    let data = format!(
        "{f}\n{}\n{inputs}\n{}",
        serde_json::to_string(&rows).unwrap(),
        product.map(|p| terms_of(snapshot, p)).unwrap_or_default()
    );
    let mut allowed = figures(&data);
    percents(f, &mut allowed);
    rows.iter().for_each(|r| percents(r, &mut allowed));
    allowed
}

/// Each shipped template, for the first finding of every rule that fires on
/// acme: every figure printed is one of the data's.
#[test]
fn every_figure_in_every_shipped_template_comes_from_the_data() {
    let check: Value = serde_json::from_str(&run(&["check", ACME, "-f", "json"], 1)).unwrap();
    let position: Value = serde_json::from_str(&run(&["position", ACME, "-f", "json"], 0)).unwrap();
    let snapshot: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join(ACME)).unwrap()).unwrap();
    let inputs = check["inputs"].to_string();
    let mut rules = BTreeSet::new();
    let mut rendered = 0;
    let mut failures = Vec::new();
    for f in check["findings"].as_array().unwrap() {
        if !rules.insert(f["rule"].as_str().unwrap().to_string()) {
            continue;
        }
        let id = f["id"].as_str().unwrap();
        let allowed = allowed_figures(f, &position, &snapshot, &inputs);
        for template in TEMPLATES {
            let out = run(&["notice", id, ACME, "--template", template], 0);
            rendered += 1;
            let stray: Vec<String> = figures(&out).difference(&allowed).cloned().collect();
            if !stray.is_empty() {
                failures.push(format!(
                    "`{template}` for `{id}` prints figures the data does not hold: {}\n{out}",
                    stray.join(", ")
                ));
            }
        }
    }
    assert!(rules.len() >= 8, "only {} rules fire on acme", rules.len());
    assert_eq!(rendered, rules.len() * TEMPLATES.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// What a golden render compares: the output with the playbook digest
/// masked, since any change to a shipped script moves it.
fn masked(out: &str) -> String {
    let check: Value = serde_json::from_str(&run(&["check", ACME, "-f", "json"], 1)).unwrap();
    let digest = check["inputs"]["policies_digest"].as_str().unwrap();
    out.replace(digest, "<playbook digest>")
}

#[test]
fn renders_match_their_golden_files() {
    let renders = [
        (
            "notice-overuse.md",
            "overuse:product:ct-sqlserver",
            "notice",
            "markdown",
        ),
        (
            "notice-terminated.txt",
            "terminated-contract-use:product:lw-archiver",
            "remediation-plan",
            "text",
        ),
        (
            "notice-audit.html",
            "overuse:product:nw-cad",
            "audit-response",
            "html",
        ),
        (
            "notice-incident.md",
            "undisclosed-deployment:device:lab-07",
            "incident-report",
            "markdown",
        ),
    ];
    let mut failures = Vec::new();
    for (golden, id, template, format) in renders {
        let out = run(&["notice", id, ACME, "-t", template, "-f", format], 0);
        // The same inputs give the same bytes.
        assert_eq!(
            out,
            run(&["notice", id, ACME, "-t", template, "-f", format], 0)
        );
        if let Some(f) = support::golden(golden, &masked(&out)) {
            failures.push(f);
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nif the change is intended: TRUEUP_BLESS=1 cargo test --test notice, then review the diff",
        failures.join("\n\n")
    );
}

/// Drift is met with education, a repeat (the finding's waiver ran out)
/// with a firmer tone.
#[test]
fn the_wording_follows_the_pattern() {
    let drift = run(&["notice", "overuse:product:ct-sqlserver", ACME], 0);
    assert!(drift.contains("inadvertent drift"), "{drift}");
    assert!(!drift.contains("not the first time"), "{drift}");

    let dir = tempfile::tempdir().unwrap();
    let waivers = dir.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        "waivers:\n  - rule: overuse\n    subject: ct-sqlserver\n    reason: migration\n    approved_by: j.doe\n    expires: 2026-09-30\n",
    )
    .unwrap();
    let w = waivers.to_str().unwrap();
    let repeat = run(
        &[
            "notice",
            "overuse:product:ct-sqlserver",
            ACME,
            "--waivers",
            w,
        ],
        0,
    );
    assert!(repeat.contains("not the first time"), "{repeat}");
    assert!(repeat.contains("expired on 2026-09-30"), "{repeat}");
    assert!(!repeat.contains("inadvertent drift"), "{repeat}");
}

/// A scratch playbook: the shipped one's scripts, and `templates` as given.
fn playbook_with(templates: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(policies.join("templates")).unwrap();
    for entry in std::fs::read_dir(root().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            std::fs::copy(&path, policies.join(path.file_name().unwrap())).unwrap();
        }
    }
    for (name, text) in templates {
        std::fs::write(policies.join("templates").join(name), text).unwrap();
    }
    std::fs::copy(root().join(ACME), dir.path().join("acme.yaml")).unwrap();
    dir
}

#[test]
fn a_template_naming_a_missing_field_fails_at_its_line() {
    let dir = playbook_with(&[(
        "letter.j2",
        "# {{ product.name }}\n\nSeats: {{ finding.evidence.seats }}\n",
    )]);
    let run = run_in(
        dir.path(),
        &[
            "notice",
            "overuse:product:ct-sqlserver",
            "acme.yaml",
            "-t",
            "letter",
        ],
        2,
    );
    assert!(run.stdout.is_empty(), "{}", run.describe());
    assert!(
        run.stderr
            .contains("policies/templates/letter.j2:3: undefined value"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("Seats: {{ finding.evidence.seats }}"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_template_that_does_not_compile_is_an_error_at_its_line() {
    let dir = playbook_with(&[(
        "broken.j2",
        "Dear {{ product.name }},\n\n{% if finding %}\n",
    )]);
    let lint = run_in(dir.path(), &["lint"], 2);
    assert!(
        lint.stderr
            .contains("policies/templates/broken.j2:3: syntax error"),
        "{}",
        lint.describe()
    );
    // The playbook does not load, so no command trusts it.
    let notice = run_in(
        dir.path(),
        &["notice", "overuse:product:ct-sqlserver", "acme.yaml"],
        2,
    );
    assert!(
        notice.stderr.contains("broken.j2:3"),
        "{}",
        notice.describe()
    );
}

/// A template that loops too long stops with an error at its line instead
/// of hanging.
#[test]
fn a_template_that_loops_too_long_stops_at_its_line() {
    let dir = playbook_with(&[(
        "loop.j2",
        "# Loop\n{% for i in range(10000) %}{% for j in range(10000) %}.{% endfor %}{% endfor %}\n",
    )]);
    let run = run_in(
        dir.path(),
        &[
            "notice",
            "overuse:product:ct-sqlserver",
            "acme.yaml",
            "-t",
            "loop",
        ],
        2,
    );
    assert!(
        run.stderr
            .contains("policies/templates/loop.j2:2: engine ran out of fuel"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("at most 5,000,000 steps"),
        "{}",
        run.describe()
    );
}

#[test]
fn an_unknown_finding_names_the_nearest_ids() {
    let run = run_in(&root(), &["notice", "overuse:product:ct-sqlservr", ACME], 2);
    assert!(
        run.stderr
            .contains("no finding `overuse:product:ct-sqlservr` in `examples/acme.yaml`; nearest of its 24: `overuse:product:ct-sqlserver`"),
        "{}",
        run.describe()
    );
}

#[test]
fn an_unknown_template_lists_the_playbook_templates() {
    let run = run_in(
        &root(),
        &[
            "notice",
            "overuse:product:ct-sqlserver",
            ACME,
            "-t",
            "letter",
        ],
        2,
    );
    assert!(
        run.stderr.contains("no template `letter` in `policies/templates`; its templates are: audit-response, incident-report, notice, remediation-plan"),
        "{}",
        run.describe()
    );
}

#[test]
fn html_is_one_escaped_page_and_text_has_no_markup() {
    let html = run(
        &["notice", "overuse:product:ct-sqlserver", ACME, "-f", "html"],
        0,
    );
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for external in ["<script", "<link", "<img", "src=", "href="] {
        assert!(!html.contains(external), "{external} in\n{html}");
    }
    assert!(html.contains("<td>104</td>"), "{html}");
    let text = run(
        &["notice", "overuse:product:ct-sqlserver", ACME, "-f", "text"],
        0,
    );
    for markup in ["**", "| ---", "## "] {
        assert!(!text.contains(markup), "{markup} in\n{text}");
    }
    assert!(text.contains("Answer by 2026-11-02."), "{text}");
}

/// Names from a snapshot are text in every format: markup in a product
/// name neither formats the Markdown nor reaches the HTML as a tag.
#[test]
fn snapshot_text_cannot_add_markup() {
    let dir = playbook_with(&[]);
    let acme = std::fs::read_to_string(dir.path().join("acme.yaml")).unwrap();
    let hostile = acme.replace(
        "name: Contoso SQL Server Enterprise,",
        "name: \"<script>alert(1)</script> **SQL** | x\",",
    );
    assert_ne!(acme, hostile);
    std::fs::write(dir.path().join("acme.yaml"), hostile).unwrap();
    // The scratch playbook has no templates: use the shipped ones.
    let policies = root().join("policies");
    let p = policies.to_str().unwrap();
    let args = |format| {
        vec![
            "notice",
            "overuse:product:ct-sqlserver",
            "acme.yaml",
            "-p",
            p,
            "-f",
            format,
        ]
    };
    let md = run_in(dir.path(), &args("markdown"), 0).stdout;
    assert!(
        md.contains("\\<script\\>alert(1)\\</script\\> \\*\\*SQL\\*\\* \\| x"),
        "{md}"
    );
    let html = run_in(dir.path(), &args("html"), 0).stdout;
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; **SQL** | x"),
        "{html}"
    );
}

/// The README's sample notice, with its `...` elisions, is what `notice`
/// prints: each line shown appears in the output, in order.
#[test]
fn the_readme_sample_is_what_notice_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("```markdown\n# Licence compliance notice")
        .expect("README has a sample notice");
    let sample = &readme[start + "```markdown\n".len()..];
    let sample = &sample[..sample.find("```").unwrap()];
    let out = run(&["notice", "overuse:product:ct-sqlserver", ACME], 0);
    let mut lines = out.lines();
    for want in sample.lines().filter(|l| *l != "...") {
        assert!(
            lines.any(|got| got == want),
            "README line not printed (in order): {want}\n{out}"
        );
    }
}

/// Templates are playbook files: changing one changes the playbook digest
/// that every report carries.
#[test]
fn templates_are_hashed_into_the_playbook_digest() {
    let digest = |dir: &Path| {
        let out = run_in(dir, &["check", "acme.yaml", "-f", "json"], 1).stdout;
        let json: Value = serde_json::from_str(&out).unwrap();
        json["inputs"]["policies_digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a = playbook_with(&[("letter.j2", "Dear {{ product.name }},\n")]);
    let b = playbook_with(&[("letter.j2", "Hello {{ product.name }},\n")]);
    let none = playbook_with(&[]);
    let (da, db, dn) = (digest(a.path()), digest(b.path()), digest(none.path()));
    assert_ne!(da, db);
    assert_ne!(da, dn);
}

/// A finding under a waiver in force has no deadline: the notice says so
/// instead of printing the route's dates.
#[test]
fn a_waived_finding_has_no_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let waivers = dir.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        "waivers:\n  - rule: overuse\n    subject: ct-sqlserver\n    reason: migration\n    approved_by: j.doe\n    expires: 2026-12-31\n",
    )
    .unwrap();
    let w = waivers.to_str().unwrap();
    let out = run(
        &[
            "notice",
            "overuse:product:ct-sqlserver",
            ACME,
            "--waivers",
            w,
        ],
        0,
    );
    assert!(
        out.contains("- Waived until 2026-12-31 (migration, approved by j.doe): no answer is due before then."),
        "{out}"
    );
    assert!(!out.contains("Answer by"), "{out}");
}

/// With `--ledger`, `notice` and `incident-report` add the finding's case:
/// its id, named owner, steps and history, notes and attachments included.
/// Every figure printed still comes from the data: the finding's as above,
/// or its case as `case show -f json` prints it (dates, the attachment's
/// sha256). A finding with no case in the ledger is an error naming it.
#[test]
fn with_a_ledger_the_notice_tells_the_case_and_every_figure_is_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("cases.db").display().to_string();
    let attach = root().join(ACME).display().to_string();
    let l = ["--ledger", ledger.as_str()];
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
            "purchase order raised",
            "--attach",
            &attach,
            "--on",
            "2026-11-02",
        ],
        &[
            "case",
            "assign",
            "C-000001",
            "--to",
            "dana",
            "--by",
            "alice",
            "--on",
            "2026-11-03",
        ],
    ];
    for s in steps {
        run(&[s, &l[..]].concat(), 0);
    }
    let check: Value = serde_json::from_str(&run(&["check", ACME, "-f", "json"], 1)).unwrap();
    let position: Value = serde_json::from_str(&run(&["position", ACME, "-f", "json"], 0)).unwrap();
    let snapshot: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join(ACME)).unwrap()).unwrap();
    let inputs = check["inputs"].to_string();
    let mut rules = BTreeSet::new();
    let mut failures = Vec::new();
    for f in check["findings"].as_array().unwrap() {
        if !rules.insert(f["rule"].as_str().unwrap().to_string()) {
            continue;
        }
        let id = f["id"].as_str().unwrap();
        let mut allowed = allowed_figures(f, &position, &snapshot, &inputs);
        let case = run(
            &[&["case", "show", id, "-f", "json"][..], &l[..]].concat(),
            0,
        );
        allowed.extend(figures(&case));
        for template in ["notice", "incident-report"] {
            let out = run(
                &[&["notice", id, ACME, "-t", template][..], &l[..]].concat(),
                0,
            );
            assert!(
                out.contains("## The case"),
                "`{template}` for `{id}`:\n{out}"
            );
            let stray: Vec<String> = figures(&out).difference(&allowed).cloned().collect();
            if !stray.is_empty() {
                failures.push(format!(
                    "`{template}` for `{id}` with a ledger prints figures the data does not hold: {}\n{out}",
                    stray.join(", ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // The case of the overuse of ct-sqlserver, as its people left it.
    let out = run(
        &[
            &["notice", "overuse:product:ct-sqlserver", ACME][..],
            &l[..],
        ]
        .concat(),
        0,
    );
    let case: Value = serde_json::from_str(&run(
        &[&["case", "show", "C-000001", "-f", "json"][..], &l[..]].concat(),
        0,
    ))
    .unwrap();
    let sha = case["notes"][0]["attachment"]["sha256"]
        .as_str()
        .or_else(|| {
            case["events"].as_array().and_then(|e| {
                e.iter()
                    .find_map(|x| x["body"]["attachment"]["sha256"].as_str())
            })
        })
        .expect("the note's attachment in `case show`")
        .to_string();
    for want in [
        "- Case C-000001, open: opened 2026-11-01; last seen 2026-11-01.",
        "- Owner: dana, legal queue; acknowledged on 2026-11-02.",
        "- Step notice: done (dated 2026-11-02).",
        "- 2026-11-02: note by alice (evidence note): purchase order raised; attached acme.yaml, sha256 ",
        "- 2026-11-03: assigned by alice, to dana.",
    ] {
        assert!(out.contains(want), "no `{want}` in\n{out}");
    }
    assert!(out.contains(&sha), "{out}");
    // Without the ledger there is no case section.
    let plain = run(&["notice", "overuse:product:ct-sqlserver", ACME], 0);
    assert!(!plain.contains("## The case"));
    // A finding the ledger has no case for.
    let empty = dir.path().join("empty.db").display().to_string();
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        "trueup: 1\nsnapshot: { id: elsewhere-1, taken_at: 2026-11-01 }\n",
    )
    .unwrap();
    run(
        &["check", &other.display().to_string(), "--ledger", &empty],
        0,
    );
    let r = run_in(
        &root(),
        &[
            "notice",
            "overuse:product:ct-sqlserver",
            ACME,
            "--ledger",
            &empty,
        ],
        2,
    );
    assert!(
        r.stderr
            .contains("has no case for finding `overuse:product:ct-sqlserver`"),
        "{}",
        r.stderr
    );
}
