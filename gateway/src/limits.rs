//! Connection limits: at most N simultaneous TCP connections per source IP and M in total. A
//! [`ConnectionPermit`] is taken when a connection is accepted and given back when its session
//! ends.

use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LimitError {
    #[error("{0} connections from this IP already")]
    PerIp(usize),
    #[error("{0} connections in total already")]
    Total(usize),
}

impl LimitError {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::PerIp(_) => "per_ip_limit",
            Self::Total(_) => "total_limit",
        }
    }
}

/// Counts open connections; 0 means unlimited.
pub(crate) struct ConnectionLimits {
    per_ip: usize,
    total: usize,
    open: AtomicUsize,
    by_ip: DashMap<IpAddr, usize>,
}

/// Proof that a connection was admitted; releases its slot when dropped.
pub(crate) struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    pub(crate) fn new(per_ip: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_ip,
            total,
            open: AtomicUsize::new(0),
            by_ip: DashMap::new(),
        })
    }

    pub(crate) fn try_admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionPermit, LimitError> {
        let open = self.open.fetch_add(1, Ordering::AcqRel);
        if self.total > 0 && open >= self.total {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(LimitError::Total(self.total));
        }
        let mut count = self.by_ip.entry(ip).or_insert(0);
        if self.per_ip > 0 && *count >= self.per_ip {
            drop(count);
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(LimitError::PerIp(self.per_ip));
        }
        *count += 1;
        Ok(ConnectionPermit {
            limits: Arc::clone(self),
            ip,
        })
    }

    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.limits.by_ip.remove_if_mut(&self.ip, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
        self.limits.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_total() {
        let limits = ConnectionLimits::new(2, 3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let p1 = limits.try_admit(a).unwrap();
        let _p2 = limits.try_admit(a).unwrap();
        assert_eq!(limits.try_admit(a).err(), Some(LimitError::PerIp(2)));
        let _p3 = limits.try_admit(b).unwrap();
        assert_eq!(limits.try_admit(b).err(), Some(LimitError::Total(3)));
        drop(p1);
        assert!(limits.try_admit(a).is_ok());
        assert_eq!(limits.open(), 2);
    }
}
