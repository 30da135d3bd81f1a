//! `decoder-worker`: decodes Astra frames. `decode` is the offline black-box contract; `run`
//! (the scale-out service) and `replay` come with the service.

use astra_decoder::{cli, service};
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
    /// Run a decoder replica: consume ASTRA_RAW, publish positions, DLQ undecodable frames.
    Run(service::RunArgs),
    /// Re-decode the DLQ or a range of ASTRA_RAW after a decoder fix.
    Replay(service::ReplayArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Decode(args) => cli::decode::run(args),
        Command::Run(args) => service::run_command(args),
        Command::Replay(args) => service::replay_command(args),
    };
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
