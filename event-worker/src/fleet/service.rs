//! `astra.v1.Fleet`: devices and geofences (KV `astra-devices`, `astra-geofences`, written only
//! here), device state (KV `astra-state`, written by the workers, read only here) and live
//! watches of positions and events. Any replica answers: nothing is cached between requests.

use super::error::{FleetError, KvError};
use super::stream;
use super::validate::{validate_device, validate_imei};
use crate::geofence;
use astra_platform::streams;
use astra_proto::v1::fleet_server::Fleet;
use astra_proto::v1::{
    DeleteResponse, DeviceConfig, DeviceState, Event, Geofence, IdRequest, ImeiRequest,
    ListDevicesRequest, ListDevicesResponse, ListGeofencesRequest, ListGeofencesResponse, Position,
    WatchRequest,
};
use async_nats::jetstream::kv;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// Most IMEIs one watch may name: each is a NATS subscription.
pub(crate) const MAX_WATCH_IMEIS: usize = 1_000;
/// KV reads in flight while listing a bucket.
const LIST_CONCURRENCY: usize = 32;
/// Tries of the revision-checked delete before giving up on a key that keeps changing.
const DELETE_TRIES: usize = 5;

/// A KV bucket and its name for error messages.
#[derive(Clone)]
struct Bucket {
    store: kv::Store,
    name: &'static str,
}

impl Bucket {
    fn store_error(&self, e: impl Into<KvError>) -> FleetError {
        FleetError::Store {
            bucket: self.name,
            source: e.into(),
        }
    }

    async fn get<T: Message + Default>(&self, key: &str) -> Result<Option<T>, FleetError> {
        let Some(value) = self.store.get(key).await.map_err(|e| self.store_error(e))? else {
            return Ok(None);
        };
        T::decode(value.as_ref())
            .map(Some)
            .map_err(|source| FleetError::Corrupt {
                bucket: self.name,
                key: key.to_owned(),
                source,
            })
    }

    async fn put<T: Message>(&self, key: &str, value: &T) -> Result<(), FleetError> {
        self.store
            .put(key, value.encode_to_vec().into())
            .await
            .map(|_| ())
            .map_err(|e| self.store_error(e))
    }

    /// Every live value, sorted by key. A key deleted between listing and reading is left out.
    async fn list<T: Message + Default>(&self) -> Result<Vec<T>, FleetError> {
        let keys: Vec<String> = self
            .store
            .keys()
            .await
            .map_err(|e| self.store_error(e))?
            .try_collect()
            .await
            .map_err(|e| self.store_error(e))?;
        let mut values: Vec<(String, T)> = futures::stream::iter(keys)
            .map(|key| async move { self.get::<T>(&key).await.map(|v| v.map(|v| (key, v))) })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_filter_map(|found| async move { Ok(found) })
            .try_collect()
            .await?;
        values.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(values.into_iter().map(|(_, v)| v).collect())
    }

    /// Deletes `key` (a tombstone, so watchers see it) if it holds a value. True only if this
    /// call removed a live value: the delete is checked against the revision just read, so a
    /// concurrent delete is not claimed twice and a concurrent put is not lost unnoticed.
    async fn delete(&self, key: &str) -> Result<bool, FleetError> {
        for _ in 0..DELETE_TRIES {
            let entry = self
                .store
                .entry(key)
                .await
                .map_err(|e| self.store_error(e))?;
            let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
                return Ok(false);
            };
            match self
                .store
                .delete_expect_revision(key, Some(entry.revision))
                .await
            {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == kv::DeleteErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(self.store_error(e)),
            }
        }
        Err(self.store_error(KvError::KeptChanging(key.to_owned())))
    }
}

#[derive(Clone)]
pub struct FleetService {
    client: async_nats::Client,
    devices: Bucket,
    geofences: Bucket,
    state: Bucket,
    /// Set to true to end every open watch (graceful shutdown would otherwise wait on them).
    stop_watches: Arc<watch::Sender<bool>>,
}

impl FleetService {
    pub fn new(
        client: async_nats::Client,
        devices: kv::Store,
        geofences: kv::Store,
        state: kv::Store,
    ) -> Self {
        Self {
            client,
            devices: Bucket {
                store: devices,
                name: streams::KV_DEVICES,
            },
            geofences: Bucket {
                store: geofences,
                name: streams::KV_GEOFENCES,
            },
            state: Bucket {
                store: state,
                name: streams::KV_STATE,
            },
            stop_watches: Arc::new(watch::channel(false).0),
        }
    }

    /// A handle that stops the watches, kept by `serve` after the service moves into tonic:
    /// setting it ends every open and future WatchPositions / WatchEvents stream with
    /// UNAVAILABLE.
    pub(super) fn watch_stopper(&self) -> Arc<watch::Sender<bool>> {
        Arc::clone(&self.stop_watches)
    }

