//! A shard: one keyspace and its serial write path.
//!
//! On a single node a write is applied as soon as it is stamped; a replicated shard will instead propose the
//! stamped entry to its Raft group and apply it when committed. Either way the keyspace changes only through
//! [`store::exec::apply_op`] with the entry's time and seed.

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use resp::Frame;
use store::exec::{apply_op, ExecCtx, Op};
use store::{CommandSpec, Keyspace};

/// One shard of the keyspace with its statistics.
#[derive(Default)]
pub struct Shard {
    /// A std-style mutex: held only for the synchronous execution of a batch, never across an `.await`.
    keyspace: Mutex<Keyspace>,
}

/// Exclusive access to the shard for one batch of commands, so a pipeline takes the lock once.
pub struct ShardGuard<'a> {
    ks: MutexGuard<'a, Keyspace>,
    /// Changes made through this guard, for the persistence counters.
    pub dirty: u64,
}

impl Shard {
    /// An empty shard.
    pub fn new() -> Shard {
        Shard::default()
    }

    /// Locks the shard for a batch.
    pub fn lock(&self) -> ShardGuard<'_> {
        ShardGuard {
            ks: self.keyspace.lock(),
            dirty: 0,
        }
    }
}

impl ShardGuard<'_> {
    /// Runs a read command at `now_ms`.
    pub fn read(&mut self, spec: &CommandSpec, args: &[Bytes], now_ms: i64, seed: u64) -> Frame {
        let mut ctx = ExecCtx::for_read(now_ms, seed);
        run(spec, &mut self.ks, &mut ctx, args)
    }

    /// Runs a write command through the write path, stamped with `now_ms` and `seed`.
    pub fn write(&mut self, spec: &CommandSpec, args: &[Bytes], now_ms: i64, seed: u64) -> Frame {
        let mut ctx = ExecCtx::for_write(now_ms, seed);
        let reply = run(spec, &mut self.ks, &mut ctx, args);
        self.dirty += ctx.dirty;
        reply
    }

    /// Applies an internal operation (such as expiry) through the write path.
    pub fn apply(&mut self, op: &Op, now_ms: i64, seed: u64) -> Frame {
        let mut ctx = ExecCtx::for_write(now_ms, seed);
        let reply = apply_op(&mut self.ks, &mut ctx, op);
        self.dirty += ctx.dirty;
        reply
    }

    /// Deletes, through the write path, the expired keys that reads of this batch came across (Redis deletes
    /// them on access; here the deletion is an ordinary write so replicas stay identical).
    pub fn expire_lazily(&mut self, now_ms: i64, seed: u64) {
        let keys = self.ks.take_lazy_expired();
        if !keys.is_empty() {
            let op = Op::ExpireIfDue(keys.into_iter().map(Bytes::from).collect());
            self.apply(&op, now_ms, seed);
        }
    }

    /// Read-only access to the keyspace (INFO, digests, expiry sampling).
    pub fn keyspace(&self) -> &Keyspace {
        &self.ks
    }

    /// Mutable access for statistics resets.
    pub fn keyspace_mut(&mut self) -> &mut Keyspace {
        &mut self.ks
    }
}

fn run(spec: &CommandSpec, ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    match spec.handler {
        store::Handler::Keyspace(f) => f(ks, ctx, args),
        _ => Frame::error("ERR command not executable against the keyspace"),
    }
}
