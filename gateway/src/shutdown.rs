//! Graceful shutdown, as in mini-redis: one [`Trigger`] flips a watch flag that every
//! [`Shutdown`] listener sees (even one created after the flip), and every session holds a
//! [`Done`] guard; when the last guard is dropped the gateway knows all sessions have finished
//! their in-flight publishes and acks.

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
}
