//! A shard: one keyspace, changed only by applying its Raft group's committed entries.
//!
//! Writes never touch the keyspace from here: the connection proposes them ([`crate::replication`]) and the
//! state machine applies the stamped entry. This module serves reads, which run against the applied state.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use resp::Frame;
use store::exec::ExecCtx;
use store::{CommandSpec, Keyspace};

use crate::replication::Replication;

/// One shard of the keyspace.
#[derive(Default)]
pub struct Shard {
    /// A std-style mutex: held only for the synchronous execution of a batch or one entry, never across an
    /// `.await`. Shared with the Raft state machine, which applies entries under it.
    keyspace: Arc<Mutex<Keyspace>>,
    replication: OnceLock<Arc<Replication>>,
    /// Clients blocked on this shard's keys (BLPOP, ...); its ready hook is the keyspace's.
    pub blocking: Arc<crate::blocking::Blocking>,
}

/// Access to the shard for one run of reads, so a pipeline takes the lock once.
pub struct ShardGuard<'a> {
    ks: MutexGuard<'a, Keyspace>,
}

impl Shard {
    /// An empty shard.
    pub fn new() -> Shard {
        let shard = Shard::default();
        let hook = shard.blocking.ready_hook();
        shard.keyspace.lock().set_ready_hook(Some(hook));
        shard
    }

    /// Locks the shard for a run of reads or an inspection.
    pub fn lock(&self) -> ShardGuard<'_> {
        ShardGuard {
            ks: self.keyspace.lock(),
        }
    }

    /// The keyspace handle the state machine applies entries to.
    pub fn keyspace_arc(&self) -> Arc<Mutex<Keyspace>> {
        self.keyspace.clone()
    }

    /// Attaches the started Raft group (once, at start-up).
    pub fn set_replication(&self, r: Arc<Replication>) {
        let _ = self.replication.set(r);
    }

    /// The shard's Raft group, once started.
    pub fn replication(&self) -> Option<&Arc<Replication>> {
        self.replication.get()
    }
}

impl ShardGuard<'_> {
    /// Runs a read command at `now_ms`.
    pub fn read(&mut self, spec: &CommandSpec, args: &[Bytes], now_ms: i64, seed: u64) -> Frame {
        let mut ctx = ExecCtx::for_read(now_ms, seed);
        match spec.handler {
            store::Handler::Keyspace(f) => f(&mut self.ks, &mut ctx, args),
            _ => Frame::error("ERR command not executable against the keyspace"),
        }
    }

    /// Expired keys that reads came across, for deletion through the log.
    pub fn take_lazy_expired(&mut self) -> Vec<Vec<u8>> {
        self.ks.take_lazy_expired()
    }

    /// Read-only access to the keyspace (INFO, digests, expiry sampling).
    pub fn keyspace(&self) -> &Keyspace {
        &self.ks
    }

    /// Mutable access for statistics and settings that are not replicated state.
    pub fn keyspace_mut(&mut self) -> &mut Keyspace {
        &mut self.ks
    }
}
