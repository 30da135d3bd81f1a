//! One simulated device, behaving like a tracker: it makes reports on its clock, keeps them in a
//! bounded buffer, sends one packet at a time and waits for the 0x06 before the next, re-sends
//! the same packet after the ack timeout, drops the connection after too many re-sends,
//! reconnects with backoff (moving on to the next gateway), and after a reconnect sends the
//! packet in flight again and then everything it buffered (marked stored). It answers command
//! lines (`$POLL` with a position on demand, `$IMEI`, anything else `OK`).

use super::Stop;
use super::config::{SimConfig, Transport};
use super::motion::{Mover, Step};
use super::report;
use crate::device::Device;
use crate::encoder::encode;
use astra_proto::v1::Position;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Reason bit 2: position on demand (the answer to `$POLL`).
const REASON_ON_DEMAND: u32 = 1 << 2;
/// Longest the loop sleeps before looking at the stop signal again.
const TICK: Duration = Duration::from_millis(50);

/// Live counters of one device, shared with whoever runs it.
#[derive(Debug, Default)]
pub struct DeviceStats {
    /// Packets sent for the first time.
    pub frames_sent: AtomicU64,
    /// Packets acknowledged with 0x06.
    pub frames_acked: AtomicU64,
    /// Re-transmissions (after an ack timeout, or after a reconnect).
    pub frames_resent: AtomicU64,
    /// Reports made (route, random walk, script, polls).
    pub reports_made: AtomicU64,
    pub reports_acked: AtomicU64,
    /// Reports made while the device had no connection (sent later, marked stored).
    pub reports_buffered: AtomicU64,
    /// Reports lost because the buffer was full (the oldest go first).
    pub reports_dropped: AtomicU64,
    /// Reports waiting to be sent right now.
    pub backlog: AtomicU64,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    /// Connections lost or dropped by the device (network loss, too many re-sends).
    pub disconnects: AtomicU64,
    /// Command lines answered.
    pub commands: AtomicU64,
    /// Reports that could not be encoded (a scripted value outside its wire field).
    pub encode_errors: AtomicU64,
    pub connected: AtomicBool,
    /// The device stopped (stop signal, duration over, or script done).
    pub finished: AtomicBool,
    acked: Mutex<Vec<Position>>,
    last_error: Mutex<Option<String>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub frames_sent: u64,
    pub frames_acked: u64,
    pub frames_resent: u64,
    pub reports_made: u64,
    pub reports_acked: u64,
    pub reports_buffered: u64,
    pub reports_dropped: u64,
    pub backlog: u64,
    pub connects: u64,
    pub connect_failures: u64,
    pub disconnects: u64,
    pub commands: u64,
    pub encode_errors: u64,
    /// Devices connected (0 or 1 for one device; summed over a fleet).
    pub connected: u64,
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, o: Self) {
        self.frames_sent += o.frames_sent;
        self.frames_acked += o.frames_acked;
        self.frames_resent += o.frames_resent;
        self.reports_made += o.reports_made;
        self.reports_acked += o.reports_acked;
        self.reports_buffered += o.reports_buffered;
        self.reports_dropped += o.reports_dropped;
        self.backlog += o.backlog;
        self.connects += o.connects;
        self.connect_failures += o.connect_failures;
        self.disconnects += o.disconnects;
        self.commands += o.commands;
        self.encode_errors += o.encode_errors;
        self.connected += o.connected;
    }
}

