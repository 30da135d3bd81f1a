//! Why a geofence is rejected: one variant per rule, each message naming the offending field so
//! an operator can fix the request without reading the code.

use std::fmt;

/// Largest number of points a fence may have over all its rings or its polyline. Validation
/// checks rings for self-intersection pairwise, so the cost grows with the square of this.
pub(crate) const MAX_POINTS: usize = 5_000;

/// Longest dwell time accepted, one week: longer is almost certainly a unit mistake.
pub(crate) const MAX_DWELL_S: u32 = 7 * 24 * 3600;

/// Which ring of a polygon an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RingRole {
    Outer,
    Hole(usize),
}

impl fmt::Display for RingRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingRole::Outer => write!(f, "outer ring"),
            RingRole::Hole(i) => write!(f, "hole {i}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum GeofenceError {
    #[error("geofence id is empty")]
    EmptyId,
    #[error(
        "geofence id {0:?} is invalid: use 1-128 characters from A-Z a-z 0-9 _ - = and dots \
         (not first, last or doubled)"
    )]
    InvalidId(String),
    #[error("geofence has no shape: set one of circle, polygon or corridor")]
    MissingShape,
    #[error("circle has no center")]
    MissingCenter,
    #[error("{at}: latitude {value} is not a finite number in -90..=90")]
    Latitude { at: String, value: f64 },
    #[error("{at}: longitude {value} is not a finite number in -180..=180")]
    Longitude { at: String, value: f64 },
    #[error("circle radius_m must be a finite number above 0, got {0}")]
    Radius(f64),
    #[error("polygon has no outer ring")]
    MissingOuter,
    #[error("{0} is not closed: its last point must repeat its first")]
    RingNotClosed(RingRole),
    #[error("{0} has fewer than 3 distinct points")]
    TooFewPoints(RingRole),
    #[error("{0} intersects itself")]
    SelfIntersection(RingRole),
    #[error("{0} encloses no area")]
    NoArea(RingRole),
    #[error("{0} is not inside the outer ring")]
    HoleOutside(RingRole),
    #[error("{0} and {1} cross or overlap")]
    RingsIntersect(RingRole, RingRole),
    #[error("invalid polygon: {0}")]
    Polygon(String),
    #[error("corridor polyline needs at least 2 distinct points, got {0}")]
    CorridorTooShort(usize),
    #[error("corridor width_m must be a finite number above 0, got {0}")]
    Width(f64),
    #[error("{what} has {count} points; at most {MAX_POINTS} are allowed")]
    TooManyPoints { what: &'static str, count: usize },
    #[error("speed_limit_kmh must be a finite number of at least 0, got {0}")]
    SpeedLimit(f64),
    #[error("dwell_s {0} exceeds the maximum of {MAX_DWELL_S} s")]
    Dwell(u32),
    #[error("imeis[{index}] {imei:?} is not an IMEI (15 digits with a valid Luhn check digit)")]
    Imei { index: usize, imei: String },
    #[error("groups[{0}] is empty")]
    EmptyGroup(usize),
}
