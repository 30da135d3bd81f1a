//! Reverse geocoding and accuracy, end to end: the HTTP providers against a local server that
//! speaks the Nominatim reverse API (and Photon's), including slow and failing answers; the
//! real `decoder-worker run` with the built-in offline geocoder (no flags) and with Nominatim;
//! two replicas sharing resolved addresses through the KV bucket `astra-geocode`.

mod common;

use astra_decoder::geocode::nominatim::NominatimGeocoder;
use astra_decoder::geocode::photon::PhotonGeocoder;
use astra_decoder::geocode::{
    GeocodeMetrics, Geocoder, GeocoderConfig, HttpSettings, ReverseGeocoder,
};
use astra_platform::streams;
use astra_proto::Timestamp;
use astra_proto::v1::decoder_client::DecoderClient;
use astra_proto::v1::{AccuracySource, Address, AddressSource, DecodeRequest, Position};
use astra_tests::encoder::{EncodeOptions, Protocol, encode};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::*;
use futures::StreamExt;
use prost::Message as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IMEI: &str = "357322043523841";

/// Where the fake server answers what (by the latitude asked, i.e. the cell centre):
/// Winchester (51.0–51.2) a road, Alresford (51.08–51.1, lon > −1.2) a house, 52.x slowly,
/// 53.x with HTTP 500, 54.x "Unable to geocode" (sea).
const WINCHESTER: (f64, f64) = (51.063_2, -1.308_0);
const ALRESFORD: (f64, f64) = (51.089_9, -1.161_5);
const SLOW: (f64, f64) = (52.2, -1.0);
const FAILING: (f64, f64) = (53.2, -1.0);
const SEA: (f64, f64) = (54.2, 2.0);
const SLOW_ANSWER: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Fake {
    /// (path, query, user agent) of every request.
    requests: Mutex<Vec<(String, String, String)>>,
    /// Set when a slow answer has been sent.
    slow_answered: AtomicBool,
    slow_started: AtomicUsize,
}

impl Fake {
    fn count(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.0 == path)
            .count()
    }
}

fn query_f64(query: &str, name: &str) -> Option<f64> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

async fn nominatim(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    record(&fake, "/reverse", &query, &headers);
    let (Some(lat), Some(lon)) = (query_f64(&query, "lat"), query_f64(&query, "lon")) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let json = |v: serde_json::Value| {
        ([("content-type", "application/json")], v.to_string()).into_response()
    };
    match lat {
        l if (51.08..51.1).contains(&l) && lon > -1.2 => json(serde_json::json!({
            "place_id": 2, "lat": lat.to_string(), "lon": lon.to_string(),
            "display_name": "12, Broad Street, New Alresford, Hampshire, England, SO24 9AQ, United Kingdom",
            "address": {"house_number": "12", "road": "Broad Street", "town": "New Alresford",
                        "county": "Hampshire", "state": "England", "postcode": "SO24 9AQ",
                        "country": "United Kingdom", "country_code": "gb"}
        })),
        l if (51.0..51.2).contains(&l) => json(serde_json::json!({
            "place_id": 1, "lat": lat.to_string(), "lon": lon.to_string(),
            "category": "highway", "type": "trunk",
            "display_name": "A34, Winchester, Hampshire, England, SO23 7DZ, United Kingdom",
            "address": {"road": "A34", "city": "Winchester", "county": "Hampshire",
                        "state": "England", "ISO3166-2-lvl4": "GB-ENG", "postcode": "SO23 7DZ",
                        "country": "United Kingdom", "country_code": "gb"}
        })),
        l if (52.0..53.0).contains(&l) => {
            fake.slow_started.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(SLOW_ANSWER).await;
            fake.slow_answered.store(true, Ordering::SeqCst);
            json(serde_json::json!({
                "display_name": "Slow Lane, Slowtown",
                "address": {"road": "Slow Lane", "town": "Slowtown", "country_code": "gb"}
            }))
        }
        l if (53.0..54.0).contains(&l) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "database down").into_response()
        }
        l if (54.0..55.0).contains(&l) => json(serde_json::json!({"error": "Unable to geocode"})),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn photon(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    record(&fake, "/photon/reverse", &query, &headers);
    let body = serde_json::json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-1.3137, 51.0616]},
        "properties": {"osm_key": "building", "osm_value": "house", "type": "house",
            "housenumber": "12", "street": "High Street", "city": "Winchester",
            "postcode": "SO23 9BL", "county": "Hampshire", "state": "England",
            "country": "United Kingdom", "countrycode": "GB"}
    }]});
    ([("content-type", "application/json")], body.to_string()).into_response()
}

