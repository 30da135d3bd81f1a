//! The device policy: `open` admits every IMEI; `registered` admits an IMEI only if it is a key
//! of KV `astra-devices`. Positive answers are cached for a while so a reconnect storm does not
//! hammer the bucket; a refusal is never cached (registering a device takes effect at once).

use crate::config::{PolicyConfig, PolicyMode};
use crate::error::PolicyError;
use async_nats::jetstream::kv;
use dashmap::DashMap;
use std::time::Instant;

pub(crate) struct DevicePolicy {
    config: PolicyConfig,
    registry: Option<kv::Store>,
    admitted: DashMap<String, Instant>,
}

impl DevicePolicy {
    /// `registry` must be given for [`PolicyMode::Registered`].
    pub(crate) fn new(config: PolicyConfig, registry: Option<kv::Store>) -> Self {
        Self {
            config,
            registry,
            admitted: DashMap::new(),
        }
    }

    pub(crate) async fn admit(&self, imei: &str) -> Result<(), PolicyError> {
        if self.config.mode == PolicyMode::Open {
            return Ok(());
        }
        if let Some(at) = self.admitted.get(imei).map(|e| *e.value())
            && at.elapsed() < self.config.cache
        {
            return Ok(());
        }
        let store = self.registry.as_ref().ok_or(PolicyError::NoBucket)?;
        match store.entry(imei).await {
            Ok(Some(entry)) if entry.operation == kv::Operation::Put => {
                self.admitted.insert(imei.to_owned(), Instant::now());
                Ok(())
            }
            Ok(_) => {
                self.admitted.remove(imei);
                Err(PolicyError::NotRegistered(imei.to_owned()))
            }
            Err(e) => Err(PolicyError::Unavailable(e)),
        }
    }
}
