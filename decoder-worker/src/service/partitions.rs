//! The partitions this replica holds: the lease loop (`astra_platform::lease`) starts a task per
//! partition it wins and stops it before handing the lease back ([`DecoderPartitions`]); a lag
//! poller sums the pending counts of the consumers bound here.

use super::metrics::Metrics;
use super::partition::{self, Bound, Context};
use astra_platform::lease::Partitions;
use astra_platform::shutdown::{Shutdown, Trigger};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The partitions running here, for the lease loop.
pub(crate) struct DecoderPartitions {
    ctx: Arc<Context>,
    running: HashMap<u32, (Trigger, JoinHandle<()>)>,
}

impl DecoderPartitions {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            running: HashMap::new(),
        }
    }
}

impl Partitions for DecoderPartitions {
    async fn start(&mut self, acquired: Vec<u32>) {
        tracing::info!(partitions = ?acquired, "partitions acquired");
        for p in acquired {
            if self.running.contains_key(&p) {
                continue;
            }
            let trigger = Trigger::new();
            let task = tokio::spawn(partition::run(p, self.ctx.clone(), trigger.subscribe()));
            self.running.insert(p, (trigger, task));
        }
    }

    /// Returns once every one of `partitions` has finished its frames in progress and its
    /// final ack was confirmed (or could not be).
    async fn stop(&mut self, partitions: Vec<u32>) {
        let mut tasks = Vec::with_capacity(partitions.len());
        for p in &partitions {
            if let Some((mut trigger, task)) = self.running.remove(p) {
                trigger.fire();
                tasks.push(task);
            }
        }
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "partition task failed");
            }
        }
        tracing::info!(partitions = ?partitions, "partitions stopped");
    }

    fn owned(&mut self, count: usize) {
        self.ctx
            .worker
            .metrics
            .partitions_owned
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
}

/// Refreshes the lag gauges every `interval` until `stop` fires: the sums over the consumers
/// of the partitions bound here (so over all replicas they add up to the cluster's lag).
pub(crate) async fn poll_lag(
    bound: Bound,
    metrics: Metrics,
    interval: Duration,
    mut stop: Shutdown,
) {
    while !stop.is_shutdown() {
        let consumers: Vec<_> = match bound.lock() {
            Ok(b) => b.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        let infos = futures::future::join_all(consumers.iter().map(|c| c.get_info())).await;
        let (mut pending, mut ack_pending) = (0u64, 0u64);
        for info in infos {
            match info {
                Ok(i) => {
                    pending = pending.saturating_add(i.num_pending);
                    ack_pending =
                        ack_pending.saturating_add(u64::try_from(i.num_ack_pending).unwrap_or(0));
                }
                Err(e) => tracing::debug!(error = %e, "consumer info unavailable"),
            }
        }
        metrics
            .consumer_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        metrics
            .consumer_ack_pending
            .set(i64::try_from(ack_pending).unwrap_or(i64::MAX));
        tokio::select! {
            () = tokio::time::sleep(interval) => {},
            () = stop.recv() => {},
        }
    }
}
