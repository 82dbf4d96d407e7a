//! `trueup import` run as a user runs it: each shipped sample export
//! imports into a snapshot that `trueup check` accepts; the readers cope
//! with what exports really hold (byte-order marks, `;`, quoted newlines,
//! UTF-16); output is deterministic; devices merge across sources; bad rows
//! are reported and skipped. The shipped recognition rules are checked
//! against `tests/cases/recognition.yaml`.

mod support;

use std::path::{Path, PathBuf};

use support::{cases, get, trueup, Run};
use trueup::import::recognition::{normalize, Outcome, Recognition};
use trueup::yaml::Node;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> String {
    root()
        .join("examples/imports")
        .join(name)
        .display()
        .to_string()
}

fn policies() -> String {
    root().join("policies").display().to_string()
}

/// `trueup import -p policies ARGS... -o DIR/out.yaml`; the run and the snapshot.
fn import(dir: &Path, args: &[&str]) -> (Run, String) {
    let out = dir.join("out.yaml");
    let out_s = out.display().to_string();
    let p = policies();
    let mut all = vec!["import", "-p", &p];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", &out_s]);
    let run = trueup(dir, &all).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    (run, text)
}

/// `trueup check` accepts the snapshot: exit 0 or 1, never 2.
fn check_accepts(dir: &Path) {
    let p = policies();
    let run = trueup(dir, &["check", "-p", &p, "out.yaml"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(run.code, Some(0 | 1)),
        "check refused the imported snapshot\n{}",
        run.describe()
    );
}

fn imported_ok(args: &[&str]) -> (tempfile::TempDir, Run, String) {
    let dir = tempfile::tempdir().unwrap();
    let (run, text) = import(dir.path(), args);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    check_accepts(dir.path());
    (dir, run, text)
}

#[test]
fn mecm_software_and_systems_import() {
    let (_d, run, text) = imported_ok(&[
        "--from",
        "mecm",
        &sample("mecm-software.csv"),
        &sample("mecm-systems.csv"),
    ]);
    // Software rows name devices by the systems export's Name0.
    assert!(
        text.contains("{ id: SRV-DB01, cores: 16, sockets: 2, last_seen: 2026-10-31, sources: ["),
        "{text}"
    );
    assert!(text.contains("device: SRV-DB01, product: oracle-db-ee, version: \"19c\", installed_on: 2023-09-05, discovered_by: mecm, source: "), "{text}");
    // The quoted name with a newline reads as one entry, at the line it starts on.
    assert!(
        run.stderr
            .contains("`Contoso Widget Studio 2.1` (publisher `Contoso Ltd`), first at"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("mecm-software.csv:8"),
        "{}",
        run.describe()
    );
    // A bad cell is reported at its file and line; the rest of the row is kept.
    assert!(
        run.stderr.contains(
            "mecm-systems.csv:6: `NumberOfCores0` `four` is not a whole number; left out"
        ),
        "{}",
        run.describe()
    );
    assert!(
        text.contains("{ id: WS-0103, sockets: 1, last_seen: 2026-10-12"),
        "{text}"
    );
    // Each record says where it came from; the snapshot's date is the latest scan.
    assert!(text.contains("taken_at: 2026-10-31"), "{text}");
    assert!(
        text.contains("source: \"policies/recognition.yaml:") || text.contains("recognition.yaml:"),
        "{text}"
    );
}

#[test]
fn intune_export_imports_with_its_bom_and_semicolons() {
    let (_d, run, text) = imported_ok(&[
        "--from",
        "intune",
        &sample("intune-apps.csv"),
        "--taken-at",
        "2026-11-01",
    ]);
    assert!(text.contains("{ device: LAPTOP-7F3K2, product: ms-365-apps, version: \"16.0.17928.20156\", user: \"ana.silva@example.com\", discovered_by: intune"), "{text}");
    assert!(
        text.contains("snapshot: { id: out, taken_at: 2026-11-01, sources: [intune] }"),
        "{text}"
    );
    // Zoom is noise; Contoso is unknown.
    assert!(
        run.stderr.contains("(1 ignored, 1 unrecognised"),
        "{}",
        run.describe()
    );
}

#[test]
fn osquery_results_import_both_shapes() {
    let (_d, _run, text) = imported_ok(&[
        "--from",
        "osquery",
        &sample("osquery-hosts.json"),
        &sample("osquery-packages.json"),
    ]);
    // system_info's computer_name, merged with the result log's hostIdentifier.
    assert!(
        text.contains("{ id: srv-db01, cores: 16, last_seen: 2026-10-31, sources: ["),
        "{text}"
    );
    assert!(
        text.contains("device: srv-db01, product: windows-server-datacenter, version: \"2022\""),
        "{text}"
    );
    assert!(
        text.contains("device: lnx-app02, product: oracle-db-ee"),
        "{text}"
    );
    // Array elements keep their own line.
    assert!(text.contains("osquery-hosts.json:3"), "{text}");
}

#[test]
fn csv_with_a_mapping_and_purchases_import() {
    let (_d, run, text) = imported_ok(&[
        "--from",
        "csv",
        &sample("lansweeper.csv"),
        "--mapping",
        &sample("mapping.yaml"),
        "--entitlements",
        &sample("purchases.csv"),
    ]);
    // `date_order: dmy` reads 15/03/2026; the mapping's tool is `discovered_by`.
    assert!(text.contains("{ device: WS-0102, product: ms-project-pro, version: \"2021\", installed_on: 2026-03-15, discovered_by: lansweeper"), "{text}");
    // A purchase names its product by id, or by a name the rules recognise.
    assert!(text.contains("{ id: PO-4411-2, contract: MS-EA-2025, product: ms-visio-pro, metric: device, quantity: 1"), "{text}");
    assert!(
        text.contains(
            "{ id: MS-EA-2025, publisher: Microsoft, start: 2025-01-01, end: 2027-12-31, source: "
        ),
        "{text}"
    );
    // A purchase with no quantity is a row problem, not a failed import.
    assert!(
        run.stderr
            .contains("purchases.csv:7: quantity `many` is not a whole number"),
        "{}",
        run.describe()
    );
    assert!(!text.contains("PO-6001-2"), "{text}");
}

#[test]
fn devices_merge_by_name_across_sources_keeping_every_source() {
    let (_d, _run, text) = imported_ok(&[
        "--from",
        "mecm",
        &sample("mecm-systems.csv"),
        &sample("mecm-software.csv"),
        &format!("intune:{}", sample("intune-apps.csv")),
        &format!("osquery:{}", sample("osquery-hosts.json")),
    ]);
    // `ws-0101` (Intune) is `WS-0101` (MECM); `srv-db01` (osquery) is `SRV-DB01`.
    let line = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("  - {{ id: {id},")))
            .unwrap_or_else(|| panic!("no device {id}\n{text}"))
            .to_string()
    };
    let ws = line("WS-0101");
    assert!(
        ws.contains("mecm-systems.csv:2")
            && ws.contains("mecm-software.csv:2")
            && ws.contains("intune-apps.csv:6"),
        "{ws}"
    );
    let srv = line("SRV-DB01");
    assert!(srv.contains("osquery-hosts.json:2"), "{srv}");
    assert!(
        !text.contains("id: ws-0101") && !text.contains("id: srv-db01"),
        "{text}"
    );
    // The same Office on WS-0101 from MECM and Intune is one installation.
    let office = text
        .lines()
        .filter(|l| l.contains("device: WS-0101, product: ms-office-proplus"))
        .count();
    assert_eq!(office, 1, "{text}");
}

