//! `trueup position`: the effective licence position per product and metric.

use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::{emit, load_all, parse_date, print_diagnostics};
use crate::date::Date;
use crate::engine::Evaluation;
use crate::fsutil::expand;
use crate::inventory::allocate::{allocate, Consumer, Cover, Options};
use crate::inventory::position::positions_with;
use crate::inventory::position::rows;
use crate::inventory::profile::Profiles;
use crate::inventory::{Position, Snapshot, Sym};
use crate::report;
use crate::report::position::Explained;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct PositionArgs {
    /// Snapshot files or globs
    #[arg(required = true, value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    /// Compute the position as of this date instead of each snapshot's `taken_at`
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<Date>,
    /// Output format
    #[arg(short, long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write results to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Show, per device or user of PRODUCT, the licence that covers it and why
    #[arg(long, value_name = "PRODUCT")]
    pub explain: Option<String>,
    /// The playbook folder whose metric profiles (`DIR/metrics/*.yaml`) entitlements may use
    #[arg(short, long, default_value = "policies", value_name = "DIR")]
    pub policies: std::path::PathBuf,
}

pub fn run(args: PositionArgs) -> anyhow::Result<u8> {
    let paths = expand(&args.snapshots)?;
    let profiles = match Profiles::load(&args.policies.join("metrics")) {
        Ok(p) => p,
        Err(d) => {
            print_diagnostics(&d.0);
            return Ok(2);
        }
    };
    let (snaps, mut errors) = load_all(&paths);
    // Entitlements naming a metric the playbook does not define.
    let snaps: Vec<Arc<Snapshot>> = snaps
        .into_iter()
        .filter(|s| {
            let unknown = profiles.check(s);
            let ok = unknown.is_empty();
            errors.extend(unknown);
            ok
        })
        .collect();
    print_diagnostics(&errors);
    // A table of what did load would read as the whole position; JSON says
    // `status: error` beside it.
    if !errors.is_empty() && !matches!(args.format, Format::Json) {
        return Ok(2);
    }
    if let Some(product) = &args.explain {
        if !errors.is_empty() {
            return Ok(2);
        }
        return explain(&args, &profiles, product, snaps);
    }
    let evals: Vec<Evaluation> = snaps
        .into_iter()
        .map(|snapshot| {
            let as_of = args.as_of.unwrap_or(snapshot.meta.taken_at);
            let positions = Arc::new(positions_with(&snapshot, as_of, &profiles));
            Evaluation {
                snapshot,
                as_of,
                positions,
                findings: Vec::new(),
                waivers: Default::default(),
            }
        })
        .collect();
    let text = match args.format {
        Format::Text => report::position::table(&evals),
        Format::Json => report::position::json(&evals, &errors),
    };
    emit(args.output.as_deref(), &text)?;
    let status = report::Status::of(&errors, 0);
    let rows: usize = evals.iter().map(|e| e.positions.len()).sum();
    let mut what = super::progress::count(rows, "position row");
    if !errors.is_empty() {
        what.push_str(&format!(
            ", {}",
            super::progress::count(crate::diag::total(&errors), "error")
        ));
    }
    super::progress::wrote(args.output.as_deref(), &what, status);
    Ok(status.exit_code())
}

/// `--explain PRODUCT`: every consumer of the product on each snapshot's
/// as-of date, with the pool that covers it and why.
fn explain(
    args: &PositionArgs,
    profiles: &Profiles,
    product: &str,
    snaps: Vec<Arc<Snapshot>>,
) -> anyhow::Result<u8> {
    let mut text = String::new();
    for snapshot in snaps {
        let as_of = args.as_of.unwrap_or(snapshot.meta.taken_at);
        let Some(sym) = snapshot
            .sym(product)
            .filter(|&s| snapshot.product(s).is_some() || !snapshot.installations_of(s).is_empty())
        else {
            let mut known: Vec<String> = snapshot
                .products
                .iter()
                .map(|p| snapshot.str(p.id).to_string())
                .collect();
            known.extend(
                snapshot
                    .installed_products()
                    .into_iter()
                    .map(|p| snapshot.str(p).to_string()),
            );
            let hint = crate::diag::nearest(product, &known)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            eprintln!(
                "error: {}: product `{product}` is neither listed nor installed{hint}",
                snapshot.path.display()
            );
            return Ok(2);
        };
        let alloc = allocate(
            &snapshot,
            as_of,
            &Options {
                explain: Some(sym),
                profiles: Some(profiles),
                ..Options::default()
            },
        );
        let mut covers = alloc.covers.clone();
        let key = |c: &Cover| {
            let consumer = match c.consumer {
                Consumer::Device(d) | Consumer::User(d) => (snapshot.str(d), 0),
                Consumer::Unattributed { device, line } => (snapshot.str(device), line),
            };
            (c.product != sym, snapshot.str(c.product), consumer)
        };
        covers.sort_by(|a, b| key(a).cmp(&key(b)));
        // The product's rows, and those of the products its pools or its
        // consumers' pools belong to.
        let mut shown: Vec<Sym> = vec![sym];
        for c in &covers {
            shown.push(c.product);
            if let Some(e) = c.entitlement {
                shown.push(snapshot.entitlements[e].product);
            }
        }
        let positions: Vec<Position> = rows(&snapshot, as_of, &alloc)
            .into_iter()
            .filter(|p| shown.contains(&p.product))
            .collect();
        let eval = Evaluation {
            snapshot,
            as_of,
            positions: Arc::new(positions),
            findings: Vec::new(),
            waivers: Default::default(),
        };
        let explained: Vec<Explained> = covers
            .iter()
            .map(|cover| Explained {
                snapshot: &eval.snapshot,
                cover,
            })
            .collect();
        text.push_str(&match args.format {
            Format::Text => report::position::explain_table(&eval, product, &explained),
            Format::Json => report::position::explain_json(&eval, product, &explained),
        });
    }
    emit(args.output.as_deref(), &text)?;
    Ok(0)
}
