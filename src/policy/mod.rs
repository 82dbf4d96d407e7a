//! Policies: Rhai scripts compiled once into a [`Playbook`].

pub mod error;
pub mod host;
pub mod load;
pub mod sandbox;

pub use load::{Module, Playbook};
pub use sandbox::Limits;

/// Largest script file read.
pub const MAX_SCRIPT_BYTES: u64 = 16 << 20;
