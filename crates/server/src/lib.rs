//! The Shoal node: listeners, connections, dispatch, configuration, INFO.
//!
//! # Layout
//! - `config`: parameters with redis.conf names, file and flag parsing, `CONFIG GET/SET` rules.
//! - `node`: the shared [`node::Node`] state, listeners, background tasks, shutdown.
//! - `conn`: one client connection: decode, batch, dispatch, reply.
//! - `shard`: the keyspace behind its write path.
//! - `commands`: commands the node runs itself (connection, client, server introspection).
//! - `blocking`: clients blocked on keys (BLPOP, ...) and the task that serves them.
//! - `multi`: transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH).
//! - `clients`, `slowlog`, `expire`: client registry, slow log, active expiry.
//! - `alloc`, `metrics`: the counting allocator behind `used_memory`, and the other measurements `INFO` shows.

pub mod alloc;
pub mod blocking;
pub mod clients;
pub mod commands;
pub mod config;
pub mod conn;
pub mod expire;
pub mod logging;
pub mod metrics;
pub mod multi;
pub mod node;
pub mod replication;
pub mod shard;
pub mod slowlog;
