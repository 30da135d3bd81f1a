//! Encoder for every decodable Astra protocol: turns `Position`s back into the exact wire bytes a
//! device would send (PROTOCOL.md §§2, 6-10). It is written from the protocol reference, not from
//! the decoder, so that round trips catch decoder bugs; it also drives the device simulator.
//!
//! Each record is encoded from its *wire-level* fields: `reason_flags`, `status_flags`,
//! `module_mask` and the measured values. Derived fields (`reasons`, `status`, `ignition`,
//! `valid`, `gsm_dbm`, raw copies …) are ignored. Missing optional values encode as zero. A
//! value that does not fit its wire field panics (see [`wire`]).
//!
//! ```ignore
//! let bytes = encode(Protocol::K, "866224026657899", &records, &EncodeOptions::default());
//! ```

pub mod c;
pub mod k;
pub mod legacy;
pub mod m;
pub mod v;
pub mod wire;
pub mod x;
pub mod x_modules;

use astra_codec::Layout;
use astra_codec::crc::crc16_modbus;
use astra_proto::v1::Position;

/// The protocol variants the encoder (and the decoder) support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    C,
    K,
    M,
    V,
    X,
    Z,
}

impl Protocol {
    pub const ALL: [Self; 6] = [Self::C, Self::K, Self::M, Self::V, Self::X, Self::Z];

    /// The frame's first byte (the ASCII letter).
    pub fn id(self) -> u8 {
        match self {
            Self::C => b'C',
            Self::K => b'K',
            Self::M => b'M',
            Self::V => b'V',
            Self::X => b'X',
            Self::Z => b'Z',
        }
    }

    /// The letter as the decoder puts it in `Position.protocol`.
    pub fn name(self) -> &'static str {
        match self {
            Self::C => "C",
            Self::K => "K",
            Self::M => "M",
            Self::V => "V",
            Self::X => "X",
            Self::Z => "Z",
        }
    }

    /// Whether the protocol is modular (X/Z) and so knows $MODE,4 vs $MODE,6.
    pub fn is_modular(self) -> bool {
        matches!(self, Self::X | Self::Z)
    }
}

/// How an X/Z device identifies itself (PROTOCOL.md §3.2). C/K/M/V always carry the IMEI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XMode {
    /// `$MODE,4`: no login line; every packet header carries the 7-byte IMEI.
    Mode4,
    /// `$MODE,6` (the default): the device logs in first; packet headers carry no IMEI.
    #[default]
    Mode6,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct EncodeOptions {
    /// X/Z only: IMEI in the header or not.
    pub mode: XMode,
    /// X/Z only: the firmware layout of modules 9 and 44.
    pub layout: Layout,
}

impl EncodeOptions {
    pub fn mode4() -> Self {
        Self {
            mode: XMode::Mode4,
            ..Self::default()
        }
    }

    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }
}

/// Encodes `records` as one frame of `protocol` for the device `imei`.
///
/// # Panics
/// If a value does not fit its wire field, `imei` is not 15 digits, or (X/Z) there are no
/// records or more than 255.
pub fn encode(
    protocol: Protocol,
    imei: &str,
    records: &[Position],
    opts: &EncodeOptions,
) -> Vec<u8> {
    match protocol {
        Protocol::C => c::encode(imei, records),
        Protocol::K => k::encode(imei, records),
        Protocol::M => m::encode(imei, records),
        Protocol::V => v::encode(imei, records),
        Protocol::X | Protocol::Z => {
            let header_imei = (opts.mode == XMode::Mode4).then_some(imei);
            x::encode(protocol.id(), header_imei, records, opts.layout)
        }
    }
}

/// The `$ASTRA;…` login line an X/Z device sends first in `$MODE,6` (with CR LF).
pub fn login_line(protocol: Protocol, imei: &str, model: &str, firmware: &str) -> Vec<u8> {
    format!(
        "$ASTRA;{model};{imei};;{firmware};{};1\r\n",
        protocol.name()
    )
    .into_bytes()
}

/// Wraps a body (everything between the length field and the CRC) into a frame: id, u16 total
/// length, body, CRC-16/MODBUS big-endian.
pub fn frame(id: u8, body: &[u8]) -> Vec<u8> {
    let total = body.len() + 5;
    let len = u16::try_from(total).unwrap_or_else(|_| panic!("frame of {total} bytes"));
    let mut out = Vec::with_capacity(total);
    out.push(id);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    let crc = crc16_modbus(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// The 7-byte binary IMEI: the first 8 digits as a u32, the last 7 as a u24 (PROTOCOL.md §2).
pub fn imei_bytes(imei: &str) -> [u8; 7] {
    assert!(
        imei.len() == 15 && imei.bytes().all(|b| b.is_ascii_digit()),
        "IMEI {imei:?} is not 15 digits"
    );
    let head: u32 = imei[..8].parse().expect("digits");
    let tail: u32 = imei[8..].parse().expect("digits");
    let mut out = [0u8; 7];
    out[..4].copy_from_slice(&head.to_be_bytes());
    out[4..].copy_from_slice(&tail.to_be_bytes()[1..]);
    out
}

/// Completes a 14-digit prefix with its Luhn check digit (the X decoder checks $MODE,4 IMEIs).
pub fn luhn_complete(prefix14: &str) -> String {
    assert!(prefix14.len() == 14 && prefix14.bytes().all(|b| b.is_ascii_digit()));
    let sum: u32 = prefix14
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    format!("{prefix14}{}", (10 - sum % 10) % 10)
}

/// The header of C/K/M/V frames after id and length: the binary IMEI, then the records.
pub(crate) fn legacy_frame(
    id: u8,
    imei: &str,
    records: &[Position],
    record: fn(&Position) -> Vec<u8>,
) -> Vec<u8> {
    let mut body = imei_bytes(imei).to_vec();
    for p in records {
        body.extend_from_slice(&record(p));
    }
    frame(id, &body)
}