    /// Validated, de-duplicated subjects for a watch: one per IMEI, or `all` for none.
    fn subjects(
        req: &WatchRequest,
        per_imei: impl Fn(&str) -> String,
        all: &str,
    ) -> Result<Vec<String>, FleetError> {
        if req.imeis.len() > MAX_WATCH_IMEIS {
            return Err(FleetError::TooManyImeis {
                max: MAX_WATCH_IMEIS,
                got: req.imeis.len(),
            });
        }
        for imei in &req.imeis {
            validate_imei(imei)?;
        }
        if req.imeis.is_empty() {
            return Ok(vec![all.to_owned()]);
        }
        let unique: BTreeSet<&str> = req.imeis.iter().map(String::as_str).collect();
        Ok(unique.into_iter().map(per_imei).collect())
    }
}

#[tonic::async_trait]
impl Fleet for FleetService {
    async fn upsert_device(
        &self,
        request: Request<DeviceConfig>,
    ) -> Result<Response<DeviceConfig>, Status> {
        let device = request.into_inner();
        validate_device(&device).map_err(FleetError::from)?;
        self.devices.put(&device.imei, &device).await?;
        tracing::info!(imei = %device.imei, "device upserted");
        Ok(Response::new(device))
    }

    async fn get_device(
        &self,
        request: Request<ImeiRequest>,
    ) -> Result<Response<DeviceConfig>, Status> {
        let imei = request.into_inner().imei;
        validate_imei(&imei).map_err(FleetError::from)?;
        match self.devices.get(&imei).await? {
            Some(device) => Ok(Response::new(device)),
            None => Err(FleetError::DeviceNotFound(imei).into()),
        }
    }

    async fn list_devices(
        &self,
        _request: Request<ListDevicesRequest>,
    ) -> Result<Response<ListDevicesResponse>, Status> {
        let devices = self.devices.list().await?;
        Ok(Response::new(ListDevicesResponse { devices }))
    }

    async fn delete_device(
        &self,
        request: Request<ImeiRequest>,
    ) -> Result<Response<DeleteResponse>, Status> {
        let imei = request.into_inner().imei;
        validate_imei(&imei).map_err(FleetError::from)?;
        let deleted = self.devices.delete(&imei).await?;
        tracing::info!(%imei, deleted, "device delete");
        Ok(Response::new(DeleteResponse { deleted }))
    }

    /// An empty id is rejected rather than generated: ids are chosen by the operator's system,
    /// and a generated one returned only in the reply is easily lost on a retry (duplicates).
    async fn upsert_geofence(
        &self,
        request: Request<Geofence>,
    ) -> Result<Response<Geofence>, Status> {
        let fence = request.into_inner();
        geofence::validate(&fence).map_err(FleetError::from)?;
        self.geofences.put(&fence.id, &fence).await?;
        tracing::info!(id = %fence.id, "geofence upserted");
        Ok(Response::new(fence))
    }

    async fn get_geofence(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<Geofence>, Status> {
        let id = request.into_inner().id;
        geofence::validate_id(&id).map_err(FleetError::from)?;
        match self.geofences.get(&id).await? {
            Some(fence) => Ok(Response::new(fence)),
            None => Err(FleetError::GeofenceNotFound(id).into()),
        }
    }

    async fn list_geofences(
        &self,
        _request: Request<ListGeofencesRequest>,
    ) -> Result<Response<ListGeofencesResponse>, Status> {
        let geofences = self.geofences.list().await?;
        Ok(Response::new(ListGeofencesResponse { geofences }))
    }

    async fn delete_geofence(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<DeleteResponse>, Status> {
        let id = request.into_inner().id;
        geofence::validate_id(&id).map_err(FleetError::from)?;
        let deleted = self.geofences.delete(&id).await?;
        tracing::info!(%id, deleted, "geofence delete");
        Ok(Response::new(DeleteResponse { deleted }))
    }

    async fn get_device_state(
        &self,
        request: Request<ImeiRequest>,
    ) -> Result<Response<DeviceState>, Status> {
        let imei = request.into_inner().imei;
        validate_imei(&imei).map_err(FleetError::from)?;
        match self.state.get(&imei).await? {
            Some(state) => Ok(Response::new(state)),
            None => Err(FleetError::NoState(imei).into()),
        }
    }

    type WatchPositionsStream = BoxStream<'static, Result<Position, Status>>;

    async fn watch_positions(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchPositionsStream>, Status> {
        let subjects = Self::subjects(
            request.get_ref(),
            streams::position_subject,
            "astra.position.*",
        )?;
        let positions =
            stream::watch(&self.client, subjects, self.stop_watches.subscribe()).await?;
        Ok(Response::new(positions))
    }

    type WatchEventsStream = BoxStream<'static, Result<Event, Status>>;

    async fn watch_events(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let subjects = Self::subjects(
            request.get_ref(),
            |imei| streams::event_subject(imei, "*"),
            "astra.event.>",
        )?;
        let events = stream::watch(&self.client, subjects, self.stop_watches.subscribe()).await?;
        Ok(Response::new(events))
    }
}
