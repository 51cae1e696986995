//! A shard group as the server uses it: start or restart it, write through a batching proposer, read after a
//! coalesced linearizability check, watch leadership and metrics.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{RaftNetworkFactory, ServerState};
use parking_lot::Mutex;
use resp::Frame;
use store::{Keyspace, LogEntry, Op};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::backend::NodeStorage;
use crate::durability::{Flusher, FsyncPolicy};
use crate::log_store::LogStore;
use crate::state_machine::{ApplyStats, ShardStateMachine, SnapshotFile, SnapshotReport};
use crate::types::typ::{Raft, RaftMetrics};
use crate::types::{GroupId, Node, NodeId, Replies, TypeConfig};

/// Heartbeat rounds a read barrier tries before reporting that no quorum answered.
const READ_ROUNDS: u32 = 5;

/// Why a write (or a linearizable read) was not served here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// Another node leads this shard: the client should go there (`-MOVED`, or `-READONLY` on a replica).
    ForwardToLeader {
        /// The leader's node id.
        leader_id: NodeId,
        /// The leader's cluster-bus address, empty if this node does not know it.
        addr: String,
    },
    /// No leader is known right now (an election is under way): retry shortly (`-TRYAGAIN`/`-CLUSTERDOWN`).
    NoLeader,
    /// The group is stopped or broken.
    Fatal(String),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::ForwardToLeader { leader_id, addr } => {
                write!(f, "not the leader; leader is node {leader_id} at {addr}")
            }
            WriteError::NoLeader => f.write_str("no leader elected"),
            WriteError::Fatal(m) => write!(f, "raft group failed: {m}"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Why a group could not start.
#[derive(Debug)]
pub enum StartError {
    /// Reading the log or the snapshot failed.
    Storage(io::Error),
    /// The Raft configuration is invalid.
    Config(String),
    /// openraft refused to start.
    Raft(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Storage(e) => write!(f, "raft storage: {e}"),
            StartError::Config(e) => write!(f, "raft config: {e}"),
            StartError::Raft(e) => write!(f, "raft: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Settings of one group on one node.
#[derive(Clone, Debug)]
pub struct GroupConfig {
    /// The shard (group) id.
    pub group_id: GroupId,
    /// This node's id (the same for every group of the node).
    pub node_id: NodeId,
    /// This node's cluster-bus address, as peers reach it.
    pub addr: String,
    /// openraft's settings (timeouts, snapshot policy, purge).
    pub raft: openraft::Config,
    /// Most operations put into one log entry (a single write larger than this still goes whole).
    pub max_batch_ops: usize,
    /// Most entries proposed and not yet applied at once; writes arriving meanwhile wait and are batched.
    pub max_inflight: usize,
    /// Most writes waiting for the proposer (back-pressure on connections beyond it).
    pub queue_capacity: usize,
}

impl GroupConfig {
    /// Defaults tuned for several groups per node on small machines.
    pub fn new(group_id: GroupId, node_id: NodeId, addr: impl Into<String>) -> GroupConfig {
        let raft = openraft::Config {
            cluster_name: format!("shoal-group-{group_id}"),
            // Failover within a second: after the last heartbeat a follower waits out the old leader's lease
            // (election_timeout_max) plus a random election timeout, checked every 1.5 heartbeats: 250-340 ms; a
            // split vote or a candidate refused for a shorter log costs another round or 2 x max. openraft also
            // uses the heartbeat interval as the AppendEntries timeout (the cluster bus runs with TCP_NODELAY, so
            // an answer is not held back by delayed ACKs).
            heartbeat_interval: 25,
            election_timeout_min: 100,
            election_timeout_max: 150,
            install_snapshot_timeout: 5_000,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(10_000),
            max_in_snapshot_log_to_keep: 1_000,
            ..Default::default()
        };
        GroupConfig {
            group_id,
            node_id,
            addr: addr.into(),
            raft,
            max_batch_ops: 4096,
            max_inflight: 4,
            queue_capacity: 65_536,
        }
    }
}

/// What the proposer has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProposerStats {
    /// Log entries proposed.
    pub entries: u64,
    /// Writes (calls to [`ShardGroup::write`]) proposed.
    pub writes: u64,
    /// Operations proposed.
    pub ops: u64,
}

struct Proposal {
    ops: Vec<Op>,
    reply: oneshot::Sender<Result<Vec<Frame>, WriteError>>,
}

#[derive(Default)]
struct Counters {
    entries: AtomicU64,
    writes: AtomicU64,
    ops: AtomicU64,
}

#[derive(Default)]
struct ReadRounds {
    running: bool,
    waiting: Vec<oneshot::Sender<Result<(), WriteError>>>,
}

struct Inner {
    raft: Raft,
    config: GroupConfig,
    tx: mpsc::Sender<Proposal>,
    proposer: Mutex<Option<JoinHandle<()>>>,
    apply_stats: Arc<ApplyStats>,
    counters: Arc<Counters>,
    reads: Mutex<ReadRounds>,
    log_cache_bytes: Arc<std::sync::atomic::AtomicU64>,
}

/// Handle of one shard group on this node. Cheap to clone.
#[derive(Clone)]
pub struct ShardGroup {
    inner: Arc<Inner>,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn fresh_seed() -> u64 {
    // std seeds every RandomState from the OS once and then varies it per instance: unpredictable enough for
    // SPOP-style choices, and only the leader draws it (replicas read it from the entry).
    let mut h = RandomState::new().build_hasher();
    h.write_i64(unix_ms());
    h.finish()
}

fn forward(metrics: &RaftMetrics, leader: Option<NodeId>, node: Option<Node>) -> WriteError {
    match leader {
        Some(id) => {
            let addr = node
                .map(|n| n.addr)
                .or_else(|| {
                    metrics
                        .membership_config
                        .nodes()
                        .find(|(nid, _)| **nid == id)
                        .map(|(_, n)| n.addr.clone())
                })
                .unwrap_or_default();
            WriteError::ForwardToLeader {
                leader_id: id,
                addr,
            }
        }
        None => WriteError::NoLeader,
    }
}

impl ShardGroup {
    /// Starts (or restarts) the group over the node's store: restores the persisted snapshot into `keyspace`
    /// (whose previous content is discarded), re-applies the committed log, and joins the group through
    /// `network`. A new group must then be initialized once ([`ShardGroup::initialize_single`] or
    /// [`ShardGroup::initialize`]).
    pub async fn start<N>(
        storage: &NodeStorage,
        keyspace: Arc<Mutex<Keyspace>>,
        network: N,
        config: GroupConfig,
    ) -> Result<ShardGroup, StartError>
    where
        N: RaftNetworkFactory<TypeConfig>,
    {
        let file = SnapshotFile::new(storage.snapshot_path(config.group_id))
            .map_err(StartError::Storage)?;
        let sm = ShardStateMachine::open(keyspace, file).map_err(StartError::Storage)?;
        let apply_stats = sm.stats();
        ShardGroup::start_with(storage, sm, apply_stats, network, config).await
    }

    /// Starts (or restarts) a group over another state machine than a keyspace (the cluster's metadata group):
    /// the same log, transport, proposer and read barrier. `apply_stats` is the state machine's: the proposer
    /// reads the last applied entry's time from it so that stamps never go backwards.
    pub async fn start_with<N, SM>(
        storage: &NodeStorage,
        sm: SM,
        apply_stats: Arc<ApplyStats>,
        network: N,
        config: GroupConfig,
    ) -> Result<ShardGroup, StartError>
    where
        N: RaftNetworkFactory<TypeConfig>,
        SM: openraft::storage::RaftStateMachine<TypeConfig>,
    {
        let raft_config = Arc::new(
            config
                .raft
                .clone()
                .validate()
                .map_err(|e| StartError::Config(e.to_string()))?,
        );
        let log = LogStore::open(storage, config.group_id).map_err(StartError::Storage)?;
        let log_cache_bytes = log.cache_bytes();
        let raft = Raft::new(config.node_id, raft_config, network, log, sm)
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let proposer = tokio::spawn(propose(
            raft.clone(),
            rx,
            config.clone(),
            apply_stats.clone(),
            counters.clone(),
            storage.flusher().clone(),
        ));
        Ok(ShardGroup {
            inner: Arc::new(Inner {
                raft,
                config,
                tx,
                proposer: Mutex::new(Some(proposer)),
                apply_stats,
                counters,
                reads: Mutex::new(ReadRounds::default()),
                log_cache_bytes,
            }),
        })
    }

    /// Makes this node the single voter of a new group, once: returns false if the group already exists (it
    /// was initialized before, here or by a leader that reached this node).
    pub async fn initialize_single(&self) -> Result<bool, WriteError> {
        let c = &self.inner.config;
        let mut members = BTreeMap::new();
        members.insert(
            c.node_id,
            Node {
                addr: c.addr.clone(),
            },
        );
        self.initialize(members).await
    }

    /// Creates the group with these voters, once, on one node: returns false if it already exists.
    pub async fn initialize(&self, members: BTreeMap<NodeId, Node>) -> Result<bool, WriteError> {
        let raft = &self.inner.raft;
        if raft
            .is_initialized()
            .await
            .map_err(|e| WriteError::Fatal(e.to_string()))?
        {
            return Ok(false);
        }
        match raft.initialize(members).await {
            Ok(()) => Ok(true),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(false),
            Err(e) => Err(WriteError::Fatal(e.to_string())),
        }
    }

    /// Proposes `ops` as part of one log entry and returns their replies, in order, once the entry is
    /// committed and applied. Concurrent writes are batched into shared entries; the ops of one call stay
    /// together and in order.
    ///
    /// An error after proposing (the leader lost its leadership meanwhile) does not prove the ops were not
    /// applied: as in any Raft system, the entry may still commit under the next leader.
    pub async fn write(&self, ops: Vec<Op>) -> Result<Vec<Frame>, WriteError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        {
            let m = self.inner.raft.metrics();
            let m = m.borrow();
            if m.current_leader != Some(self.inner.config.node_id) {
                return Err(forward(&m, m.current_leader, None));
            }
        }
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Proposal { ops, reply })
            .await
            .map_err(|_| WriteError::Fatal("group stopped".into()))?;
        rx.await
            .unwrap_or_else(|_| Err(WriteError::Fatal("group stopped".into())))
    }

    /// Waits until a read served from this node's keyspace now is linearizable: this node is still the leader
    /// (confirmed by a quorum) and has applied everything committed before the call. Concurrent callers share
    /// one quorum round.
    pub async fn read_barrier(&self) -> Result<(), WriteError> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut r = self.inner.reads.lock();
            r.waiting.push(tx);
            !std::mem::replace(&mut r.running, true)
        };
        if start {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                loop {
                    // Callers that arrive during a round wait for the next one: a round that began before they
                    // called could miss a write they already saw acknowledged.
                    let batch = {
                        let mut r = inner.reads.lock();
                        if r.waiting.is_empty() {
                            r.running = false;
                            return;
                        }
                        std::mem::take(&mut r.waiting)
                    };
                    // A heartbeat round can miss its quorum without any leadership change (an acknowledgement
                    // later than the heartbeat timeout on a loaded machine): a few more rounds before giving up.
                    let mut attempts = 0;
                    let outcome = loop {
                        let r = inner.raft.ensure_linearizable().await;
                        attempts += 1;
                        let quorum_missed = matches!(
                            &r,
                            Err(RaftError::APIError(
                                openraft::error::CheckIsLeaderError::QuorumNotEnough(_)
                            ))
                        );
                        if !quorum_missed || attempts >= READ_ROUNDS {
                            break r;
                        }
                        let m = inner.raft.metrics();
                        if m.borrow().current_leader != Some(inner.config.node_id) {
                            break r;
                        }
                    };
                    let res = match outcome {
                        Ok(_) => Ok(()),
                        Err(RaftError::APIError(e)) => {
                            let m = inner.raft.metrics().borrow().clone();
                            match e {
                                openraft::error::CheckIsLeaderError::ForwardToLeader(f) => {
                                    Err(forward(&m, f.leader_id, f.leader_node))
                                }
                                openraft::error::CheckIsLeaderError::QuorumNotEnough(_) => {
                                    Err(WriteError::NoLeader)
                                }
                            }
                        }
                        Err(RaftError::Fatal(f)) => Err(WriteError::Fatal(f.to_string())),
                    };
                    for w in batch {
                        let _ = w.send(res.clone());
                    }
                }
            });
        }
        rx.await
            .unwrap_or_else(|_| Err(WriteError::Fatal("group stopped".into())))
    }

    /// Estimated bytes of recent log entries kept in memory (not counted against `maxmemory`).
    pub fn log_cache_bytes(&self) -> u64 {
        self.inner
            .log_cache_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether this node leads the group now (as far as it knows: use [`ShardGroup::read_barrier`] to be sure).
    pub fn is_leader(&self) -> bool {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.inner.config.node_id)
    }

    /// The leader this node knows of, with its address.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let m = self.inner.raft.metrics().borrow().clone();
        match forward(&m, m.current_leader, None) {
            WriteError::ForwardToLeader { leader_id, addr } => Some((leader_id, addr)),
            _ => None,
        }
    }

    /// Waits until some node leads the group, up to `timeout`; returns the leader.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<NodeId, WriteError> {
        let m = self
            .inner
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "leader elected")
            .await
            .map_err(|_| WriteError::NoLeader)?;
        m.current_leader.ok_or(WriteError::NoLeader)
    }

    /// openraft's metrics of the group (state, term, leader, log and applied indexes, snapshot, replication).
    pub fn metrics(&self) -> RaftMetrics {
        self.inner.raft.metrics().borrow().clone()
    }

    /// Proposer counters.
    pub fn proposer_stats(&self) -> ProposerStats {
        let c = &self.inner.counters;
        ProposerStats {
            entries: c.entries.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            ops: c.ops.load(Ordering::Relaxed),
        }
    }

    /// Apply counters (dirty, last entry time) and the last snapshot's cost.
    pub fn apply_stats(&self) -> &ApplyStats {
        &self.inner.apply_stats
    }

    /// Builds a snapshot of the state applied so far (the AOF rewrite: the log up to it may then be purged)
    /// and waits for it, up to `timeout`.
    pub async fn snapshot(&self, timeout: Duration) -> Result<SnapshotReport, WriteError> {
        let raft = &self.inner.raft;
        let target = raft.metrics().borrow().last_applied.map(|l| l.index);
        raft.trigger()
            .snapshot()
            .await
            .map_err(|e| WriteError::Fatal(e.to_string()))?;
        raft.wait(Some(timeout))
            .metrics(
                |m| m.snapshot.map(|s| s.index) >= target && m.snapshot.is_some(),
                "snapshot built",
            )
            .await
            .map_err(|e| WriteError::Fatal(e.to_string()))?;
        Ok(self
            .inner
            .apply_stats
            .last_snapshot
            .lock()
            .clone()
            .unwrap_or_default())
    }

    /// Adds a voter: first as a learner that catches up (from the log or a snapshot), then promoted. Must run
    /// on the leader; one membership change at a time. Both steps give up after `timeout` (an unreachable node
    /// would make openraft wait forever).
    pub async fn add_voter(
        &self,
        id: NodeId,
        addr: String,
        timeout: Duration,
    ) -> Result<(), WriteError> {
        let raft = &self.inner.raft;
        tokio::time::timeout(timeout, raft.add_learner(id, Node { addr }, true))
            .await
            .map_err(|_| {
                WriteError::Fatal(format!("node {id} did not catch up within {timeout:?}"))
            })?
            .map_err(|e| self.change_error(e))?;
        let change = openraft::ChangeMembers::AddVoterIds([id].into_iter().collect());
        self.change_membership(change, timeout).await
    }

    /// Removes a voter (it stays a learner if `keep_as_learner`). Must run on the leader.
    pub async fn remove_voter(
        &self,
        id: NodeId,
        keep_as_learner: bool,
        timeout: Duration,
    ) -> Result<(), WriteError> {
        let change = openraft::ChangeMembers::RemoveVoters([id].into_iter().collect());
        let raft = &self.inner.raft;
        tokio::time::timeout(timeout, raft.change_membership(change, keep_as_learner))
            .await
            .map_err(|_| {
                WriteError::Fatal(format!(
                    "membership change not committed within {timeout:?}"
                ))
            })?
            .map(|_| ())
            .map_err(|e| self.change_error(e))
    }

    async fn change_membership(
        &self,
        change: openraft::ChangeMembers<NodeId, Node>,
        timeout: Duration,
    ) -> Result<(), WriteError> {
        tokio::time::timeout(timeout, self.inner.raft.change_membership(change, false))
            .await
            .map_err(|_| {
                WriteError::Fatal(format!(
                    "membership change not committed within {timeout:?}"
                ))
            })?
            .map(|_| ())
            .map_err(|e| self.change_error(e))
    }

    fn change_error(&self, e: RaftError<NodeId, ClientWriteError<NodeId, Node>>) -> WriteError {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                let m = self.inner.raft.metrics().borrow().clone();
                forward(&m, f.leader_id, f.leader_node)
            }
            e => WriteError::Fatal(e.to_string()),
        }
    }

    /// The underlying openraft handle (membership changes, transport server side).
    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    /// The group's settings.
    pub fn config(&self) -> &GroupConfig {
        &self.inner.config
    }

    /// Stops the group: pending writes fail, then Raft stops. Flush the node's store afterwards
    /// ([`NodeStorage::close`]) for a graceful shutdown.
    pub async fn shutdown(&self) -> Result<(), WriteError> {
        let proposer = self.inner.proposer.lock().take();
        if let Some(p) = proposer {
            p.abort();
            let _ = p.await;
        }
        self.inner
            .raft
            .shutdown()
            .await
            .map_err(|e| WriteError::Fatal(e.to_string()))
    }
}

