//! The decoder-worker service: consumes ASTRA_RAW, decodes with `astra_codec`, adds addresses,
//! publishes positions; plus the `decode` and `replay` commands.

pub mod cli; // the command line (`Cli`) and the offline `decode` command
pub mod geocode; // reverse geocoding and fix accuracy (tests drive the providers directly)
pub mod service; // `run` (the scale-out service) and `replay`
