//! Geofence shapes on the sphere: validating an `astra.v1.Geofence`, compiling it into a
//! [`Fence`] that answers "is this fix inside, and does the fence apply to this device?", and the
//! bounding box the index files it under.
//!
//! Semantics: circles and corridors are measured on a sphere of the mean Earth radius (haversine;
//! corridor segments are great-circle arcs), so they work across the antimeridian and near the
//! poles. Polygons are planar in longitude/latitude, as GeoJSON and map editors draw them; a
//! polygon therefore cannot cross the antimeridian (split it in two).

use super::error::{GeofenceError, MAX_DWELL_S, MAX_POINTS, RingRole};
use astra_codec::imei::luhn_ok;
use astra_proto::v1::{self as pb, geofence::Shape as PbShape};
use geo::algorithm::validation::{InvalidPolygon, RingRole as GeoRingRole};
use geo::{
    Area, Bearing, Coord, CrossTrackDistance, Distance, Haversine, HaversineMeasure, Intersects,
    LineString, Point, Polygon, Validation,
};
use std::collections::HashSet;

/// Mean Earth radius (IUGG / GRS80 R1), the sphere of geo's [`Haversine`].
pub(crate) const EARTH_RADIUS_M: f64 = HaversineMeasure::GRS80_MEAN_RADIUS.radius();

/// Longest geofence id: ids are KV keys and appear in every event, so keep them short.
const MAX_ID_LEN: usize = 128;

/// Slack added to every bounding box, so that a fix which `contains` accepts exactly on the edge
/// is never lost to rounding in the box test (1e-7 degrees is about 1 cm).
const BOX_SLACK_DEG: f64 = 1e-7;

/// Great-circle distance in metres between two points given as (lon, lat) degrees: geo's
/// haversine.
pub(crate) fn haversine_m(a: Coord, b: Coord) -> f64 {
    let d = Haversine.distance(Point::from(a), Point::from(b));
    // geo does not clamp: rounding can push the haversine just past 1 for antipodal points,
    // and its asin then returns NaN. Such points are half a circumference apart.
    if d.is_nan() && a.x.is_finite() && a.y.is_finite() && b.x.is_finite() && b.y.is_finite() {
        std::f64::consts::PI * EARTH_RADIUS_M
    } else {
        d
    }
}

/// Initial great-circle bearing from `a` to `b` in radians (geo's, which is in degrees).
fn bearing(a: Coord, b: Coord) -> f64 {
    Haversine
        .bearing(Point::from(a), Point::from(b))
        .to_radians()
}

/// Distance in metres from `p` to the great-circle arc from `a` to `b`.
///
/// geo's `HaversineClosestPoint` is not used: it decides whether the foot of the perpendicular
/// lies beyond `b` with the back bearing at `a` instead of the bearing at `b`, which differ by
/// the convergence of the meridians, so near the end of a long arc it picks the wrong point
/// (on a 55 km arc at 60° N, up to 2 m wrong for a fix 20 km off its end). The test is done
/// here with each end point's own bearing, the distances and cross-track come from geo.
pub(crate) fn segment_distance_m(p: Coord, a: Coord, b: Coord) -> f64 {
    let d_ap = haversine_m(a, p);
    if d_ap == 0.0 || a == b {
        return d_ap;
    }
    let d_bp = haversine_m(b, p);
    if d_bp == 0.0 {
        return 0.0;
    }
    // The foot of the perpendicular lies on the arc only if p is "ahead" of a towards b and
    // "ahead" of b towards a; otherwise the nearer end point is the closest point.
    if (bearing(a, p) - bearing(a, b)).cos() <= 0.0 {
        return d_ap;
    }
    if (bearing(b, p) - bearing(b, a)).cos() <= 0.0 {
        return d_bp;
    }
    let cross_track = Point::from(p).cross_track_distance(&Point::from(a), &Point::from(b));
    // Rounding can leave the cross-track asin without a value (NaN), which `min` skips; and it
    // can never exceed the distance to either end point.
    cross_track.min(d_ap).min(d_bp)
}

/// A latitude/longitude box in degrees. `min_lon > max_lon` never happens: a box that would
/// wrap around the antimeridian covers every longitude instead, which is rare and still correct.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BBox {
    pub(crate) min_lon: f64,
    pub(crate) min_lat: f64,
    pub(crate) max_lon: f64,
    pub(crate) max_lat: f64,
}

