//! Pieces the benchmark tools share (`loadgen`, `js-ceiling`, `idle-conns`, driven by
//! `scripts/bench.sh`): file-descriptor limits, loopback source addresses, latency summaries,
//! process memory, and the device traffic itself ([`traffic`]) and its observation on NATS
//! ([`observe`]). Speed is measured with these, never asserted in CI.

pub mod observe;
pub mod traffic;

use serde_json::{Value, json};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::{TcpSocket, TcpStream};

/// Raises this process's RLIMIT_NOFILE: the soft limit to `want` (as root also the hard limit,
/// up to `fs.nr_open`), else as far as the hard limit allows. Returns the new (soft, hard).
pub fn raise_nofile(want: u64) -> (u64, u64) {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur);
        if cur.rlim_cur < want {
            let both = libc::rlimit {
                rlim_cur: want,
                rlim_max: want.max(cur.rlim_max),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &both) != 0 {
                let soft = libc::rlimit {
                    rlim_cur: cur.rlim_max,
                    rlim_max: cur.rlim_max,
                };
                libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
            }
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur);
    }
    (cur.rlim_cur, cur.rlim_max)
}

/// Wall-clock time in microseconds since the Unix epoch (comparable across the processes of one
/// machine, e.g. with the gateway's `received_time`).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Loopback source address number `i` of `sources`: 127.0.0.`base`, 127.0.0.`base`+1, … Each
/// source address has its own ~28 000 ephemeral ports towards one gateway address, so several
/// make more than 64k connections possible from one machine.
pub fn source_ip(i: usize, sources: usize, base: u8) -> Option<Ipv4Addr> {
    (sources > 0).then(|| {
        let k = (i % sources) as u8;
        Ipv4Addr::new(127, 0, 0, base.wrapping_add(k))
    })
}

/// Opens a TCP connection to `dst`, bound to source address `src` first (with
/// `IP_BIND_ADDRESS_NO_PORT`, so the port is picked at connect time for this destination).
pub async fn connect_from(src: Option<Ipv4Addr>, dst: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = src {
        let one: libc::c_int = 1;
        // SAFETY: a valid socket and a c_int option value of the size given.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                std::ptr::from_ref(&one).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        socket.bind(SocketAddr::new(ip.into(), 0))?;
    }
    let stream = socket.connect(dst).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Percentiles of latencies given in microseconds, as milliseconds in JSON:
/// `{"n", "p50", "p90", "p99", "p999", "max", "mean"}` (`null`s when empty).
pub fn summarize(mut us: Vec<u64>) -> Value {
    if us.is_empty() {
        return json!({"n": 0, "p50": null, "p90": null, "p99": null, "p999": null, "max": null, "mean": null});
    }
    us.sort_unstable();
    let pick = |p: f64| {
        // Nearest rank: the smallest value with at least p of the samples at or below it.
        let rank = ((p * us.len() as f64).ceil() as usize).clamp(1, us.len());
        ms(us.get(rank - 1).copied().unwrap_or_default())
    };
    let mean = us.iter().sum::<u64>() as f64 / us.len() as f64 / 1000.0;
    json!({
        "n": us.len(),
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "p999": pick(0.999),
        "max": ms(us.last().copied().unwrap_or_default()),
        "mean": (mean * 1000.0).round() / 1000.0,
    })
}

fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// Resident memory of a process in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Parses `1000`, `10k`, `1.5M`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1_000.0),
        Some('m' | 'M') => (&s[..s.len() - 1], 1_000_000.0),
        _ => (s, 1.0),
    };
    num.parse::<f64>()
        .map(|v| (v * mul).round() as u64)
        .map_err(|e| format!("{s}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        let s = summarize(v);
        assert_eq!(s["p50"], 500.0);
        assert_eq!(s["p99"], 990.0);
        assert_eq!(s["p999"], 999.0);
        assert_eq!(s["max"], 1000.0);
        assert_eq!(summarize(Vec::new())["n"], 0);
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("1.5M"), Ok(1_500_000));
        assert_eq!(parse_count("250"), Ok(250));
    }

    #[test]
    fn source_addresses_cycle() {
        assert_eq!(source_ip(0, 3, 2), Some(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(source_ip(4, 3, 2), Some(Ipv4Addr::new(127, 0, 0, 3)));
        assert_eq!(source_ip(4, 0, 2), None);
    }
}
