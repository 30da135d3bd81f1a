//! The Nominatim provider: `GET <url>/reverse?format=jsonv2&lat=…&lon=…&zoom=18&addressdetails=1`
//! against the public server, a self-hosted Nominatim, or anything that speaks its API
//! (LocationIQ, OpenCage's Nominatim-compatible endpoint …). The public server allows about one
//! request per second and forbids bulk use: for a fleet, self-host it.

use super::address::{self, Parts};
use super::http::{self, HttpSettings, first};
use super::{GeocodeError, Lookup, ReverseGeocoder};
use astra_proto::v1::{Address, AddressSource};

pub struct NominatimGeocoder {
    settings: HttpSettings,
    client: reqwest::Client,
}

impl NominatimGeocoder {
    pub fn new(settings: HttpSettings) -> Result<Self, GeocodeError> {
        let client = settings.client()?;
        Ok(Self { settings, client })
    }

    fn url(&self, lat: f64, lon: f64) -> String {
        let mut query = format!("format=jsonv2&lat={lat:.6}&lon={lon:.6}&zoom=18&addressdetails=1");
        if let Some(lang) = &self.settings.language {
            query.push_str("&accept-language=");
            query.push_str(&http::encode(lang));
        }
        self.settings.reverse_url(&query)
    }
}

/// The address in a `format=jsonv2` reverse answer; `None` for `{"error": "Unable to geocode"}`.
pub fn parse(answer: &serde_json::Value) -> Result<Option<Address>, GeocodeError> {
    if answer.get("error").is_some() {
        return Ok(None);
    }
    let Some(a) = answer.get("address").filter(|a| a.is_object()) else {
        return Err(GeocodeError::Parse(
            "neither \"address\" nor \"error\" in the answer".to_owned(),
        ));
    };
    let parts = Parts {
        house_number: first(a, &["house_number"]),
        street: first(
            a,
            &[
                "road",
                "pedestrian",
                "square",
                "footway",
                "path",
                "cycleway",
            ],
        ),
        locality: first(
            a,
            &[
                "city",
                "town",
                "village",
                "hamlet",
                "isolated_dwelling",
                "municipality",
                "suburb",
            ],
        ),
        postcode: first(a, &["postcode"]),
        region: first(
            a,
            &["state", "province", "region", "state_district", "county"],
        ),
        country_code: first(a, &["country_code"]),
        fallback_line: first(answer, &["display_name"]),
    };
    Ok(Some(address::build(&parts, AddressSource::Nominatim)))
}

impl ReverseGeocoder for NominatimGeocoder {
    fn name(&self) -> &'static str {
        "nominatim"
    }

    fn cache_tag(&self) -> String {
        language_tag("nominatim", self.settings.language.as_deref())
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

/// A provider's cache tag: its name, plus the answer language when one is asked for.
pub(super) fn language_tag(provider: &str, language: Option<&str>) -> String {
    match language {
        Some(lang) => format!("{provider}-{}", tag_safe(lang)),
        None => provider.to_owned(),
    }
}

/// A language tag as a KV key token.
pub(super) fn tag_safe(lang: &str) -> String {
    lang.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_road_in_a_city() {
        let answer = json!({
            "place_id": 123, "lat": "51.0632", "lon": "-1.3080", "category": "highway",
            "type": "trunk", "display_name": "A34, Winchester, Hampshire, England, SO23 7DZ, United Kingdom",
            "address": {
                "road": "A34", "city": "Winchester", "county": "Hampshire", "state": "England",
                "ISO3166-2-lvl4": "GB-ENG", "postcode": "SO23 7DZ", "country": "United Kingdom",
                "country_code": "gb"
            }
        });
        assert_eq!(
            parse(&answer).unwrap(),
            Some(Address {
                house_number: String::new(),
                street: "A34".into(),
                locality: "Winchester".into(),
                postcode: "SO23 7DZ".into(),
                region: "England".into(),
                country_code: "GB".into(),
                formatted: "A34, Winchester".into(),
                source: AddressSource::Nominatim as i32,
            })
        );
    }

    #[test]
    fn a_house_in_a_village_and_nothing_at_sea() {
        let answer = json!({
            "display_name": "7, Dorfstraße, Hinterzarten, Baden-Württemberg, 79856, Deutschland",
            "address": {"house_number": "7", "road": "Dorfstraße", "village": "Hinterzarten",
                        "state": "Baden-Württemberg", "postcode": "79856", "country_code": "de"}
        });
        let a = parse(&answer).unwrap().unwrap();
        assert_eq!(a.formatted, "7 Dorfstraße, Hinterzarten");
        assert_eq!(a.locality, "Hinterzarten");
        assert_eq!(parse(&json!({"error": "Unable to geocode"})).unwrap(), None);
        assert!(parse(&json!({"place_id": 1})).is_err());
    }
}