impl BBox {
    fn contains(&self, p: Coord) -> bool {
        p.x >= self.min_lon && p.x <= self.max_lon && p.y >= self.min_lat && p.y <= self.max_lat
    }

    fn union(self, o: BBox) -> BBox {
        BBox {
            min_lon: self.min_lon.min(o.min_lon),
            min_lat: self.min_lat.min(o.min_lat),
            max_lon: self.max_lon.max(o.max_lon),
            max_lat: self.max_lat.max(o.max_lat),
        }
    }

    /// The box of every point within `dist_m` of a point whose latitude lies in
    /// `lat_lo..=lat_hi` and longitude in `lon_lo..=lon_hi` (`wraps`: the longitudes wrap around
    /// the antimeridian, so every longitude is covered).
    fn around(
        lat_lo: f64,
        lat_hi: f64,
        lon_lo: f64,
        lon_hi: f64,
        dist_m: f64,
        wraps: bool,
    ) -> BBox {
        let delta = dist_m / EARTH_RADIUS_M;
        let dlat = delta.to_degrees();
        let min_lat = (lat_lo - dlat - BOX_SLACK_DEG).max(-90.0);
        let max_lat = (lat_hi + dlat + BOX_SLACK_DEG).min(90.0);
        let full = BBox {
            min_lon: -180.0,
            min_lat,
            max_lon: 180.0,
            max_lat,
        };
        // A spherical cap of angular radius δ around latitude φ spans asin(sin δ / cos φ) of
        // longitude either side, which grows towards the poles; when sin δ ≥ cos φ the cap holds
        // a pole and spans every longitude.
        let max_abs_lat = lat_lo.abs().max(lat_hi.abs()).to_radians();
        let s = delta.sin() / max_abs_lat.cos();
        if wraps || delta >= std::f64::consts::FRAC_PI_2 || s.is_nan() || s >= 1.0 {
            return full;
        }
        let dlon = s.asin().to_degrees();
        let (min_lon, max_lon) = (lon_lo - dlon - BOX_SLACK_DEG, lon_hi + dlon + BOX_SLACK_DEG);
        if min_lon < -180.0 || max_lon > 180.0 {
            return full;
        }
        BBox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        }
    }
}

