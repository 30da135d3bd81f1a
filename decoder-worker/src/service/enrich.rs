//! What a replica adds to decoded positions before publishing them (the codec's output is left
//! exactly as decoded): the accuracy of the fix ([`crate::geocode::accuracy`]) and the address
//! ([`crate::geocode::Geocoder`]). `run`, `replay` and gRPC `Decode` all go through here, so a
//! replayed position carries what the original one did.

use super::config::{GeocodeArgs, GeocoderKind};
use crate::geocode::accuracy::fill_accuracy;
use crate::geocode::nominatim::NominatimGeocoder;
use crate::geocode::offline::OfflineGeocoder;
use crate::geocode::photon::PhotonGeocoder;
use crate::geocode::{GeocodeMetrics, Geocoder, GeocoderConfig, HttpSettings, ReverseGeocoder};
use anyhow::Context as _;
use astra_platform::streams;
use astra_proto::v1::Position;
use async_nats::jetstream;
use prometheus::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Shortest hard limit of one HTTP request (it may finish after its lookup gave up, to fill the
/// caches).
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Enricher {
    geocoder: Option<Geocoder>,
}

impl Enricher {
    /// Accuracy only, no addresses.
    pub fn without_addresses() -> Self {
        Self { geocoder: None }
    }

    /// Sets up the configured geocoder: loads the offline data set, or checks the server URL and
    /// creates the shared KV cache bucket.
    pub async fn build(
        args: &GeocodeArgs,
        js: &jetstream::Context,
        replicas: usize,
        registry: &Registry,
    ) -> anyhow::Result<Self> {
        let http = || -> anyhow::Result<HttpSettings> {
            let url = args
                .geocoder_url
                .clone()
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                .with_context(|| {
                    format!(
                        "--geocoder {:?} needs --geocoder-url http(s)://host[:port] (ASTRA_GEOCODER_URL)",
                        args.geocoder
                    )
                })?;
            Ok(HttpSettings {
                url,
                language: args
                    .geocoder_language
                    .clone()
                    .filter(|l| !l.trim().is_empty()),
                user_agent: args
                    .geocoder_user_agent
                    .clone()
                    .unwrap_or_else(HttpSettings::default_user_agent),
                request_timeout: args.geocoder_timeout.max(MIN_REQUEST_TIMEOUT),
            })
        };
        let provider: Arc<dyn ReverseGeocoder> = match args.geocoder {
            GeocoderKind::None => return Ok(Self::without_addresses()),
            GeocoderKind::Offline => Arc::new(
                tokio::task::spawn_blocking(OfflineGeocoder::load)
                    .await
                    .context("loading the offline geocoding data")?,
            ),
            GeocoderKind::Nominatim => Arc::new(NominatimGeocoder::new(http()?)?),
            GeocoderKind::Photon => Arc::new(PhotonGeocoder::new(http()?)?),
        };
        let kv = if provider.remote() && !args.no_geocode_kv {
            Some(
                streams::ensure_kv_with_ttl(js, streams::KV_GEOCODE, replicas, args.geocode_kv_ttl)
                    .await
                    .context("creating the KV bucket astra-geocode")?,
            )
        } else {
            None
        };
        let config = GeocoderConfig {
            timeout: args.geocoder_timeout,
            cell_m: args.geocode_cell_m,
            cache_size: args.geocode_cache_size,
        };
        tracing::info!(
            geocoder = provider.name(),
            url = args.geocoder_url.as_deref().unwrap_or(""),
            timeout = ?args.geocoder_timeout,
            cell_m = args.geocode_cell_m,
            shared_cache = kv.is_some(),
            "reverse geocoding on"
        );
        let metrics = GeocodeMetrics::new(registry)?;
        Ok(Self {
            geocoder: Some(Geocoder::new(provider, config, kv, metrics)),
        })
    }

    /// Fills in accuracy and address of every position (waits at most the lookup timeout).
    pub async fn enrich(&self, positions: &mut [Position]) {
        for p in positions.iter_mut() {
            fill_accuracy(p);
        }
        if let Some(g) = &self.geocoder {
            g.annotate(positions).await;
        }
    }
}
