//! One module per protocol variant (as Traccar lays out its decoders), plus what they share.

pub mod c;
pub mod common;
pub mod k;
pub mod legacy;
pub mod m;
pub mod modules;
pub mod v;
pub mod x;
pub mod z;
