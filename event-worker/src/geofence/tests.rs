//! Unit tests of geofence validation, shapes and the index (brute force as the oracle).

use super::error::{GeofenceError, MAX_DWELL_S, MAX_POINTS, RingRole};
use super::shape::{EARTH_RADIUS_M, haversine_m, segment_distance_m};
use super::{Fence, GeofenceIndex, validate};
use astra_proto::v1::{self as pb, geofence::Shape as PbShape};
use geo::Coord;

const IMEI: &str = "860873041761486";
const OTHER_IMEI: &str = "866224026657899";

fn ll(lat: f64, lon: f64) -> pb::LatLon {
    pb::LatLon {
        latitude: lat,
        longitude: lon,
    }
}

fn fence(id: &str, shape: PbShape) -> pb::Geofence {
    pb::Geofence {
        id: id.into(),
        name: format!("fence {id}"),
        shape: Some(shape),
        ..Default::default()
    }
}

fn circle(id: &str, lat: f64, lon: f64, radius_m: f64) -> pb::Geofence {
    fence(
        id,
        PbShape::Circle(pb::Circle {
            center: Some(ll(lat, lon)),
            radius_m,
        }),
    )
}

fn ring(points: &[(f64, f64)]) -> pb::Ring {
    pb::Ring {
        points: points.iter().map(|&(lat, lon)| ll(lat, lon)).collect(),
    }
}

fn polygon(id: &str, outer: &[(f64, f64)], holes: &[&[(f64, f64)]]) -> pb::Geofence {
    fence(
        id,
        PbShape::Polygon(pb::Polygon {
            outer: Some(ring(outer)),
            holes: holes.iter().map(|h| ring(h)).collect(),
        }),
    )
}

fn corridor(id: &str, points: &[(f64, f64)], width_m: f64) -> pb::Geofence {
    fence(
        id,
        PbShape::Corridor(pb::Corridor {
            polyline: points.iter().map(|&(lat, lon)| ll(lat, lon)).collect(),
            width_m,
        }),
    )
}

fn err(g: &pb::Geofence) -> GeofenceError {
    validate(g).expect_err("invalid")
}

/// Degrees of latitude for a distance along a meridian.
fn north_deg(m: f64) -> f64 {
    (m / EARTH_RADIUS_M).to_degrees()
}

const SQUARE: &[(f64, f64)] = &[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)];
const HOLE: &[(f64, f64)] = &[(0.4, 0.4), (0.4, 0.6), (0.6, 0.6), (0.6, 0.4), (0.4, 0.4)];

#[test]
fn rejects_bad_ids_limits_and_targets() {
    let ok = circle("depot-1", 51.5, -0.1, 100.0);
    validate(&ok).unwrap();
    assert_eq!(err(&circle("", 0.0, 0.0, 1.0)), GeofenceError::EmptyId);
    for bad in ["a b", ".a", "a.", "a..b", "ü", &"x".repeat(129)] {
        assert_eq!(
            err(&circle(bad, 0.0, 0.0, 1.0)),
            GeofenceError::InvalidId(bad.to_owned())
        );
    }
    let mut g = ok.clone();
    g.shape = None;
    assert_eq!(err(&g), GeofenceError::MissingShape);

    let mut g = ok.clone();
    g.speed_limit_kmh = Some(-1.0);
    assert_eq!(err(&g), GeofenceError::SpeedLimit(-1.0));
    g.speed_limit_kmh = Some(f64::INFINITY);
    assert_eq!(err(&g), GeofenceError::SpeedLimit(f64::INFINITY));
    g.speed_limit_kmh = Some(0.0);
    validate(&g).unwrap();

    let mut g = ok.clone();
    g.dwell_s = MAX_DWELL_S + 1;
    assert_eq!(err(&g), GeofenceError::Dwell(MAX_DWELL_S + 1));

    let mut g = ok.clone();
    g.imeis = vec![IMEI.into(), "860873041761487".into()];
    assert_eq!(
        err(&g),
        GeofenceError::Imei {
            index: 1,
            imei: "860873041761487".into()
        }
    );
    assert_eq!(
        err(&g).to_string(),
        "imeis[1] \"860873041761487\" is not an IMEI (15 digits with a valid Luhn check digit)"
    );

    let mut g = ok;
    g.groups = vec!["vans".into(), " ".into()];
    assert_eq!(err(&g), GeofenceError::EmptyGroup(1));
}

