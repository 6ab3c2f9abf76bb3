//! Shared helpers for the interop suites.
