//! The partition manager: runs the lease loop of `lease.rs` against KV `astra-partitions` and
//! starts or stops a `PartitionConsumer` actor for each partition it wins or gives up. A
//! partition is released only after its consumer finished its batch, so the next owner resumes
//! from an ack floor and checkpoints that are complete.

use crate::consumer::{ConsumerSettings, PartitionConsumer};
use crate::device::Shared;
use crate::lease::{self, Action, Holder};
use actix::prelude::*;
use astra_platform::partition::partition_of;
use astra_platform::shutdown::Shutdown;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

pub(crate) struct Manager {
    pub(crate) me: String,
    pub(crate) partitions: u32,
    pub(crate) ttl: Duration,
    pub(crate) leases: kv::Store,
    pub(crate) stream: jetstream::stream::Stream,
    pub(crate) shared: Arc<Shared>,
    pub(crate) consumer: ConsumerSettings,
    pub(crate) arbiters: Vec<ArbiterHandle>,
    running: HashMap<u32, Running>,
}

struct Running {
    stop: watch::Sender<bool>,
    done: oneshot::Receiver<()>,
}

impl Manager {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        me: String,
        partitions: u32,
        ttl: Duration,
        leases: kv::Store,
        stream: jetstream::stream::Stream,
        shared: Arc<Shared>,
        consumer: ConsumerSettings,
        arbiters: Vec<ArbiterHandle>,
    ) -> Self {
        Self {
            me,
            partitions,
            ttl,
            leases,
            stream,
            shared,
            consumer,
            arbiters,
            running: HashMap::new(),
        }
    }

    /// Runs lease rounds until `shutdown` is signalled, then hands every partition back.
    pub(crate) async fn run(mut self, mut shutdown: Shutdown) {
        let interval = (self.ttl / 3).max(Duration::from_millis(200));
        loop {
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "lease round failed");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {},
                () = shutdown.recv() => break,
            }
        }
        let owned: Vec<u32> = self.running.keys().copied().collect();
        self.stop_all(&owned).await;
        for p in owned {
            let _ = self.leases.delete(lease::lease_key(p)).await;
        }
        let _ = self.leases.delete(lease::member_key(&self.me)).await;
        tracing::info!("partitions handed back");
    }

    async fn round(&mut self) -> anyhow::Result<()> {
        self.leases
            .put(lease::member_key(&self.me), Bytes::new())
            .await?;
        let (members, holders) = self.read().await?;
        let running: BTreeSet<u32> = self.running.keys().copied().collect();
        let actions = lease::plan(&self.me, self.partitions, &members, &holders, &running);
        // Renewals first: a round slowed down by hand-overs must not let the leases this
        // worker keeps expire (another worker would then take partitions still running here).
        let mut acquired = Vec::new();
        let mut lost = Vec::new();
        let mut released = Vec::new();
        let mut wanted = Vec::new();
        for action in actions {
            match action {
                Action::Renew(p, rev) => {
                    let renewed = self
                        .leases
                        .update(lease::lease_key(p), Bytes::from(self.me.clone()), rev)
                        .await;
                    if renewed.is_err() {
                        tracing::warn!(partition = p, "lease lost");
                        lost.push(p);
                    } else if !self.running.contains_key(&p) {
                        // Held from before a restart with the same id: resume it.
                        acquired.push(p);
                    }
                }
                Action::Release(p, rev) => released.push((p, rev)),
                Action::Lost(p) => {
                    tracing::warn!(partition = p, "lease gone; stopping partition");
                    lost.push(p);
                }
                Action::Acquire(p) => wanted.push(p),
            }
        }
        // Partitions stop together (each finishes its batch), then their leases go.
        let stopping: Vec<u32> = lost
            .iter()
            .copied()
            .chain(released.iter().map(|(p, _)| *p))
            .collect();
        self.stop_all(&stopping).await;
        for (p, rev) in released {
            let _ = self
                .leases
                .delete_expect_revision(lease::lease_key(p), Some(rev))
                .await;
            tracing::info!(partition = p, "partition handed over");
        }
        for p in wanted {
            if self
                .leases
                .create(lease::lease_key(p), Bytes::from(self.me.clone()))
                .await
                .is_ok()
            {
                acquired.push(p);
            }
        }
        if !acquired.is_empty() {
            let resident = self.resident(&acquired).await;
            for p in acquired {
                let imeis = resident.get(&p).cloned().unwrap_or_default();
                self.start(p, imeis);
            }
        }
        self.shared
            .metrics
            .partitions_owned
            .set(i64::try_from(self.running.len()).unwrap_or(i64::MAX));
        Ok(())
    }

    async fn read(&self) -> anyhow::Result<(BTreeSet<String>, BTreeMap<u32, Holder>)> {
        let mut members = BTreeSet::new();
        let mut holders = BTreeMap::new();
        let mut keys = self.leases.keys().await?;
        let mut names = Vec::new();
        while let Some(key) = keys.next().await {
            names.push(key?);
        }
        for key in names {
            if let Some(worker) = key.strip_prefix("m.") {
                members.insert(worker.to_owned());
            } else if let Some(p) = key.strip_prefix("p.").and_then(|p| p.parse::<u32>().ok())
                && let Some(entry) = self.leases.entry(key.clone()).await?
                && entry.operation == kv::Operation::Put
            {
                holders.insert(
                    p,
                    Holder {
                        worker: String::from_utf8_lossy(&entry.value).into_owned(),
                        revision: entry.revision,
                    },
                );
            }
        }
        members.insert(self.me.clone());
        Ok((members, holders))
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

    fn start(&mut self, partition: u32, resident: Vec<String>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = oneshot::channel();
        let slot = usize::try_from(partition).unwrap_or(0) % self.arbiters.len().max(1);
        let consumer = PartitionConsumer {
            partition,
            stream: self.stream.clone(),
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

    /// Signals every partition to stop, then waits for all of them.
    async fn stop_all(&mut self, partitions: &[u32]) {
        let mut waiting = Vec::new();
        for p in partitions {
            if let Some(running) = self.running.remove(p) {
                let _ = running.stop.send(true);
                waiting.push((*p, running.done));
            }
        }
        for (p, done) in waiting {
            let _ = done.await;
            tracing::info!(partition = p, "partition stopped");
        }
    }
}
