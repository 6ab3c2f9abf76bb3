//! Shared pieces of the cross-crate suites: proptest strategies for packets of both
//! protocols, their neutral JSON descriptions (shared with the Node reference scripts),
//! and a runner for those scripts.

pub mod describe;
pub mod example;
pub mod node;
pub mod raw;
pub mod strategies;