impl std::fmt::Display for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connected {} | frames sent {} acked {} resent {} | reports made {} acked {} \
             buffered {} dropped {} backlog {} | connects {} failed {} disconnects {}",
            self.connected,
            self.frames_sent,
            self.frames_acked,
            self.frames_resent,
            self.reports_made,
            self.reports_acked,
            self.reports_buffered,
            self.reports_dropped,
            self.backlog,
            self.connects,
            self.connect_failures,
            self.disconnects,
        )
    }
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl DeviceStats {
    /// Every acknowledged report, in the order they were acknowledged, exactly as encoded
    /// (stored bit included).
    pub fn acked(&self) -> Vec<Position> {
        self.acked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last connection or encoding error.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn counters(&self) -> Counters {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            frames_sent: g(&self.frames_sent),
            frames_acked: g(&self.frames_acked),
            frames_resent: g(&self.frames_resent),
            reports_made: g(&self.reports_made),
            reports_acked: g(&self.reports_acked),
            reports_buffered: g(&self.reports_buffered),
            reports_dropped: g(&self.reports_dropped),
            backlog: g(&self.backlog),
            connects: g(&self.connects),
            connect_failures: g(&self.connect_failures),
            disconnects: g(&self.disconnects),
            commands: g(&self.commands),
            encode_errors: g(&self.encode_errors),
            connected: u64::from(self.connected.load(Ordering::Relaxed)),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    fn error(&self, e: impl Into<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(e.into());
    }
}

/// A device ready to run: its settings and its counters.
pub struct SimDevice {
    config: SimConfig,
    stats: Arc<DeviceStats>,
}

impl SimDevice {
    /// Checks the settings (see [`SimConfig::validate`]).
    pub fn new(config: SimConfig) -> Result<Self, String> {
        config.validate()?;
        Ok(Self {
            config,
            stats: Arc::default(),
        })
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub fn imei(&self) -> &str {
        &self.config.imei
    }

    /// The device's counters and acknowledged reports; keep a clone to read them while it runs.
    pub fn stats(&self) -> Arc<DeviceStats> {
        Arc::clone(&self.stats)
    }

    /// Runs the device on this thread until `stop`, its duration, or the end of its script.
    pub fn run(self, stop: &Stop) {
        let mut runner = Runner::new(self.config, Arc::clone(&self.stats));
        runner.run(stop);
        runner.link = None;
        self.stats.connected.store(false, Ordering::Relaxed);
        self.stats.finished.store(true, Ordering::Relaxed);
    }
}

struct InFlight {
    frame: Vec<u8>,
    reports: Vec<Position>,
    deadline: Instant,
    resends: u32,
}

struct Runner {
    cfg: SimConfig,
    stats: Arc<DeviceStats>,
    start_wall: Instant,
    start_unix: i64,
    mover: Option<Mover>,
    /// Reports made by the mover so far (the next one is due at k × interval).
    k: u64,
    /// Device seconds (since start) the mover has been advanced to.
    mover_s: f64,
    script: VecDeque<Step>,
    script_wait: Option<Instant>,
    flushing: bool,
    sequence: u8,
    queue: VecDeque<Position>,
    in_flight: Option<InFlight>,
    /// The connection to the gateway, while there is one.
    link: Option<Device>,
    ever_connected: bool,
    gateway: usize,
    backoff: Duration,
    next_connect: Instant,
    offline_until: Option<Instant>,
}

impl Runner {
    fn new(cfg: SimConfig, stats: Arc<DeviceStats>) -> Self {
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        let mut mover = Mover::new(&cfg.behaviour, &cfg.imei);
        if let Some(m) = mover.as_mut()
            && cfg.phase_s > 0.0
        {
            m.skip(cfg.phase_s);
        }
        let script = match &cfg.behaviour {
            super::Behaviour::Script(steps) => steps.iter().cloned().collect(),
            _ => VecDeque::new(),
        };
        let now = Instant::now();
        Self {
            start_unix: cfg.start_unix.unwrap_or(now_unix),
            backoff: cfg.backoff_min,
            cfg,
            stats,
            start_wall: now,
            mover,
            k: 0,
            mover_s: 0.0,
            script,
            script_wait: None,
            flushing: false,
            sequence: 0,
            queue: VecDeque::new(),
            in_flight: None,
            link: None,
            ever_connected: false,
            gateway: 0,
            next_connect: now,
            offline_until: None,
        }
    }

    fn run(&mut self, stop: &Stop) {
        let end = self.cfg.duration.map(|d| self.start_wall + d);
        loop {
            let now = Instant::now();
            if stop.is_stopped() || end.is_some_and(|e| now >= e) {
                return;
            }
            if self.offline_until.is_some_and(|t| now >= t) {
                self.offline_until = None;
            }
            if self.mover.is_some() {
                self.make_due_reports(now);
            } else if self.run_script(now) {
                return;
            }
            self.connect_if_due(now);
            self.send_next();
            self.wait(now);
            self.stats
                .backlog
                .store(self.queue.len() as u64, Ordering::Relaxed);
        }
    }

    fn offline(&self) -> bool {
        self.offline_until.is_some()
    }

    /// Whether a report made now is buffered rather than live.
    fn buffering(&self) -> bool {
        self.offline() || (self.link.is_none() && self.ever_connected)
    }

    fn due(&self, k: u64) -> Instant {
        self.start_wall + self.cfg.wall_interval().mul_f64(k as f64)
    }

    fn make_due_reports(&mut self, now: Instant) {
        while self.due(self.k) <= now {
            let device_s = self.k as f64 * self.cfg.report_interval.as_secs_f64();
            self.k += 1;
            self.report_at(device_s, 0);
        }
    }

    /// Makes the mover's report at `device_s` (device seconds since start).
    fn report_at(&mut self, device_s: f64, extra_reasons: u32) {
        let Some(mover) = self.mover.as_mut() else {
            return;
        };
        let dt = device_s - self.mover_s;
        self.mover_s = self.mover_s.max(device_s);
        let mut sample = mover.advance(dt);
        sample.reasons |= extra_reasons;
        if let Some(secs) = sample.offline_s {
            self.go_offline(Duration::from_secs_f64(secs / self.cfg.speedup));
        }
        let unix = self.start_unix + device_s.round() as i64;
        let stored = self.buffering();
        let p = report::position(
            self.cfg.protocol,
            &self.cfg.imei,
            &sample,
            self.sequence,
            unix,
            stored && self.cfg.mark_stored,
        );
        self.sequence = self.sequence.wrapping_add(1);
        self.push(p, stored);
    }

    fn push(&mut self, p: Position, buffered: bool) {
        inc(&self.stats.reports_made);
        if buffered {
            inc(&self.stats.reports_buffered);
        }
        if self.queue.len() >= self.cfg.buffer_capacity {
            self.queue.pop_front();
            inc(&self.stats.reports_dropped);
        }
        self.queue.push_back(p);
    }

    /// Plays script steps that are due; `true` once the script is done and everything sent.
    fn run_script(&mut self, now: Instant) -> bool {
        loop {
            if let Some(t) = self.script_wait {
                if now < t {
                    return false;
                }
                self.script_wait = None;
            }
            if self.flushing {
                if !self.queue.is_empty() || self.in_flight.is_some() {
                    return false;
                }
                self.flushing = false;
            }
            match self.script.pop_front() {
                None => return self.queue.is_empty() && self.in_flight.is_none(),
                Some(Step::Report(mut p)) => {
                    let buffered = self.buffering();
                    if buffered && self.cfg.mark_stored {
                        report::mark_stored(self.cfg.protocol, &mut p);
                    }
                    self.push(*p, buffered);
                }
                Some(Step::Wait(d)) => self.script_wait = Some(now + d),
                Some(Step::Disconnect(d)) => self.go_offline(d),
                Some(Step::Flush) => self.flushing = true,
            }
        }
    }

    fn go_offline(&mut self, wall: Duration) {
        self.offline_until = Some(Instant::now() + wall);
        self.drop_link();
    }

    fn drop_link(&mut self) {
        if self.link.take().is_some() {
            inc(&self.stats.disconnects);
            self.stats.connected.store(false, Ordering::Relaxed);
        }
    }

    fn connect_if_due(&mut self, now: Instant) {
        if self.link.is_some() || self.offline() || now < self.next_connect {
            return;
        }
        let gateways = &self.cfg.gateways;
        let Some(&addr) = gateways.get(self.gateway % gateways.len().max(1)) else {
            return;
        };
        let login = self.cfg.protocol.login(
            &self.cfg.imei,
            self.cfg.protocol.model(),
            &self.cfg.firmware,
        );
        match Device::open(
            self.cfg.transport,
            addr,
            login.as_deref(),
            self.cfg.ack_timeout,
        ) {
            Ok(link) => {
                inc(&self.stats.connects);
                self.stats.connected.store(true, Ordering::Relaxed);
                self.link = Some(link);
                self.ever_connected = true;
                self.backoff = self.cfg.backoff_min;
                // The packet in flight when the connection went is sent again first.
                if let Some(f) = self.in_flight.as_mut() {
                    f.resends = 0;
                    f.deadline = Instant::now() + self.cfg.ack_timeout;
                    let frame = f.frame.clone();
                    inc(&self.stats.frames_resent);
                    self.send_bytes(&frame);
                }
            }
            Err(e) => {
                inc(&self.stats.connect_failures);
                self.stats.error(format!("connect {addr}: {e}"));
                self.retry_later(now);
            }
        }
    }

    /// Schedules the next connection attempt (to the next gateway) after the backoff.
    fn retry_later(&mut self, now: Instant) {
        self.gateway = self.gateway.wrapping_add(1);
        // ±25 % jitter so a fleet does not reconnect in lockstep.
        let jitter = 0.75 + 0.5 * super::motion::Rng::from_text(&self.cfg.imei, self.k).unit();
        self.next_connect = now + self.backoff.mul_f64(jitter);
        self.backoff = (self.backoff * 2).min(self.cfg.backoff_max);
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        // The runner keeps the packet in flight itself (re-sends, stored reports).
        if let Err(e) = link.send_raw(bytes) {
            self.stats.error(format!("send: {e}"));
            self.drop_link();
            self.retry_later(Instant::now());
        }
    }

    /// Sends the next packet if none is in flight.
    fn send_next(&mut self) {
        if self.link.is_none() || self.in_flight.is_some() || self.queue.is_empty() {
            return;
        }
        let n = self
            .queue
            .len()
            .min(self.cfg.batch)
            .min(self.cfg.protocol.max_records());
        let reports: Vec<Position> = self.queue.drain(..n).collect();
        let (protocol, options) = (self.cfg.protocol.protocol(), self.cfg.protocol.options());
        let imei = self.cfg.imei.clone();
        // The encoder panics on a value outside its wire field; a scripted report may have one.
        let encoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            encode(protocol, &imei, &reports, &options)
        }));
        match encoded {
            Ok(frame) => {
                inc(&self.stats.frames_sent);
                self.in_flight = Some(InFlight {
                    frame: frame.clone(),
                    reports,
                    deadline: Instant::now() + self.cfg.ack_timeout,
                    resends: 0,
                });
                self.send_bytes(&frame);
            }
            Err(_) => {
                self.stats
                    .encode_errors
                    .fetch_add(reports.len() as u64, Ordering::Relaxed);
                self.stats
                    .error(format!("{n} report(s) could not be encoded; dropped"));
            }
        }
    }

    /// Waits for an ack (or just time) until the next thing to do.
    fn wait(&mut self, now: Instant) {
        let mut wake = now + TICK;
        if self.mover.is_some() {
            wake = wake.min(self.due(self.k));
        }
        if self.link.is_none() && !self.offline() {
            wake = wake.min(self.next_connect.max(now));
        }
        let deadline = self.in_flight.as_ref().map(|f| f.deadline);
        let (Some(link), Some(deadline)) = (self.link.as_mut(), deadline) else {
            std::thread::sleep(wake.saturating_duration_since(now));
            return;
        };
        let result = link.wait_ack(wake.min(deadline).saturating_duration_since(now));
        let lines = link.take_lines();
        match result {
            Ok(true) => self.acked(),
            Ok(false) if Instant::now() >= deadline => self.ack_timed_out(),
            Ok(false) => {}
            Err(e) => {
                self.stats.error(format!("connection lost: {e}"));
                self.drop_link();
                self.retry_later(Instant::now());
            }
        }
        self.answer(lines);
    }

    fn acked(&mut self) {
        let Some(f) = self.in_flight.take() else {
            return;
        };
        inc(&self.stats.frames_acked);
        self.stats
            .reports_acked
            .fetch_add(f.reports.len() as u64, Ordering::Relaxed);
        self.stats
            .acked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(f.reports);
        if f.resends > 0 && self.cfg.transport == Transport::Udp {
            // The other copy's ack may follow; it must not count for the next packet.
            if let Some(link) = self.link.as_mut() {
                let grace = self.cfg.ack_timeout.min(Duration::from_millis(300));
                if let Err(e) = link.drain_acks(grace) {
                    self.stats.error(format!("udp: {e}"));
                }
            }
        }
    }

    /// Re-sends the packet in flight, or gives up on the connection after `max_resends` (TCP).
    fn ack_timed_out(&mut self) {
        let udp = self.cfg.transport == Transport::Udp;
        let max = self.cfg.max_resends;
        let timeout = self.cfg.ack_timeout;
        let Some(f) = self.in_flight.as_mut() else {
            return;
        };
        if f.resends < max || udp {
            f.resends += 1;
            f.deadline = Instant::now() + timeout;
            let frame = f.frame.clone();
            inc(&self.stats.frames_resent);
            self.send_bytes(&frame);
        } else {
            self.stats.error("no ack after re-sends; reconnecting");
            self.drop_link();
            self.retry_later(Instant::now());
        }
    }

    /// Answers command lines: `$POLL` (OK, then a position on demand), `$IMEI`, else OK.
    fn answer(&mut self, lines: Vec<String>) {
        for line in lines {
            let command = line
                .trim()
                .trim_start_matches('$')
                .split(',')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply = match command.as_str() {
                "IMEI" => format!("$IMEI,{}\r\n", self.cfg.imei),
                _ => format!("${command},OK\r\n"),
            };
            inc(&self.stats.commands);
            self.send_bytes(reply.as_bytes());
            if command == "POLL" && self.mover.is_some() {
                let elapsed = self.start_wall.elapsed().as_secs_f64() * self.cfg.speedup;
                self.report_at(elapsed.max(self.mover_s), REASON_ON_DEMAND);
            }
        }
    }
}
