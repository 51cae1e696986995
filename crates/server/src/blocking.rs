//! Clients blocked on keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, XREAD,
//! XREADGROUP): the registry of waiters and the task that serves them.
//!
//! A blocking command first runs as an ordinary proposed write ([`store::Op::Block`]). When it finds nothing it
//! replies [`store::blocking::WOULD_BLOCK`] and the connection registers here as a waiter on the keys its
//! row names, first come first served per key (Redis' order). Writes that give keys elements signal them
//! ready in the keyspace, whatever proposed them (a client of this node, a transaction, an entry replicated
//! from an earlier leader); the keyspace's ready hook wakes [`Blocking::serve`], which drains the ready keys
//! after the write applied and proposes, as one entry, the commands of the oldest waiters of each ready key (as
//! many as the key could serve). Each waiter gets its own reply from that entry; one that got nothing (another
//! client was faster) keeps its place at the head of its queues. An element is therefore only ever popped by
//! an applied entry whose reply goes to the waiter.
//!
//! Only the leader serves blocked clients: when this node is not (or stops being) the leader, waiters get the
//! reply a write gets here. A waiter also ends on its timeout, `CLIENT UNBLOCK`, or its connection closing;
//! a waiter whose command is in flight in an entry cannot be withdrawn, so it ends when the entry's reply
//! comes (with the element, if it got one).
//!
//! Other blocking families plug in the same way: a table row with [`store::CommandSpec::blocks_on`], a handler
//! that replies `WOULD_BLOCK` under `ctx.blocking`, and [`store::blocking::servable`] for their value type.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use raft::WriteError;
use resp::Frame;
use store::blocking::{is_would_block, Block};
use store::Op;
use tokio::sync::{oneshot, Notify};

use crate::node::{unix_ms, Node};
use crate::replication::not_served;
use crate::shard::Shard;

/// Most waiters whose commands go into one entry; the rest are served by the next round.
const MAX_ROUND: usize = 1024;

/// The reply of a blocked list or sorted-set command that timed out (Redis' `replyToBlockedClientTimedOut`: a null array
/// for every list, sorted-set and stream command, BLMOVE included).
pub const TIMED_OUT: Frame = Frame::NullArray;

/// The error `CLIENT UNBLOCK id ERROR` gives the blocked client.
pub const UNBLOCKED: Frame = Frame::error("UNBLOCKED client unblocked via CLIENT UNBLOCK");

/// What a waiter does when it is woken.
#[derive(Clone, Debug)]
enum Retry {
    /// Propose these arguments again as [`Op::Retry`].
    Propose(Vec<Bytes>),
}

/// How a waiter that cannot be withdrawn now (its command is in an entry) ends if that entry serves it nothing.
enum Cancel {
    /// Reply this (a timeout, an unblock, a lost leadership).
    Reply(Frame),
    /// Its client is gone: no reply.
    Abandon,
}

struct Waiter {
    keys: Vec<Bytes>,
    retry: Retry,
    reply: Option<oneshot::Sender<Frame>>,
    has_timeout: bool,
    in_flight: bool,
    cancel: Option<Cancel>,
}

#[derive(Default)]
struct State {
    /// By client id: a client waits for at most one command.
    waiters: HashMap<u64, Waiter>,
    /// Client ids waiting on each key, longest waiting first.
    queues: HashMap<Bytes, VecDeque<u64>>,
    /// Keys to look at in the next round, in the order they became ready.
    pending: Vec<Bytes>,
    pending_set: HashSet<Bytes>,
    /// Every key with waiters must be looked at (the keyspace lost track of which are ready).
    recheck_all: bool,
    with_timeout: usize,
}

impl State {
    fn pend(&mut self, key: &[u8]) {
        if self.queues.contains_key(key) && !self.pending_set.contains(key) {
            let k = Bytes::copy_from_slice(key);
            self.pending_set.insert(k.clone());
            self.pending.push(k);
        }
    }

    /// Removes a waiter and sends its last reply (none when its client is gone).
    fn finish(&mut self, client: u64, reply: Option<Frame>) {
        let Some(mut w) = self.waiters.remove(&client) else {
            return;
        };
        for k in &w.keys {
            if let Some(q) = self.queues.get_mut(k) {
                if let Some(i) = q.iter().position(|&c| c == client) {
                    q.remove(i);
                }
                if q.is_empty() {
                    self.queues.remove(k);
                }
            }
        }
        if w.has_timeout {
            self.with_timeout -= 1;
        }
        if let (Some(tx), Some(r)) = (w.reply.take(), reply) {
            let _ = tx.send(r);
        }
    }
}

/// One waiter's command in a round.
struct Picked {
    client: u64,
    args: Vec<Bytes>,
}

/// The node's blocked clients.
pub struct Blocking {
    state: Mutex<State>,
    wake: Arc<Notify>,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking {
            state: Mutex::new(State::default()),
            wake: Arc::new(Notify::new()),
        }
    }
}