/// Drains the queue of writes into log entries, at most `max_inflight` entries in flight at once.
async fn propose(
    raft: Raft,
    mut rx: mpsc::Receiver<Proposal>,
    config: GroupConfig,
    apply_stats: Arc<ApplyStats>,
    counters: Arc<Counters>,
    flusher: Flusher,
) {
    let max_inflight = config.max_inflight.clamp(1, u32::MAX as usize) as u32;
    let slots = Arc::new(Semaphore::new(max_inflight as usize));
    let mut last_stamp = 0i64;
    while let Some(first) = rx.recv().await {
        // Wait for a slot before draining: writes arriving meanwhile join this entry instead of making their own.
        // Under `appendfsync always` one entry at a time: every write that arrives during an fsync joins the next
        // entry, so each fsync covers all of them (as Redis' event loop does, blocked in its fsync), instead of
        // the clients splitting into cohorts that alternate between half-full entries, one fsync each.
        let needed = if flusher.policy() == FsyncPolicy::Always {
            max_inflight
        } else {
            1
        };
        let Ok(permit) = slots.clone().acquire_many_owned(needed).await else {
            return;
        };
        // Let every connection that is ready run first, so their writes join this entry (one scheduler round,
        // like one pass of Redis' event loop) rather than the first writer proposing alone.
        tokio::task::yield_now().await;
        let mut n_ops = first.ops.len();
        let mut batch = vec![first];
        while n_ops < config.max_batch_ops {
            match rx.try_recv() {
                Ok(p) => {
                    n_ops += p.ops.len();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let mut ops = Vec::with_capacity(n_ops);
        let mut waiters = Vec::with_capacity(batch.len());
        for p in batch {
            waiters.push((p.ops.len(), p.reply));
            ops.extend(p.ops);
        }
        // Time never goes backwards across entries, even if this leader's clock is behind the previous one's.
        last_stamp = unix_ms()
            .max(last_stamp)
            .max(apply_stats.last_time_ms.load(Ordering::Relaxed));
        let entry = LogEntry {
            time_ms: last_stamp,
            seed: fresh_seed(),
            ops: ops.into(),
            wire: Default::default(),
        };
        counters.entries.fetch_add(1, Ordering::Relaxed);
        counters
            .writes
            .fetch_add(waiters.len() as u64, Ordering::Relaxed);
        counters.ops.fetch_add(n_ops as u64, Ordering::Relaxed);
        match raft.client_write_ff(entry).await {
            Ok(done) => {
                let raft = raft.clone();
                tokio::spawn(async move {
                    let res = done.await;
                    finish(&raft, res, waiters, permit);
                });
            }
            Err(fatal) => {
                for (_, w) in waiters {
                    let _ = w.send(Err(WriteError::Fatal(fatal.to_string())));
                }
            }
        }
    }
}

type Waiters = Vec<(usize, oneshot::Sender<Result<Vec<Frame>, WriteError>>)>;

fn finish<E>(
    raft: &Raft,
    res: Result<
        Result<openraft::raft::ClientWriteResponse<TypeConfig>, ClientWriteError<NodeId, Node>>,
        E,
    >,
    waiters: Waiters,
    permit: OwnedSemaphorePermit,
) {
    drop(permit);
    let err = match res {
        Ok(Ok(resp)) => {
            let Replies(frames) = resp.data;
            let want: usize = waiters.iter().map(|(n, _)| n).sum();
            if frames.len() == want {
                let mut frames = frames.into_iter();
                for (n, w) in waiters {
                    let _ = w.send(Ok(frames.by_ref().take(n).collect()));
                }
                return;
            }
            WriteError::Fatal(format!(
                "entry applied with {} replies for {want} ops",
                frames.len()
            ))
        }
        Ok(Err(ClientWriteError::ForwardToLeader(f))) => {
            let m = raft.metrics().borrow().clone();
            forward(&m, f.leader_id, f.leader_node)
        }
        Ok(Err(ClientWriteError::ChangeMembershipError(e))) => WriteError::Fatal(e.to_string()),
        Err(_) => WriteError::Fatal("raft stopped before answering".into()),
    };
    for (_, w) in waiters {
        let _ = w.send(Err(err.clone()));
    }
}
