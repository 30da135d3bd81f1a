//! `decoder-worker decode`: the black-box decoding contract. Frames as hex (arguments, or one per
//! line on stdin) or raw bytes from a file in; one canonical-JSON `Position` per line out; each
//! failed frame's error on stderr and exit status 1 if any failed.

use astra_codec::frame::{self, FrameKind};
use astra_codec::login::parse_login;
use astra_codec::{DecodeError, DecodeOptions, Layout, decode_frame};
use astra_platform::boot::{EXIT_CONFIG, EXIT_FAILED};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Frames as hex (whitespace inside is ignored). Without any, frames are read from stdin,
    /// one per line.
    pub frames: Vec<String>,
    /// Read raw frame bytes from this file (binary; may hold several frames back to back).
    #[arg(long, env = "ASTRA_FILE", conflicts_with = "frames")]
    pub file: Option<PathBuf>,
    /// The session's login line (`$ASTRA;...`), for $MODE,6 X/Z frames.
    #[arg(long, env = "ASTRA_LOGIN")]
    pub login: Option<String>,
    /// Layout of X modules 9 and 44.
    #[arg(long, value_enum, default_value_t = Layout::Legacy, env = "ASTRA_LAYOUT")]
    pub layout: Layout,
}

/// Runs the subcommand: exit code 0 when every frame decoded, 1 when some did not, 2 when the
/// input could not be read or the login line is invalid (the message goes to stderr).
pub fn run(args: DecodeArgs) -> ExitCode {
    match decode(&args) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_FAILED),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Decodes every input, printing positions and per-frame errors; returns how many failed.
fn decode(args: &DecodeArgs) -> anyhow::Result<usize> {
    let login = args
        .login
        .as_deref()
        .map(|l| parse_login(l.as_bytes()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--login: {e}"))?;
    let opts = DecodeOptions {
        layout: args.layout,
    };
    let inputs = read_inputs(args)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    for (label, input) in inputs {
        let result = input.and_then(|bytes| {
            decode_frame(&bytes, login.as_ref(), &opts).map_err(|e| format!("{}: {e}", e.kind()))
        });
        match result {
            Ok(positions) => {
                for p in positions {
                    serde_json::to_writer(&mut out, &p)?;
                    out.write_all(b"\n")?;
                }
            }
            Err(msg) => {
                failed += 1;
                eprintln!("{label}: {msg}");
            }
        }
    }
    out.flush()?;
    Ok(failed)
}

type Input = (String, Result<Vec<u8>, String>);

fn read_inputs(args: &DecodeArgs) -> anyhow::Result<Vec<Input>> {
    let hex_input = |label: String, text: &str| (label, parse_hex(text));
    if let Some(path) = &args.file {
        let data = std::fs::read(path)?;
        return Ok(split_file(&data)
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let label = format!("frame {}", i + 1);
                (
                    label,
                    r.map(<[u8]>::to_vec)
                        .map_err(|e| format!("{}: {e}", e.kind())),
                )
            })
            .collect());
    }
    if !args.frames.is_empty() {
        return Ok(args
            .frames
            .iter()
            .enumerate()
            .map(|(i, h)| hex_input(format!("frame {}", i + 1), h))
            .collect());
    }
    let mut inputs = Vec::new();
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        if !line.trim().is_empty() {
            inputs.push(hex_input(format!("line {}", i + 1), &line));
        }
    }
    Ok(inputs)
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&clean).map_err(|e| format!("invalid_hex: {e}"))
}

/// Splits a raw capture into binary frames; login lines and ACK bytes in it are skipped.
fn split_file(data: &[u8]) -> Vec<Result<&[u8], DecodeError>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        match frame::check(rest, usize::from(u16::MAX)) {
            Ok(Some((kind, len))) => {
                let (head, tail) = rest.split_at(len);
                if let FrameKind::Binary(_) = kind {
                    out.push(Ok(head));
                }
                rest = tail;
            }
            Ok(None) => {
                out.push(Err(DecodeError::Truncated {
                    offset: data.len() - rest.len(),
                    needed: rest.len() + 1,
                    available: rest.len(),
                }));
                break;
            }
            Err(e) => {
                out.push(Err(match e {
                    frame::FrameError::Length(d) => d,
                    frame::FrameError::UnknownLeadingByte(b) => DecodeError::UnknownProtocol(b),
                    frame::FrameError::LineTooLong { max } => DecodeError::FrameTooLarge {
                        declared: rest.len(),
                        max,
                    },
                }));
                break;
            }
        }
    }
    out
}
