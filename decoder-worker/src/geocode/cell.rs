//! The grid cells addresses are cached by: latitude in bands of `cell_m` metres, each band cut
//! into columns `cell_m` metres wide at its middle latitude (a degree of longitude shrinks with
//! cos(latitude)), with a whole number of columns around the globe so cells never straddle the
//! antimeridian. Every position inside a cell gets the address of the cell's centre: a moving
//! vehicle hits the cache at every fix within `cell_m` of an earlier one, where caching by exact
//! coordinates would almost never hit.

/// Metres per degree of latitude (and of longitude at the equator), mean Earth radius.
const M_PER_DEGREE: f64 = 111_195.0;

/// One grid cell: its indices and centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub row: i64,
    pub col: i64,
    pub lat: f64,
    pub lon: f64,
}

impl Cell {
    /// The cell of (`lat`, `lon`) for cells of `cell_m` metres; `None` for coordinates off the
    /// globe or a non-positive size.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    pub fn of(lat: f64, lon: f64, cell_m: f64) -> Option<Self> {
        let on_globe = (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon);
        if !(on_globe && cell_m.is_finite() && cell_m > 0.0) {
            return None;
        }
        let dlat = cell_m / M_PER_DEGREE;
        let rows = (180.0 / dlat).ceil() as i64;
        let row = (((lat + 90.0) / dlat).floor() as i64).min(rows - 1);
        let centre_lat = (-90.0 + (row as f64 + 0.5) * dlat).min(90.0);
        let width = M_PER_DEGREE * centre_lat.to_radians().cos();
        // Columns of at least cell_m, a whole number of them around the parallel.
        let cols = ((360.0 * width / cell_m).floor() as i64).max(1);
        let dlon = 360.0 / cols as f64;
        let col = (((lon + 180.0) / dlon).floor() as i64).rem_euclid(cols);
        Some(Self {
            row,
            col,
            lat: centre_lat,
            lon: -180.0 + (col as f64 + 0.5) * dlon,
        })
    }

    /// Cache key: `<provider tag>.<cell size>.<row>.<col>` (valid as a NATS KV key).
    pub fn key(&self, tag: &str, cell_m: f64) -> String {
        format!("{tag}.{cell_m}.{}.{}", self.row, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Great-circle distance in metres.
    fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
        let (la1, lo1, la2, lo2) = (
            a.0.to_radians(),
            a.1.to_radians(),
            b.0.to_radians(),
            b.1.to_radians(),
        );
        let h = ((la2 - la1) / 2.0).sin().powi(2)
            + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * 6_371_000.0 * h.sqrt().asin()
    }

    #[test]
    fn nearby_points_share_a_cell_and_the_centre_is_inside() {
        let a = Cell::of(51.063_20, -1.308_00, 50.0).unwrap();
        let b = Cell::of(51.063_21, -1.308_01, 50.0).unwrap();
        assert_eq!(a, b);
        assert!(distance((51.0632, -1.308), (a.lat, a.lon)) < 50.0);
        assert_eq!(
            a.key("nominatim", 50.0),
            format!("nominatim.50.{}.{}", a.row, a.col)
        );
    }

    #[test]
    fn cells_are_about_cell_m_wide_at_any_latitude() {
        for lat in [0.0, 45.0, 51.06, 70.0, -33.9] {
            let c = Cell::of(lat, 10.0, 50.0).unwrap();
            // Step east until the column changes: at least 50 m, less than 100 m.
            let mut lon = 10.0;
            while Cell::of(lat, lon, 50.0).unwrap().col == c.col {
                lon += 0.000_01;
            }
            let east = Cell::of(lat, lon, 50.0).unwrap();
            let step = distance((east.lat, east.lon), (c.lat, c.lon));
            assert!((49.0..101.0).contains(&step), "{lat}: {step}");
            // Rows are 50 m apart.
            let north = Cell::of(c.lat + 50.0 / M_PER_DEGREE, c.lon, 50.0).unwrap();
            assert_eq!(north.row, c.row + 1);
        }
    }

    #[test]
    fn edges_of_the_globe() {
        assert!(Cell::of(90.0, 0.0, 50.0).is_some());
        assert!(Cell::of(-90.0, -180.0, 50.0).is_some());
        let east = Cell::of(10.0, 180.0, 50.0).unwrap();
        let west = Cell::of(10.0, -180.0, 50.0).unwrap();
        assert_eq!(east.col, west.col, "the antimeridian is one column");
        assert_eq!(Cell::of(91.0, 0.0, 50.0), None);
        assert_eq!(Cell::of(f64::NAN, 0.0, 50.0), None);
        assert_eq!(Cell::of(0.0, 0.0, 0.0), None);
    }
}
