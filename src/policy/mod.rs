//! Policies: Rhai scripts compiled once into a [`Playbook`].

pub mod error;
pub mod host;
pub mod load;
pub mod sandbox;

pub use load::{Module, Playbook};
pub use sandbox::Limits;
