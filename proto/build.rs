//! Compiles `proto/astra/v1/*.proto` with protox (pure Rust, so no system `protoc` is needed),
//! then generates prost types, tonic stubs and pbjson serde impls from one descriptor set.

use prost::Message;
use std::path::PathBuf;

const FILES: &[&str] = &[
    "proto/astra/v1/raw.proto",
    "proto/astra/v1/position.proto",
    "proto/astra/v1/session.proto",
    "proto/astra/v1/event.proto",
    "proto/astra/v1/fleet.proto",
    "proto/astra/v1/commands.proto",
    "proto/astra/v1/decoder.proto",
];

/// Position fields present only when a device sends the X module (or geocoding found an
/// address).
const BOXED: &[&str] = &[
    "vehicle_can",
    "trailer_id",
    "alcohol_test",
    "fms_in_journey",
    "obd_in_journey",
    "fms_journey_stop",
    "obd_journey_stop",
    "carrier_temperatures",
    "carrier_alarms",
    "rayvolt",
    "gritter",
    "redforge_weight",
    "sim_imsi",
    "fms_driver_ids",
    "fms_in_journey_high_res",
    "fms_driver_working_states",
    "segway_ninebot",
    "ecooter",
    "torrot_muvi",
    "ecooter_serials",
    "torrot_muvi_battery",
    "battery_statistics",
    "stars_acim",
    "gnss_extended",
    "beacons",
    "generic_can",
    "heinzmann",
    "debug",
    "address",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(FILES, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("astra_descriptor.bin");
    std::fs::write(&descriptor_path, fds.encode_to_vec())?;

    // Timestamp is our own type (src/timestamp.rs) so its JSON is canonical.
    let mut config = tonic_prost_build::configure();
    // prost keeps optional sub-messages inline: with ~30 rarely present X-module messages a
    // Position was 2.9 KB and decoding spent a third of its time moving it. Boxed, they cost a
    // pointer when absent; the wire format and JSON are unchanged.
    for field in BOXED {
        config = config.boxed(format!(".astra.v1.Position.{field}"));
    }
    config
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_well_known_types(true)
        .extern_path(".google.protobuf.Timestamp", "crate::Timestamp")
        .compile_fds(fds)?;

    let descriptors = std::fs::read(&descriptor_path)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors)?
        .build(&[".astra"])?;
    Ok(())
}