fn unit_vector(c: Coord) -> [f64; 3] {
    let (lat, lon) = (c.y.to_radians(), c.x.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The box of every point within `width_m` of the great-circle arc from `a` to `b`. An arc bulges
/// poleward beyond its end points (a 100 km segment at 60° by some 300 m), so the latitude range
/// includes the arc's northern- or southernmost point when that lies between the ends.
fn segment_box(a: Coord, b: Coord, width_m: f64) -> BBox {
    let mut lat_lo = a.y.min(b.y);
    let mut lat_hi = a.y.max(b.y);
    let (va, vb) = (unit_vector(a), unit_vector(b));
    let n = cross(va, vb);
    let n_len = dot(n, n).sqrt();
    // Nearly antipodal ends do not define one arc: cover the globe rather than guess.
    let mut wraps = (b.x - a.x).abs() > 180.0 || (n_len < 1e-12 && a != b);
    if n_len >= 1e-12 {
        let nz = n[2] / n_len;
        let top = [-nz * n[0] / n_len, -nz * n[1] / n_len, 1.0 - nz * nz];
        let top_len = dot(top, top).sqrt();
        if top_len > 1e-15 {
            for sign in [1.0, -1.0] {
                let c = [
                    sign * top[0] / top_len,
                    sign * top[1] / top_len,
                    sign * top[2] / top_len,
                ];
                if dot(cross(va, c), n) >= 0.0 && dot(cross(c, vb), n) >= 0.0 {
                    let lat = c[2].clamp(-1.0, 1.0).asin().to_degrees();
                    lat_lo = lat_lo.min(lat);
                    lat_hi = lat_hi.max(lat);
                }
            }
        }
    }
    // An arc over a pole takes every longitude.
    if lat_hi >= 90.0 - 1e-9 || lat_lo <= -90.0 + 1e-9 {
        wraps = true;
    }
    BBox::around(lat_lo, lat_hi, a.x.min(b.x), a.x.max(b.x), width_m, wraps)
}

#[derive(Debug, Clone)]
enum Shape {
    Circle {
        center: Coord,
        radius_m: f64,
    },
    Polygon(Polygon<f64>),
    Corridor {
        line: LineString<f64>,
        width_m: f64,
        /// Box of each segment (expanded by the width), to skip far segments cheaply.
        segments: Vec<BBox>,
    },
}

/// A validated geofence, ready for point queries.
#[derive(Debug, Clone)]
pub struct Fence {
    pub id: String,
    pub(crate) name: String,
    pub speed_limit_kmh: Option<f64>,
    pub(crate) dwell_s: u32,
    imeis: HashSet<String>,
    groups: HashSet<String>,
    shape: Shape,
    bbox: BBox,
}

/// Checks a geofence as the Fleet API accepts it (see [`GeofenceError`] for the rules).
pub(crate) fn validate(g: &pb::Geofence) -> Result<(), GeofenceError> {
    Fence::compile(g).map(|_| ())
}

impl Fence {
    /// Validates `g` and prepares it for queries.
    pub(crate) fn compile(g: &pb::Geofence) -> Result<Fence, GeofenceError> {
        validate_id(&g.id)?;
        let shape = match &g.shape {
            None => return Err(GeofenceError::MissingShape),
            Some(PbShape::Circle(c)) => circle(c)?,
            Some(PbShape::Polygon(p)) => polygon(p)?,
            Some(PbShape::Corridor(c)) => corridor(c)?,
        };
        if let Some(limit) = g.speed_limit_kmh
            && !(limit.is_finite() && limit >= 0.0)
        {
            return Err(GeofenceError::SpeedLimit(limit));
        }
        if g.dwell_s > MAX_DWELL_S {
            return Err(GeofenceError::Dwell(g.dwell_s));
        }
        for (index, imei) in g.imeis.iter().enumerate() {
            if !luhn_ok(imei) {
                return Err(GeofenceError::Imei {
                    index,
                    imei: imei.clone(),
                });
            }
        }
        if let Some(index) = g.groups.iter().position(|grp| grp.trim().is_empty()) {
            return Err(GeofenceError::EmptyGroup(index));
        }
        let bbox = shape.bbox();
        Ok(Fence {
            id: g.id.clone(),
            name: g.name.clone(),
            speed_limit_kmh: g.speed_limit_kmh,
            dwell_s: g.dwell_s,
            imeis: g.imeis.iter().cloned().collect(),
            groups: g.groups.iter().cloned().collect(),
            shape,
            bbox,
        })
    }

    /// Whether the fix lies inside: within the radius of a circle, inside a polygon and outside
    /// its holes (a point on any boundary counts as inside), or within the width of a corridor's
    /// polyline. A non-finite position is never inside.
    pub(crate) fn contains(&self, lat: f64, lon: f64) -> bool {
        let p = Coord { x: lon, y: lat };
        if !(lat.is_finite() && lon.is_finite() && self.bbox.contains(p)) {
            return false;
        }
        match &self.shape {
            Shape::Circle { center, radius_m } => haversine_m(*center, p) <= *radius_m,
            Shape::Polygon(poly) => poly.intersects(&p),
            Shape::Corridor {
                line,
                width_m,
                segments,
            } => line.lines().zip(segments).any(|(seg, bbox)| {
                bbox.contains(p) && segment_distance_m(p, seg.start, seg.end) <= *width_m
            }),
        }
    }

    /// Whether the fence applies to a device: no IMEIs and no groups means every device;
    /// otherwise the device's IMEI is listed or it belongs to a listed group.
    pub(crate) fn applies_to(&self, imei: &str, groups: &[String]) -> bool {
        (self.imeis.is_empty() && self.groups.is_empty())
            || self.imeis.contains(imei)
            || groups.iter().any(|g| self.groups.contains(g))
    }

    /// "circle", "polygon" or "corridor", for logs and metrics.
    pub(crate) fn kind(&self) -> &'static str {
        match self.shape {
            Shape::Circle { .. } => "circle",
            Shape::Polygon(_) => "polygon",
            Shape::Corridor { .. } => "corridor",
        }
    }

    pub(crate) fn bbox(&self) -> BBox {
        self.bbox
    }
}

impl Shape {
    fn bbox(&self) -> BBox {
        match self {
            Shape::Circle { center, radius_m } => {
                BBox::around(center.y, center.y, center.x, center.x, *radius_m, false)
            }
            Shape::Polygon(poly) => {
                let mut b = BBox {
                    min_lon: f64::INFINITY,
                    min_lat: f64::INFINITY,
                    max_lon: f64::NEG_INFINITY,
                    max_lat: f64::NEG_INFINITY,
                };
                for c in &poly.exterior().0 {
                    b.min_lon = b.min_lon.min(c.x);
                    b.max_lon = b.max_lon.max(c.x);
                    b.min_lat = b.min_lat.min(c.y);
                    b.max_lat = b.max_lat.max(c.y);
                }
                BBox {
                    min_lon: b.min_lon - BOX_SLACK_DEG,
                    min_lat: b.min_lat - BOX_SLACK_DEG,
                    max_lon: b.max_lon + BOX_SLACK_DEG,
                    max_lat: b.max_lat + BOX_SLACK_DEG,
                }
            }
            Shape::Corridor { segments, .. } => segments
                .iter()
                .copied()
                .reduce(BBox::union)
                // compile() guarantees at least one segment; an empty box matches nothing.
                .unwrap_or(BBox {
                    min_lon: 0.0,
                    min_lat: 0.0,
                    max_lon: -1.0,
                    max_lat: -1.0,
                }),
        }
    }
}

/// Checks a geofence id on its own (it is the KV key): for requests that carry only an id.
pub(crate) fn validate_id(id: &str) -> Result<(), GeofenceError> {
    if id.is_empty() {
        return Err(GeofenceError::EmptyId);
    }
    let chars_ok = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=' | b'.'));
    // The id is the KV key, i.e. a subject token sequence: no empty tokens.
    if id.len() > MAX_ID_LEN
        || !chars_ok
        || id.starts_with('.')
        || id.ends_with('.')
        || id.contains("..")
    {
        return Err(GeofenceError::InvalidId(id.to_owned()));
    }
    Ok(())
}

fn point(at: impl FnOnce() -> String, ll: &pb::LatLon) -> Result<Coord, GeofenceError> {
    if !(ll.latitude.is_finite() && (-90.0..=90.0).contains(&ll.latitude)) {
        return Err(GeofenceError::Latitude {
            at: at(),
            value: ll.latitude,
        });
    }
    if !(ll.longitude.is_finite() && (-180.0..=180.0).contains(&ll.longitude)) {
        return Err(GeofenceError::Longitude {
            at: at(),
            value: ll.longitude,
        });
    }
    // + 0.0 turns -0.0 into 0.0, so equal points compare and hash equal.
    Ok(Coord {
        x: ll.longitude + 0.0,
        y: ll.latitude + 0.0,
    })
}

fn circle(c: &pb::Circle) -> Result<Shape, GeofenceError> {
    let center = c.center.as_ref().ok_or(GeofenceError::MissingCenter)?;
    let center = point(|| "circle center".to_owned(), center)?;
    if !(c.radius_m.is_finite() && c.radius_m > 0.0) {
        return Err(GeofenceError::Radius(c.radius_m));
    }
    Ok(Shape::Circle {
        center,
        radius_m: c.radius_m,
    })
}

fn dedup(coords: &mut Vec<Coord>) {
    coords.dedup_by(|a, b| a == b);
}

/// Checks one ring and returns it closed, without repeated consecutive points.
fn ring(role: RingRole, points: &[pb::LatLon]) -> Result<LineString<f64>, GeofenceError> {
    let mut coords = points
        .iter()
        .enumerate()
        .map(|(i, ll)| point(|| format!("{role} point {i}"), ll))
        .collect::<Result<Vec<_>, _>>()?;
    let (Some(first), Some(last)) = (coords.first(), coords.last()) else {
        return Err(GeofenceError::TooFewPoints(role));
    };
    if first != last {
        return Err(GeofenceError::RingNotClosed(role));
    }
    dedup(&mut coords);
    // Vertices without the closing repeat of the first.
    let open = coords.split_last().map_or(&[][..], |(_, rest)| rest);
    if open.len() < 3 {
        return Err(GeofenceError::TooFewPoints(role));
    }
    // A ring that visits a vertex twice touches itself, which geo's segment test lets through
    // when the touching segments share that end point.
    let mut seen = HashSet::with_capacity(open.len());
    if !open
        .iter()
        .all(|c| seen.insert((c.x.to_bits(), c.y.to_bits())))
    {
        return Err(GeofenceError::SelfIntersection(role));
    }
    // A spike (the ring doubling back along itself) is a self-intersection that geo's test
    // also skips, because the overlapping segments are neighbours.
    let around: Vec<Coord> = open
        .last()
        .into_iter()
        .chain(open)
        .chain(open.first())
        .copied()
        .collect();
    for w in around.windows(3) {
        let &[prev, cur, next] = w else { continue };
        let (d1, d2) = (cur - prev, next - cur);
        let turn = d1.x * d2.y - d1.y * d2.x;
        if turn == 0.0 && d1.x * d2.x + d1.y * d2.y < 0.0 {
            return Err(GeofenceError::SelfIntersection(role));
        }
    }
    Ok(LineString::new(coords))
}

fn role_of(r: GeoRingRole) -> RingRole {
    match r {
        GeoRingRole::Exterior => RingRole::Outer,
        GeoRingRole::Interior(i) => RingRole::Hole(i),
    }
}

fn polygon(p: &pb::Polygon) -> Result<Shape, GeofenceError> {
    let outer = p.outer.as_ref().ok_or(GeofenceError::MissingOuter)?;
    let count = outer.points.len() + p.holes.iter().map(|h| h.points.len()).sum::<usize>();
    if count > MAX_POINTS {
        return Err(GeofenceError::TooManyPoints {
            what: "polygon",
            count,
        });
    }
    let exterior = ring(RingRole::Outer, &outer.points)?;
    let holes = p
        .holes
        .iter()
        .enumerate()
        .map(|(i, h)| ring(RingRole::Hole(i), &h.points))
        .collect::<Result<Vec<_>, _>>()?;
    let poly = Polygon::new(exterior, holes);
    poly.check_validation().map_err(|e| match e {
        InvalidPolygon::TooFewPointsInRing(r) => GeofenceError::TooFewPoints(role_of(r)),
        InvalidPolygon::SelfIntersection(r) => GeofenceError::SelfIntersection(role_of(r)),
        InvalidPolygon::InteriorRingNotContainedInExteriorRing(r) => {
            GeofenceError::HoleOutside(role_of(r))
        }
        InvalidPolygon::IntersectingRingsOnALine(a, b)
        | InvalidPolygon::IntersectingRingsOnAnArea(a, b) => {
            GeofenceError::RingsIntersect(role_of(a), role_of(b))
        }
        other => GeofenceError::Polygon(other.to_string()),
    })?;
    // A bow-tie also has zero (signed) area, so this catch-all comes after geo's checks.
    let rings = std::iter::once((RingRole::Outer, poly.exterior())).chain(
        poly.interiors()
            .iter()
            .enumerate()
            .map(|(i, r)| (RingRole::Hole(i), r)),
    );
    for (role, r) in rings {
        if Polygon::new(r.clone(), Vec::new()).unsigned_area() == 0.0 {
            return Err(GeofenceError::NoArea(role));
        }
    }
    Ok(Shape::Polygon(poly))
}

fn corridor(c: &pb::Corridor) -> Result<Shape, GeofenceError> {
    if c.polyline.len() > MAX_POINTS {
        return Err(GeofenceError::TooManyPoints {
            what: "corridor",
            count: c.polyline.len(),
        });
    }
    let mut coords = c
        .polyline
        .iter()
        .enumerate()
        .map(|(i, ll)| point(|| format!("corridor point {i}"), ll))
        .collect::<Result<Vec<_>, _>>()?;
    dedup(&mut coords);
    if coords.len() < 2 {
        return Err(GeofenceError::CorridorTooShort(coords.len()));
    }
    if !(c.width_m.is_finite() && c.width_m > 0.0) {
        return Err(GeofenceError::Width(c.width_m));
    }
    let line = LineString::new(coords);
    let segments = line
        .lines()
        .map(|seg| segment_box(seg.start, seg.end, c.width_m))
        .collect();
    Ok(Shape::Corridor {
        line,
        width_m: c.width_m,
        segments,
    })
}
