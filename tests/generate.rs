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
}
