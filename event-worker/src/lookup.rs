//! The live geofence index as the rules see it.

use crate::geofence::{Fence, GeofenceIndex};
use crate::rules::{FenceHit, FenceLookup};

fn hit(f: &Fence) -> FenceHit {
    FenceHit {
        id: f.id.clone(),
        name: f.name.clone(),
        speed_limit_kmh: f.speed_limit_kmh,
        dwell_s: f.dwell_s,
    }
}

impl FenceLookup for GeofenceIndex {
    fn containing(&self, lat: f64, lon: f64, imei: &str, groups: &[String]) -> Vec<FenceHit> {
        GeofenceIndex::containing(self, lat, lon, imei, groups)
            .into_iter()
            .map(hit)
            .collect()
    }

    fn fence(&self, id: &str) -> Option<FenceHit> {
        self.get(id).map(hit)
    }
}
