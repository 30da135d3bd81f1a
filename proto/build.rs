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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(FILES, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("astra_descriptor.bin");
    std::fs::write(&descriptor_path, fds.encode_to_vec())?;

    // Timestamp is our own type (src/timestamp.rs) so its JSON is canonical.
    tonic_prost_build::configure()
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
