//! A token bucket limiting how many bytes per second one connection may send: once the bucket
//! is empty the reader sleeps, so the kernel's receive window pushes back on the device.

use std::time::{Duration, Instant};

pub(crate) struct Throttle {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Throttle {
    /// `bytes_per_sec == 0` disables the limit. The bucket holds one second's worth.
    pub(crate) fn new(bytes_per_sec: u64) -> Self {
        // Precision loss above 2^52 bytes/s does not matter.
        #[allow(clippy::cast_precision_loss)]
        let rate = bytes_per_sec as f64;
        Self {
            rate,
            tokens: rate,
            last: Instant::now(),
        }
    }

    /// Takes `n` bytes from the bucket, sleeping if it went into debt.
    pub(crate) async fn consume(&mut self, n: usize) {
        if self.rate <= 0.0 {
            return;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.last = now;
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        self.tokens = (self.tokens + refill).min(self.rate) - n;
        if self.tokens < 0.0 {
            let wait = Duration::from_secs_f64(-self.tokens / self.rate);
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_when_in_debt() {
        let mut t = Throttle::new(1000);
        let start = Instant::now();
        t.consume(1000).await;
        assert!(start.elapsed() < Duration::from_millis(10));
        t.consume(200).await;
        assert!(start.elapsed() >= Duration::from_millis(150));
    }
}
