//! Replication for Shoal: every shard is an openraft group whose log is the AOF and whose snapshot is the RDB.
//!
//! # Layout
//! - `types`: the openraft type configuration ([`TypeConfig`]: entries carry a [`store::LogEntry`], applying one
//!   gives its [`Replies`]) and the aliases in [`typ`].
//! - `durability`: [`FsyncPolicy`] (`appendfsync always|everysec|no`) and the [`Flusher`] that applies it with
//!   group commit.
//! - `backend`: the [`LogBackend`] storage trait and its sled implementation; [`NodeStorage`] is one node's store.
//! - `log_store`: openraft's log storage over a backend ([`LogStore`]).
//! - `state_machine`: [`ShardStateMachine`] over the server's keyspace, and the persisted snapshot file.
//!
//! Nothing here speaks RESP to clients: the server turns [`WriteError`]s into `-MOVED`/`-TRYAGAIN`.

pub mod backend;
pub mod durability;
pub mod log_store;
pub mod state_machine;
pub mod types;

pub use backend::{LogBackend, NodeStorage, SledLog, StorageOptions};
pub use durability::{FlushStats, Flusher, FsyncPolicy};
pub use log_store::LogStore;
pub use state_machine::{ApplyStats, ShardStateMachine, SnapshotFile, SnapshotReport};
pub use types::{typ, GroupId, Node, NodeId, Replies, TypeConfig};
