//! `trueup generate`: write a synthetic, deterministic snapshot of a given size.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;

use crate::generate::{write_snapshot, Params};

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// How many installations (the other collections scale with it)
    #[arg(long, value_name = "N")]
    pub installations: usize,
    /// Seed of the generator: the same seed and size give the same bytes
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Put a third of the products on the shipped publisher metric profiles
    /// (oracle-processor, oracle-nup, mssql-core, windows-server-core,
    /// ibm-pvu), with processor families, VMs and clusters
    #[arg(long)]
    pub publisher_metrics: bool,
    /// Write the snapshot to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<u8> {
    let params = Params {
        installations: args.installations,
        seed: args.seed,
        publisher_metrics: args.publisher_metrics,
    };
    let stats = match &args.output {
        // Streamed into a temporary beside the file, then renamed, like
        // every other `-o`: a reader sees the old file or the whole new
        // one, never a prefix.
        Some(path) => {
            crate::fsutil::write_atomic_with(path, |mut w| write_snapshot(&mut w, params))?
        }
        None => {
            let mut w = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            match write_snapshot(&mut w, params).and_then(|s| w.flush().map(|_| s)) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
                Err(e) => return Err(e.into()),
            }
        }
    };
    eprintln!(
        "generated {} installations, {} products ({} over-deployed, {} unlicensed, {} spiking), {} contracts, {} entitlements, {} devices, {} users",
        stats.installations,
        stats.products,
        stats.over_deployed,
        stats.unlicensed,
        stats.spiking,
        stats.contracts,
        stats.entitlements,
        stats.devices,
        stats.users
    );
    Ok(0)
}
