//! The demo fleet of `deploy/local/run.sh --demo`: nine devices in London, one per scenario and
//! between them every protocol variant and both transports, on routes that raise every kind of
//! event within a minute or two at the default ten-fold speed-up; and [`setup`], which registers
//! them (names, a speed limit) in KV `astra-devices` and writes the demo geofences to KV
//! `astra-geofences` (the protobufs the event-worker reads), creating the buckets if needed.
//!
//! | device | protocol | what it shows |
//! |---|---|---|
//! | courier | K, TCP | moving, geofence `depot` enter/exit, ignition off/on, journey stop |
//! | speeder | X `$MODE,6`, TCP | overspeed (its limit is 80 km/h; it drives 104) |
//! | idler | M, TCP | stopped by the server's timer, long idle (engine running, parked) |
//! | panic-van | V, TCP | panic button (reason bit 4), polygon geofence `camden-market` |
//! | towed-car | C, UDP | tow (moving with the ignition off), offline by silence, stored reports |
//! | dropout | X `$MODE,4`, TCP | offline when the connection drops, buffered reports, online again |
//! | scooter-soho / scooter-shoreditch | Z `$MODE,6` / `$MODE,4`, TCP | random walks |
//! | van-docklands | K, UDP | random walk |

use super::config::{SimConfig, SimProtocol, Transport};
use super::motion::{Behaviour, Point, REASON_PANIC, RandomWalk, Route, Segment};
use crate::device::imei;
use astra_platform::streams::{KV_DEVICES, KV_GEOFENCES, ensure_kv};
use astra_proto::v1::geofence::Shape;
use astra_proto::v1::{Circle, DeviceConfig, Geofence, LatLon, Polygon, Ring};
use prost::Message;
use std::net::SocketAddr;
use std::time::Duration;

/// Speed limit of the speeder (km/h).
pub const SPEEDER_LIMIT_KMH: f64 = 80.0;
/// Centre of geofence `depot` (a circle the courier stops in).
pub const DEPOT: Point = Point::new(51.5033, -0.1195);
pub const DEPOT_RADIUS_M: f64 = 150.0;
/// Where the panic van stops (inside polygon `camden-market`).
const CAMDEN: Point = Point::new(51.5450, -0.1500);

fn pt(lat: f64, lon: f64) -> Point {
    Point::new(lat, lon)
}

fn drive(p: Point, kmh: f64) -> Segment {
    Segment::drive(p.lat, p.lon, kmh)
}

