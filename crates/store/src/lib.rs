//! Shoal's keyspace as a deterministic state machine, with the command table and pure command implementations.
//!
//! # Layout
//! - `dict`: the hash table under the keyspace (incremental-safe `SCAN` cursors, random sampling).
//! - `keyspace`: [`Keyspace`], keys to [`Object`]s, lazy and active expiry, keyspace statistics.
//! - `value`: [`Value`], the data types a key can hold; `types`: the structures behind the collections
//!   (hashes, sets) with their compact encodings.
//! - `list`: the list type (packed nodes in Redis' `listpack` / `quicklist` encodings).
//! - `zset`: the sorted set type ([`zset::ZSet`]): listpack and order-statistic B+tree encodings.
//! - `blocking`: how blocking commands (BLPOP, ...) say they would wait, timeouts, which keys can serve waiters.
//! - `notify`: keyspace notifications: event classes, `notify-keyspace-events` syntax, the events writes emit.
//! - `evict`: `maxmemory` policies, access tracking (LRU time or LFU counter) and victim sampling.
//! - `exec`: [`ExecCtx`], the inputs a command runs with (stamped time, seed), and [`LogEntry`], the unit of
//!   the write path.
//! - `table`: the command table declared once: name, arity, flags, ACL categories, key positions, handler.
//! - `cmd`: one file per command family (`string`, `keys`, `bitmap`, `server`, ...).
//! - `snapshot`: the whole keyspace as a versioned, checksummed byte string (the Raft snapshot, Redis' RDB).
//! - `migrate`: the replicated state and operations of slots moving between shards (cluster resharding).
//! - `glob`, `num`: Redis' glob matching and number parsing/formatting.
//!
//! Nothing here reads a clock, a random source, the network or the disk: time and randomness come in through
//! [`ExecCtx`], so applying the same entries gives the same state on every replica.

pub mod blocking;
pub mod cmd;
pub mod dict;
pub mod errors;
pub mod evict;
pub mod exec;
pub mod glob;
pub mod keyspace;
pub mod list;
pub mod migrate;
pub mod notify;
pub mod num;
pub mod snapshot;
pub mod table;
pub mod types;
pub mod value;
pub mod zset;

pub use exec::{ExecCtx, LogEntry, Op};
pub use keyspace::{Keyspace, Object};
pub use table::{lookup, AllShards, CommandSpec, Handler, NodeCommand};
pub use value::Value;
