//! Replication for Shoal: every shard is an openraft group whose log is the AOF and whose snapshot is the RDB.
//!
//! # Layout
//! - `types`: the openraft type configuration ([`TypeConfig`]: entries carry a [`store::LogEntry`], applying one
//!   gives its [`Replies`]) and the aliases in [`typ`].
//! - `durability`: [`FsyncPolicy`] (`appendfsync always|everysec|no`) and the [`Flusher`] that applies it with
//!   group commit.
//! - `backend`: the [`LogBackend`] storage trait; [`NodeStorage`] is one node's store, in one of three
//!   engines ([`Engine`]): the append-only files of `aof` ([`AofLog`], the default), redb or sled.
//! - `aof`: the default engine, per group segment files of CRC-checked records, one `write(2)` per append.
//! - `log_store`: openraft's log storage over a backend ([`LogStore`]).
//! - `state_machine`: [`ShardStateMachine`] over the server's keyspace, and the persisted snapshot file.
//! - `network`: the transport seam; [`LocalRouter`] is the in-process transport (single node, tests).
//! - `coalesce`: which commit-only AppendEntries the gRPC transport answers itself ([`coalesce::CommitCoalescer`]).
//! - `grpc`: the transport between processes: one tonic service for every group ([`GrpcRegistry`] serves,
//!   [`GrpcPeers`] calls), `proto/raft.proto` compiled by `build.rs` without a system `protoc`.
//! - `group`: [`ShardGroup`], the handle the server uses: start, initialize, batched writes, read barrier.
//!
//! Nothing here speaks RESP to clients: the server turns [`WriteError`]s into `-MOVED`/`-TRYAGAIN`.
//!
//! # Durability, honestly
//! - With the default AOF engine an append is written (`write(2)`) before it is acknowledged, whatever the
//!   policy: `kill -9` of the process at any moment loses no acknowledged write (tested for `always`,
//!   `everysec` and `no`). The policies, as Redis' `appendfsync`, decide only what an operating system crash or
//!   power loss can take.
//! - `appendfsync always`: an entry counts (toward the majority, and for the client's reply) only after a
//!   flush that covers it: `fdatasync` of the appended segment (concurrent appends share one). With redb that
//!   flush is a durable commit (`fsync`); sled's flush uses `sync_file_range`, which does not flush the drive's
//!   cache.
//! - `everysec` / `no`: acknowledged before the flush; an operating system crash of every replica at once loses
//!   what the last flush did not cover (about a second; 30 s for `no`). With redb or sled the unflushed writes
//!   are lost with the process too (bounded by [`durability::EARLY_FLUSH_WRITES`]).
//! - Votes are always flushed before they count, whatever the policy.
//! - Snapshots are written to a temporary file, `fsync`ed, renamed over the old one, and the directory
//!   `fsync`ed; they carry a CRC32 and are verified before they replace a keyspace.

// openraft's trait signatures fix the error types (StorageError, RPCError), large as they are.
#![allow(clippy::result_large_err)]

pub mod aof;
pub mod backend;
pub mod coalesce;
pub mod durability;
pub mod group;
pub mod grpc;
pub mod log_store;
pub mod network;
pub mod state_machine;
pub mod types;

pub use aof::AofLog;
pub use backend::{Engine, GroupLog, LogBackend, NodeStorage, RedbLog, SledLog, StorageOptions};
pub use coalesce::commit_window;
pub use durability::{FlushStats, Flusher, FsyncPolicy};
pub use group::{GroupConfig, ProposerStats, ShardGroup, StartError, WriteError};
pub use grpc::{GrpcNetwork, GrpcPeers, GrpcRegistry};
pub use log_store::LogStore;
pub use network::{LocalNetwork, LocalRouter};
pub use state_machine::{ApplyStats, ShardStateMachine, SnapshotFile, SnapshotReport};
pub use types::{typ, GroupId, Node, NodeId, Replies, TypeConfig};
