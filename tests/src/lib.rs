//! Shared pieces of the cross-crate suites: proptest strategies for packets of both
//! protocols, their neutral JSON descriptions (shared with the Node reference scripts),
//! runners for the Node and Python reference scripts, and raw clients.

pub mod describe;
pub mod example;
pub mod node;
pub mod process;
pub mod proxy;
pub mod python;
pub mod raw;
pub mod redis;
pub mod strategies;
pub mod wait;

/// The README's code blocks, compiled as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