#[test]
fn rejects_bad_circles() {
    for r in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            err(&circle("c", 0.0, 0.0, r)),
            GeofenceError::Radius(_)
        ));
    }
    assert_eq!(
        err(&circle("c", 0.0, 0.0, 0.0)).to_string(),
        "circle radius_m must be a finite number above 0, got 0"
    );
    assert_eq!(
        err(&circle("c", 90.5, 0.0, 1.0)),
        GeofenceError::Latitude {
            at: "circle center".into(),
            value: 90.5
        }
    );
    assert!(matches!(
        err(&circle("c", 0.0, f64::NAN, 1.0)),
        GeofenceError::Longitude { .. }
    ));
    assert!(matches!(
        err(&circle("c", 0.0, -180.5, 1.0)),
        GeofenceError::Longitude { .. }
    ));
    let g = fence(
        "c",
        PbShape::Circle(pb::Circle {
            center: None,
            radius_m: 5.0,
        }),
    );
    assert_eq!(err(&g), GeofenceError::MissingCenter);
}

#[test]
fn rejects_bad_polygons() {
    use GeofenceError::*;
    use RingRole::*;
    validate(&polygon("p", SQUARE, &[HOLE])).unwrap();

    let open = &[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)];
    assert_eq!(err(&polygon("p", open, &[])), RingNotClosed(Outer));
    assert_eq!(
        err(&polygon("p", open, &[])).to_string(),
        "outer ring is not closed: its last point must repeat its first"
    );
    let open_hole = &[(0.4, 0.4), (0.4, 0.6), (0.6, 0.6)];
    assert_eq!(
        err(&polygon("p", SQUARE, &[open_hole])),
        RingNotClosed(Hole(0))
    );

    assert_eq!(err(&polygon("p", &[], &[])), TooFewPoints(Outer));
    let two = &[(0.0, 0.0), (1.0, 1.0), (1.0, 1.0), (0.0, 0.0)];
    assert_eq!(err(&polygon("p", two, &[])), TooFewPoints(Outer));

    let bow_tie = &[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)];
    assert_eq!(err(&polygon("p", bow_tie, &[])), SelfIntersection(Outer));
    assert_eq!(
        err(&polygon("p", bow_tie, &[])).to_string(),
        "outer ring intersects itself"
    );
    // Doubling back along an edge, and three points on one line.
    let spike = &[(0.0, 0.0), (0.0, 2.0), (0.0, 1.0), (1.0, 1.0), (0.0, 0.0)];
    assert_eq!(err(&polygon("p", spike, &[])), SelfIntersection(Outer));
    let flat = &[(0.0, 0.0), (0.0, 1.0), (0.0, 2.0), (0.0, 0.0)];
    assert_eq!(err(&polygon("p", flat, &[])), SelfIntersection(Outer));
    // Two loops touching at one vertex.
    let eight = &[
        (0.0, 0.0),
        (1.0, 1.0),
        (0.0, 2.0),
        (2.0, 2.0),
        (1.0, 1.0),
        (2.0, 0.0),
        (0.0, 0.0),
    ];
    assert_eq!(err(&polygon("p", eight, &[])), SelfIntersection(Outer));

    let outside = &[(2.0, 2.0), (2.0, 3.0), (3.0, 3.0), (2.0, 2.0)];
    assert_eq!(err(&polygon("p", SQUARE, &[outside])), HoleOutside(Hole(0)));
    let crossing = &[(0.5, 0.5), (0.5, 1.5), (0.7, 1.5), (0.5, 0.5)];
    assert_eq!(
        err(&polygon("p", SQUARE, &[crossing])),
        HoleOutside(Hole(0))
    );
    let overlapping = &[(0.45, 0.45), (0.45, 0.65), (0.65, 0.65), (0.45, 0.45)];
    assert_eq!(
        err(&polygon("p", SQUARE, &[HOLE, overlapping])),
        RingsIntersect(Hole(0), Hole(1))
    );

    let bad_point = &[(0.0, 0.0), (0.0, 1.0), (95.0, 1.0), (0.0, 0.0)];
    assert_eq!(
        err(&polygon("p", bad_point, &[])),
        Latitude {
            at: "outer ring point 2".into(),
            value: 95.0
        }
    );
    let g = fence(
        "p",
        PbShape::Polygon(pb::Polygon {
            outer: None,
            holes: vec![],
        }),
    );
    assert_eq!(err(&g), MissingOuter);

    let mut many: Vec<(f64, f64)> = (0..MAX_POINTS)
        .map(|i| {
            let a = i as f64 / MAX_POINTS as f64 * std::f64::consts::TAU;
            (a.sin(), a.cos())
        })
        .collect();
    many.push(many[0]);
    assert_eq!(
        err(&polygon("p", &many, &[])),
        TooManyPoints {
            what: "polygon",
            count: MAX_POINTS + 1
        }
    );
}

