//! What the HTTP providers share: the client (rustls, no system OpenSSL), the User-Agent, the
//! request limit, and reading a JSON answer.

use super::GeocodeError;
use std::time::Duration;

/// Settings of an HTTP provider.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Base URL; `/reverse?...` is appended (`https://nominatim.openstreetmap.org`,
    /// `http://nominatim.internal:8080`, `https://photon.komoot.io`).
    pub url: String,
    /// Preferred language of names (`accept-language` / `lang`); server default if `None`.
    pub language: Option<String>,
    /// Sent with every request; public servers require one that identifies the application.
    pub user_agent: String,
    /// Hard limit of one request. A lookup gives up waiting after the (shorter) lookup timeout;
    /// the request may go on up to this long in the background to fill the cache.
    pub request_timeout: Duration,
}

impl HttpSettings {
    pub fn default_user_agent() -> String {
        format!(
            "astra-decoder-worker/{} (Astra Telematics ingest cluster)",
            env!("CARGO_PKG_VERSION")
        )
    }

    pub(super) fn client(&self) -> Result<reqwest::Client, GeocodeError> {
        Ok(reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .timeout(self.request_timeout)
            .connect_timeout(self.request_timeout.min(Duration::from_secs(5)))
            .build()?)
    }

    /// `<url>/reverse?<query>`.
    pub(super) fn reverse_url(&self, query: &str) -> String {
        format!("{}/reverse?{query}", self.url.trim_end_matches('/'))
    }
}

/// GETs `url` and parses the body as JSON; a status other than 2xx is an error.
pub(super) async fn get_json(
    client: &reqwest::Client,
    url: &str,
) -> Result<serde_json::Value, GeocodeError> {
    let response = client.get(url).send().await?;
    let status = response.status();
    if !status.is_success() {
        return Err(GeocodeError::Status(status.as_u16()));
    }
    let body = response.bytes().await?;
    serde_json::from_slice(&body).map_err(|e| GeocodeError::Parse(e.to_string()))
}

/// The first non-empty string among `keys` of the JSON object `obj`.
pub(super) fn first<'a>(obj: &'a serde_json::Value, keys: &[&str]) -> &'a str {
    keys.iter()
        .filter_map(|k| obj.get(k).and_then(serde_json::Value::as_str))
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

/// Percent-encodes a query value (language tags are plain, but a user may write anything).
pub(super) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~,".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
