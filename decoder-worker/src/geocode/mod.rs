//! Reverse geocoding and fix accuracy, added to positions by the decoder-worker before it
//! publishes them (`docs/decoder-worker.md`, "Addresses and accuracy").
//!
//! * [`accuracy`]: `Position.accuracy_m` / `accuracy_source` from the device's error estimate,
//!   HDOP or the satellite count (pure; the codec's output is left as decoded);
//! * [`ReverseGeocoder`]: one trait, three providers: [`offline::OfflineGeocoder`] (built in,
//!   the default: nearest populated place from a data set compiled into the binary),
//!   [`nominatim::NominatimGeocoder`] (`/reverse?format=jsonv2`, public or self-hosted
//!   Nominatim and servers speaking its API) and [`photon::PhotonGeocoder`];
//! * [`Geocoder`]: what the service calls: caches answers by grid [`cell`] in memory and in the
//!   shared KV bucket `astra-geocode`, bounds every lookup by a timeout, coalesces concurrent
//!   lookups of a cell, and counts hits, misses, errors and timeouts.

pub(crate) mod accuracy; // accuracy of a fix from the device's own estimate
pub(crate) mod address; // Nominatim / Photon answers to `Address`
mod cache; // the in-memory cache of cells
pub(crate) mod cell; // the grid cells addresses are cached by
mod geocoder; // `Geocoder`: caches, timeout, coalescing, metrics
mod http; // HTTP settings and client of the remote providers
pub mod nominatim; // the Nominatim provider
pub(crate) mod offline; // the built-in provider (GeoNames populated places)
pub mod photon; // the Photon provider

pub use geocoder::{GeocodeMetrics, Geocoder, GeocoderConfig};
pub use http::HttpSettings;

pub use provider::*;

/// The provider trait and its error (every provider implements it).
mod provider {
    use astra_proto::v1::Address;
    use std::future::Future;
    use std::pin::Pin;

    /// Why a provider gave no answer (as opposed to answering "nothing here", `Ok(None)`).
    #[derive(Debug, thiserror::Error)]
    pub enum GeocodeError {
        #[error("request failed: {0}")]
        Http(#[from] reqwest::Error),
        #[error("server answered HTTP {0}")]
        Status(u16),
        #[error("unexpected answer: {0}")]
        Parse(String),
    }

    pub type Lookup<'a> =
        Pin<Box<dyn Future<Output = Result<Option<Address>, GeocodeError>> + Send + 'a>>;

    /// A reverse geocoder: coordinates in, the address there out (`Ok(None)`: no place known
    /// there).
    pub trait ReverseGeocoder: Send + Sync {
        /// Short name: `offline`, `nominatim`, `photon` (metrics, logs).
        fn name(&self) -> &'static str;
        /// Prefix of cache keys: answers of different providers (or languages) never mix.
        fn cache_tag(&self) -> String;
        /// Whether lookups cross the network: such answers are shared in KV and bounded by the
        /// lookup timeout; a local provider answers in microseconds and is only memory-cached.
        fn remote(&self) -> bool;
        fn reverse(&self, lat: f64, lon: f64) -> Lookup<'_>;
    }
}
