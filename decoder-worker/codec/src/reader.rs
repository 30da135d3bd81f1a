//! A bounds-checked big-endian cursor over device bytes: every read returns
//! `DecodeError::Truncated` instead of panicking, and reports the frame offset it failed at.

use super::error::DecodeError;

#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` within the frame, so errors name frame offsets.
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self::at(buf, 0)
    }

    pub fn at(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// Offset of the next byte within the frame.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes, consumed.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(DecodeError::Truncated {
                offset: self.offset(),
                needed: n,
                available: self.remaining(),
            }),
        }
    }

    /// Splits off the next `n` bytes as a reader of their own (for a module of known size).
    pub fn take(&mut self, n: usize) -> Result<Reader<'a>, DecodeError> {
        let base = self.offset();
        Ok(Reader::at(self.bytes(n)?, base))
    }

    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.bytes(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn i8(&mut self) -> Result<i8, DecodeError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u16_le(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub fn u24(&mut self) -> Result<u32, DecodeError> {
        let [a, b, c] = self.array()?;
        Ok(u32::from_be_bytes([0, a, b, c]))
    }

    /// A u24 stored little-endian (the M/V digital I/O field).
    pub fn u24_le(&mut self) -> Result<u32, DecodeError> {
        let [a, b, c] = self.array()?;
        Ok(u32::from_le_bytes([a, b, c, 0]))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// A 48-bit big-endian integer (the X module mask).
    pub fn u48(&mut self) -> Result<u64, DecodeError> {
        let [a, b, c, d, e, f] = self.array()?;
        Ok(u64::from_be_bytes([0, 0, a, b, c, d, e, f]))
    }

    /// Fixed-width ASCII text, with NUL and space padding trimmed; non-ASCII bytes become U+FFFD.
    pub fn ascii(&mut self, n: usize) -> Result<String, DecodeError> {
        let raw = self.bytes(n)?;
        let text = String::from_utf8_lossy(raw);
        Ok(text
            .trim_matches(|c: char| c == '\0' || c == ' ')
            .to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_reports_offsets() {
        let mut r = Reader::at(&[0x01, 0x02, 0x03, 0x04, 0x05], 10);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u24(), Ok(0x030405));
        assert_eq!(
            r.u8(),
            Err(DecodeError::Truncated {
                offset: 15,
                needed: 1,
                available: 0
            })
        );
    }

    #[test]
    fn huge_request_is_truncated_not_overflow() {
        let mut r = Reader::new(&[1, 2]);
        r.skip(1).unwrap();
        assert!(matches!(
            r.bytes(usize::MAX),
            Err(DecodeError::Truncated { offset: 1, .. })
        ));
        assert_eq!(r.u8(), Ok(2));
    }

    #[test]
    fn little_endian_u24() {
        assert_eq!(Reader::new(&[0x01, 0x02, 0x03]).u24_le(), Ok(0x030201));
    }
}