#[test]
fn the_same_inputs_give_the_same_bytes_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = [
        "--from",
        "mecm",
        &sample("mecm-software.csv"),
        &sample("mecm-systems.csv"),
    ]
    .map(String::from);
    let b = [
        "--from",
        "mecm",
        &sample("mecm-systems.csv"),
        &sample("mecm-software.csv"),
    ]
    .map(String::from);
    fn refs(v: &[String; 4]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let (_, first) = import(dir.path(), &refs(&a));
    let (_, again) = import(dir.path(), &refs(&a));
    let (_, swapped) = import(dir.path(), &refs(&b));
    assert!(!first.is_empty());
    assert_eq!(first, again);
    assert_eq!(first, swapped);
}

/// Imports one CSV (`--from csv`, the snapshot's own field names as
/// headers) written as `bytes`.
fn import_csv(bytes: &[u8]) -> (Run, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.csv");
    std::fs::write(&f, bytes).unwrap();
    let (run, text) = import(
        dir.path(),
        &["--from", "csv", "in.csv", "--taken-at", "2026-11-01"],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    check_accepts(dir.path());
    (run, text)
}

const PLAIN: &str = "device,publisher,name,version\r\nws-1,Oracle Corporation,Oracle Database 19c Enterprise Edition,19.3\r\n";
const EXPECT: &str = "{ device: ws-1, product: oracle-db-ee, version: \"19c\", discovered_by: csv, source: \"in.csv:2\" }";

#[test]
fn reads_a_utf8_byte_order_mark() {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(PLAIN.as_bytes());
    let (_, text) = import_csv(&bytes);
    assert!(text.contains(EXPECT), "{text}");
}

#[test]
fn sniffs_semicolons() {
    let (_, text) = import_csv(PLAIN.replace(',', ";").as_bytes());
    assert!(text.contains(EXPECT), "{text}");
}

#[test]
fn reads_quoted_fields_with_newlines() {
    let csv = "device,publisher,name,version\nws-1,Oracle Corporation,\"Oracle Database 19c\nEnterprise Edition\",19.3\nws-2,Adobe,Adobe Acrobat DC,24\n";
    let (_, text) = import_csv(csv.as_bytes());
    assert!(text.contains("{ device: ws-1, product: oracle-db-ee, version: \"19c\", discovered_by: csv, source: \"in.csv:2\" }"), "{text}");
    // The next row starts on line 4, after the quoted newline.
    assert!(text.contains("source: \"in.csv:4\""), "{text}");
}

#[test]
fn reads_utf16_exports_both_ways_round() {
    for le in [true, false] {
        let mut bytes = if le {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        let text = PLAIN.replace(',', "\t");
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        let (_, out) = import_csv(&bytes);
        assert!(out.contains(EXPECT), "{out}");
    }
}

#[test]
fn reports_unrecognised_entries_most_frequent_first() {
    let csv = "device,publisher,name\nws-1,Tailspin,Tailspin Notes\nws-2,Tailspin,Tailspin Notes\nws-1,Fabrikam,Fabrikam Scan\nws-3,Tailspin,Tailspin  Notes\n,Tailspin,Orphan\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    let (run, _) = import(
        dir.path(),
        &[
            "--from",
            "csv",
            "in.csv",
            "--taken-at",
            "2026-11-01",
            "--report",
            "report.txt",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let report = std::fs::read_to_string(dir.path().join("report.txt")).unwrap();
    let notes = report
        .find("`Tailspin Notes`")
        .expect("Tailspin Notes listed");
    let scan = report
        .find("`Fabrikam Scan`")
        .expect("Fabrikam Scan listed");
    assert!(notes < scan, "{report}");
    assert!(
        report.contains("        3  `Tailspin Notes` (publisher `Tailspin`), first at in.csv:2"),
        "{report}"
    );
    // The row with no device is reported at its line; the others still import.
    assert!(
        report.contains("in.csv:6: the row has no device (column `device`)"),
        "{report}"
    );
    assert_eq!(report.lines().next(), run.stderr.lines().next());
}

#[test]
fn an_unreadable_input_is_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("odd.csv"), "Foo,Bar\n1,2\n").unwrap();
    let (run, _) = import(dir.path(), &["--from", "intune", "odd.csv"]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr
            .contains("odd.csv:1: not an Intune discovered-apps export"),
        "{}",
        run.describe()
    );
    assert!(!dir.path().join("out.yaml").exists());
    let (run, _) = import(dir.path(), &["--from", "mecm", "missing.csv"]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(run.stderr.contains("missing.csv"), "{}", run.describe());
}

#[test]
fn a_mapping_naming_a_column_the_file_lacks_is_exit_2_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "Host,App\nws-1,X\n").unwrap();
    std::fs::write(
        dir.path().join("map.yaml"),
        "installations:\n  device: Host\n  name: Application\n",
    )
    .unwrap();
    let (run, _) = import(
        dir.path(),
        &["--from", "csv", "in.csv", "--mapping", "map.yaml"],
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr
            .contains("no column `Application` for field `name`"),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("map.yaml:3"), "{}", run.describe());
    std::fs::write(
        dir.path().join("map.yaml"),
        "installations:\n  device: Host\n  nmae: App\n",
    )
    .unwrap();
    let (run, _) = import(
        dir.path(),
        &["--from", "csv", "in.csv", "--mapping", "map.yaml"],
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr
            .contains("map.yaml:3:3: unknown field `nmae` in installations"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_bad_recognition_file_is_exit_2_with_every_problem_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "device,name\nws-1,X\n").unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        "products:\n  - { id: a, name: A, publisher: P }\nrules:\n  - { name: '/[/', product: a }\n  - { name: 'x*', product: b }\n  - { name: y, prodcut: a }\n",
    )
    .unwrap();
    let (run, _) = import(
        dir.path(),
        &["--from", "csv", "in.csv", "--recognition", "r.yaml"],
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
    for want in [
        "r.yaml:4:13: bad pattern `name`:",
        "r.yaml:5:28: product `b` is not listed under `products:`",
        "r.yaml:6:16: unknown field `prodcut` in rule",
    ] {
        assert!(
            run.stderr.contains(want),
            "missing `{want}`\n{}",
            run.describe()
        );
    }
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn the_shipped_recognition_file_recognises_the_cases() {
    let file = root().join("tests/cases/recognition.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let doc = trueup::yaml::parse_document(&file, &text).unwrap().unwrap();
    let r = Recognition::load(&root().join("policies/recognition.yaml"))
        .unwrap_or_else(|d| panic!("{:?}", d.0));
    let mut failures = Vec::new();
    let cases = cases(
        &file,
        &doc,
        &[
            "note",
            "publisher",
            "name",
            "raw_version",
            "expect",
            "version",
        ],
    )
    .unwrap();
    for case in &cases {
        let s = |k: &str| {
            get(case.node, k)
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (publisher, name) = (
            normalize(&s("publisher")).into_owned(),
            normalize(&s("name")).into_owned(),
        );
        let got = match r.recognize(&publisher, &name, &s("raw_version")) {
            Outcome::Product {
                product, version, ..
            } => (r.products[product].id.clone(), version.unwrap_or_default()),
            Outcome::Ignored { .. } => ("ignored".into(), String::new()),
            Outcome::Unrecognised => ("unrecognised".into(), String::new()),
        };
        let want = (s("expect"), s("version"));
        if got != want {
            failures.push(format!(
                "{}: {}\n  expected {want:?}, got {got:?}",
                case.origin, case.note
            ));
        }
    }
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The README's import sample, run in a copy of the examples: what it shows
/// is what `trueup import` prints, in order (`...` stands for any lines).
#[test]
fn the_readme_import_sample_is_what_import_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block = readme
        .split("```text\n")
        .find(|b| b.starts_with("$ trueup import "))
        .expect("README.md has a `$ trueup import` sample");
    let block = &block[..block.find("```").expect("the block ends")];
    let (command, shown) = block.split_once('\n').unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::create_dir_all(dir.path().join("examples/imports")).unwrap();
    std::fs::copy(
        root().join("policies/recognition.yaml"),
        dir.path().join("policies/recognition.yaml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(root().join("examples/imports")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.path()
                .join("examples/imports")
                .join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let args: Vec<&str> = command.split_whitespace().skip(2).collect();
    let run = trueup(dir.path(), &args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let out: Vec<&str> = run.stderr.lines().collect();
    let mut at = 0;
    for (i, part) in shown.split("...\n").enumerate() {
        let lines: Vec<&str> = part.lines().collect();
        if lines.is_empty() {
            continue;
        }
        let found = (at..=out.len().saturating_sub(lines.len()))
            .find(|&k| out[k..k + lines.len()] == lines[..])
            .filter(|&k| i > 0 || k == 0);
        match found {
            Some(k) => at = k + lines.len(),
            None => panic!(
                "README.md's import sample is not printed as shown:\n{}\n{}",
                lines.join("\n"),
                run.describe()
            ),
        }
    }
}

// Regression guard: every bad row of a broken export was kept as a message,
// so a million of them held a million strings; past 10,000 they are counted.
#[test]
fn row_problems_past_the_cap_are_counted_not_listed() {
    let mut csv = String::from("device,publisher,name\nws-1,Adobe,Adobe Acrobat DC\n");
    for _ in 0..10_005 {
        csv.push_str(",Tailspin,Orphan\n");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    let (run, text) = import(
        dir.path(),
        &[
            "--from",
            "csv",
            "in.csv",
            "--taken-at",
            "2026-11-01",
            "--report",
            "r.txt",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        text.contains("device: ws-1, product: adobe-acrobat-dc"),
        "{text}"
    );
    let report = std::fs::read_to_string(dir.path().join("r.txt")).unwrap();
    assert!(
        report.contains("(0 ignored, 0 unrecognised, 10005 row problems)"),
        "{}",
        &report[..300]
    );
    assert_eq!(
        report
            .lines()
            .filter(|l| l.contains(": the row has no device"))
            .count(),
        10_000
    );
    assert!(report
        .contains("note: 5 more row problems are not listed (the report keeps the first 10000)"));
}

#[test]
fn a_glob_past_the_wildcard_limit_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "device,name\nws-1,X\n").unwrap();
    let glob = "*a".repeat(70);
    std::fs::write(
        dir.path().join("r.yaml"),
        format!("products:\n  - {{ id: a, name: A, publisher: P }}\nrules:\n  - {{ name: '{glob}', product: a }}\n"),
    )
    .unwrap();
    let (run, _) = import(
        dir.path(),
        &["--from", "csv", "in.csv", "--recognition", "r.yaml"],
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains("r.yaml:4:13: bad pattern `name`:"),
        "{}",
        run.describe()
    );
}

// Regression guard: a Windows-1252 export's unassigned byte 0x81 reads as the
// C1 control U+0081, which YAML does not allow raw; written as it was, the
// snapshot did not load.
#[test]
fn windows_1252_exports_read_and_what_yaml_cannot_hold_is_escaped() {
    let mut bytes = b"device,publisher,name\nws-\x81,Tailspin,Tailspin Notes \x96 Pro\nws-2,Adobe,Adobe Acrobat DC\n".to_vec();
    bytes.extend_from_slice(b"ws-3,Adobe,\"Adobe Acrobat DC\"\n");
    let (run, text) = import_csv(&bytes);
    assert!(
        text.contains("{ id: \"ws-\\u0081\", sources: [\"in.csv:2\"] }"),
        "{text}"
    );
    assert!(
        run.stderr.contains("`Tailspin Notes – Pro`"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("in.csv: not UTF-8; read as Windows-1252"),
        "{}",
        run.describe()
    );
}

#[test]
fn purchases_give_contracts_their_term_and_status() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.csv"),
        "contract,contract_start,contract_end,contract_status,terminated_on,product,metric,quantity\n\
         EA-1,2025-01-01,2027-12-31,,,ms-office-proplus,device,2\n\
         EA-1,,,,,ms-visio-pro,device,1\n\
         EA-1,2025-02-01,,,,ms-project-pro,device,1\n\
         OLD-9,,,terminated,,adobe-acrobat-dc,user,1\n\
         OLD-8,2020-01-01,,terminated,2026-06-30,autodesk-autocad,device,1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("in.csv"),
        "device,publisher,name\nws-1,Adobe,Adobe Acrobat DC\n",
    )
    .unwrap();
    let (run, text) = import(
        dir.path(),
        &[
            "--from",
            "csv",
            "in.csv",
            "--entitlements",
            "p.csv",
            "--taken-at",
            "2026-11-01",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    check_accepts(dir.path());
    // The first purchase gives the term; a later one with none agrees.
    assert!(text.contains("{ id: EA-1, publisher: Microsoft, start: 2025-01-01, end: 2027-12-31, source: \"p.csv:2\" }"), "{text}");
    assert!(
        text.contains("{ id: EA-1-3, contract: EA-1, product: ms-visio-pro"),
        "{text}"
    );
    // One that says otherwise is reported, and still imported under the first term.
    assert!(
        run.stderr.contains(
            "p.csv:4: contract `EA-1` has another term or status than at line 2; the first is kept"
        ),
        "{}",
        run.describe()
    );
    assert!(
        text.contains("{ id: EA-1-4, contract: EA-1, product: ms-project-pro"),
        "{text}"
    );
    // A terminated contract needs its date, as in a snapshot.
    assert!(
        run.stderr
            .contains("p.csv:5: a terminated contract needs `terminated_on`"),
        "{}",
        run.describe()
    );
    assert!(!text.contains("OLD-9"), "{text}");
    assert!(text.contains("{ id: OLD-8, publisher: Autodesk, start: 2020-01-01, status: terminated, terminated_on: 2026-06-30, source: \"p.csv:6\" }"), "{text}");
}

// Regression guard: files of one source were read in argument order, so the
// record kept for an installation two files repeat, and the device's cores,
// depended on which file was named first.
#[test]
fn which_record_is_kept_does_not_depend_on_argument_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.csv"),
        "device,publisher,name,cores\nws-1,Adobe,Adobe Acrobat DC,4\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.csv"),
        "device,publisher,name,cores\n\nWS-1,Adobe,Adobe Acrobat DC,8\n",
    )
    .unwrap();
    let base = ["--from", "csv", "--taken-at", "2026-11-01"];
    let (_, ab) = import(dir.path(), &[&base[..], &["a.csv", "b.csv"]].concat());
    let (_, ba) = import(dir.path(), &[&base[..], &["b.csv", "a.csv"]].concat());
    assert_eq!(ab, ba);
    assert!(
        ab.contains("{ id: WS-1, cores: 4, sources: [\"a.csv:2\", \"b.csv:3\"] }"),
        "{ab}"
    );
    assert!(ab.contains("source: \"a.csv:2\" }"), "{ab}");
    assert_eq!(ab.matches("product: adobe-acrobat-dc").count(), 1, "{ab}");
}

#[test]
fn more_files_than_records_can_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    for i in 0..65_535 {
        std::fs::write(d.join(format!("{i}.csv")), "").unwrap();
    }
    let (run, _) = import(dir.path(), &["--from", "csv", "d/*.csv"]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stderr
            .contains("65535 files to import; trueup imports at most 65534 in one run"),
        "{}",
        run.describe()
    );
}
