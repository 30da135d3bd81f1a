//! How one simulated device is set up: its identity, protocol variant and transport, where it
//! connects, what it does (route, random walk or an exact script), its clock (report interval and
//! speed-up) and the device-side limits (ack timeout, re-sends, buffer size, reconnect backoff).

use super::motion::Behaviour;
pub use crate::device::Transport;
use crate::encoder::{EncodeOptions, Protocol, login_line};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The protocol variant a device speaks, including how X/Z devices identify themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimProtocol {
    K,
    M,
    V,
    C,
    /// Protocol X in `$MODE,4`: the IMEI in every packet header, no login line.
    X4,
    /// Protocol X in `$MODE,6`: a `$ASTRA;…` login line first, no IMEI in the headers.
    X6,
    /// Protocol Z (scooter build of X), IMEI in the header.
    Z4,
    /// Protocol Z with its login line (what the scooter firmware does).
    Z6,
}

impl SimProtocol {
    pub const ALL: [Self; 8] = [
        Self::K,
        Self::M,
        Self::V,
        Self::C,
        Self::X4,
        Self::X6,
        Self::Z4,
        Self::Z6,
    ];

    /// The encoder's protocol.
    pub fn protocol(self) -> Protocol {
        match self {
            Self::K => Protocol::K,
            Self::M => Protocol::M,
            Self::V => Protocol::V,
            Self::C => Protocol::C,
            Self::X4 | Self::X6 => Protocol::X,
            Self::Z4 | Self::Z6 => Protocol::Z,
        }
    }

    /// Encoder options ($MODE,4 puts the IMEI in the header).
    pub fn options(self) -> EncodeOptions {
        match self {
            Self::X4 | Self::Z4 => EncodeOptions::mode4(),
            _ => EncodeOptions::default(),
        }
    }

    /// Whether the device logs in with a `$ASTRA;…` line first ($MODE,6).
    pub fn logs_in(self) -> bool {
        matches!(self, Self::X6 | Self::Z6)
    }

    /// The login line for `imei`, for the variants that send one.
    pub fn login(self, imei: &str, model: &str, firmware: &str) -> Option<Vec<u8>> {
        self.logs_in()
            .then(|| login_line(self.protocol(), imei, model, firmware))
    }

    /// Whether the status field has the stored/buffered bit (bit 5): every variant but C.
    pub fn has_stored_bit(self) -> bool {
        self != Self::C
    }

    /// The reason bits the variant's reason field can carry (C u16, K/M/V u24, X/Z u32).
    pub fn reason_mask(self) -> u32 {
        match self {
            Self::C => 0xFFFF,
            Self::K | Self::M | Self::V => 0xFF_FFFF,
            _ => u32::MAX,
        }
    }

    /// The most reports one frame may carry: X/Z count them in a u8; the legacy variants are
    /// limited by frame size (kept well below the gateway's 4096-byte default).
    pub fn max_records(self) -> usize {
        match self {
            Self::V => 32,
            Self::K | Self::M | Self::C => 64,
            _ => 255,
        }
    }

    /// The device model a login line names.
    pub fn model(self) -> &'static str {
        match self {
            Self::C => "AT100",
            Self::K | Self::M => "AT240",
            Self::V => "AT220",
            Self::X4 | Self::X6 => "AT402",
            Self::Z4 | Self::Z6 => "AT500",
        }
    }

    /// Short lower-case name, as parsed by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Self::K => "k",
            Self::M => "m",
            Self::V => "v",
            Self::C => "c",
            Self::X4 => "x4",
            Self::X6 => "x6",
            Self::Z4 => "z4",
            Self::Z6 => "z6",
        }
    }
}

impl fmt::Display for SimProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimProtocol {
    type Err = String;

    /// `k`, `m`, `v`, `c`, `x4`, `x6` (or `x`), `z4`, `z6` (or `z`), any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "k" => Self::K,
            "m" => Self::M,
            "v" => Self::V,
            "c" => Self::C,
            "x4" => Self::X4,
            "x" | "x6" => Self::X6,
            "z4" => Self::Z4,
            "z" | "z6" => Self::Z6,
            other => {
                return Err(format!(
                    "unknown protocol {other:?} (k, m, v, c, x4, x6, z4, z6)"
                ));
            }
        })
    }
}

