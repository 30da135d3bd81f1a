//! Byte-level building blocks shared by every protocol encoder: a big-endian writer and the
//! inverses of the documented scales (PROTOCOL.md §§6-10), each checked against its wire range.
//!
//! A value that does not fit its field is a bug in the caller (a simulator or a generator), so
//! it panics with the field's name rather than being silently clamped.

use astra_codec::time::to_gps;
use astra_proto::Timestamp;

/// A growing big-endian byte buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// `n` zero bytes (reserved fields).
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.buf.resize(self.buf.len() + n, 0);
        self
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn i8(&mut self, v: i8) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    pub fn u16_le(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// The low 24 bits, big-endian; panics if `v` has more.
    pub fn u24(&mut self, v: u32) -> &mut Self {
        assert!(v <= 0xFF_FFFF, "u24 field overflow: {v}");
        self.bytes(&v.to_be_bytes()[1..])
    }

    /// The low 24 bits, little-endian (M/V digital I/O).
    pub fn u24_le(&mut self, v: u32) -> &mut Self {
        assert!(v <= 0xFF_FFFF, "u24 field overflow: {v}");
        self.bytes(&v.to_le_bytes()[..3])
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    pub fn u32_le(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// The low 48 bits, big-endian (the X module mask).
    pub fn u48(&mut self, v: u64) -> &mut Self {
        assert!(v < 1 << 48, "u48 field overflow: {v:#x}");
        self.bytes(&v.to_be_bytes()[2..])
    }

    /// `text` as ASCII, NUL-padded to `n` bytes; panics if longer.
    pub fn ascii(&mut self, text: &str, n: usize) -> &mut Self {
        assert!(
            text.len() <= n,
            "text {text:?} longer than its {n}-byte field"
        );
        self.bytes(text.as_bytes()).zeros(n - text.len())
    }

    /// Exactly `n` bytes of `data`; an empty slice means `n` zeros.
    pub fn fixed(&mut self, data: &[u8], n: usize, field: &str) -> &mut Self {
        if data.is_empty() {
            return self.zeros(n);
        }
        assert_eq!(data.len(), n, "{field}: expected {n} bytes");
        self.bytes(data)
    }
}

/// `v` converted to the wire integer type `T`; panics naming `field` if it does not fit.
pub fn fit<T: TryFrom<i64>>(v: i64, field: &str) -> T {
    T::try_from(v).unwrap_or_else(|_| panic!("{field}: {v} does not fit its wire field"))
}

/// An unsigned proto integer as the wire type `T`.
pub fn int<T: TryFrom<i64>>(v: impl Into<i64>, field: &str) -> T {
    fit(v.into(), field)
}

/// `round(value × factor)` as the wire type `T` (the inverse of a "raw ÷ factor" scale).
pub fn scale<T: TryFrom<i64>>(value: f64, factor: f64, field: &str) -> T {
    let raw = (value * factor).round();
    assert!(
        raw.is_finite() && raw.abs() < 9.0e15,
        "{field}: {value} is not representable"
    );
    // Exact: |raw| < 2^53 was checked above.
    #[allow(clippy::cast_possible_truncation)]
    fit(raw as i64, field)
}

/// `round(value / divisor)` for integer scales (rpm ×32, service distance ×5 km …).
pub fn div<T: TryFrom<i64>>(value: impl Into<i64>, divisor: i64, field: &str) -> T {
    let v = value.into();
    fit((v + divisor / 2).div_euclid(divisor), field)
}

/// A timestamp as seconds since the GPS epoch; `None` encodes as 0.
pub fn gps_time(ts: Option<&Timestamp>, field: &str) -> u32 {
    ts.map_or(0, |t| {
        to_gps(t).unwrap_or_else(|| panic!("{field}: {t:?} is before 1980-01-06 or after 2116"))
    })
}

/// Degrees as the i32 millionths every protocol uses; `None` encodes as 0.
pub fn micro_degrees(deg: Option<f64>, field: &str) -> i32 {
    scale(deg.unwrap_or(0.0), 1e6, field)
}

/// Uppercase hex (as the decoder renders driver IDs) back to exactly `n` bytes; an empty string
/// is `n` zero bytes.
pub fn hex_bytes(text: &str, n: usize, field: &str) -> Vec<u8> {
    if text.is_empty() {
        return vec![0; n];
    }
    let b = hex::decode(text).unwrap_or_else(|e| panic!("{field}: {text:?} is not hex: {e}"));
    assert_eq!(b.len(), n, "{field}: {text:?} is not {n} bytes");
    b
}

/// The signal-quality byte of K/M/V and X module 5: GSM level in the high nibble, satellites in
/// use in the low one.
pub fn signal_byte(gsm_level: Option<u32>, satellites: Option<u32>) -> u8 {
    let level: u8 = int(gsm_level.unwrap_or(0), "gsm_level");
    let sats: u8 = int(satellites.unwrap_or(0), "satellites");
    assert!(level < 16 && sats < 16, "signal nibbles: {level} / {sats}");
    level << 4 | sats
}

/// The geofence byte: bit 7 entry, bits 0-6 index.
pub fn geofence_byte(g: Option<&astra_proto::v1::GeofenceReport>) -> u8 {
    g.map_or(0, |g| {
        let index: u8 = int(g.index, "geofence.index");
        assert!(index < 0x80, "geofence.index {index} exceeds 7 bits");
        u8::from(g.entry) << 7 | index
    })
}

/// The six accelerometer extremes (X max, X min, Y max, Y min, Z max, Z min), m/s² ×10.
pub fn accel_bytes(a: Option<&astra_proto::v1::Accelerometer>) -> [u8; 6] {
    a.map_or([0; 6], |a| {
        [
            a.x_max_ms2,
            a.x_min_ms2,
            a.y_max_ms2,
            a.y_min_ms2,
            a.z_max_ms2,
            a.z_min_ms2,
        ]
        .map(|v| scale(v, 10.0, "accelerometer"))
    })
}

/// A sub-message or its default (all zeros on the wire).
pub fn or_default<T: Clone + Default>(m: &Option<T>) -> T {
    m.clone().unwrap_or_default()
}
