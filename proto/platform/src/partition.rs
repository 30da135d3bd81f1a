//! The partition of a device: FNV-1a (32 bit) of its IMEI modulo the partition count. This is
//! the hash of NATS' `partition(n, token)` subject-transform function, which routes the
//! partitioned streams; computing it here as well lets services, tools and tests name a
//! device's partition. The 64-bit variant scores rendezvous hashing (leases).

/// FNV-1a, 32 bit.
pub fn fnv1a_32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// FNV-1a, 64 bit.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Partition of `imei` among `count` partitions (a zero count counts as one).
pub fn partition_of(imei: &str, count: u32) -> u32 {
    fnv1a_32(imei.as_bytes()) % count.max(1)
}

#[cfg(test)]
mod tests {
    use super::{fnv1a_32, fnv1a_64, partition_of};

    #[test]
    fn fnv1a_reference_values() {
        // The FNV reference vectors.
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(partition_of("a", u32::MAX), 0xe40c_292c);
        assert_eq!(partition_of("356938035643809", 64), 3);
        assert_eq!(partition_of("862950025797534", 64), 63);
        assert_eq!(partition_of("862950025797534", 0), 0);
    }
}
