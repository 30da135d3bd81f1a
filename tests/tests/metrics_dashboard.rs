//! Metrics and the Grafana dashboard: `deploy/grafana/astra-dashboard.json` parses, queries
//! Prometheus through its datasource variable, and every metric it queries is one the services
//! really export. The three services run as processes and get traffic that makes each labelled
//! metric appear (a labelled metric has no series before its first use): frames acknowledged and
//! one refused, a command that times out, a frame that cannot be decoded, a remote geocoder
//! (a stand-in Nominatim) with cache hits, events, a disconnect. Then `/metrics` of each is
//! scraped: every family carries its service's prefix, and every family is described in
//! `docs/operations.md`.

mod ops_support;

use astra_proto::v1::commands_client::CommandsClient;
use astra_proto::v1::{RawFrame, SendCommandRequest};
use astra_tests::device::{Device, imei, k_frame};
use astra_tests::nats::NatsServer;
use astra_tests::process::{Service, free_port, local, wait_listening};
use ops_support::{fake_nominatim, http_get, repo_root, wait_ready};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SEC: Duration = Duration::from_secs(1);
const T0: i64 = 1_767_225_600;

fn dashboard() -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join("deploy/grafana/astra-dashboard.json"))
        .expect("read the dashboard");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every `expr` of every panel target, with the panel's title.
fn queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default().to_owned();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL expr").to_owned();
            out.push((title.clone(), expr));
        }
    }
    out
}

