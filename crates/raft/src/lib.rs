//! Replication for Shoal: every shard is an openraft group whose log is the AOF and whose snapshot is the RDB.
//!
//! # Layout
//! - `types`: the openraft type configuration ([`TypeConfig`]: entries carry a [`store::LogEntry`], applying one
//!   gives its [`Replies`]) and the aliases in [`typ`].
//! - `durability`: [`FsyncPolicy`] (`appendfsync always|everysec|no`) and the [`Flusher`] that applies it with
//!   group commit.
//! - `backend`: the [`LogBackend`] storage trait with redb and sled implementations; [`NodeStorage`] is one
//!   node's store.
//! - `log_store`: openraft's log storage over a backend ([`LogStore`]).
//! - `state_machine`: [`ShardStateMachine`] over the server's keyspace, and the persisted snapshot file.
//! - `network`: the transport seam; [`LocalRouter`] is the in-process transport (single node, tests).
//! - `grpc`: the transport between processes: one tonic service for every group ([`GrpcRegistry`] serves,
//!   [`GrpcPeers`] calls), `proto/raft.proto` compiled by `build.rs` without a system `protoc`.
//! - `group`: [`ShardGroup`], the handle the server uses: start, initialize, batched writes, read barrier.
//!
//! Nothing here speaks RESP to clients: the server turns [`WriteError`]s into `-MOVED`/`-TRYAGAIN`.
//!
//! # Durability, honestly
//! - `appendfsync always`: an entry counts (toward the majority, and for the client's reply) only after a
//!   flush that covers it. With redb that flush is a durable commit (`fsync`); sled's flush uses
//!   `sync_file_range`, which does not flush the drive's cache. Tested: acknowledged writes survive `SIGKILL`.
//! - `everysec` / `no`: acknowledged before the flush; a crash of every replica at once loses what the last
//!   flush did not cover (about a second, or [`durability::EARLY_FLUSH_WRITES`] writes; 30 s for `no`).
//! - Votes are always flushed before they count, whatever the policy.
//! - Snapshots are written to a temporary file, `fsync`ed, renamed over the old one, and the directory
//!   `fsync`ed; they carry a CRC32 and are verified before they replace a keyspace.

// openraft's trait signatures fix the error types (StorageError, RPCError), large as they are.
#![allow(clippy::result_large_err)]

pub mod backend;
pub mod durability;
pub mod group;
pub mod grpc;
pub mod log_store;
pub mod network;
pub mod state_machine;
pub mod types;

pub use backend::{Engine, GroupLog, LogBackend, NodeStorage, RedbLog, SledLog, StorageOptions};
pub use durability::{FlushStats, Flusher, FsyncPolicy};
pub use group::{GroupConfig, ProposerStats, ShardGroup, StartError, WriteError};
pub use grpc::{GrpcNetwork, GrpcPeers, GrpcRegistry};
pub use log_store::LogStore;
pub use network::{LocalNetwork, LocalRouter};
pub use state_machine::{ApplyStats, ShardStateMachine, SnapshotFile, SnapshotReport};
pub use types::{typ, GroupId, Node, NodeId, Replies, TypeConfig};
