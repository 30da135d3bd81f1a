//! The in-memory address cache of a replica: bounded, approximately least-recently-used. Two
//! generations: entries go into the young one; when it holds half the capacity it becomes the
//! old one (the previous old one is dropped). A hit in the old generation moves the entry back
//! to the young one, so cells in use survive and cells not seen for a while fall out.

use astra_proto::v1::Address;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct MemoryCache {
    half: usize,
    gens: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    young: HashMap<String, Address>,
    old: HashMap<String, Address>,
}

impl MemoryCache {
    /// A cache of at most `capacity` cells (0: caches nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            half: capacity / 2,
            gens: Mutex::new(Generations::default()),
        }
    }

    pub fn get(&self, key: &str) -> Option<Address> {
        let mut g = self
            .gens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(a) = g.young.get(key) {
            return Some(a.clone());
        }
        let (key, a) = g.old.remove_entry(key)?;
        self.put(&mut g, key, a.clone());
        Some(a)
    }

    pub fn insert(&self, key: String, address: Address) {
        let mut g = self
            .gens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.old.remove(&key);
        self.put(&mut g, key, address);
    }

    /// Cells held (both generations); only the tests need to know.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let g = self
            .gens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.young.len() + g.old.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn put(&self, g: &mut Generations, key: String, address: Address) {
        if self.half == 0 {
            return;
        }
        g.young.insert(key, address);
        if g.young.len() >= self.half {
            g.old = std::mem::take(&mut g.young);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: usize) -> Address {
        Address {
            formatted: n.to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn bounded_and_keeps_what_is_used() {
        let c = MemoryCache::new(10);
        for i in 0..100 {
            c.insert(format!("k{i}"), addr(i));
            // k0 is read all the time: it stays.
            assert_eq!(c.get("k0"), Some(addr(0)));
            assert!(c.len() <= 10, "{}", c.len());
        }
        assert_eq!(c.get("k99"), Some(addr(99)));
        assert_eq!(c.get("k50"), None);
        let none = MemoryCache::new(0);
        none.insert("a".into(), addr(1));
        assert_eq!(none.get("a"), None);
        assert!(none.is_empty());
    }
}
