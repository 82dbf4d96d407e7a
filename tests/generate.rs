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
    // Every rule of the default playbook has work to do, so a benchmark
    // of the playbook measures all of it. Spikes come out of the
    // installations asked for, and still fire.
    let playbook = trueup::policy::Playbook::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        trueup::policy::Limits::default(),
    )
    .unwrap();
    let shipped: Vec<String> = playbook.rules().map(|m| m.rule_id()).collect();
    assert!(shipped.len() >= 8, "{shipped:?}");
    for rule in &shipped {
        assert!(
            rules.contains(&rule.as_str()),
            "no `{rule}` finding: {rules:?}"
        );
    }
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

/// The generated snapshot gives the licence position every kind of work at
/// every size: several pools of different metrics, some ordered by
/// `priority`; core pools; an edition that `covers` another; a `perpetual`
/// entitlement still in force under an expired contract; installations
/// removed before the snapshot date and installed after it; devices last
/// seen long ago, without cores, without a primary user; inactive users.
#[test]
fn generate_exercises_every_part_of_the_position() {
    use std::collections::{HashMap, HashSet};
    use trueup::inventory::model::ContractStatus;
    use trueup::inventory::Metric;

    let dir = tempfile::tempdir().unwrap();
    for (n, seed) in [(500usize, 1u64), (2000, 7), (20_000, 1)] {
        let path = dir.path().join(format!("g{n}-{seed}.yaml"));
        let out = trueup(&[
            "generate",
            "--installations",
            &n.to_string(),
            "--seed",
            &seed.to_string(),
            "-o",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let snap = trueup::inventory::load(&path)
            .unwrap_or_else(|d| panic!("{n} installations do not load:\n{d}"));
        let at = format!("{n} installations, seed {seed}");
        let as_of = snap.meta.taken_at;
        assert_eq!(snap.installations.len(), n, "{at}");

        let mut metrics: HashMap<_, HashSet<Metric>> = HashMap::new();
        for e in &snap.entitlements {
            metrics.entry(e.product).or_default().insert(e.metric);
        }
        let pools_of = |want: &[Metric]| {
            metrics
                .values()
                .filter(|m| want.iter().all(|w| m.contains(w)))
                .count()
        };
        assert!(pools_of(&[Metric::Device, Metric::User]) >= 2, "{at}");
        assert!(pools_of(&[Metric::Device, Metric::Core]) >= 1, "{at}");
        assert!(
            metrics
                .values()
                .any(|m| m.len() == 1 && m.contains(&Metric::Core)),
            "{at}: a product licensed by core alone"
        );
        assert!(
            snap.entitlements.iter().any(|e| e.priority.is_some()),
            "{at}: priority"
        );
        let covering = snap.products.iter().find(|p| !p.covers.is_empty());
        let covering = covering.unwrap_or_else(|| panic!("{at}: covers"));
        let covered = snap.product(covering.covers[0]).unwrap();
        assert!(
            covering.name.contains("Enterprise") && covered.name.contains("Standard"),
            "{at}: {} covers {}",
            covering.name,
            covered.name
        );
        let perpetual = snap
            .entitlements
            .iter()
            .find(|e| e.perpetual)
            .unwrap_or_else(|| panic!("{at}: perpetual"));
        let contract = &snap.contracts[perpetual.contract_ix];
        assert_eq!(contract.status, ContractStatus::Expired, "{at}");
        assert!(contract.end.unwrap() < as_of, "{at}");
        assert!(snap.entitlement_valid(perpetual, as_of), "{at}");

        let i = &snap.installations;
        assert!(
            i.iter().any(|i| i.removed_on.is_some_and(|d| d < as_of)),
            "{at}: removed before the snapshot date"
        );
        assert!(
            i.iter().any(|i| i.installed_on.is_some_and(|d| d > as_of)),
            "{at}: installed after the snapshot date"
        );
        assert!(
            i.iter().any(|i| i.user.is_none()
                && snap
                    .device(i.device)
                    .is_some_and(|d| d.primary_user.is_none())),
            "{at}: no user on a listed device without primary user"
        );
        let d = &snap.devices;
        assert!(d.iter().any(|d| d.cores.is_none()), "{at}: no cores");
        assert!(
            d.iter()
                .any(|d| d.last_seen.is_some_and(|s| s.days_until(as_of) >= 45)),
            "{at}: stale last_seen"
        );
        assert!(
            d.iter()
                .any(|d| d.last_seen.is_some_and(|s| s.days_until(as_of) < 14)),
            "{at}: recent last_seen"
        );
        assert!(snap.users.iter().any(|u| !u.active), "{at}: inactive user");
    }
}

/// `--publisher-metrics`: a third of the products on the shipped metric
/// profiles, each with enough bought whatever the processor family (no
/// profile product is short), servers with a processor family, VMs on
/// hosts and hosts in clusters; the snapshot checks against the shipped
/// playbook with every profile row in its JSON.
#[test]
fn publisher_metrics_put_a_third_of_products_on_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pm.yaml");
    let out = trueup(&[
        "generate",
        "--installations",
        "20000",
        "--publisher-metrics",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let snap = trueup::inventory::load(&path).unwrap_or_else(|d| panic!("{d}"));
    let profiles = [
        "oracle-processor",
        "oracle-nup",
        "mssql-core",
        "windows-server-core",
        "ibm-pvu",
    ];
    let on_profiles: std::collections::HashSet<_> = snap
        .entitlements
        .iter()
        .filter(|e| profiles.contains(&e.metric.as_str()))
        .map(|e| e.product)
        .collect();
    assert_eq!(on_profiles.len(), snap.products.len() / 3);
    let d = &snap.devices;
    assert!(d
        .iter()
        .all(|d| d.cpu.is_some() || d.virtual_host.is_some()));
    assert!(d.iter().filter(|d| d.virtual_host.is_some()).count() > 50);
    assert!(d.iter().filter(|d| d.cluster.is_some()).count() > 50);

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = trueup(&[
        "position",
        "-p",
        root.join("policies").to_str().unwrap(),
        "-f",
        "json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<&serde_json::Value> = json["positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| profiles.contains(&r["metric"].as_str().unwrap()))
        .collect();
    for metric in profiles {
        assert!(
            rows.iter().any(|r| r["metric"] == metric),
            "no `{metric}` row"
        );
    }
    for r in rows.iter().filter(|r| r["entitled"].as_u64() > Some(0)) {
        assert_eq!(
            r["shortfall"], 0,
            "a profile product bought with room is short: {r}"
        );
    }
}

/// Three weeks past a generated snapshot's date most devices have not
/// reported for more than 30 days: the shipped playbook must still check
/// 100,000 installations within its default limits, so rules ask the host
/// for each device's riskiest tier rather than looking every product up.
#[test]
fn the_shipped_playbook_checks_a_large_estate_gone_stale_within_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g100k.yaml");
    let out = trueup(&[
        "generate",
        "--installations",
        "100000",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = trueup(&[
        "check",
        "-p",
        root.join("policies").to_str().unwrap(),
        "--as-of",
        "2026-11-22",
        "--fail-on",
        "never",
        "-f",
        "json",
        path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stale = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "stale-inventory")
        .count();
    assert!(stale > 5_000, "{stale} stale devices");
}