/// Everything about one simulated device. Build with [`SimConfig::new`] and the setters.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// 15 digits (Luhn-valid for X/Z $MODE,4, which the decoder checks).
    pub imei: String,
    /// A label for logs and the demo's device registry.
    pub name: String,
    pub protocol: SimProtocol,
    pub transport: Transport,
    /// Gateways to use; the device moves to the next one when a connection fails or drops.
    pub gateways: Vec<SocketAddr>,
    pub behaviour: Behaviour,
    /// Time between reports, in device time (route and random walk).
    pub report_interval: Duration,
    /// Device time runs this many times faster than wall time (1 = real time).
    pub speedup: f64,
    /// Device clock at start, Unix seconds; `None` = now.
    pub start_unix: Option<i64>,
    /// Wall time to wait for the 0x06 before re-sending the same packet.
    pub ack_timeout: Duration,
    /// Re-sends of one packet before the device drops the connection and reconnects (TCP; a
    /// UDP device keeps re-sending).
    pub max_resends: u32,
    /// Reports kept while they cannot be sent; when full the oldest is dropped.
    pub buffer_capacity: usize,
    /// Most reports bundled into one packet when a backlog has built up.
    pub batch: usize,
    /// First and longest wait between reconnect attempts (doubling in between).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Set the stored/buffered status bit on reports made while disconnected (if the variant has
    /// one).
    pub mark_stored: bool,
    /// Stop after this much wall time (`None`: at the stop signal, or when a script ends).
    pub duration: Option<Duration>,
    /// Firmware version in the login line.
    pub firmware: String,
    /// Device seconds the route or walk is played forward before the first report, so devices
    /// on one route start at different places.
    pub phase_s: f64,
}

impl SimConfig {
    pub fn new(imei: impl Into<String>, protocol: SimProtocol, gateway: SocketAddr) -> Self {
        let imei = imei.into();
        Self {
            name: imei.clone(),
            imei,
            protocol,
            transport: Transport::Tcp,
            gateways: vec![gateway],
            behaviour: Behaviour::default(),
            report_interval: Duration::from_secs(30),
            speedup: 1.0,
            start_unix: None,
            ack_timeout: Duration::from_secs(10),
            max_resends: 3,
            buffer_capacity: 1000,
            batch: 8,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            mark_stored: true,
            duration: None,
            firmware: "7.0.70.3".to_owned(),
            phase_s: 0.0,
        }
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    pub fn gateways(mut self, gateways: Vec<SocketAddr>) -> Self {
        self.gateways = gateways;
        self
    }

    pub fn behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    pub fn report_interval(mut self, interval: Duration) -> Self {
        self.report_interval = interval;
        self
    }

    pub fn speedup(mut self, speedup: f64) -> Self {
        self.speedup = speedup;
        self
    }

    pub fn start_unix(mut self, unix: i64) -> Self {
        self.start_unix = Some(unix);
        self
    }

    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    pub fn max_resends(mut self, n: u32) -> Self {
        self.max_resends = n;
        self
    }

    pub fn buffer_capacity(mut self, n: usize) -> Self {
        self.buffer_capacity = n;
        self
    }

    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n;
        self
    }

    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max;
        self
    }

    pub fn mark_stored(mut self, on: bool) -> Self {
        self.mark_stored = on;
        self
    }

    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = Some(d);
        self
    }

    /// Report interval in wall time (device interval ÷ speed-up).
    pub fn wall_interval(&self) -> Duration {
        Duration::from_secs_f64(self.report_interval.as_secs_f64() / self.speedup)
    }

    /// Checks the settings that would make the device misbehave.
    pub fn validate(&self) -> Result<(), String> {
        let who = &self.name;
        if self.imei.len() != 15 || !self.imei.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{who}: IMEI {:?} is not 15 digits", self.imei));
        }
        if self.gateways.is_empty() {
            return Err(format!("{who}: no gateway address"));
        }
        if self.transport == Transport::Udp && self.protocol.logs_in() {
            return Err(format!(
                "{who}: {} logs in and needs TCP (UDP frames must carry the IMEI)",
                self.protocol
            ));
        }
        if !(self.speedup.is_finite() && self.speedup > 0.0) {
            return Err(format!("{who}: speed-up must be positive"));
        }
        if self.report_interval.is_zero() {
            return Err(format!("{who}: report interval must be positive"));
        }
        if self.ack_timeout.is_zero() {
            return Err(format!("{who}: ack timeout must be positive"));
        }
        if self.buffer_capacity == 0 || self.batch == 0 {
            return Err(format!("{who}: buffer and batch must be at least 1"));
        }
        if self.backoff_min.is_zero() || self.backoff_max < self.backoff_min {
            return Err(format!("{who}: backoff must be positive with min ≤ max"));
        }
        self.behaviour.validate().map_err(|e| format!("{who}: {e}"))
    }
}
