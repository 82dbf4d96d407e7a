//! `trueup import`: discovery-tool exports in, a snapshot out, with a
//! report of what no recognition rule knows and which rows could not be read.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{parse_date, print_diagnostics};
use crate::date::Date;
use crate::fsutil::expand;
use crate::import::{self, Mapping, Options, Recognition, Source};

/// Entries of each list the report shows on stderr; `--report FILE` has all.
const SHOWN: usize = 20;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The tool the exports come from
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub from: Source,
    /// Export files or globs; `SOURCE:FILE` reads one file as from another tool
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Write the snapshot to SNAPSHOT (atomically)
    #[arg(short, long, required = true, value_name = "SNAPSHOT")]
    pub output: PathBuf,
    /// The playbook folder, whose `recognition.yaml` is the default recognition file
    #[arg(short, long, default_value = "policies", value_name = "DIR")]
    pub policies: PathBuf,
    /// The recognition rules (default: DIR/recognition.yaml)
    #[arg(long, value_name = "FILE")]
    pub recognition: Option<PathBuf>,
    /// Which CSV column is which field, for `--from csv` and `--entitlements`
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// A purchases CSV, imported as entitlements and their contracts
    #[arg(long, value_name = "FILE")]
    pub entitlements: Option<PathBuf>,
    /// The snapshot's id (default: the output file's name without extension)
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// The snapshot's date (default: the latest last inventory in the inputs)
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub taken_at: Option<Date>,
    /// Also write the whole report (every unrecognised entry and unread row) to FILE
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<u8> {
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for arg in &args.files {
        let (source, pattern) = match arg.split_once(':') {
            Some((s, rest)) => match Source::from_str(s, false) {
                Ok(source) => (source, rest),
                Err(_) => (args.from, arg.as_str()),
            },
            None => (args.from, arg.as_str()),
        };
        for f in expand(&[pattern.to_string()])? {
            if seen.insert((source, f.clone())) {
                files.push((source, f));
            }
        }
    }
    // Records name their file by a 16-bit index.
    if files.len() + 1 > usize::from(u16::MAX) {
        anyhow::bail!(
            "{} files to import; trueup imports at most {} in one run",
            files.len(),
            u16::MAX - 1
        );
    }
    let recognition_path = args
        .recognition
        .clone()
        .unwrap_or_else(|| args.policies.join("recognition.yaml"));
    let recognition = Recognition::load(&recognition_path);
    let mapping = match &args.mapping {
        Some(p) => Mapping::load(p).map(Some),
        None => Ok(None),
    };
    let (recognition, mapping) = match (recognition, mapping) {
        (Ok(r), Ok(m)) => (r, m.unwrap_or_default()),
        (r, m) => {
            let diags: Vec<_> = r
                .err()
                .into_iter()
                .chain(m.err())
                .flat_map(|d| d.0)
                .collect();
            print_diagnostics(&diags);
            return Ok(2);
        }
    };
    let id = args.id.clone().unwrap_or_else(|| {
        args.output.file_stem().map_or_else(
            || "imported".to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    });
    let opts = Options {
        files,
        recognition: &recognition,
        mapping,
        entitlements: args.entitlements.clone(),
        id,
        taken_at: args.taken_at,
    };
    let imported = match import::import(&opts) {
        Ok(i) => i,
        Err(diags) => {
            print_diagnostics(&diags);
            return Ok(2);
        }
    };
    crate::fsutil::write_atomic_with(&args.output, |w| import::write::snapshot(&imported, w))?;
    let output = args.output.display().to_string();
    if let Some(path) = &args.report {
        crate::fsutil::write_atomic(path, imported.report.render(&output, None).as_bytes())?;
    }
    let text = imported.report.render(&output, Some(SHOWN));
    eprint!("{}", crate::report::escape::text(&text));
    Ok(0)
}
