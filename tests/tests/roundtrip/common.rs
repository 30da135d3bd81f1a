//! What every protocol's round trips share: raw draws, the decoder contract for derived fields
//! (PROTOCOL.md §§2, 4, 5; protocol/common.rs), and encoding, decoding and comparing.

use astra_codec::login::parse_login;
use astra_codec::{DecodeOptions, decode_frame};
use astra_proto::Timestamp;
use astra_proto::v1::{Accelerometer, GeofenceReport, LoginInfo, Position, Status};
use astra_tests::encoder::{EncodeOptions, Protocol, XMode, encode, luhn_complete};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// 256 cases a property; failing cases persist beside the source file that found them.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::with_cases(256)
    }
}

// ------------------------------------------------------------------------------------------
// Raw draws

/// Wire-level values drawn from proptest bytes; past the end every draw is zero (shrinking
/// bytes towards zero shrinks the records towards all-zero fields).
#[derive(Clone)]
pub struct Draw {
    bytes: Vec<u8>,
    pos: usize,
}

impl std::fmt::Debug for Draw {
    /// The bytes up to the last non-zero one, in hex (shrunk cases are mostly zeros).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = self
            .bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        write!(f, "Draw({})", hex::encode(&self.bytes[..end]))
    }
}

impl Draw {
    pub fn u8(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.u8())
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }
    pub fn i8(&mut self) -> i8 {
        i8::from_be_bytes(self.array())
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }
    pub fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.array())
    }
    pub fn u24(&mut self) -> u32 {
        let [a, b, c] = self.array();
        u32::from_be_bytes([0, a, b, c])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
    pub fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.array())
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// Uniform-ish in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).expect("range");
        lo + i64::try_from(u64::from(self.u32()) % span).expect("span")
    }
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.range(0, i64::try_from(n).expect("n") - 1)).expect("index")
    }
    /// Text of `min..=max` characters from [A-Z0-9] (no padding characters, which the decoder
    /// trims from fixed-width ASCII fields).
    pub fn text(&mut self, min: usize, max: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let len = min + self.below(max - min + 1);
        (0..len)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect()
    }
    pub fn imei(&mut self) -> String {
        let prefix: String = (0..14)
            .map(|_| char::from(b'0' + u8::try_from(self.below(10)).expect("digit")))
            .collect();
        luhn_complete(&prefix)
    }
}

pub fn draw() -> impl Strategy<Value = Draw> {
    prop::collection::vec(any::<u8>(), 4096).prop_map(|bytes| Draw { bytes, pos: 0 })
}

// ------------------------------------------------------------------------------------------
// The decoder contract for derived fields

pub const GPS_EPOCH_UNIX: i64 = 315_964_800;

pub fn ts(raw: u32) -> Timestamp {
    Timestamp {
        seconds: GPS_EPOCH_UNIX + i64::from(raw),
        nanos: 0,
    }
}

fn degrees(micro: i32) -> f64 {
    f64::from(micro) / 1e6
}

pub fn latitude(d: &mut Draw) -> f64 {
    degrees(i32::try_from(d.range(-90_000_000, 90_000_000)).expect("lat"))
}

pub fn longitude(d: &mut Draw) -> f64 {
    degrees(i32::try_from(d.range(-180_000_000, 180_000_000)).expect("lon"))
}

/// Reason bit n is enum value n + 1; every bit 0-31 has a name.
pub fn set_reasons(p: &mut Position, flags: u32) {
    p.reason_flags = flags;
    p.reasons = (0..32)
        .filter(|b| flags >> b & 1 == 1)
        .map(|b| b + 1)
        .collect();
}

/// X status meanings (applied to K/M/V too): ignition bit 0, GPS invalid bit 2, stored bit 5.
pub fn set_status(p: &mut Position, flags: u16) {
    let bit = |n: u16| flags >> n & 1 == 1;
    p.status_flags = u32::from(flags);
    p.ignition = bit(0);
    p.valid = !bit(2);
    p.stored = bit(5);
    p.status = Some(Status {
        ignition: bit(0),
        private_mode: bit(1),
        gps_invalid: bit(2),
        roaming: bit(3),
        more_reports_follow: bit(4),
        stored: bit(5),
        immobilised: bit(6),
        serial_device_error: bit(7),
        jammer_detected: bit(8),
        luggage_locked: bit(9),
        backup_battery_charging: bit(10),
        extra_block: false,
    });
}

