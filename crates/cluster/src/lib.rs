//! Shoal's cluster layer: hash slots (`slot`), the cluster metadata and slot map (`meta`), and the one routing
//! decision every command goes through in cluster mode (`route`); the metadata Raft group's state machine
//! (`meta_group`). It knows nothing of command semantics: the
//! server hands it a command's keys, taken from the command table's key specs.

pub mod gossip;
pub mod meta;
pub mod meta_group;
pub mod reshard;
pub mod route;
pub mod slot;

pub use gossip::{pick_leader, Gossip, LeaderNews};
pub use meta::{
    node_name, shard_name, Metadata, Migration, NodeId, NodeInfo, ShardId, ShardInfo, SlotMap,
    META_GROUP,
};
pub use route::{route, Redirect, Request, Route, View};
pub use slot::{crc16, hash_tag, key_slot, Slot, SLOTS};
