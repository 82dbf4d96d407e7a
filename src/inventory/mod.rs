//! Inventory snapshots: loading, validation and the licence position.

pub mod allocate;
pub mod load;
pub mod model;
pub mod position;
pub mod profile;
pub mod reclaim;
mod split;

pub use load::load;
pub use model::{Metric, RiskTier, Snapshot, Sym};
pub use position::{positions, Position};