fn record(fake: &Fake, path: &str, query: &str, headers: &HeaderMap) {
    let ua = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    fake.requests
        .lock()
        .unwrap()
        .push((path.to_owned(), query.to_owned(), ua));
}

/// Starts the fake geocoding server on a free port: (base URL, its state).
async fn fake_server() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = axum::Router::new()
        .route("/reverse", axum::routing::get(nominatim))
        .route("/photon/reverse", axum::routing::get(photon))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, fake)
}

fn a34_winchester() -> Address {
    Address {
        house_number: String::new(),
        street: "A34".into(),
        locality: "Winchester".into(),
        postcode: "SO23 7DZ".into(),
        region: "England".into(),
        country_code: "GB".into(),
        formatted: "A34, Winchester".into(),
        source: AddressSource::Nominatim as i32,
    }
}

fn fix(lat_lon: (f64, f64)) -> Position {
    Position {
        valid: true,
        latitude: Some(lat_lon.0),
        longitude: Some(lat_lon.1),
        ..Default::default()
    }
}

fn settings(url: &str) -> HttpSettings {
    HttpSettings {
        url: url.to_owned(),
        language: None,
        user_agent: "astra-test/1 (ops@example.com)".into(),
        request_timeout: Duration::from_secs(10),
    }
}

fn geocoder(provider: Arc<dyn ReverseGeocoder>) -> (Geocoder, prometheus::Registry) {
    let registry = prometheus::Registry::new();
    let metrics = GeocodeMetrics::new(&registry).unwrap();
    let config = GeocoderConfig {
        timeout: Duration::from_millis(300),
        cell_m: 50.0,
        cache_size: 1000,
    };
    (Geocoder::new(provider, config, None, metrics), registry)
}

