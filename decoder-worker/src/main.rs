//! `decoder-worker`: decodes Astra frames. `decode` is the offline black-box contract; `run`
//! (the scale-out service) and `replay` come with the service.

use astra_decoder::cli;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "decoder-worker",
    version,
    about = "Astra Telematics frame decoder"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode frames given as hex or a raw file and print one JSON Position per line.
    Decode(cli::decode::DecodeArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Decode(args) => cli::decode::run(args),
    };
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
