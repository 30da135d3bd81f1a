//! The set of live geofences with an R-tree over their bounding boxes, so that a fix is tested
//! exactly only against the few fences whose box holds it, however many fences there are.

use super::shape::Fence;
use rstar::{AABB, RTree, RTreeObject};
use std::collections::HashMap;

/// What the R-tree stores: the id and box of one fence (the fence itself lives in the map).
#[derive(Debug, Clone, PartialEq)]
struct Slot {
    id: String,
    envelope: AABB<[f64; 2]>,
}

impl RTreeObject for Slot {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

impl Slot {
    fn of(fence: &Fence) -> Slot {
        let b = fence.bbox();
        Slot {
            id: fence.id.clone(),
            envelope: AABB::from_corners([b.min_lon, b.min_lat], [b.max_lon, b.max_lat]),
        }
    }
}

#[derive(Debug, Default)]
pub struct GeofenceIndex {
    fences: HashMap<String, Fence>,
    tree: RTree<Slot>,
}

impl GeofenceIndex {
    /// Builds an index in one go (bulk loading packs the tree better than inserting one by one).
    /// Of two fences with the same id, the later wins.
    pub(crate) fn from_fences(fences: impl IntoIterator<Item = Fence>) -> Self {
        let fences: HashMap<String, Fence> =
            fences.into_iter().map(|f| (f.id.clone(), f)).collect();
        let tree = RTree::bulk_load(fences.values().map(Slot::of).collect());
        Self { fences, tree }
    }

    /// Adds or replaces the fence with `fence.id`; returns the one it replaced.
    pub(crate) fn upsert(&mut self, fence: Fence) -> Option<Fence> {
        let slot = Slot::of(&fence);
        let old = self.fences.insert(fence.id.clone(), fence);
        if let Some(old) = &old {
            self.tree.remove(&Slot::of(old));
        }
        self.tree.insert(slot);
        old
    }

    /// Removes the fence `id`; false if there was none.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        match self.fences.remove(id) {
            Some(old) => {
                self.tree.remove(&Slot::of(&old));
                true
            }
            None => false,
        }
    }

    pub fn get(&self, id: &str) -> Option<&Fence> {
        self.fences.get(id)
    }

    pub fn len(&self) -> usize {
        self.fences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fences.is_empty()
    }

    /// Every fence, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Fence> {
        self.fences.values()
    }

    /// The fences that apply to the device and contain the fix, sorted by id so that callers
    /// (events, `inside_geofences` in the state) see a deterministic order.
    pub fn containing(&self, lat: f64, lon: f64, imei: &str, groups: &[String]) -> Vec<&Fence> {
        if !(lat.is_finite() && lon.is_finite()) {
            return Vec::new();
        }
        let at = AABB::from_point([lon, lat]);
        let mut found: Vec<&Fence> = self
            .tree
            .locate_in_envelope_intersecting(&at)
            .filter_map(|slot| self.fences.get(&slot.id))
            .filter(|f| f.applies_to(imei, groups) && f.contains(lat, lon))
            .collect();
        found.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        found
    }
}