fn lookups(registry: &prometheus::Registry, result: &str) -> u64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == "astra_geocode_lookups_total")
        .flat_map(|f| f.get_metric().iter())
        .find(|m| m.get_label().iter().any(|l| l.value() == result))
        .map_or(0, |m| m.get_counter().get_value() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nominatim_provider_normal_slow_failing_and_empty_answers() {
    let (url, fake) = fake_server().await;
    let provider = Arc::new(NominatimGeocoder::new(settings(&url)).unwrap());
    let (geocoder, registry) = geocoder(provider);

    let mut positions = vec![
        fix(WINCHESTER),
        fix(SLOW),
        fix(FAILING),
        fix(SEA),
        // An invalid fix and a position without coordinates are not looked up.
        Position {
            valid: false,
            ..fix(ALRESFORD)
        },
        Position {
            valid: true,
            ..Default::default()
        },
        // A second fix 2 m away from the first: same cell, one request for both.
        fix((WINCHESTER.0 + 0.000_01, WINCHESTER.1 + 0.000_02)),
    ];
    let start = Instant::now();
    geocoder.annotate(&mut positions).await;
    let took = start.elapsed();
    assert!(
        took < SLOW_ANSWER / 2,
        "the slow answer held the batch back: {took:?}"
    );
    assert!(!fake.slow_answered.load(Ordering::SeqCst));
    let addresses: Vec<Option<Address>> = positions
        .iter()
        .map(|p| p.address.as_deref().cloned())
        .collect();
    assert_eq!(
        addresses,
        vec![
            Some(a34_winchester()),
            None,
            None,
            None,
            None,
            None,
            Some(a34_winchester())
        ]
    );
    assert_eq!(fake.count("/reverse"), 4, "one request per cell looked up");
    assert_eq!(lookups(&registry, "miss"), 2, "Winchester and the sea");
    assert_eq!(lookups(&registry, "timeout"), 1);
    assert_eq!(lookups(&registry, "error"), 1);

    // The request names the cell centre, asks for jsonv2 with address details, and identifies us.
    let requests = fake.requests.lock().unwrap().clone();
    let (_, query, ua) = requests
        .iter()
        .find(|r| query_f64(&r.1, "lat").is_some_and(|l| (51.0..51.2).contains(&l)))
        .unwrap();
    assert!(query.starts_with("format=jsonv2&lat=51.06"), "{query}");
    assert!(query.ends_with("&zoom=18&addressdetails=1"), "{query}");
    let lat = query_f64(query, "lat").unwrap();
    let lon = query_f64(query, "lon").unwrap();
    assert!((lat - WINCHESTER.0).abs() < 0.000_5 && (lon - WINCHESTER.1).abs() < 0.000_8);
    assert_eq!(ua, "astra-test/1 (ops@example.com)");

    // Later fixes in known cells come from memory; the late slow answer filled its cell; the
    // failed cell is asked again.
    wait_until(Duration::from_secs(10), "the slow answer", || async {
        fake.slow_answered.load(Ordering::SeqCst)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = vec![fix(WINCHESTER), fix(SLOW), fix(FAILING), fix(SEA)];
    geocoder.annotate(&mut again).await;
    assert_eq!(again[0].address, Some(Box::new(a34_winchester())));
    assert_eq!(
        again[1].address.as_ref().map(|a| a.formatted.as_str()),
        Some("Slow Lane, Slowtown")
    );
    assert_eq!(again[2].address, None);
    assert_eq!(again[3].address, None);
    assert_eq!(
        fake.count("/reverse"),
        5,
        "only the failed cell was asked again"
    );
    assert_eq!(lookups(&registry, "hit_memory"), 3);
    assert_eq!(fake.slow_started.load(Ordering::SeqCst), 1);

    // Concurrent batches asking for the same new cell share one request.
    let before = fake.count("/reverse");
    let (mut a, mut b) = (vec![fix(ALRESFORD)], vec![fix(ALRESFORD)]);
    tokio::join!(geocoder.annotate(&mut a), geocoder.annotate(&mut b));
    assert_eq!(fake.count("/reverse"), before + 1);
    let alresford = Address {
        house_number: "12".into(),
        street: "Broad Street".into(),
        locality: "New Alresford".into(),
        postcode: "SO24 9AQ".into(),
        region: "England".into(),
        country_code: "GB".into(),
        formatted: "12 Broad Street, New Alresford".into(),
        source: AddressSource::Nominatim as i32,
    };
    assert_eq!(a[0].address, Some(Box::new(alresford.clone())));
    assert_eq!(b[0].address, Some(Box::new(alresford)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photon_provider_reads_the_first_feature() {
    let (url, fake) = fake_server().await;
    let provider = Arc::new(
        PhotonGeocoder::new(HttpSettings {
            language: Some("en".into()),
            ..settings(&format!("{url}/photon/"))
        })
        .unwrap(),
    );
    assert_eq!(provider.cache_tag(), "photon-en");
    let (geocoder, _) = geocoder(provider);
    let mut positions = vec![fix(WINCHESTER)];
    geocoder.annotate(&mut positions).await;
    assert_eq!(
        positions[0].address,
        Some(Box::new(Address {
            house_number: "12".into(),
            street: "High Street".into(),
            locality: "Winchester".into(),
            postcode: "SO23 9BL".into(),
            region: "England".into(),
            country_code: "GB".into(),
            formatted: "12 High Street, Winchester".into(),
            source: AddressSource::Photon as i32,
        }))
    );
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "/photon/reverse");
    assert!(requests[0].1.starts_with("lat=51.06"), "{}", requests[0].1);
    assert!(
        requests[0].1.ends_with("&limit=1&lang=en"),
        "{}",
        requests[0].1
    );
}

/// A K record at `lat_lon` with 8 satellites; `valid: false` sets the GPS-invalid status bit.
fn k_record(seq: u8, lat_lon: (f64, f64), valid: bool) -> Position {
    Position {
        sequence: u32::from(seq),
        latitude: Some(lat_lon.0),
        longitude: Some(lat_lon.1),
        fix_time: Some(Timestamp::from_unix(1_750_000_000 + i64::from(seq))),
        speed_kmh: Some(40.0),
        course_deg: Some(90.0),
        reason_flags: 1,
        status_flags: if valid { 1 } else { 1 | 4 },
        satellites: Some(8),
        gsm_level: Some(10),
        ..Default::default()
    }
}

fn k_frame(records: &[Position]) -> Vec<u8> {
    encode(Protocol::K, IMEI, records, &EncodeOptions::default())
}

/// The positions in ASTRA_POSITIONS, by sequence number.
async fn positions_by_seq(js: &async_nats::jetstream::Context) -> Vec<Position> {
    let mut out: Vec<Position> = read_all(js, streams::POSITIONS)
        .await
        .iter()
        .map(|m| Position::decode(m.payload.clone()).unwrap())
        .collect();
    out.sort_by_key(|p| p.sequence);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_the_box_positions_carry_a_locality_and_an_accuracy() {
    let nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;
    // No geocoder flags: the built-in offline data set.
    let worker = spawn_run(&url, "offline", &[]);
    wait_ready(&worker).await;
    let frame = k_frame(&[
        k_record(1, WINCHESTER, true),
        k_record(2, (48.8566, 2.3522), true),
        k_record(3, WINCHESTER, false),
    ]);
    publish_raw(&js, &raw_frame(IMEI, frame.clone(), None)).await;
    wait_until(Duration::from_secs(30), "3 positions", || async {
        count(&js, streams::POSITIONS).await == 3
    })
    .await;
    let place = |locality: &str, region: &str, cc: &str| Address {
        locality: locality.into(),
        region: region.into(),
        country_code: cc.into(),
        formatted: format!("{locality}, {region}, {cc}"),
        source: AddressSource::Offline as i32,
        ..Default::default()
    };
    let got = positions_by_seq(&js).await;
    assert_eq!(
        got[0].address,
        Some(Box::new(place("Winchester", "England", "GB")))
    );
    assert_eq!(
        got[1].address,
        Some(Box::new(place("Paris", "Ile-de-France", "FR")))
    );
    // 8 satellites and no HDOP: an estimate, marked as such.
    assert_eq!(got[0].accuracy_m, Some(7.0));
    assert_eq!(
        got[0].accuracy_source(),
        AccuracySource::SatellitesEstimated
    );
    // An invalid fix: neither address nor accuracy.
    assert!(!got[2].valid);
    assert_eq!(got[2].address, None);
    assert_eq!(got[2].accuracy_m, None);
    assert_eq!(got[2].accuracy_source(), AccuracySource::Unspecified);

    // gRPC Decode returns the positions as the replica publishes them.
    let mut client = DecoderClient::connect(format!("http://127.0.0.1:{}", worker.grpc_port))
        .await
        .unwrap();
    let reply = client
        .decode(DecodeRequest {
            frame,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.positions[0].address, got[0].address);
    assert_eq!(reply.positions[0].accuracy_m, Some(7.0));

    let (_, metrics) = http_get(worker.admin_port, "/metrics").unwrap();
    assert_eq!(
        metric(&metrics, "astra_geocode_lookups_total{result=\"miss\"}"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "astra_geocode_lookups_total{result=\"hit_memory\"}"
        ),
        Some(2.0),
        "the gRPC call found Winchester and Paris in memory\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_failing_server_costs_the_address_not_the_position() {
    let (geo_url, fake) = fake_server().await;
    let nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;
    let worker = spawn_run(
        &url,
        "nominatim",
        &["--geocoder", "nominatim", "--geocoder-url", &geo_url],
    );
    wait_ready(&worker).await;
    publish_raw(
        &js,
        &raw_frame(
            IMEI,
            k_frame(&[
                k_record(1, WINCHESTER, true),
                k_record(2, SLOW, true),
                k_record(3, FAILING, true),
            ]),
            None,
        ),
    )
    .await;
    wait_until(Duration::from_secs(30), "3 positions", || async {
        count(&js, streams::POSITIONS).await == 3
    })
    .await;
    // Published while the slow server was still thinking (default timeout 300 ms).
    assert!(
        !fake.slow_answered.load(Ordering::SeqCst),
        "positions waited for the slow answer"
    );
    let got = positions_by_seq(&js).await;
    assert_eq!(got[0].address, Some(Box::new(a34_winchester())));
    assert_eq!(got[1].address, None);
    assert_eq!(got[2].address, None);
    assert!(got.iter().all(|p| p.accuracy_m == Some(7.0)));
    let (_, metrics) = http_get(worker.admin_port, "/metrics").unwrap();
    for (result, n) in [("miss", 1.0), ("timeout", 1.0), ("error", 1.0)] {
        assert_eq!(
            metric(
                &metrics,
                &format!("astra_geocode_lookups_total{{result=\"{result}\"}}")
            ),
            Some(n),
            "{result}\n{metrics}"
        );
    }
    assert_eq!(
        metric(
            &metrics,
            "astra_geocode_provider_requests_total{outcome=\"error\",provider=\"nominatim\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(fake.count("/reverse"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_gets_the_address_the_first_resolved_from_kv() {
    let (geo_url, fake) = fake_server().await;
    let nats = NatsServer::start();
    let url = nats.url();
    let js = jetstream(&url).await;
    let args = ["--geocoder", "nominatim", "--geocoder-url", &geo_url];

    // Replica A resolves the Winchester cell.
    let mut a = spawn_run(&url, "geo-a", &args);
    wait_ready(&a).await;
    publish_raw(
        &js,
        &raw_frame(IMEI, k_frame(&[k_record(1, WINCHESTER, true)]), None),
    )
    .await;
    wait_until(Duration::from_secs(30), "A's position", || async {
        count(&js, streams::POSITIONS).await == 1
    })
    .await;
    let kv = js.get_key_value(streams::KV_GEOCODE).await.unwrap();
    wait_until(Duration::from_secs(10), "the address in KV", || async {
        kv.keys().await.unwrap().collect::<Vec<_>>().await.len() == 1
    })
    .await;
    a.kill();

    // Replica B (fresh memory) decodes another fix 3 m away, in the same cell.
    let b = spawn_run(&url, "geo-b", &args);
    wait_ready(&b).await;
    let near = (WINCHESTER.0 + 0.000_02, WINCHESTER.1 - 0.000_03);
    publish_raw(
        &js,
        &raw_frame(IMEI, k_frame(&[k_record(2, near, true)]), None),
    )
    .await;
    wait_until(Duration::from_secs(30), "B's position", || async {
        count(&js, streams::POSITIONS).await == 2
    })
    .await;
    let got = positions_by_seq(&js).await;
    assert_eq!(got[0].address, Some(Box::new(a34_winchester())));
    assert_eq!(got[1].address, Some(Box::new(a34_winchester())));
    assert_eq!(fake.count("/reverse"), 1, "B asked KV, not the server");
    let (_, metrics) = http_get(b.admin_port, "/metrics").unwrap();
    assert_eq!(
        metric(&metrics, "astra_geocode_lookups_total{result=\"hit_kv\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "astra_geocode_lookups_total{result=\"miss\"}"),
        None
    );

    // The bucket: one entry, the Address protobuf-encoded, expiring after 30 days.
    let status = kv.status().await.unwrap();
    assert_eq!(status.max_age(), Duration::from_secs(30 * 86_400));
    let keys: Vec<String> = kv
        .keys()
        .await
        .unwrap()
        .map(|k| k.unwrap())
        .collect::<Vec<_>>()
        .await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with("nominatim.50."), "{keys:?}");
    let value = kv.get(&keys[0]).await.unwrap().unwrap();
    assert_eq!(Address::decode(value).unwrap(), a34_winchester());
}
