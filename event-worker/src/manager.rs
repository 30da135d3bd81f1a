//! The event-worker's side of the platform lease loop (`astra_platform::lease`, KV
//! `astra-partitions`): it starts a `PartitionConsumer` actor, with the partition's resident
//! devices, for each partition the loop wins, and stops it when the loop gives the partition up.
//! Stopping returns only once the consumer finished its batch, so the loop releases a lease only
//! then and the next owner resumes from an ack floor and checkpoints that are complete.

use crate::consumer::{ConsumerSettings, PartitionConsumer, Streams};
use crate::device::Shared;
use actix::prelude::*;
use astra_platform::lease::Partitions;
use astra_platform::partition::partition_of;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

/// The partitions running in this worker, one consumer actor each.
pub(crate) struct Manager {
    /// Number of partitions of the cluster (to place resident devices in them).
    partitions: u32,
    streams: Streams,
    shared: Arc<Shared>,
    consumer: ConsumerSettings,
    /// Consumers are spread over these arbiters (one per core) by partition number.
    arbiters: Vec<ArbiterHandle>,
    running: HashMap<u32, Running>,
}

/// A started consumer: how to tell it to stop, and how to hear that it has.
struct Running {
    stop: watch::Sender<bool>,
    done: oneshot::Receiver<()>,
}

impl Manager {
    pub(crate) fn new(
        partitions: u32,
        streams: Streams,
        shared: Arc<Shared>,
        consumer: ConsumerSettings,
        arbiters: Vec<ArbiterHandle>,
    ) -> Self {
        Self {
            partitions,
            streams,
            shared,
            consumer,
            arbiters,
            running: HashMap::new(),
        }
    }

    /// Devices of the acquired partitions that have stored state (their timers must run).
    async fn resident(&self, acquired: &[u32]) -> HashMap<u32, Vec<String>> {
        let mut out: HashMap<u32, Vec<String>> = HashMap::new();
        let Ok(mut keys) = self.shared.state.keys().await else {
            return out;
        };
        while let Some(Ok(imei)) = keys.next().await {
            let p = partition_of(&imei, self.partitions);
            if acquired.contains(&p) {
                out.entry(p).or_default().push(imei);
            }
        }
        out
    }

    fn start_one(&mut self, partition: u32, resident: Vec<String>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = oneshot::channel();
        let slot = usize::try_from(partition).unwrap_or(0) % self.arbiters.len().max(1);
        let consumer = PartitionConsumer {
            partition,
            streams: self.streams.clone(),
            shared: self.shared.clone(),
            settings: self.consumer.clone(),
            resident,
            stop: stop_rx,
            done: Some(done_tx),
        };
        match self.arbiters.get(slot) {
            Some(arbiter) => {
                PartitionConsumer::start_in_arbiter(arbiter, move |_| consumer);
            }
            None => {
                consumer.start();
            }
        }
        tracing::info!(partition, "partition started");
        self.running.insert(
            partition,
            Running {
                stop: stop_tx,
                done: done_rx,
            },
        );
    }
}

impl Partitions for Manager {
    async fn start(&mut self, acquired: Vec<u32>) {
        let mut resident = self.resident(&acquired).await;
        for p in acquired {
            let imeis = resident.remove(&p).unwrap_or_default();
            self.start_one(p, imeis);
        }
    }

    /// Signals every partition to stop, then waits for all of them (each finishes its batch).
    async fn stop(&mut self, partitions: Vec<u32>) {
        let mut waiting = Vec::new();
        for p in partitions {
            if let Some(running) = self.running.remove(&p) {
                let _ = running.stop.send(true);
                waiting.push((p, running.done));
            }
        }
        for (p, done) in waiting {
            let _ = done.await;
            tracing::info!(partition = p, "partition stopped");
        }
    }

    fn owned(&mut self, count: usize) {
        self.shared
            .metrics
            .partitions_owned
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
}