#[test]
fn rejects_bad_corridors() {
    use GeofenceError::*;
    validate(&corridor("k", &[(0.0, 0.0), (0.0, 1.0)], 50.0)).unwrap();
    assert_eq!(
        err(&corridor("k", &[(0.0, 0.0)], 50.0)),
        CorridorTooShort(1)
    );
    assert_eq!(err(&corridor("k", &[], 50.0)), CorridorTooShort(0));
    assert_eq!(
        err(&corridor("k", &[(1.0, 1.0), (1.0, 1.0)], 50.0)),
        CorridorTooShort(1)
    );
    assert_eq!(
        err(&corridor("k", &[(0.0, 0.0), (0.0, 1.0)], 0.0)),
        Width(0.0)
    );
    assert!(matches!(
        err(&corridor("k", &[(0.0, 0.0), (0.0, 1.0)], f64::NAN)),
        Width(_)
    ));
    assert_eq!(
        err(&corridor("k", &[(0.0, 0.0), (0.0, 181.0)], 5.0)),
        Longitude {
            at: "corridor point 1".into(),
            value: 181.0
        }
    );
}

#[test]
fn circle_contains_by_haversine() {
    let f = Fence::compile(&circle("c", 48.0, 11.0, 500.0)).unwrap();
    assert!(f.contains(48.0, 11.0));
    assert!(f.contains(48.0 + north_deg(499.0), 11.0));
    assert!(!f.contains(48.0 + north_deg(501.0), 11.0));
    // East-west: 500 m is more longitude than latitude at 48°.
    let east = north_deg(499.0) / 48f64.to_radians().cos();
    assert!(f.contains(48.0, 11.0 + east));
    assert!(!f.contains(48.0, 11.0 + east * 1.01));
    assert!(!f.contains(f64::NAN, 11.0));
    assert_eq!(f.kind(), "circle");
}

#[test]
fn circles_across_the_antimeridian_and_at_the_pole() {
    let mut index = GeofenceIndex::default();
    index.upsert(Fence::compile(&circle("dateline", 10.0, 179.999, 1000.0)).unwrap());
    index.upsert(Fence::compile(&circle("pole", 89.999, 0.0, 1000.0)).unwrap());
    let ids = |lat, lon| -> Vec<String> {
        index
            .containing(lat, lon, IMEI, &[])
            .iter()
            .map(|f| f.id.clone())
            .collect()
    };
    assert_eq!(ids(10.0, -179.999), ["dateline"]);
    assert_eq!(ids(10.0, -179.99), Vec::<String>::new());
    // Across the pole: the far side of a pole circle is at longitude 180.
    assert_eq!(ids(89.9995, 180.0), ["pole"]);
    assert_eq!(ids(89.9995, -120.0), ["pole"]);
}

#[test]
fn polygon_with_hole_boundary_counts_as_inside() {
    let f = Fence::compile(&polygon("p", SQUARE, &[HOLE])).unwrap();
    assert!(f.contains(0.2, 0.2));
    assert!(!f.contains(0.5, 0.5), "in the hole");
    assert!(f.contains(0.0, 0.5), "on the outer edge");
    assert!(f.contains(1.0, 1.0), "on an outer vertex");
    assert!(f.contains(0.4, 0.5), "on the hole's edge");
    assert!(!f.contains(1.01, 0.5));
    assert!(!f.contains(0.5, -0.0001));
    assert_eq!(f.kind(), "polygon");
}

