//! The process's descriptor limit: every device connection holds one, so the gateway raises
//! its soft RLIMIT_NOFILE to the hard limit at start and says when `--max-connections` would
//! run into it (the clean `total_limit` refusal must come before `accept()` fails with EMFILE).

/// Descriptors kept for everything that is not a device socket (NATS, gRPC, metrics, files).
pub(crate) const RESERVED: u64 = 256;

/// Raises the soft descriptor limit to the hard limit; returns the soft limit now in force.
pub(crate) fn raise_to_hard() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = limit.rlim_max;
        }
    }
    Ok(limit.rlim_cur)
}

/// How many device connections a soft limit of `nofile` descriptors leaves room for.
pub(crate) fn connection_room(nofile: u64) -> u64 {
    nofile.saturating_sub(RESERVED)
}

/// Whether an accept error means the process or the system is out of a resource (descriptors,
/// buffers, memory): retrying at once would spin, so the listener pauses instead.
pub(crate) fn is_exhaustion(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_leaves_the_reserve() {
        assert_eq!(connection_room(20_000), 19_744);
        assert_eq!(connection_room(100), 0);
    }

    #[test]
    fn exhaustion_is_recognised_by_errno() {
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let enfile = std::io::Error::from_raw_os_error(libc::ENFILE);
        let reset = std::io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert!(is_exhaustion(&emfile));
        assert!(is_exhaustion(&enfile));
        assert!(!is_exhaustion(&reset));
    }

    #[test]
    fn raising_keeps_the_soft_limit_at_the_hard_one() {
        let soft = raise_to_hard().unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes only the struct passed.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        assert_eq!(soft, limit.rlim_cur);
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }
}
