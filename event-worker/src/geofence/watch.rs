//! Keeps a [`SharedIndex`] equal to KV `astra-geofences` (key = id, value = protobuf
//! `astra.v1.Geofence`): a full load first, then every put and delete as it happens, so an
//! operator's change applies without a restart.
//!
//! Start-up contract: the worker must not evaluate fixes before the first full load, or every
//! device would seem to leave every fence. [`start`] returns only after that load (and follows
//! in a spawned task); [`watch`] does both in one future and reports the load on a oneshot.
//! A failed first load is an error (bad bucket, no permission: fail fast at start-up); after it,
//! a failing watcher is replaced by a fresh full load with backoff, while the old index keeps
//! serving. An invalid stored fence is logged and left out; it never stops the watcher.

use super::SharedIndex;
use super::index::GeofenceIndex;
use super::shape::Fence;
use anyhow::Context;
use astra_proto::v1::Geofence;
use async_nats::jetstream::kv;
use futures::StreamExt;
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest silence tolerated in the middle of the initial load before starting it over.
const LOAD_IDLE: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Outcome of a full load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Fences now in the index.
    pub fences: usize,
    /// Stored entries left out because they are invalid.
    pub skipped: usize,
}

/// Loads every fence into `index`, then follows the bucket until the task is aborted.
/// `ready` (if given) receives the report of the first load. Returns an error only if the first
/// load fails.
pub async fn watch(
    store: kv::Store,
    index: SharedIndex,
    ready: Option<oneshot::Sender<LoadReport>>,
) -> anyhow::Result<()> {
    let (report, watcher) = load(&store, &index).await?;
    if let Some(ready) = ready {
        // Nobody waiting for readiness is fine.
        let _ = ready.send(report);
    }
    follow(store, index, watcher).await;
    Ok(())
}

/// Performs the first full load, then follows the bucket in a spawned task (abort the handle to
/// stop it).
pub async fn start(
    store: kv::Store,
    index: SharedIndex,
) -> anyhow::Result<(LoadReport, JoinHandle<()>)> {
    let (report, watcher) = load(&store, &index).await?;
    Ok((report, tokio::spawn(follow(store, index, watcher))))
}

/// Reads the latest value of every key into a fresh index and swaps it in, returning the
/// watcher positioned right after them for the live changes.
async fn load(store: &kv::Store, index: &SharedIndex) -> anyhow::Result<(LoadReport, kv::Watch)> {
    // An empty bucket delivers nothing, so "caught up" cannot be seen on the watcher; the count
    // taken before subscribing tells that case apart.
    let stored = store
        .stream
        .get_info()
        .await
        .context("geofence bucket info")?
        .state
        .messages;
    let mut watcher = store
        .watch_with_history(">")
        .await
        .context("watching the geofence bucket")?;
    let mut fences: HashMap<String, Fence> = HashMap::new();
    let mut skipped: HashSet<String> = HashSet::new();
    if stored > 0 {
        loop {
            let entry = tokio::time::timeout(LOAD_IDLE, watcher.next())
                .await
                .context("geofence load stalled")?
                .context("geofence watcher ended during the load")?
                .context("geofence watcher")?;
            fences.remove(&entry.key);
            skipped.remove(&entry.key);
            match change(&entry) {
                Change::Put(fence) => {
                    fences.insert(entry.key.clone(), *fence);
                }
                Change::Invalid(reason) => {
                    warn_invalid(&entry, &reason);
                    skipped.insert(entry.key.clone());
                }
                Change::Gone => {}
            }
            if entry.delta == 0 {
                break;
            }
        }
    }
    let fresh = GeofenceIndex::from_fences(fences.into_values());
    let report = LoadReport {
        fences: fresh.len(),
        skipped: skipped.len(),
    };
    *index.write().unwrap_or_else(PoisonError::into_inner) = fresh;
    tracing::info!(
        fences = report.fences,
        skipped = report.skipped,
        "geofences loaded"
    );
    Ok((report, watcher))
}

async fn follow(store: kv::Store, index: SharedIndex, mut watcher: kv::Watch) {
    let mut backoff = BACKOFF_MIN;
    loop {
        while let Some(item) = watcher.next().await {
            match item {
                Ok(entry) => {
                    apply(&index, &entry);
                    backoff = BACKOFF_MIN;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "geofence watcher failed; reloading");
                    break;
                }
            }
        }
        // The watcher failed or ended: changes may have been missed, so reload everything.
        loop {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
            match load(&store, &index).await {
                Ok((_, fresh)) => {
                    watcher = fresh;
                    break;
                }
                Err(e) => tracing::warn!(error = format!("{e:#}"), "geofence reload failed"),
            }
        }
    }
}

enum Change {
    Put(Box<Fence>),
    Invalid(String),
    Gone,
}

fn change(entry: &kv::Entry) -> Change {
    match entry.operation {
        kv::Operation::Delete | kv::Operation::Purge => Change::Gone,
        kv::Operation::Put => {
            let g = match Geofence::decode(entry.value.as_ref()) {
                Ok(g) => g,
                Err(e) => return Change::Invalid(format!("cannot decode: {e}")),
            };
            if g.id != entry.key {
                return Change::Invalid(format!("stored id {:?} differs from its key", g.id));
            }
            match Fence::compile(&g) {
                Ok(fence) => Change::Put(Box::new(fence)),
                Err(e) => Change::Invalid(e.to_string()),
            }
        }
    }
}

fn warn_invalid(entry: &kv::Entry, reason: &str) {
    // The bucket is the source of truth: a fence whose stored value is unusable is dropped
    // rather than kept at its last good version, which the operator no longer sees anywhere.
    tracing::warn!(
        key = %entry.key,
        revision = entry.revision,
        reason,
        "invalid geofence in KV left out of the index"
    );
}

fn apply(index: &SharedIndex, entry: &kv::Entry) {
    let change = change(entry);
    let mut index = index.write().unwrap_or_else(PoisonError::into_inner);
    match change {
        Change::Put(fence) => {
            tracing::debug!(id = %fence.id, kind = fence.kind(), "geofence updated");
            index.upsert(*fence);
        }
        Change::Invalid(reason) => {
            warn_invalid(entry, &reason);
            index.remove(&entry.key);
        }
        Change::Gone => {
            tracing::debug!(id = %entry.key, "geofence deleted");
            index.remove(&entry.key);
        }
    }
}
