//! What the service calls: [`Geocoder::annotate`] sets `Position.address` on every position
//! with a valid fix, looking each grid cell up once:
//!
//! 1. in this replica's memory ([`MemoryCache`]);
//! 2. for a remote provider, in the KV bucket `astra-geocode` that all replicas share (the
//!    `Address` protobuf-encoded under `<provider>.<cell m>.<row>.<col>`);
//! 3. from the provider, at the cell's centre; the answer goes to memory and KV.
//!
//! Steps 2 and 3 run in a task of their own and each lookup waits at most `timeout` for it: a
//! slow provider costs a position its address, never its timeliness, and the late answer still
//! fills the caches for the next position in that cell. Concurrent lookups of one cell share one
//! request. The cells of a frame are looked up concurrently.

use super::ReverseGeocoder;
use super::address;
use super::cache::MemoryCache;
use super::cell::Cell;
use astra_proto::v1::{Address, Position};
use async_nats::jetstream::kv;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared, join_all};
use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
use prost::Message as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Longest wait for the shared KV cache before asking the provider.
const KV_TIMEOUT: Duration = Duration::from_secs(2);

/// Tuning of a [`Geocoder`].
#[derive(Debug, Clone, Copy)]
pub struct GeocoderConfig {
    /// Longest a lookup may hold a position back; after it, the position goes without address.
    pub timeout: Duration,
    /// Size of the grid cells answers are cached by, metres.
    pub cell_m: f64,
    /// Cells kept in this replica's memory.
    pub cache_size: usize,
}

/// Prometheus metrics of geocoding.
#[derive(Clone)]
pub struct GeocodeMetrics {
    /// Cell lookups by result: `hit_memory`, `hit_kv`, `miss` (answered by the provider),
    /// `error` (the provider failed), `timeout` (no answer within the lookup timeout).
    pub lookups: IntCounterVec,
    /// Requests to the provider by outcome: `found`, `empty` (no place there), `error`; also
    /// those finishing after their lookup timed out.
    pub requests: IntCounterVec,
    /// Time the provider took to answer.
    pub latency: Histogram,
}