impl Blocking {
    /// The function the keyspace calls when keys become ready: it wakes [`Blocking::serve`].
    pub fn ready_hook(&self) -> store::keyspace::ReadyHook {
        let wake = self.wake.clone();
        Arc::new(move || wake.notify_one())
    }

    /// Parks `client` on `block`'s keys behind the clients already waiting there; `args` is the command to
    /// propose again when one of them is ready. The receiver gets the client's last reply: the command's reply,
    /// a timeout or unblock reply, or an error.
    pub fn register(
        &self,
        client: u64,
        block: Block,
        args: Vec<Bytes>,
    ) -> oneshot::Receiver<Frame> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.state.lock();
        // A client blocks once at a time; a leftover (cannot happen) is ended rather than leaked.
        st.finish(client, None);
        for k in &block.keys {
            st.queues.entry(k.clone()).or_default().push_back(client);
        }
        let has_timeout = block.timeout_ms > 0;
        if has_timeout {
            st.with_timeout += 1;
        }
        // A write may have filled a key between the command's entry and now: look at the keys once.
        for k in &block.keys {
            st.pend(k);
        }
        st.waiters.insert(
            client,
            Waiter {
                keys: block.keys,
                retry: Retry::Propose(args),
                reply: Some(tx),
                has_timeout,
                in_flight: false,
                cancel: None,
            },
        );
        drop(st);
        self.wake.notify_one();
        rx
    }

    /// Ends `client`'s wait with `reply` (`None`: the client is gone). If its command is in an entry being
    /// applied, the wait ends when that entry's reply comes instead: with what the command got, or with `reply`
    /// if it got nothing. Returns whether the client was blocked.
    pub fn cancel(&self, client: u64, reply: Option<Frame>) -> bool {
        cancel_locked(&mut self.state.lock(), client, reply)
    }

    /// `CLIENT UNBLOCK`: ends `client`'s wait as a timeout, or with the UNBLOCKED error. False if it is not
    /// blocked (or is already being unblocked).
    pub fn unblock(&self, client: u64, error: bool) -> bool {
        let mut st = self.state.lock();
        if st.waiters.get(&client).is_none_or(|w| w.cancel.is_some()) {
            return false;
        }
        cancel_locked(
            &mut st,
            client,
            Some(if error { UNBLOCKED } else { TIMED_OUT }),
        )
    }

    /// Ends every wait with `reply` (this node no longer leads the shard).
    pub fn fail_all(&self, reply: &Frame) {
        let mut st = self.state.lock();
        let clients: Vec<u64> = st.waiters.keys().copied().collect();
        for c in clients {
            cancel_locked(&mut st, c, Some(reply.clone()));
        }
    }

    /// Blocked clients (`blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.state.lock().waiters.len()
    }

    /// Keys with blocked clients (`total_blocking_keys`).
    pub fn blocking_keys(&self) -> usize {
        self.state.lock().queues.len()
    }

    /// Blocked clients with a timeout (`clients_in_timeout_table`).
    pub fn with_timeout(&self) -> usize {
        self.state.lock().with_timeout
    }

    /// Serves the blocked clients of the node's only shard (outside cluster mode).
    pub async fn serve(self: Arc<Self>, node: Arc<Node>) {
        let shard = node.shard.clone();
        self.serve_shard(node, shard).await
    }

    /// Serves blocked clients of `shard` until the node stops: after each write that made keys ready (and after
    /// each registration), proposes the commands of the waiters those keys can serve; fails every waiter when
    /// this node is not the shard's leader.
    pub async fn serve_shard(self: Arc<Self>, node: Arc<Node>, shard: Arc<Shard>) {
        let cluster = node.cluster().is_some();
        drop(node);
        let repl = shard.replication().cloned();
        // Changes of role, term or leader only (not every applied entry).
        let mut role = repl.as_ref().map(|r| r.group.raft().server_metrics());
        loop {
            let ready = tokio::select! {
                _ = self.wake.notified() => true,
                changed = async { role.as_mut()?.changed().await.ok() }, if role.is_some() => {
                    if changed.is_none() {
                        // The group stopped (its replica left this node): the waiters go to the new leader.
                        if let Some(r) = &repl {
                            if self.blocked_clients() > 0 {
                                self.fail_all(&not_leader(r, cluster));
                            }
                        }
                        return;
                    }
                    false
                }
            };
            if let Some(r) = &repl {
                if !r.group.is_leader() {
                    if ready {
                        // Drained all the same, so the keyspace does not sit on a full ready list.
                        shard.lock().keyspace_mut().take_ready_keys();
                    }
                    if self.blocked_clients() > 0 {
                        self.fail_all(&not_leader(r, cluster));
                    }
                    continue;
                }
            }
            if !ready {
                continue;
            }
            loop {
                let (picked, keys) = self.plan(&shard);
                if picked.is_empty() {
                    break;
                }
                self.run_round(&shard, cluster, picked, keys).await;
            }
        }
    }

    /// Drains the keyspace's ready keys and picks, for each key with waiters, the oldest idle waiters, as
    /// many as the key could serve. Returns them with the keys looked at.
    fn plan(&self, shard: &Shard) -> (Vec<Picked>, Vec<Bytes>) {
        let mut shard = shard.lock();
        let ready = shard.keyspace_mut().take_ready_keys();
        let mut st = self.state.lock();
        if ready.overflowed {
            st.recheck_all = true;
        }
        for k in &ready.keys {
            st.pend(k);
        }
        if std::mem::take(&mut st.recheck_all) {
            let all: Vec<Bytes> = st.queues.keys().cloned().collect();
            for k in all {
                st.pend(&k);
            }
        }
        if st.pending.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let keys = std::mem::take(&mut st.pending);
        st.pending_set.clear();
        let ks = shard.keyspace();
        let now = unix_ms();
        let mut picked: Vec<Picked> = Vec::new();
        let mut chosen: HashSet<u64> = HashSet::new();
        let mut looked = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            if picked.len() >= MAX_ROUND {
                for k in &keys[i..] {
                    st.pend(k);
                }
                break;
            }
            looked.push(key.clone());
            let avail = store::blocking::servable(ks, now, key);
            let Some(queue) = st.queues.get(key) else {
                continue;
            };
            let mut n = 0;
            for &client in queue {
                if picked.len() >= MAX_ROUND {
                    break;
                }
                let Some(w) = st.waiters.get(&client) else {
                    continue;
                };
                if w.in_flight || chosen.contains(&client) {
                    continue;
                }
                let Retry::Propose(args) = &w.retry;
                // Stream readers are ready one by one (reads take nothing; a group read takes what the group
                // has not delivered); element takers wake as many as the key has elements.
                match store::blocking::waiter_ready(ks, now, key, args) {
                    Some(false) => continue,
                    Some(true) => {}
                    None if n >= avail => continue,
                    None => n += 1,
                }
                chosen.insert(client);
                picked.push(Picked {
                    client,
                    args: args.clone(),
                });
            }
        }
        for p in &picked {
            if let Some(w) = st.waiters.get_mut(&p.client) {
                w.in_flight = true;
            }
        }
        (picked, looked)
    }

    /// Proposes the picked waiters' commands as one entry, in order, and hands each its reply. When some were
    /// served, the keys are looked at again: what is left may serve the next waiters.
    async fn run_round(&self, shard: &Shard, cluster: bool, picked: Vec<Picked>, keys: Vec<Bytes>) {
        let result = match shard.replication() {
            Some(r) => {
                let ops = picked.iter().map(|p| Op::Retry(p.args.clone())).collect();
                r.group.write(ops).await
            }
            None => Err(WriteError::NoLeader),
        };
        let mut st = self.state.lock();
        let mut served = false;
        match result {
            Ok(replies) if replies.len() == picked.len() => {
                for (p, reply) in picked.iter().zip(replies) {
                    let Some(w) = st.waiters.get_mut(&p.client) else {
                        continue;
                    };
                    w.in_flight = false;
                    if is_would_block(&reply) {
                        match w.cancel.take() {
                            Some(Cancel::Reply(r)) => st.finish(p.client, Some(r)),
                            Some(Cancel::Abandon) => st.finish(p.client, None),
                            None => {}
                        }
                    } else {
                        served = true;
                        st.finish(p.client, Some(reply));
                    }
                }
            }
            other => {
                let reply = match other {
                    Err(e) => refusal(&e, cluster),
                    Ok(_) => Frame::error("ERR internal error: reply count mismatch"),
                };
                for p in &picked {
                    st.finish(p.client, Some(reply.clone()));
                }
            }
        }
        if served {
            for k in &keys {
                st.pend(k);
            }
        }
    }
}

