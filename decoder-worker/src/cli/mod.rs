//! Command-line subcommands of the `decoder-worker` binary.

pub mod decode;
