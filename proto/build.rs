//! Compiles `proto/astra/v1/*.proto` with protox (pure Rust, so no system `protoc` is needed),
//! then generates prost types, tonic stubs and pbjson serde impls from one descriptor set.

use prost::Message;
use prost_types::FileDescriptorSet;
use prost_types::field_descriptor_proto::{Label, Type};
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

/// Position's X-module sub-messages start at this field number (the address and later fields
/// are just as rare).
const FIRST_RARE_FIELD: i32 = 50;

/// The singular message fields of `astra.v1.Position` from [`FIRST_RARE_FIELD`] on: present
/// only when a device sends that X module (or geocoding found an address).
fn rare_position_fields(fds: &FileDescriptorSet) -> Vec<String> {
    fds.file
        .iter()
        .filter(|f| f.package() == "astra.v1")
        .flat_map(|f| &f.message_type)
        .filter(|m| m.name() == "Position")
        .flat_map(|m| &m.field)
        .filter(|f| {
            f.number() >= FIRST_RARE_FIELD
                && f.r#type() == Type::Message
                && f.label() != Label::Repeated
        })
        .map(|f| f.name().to_owned())
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(FILES, ["proto"])?;
    let boxed = rare_position_fields(&fds);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out.join("astra_descriptor.bin");
    std::fs::write(&descriptor_path, fds.encode_to_vec())?;

    // Timestamp is our own type (src/timestamp.rs) so its JSON is canonical.
    // The gRPC stubs only with the `grpc` feature (the messages alone need no runtime).
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    let mut config = tonic_prost_build::configure()
        .build_client(grpc)
        .build_server(grpc);
    // prost keeps optional sub-messages inline: with ~30 rarely present X-module messages a
    // Position was 2.9 KB and decoding spent a third of its time moving it. Boxed, they cost a
    // pointer when absent; the wire format and JSON are unchanged.
    for field in &boxed {
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