fn cancel_locked(st: &mut State, client: u64, reply: Option<Frame>) -> bool {
    let Some(w) = st.waiters.get_mut(&client) else {
        return false;
    };
    if w.in_flight {
        // An absent client overrides a pending reply; otherwise the first reason stands.
        if reply.is_none() || w.cancel.is_none() {
            w.cancel = Some(match reply {
                Some(r) => Cancel::Reply(r),
                None => Cancel::Abandon,
            });
        }
    } else {
        st.finish(client, reply);
    }
    true
}

/// The reply a write gets on this node when it is not the leader.
fn not_leader(r: &crate::replication::Replication, cluster: bool) -> Frame {
    let e = match r.group.leader() {
        Some((leader_id, addr)) => WriteError::ForwardToLeader { leader_id, addr },
        None => WriteError::NoLeader,
    };
    refusal(&e, cluster)
}

/// A waiter's reply when its shard cannot serve it here: the replica's answer, or in cluster mode `-TRYAGAIN`
/// (a cluster client retries, and is then redirected to the new leader).
fn refusal(e: &WriteError, cluster: bool) -> Frame {
    match e {
        WriteError::Fatal(_) => not_served(e),
        _ if cluster => Frame::error_owned(cluster::Redirect::TryAgainNoLeader.message()),
        _ => not_served(e),
    }
}
