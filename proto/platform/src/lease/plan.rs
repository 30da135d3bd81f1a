//! The pure part of the lease loop: given the live members and the current holders, what this
//! worker does with each partition this round. Who should own a partition is rendezvous
//! hashing over the live members: every worker computes the same answer, claims the free
//! partitions that fall to it and hands back those that fall to a newcomer.

use crate::partition::fnv1a_64;
use std::collections::{BTreeMap, BTreeSet};

/// What the lease loop does for one partition this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Free and ours by rendezvous: claim it.
    Acquire(u32),
    /// Ours: renew at this revision.
    Renew(u32, u64),
    /// Ours, but now another live member's: stop it, then delete at this revision.
    Release(u32, u64),
    /// Running here but the lease is gone or someone else's: stop at once.
    Lost(u32),
}

/// The current holder of a lease and the revision it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub worker: String,
    pub revision: u64,
}

pub fn lease_key(partition: u32) -> String {
    format!("p.{partition}")
}

pub fn member_key(worker: &str) -> String {
    format!("m.{worker}")
}

/// The live member that should own `partition`.
pub fn owner_of(partition: u32, members: &BTreeSet<String>) -> Option<&str> {
    members
        .iter()
        .max_by_key(|m| score(partition, m))
        .map(String::as_str)
}

fn score(partition: u32, member: &str) -> u64 {
    // FNV-1a 64 of "<partition>/<member>", then a finaliser so near-identical names spread out.
    let mut h = fnv1a_64(format!("{partition}/{member}").as_bytes());
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// One round of the lease loop.
pub fn plan(
    me: &str,
    partitions: u32,
    members: &BTreeSet<String>,
    holders: &BTreeMap<u32, Holder>,
    running: &BTreeSet<u32>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for p in 0..partitions {
        let desired = owner_of(p, members).unwrap_or(me);
        match holders.get(&p) {
            Some(h) if h.worker == me => {
                if desired != me {
                    actions.push(Action::Release(p, h.revision));
                } else {
                    actions.push(Action::Renew(p, h.revision));
                }
            }
            Some(_) => {
                if running.contains(&p) {
                    actions.push(Action::Lost(p));
                }
            }
            None => {
                if running.contains(&p) {
                    actions.push(Action::Lost(p));
                } else if desired == me {
                    actions.push(Action::Acquire(p));
                }
            }
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn held(by: &str, parts: impl Iterator<Item = u32>) -> BTreeMap<u32, Holder> {
        parts
            .map(|p| {
                (
                    p,
                    Holder {
                        worker: by.into(),
                        revision: u64::from(p) + 1,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_lone_worker_claims_everything() {
        let actions = plan("a", 4, &members(&["a"]), &BTreeMap::new(), &BTreeSet::new());
        assert_eq!(
            actions,
            [
                Action::Acquire(0),
                Action::Acquire(1),
                Action::Acquire(2),
                Action::Acquire(3)
            ]
        );
    }

    #[test]
    fn a_newcomer_gets_its_share_handed_over() {
        let all = members(&["a", "b"]);
        let holders = held("a", 0..64);
        let running: BTreeSet<u32> = (0..64).collect();
        let actions = plan("a", 64, &all, &holders, &running);
        let released: Vec<u32> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Release(p, _) => Some(*p),
                _ => None,
            })
            .collect();
        let for_b: Vec<u32> = (0..64)
            .filter(|p| owner_of(*p, &all) == Some("b"))
            .collect();
        assert_eq!(released, for_b);
        // Rendezvous spreads 64 partitions roughly evenly over two workers.
        assert!((20..=44).contains(&released.len()), "{}", released.len());
        // b claims nothing while a still holds the leases, and claims them once they are free.
        assert!(plan("b", 64, &all, &holders, &BTreeSet::new()).is_empty());
        let left = held("a", (0..64).filter(|p| !for_b.contains(p)));
        let claimed = plan("b", 64, &all, &left, &BTreeSet::new());
        assert_eq!(
            claimed,
            for_b
                .iter()
                .map(|p| Action::Acquire(*p))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_partition_whose_lease_went_elsewhere_is_lost() {
        let holders = held("b", 0..1);
        let running: BTreeSet<u32> = [0, 1].into();
        let actions = plan("a", 2, &members(&["a"]), &holders, &running);
        assert_eq!(actions, [Action::Lost(0), Action::Lost(1)]);
    }

    #[test]
    fn scores_are_stable() {
        // Every worker must compute the same owners, across releases too: a changed score would
        // move partitions on a rolling upgrade. Values of the FNV-1a 64 + finaliser score.
        assert_eq!(score(0, "a"), 0xd7b4_13a4_5e05_ea41);
        assert_eq!(score(7, "event-worker-1"), 0xd13a_2b64_e7dd_3865);
    }
}
