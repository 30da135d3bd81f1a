//! The built-in provider: the nearest populated place (locality, region, country) from the
//! GeoNames data set that the `reverse_geocoder` crate compiles into the binary (places with at
//! least 1 000 inhabitants and their first-level region names; CC BY 4.0, geonames.org). No
//! download and no network at run time. Loading the ~145 000 places takes about 0.15 s in a
//! release build (0.7 s in debug) and ~40 MB of memory, once per process; a lookup takes a few
//! microseconds.

use super::address::{self, Parts};
use super::{Lookup, ReverseGeocoder};
use astra_proto::v1::{Address, AddressSource};
use std::sync::OnceLock;

/// Beyond this distance from the nearest place a position gets no address (open sea, desert):
/// naming a town 200 km away would mislead.
pub const MAX_DISTANCE_KM: f64 = 30.0;

const EARTH_RADIUS_KM: f64 = 6371.0;

fn data() -> &'static reverse_geocoder::ReverseGeocoder {
    static DATA: OnceLock<reverse_geocoder::ReverseGeocoder> = OnceLock::new();
    DATA.get_or_init(reverse_geocoder::ReverseGeocoder::new)
}

/// The offline provider; cheap to create once the data is loaded ([`OfflineGeocoder::load`]).
#[derive(Debug, Clone, Copy)]
pub struct OfflineGeocoder {
    _private: (),
}

impl OfflineGeocoder {
    /// Loads the embedded data set (blocking; once per process).
    pub fn load() -> Self {
        data();
        Self { _private: () }
    }

    /// The nearest place within [`MAX_DISTANCE_KM`] and its distance in km.
    pub fn nearest(&self, lat: f64, lon: f64) -> Option<(Address, f64)> {
        if !(lat.is_finite() && lon.is_finite()) {
            return None;
        }
        let found = data().search((lat, lon));
        // `distance` is the squared chord between unit vectors: back to an arc length.
        let chord = found.distance.max(0.0).sqrt().min(2.0);
        let km = 2.0 * (chord / 2.0).asin() * EARTH_RADIUS_KM;
        if km > MAX_DISTANCE_KM {
            return None;
        }
        let r = found.record;
        let a = address::build(
            &Parts {
                locality: &r.name,
                region: &r.admin1,
                country_code: &r.cc,
                ..Default::default()
            },
            AddressSource::Offline,
        );
        Some((a, km))
    }
}

impl ReverseGeocoder for OfflineGeocoder {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn cache_tag(&self) -> String {
        "offline".to_owned()
    }

    fn remote(&self) -> bool {
        false
    }

    fn reverse(&self, lat: f64, lon: f64) -> Lookup<'_> {
        let found = self.nearest(lat, lon).map(|(a, _)| a);
        Box::pin(std::future::ready(Ok(found)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> Option<Address> {
        OfflineGeocoder::load().nearest(lat, lon).map(|(a, _)| a)
    }

    fn place(locality: &str, region: &str, cc: &str) -> Option<Address> {
        Some(Address {
            locality: locality.into(),
            region: region.into(),
            country_code: cc.into(),
            formatted: format!("{locality}, {region}, {cc}"),
            source: AddressSource::Offline as i32,
            ..Default::default()
        })
    }

    #[test]
    fn known_places() {
        // Winchester, Hampshire: the city centre (High Street / the Buttercross).
        assert_eq!(at(51.0632, -1.3080), place("Winchester", "England", "GB"));
        // Paris, near the Hôtel de Ville.
        assert_eq!(at(48.8566, 2.3522), place("Paris", "Ile-de-France", "FR"));
        // Sydney CBD.
        assert_eq!(
            at(-33.8688, 151.2093),
            place("Sydney", "New South Wales", "AU")
        );
        // The coordinates the service tests use, between Bedford and Sandy.
        assert_eq!(at(52.138826, -0.326804), place("Blunham", "England", "GB"));
    }

    #[test]
    fn far_from_any_place_there_is_no_address() {
        // Null Island, in the Gulf of Guinea: the nearest town is ~580 km away.
        assert_eq!(at(0.0, 0.0), None);
        // Mid-Atlantic.
        assert_eq!(at(40.0, -40.0), None);
    }

    #[test]
    fn distance_is_in_kilometres() {
        let g = OfflineGeocoder::load();
        // ~1.1 km west of the Winchester place point (51.06513, -1.3187).
        let (a, km) = g.nearest(51.06513, -1.3347).unwrap();
        assert_eq!(a.locality, "Winchester");
        assert!((1.0..1.2).contains(&km), "{km}");
    }
}