/// Signal byte: satellites low nibble, GSM level high nibble, dBm = −111 + 4·level.
pub fn set_signal(p: &mut Position, byte: u8) {
    let level = byte >> 4;
    p.satellites = Some(u32::from(byte & 0x0F));
    p.gsm_level = Some(u32::from(level));
    p.gsm_dbm = Some(-111 + 4 * i32::from(level));
}

pub fn geofence(byte: u8) -> GeofenceReport {
    GeofenceReport {
        raw: u32::from(byte),
        entry: byte & 0x80 != 0,
        index: u32::from(byte & 0x7F),
    }
}

pub fn accelerometer(raw: [u8; 6]) -> Accelerometer {
    let v = raw.map(|b| f64::from(b) / 10.0);
    Accelerometer {
        x_max_ms2: v[0],
        x_min_ms2: v[1],
        y_max_ms2: v[2],
        y_min_ms2: v[3],
        z_max_ms2: v[4],
        z_min_ms2: v[5],
        raw: raw.to_vec(),
    }
}

pub fn hex_upper(b: &[u8]) -> String {
    hex::encode_upper(b)
}

// ------------------------------------------------------------------------------------------
// Round-trip plumbing

fn login(protocol: &str, imei: &str) -> LoginInfo {
    parse_login(format!("$ASTRA;AT240;{imei};;7.0.1;{protocol};1").as_bytes()).expect("login")
}

/// Encodes, decodes, compares.
pub fn round_trip(
    protocol: Protocol,
    imei: &str,
    mut records: Vec<Position>,
    opts: &EncodeOptions,
) -> Result<(), TestCaseError> {
    for p in &mut records {
        p.imei = imei.to_owned();
        p.protocol = protocol.name().to_owned();
    }
    let bytes = encode(protocol, imei, &records, opts);
    let session =
        (protocol.is_modular() && opts.mode == XMode::Mode6).then(|| login(protocol.name(), imei));
    let decoded = decode_frame(
        &bytes,
        session.as_ref(),
        &DecodeOptions {
            layout: opts.layout,
        },
    );
    match decoded {
        Ok(decoded) if decoded == records => Ok(()),
        Ok(decoded) => Err(TestCaseError::fail(format!(
            "decoded != encoded; frame {}\n{}",
            hex::encode(&bytes),
            diff(&decoded, &records)
        ))),
        Err(e) => Err(TestCaseError::fail(format!(
            "decode failed: {e} ({}); frame {}",
            e.kind(),
            hex::encode(&bytes)
        ))),
    }
}

/// The fields that differ, as canonical proto JSON: `decoded` vs `expected`.
fn diff(decoded: &[Position], expected: &[Position]) -> String {
    let mut out = String::new();
    if decoded.len() != expected.len() {
        out += &format!(
            "{} records decoded, {} expected\n",
            decoded.len(),
            expected.len()
        );
    }
    for (i, (a, b)) in decoded.iter().zip(expected).enumerate() {
        let a = serde_json::to_value(a).expect("json");
        let b = serde_json::to_value(b).expect("json");
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            continue;
        };
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            if a.get(k) != b.get(k) {
                out += &format!(
                    "record {i} field {k}:\n  decoded:  {}\n  expected: {}\n",
                    a.get(k).map_or("<absent>".into(), ToString::to_string),
                    b.get(k).map_or("<absent>".into(), ToString::to_string)
                );
            }
        }
    }
    out
}

pub fn records(
    d: &mut Draw,
    max: usize,
    mut one: impl FnMut(&mut Draw) -> Position,
) -> Vec<Position> {
    let n = 1 + d.below(max);
    (0..n).map(|_| one(d)).collect()
}

/// Draws an IMEI and 1 to `max` records of a C/K/M/V protocol, then round-trips them.
pub fn legacy_round_trip(
    d: &mut Draw,
    protocol: Protocol,
    max: usize,
    one: impl FnMut(&mut Draw) -> Position,
) -> Result<(), TestCaseError> {
    let imei = d.imei();
    let recs = records(d, max, one);
    round_trip(protocol, &imei, recs, &EncodeOptions::default())
}

// ------------------------------------------------------------------------------------------
// Fixed examples: encoded bytes against hand-written hex

pub fn at(seconds_since_gps_epoch: u32) -> Option<Timestamp> {
    Some(ts(seconds_since_gps_epoch))
}

/// Encodes `p` as a one-record frame and compares it with the `expected` hex.
#[track_caller]
pub fn assert_encodes(
    protocol: Protocol,
    imei: &str,
    p: Position,
    opts: &EncodeOptions,
    expected: &str,
) {
    let bytes = encode(protocol, imei, &[p], opts);
    assert_eq!(hex::encode(bytes), expected);
}