#[test]
fn corridor_contains_within_width_of_the_polyline() {
    // An L: east along the equator, then north.
    let f = Fence::compile(&corridor("k", &[(0.0, 0.0), (0.0, 0.1), (0.1, 0.1)], 100.0)).unwrap();
    let d = north_deg(1.0);
    assert!(f.contains(99.0 * d, 0.05));
    assert!(!f.contains(101.0 * d, 0.05));
    assert!(f.contains(0.05, 0.1 + 99.0 * d));
    assert!(!f.contains(0.05, 0.1 + 101.0 * d));
    // Round caps at the ends.
    assert!(f.contains(0.0, -99.0 * d));
    assert!(!f.contains(0.0, -101.0 * d));
    assert!(f.contains(0.1 + 70.0 * d, 0.1 + 70.0 * d));
    assert!(!f.contains(0.1 + 71.0 * d, 0.1 + 71.0 * d));
    assert_eq!(f.kind(), "corridor");
}

#[test]
fn corridor_across_the_antimeridian() {
    let f = Fence::compile(&corridor("k", &[(-10.0, 179.9), (-10.0, -179.9)], 50.0)).unwrap();
    assert!(f.contains(-10.0, 180.0));
    assert!(f.contains(-10.0, -180.0));
    assert!(!f.contains(-10.0, 0.0));
}

/// Unit vector → (lon, lat).
fn coord_of(v: [f64; 3]) -> Coord {
    Coord {
        x: v[1].atan2(v[0]).to_degrees(),
        y: v[2].clamp(-1.0, 1.0).asin().to_degrees(),
    }
}