/// The scenarios: (name, protocol, transport, behaviour).
fn scenarios() -> Vec<(&'static str, SimProtocol, Transport, Behaviour)> {
    let piccadilly = pt(51.5101, -0.1340);
    let trafalgar = pt(51.5074, -0.1278);
    let parliament = pt(51.4995, -0.1357);
    let courier = Route::new(
        piccadilly,
        vec![
            drive(trafalgar, 36.0),
            drive(DEPOT, 30.0),
            Segment::stay(200.0, false),
            Segment::stay(40.0, true),
            drive(parliament, 40.0),
            drive(piccadilly, 40.0),
        ],
    );
    let (w1, w2, w3, w4) = (
        pt(51.5203, -0.1700),
        pt(51.5183, -0.2050),
        pt(51.5130, -0.2500),
        pt(51.5090, -0.2800),
    );
    let speeder = Route::new(
        w1,
        vec![
            drive(w2, 60.0),
            drive(w3, 104.0),
            drive(w4, 70.0),
            drive(w1, 50.0),
        ],
    );
    let (bank, moorgate) = (pt(51.5134, -0.0890), pt(51.5180, -0.0800));
    let idler = Route::new(
        bank,
        vec![
            drive(moorgate, 40.0),
            Segment::stay(420.0, true),
            drive(bank, 40.0),
            Segment::stay(60.0, false),
        ],
    );
    let (camden_town, chalk_farm) = (pt(51.5390, -0.1426), pt(51.5420, -0.1600));
    let panic_van = Route::new(
        camden_town,
        vec![
            drive(CAMDEN, 30.0),
            Segment::flag(REASON_PANIC),
            Segment::stay(60.0, true),
            drive(chalk_farm, 30.0),
            drive(camden_town, 30.0),
        ],
    );
    let (earls_court, pound) = (pt(51.4920, -0.1930), pt(51.4960, -0.1800));
    let towed = Route::new(
        earls_court,
        vec![
            Segment::stay(120.0, false),
            Segment::tow(pound.lat, pound.lon, 24.0),
            Segment::stay(240.0, false),
            Segment::offline(450.0),
            Segment::stay(60.0, false),
            drive(earls_court, 30.0),
            Segment::stay(60.0, false),
        ],
    )
    .parked();
    let (h1, h2, h3) = (
        pt(51.5073, -0.1657),
        pt(51.5100, -0.1870),
        pt(51.5050, -0.1750),
    );
    let dropout = Route::new(
        h1,
        vec![
            drive(h2, 40.0),
            Segment::offline(240.0),
            drive(h3, 40.0),
            Segment::stay(120.0, false),
            drive(h1, 40.0),
        ],
    );
    let walk = |center: Point, radius_m: f64, min: f64, max: f64, seed: u64| {
        Behaviour::RandomWalk(RandomWalk {
            center,
            radius_m,
            min_speed_kmh: min,
            max_speed_kmh: max,
            stop_chance: 0.2,
            seed,
        })
    };
    use SimProtocol as P;
    use Transport::{Tcp, Udp};
    vec![
        ("courier", P::K, Tcp, Behaviour::Route(courier)),
        ("speeder", P::X6, Tcp, Behaviour::Route(speeder)),
        ("idler", P::M, Tcp, Behaviour::Route(idler)),
        ("panic-van", P::V, Tcp, Behaviour::Route(panic_van)),
        ("towed-car", P::C, Udp, Behaviour::Route(towed)),
        ("dropout", P::X4, Tcp, Behaviour::Route(dropout)),
        (
            "scooter-soho",
            P::Z6,
            Tcp,
            walk(pt(51.5136, -0.1365), 800.0, 10.0, 24.0, 7),
        ),
        (
            "scooter-shoreditch",
            P::Z4,
            Tcp,
            walk(pt(51.5262, -0.0780), 800.0, 10.0, 24.0, 8),
        ),
        (
            "van-docklands",
            P::K,
            Udp,
            walk(pt(51.5054, -0.0235), 2000.0, 20.0, 60.0, 9),
        ),
    ]
}

/// The demo devices, spread over `gateways` (each starts on a different one and fails over to
/// the next), reporting every `interval` of device time at `speedup`.
pub fn fleet(gateways: &[SocketAddr], speedup: f64, interval: Duration) -> Vec<SimConfig> {
    let Some(&first) = gateways.first() else {
        return Vec::new();
    };
    scenarios()
        .into_iter()
        .enumerate()
        .map(|(i, (name, protocol, transport, behaviour))| {
            let mut gws = gateways.to_vec();
            gws.rotate_left(i % gateways.len());
            let n = u32::try_from(i).unwrap_or(0) + 1;
            SimConfig::new(imei(9000 + n), protocol, first)
                .name(name)
                .transport(transport)
                .gateways(gws)
                .behaviour(behaviour)
                .speedup(speedup)
                .report_interval(interval)
                .ack_timeout(Duration::from_secs(5))
        })
        .collect()
}

/// Registry entries for the demo devices: names, group `demo`, the speeder's limit.
pub fn device_configs(fleet: &[SimConfig]) -> Vec<DeviceConfig> {
    fleet
        .iter()
        .map(|c| DeviceConfig {
            imei: c.imei.clone(),
            name: c.name.clone(),
            groups: vec!["demo".to_owned()],
            speed_limit_kmh: (c.name == "speeder").then_some(SPEEDER_LIMIT_KMH),
            ..Default::default()
        })
        .collect()
}

