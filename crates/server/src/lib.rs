//! The Shoal node: listeners, connections, dispatch, configuration, INFO.
//!
//! # Layout
//! - `config`: parameters with redis.conf names, file and flag parsing, `CONFIG GET/SET` rules.
//! - `node`: the shared [`node::Node`] state, listeners, background tasks, shutdown.
//! - `conn`: one client connection: decode, batch, dispatch, reply.
//! - `shard`: the keyspace behind its write path.
//! - `commands`: commands the node runs itself (connection, client, server introspection).
//! - `clients`, `slowlog`, `expire`: client registry, slow log, active expiry.

pub mod clients;
pub mod commands;
pub mod config;
pub mod conn;
pub mod expire;
pub mod node;
pub mod shard;
pub mod slowlog;
