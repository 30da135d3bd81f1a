//! Per-device settings from KV `astra-devices` (protobuf `DeviceConfig`, key = IMEI), followed
//! live so a changed threshold or input mapping applies to the next position.

use astra_proto::v1::DeviceConfig;
use async_nats::jetstream::kv;
use dashmap::DashMap;
use futures::StreamExt;
use prost::Message;
use std::sync::Arc;

#[derive(Clone, Default)]
pub(crate) struct DeviceDirectory {
    configs: Arc<DashMap<String, DeviceConfig>>,
}

impl DeviceDirectory {
    pub(crate) fn get(&self, imei: &str) -> Option<DeviceConfig> {
        self.configs.get(imei).map(|c| c.value().clone())
    }

    pub(crate) fn insert(&self, config: DeviceConfig) {
        self.configs.insert(config.imei.clone(), config);
    }

    fn apply(&self, entry: kv::Entry) {
        match entry.operation {
            kv::Operation::Put => match DeviceConfig::decode(entry.value) {
                Ok(mut config) => {
                    config.imei = entry.key;
                    self.insert(config);
                }
                Err(e) => {
                    tracing::warn!(key = %entry.key, error = %e, "undecodable device config skipped")
                }
            },
            kv::Operation::Delete | kv::Operation::Purge => {
                self.configs.remove(&entry.key);
            }
        }
    }

    /// Loads the bucket, then follows it in a background task for as long as the process runs.
    pub(crate) async fn follow(&self, store: kv::Store) -> anyhow::Result<()> {
        let mut watch = store.watch_all_from_revision(1).await?;
        // Initial values first: the watcher marks the end of history with `delta == 0`.
        let initial_done = store.status().await?.values() == 0;
        if !initial_done {
            while let Some(entry) = watch.next().await {
                let entry = entry?;
                let last = entry.delta == 0;
                self.apply(entry);
                if last {
                    break;
                }
            }
        }
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(entry) = watch.next().await {
                match entry {
                    Ok(entry) => me.apply(entry),
                    Err(e) => tracing::warn!(error = %e, "device config watch error"),
                }
            }
        });
        Ok(())
    }
}
