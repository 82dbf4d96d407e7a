//! trueup: a policy-as-code rule engine for commercial software licence
//! compliance.
//!
//! A playbook (a folder of Rhai scripts) is evaluated against YAML inventory
//! snapshots: [`inventory`] loads and validates snapshots and computes the
//! licence position, [`policy`] compiles and sandboxes scripts, [`engine`]
//! evaluates rules into findings, [`report`] renders them; [`remedy`]
//! applies a finding's remediation options to a snapshot in memory.

pub mod command;
pub mod dashboard;
pub mod date;
pub mod diag;
pub mod diff;
pub mod engine;
pub mod explain;
pub mod fsutil;
pub mod generate;
pub mod import;
pub mod inventory;
pub mod ledger;
pub mod lint;
pub mod notice;
pub mod policy;
pub mod remedy;
pub mod report;
pub mod routing;
pub mod simulate;
pub mod testing;
pub mod waivers;
pub mod yaml;
