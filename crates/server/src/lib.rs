//! The Shoal node: listeners, connections, dispatch, configuration, INFO.
//!
//! # Layout
//! - `config`: parameters with redis.conf names, file and flag parsing, `CONFIG GET/SET` rules.
//! - `node`: the shared [`node::Node`] state, listeners, background tasks, shutdown.
//! - `conn`: one client connection: decode, batch, dispatch, reply.
//! - `routing`: the routing step of a connection (which shard, or which redirect).
//! - `shard`: the keyspace behind its write path.
//! - `cluster`: cluster mode: the shards a node hosts, the metadata group, gossip, the routing view.
//! - `migration`: online slot migration (resharding): the key-moving task, its internal commands.
//! - `commands`: commands the node runs itself (connection, client, server introspection).
//! - `pubsub`: the pub/sub registry and each subscriber's outbound message queue.
//! - `forward`: cluster mode: PUBLISH and SPUBLISH forwarded to the other nodes over the cluster bus.
//! - `keyless`: cluster mode: DBSIZE, SCAN, KEYS, RANDOMKEY, FLUSHALL... over the shards a node answers for.
//! - `blocking`: clients blocked on keys (BLPOP, ...) and the task that serves them.
//! - `evict`: `maxmemory` enforcement (victims picked by the leader, deleted through the log).
//! - `multi`: transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH).
//! - `clients`, `slowlog`, `expire`: client registry, slow log, active expiry.
//! - `admin`: `shoal-server cluster create`, the command-line side of cluster administration.
//! - `alloc`, `metrics`: the counting allocator behind `used_memory`, and the other measurements `INFO` shows.

pub mod admin;
pub mod alloc;
pub mod blocking;
pub mod clients;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod conn;
pub mod evict;
pub mod expire;
pub mod forward;
pub mod keyless;
pub mod logging;
pub mod metrics;
pub mod migration;
pub mod multi;
pub mod node;
pub mod pubsub;
pub mod replication;
pub mod routing;
pub mod shard;
pub mod slowlog;
