//! Compiles the workspace's proto/raft.proto with a pure-Rust protobuf compiler (no system protoc).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["../../proto/raft.proto"];
    let fds = protox::compile(protos, ["../../proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    Ok(())
}
