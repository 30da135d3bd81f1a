//! How a frame is to be decoded: the X-module layout of the device's firmware generation. A
//! leaf module (it imports nothing of this crate), so `decode` and every protocol module can
//! take the options without importing each other.

use astra_proto::v1::ModuleLayout;

/// Which firmware generation's layout applies to X modules 9 and 44 (PROTOCOL.md §10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Layout {
    /// Module 9 = trailer ID (12 bytes), module 44 = CM2010 scooter (11 bytes): OXN V2.8,
    /// Traccar and the official TS parser before 2025-09; what deployed devices run.
    #[default]
    Legacy,
    /// Module 9 = driver alcohol test (8 bytes), module 44 = beacons (variable): firmware since
    /// 2025-09.
    Current,
}

impl Layout {
    /// The layout a gRPC request names; `None` when it leaves it unspecified.
    pub fn from_proto(l: ModuleLayout) -> Option<Self> {
        match l {
            ModuleLayout::Unspecified => None,
            ModuleLayout::Legacy => Some(Self::Legacy),
            ModuleLayout::Current => Some(Self::Current),
        }
    }
}

/// Options of [`crate::decode_frame`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    pub layout: Layout,
}