/// The demo geofences: circle `depot` and polygon `camden-market` (20 km/h limit).
pub fn geofences() -> Vec<Geofence> {
    let ll = |lat: f64, lon: f64| LatLon {
        latitude: lat,
        longitude: lon,
    };
    let (lat, lon) = (CAMDEN.lat, CAMDEN.lon);
    vec![
        Geofence {
            id: "depot".to_owned(),
            name: "Depot".to_owned(),
            shape: Some(Shape::Circle(Circle {
                center: Some(ll(DEPOT.lat, DEPOT.lon)),
                radius_m: DEPOT_RADIUS_M,
            })),
            ..Default::default()
        },
        Geofence {
            id: "camden-market".to_owned(),
            name: "Camden Market".to_owned(),
            shape: Some(Shape::Polygon(Polygon {
                outer: Some(Ring {
                    points: vec![
                        ll(lat - 0.0015, lon - 0.0025),
                        ll(lat - 0.0015, lon + 0.0025),
                        ll(lat + 0.0015, lon + 0.0025),
                        ll(lat + 0.0015, lon - 0.0025),
                        ll(lat - 0.0015, lon - 0.0025),
                    ],
                }),
                holes: Vec::new(),
            })),
            speed_limit_kmh: Some(20.0),
            ..Default::default()
        },
    ]
}

/// Writes the demo's device configs and geofences to KV (creating the buckets as the services
/// do if they are missing). `nats` may list several URLs, comma separated.
pub async fn setup(nats: &str, replicas: usize, fleet: &[SimConfig]) -> Result<String, String> {
    let urls: Vec<async_nats::ServerAddr> = nats
        .split(',')
        .map(|u| u.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("NATS URL {nats:?}: {e}"))?;
    let client = async_nats::ConnectOptions::new()
        .name("astra-sim setup-demo")
        .connection_timeout(Duration::from_secs(5))
        .connect(urls)
        .await
        .map_err(|e| format!("connect to {nats}: {e}"))?;
    let js = async_nats::jetstream::new(client);
    let devices = ensure_kv(&js, KV_DEVICES, replicas)
        .await
        .map_err(|e| format!("KV {KV_DEVICES}: {e}"))?;
    let fences = ensure_kv(&js, KV_GEOFENCES, replicas)
        .await
        .map_err(|e| format!("KV {KV_GEOFENCES}: {e}"))?;
    let configs = device_configs(fleet);
    for c in &configs {
        devices
            .put(&c.imei, c.encode_to_vec().into())
            .await
            .map_err(|e| format!("put device {}: {e}", c.imei))?;
    }
    let zones = geofences();
    for g in &zones {
        fences
            .put(&g.id, g.encode_to_vec().into())
            .await
            .map_err(|e| format!("put geofence {}: {e}", g.id))?;
    }
    Ok(format!(
        "{} devices in KV {KV_DEVICES}, geofences {} in KV {KV_GEOFENCES}",
        configs.len(),
        zones
            .iter()
            .map(|g| g.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_is_valid_and_covers_every_variant() {
        let gw: SocketAddr = "127.0.0.1:5103".parse().unwrap();
        let fleet = fleet(&[gw], 10.0, Duration::from_secs(15));
        for c in &fleet {
            c.validate().unwrap();
        }
        for p in SimProtocol::ALL {
            assert!(fleet.iter().any(|c| c.protocol == p), "{p} missing");
        }
        assert!(fleet.iter().any(|c| c.transport == Transport::Udp));
    }

    #[test]
    fn courier_route_passes_through_the_depot() {
        let Behaviour::Route(r) = &scenarios()[0].3 else {
            panic!("courier has a route");
        };
        assert!(r.segments.iter().any(|s| matches!(
            s,
            Segment::Drive { to, .. } if to.distance_m(DEPOT) < DEPOT_RADIUS_M
        )));
        // One lap takes under 12 device minutes: about a minute at the demo speed-up.
        assert!(r.duration_s() < 720.0, "{}", r.duration_s());
    }

    #[test]
    fn network_losses_are_shorter_than_their_lap() {
        // A loss longer than the lap would start again before the device is back.
        for (name, _, _, b) in scenarios() {
            if let Behaviour::Route(r) = b {
                let lost: f64 = r
                    .segments
                    .iter()
                    .map(|s| match s {
                        Segment::Offline { secs } => *secs,
                        _ => 0.0,
                    })
                    .sum();
                assert!(lost < r.duration_s() * 0.8, "{name}");
            }
        }
    }
}
