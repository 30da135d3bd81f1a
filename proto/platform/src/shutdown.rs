//! Graceful shutdown of every service, as in mini-redis: [`signal`] waits for SIGTERM or
//! Ctrl-C; one [`Trigger`] flips a watch flag that every [`Shutdown`] listener sees (even one
//! created after the flip), and work that must finish first (a gateway session's in-flight
//! publishes and acks) holds a [`Done`] guard; when the last guard is dropped the service
//! knows it may exit.

use tokio::sync::{mpsc, watch};

/// Fires the shutdown signal and waits for every [`Done`] guard to drop.
pub struct Trigger {
    flag: watch::Sender<bool>,
    done_tx: Option<mpsc::Sender<()>>,
    done_rx: mpsc::Receiver<()>,
}

/// Listens for the shutdown signal.
#[derive(Clone)]
pub struct Shutdown {
    flag: watch::Receiver<bool>,
}

/// Held by work that must finish before the process exits.
#[derive(Clone)]
pub struct Done {
    _tx: mpsc::Sender<()>,
}

impl Trigger {
    pub fn new() -> Self {
        let (flag, _) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(1);
        Self {
            flag,
            done_tx: Some(done_tx),
            done_rx,
        }
    }

    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            flag: self.flag.subscribe(),
        }
    }

    /// A guard to hold until some work has finished; `None` once shutdown has begun.
    pub fn done_guard(&self) -> Option<Done> {
        self.done_tx.as_ref().map(|tx| Done { _tx: tx.clone() })
    }

    /// Signals shutdown to every listener.
    pub fn fire(&mut self) {
        self.flag.send_replace(true);
        self.done_tx = None;
    }

    /// Resolves when every guard has been dropped (after [`Trigger::fire`]).
    pub async fn finished(&mut self) {
        let _ = self.done_rx.recv().await;
    }
}

impl Default for Trigger {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn is_shutdown(&self) -> bool {
        *self.flag.borrow()
    }

    /// Resolves once shutdown has been signalled (at once if it already was).
    pub async fn recv(&mut self) {
        let _ = self.flag.wait_for(|v| *v).await;
    }

    /// [`Shutdown::recv`] as an owned future, for servers that take a shutdown future.
    pub async fn wait(mut self) {
        self.recv().await;
    }
}

/// Waits for SIGTERM (Kubernetes, systemd, `kill`) or Ctrl-C.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::Trigger;
    use std::time::Duration;

    #[tokio::test]
    async fn listeners_see_the_flip_and_guards_hold_the_exit() {
        let mut trigger = Trigger::new();
        let early = trigger.subscribe();
        let guard = trigger.done_guard().unwrap();
        assert!(!early.is_shutdown());
        trigger.fire();
        assert!(early.is_shutdown());
        // A listener made after the flip sees it at once.
        tokio::time::timeout(Duration::from_secs(1), trigger.subscribe().wait())
            .await
            .unwrap();
        assert!(trigger.done_guard().is_none());
        let finished = tokio::time::timeout(Duration::from_millis(50), trigger.finished()).await;
        assert!(finished.is_err(), "finished while a guard was held");
        drop(guard);
        tokio::time::timeout(Duration::from_secs(1), trigger.finished())
            .await
            .unwrap();
    }
}
