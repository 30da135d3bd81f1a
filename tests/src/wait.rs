//! The one way tests wait for something to become true: poll a check every [`POLL`] until it
//! holds or a deadline passes. [`eventually`] and [`wait_until`] are for async tests (they sleep
//! on tokio's timer, so other tasks run meanwhile); [`wait_until_blocking`] (and, inside this
//! crate, `eventually_blocking`) is the same loop for threads and plain `#[test]`s.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long the helpers sleep between two looks: short enough that a test does not wait for
/// nothing, long enough not to hammer a server with queries.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Some`, or `timeout` passes (then `None`). The check runs at
/// least once, and once more after the deadline, so a slow check still gets its last chance.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        tokio::time::sleep(left.min(POLL)).await;
    }
}

/// Polls `check` until it holds; panics with "timed out waiting for `what`" after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let held = eventually(timeout, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await;
    assert!(
        held.is_some(),
        "timed out after {timeout:?} waiting for {what}"
    );
}

/// [`eventually`] for threads: sleeps the thread between looks.
pub(crate) fn eventually_blocking<T>(
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        std::thread::sleep(left.min(POLL));
    }
}

/// [`wait_until`] for threads: panics with "timed out waiting for `what`" after `timeout`.
pub fn wait_until_blocking(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let held = eventually_blocking(timeout, || check().then_some(()));
    assert!(
        held.is_some(),
        "timed out after {timeout:?} waiting for {what}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_waits_return_the_value_or_give_up() {
        let mut n = 0;
        let got = eventually_blocking(Duration::from_secs(5), || {
            n += 1;
            (n == 3).then_some(n)
        });
        assert_eq!(got, Some(3));
        let start = Instant::now();
        assert_eq!(
            eventually_blocking(Duration::from_millis(120), || None::<()>),
            None
        );
        assert!(start.elapsed() >= Duration::from_millis(120));
    }

    #[test]
    #[should_panic(expected = "timed out after 100ms waiting for nothing")]
    fn blocking_wait_until_names_what_it_waited_for() {
        wait_until_blocking(Duration::from_millis(100), "nothing", || false);
    }

    #[tokio::test]
    async fn async_waits_poll_until_the_check_holds() {
        let mut n = 0;
        wait_until(Duration::from_secs(5), "the third look", || {
            n += 1;
            let done = n >= 3;
            async move { done }
        })
        .await;
        assert_eq!(n, 3);
        let none = eventually(Duration::from_millis(60), || async { None::<u8> }).await;
        assert_eq!(none, None);
    }
}
