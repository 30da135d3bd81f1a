//! Partition leases in a KV bucket, for every tier that divides devices between its replicas
//! (the decoder-worker in KV `astra-decoder-partitions`, the event-worker in
//! `astra-partitions`). Every worker keeps a membership key (`m.<worker>`) alive; a partition
//! belongs to whoever holds its key (`p.<n>`). The bucket's max age is the lease TTL, so a dead
//! worker's keys vanish and its partitions are taken over within it. Ownership follows
//! rendezvous hashing ([`plan`]), so starting a worker rebalances. Claims are `create` and
//! renewals `update` with the revision read, so two workers can never both hold a lease; a
//! partition is handed back only after the tier stopped it ([`Partitions::stop`] returns when its
//! in-flight work is acknowledged), so the next owner resumes from a complete ack floor.

mod plan;

pub use plan::{Action, Holder, lease_key, member_key, owner_of, plan};

use crate::shutdown::Shutdown;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

/// What a tier does when it wins or gives up partitions.
pub trait Partitions {
    /// Starts work on partitions this worker now holds.
    fn start(&mut self, acquired: Vec<u32>) -> impl Future<Output = ()>;
    /// Stops work on these partitions and returns once each has finished its in-flight work.
    fn stop(&mut self, partitions: Vec<u32>) -> impl Future<Output = ()>;
    /// Called after each round with the number of partitions running here (a gauge).
    fn owned(&mut self, _count: usize) {}
}

/// Why a lease round or the bucket set-up failed; keeps the async-nats error.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("lease bucket {bucket}: {source}")]
    Bucket {
        bucket: String,
        source: jetstream::context::CreateKeyValueError,
    },
    #[error("lease bucket status: {0}")]
    Status(#[from] kv::StatusError),
    #[error("cannot write membership key: {0}")]
    Member(#[from] kv::PutError),
    #[error("cannot list leases: {0}")]
    Keys(#[from] kv::WatchError),
    #[error("cannot list leases: {0}")]
    Key(#[from] kv::WatcherError),
    #[error("cannot read a lease: {0}")]
    Entry(#[from] kv::EntryError),
}

/// KV bucket `bucket` for leases: its max age is the lease TTL. An existing bucket is used with
/// its own TTL (a warning says so when it differs).
pub async fn ensure_bucket(
    js: &jetstream::Context,
    bucket: &str,
    ttl: Duration,
    replicas: usize,
) -> Result<kv::Store, LeaseError> {
    if let Ok(store) = js.get_key_value(bucket).await {
        let age = store.status().await?.max_age();
        if age != ttl {
            tracing::warn!(bucket, bucket_ttl = ?age, configured = ?ttl, "lease bucket exists with another TTL; using the bucket's");
        }
        return Ok(store);
    }
    js.create_key_value(kv::Config {
        bucket: bucket.to_owned(),
        history: 1,
        max_age: ttl,
        num_replicas: replicas,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|source| LeaseError::Bucket {
        bucket: bucket.to_owned(),
        source,
    })
}

/// The lease loop of one worker.
pub struct LeaseLoop {
    /// This worker's name in the leases (an instance id).
    pub me: String,
    /// Number of partitions, fixed per cluster.
    pub partitions: u32,
    /// Lease TTL: the bucket's max age; rounds run every third of it.
    pub ttl: Duration,
    pub leases: kv::Store,
}

impl LeaseLoop {
    /// Runs lease rounds until `shutdown` is signalled, then stops every partition and hands
    /// its lease back, so others take over at once instead of after the TTL.
    pub async fn run<P: Partitions>(self, mut tier: P, mut shutdown: Shutdown) {
        let interval = (self.ttl / 3).max(Duration::from_millis(200));
        let mut running = BTreeSet::new();
        loop {
            if let Err(e) = self.round(&mut tier, &mut running).await {
                tracing::warn!(error = %e, "lease round failed");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {},
                () = shutdown.recv() => break,
            }
        }
        let owned: Vec<u32> = running.iter().copied().collect();
        tier.stop(owned.clone()).await;
        for p in owned {
            let _ = self.leases.delete(lease_key(p)).await;
        }
        let _ = self.leases.delete(member_key(&self.me)).await;
        tier.owned(0);
        tracing::info!("partitions handed back");
    }

    async fn round<P: Partitions>(
        &self,
        tier: &mut P,
        running: &mut BTreeSet<u32>,
    ) -> Result<(), LeaseError> {
        self.leases.put(member_key(&self.me), Bytes::new()).await?;
        let (members, holders) = self.read().await?;
        let actions = plan(&self.me, self.partitions, &members, &holders, running);
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
                        .update(lease_key(p), Bytes::from(self.me.clone()), rev)
                        .await;
                    if renewed.is_err() {
                        tracing::warn!(partition = p, "lease lost");
                        lost.push(p);
                    } else if !running.contains(&p) {
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
        // Partitions stop together (each finishes its in-flight work), then their leases go.
        let stopping: Vec<u32> = lost
            .iter()
            .copied()
            .chain(released.iter().map(|(p, _)| *p))
            .filter(|p| running.contains(p))
            .collect();
        if !stopping.is_empty() {
            for p in &stopping {
                running.remove(p);
            }
            tier.stop(stopping).await;
        }
        for (p, rev) in released {
            let _ = self
                .leases
                .delete_expect_revision(lease_key(p), Some(rev))
                .await;
            tracing::info!(partition = p, "partition handed over");
        }
        for p in wanted {
            if self
                .leases
                .create(lease_key(p), Bytes::from(self.me.clone()))
                .await
                .is_ok()
            {
                acquired.push(p);
            }
        }
        if !acquired.is_empty() {
            running.extend(acquired.iter().copied());
            tier.start(acquired).await;
        }
        tier.owned(running.len());
        Ok(())
    }

    async fn read(&self) -> Result<(BTreeSet<String>, BTreeMap<u32, Holder>), LeaseError> {
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
}
