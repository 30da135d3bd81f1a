//! The partition of a device: FNV-1a (32 bit) of its IMEI modulo the partition count. This is
//! the hash of NATS' `partition(n, 1)` subject-transform function, which routes the work stream
//! (see `work.rs`); computing it here as well lets tools and tests name a device's partition.

/// Partition of `imei` among `count` partitions (`count` ≥ 1).
pub fn partition_of(imei: &str, count: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in imei.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % count.max(1)
}

#[cfg(test)]
mod tests {
    use super::partition_of;

    #[test]
    fn fnv1a_reference_values() {
        // FNV-1a 32 of "a" is 0xe40c292c, of "foobar" 0xbf9cf968 (the FNV reference vectors).
        assert_eq!(partition_of("a", u32::MAX), 0xe40c_292c);
        assert_eq!(partition_of("foobar", u32::MAX), 0xbf9c_f968);
        assert_eq!(partition_of("356938035643809", 64), 3);
        assert_eq!(partition_of("862950025797534", 64), 63);
        // A zero count is treated as one rather than dividing by zero.
        assert_eq!(partition_of("862950025797534", 0), 0);
    }
}
