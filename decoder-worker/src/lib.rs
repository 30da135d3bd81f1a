//! The decoder-worker service: consumes ASTRA_RAW, decodes with `astra_codec`, adds addresses,
//! publishes positions; plus the `decode` and `replay` commands.

pub mod cli;
pub mod geocode;
pub mod service;