fn vector_of(c: Coord) -> [f64; 3] {
    let (lat, lon) = (c.y.to_radians(), c.x.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// The point a fraction `t` along the great-circle arc from `a` to `b`.
fn slerp(a: Coord, b: Coord, t: f64) -> Coord {
    let (va, vb) = (vector_of(a), vector_of(b));
    let omega = (va[0] * vb[0] + va[1] * vb[1] + va[2] * vb[2])
        .clamp(-1.0, 1.0)
        .acos();
    let (wa, wb) = if omega < 1e-12 {
        (1.0 - t, t)
    } else {
        (
            ((1.0 - t) * omega).sin() / omega.sin(),
            (t * omega).sin() / omega.sin(),
        )
    };
    coord_of([
        wa * va[0] + wb * vb[0],
        wa * va[1] + wb * vb[1],
        wa * va[2] + wb * vb[2],
    ])
}

#[test]
fn great_circle_bulge_is_inside_the_box() {
    // At 60° north an east-west arc of 40° of longitude peaks near 62°: far outside the
    // latitude range of its end points.
    let (a, b) = ((60.0, 0.0), (60.0, 40.0));
    let f = Fence::compile(&corridor("k", &[a, b], 100.0)).unwrap();
    let mid = slerp(Coord { x: 0.0, y: 60.0 }, Coord { x: 40.0, y: 60.0 }, 0.5);
    assert!(mid.y > 61.5, "{mid:?}");
    assert!(f.contains(mid.y, mid.x));
    assert!(f.contains(mid.y + north_deg(99.0), mid.x));
    assert!(!f.contains(mid.y + north_deg(101.0), mid.x));
    assert!(
        !f.contains(60.0, 20.0),
        "the straight lat/lon line is not the arc"
    );
}

/// xorshift64*: reproducible randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

#[test]
fn segment_distance_matches_a_dense_sampling() {
    let mut rng = Rng(7);
    for _ in 0..300 {
        let a = Coord {
            x: rng.range(-30.0, 30.0),
            y: rng.range(-70.0, 70.0),
        };
        let b = Coord {
            x: a.x + rng.range(-1.0, 1.0),
            y: (a.y + rng.range(-1.0, 1.0)).clamp(-89.0, 89.0),
        };
        let p = Coord {
            x: a.x + rng.range(-1.5, 1.5),
            y: (a.y + rng.range(-1.5, 1.5)).clamp(-89.0, 89.0),
        };
        let brute = (0..=20_000)
            .map(|i| haversine_m(p, slerp(a, b, f64::from(i) / 20_000.0)))
            .fold(f64::INFINITY, f64::min);
        let exact = segment_distance_m(p, a, b);
        // The sampling step is at most ~8 m, so the sampled minimum overshoots by < 1 m.
        assert!(
            exact <= brute + 1e-6 && brute - exact < 1.0,
            "{a:?} {b:?} {p:?}: {exact} vs {brute}"
        );
    }
}

#[test]
fn segment_distance_is_exact_near_the_end_of_a_long_arc() {
    use geo::{Bearing, Destination, Haversine, Point};
    // Around 90° off the arc at its end, whether the closest point is the end or inside the arc
    // depends on the bearing at the end itself: the back bearing at the start (what geo's
    // HaversineClosestPoint uses) is off by the meridians' convergence, here about 0.9°.
    let (a, b) = (Coord { x: 0.0, y: 60.0 }, Coord { x: 1.0, y: 60.0 });
    let back = Haversine.bearing(Point::from(b), Point::from(a));
    for k in 0..=100 {
        let off = 85.0 + f64::from(k) * 0.1;
        for sign in [1.0, -1.0] {
            let p: Coord = Haversine
                .destination(Point::from(b), back + sign * off, 20_000.0)
                .into();
            let brute = (0..=20_000)
                .map(|i| haversine_m(p, slerp(a, b, f64::from(i) / 20_000.0)))
                .fold(f64::INFINITY, f64::min);
            let exact = segment_distance_m(p, a, b);
            // Samples every ~3 m, 20 km away: the sampled minimum overshoots by < 0.001 m.
            assert!(
                exact <= brute + 1e-6 && brute - exact < 1e-3,
                "{off}° {sign}: {exact} vs {brute}"
            );
        }
    }
}

#[test]
fn applies_to_listed_devices_and_groups_or_everyone() {
    let every = Fence::compile(&circle("a", 0.0, 0.0, 10.0)).unwrap();
    assert!(every.applies_to(IMEI, &[]));

    let mut g = circle("b", 0.0, 0.0, 10.0);
    g.imeis = vec![IMEI.into()];
    g.groups = vec!["vans".into()];
    let f = Fence::compile(&g).unwrap();
    assert!(f.applies_to(IMEI, &[]));
    assert!(f.applies_to(OTHER_IMEI, &["trucks".into(), "vans".into()]));
    assert!(!f.applies_to(OTHER_IMEI, &["trucks".into()]));
    assert!(!f.applies_to(OTHER_IMEI, &[]));
}

#[test]
fn index_upsert_replace_remove_and_sorted_results() {
    let mut index = GeofenceIndex::default();
    assert!(index.is_empty());
    for id in ["c", "a", "b"] {
        assert!(
            index
                .upsert(Fence::compile(&circle(id, 10.0, 10.0, 1000.0)).unwrap())
                .is_none()
        );
    }
    let mut only_other = circle("d", 10.0, 10.0, 1000.0);
    only_other.imeis = vec![OTHER_IMEI.into()];
    index.upsert(Fence::compile(&only_other).unwrap());
    assert_eq!(index.len(), 4);
    let ids = |index: &GeofenceIndex, lat, lon, imei| -> Vec<String> {
        index
            .containing(lat, lon, imei, &[])
            .iter()
            .map(|f| f.id.clone())
            .collect()
    };
    assert_eq!(ids(&index, 10.0, 10.0, IMEI), ["a", "b", "c"]);
    assert_eq!(ids(&index, 10.0, 10.0, OTHER_IMEI), ["a", "b", "c", "d"]);

    // Moving "b" elsewhere must drop its old box from the tree.
    let old = index.upsert(Fence::compile(&circle("b", -20.0, 30.0, 1000.0)).unwrap());
    assert_eq!(old.map(|f| f.id), Some("b".to_owned()));
    assert_eq!(index.len(), 4);
    assert_eq!(ids(&index, 10.0, 10.0, IMEI), ["a", "c"]);
    assert_eq!(ids(&index, -20.0, 30.0, IMEI), ["b"]);

    assert!(index.remove("a"));
    assert!(!index.remove("a"));
    assert!(index.get("a").is_none());
    assert_eq!(index.get("c").map(|f| f.name.as_str()), Some("fence c"));
    assert_eq!(ids(&index, 10.0, 10.0, IMEI), ["c"]);
    assert_eq!(index.len(), 3);
    assert!(index.containing(f64::NAN, 10.0, IMEI, &[]).is_empty());
}

fn check_against_brute_force(fences: Vec<Fence>, points: &[(f64, f64)], groups: &[String]) {
    let index = GeofenceIndex::from_fences(fences.clone());
    assert_eq!(index.len(), fences.len());
    let mut hits = 0;
    for &(lat, lon) in points {
        let got: Vec<&str> = index
            .containing(lat, lon, IMEI, groups)
            .iter()
            .map(|f| f.id.as_str())
            .collect();
        let mut want: Vec<&str> = fences
            .iter()
            .filter(|f| f.applies_to(IMEI, groups) && f.contains(lat, lon))
            .map(|f| f.id.as_str())
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "at {lat}, {lon}");
        hits += want.len();
    }
    assert!(
        hits > points.len() / 4,
        "too few hits ({hits}) to test much"
    );
}

#[test]
fn ten_thousand_circles_match_brute_force() {
    let mut rng = Rng(42);
    let mut fences = Vec::new();
    for i in 0..10_000 {
        // Dense clusters (cities) plus a scattering over the globe, poles and dateline included.
        let (lat, lon) = if i % 2 == 0 {
            (rng.range(47.0, 49.0), rng.range(10.0, 12.0))
        } else {
            (rng.range(-90.0, 90.0), rng.range(-180.0, 180.0))
        };
        let radius = if rng.unit() < 0.9 {
            rng.range(10.0, 5_000.0)
        } else {
            rng.range(5_000.0, 300_000.0)
        };
        let mut g = circle(&format!("f{i:05}"), lat, lon, radius);
        if i % 7 == 0 {
            g.imeis = vec![OTHER_IMEI.into()];
        }
        if i % 11 == 0 {
            g.groups = vec![if i % 2 == 0 { "vans" } else { "trucks" }.into()];
        }
        fences.push(Fence::compile(&g).unwrap());
    }
    let centres: Vec<(f64, f64)> = fences
        .iter()
        .step_by(17)
        .map(|f| {
            let b = f.bbox();
            ((b.min_lat + b.max_lat) / 2.0, (b.min_lon + b.max_lon) / 2.0)
        })
        .collect();
    let points: Vec<(f64, f64)> = (0..1_000)
        .map(|i| match i % 3 {
            0 => (rng.range(47.0, 49.0), rng.range(10.0, 12.0)),
            1 => (rng.range(-90.0, 90.0), rng.range(-180.0, 180.0)),
            _ => {
                let (lat, lon) = centres[i % centres.len()];
                (
                    (lat + rng.range(-0.05, 0.05)).clamp(-90.0, 90.0),
                    (lon + rng.range(-0.05, 0.05)).clamp(-180.0, 180.0),
                )
            }
        })
        .collect();
    check_against_brute_force(fences, &points, &["vans".into()]);
}

#[test]
fn random_polygons_and_corridors_match_brute_force() {
    let mut rng = Rng(99);
    let mut fences = Vec::new();
    for i in 0..2_000 {
        let (lat, lon) = (rng.range(40.0, 50.0), rng.range(0.0, 10.0));
        let g = if i % 2 == 0 {
            let (h, w) = (rng.range(0.01, 0.5), rng.range(0.01, 0.5));
            let outer = [
                (lat, lon),
                (lat, lon + w),
                (lat + h, lon + w),
                (lat + h, lon),
                (lat, lon),
            ];
            let hole = [
                (lat + h * 0.25, lon + w * 0.25),
                (lat + h * 0.75, lon + w * 0.25),
                (lat + h * 0.5, lon + w * 0.75),
                (lat + h * 0.25, lon + w * 0.25),
            ];
            polygon(&format!("p{i:04}"), &outer, &[&hole])
        } else {
            let points: Vec<(f64, f64)> = (0..5)
                .scan((lat, lon), |at, _| {
                    *at = (at.0 + rng.range(-0.2, 0.2), at.1 + rng.range(-0.2, 0.2));
                    Some(*at)
                })
                .collect();
            corridor(&format!("k{i:04}"), &points, rng.range(50.0, 5_000.0))
        };
        fences.push(Fence::compile(&g).unwrap());
    }
    let points: Vec<(f64, f64)> = (0..1_000)
        .map(|_| (rng.range(40.0, 50.5), rng.range(0.0, 10.5)))
        .collect();
    check_against_brute_force(fences, &points, &[]);
}
