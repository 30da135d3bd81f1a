//! Splitting a byte stream into frames (PROTOCOL.md §2, §3.1, §12.1).
//!
//! As in mini-redis, [`check`] first decides whether the buffer holds one whole frame and how
//! long it is, without allocating; only then does the caller take the bytes. A stream carries
//! three kinds of frame: binary packets (id letter, u16 total length, body, CRC-16/MODBUS
//! big-endian), ASCII lines starting with `$`, and a lone 0x06.

use super::crc::crc16_modbus;
use super::error::DecodeError;

/// Smallest binary frame: id (1) + length (2) + CRC (2).
pub const MIN_FRAME: usize = 5;
/// Default upper bound on a frame (binary or line); devices send at most ~1 kB.
pub const DEFAULT_MAX_FRAME: usize = 4096;
/// The acknowledgement byte, in both directions.
pub const ACK: u8 = 0x06;

/// What kind of frame starts the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A binary packet whose first byte is this protocol letter.
    Binary(u8),
    /// An ASCII line (`$...`); the length includes its CR / CR LF terminator.
    Line,
    /// A lone acknowledgement byte from the device.
    Ack,
    /// A stray CR or LF (the tail of a line that ended in a bare CR); skip it.
    Blank,
}

/// Protocol id bytes of the binary family (PROTOCOL.md §1). Anything else at a frame start
/// means the stream is out of step.
pub(crate) fn is_protocol_id(b: u8) -> bool {
    matches!(
        b,
        b'A' | b'C'
            | b'F'
            | b'G'
            | b'H'
            | b'K'
            | b'L'
            | b'M'
            | b'N'
            | b'P'
            | b'R'
            | b'S'
            | b'T'
            | b'V'
            | b'X'
            | b'Y'
            | b'Z'
    )
}

/// Why the stream cannot be split any further: the connection cannot resynchronise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown leading byte {0:#04x}")]
    UnknownLeadingByte(u8),
    #[error(transparent)]
    Length(DecodeError),
    #[error("ASCII line longer than {max} bytes without CR LF")]
    LineTooLong { max: usize },
}

/// Whether `buf` starts with a whole frame: `Ok(Some((kind, len)))` if so, `Ok(None)` if more
/// bytes are needed, `Err` if the stream is corrupt.
pub fn check(buf: &[u8], max_frame: usize) -> Result<Option<(FrameKind, usize)>, FrameError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    match first {
        ACK => Ok(Some((FrameKind::Ack, 1))),
        b'\r' | b'\n' => Ok(Some((FrameKind::Blank, 1))),
        b'$' => check_line(buf, max_frame),
        id if is_protocol_id(id) => {
            let (Some(&hi), Some(&lo)) = (buf.get(1), buf.get(2)) else {
                return Ok(None);
            };
            let declared = usize::from(u16::from_be_bytes([hi, lo]));
            if declared < MIN_FRAME {
                return Err(FrameError::Length(DecodeError::LengthTooSmall {
                    declared,
                    min: MIN_FRAME,
                }));
            }
            if declared > max_frame {
                return Err(FrameError::Length(DecodeError::FrameTooLarge {
                    declared,
                    max: max_frame,
                }));
            }
            Ok((buf.len() >= declared).then_some((FrameKind::Binary(id), declared)))
        }
        other => Err(FrameError::UnknownLeadingByte(other)),
    }
}

/// A line ends at LF, or at a CR not followed by LF (some command replies end in a bare CR).
fn check_line(buf: &[u8], max_frame: usize) -> Result<Option<(FrameKind, usize)>, FrameError> {
    let window = &buf[..buf.len().min(max_frame)];
    match window.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) => {
            let crlf = window.get(i) == Some(&b'\r') && buf.get(i + 1) == Some(&b'\n');
            Ok(Some((FrameKind::Line, i + 1 + usize::from(crlf))))
        }
        None if buf.len() >= max_frame => Err(FrameError::LineTooLong { max: max_frame }),
        None => Ok(None),
    }
}

/// Checks a complete binary frame: its length field equals its size and its CRC matches.
pub fn verify(frame: &[u8]) -> Result<(), DecodeError> {
    if frame.len() < MIN_FRAME {
        return Err(DecodeError::Truncated {
            offset: 0,
            needed: MIN_FRAME,
            available: frame.len(),
        });
    }
    let declared = usize::from(u16::from_be_bytes([frame[1], frame[2]]));
    if declared != frame.len() {
        return Err(DecodeError::LengthMismatch {
            declared,
            actual: frame.len(),
        });
    }
    let (body, trailer) = frame.split_at(frame.len() - 2);
    let trailer = u16::from_be_bytes([trailer[0], trailer[1]]);
    let computed = crc16_modbus(body);
    if trailer != computed {
        return Err(DecodeError::BadCrc { trailer, computed });
    }
    Ok(())
}

/// Strips the CR / LF terminator of a line frame.
pub fn line_text(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const K2: &str = "4b00320524c1da58769e6d0322617effe874024453065600a800000100080000643e0000000000000000000000069500e7bb";

    #[test]
    fn binary_frame_needs_all_bytes() {
        let f = hex::decode(K2).unwrap();
        assert_eq!(check(&f[..2], 4096), Ok(None));
        assert_eq!(check(&f[..49], 4096), Ok(None));
        assert_eq!(check(&f, 4096), Ok(Some((FrameKind::Binary(b'K'), 50))));
        let mut two = f.clone();
        two.extend_from_slice(&f);
        assert_eq!(check(&two, 4096), Ok(Some((FrameKind::Binary(b'K'), 50))));
        assert_eq!(verify(&f), Ok(()));
    }

    #[test]
    fn bad_crc_reports_both_values() {
        let mut f = hex::decode(K2).unwrap();
        f[10] ^= 0xff;
        let computed = crc16_modbus(&f[..48]);
        assert_eq!(
            verify(&f),
            Err(DecodeError::BadCrc {
                trailer: 0xe7bb,
                computed
            })
        );
    }

    #[test]
    fn length_limits() {
        assert_eq!(
            check(&[b'X', 0x10, 0x01], 4096),
            Err(FrameError::Length(DecodeError::FrameTooLarge {
                declared: 4097,
                max: 4096
            }))
        );
        assert_eq!(
            check(&[b'K', 0, 4], 4096),
            Err(FrameError::Length(DecodeError::LengthTooSmall {
                declared: 4,
                min: 5
            }))
        );
        assert_eq!(
            check(&[0x00, 1, 2], 4096),
            Err(FrameError::UnknownLeadingByte(0))
        );
    }

    #[test]
    fn lines_ack_and_blank() {
        assert_eq!(check(b"$DIST,OK", 4096), Ok(None));
        assert_eq!(
            check(b"$DIST,OK\r\n$", 4096),
            Ok(Some((FrameKind::Line, 10)))
        );
        assert_eq!(check(b"$DIST,OK\rX", 4096), Ok(Some((FrameKind::Line, 9))));
        assert_eq!(check(b"\n", 4096), Ok(Some((FrameKind::Blank, 1))));
        assert_eq!(check(&[ACK, b'K'], 4096), Ok(Some((FrameKind::Ack, 1))));
        assert_eq!(check(b"$AAAA", 4), Err(FrameError::LineTooLong { max: 4 }));
        assert_eq!(line_text(b"$DIST,OK\r\n"), b"$DIST,OK");
        assert_eq!(line_text(b"\r\n"), b"");
    }
}
