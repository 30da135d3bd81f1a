//! The Photon provider (komoot's OSM geocoder): `GET <url>/reverse?lat=…&lon=…&limit=1`,
//! answering GeoJSON whose first feature's `properties` hold the address.

use super::address::{self, Parts};
use super::http::{self, HttpSettings, first};
use super::nominatim::language_tag;
use super::{GeocodeError, Lookup, ReverseGeocoder};
use astra_proto::v1::{Address, AddressSource};

pub struct PhotonGeocoder {
    settings: HttpSettings,
    client: reqwest::Client,
}

impl PhotonGeocoder {
    pub fn new(settings: HttpSettings) -> Result<Self, GeocodeError> {
        let client = settings.client()?;
        Ok(Self { settings, client })
    }

    fn url(&self, lat: f64, lon: f64) -> String {
        let mut query = format!("lat={lat:.6}&lon={lon:.6}&limit=1");
        if let Some(lang) = &self.settings.language {
            query.push_str("&lang=");
            query.push_str(&http::encode(lang));
        }
        self.settings.reverse_url(&query)
    }
}

/// The address of the first feature of a Photon answer; `None` when there is no feature.
pub fn parse(answer: &serde_json::Value) -> Result<Option<Address>, GeocodeError> {
    let Some(features) = answer.get("features").and_then(serde_json::Value::as_array) else {
        return Err(GeocodeError::Parse(
            "no \"features\" in the answer".to_owned(),
        ));
    };
    let Some(p) = features.first().and_then(|f| f.get("properties")) else {
        return Ok(None);
    };
    let kind = first(p, &["type"]);
    let name = first(p, &["name"]);
    // A feature that is itself a road or a place names it in `name`.
    let street = match first(p, &["street"]) {
        "" if first(p, &["osm_key"]) == "highway" => name,
        s => s,
    };
    let locality = match first(p, &["city"]) {
        "" if matches!(kind, "city" | "town" | "village" | "hamlet") => name,
        "" => first(p, &["district", "locality"]),
        c => c,
    };
    let parts = Parts {
        house_number: first(p, &["housenumber"]),
        street,
        locality,
        postcode: first(p, &["postcode"]),
        region: first(p, &["state", "county"]),
        country_code: first(p, &["countrycode"]),
        fallback_line: name,
    };
    Ok(Some(address::build(&parts, AddressSource::Photon)))
}

impl ReverseGeocoder for PhotonGeocoder {
    fn name(&self) -> &'static str {
        "photon"
    }

    fn cache_tag(&self) -> String {
        language_tag("photon", self.settings.language.as_deref())
    }

    fn remote(&self) -> bool {
        true
    }

    fn reverse(&self, lat: f64, lon: f64) -> Lookup<'_> {
        let url = self.url(lat, lon);
        Box::pin(async move {
            let answer = http::get_json(&self.client, &url).await?;
            parse(&answer)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_house_and_a_road() {
        let answer = json!({"type": "FeatureCollection", "features": [{
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-1.3137, 51.0616]},
            "properties": {
                "osm_key": "building", "osm_value": "house", "type": "house",
                "housenumber": "12", "street": "High Street", "city": "Winchester",
                "postcode": "SO23 9BL", "county": "Hampshire", "state": "England",
                "country": "United Kingdom", "countrycode": "GB"
            }
        }]});
        assert_eq!(
            parse(&answer).unwrap(),
            Some(Address {
                house_number: "12".into(),
                street: "High Street".into(),
                locality: "Winchester".into(),
                postcode: "SO23 9BL".into(),
                region: "England".into(),
                country_code: "GB".into(),
                formatted: "12 High Street, Winchester".into(),
                source: AddressSource::Photon as i32,
            })
        );
        let road = json!({"features": [{"properties": {
            "osm_key": "highway", "osm_value": "trunk", "type": "street", "name": "A34",
            "city": "Winchester", "state": "England", "countrycode": "GB"
        }}]});
        assert_eq!(parse(&road).unwrap().unwrap().formatted, "A34, Winchester");
        let town = json!({"features": [{"properties": {
            "osm_key": "place", "type": "town", "name": "Alresford", "state": "England",
            "countrycode": "GB"
        }}]});
        assert_eq!(
            parse(&town).unwrap().unwrap().formatted,
            "Alresford, England, GB"
        );
        assert_eq!(parse(&json!({"features": []})).unwrap(), None);
        assert!(parse(&json!({"message": "bad request"})).is_err());
    }
}
