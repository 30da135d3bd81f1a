//! Simulated Astra devices for demos, load and fault tests: any number of devices, each on its own
//! thread with blocking sockets, speaking any protocol variant (K, M, V, C, X and Z in `$MODE,4`
//! or `$MODE,6` with the login line) over TCP or UDP, and behaving like real trackers: one packet
//! in flight, wait for the 0x06, re-send after the ack timeout, buffer reports while the network
//! is gone (bounded, marked stored) and send them after reconnecting with backoff.
//!
//! A device drives a [`Route`] (segments: drive to a waypoint at a speed, stay with the ignition
//! on or off, raise reason bits such as panic, lose the network), wanders at random
//! ([`RandomWalk`]), or plays an exact [`Step`] script. Time can run faster than the wall clock
//! (`speedup`): device times advance accordingly, so a 3-minute stop takes seconds.
//!
//! ```no_run
//! use astra_tests::sim::{self, Behaviour, SimConfig, SimDevice, SimProtocol, Stop};
//! # let gateway: std::net::SocketAddr = "127.0.0.1:5103".parse().unwrap();
//! # let reports = Vec::new();
//! let device = SimDevice::new(
//!     SimConfig::new("357322040000011", SimProtocol::X6, gateway)
//!         .behaviour(Behaviour::reports(reports)),
//! )
//! .unwrap();
//! let stats = device.stats();
//! sim::run(vec![device], &Stop::new()); // returns when the script is sent and acked
//! let acked = stats.acked(); // the reports the gateway acknowledged, in order
//! println!("{}", stats.counters());
//! ```

pub mod config; // one device's settings: identity, protocol, transport, clock, limits
pub mod demo; // the demo fleet of deploy/local/run.sh and its KV setup
pub mod device; // one device's run loop: reports, buffer, one packet in flight, reconnects
pub mod motion; // routes, random walks and scripts that make the reports
pub mod report; // a motion sample as the Position a protocol variant carries

pub use config::{SimConfig, SimProtocol, Transport};
pub use device::{Counters, DeviceStats, SimDevice};
pub use motion::{Behaviour, Point, RandomWalk, Route, Segment, Step};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A stop signal shared by the devices of a run (and whoever stops them).
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sleeps up to `d`, waking early when stopped; `true` if stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while !self.is_stopped() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        true
    }
}

/// One running device as seen from outside.
#[derive(Clone)]
pub struct Handle {
    pub imei: String,
    pub name: String,
    pub stats: Arc<DeviceStats>,
}

/// Devices running on their threads.
pub struct Running {
    devices: Vec<Handle>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn devices(&self) -> &[Handle] {
        &self.devices
    }

    /// The counters of the device with this IMEI.
    pub fn stats(&self, imei: &str) -> Option<Arc<DeviceStats>> {
        self.devices
            .iter()
            .find(|d| d.imei == imei)
            .map(|d| Arc::clone(&d.stats))
    }

    /// Counters summed over every device.
    pub fn totals(&self) -> Counters {
        let mut total = Counters::default();
        for d in &self.devices {
            total += d.stats.counters();
        }
        total
    }

    /// Whether every device has stopped.
    pub fn is_finished(&self) -> bool {
        self.devices.iter().all(|d| d.stats.is_finished())
    }

    /// Waits for every device thread.
    pub fn join(self) -> Vec<Handle> {
        for t in self.threads {
            // A device thread that panicked has nothing left to report.
            let _ = t.join();
        }
        self.devices
    }
}

/// Starts every device on its own thread and returns at once.
pub fn spawn(devices: Vec<SimDevice>, stop: &Stop) -> Running {
    let mut running = Running {
        devices: Vec::with_capacity(devices.len()),
        threads: Vec::with_capacity(devices.len()),
    };
    for device in devices {
        let handle = Handle {
            imei: device.imei().to_owned(),
            name: device.config().name.clone(),
            stats: device.stats(),
        };
        let stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("sim-{}", handle.imei))
            .stack_size(256 * 1024)
            .spawn(move || device.run(&stop));
        match spawned {
            Ok(t) => running.threads.push(t),
            Err(e) => {
                eprintln!("astra-sim: cannot start device {}: {e}", handle.imei);
                handle.stats.finished.store(true, Ordering::Relaxed);
            }
        }
        running.devices.push(handle);
    }
    running
}

/// Runs the devices until `stop` (or until each has ended by itself: duration over, script
/// done) and returns their counters.
pub fn run(devices: Vec<SimDevice>, stop: &Stop) -> Vec<Handle> {
    spawn(devices, stop).join()
}

#[cfg(test)]
mod tests;