/// `expr` without its string literals (label values may look like metric names).
fn without_strings(expr: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in expr.chars() {
        if in_string {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
        } else if c == '"' {
            in_string = true;
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The `astra_…` metric names in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let expr = without_strings(expr);
    let mut rest = expr.as_str();
    while let Some(i) = rest.find("astra_") {
        // A name starts at a token boundary (not inside e.g. a label value like "x_astra_y").
        let boundary = rest[..i]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if boundary {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// Metric families in a Prometheus text exposition: name → type.
fn families(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect()
}

/// The family a queried series belongs to (`x_bucket` of histogram `x` → `x`).
fn family_of(series: &str, known: &BTreeMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = series.strip_suffix(suffix)
            && known.get(base).is_some_and(|t| t == "histogram")
        {
            return base.to_owned();
        }
    }
    series.to_owned()
}

#[test]
fn dashboard_is_importable() {
    let d = dashboard();
    assert_eq!(d["uid"], "astra-ingest");
    let vars = d["templating"]["list"].as_array().expect("variables");
    let datasource = vars
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a datasource variable");
    assert_eq!(datasource["query"], "prometheus");
    let var = format!("${{{}}}", datasource["name"].as_str().expect("name"));
    let mut ids = BTreeSet::new();
    for panel in d["panels"].as_array().expect("panels") {
        assert!(ids.insert(panel["id"].as_u64().expect("id")), "ids unique");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], var,
            "panel {} queries the datasource variable",
            panel["title"]
        );
        assert!(
            !panel["targets"].as_array().expect("targets").is_empty(),
            "panel {} has queries",
            panel["title"]
        );
    }
    for (title, expr) in queries(&d) {
        assert!(
            !metric_names(&expr).is_empty(),
            "{title}: {expr} queries no astra metric"
        );
        assert_eq!(
            expr.matches('(').count(),
            expr.matches(')').count(),
            "{title}: {expr}"
        );
    }
    assert_eq!(
        metric_names(r#"sum(rate(astra_a_total{x="astra_b"}[5m])) / astra_c"#),
        BTreeSet::from(["astra_a_total".to_owned(), "astra_c".to_owned()]),
        "label values that look like names are not names"
    );
}

fn scrape(admin: SocketAddr) -> String {
    let (status, body) = http_get(admin, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200);
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_metric_is_exported_with_its_service_prefix_and_documented() {
    let nats = NatsServer::start();
    let decoder_admin = local(free_port());
    let mut decoder = Service::spawn(
        "decoder-worker",
        &[
            "run",
            "--nats-url",
            &nats.url(),
            // One partition count per cluster (ASTRA_POSITIONS is stored by partition).
            "--partitions",
            "4",
            "--admin-addr",
            &decoder_admin.to_string(),
            "--grpc-addr",
            &local(free_port()).to_string(),
            "--geocoder",
            "nominatim",
            "--geocoder-url",
            &format!("http://{}", fake_nominatim()),
            "--geocoder-timeout",
            "5s",
            "--lag-interval",
            "1s",
        ]
        .map(String::from),
    );
    let worker_admin = local(free_port());
    let mut worker = Service::spawn(
        "event-worker",
        &[
            "--nats-url",
            &nats.url(),
            "--instance-id",
            "w1",
            "--partitions",
            "4",
            "--admin-addr",
            &worker_admin.to_string(),
            "--grpc-addr",
            &local(free_port()).to_string(),
        ]
        .map(String::from),
    );
    let (device_addr, gateway_admin, gateway_grpc) =
        (local(free_port()), local(free_port()), local(free_port()));
    let mut gateway = Service::spawn(
        "gateway",
        &[
            "--nats-url",
            &nats.url(),
            "--partitions",
            "4",
            "--listen",
            &device_addr.to_string(),
            "--no-udp",
            "--admin-addr",
            &gateway_admin.to_string(),
            "--grpc-addr",
            &gateway_grpc.to_string(),
        ]
        .map(String::from),
    );
    for (service, admin) in [
        (&mut decoder, decoder_admin),
        (&mut worker, worker_admin),
        (&mut gateway, gateway_admin),
    ] {
        wait_ready(service, admin, 30 * SEC);
    }
    assert!(wait_listening(device_addr, 10 * SEC));

    // Traffic: a device reports (positions in one geocoding cell: a miss, then hits), ignores a
    // command (timeout), and leaves; another sends a corrupted frame (refused).
    let device_imei = imei(21);
    let device = tokio::task::spawn_blocking(move || {
        let mut d = Device::connect(device_addr, None).expect("device connects");
        for (i, seq) in [0u8, 2].into_iter().enumerate() {
            let frame = k_frame(&device_imei, seq, 2, T0 + 60 * i as i64);
            assert!(d.send_and_wait(&frame, 10 * SEC).expect("send"), "acked");
        }
        let mut bad = Device::connect(device_addr, None).expect("second device");
        let mut frame = k_frame(&imei(22), 0, 1, T0);
        if let Some(last) = frame.last_mut() {
            *last ^= 0xff;
        }
        bad.send(&frame).expect("send corrupted frame");
        d
    })
    .await
    .unwrap();
    let mut grpc = CommandsClient::connect(format!("http://{gateway_grpc}"))
        .await
        .expect("gRPC");
    let timed_out = grpc
        .send(SendCommandRequest {
            imei: imei(21),
            line: "$POLL".into(),
            timeout_ms: 300,
        })
        .await
        .expect_err("the device does not answer");
    assert_eq!(timed_out.code(), tonic::Code::DeadlineExceeded);
    drop(device);

    // A stored frame the decoder cannot decode (it goes to the DLQ).
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let garbage = RawFrame {
        imei: imei(23),
        protocol: "K".into(),
        frame: vec![0x4b, 0x00, 0x09, 0x01],
        ..Default::default()
    };
    js.publish(
        format!("astra.raw.{}", imei(23)),
        garbage.encode_to_vec().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored");

    // Scrape until every queried metric has appeared (or the time is up).
    let services = [
        ("gateway", gateway_admin, &["astra_gateway_"][..]),
        (
            "decoder-worker",
            decoder_admin,
            &["astra_decoder_", "astra_geocode_"][..],
        ),
        ("event-worker", worker_admin, &["astra_event_worker_"][..]),
    ];
    let wanted: BTreeSet<String> = queries(&dashboard())
        .iter()
        .flat_map(|(_, e)| metric_names(e))
        .collect();
    let deadline = Instant::now() + 30 * SEC;
    let (exported, by_service) = loop {
        let mut exported = BTreeMap::new();
        let mut by_service = Vec::new();
        for (name, admin, _) in &services {
            let f = families(&scrape(*admin));
            exported.extend(f.clone());
            by_service.push((*name, f));
        }
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|m| !exported.contains_key(&family_of(m, &exported)))
            .collect();
        if missing.is_empty() {
            break (exported, by_service);
        }
        assert!(
            Instant::now() < deadline,
            "queried by the dashboard but not exported: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let docs = std::fs::read_to_string(repo_root().join("docs/operations.md"))
        .expect("docs/operations.md");
    for ((service, _, prefixes), (_, families)) in services.iter().zip(&by_service) {
        for family in families.keys() {
            assert!(
                prefixes.iter().any(|p| family.starts_with(p)),
                "{service} exports {family}, outside its prefixes {prefixes:?}"
            );
            assert!(
                docs.contains(&format!("`{family}`")),
                "{family} ({service}) is not described in docs/operations.md"
            );
        }
    }
    assert!(exported.len() >= wanted.len());

    for mut s in [gateway, decoder, worker] {
        let status = s.terminate(30 * SEC).expect("exits on SIGTERM");
        assert!(status.success(), "{} exit status {status}", s.name);
    }
}
