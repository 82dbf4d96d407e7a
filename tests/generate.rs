//! `trueup generate`: deterministic, loadable, and gives the playbook work.

use std::process::Command;

fn trueup(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trueup"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("trueup runs")
}

#[test]
fn generate_is_deterministic_loads_and_has_findings() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let a = a.to_str().unwrap();
    let first = trueup(&[
        "generate",
        "--installations",
        "2000",
        "--seed",
        "7",
        "-o",
        a,
    ]);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let second = trueup(&["generate", "--installations", "2000", "--seed", "7"]);
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    assert!(
        std::fs::read(a).unwrap() == second.stdout,
        "same seed, same bytes"
    );

    let position = trueup(&["position", a]);
    assert_eq!(position.status.code(), Some(0), "{position:?}");

    let check = trueup(&["check", "-f", "json", a]);
    let code = check.status.code();
    assert!(matches!(code, Some(0 | 1)), "{check:?}");
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"overuse"), "{rules:?}");
    assert!(rules.contains(&"unlicensed"), "{rules:?}");
    // Spikes come out of the installations asked for, and still fire.
    assert!(rules.contains(&"install-spike"), "{rules:?}");
}

/// Regression: `--installations N` used to write N plus the spike
/// installations (and 1 for 0), so a "1M" benchmark snapshot held more.
#[test]
fn generate_writes_exactly_the_installations_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    for n in [0usize, 1, 7, 12, 13, 1000, 20_000] {
        let path = dir.path().join(format!("g{n}.yaml"));
        let out = trueup(&[
            "generate",
            "--installations",
            &n.to_string(),
            "-o",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let snapshot = trueup::inventory::load::load(&path)
            .unwrap_or_else(|d| panic!("--installations {n} does not load:\n{d}"));
        assert_eq!(
            snapshot.installations.len(),
            n,
            "--installations {n} wrote {} installations",
            snapshot.installations.len()
        );
        let summary = String::from_utf8_lossy(&out.stderr);
        assert!(
            summary.starts_with(&format!("generated {n} installations,")),
            "{summary}"
        );
    }
}

/// Regression: `generate -o FILE` truncated FILE and then streamed into it,
/// so a reader (or a crash) in between saw a prefix of a snapshot. Now the
/// new snapshot replaces the old file whole: a reader that had the old one
/// open still reads all of it, and the path holds the complete new one.
#[test]
fn generate_replaces_an_existing_file_whole() {
    use std::io::Read;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.yaml");
    let old = trueup(&[
        "generate",
        "--installations",
        "500",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(old.status.code(), Some(0), "{old:?}");
    let old_bytes = std::fs::read(&path).unwrap();
    let mut reader = std::fs::File::open(&path).unwrap();

    let new = trueup(&[
        "generate",
        "--installations",
        "3000",
        "--seed",
        "2",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(new.status.code(), Some(0), "{new:?}");

    let mut seen = Vec::new();
    reader.read_to_end(&mut seen).unwrap();
    assert!(
        seen == old_bytes,
        "a reader of the old file read {} of its {} bytes",
        seen.len(),
        old_bytes.len()
    );
    let snapshot = trueup::inventory::load::load(&path)
        .unwrap_or_else(|d| panic!("the new snapshot does not load:\n{d}"));
    assert_eq!(snapshot.installations.len(), 3000);
    let stdout = trueup(&["generate", "--installations", "3000", "--seed", "2"]);
    assert!(
        std::fs::read(&path).unwrap() == stdout.stdout,
        "the file holds the whole new snapshot"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["snapshot.yaml"], "no temporary file is left behind");
}

/// What is not a regular file is written to, never replaced by one.
#[cfg(unix)]
#[test]
fn generate_writes_through_to_dev_null() {
    use std::os::unix::fs::FileTypeExt;

    let out = trueup(&["generate", "--installations", "200", "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.starts_with("generated 200 installations,"),
        "{summary}"
    );
    let kind = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(kind.is_char_device(), "/dev/null is still a device");
}