impl GeocodeMetrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let lookups = IntCounterVec::new(
            Opts::new(
                "astra_geocode_lookups_total",
                "Address lookups of a grid cell, by result (hit_memory, hit_kv, miss, error, timeout)",
            ),
            &["result"],
        )?;
        let requests = IntCounterVec::new(
            Opts::new(
                "astra_geocode_provider_requests_total",
                "Requests to the geocoding provider, by outcome (found, empty, error)",
            ),
            &["provider", "outcome"],
        )?;
        let latency = Histogram::with_opts(
            HistogramOpts::new(
                "astra_geocode_provider_latency_seconds",
                "Time the geocoding provider took to answer",
            )
            .buckets(vec![
                0.000_1, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        registry.register(Box::new(lookups.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            lookups,
            requests,
            latency,
        })
    }
}

/// What a background lookup found.
#[derive(Debug, Clone)]
enum Resolved {
    Kv(Address),
    Provider(Address),
    Failed,
}

type Pending = Shared<BoxFuture<'static, Resolved>>;

/// The geocoding stage of a replica; cheap to clone.
#[derive(Clone)]
pub struct Geocoder {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Arc<dyn ReverseGeocoder>,
    tag: String,
    config: GeocoderConfig,
    memory: MemoryCache,
    kv: Option<kv::Store>,
    metrics: GeocodeMetrics,
    inflight: Mutex<HashMap<String, Pending>>,
    last_warning: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Coordinates worth geocoding: a valid fix with both of them.
fn geocodable(p: &Position) -> Option<(f64, f64)> {
    if !p.valid {
        return None;
    }
    Some((p.latitude?, p.longitude?))
}

fn found(a: Address) -> Option<Address> {
    (!address::is_empty(&a)).then_some(a)
}

impl Geocoder {
    /// `kv`: the shared cache bucket, used only when the provider is remote.
    pub fn new(
        provider: Arc<dyn ReverseGeocoder>,
        config: GeocoderConfig,
        kv: Option<kv::Store>,
        metrics: GeocodeMetrics,
    ) -> Self {
        let kv = kv.filter(|_| provider.remote());
        Self {
            inner: Arc::new(Inner {
                tag: provider.cache_tag(),
                provider,
                memory: MemoryCache::new(config.cache_size),
                config,
                kv,
                metrics,
                inflight: Mutex::new(HashMap::new()),
                last_warning: AtomicU64::new(0),
            }),
        }
    }

    pub fn provider_name(&self) -> &'static str {
        self.inner.provider.name()
    }

    /// Sets `address` on every position with a valid fix; waits at most the lookup timeout.
    pub async fn annotate(&self, positions: &mut [Position]) {
        let cell_m = self.inner.config.cell_m;
        let mut cells: HashMap<String, Cell> = HashMap::new();
        let keys: Vec<Option<String>> = positions
            .iter()
            .map(|p| {
                let (lat, lon) = geocodable(p)?;
                let cell = Cell::of(lat, lon, cell_m)?;
                let key = cell.key(&self.inner.tag, cell_m);
                cells.entry(key.clone()).or_insert(cell);
                Some(key)
            })
            .collect();
        if cells.is_empty() {
            return;
        }
        let answers: HashMap<String, Option<Address>> =
            join_all(cells.into_iter().map(|(key, cell)| async move {
                let a = self.lookup(&key, cell).await;
                (key, a)
            }))
            .await
            .into_iter()
            .collect();
        for (p, key) in positions.iter_mut().zip(keys) {
            if let Some(key) = key {
                p.address = answers.get(&key).cloned().flatten().map(Box::new);
            }
        }
    }

    /// The address of one cell (`None`: no place there, or no answer in time).
    async fn lookup(&self, key: &str, cell: Cell) -> Option<Address> {
        let inner = &self.inner;
        let count = |result: &str| inner.metrics.lookups.with_label_values(&[result]).inc();
        if let Some(a) = inner.memory.get(key) {
            count("hit_memory");
            return found(a);
        }
        if !inner.provider.remote() {
            // Local data answers at once: no task, no timeout, no KV.
            return match inner.ask_provider(key, cell).await {
                Resolved::Provider(a) => {
                    inner.memory.insert(key.to_owned(), a.clone());
                    count("miss");
                    found(a)
                }
                _ => {
                    count("error");
                    None
                }
            };
        }
        let pending = {
            let mut inflight = lock(&inner.inflight);
            if let Some(p) = inflight.get(key) {
                p.clone()
            } else if let Some(a) = inner.memory.get(key) {
                // A lookup of this cell finished between the first look and the lock.
                drop(inflight);
                count("hit_memory");
                return found(a);
            } else {
                let task = tokio::spawn(Inner::resolve(self.inner.clone(), key.to_owned(), cell));
                let p = async move { task.await.unwrap_or(Resolved::Failed) }
                    .boxed()
                    .shared();
                inflight.insert(key.to_owned(), p.clone());
                p
            }
        };
        match tokio::time::timeout(inner.config.timeout, pending).await {
            Ok(Resolved::Kv(a)) => {
                count("hit_kv");
                found(a)
            }
            Ok(Resolved::Provider(a)) => {
                count("miss");
                found(a)
            }
            Ok(Resolved::Failed) => {
                count("error");
                None
            }
            Err(_) => {
                count("timeout");
                None
            }
        }
    }
}

impl Inner {
    /// The background part of a lookup: KV, then the provider; fills the memory cache.
    async fn resolve(self: Arc<Self>, key: String, cell: Cell) -> Resolved {
        let mut result = self.kv_lookup(&key).await;
        if result.is_none() {
            let answer = self.ask_provider(&key, cell).await;
            if let (Resolved::Provider(a), Some(kv)) = (&answer, &self.kv) {
                let (kv, key, value) = (kv.clone(), key.clone(), a.encode_to_vec());
                tokio::spawn(async move {
                    if let Err(e) = kv.put(key, value.into()).await {
                        tracing::debug!(error = %e, "cannot store an address in KV");
                    }
                });
            }
            result = Some(answer);
        }
        let result = result.unwrap_or(Resolved::Failed);
        if let Resolved::Kv(a) | Resolved::Provider(a) = &result {
            self.memory.insert(key.clone(), a.clone());
        }
        lock(&self.inflight).remove(&key);
        result
    }

    async fn kv_lookup(&self, key: &str) -> Option<Resolved> {
        let kv = self.kv.as_ref()?;
        match tokio::time::timeout(KV_TIMEOUT, kv.get(key)).await {
            Ok(Ok(Some(value))) => match Address::decode(value) {
                Ok(a) => Some(Resolved::Kv(a)),
                Err(e) => {
                    tracing::debug!(key, error = %e, "unreadable address in KV; asking the provider");
                    None
                }
            },
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::debug!(key, error = %e, "KV get failed; asking the provider");
                None
            }
            Err(_) => {
                tracing::debug!(key, "KV get timed out; asking the provider");
                None
            }
        }
    }

    async fn ask_provider(&self, key: &str, cell: Cell) -> Resolved {
        let name = self.provider.name();
        let start = Instant::now();
        let answer = self.provider.reverse(cell.lat, cell.lon).await;
        self.metrics.latency.observe(start.elapsed().as_secs_f64());
        let outcome = |o: &str| self.metrics.requests.with_label_values(&[name, o]).inc();
        match answer {
            Ok(Some(a)) => {
                outcome(if address::is_empty(&a) {
                    "empty"
                } else {
                    "found"
                });
                Resolved::Provider(a)
            }
            Ok(None) => {
                outcome("empty");
                Resolved::Provider(Address::default())
            }
            Err(e) => {
                outcome("error");
                self.warn_sometimes(key, &e);
                Resolved::Failed
            }
        }
    }

    /// Logs a provider failure at most once a minute (debug otherwise): a dead server would
    /// otherwise log once per position.
    fn warn_sometimes(&self, key: &str, e: &super::GeocodeError) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_warning.load(Ordering::Relaxed);
        if now >= last + 60
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(provider = self.provider.name(), key, error = %e, "reverse geocoding failed; positions go without address (logged once a minute, see astra_geocode_provider_requests_total)");
        } else {
            tracing::debug!(provider = self.provider.name(), key, error = %e, "reverse geocoding failed");
        }
    }
}
