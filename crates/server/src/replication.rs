//! The node's shard as a Raft group: its storage (the log is the AOF, the snapshot the RDB), its peers, and the
//! persistence schedule (SAVE, BGSAVE, BGREWRITEAOF and their automatic triggers).
//!
//! Every write, expiry included, is a log entry: a single node is a one-voter group, and `shard-replicas`
//! names the voters of a replicated shard, each reachable over gRPC on its cluster-bus port.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft::{
    FsyncPolicy, GroupConfig, GrpcPeers, GrpcRegistry, NodeId, NodeStorage, ShardGroup,
    StorageOptions, WriteError,
};
use resp::Frame;
use tracing::{info, warn};

use crate::config::Config;
use crate::node::{unix_ms, Node};

/// The group id of the node's single shard (the cluster crate adds more).
pub const SHARD_GROUP: u64 = 0;

/// Longest a SAVE or BGSAVE may take before it counts as failed.
const SAVE_TIMEOUT: Duration = Duration::from_secs(600);

/// One voter of the shard as configured: its node id, client address and cluster-bus address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Raft node id.
    pub id: NodeId,
    /// `host:port` where clients reach it.
    pub client_addr: String,
    /// `host:port` of its cluster bus (gRPC).
    pub bus_addr: String,
}

impl Peer {
    /// The address stored in the Raft membership: Redis' `ip:port@cport` notation, so every member knows both
    /// where clients go (ROLE, INFO replication, redirects) and where Raft RPCs go.
    pub fn member_addr(&self) -> String {
        format!("{}@{}", self.client_addr, bus_port(&self.bus_addr))
    }
}

fn bus_port(bus_addr: &str) -> &str {
    bus_addr.rsplit(':').next().unwrap_or("")
}

/// The client address (`host`, `port`) in a membership address `host:port@cport`; its bus address is
/// [`raft::grpc::bus_addr`].
pub fn client_host_port(member_addr: &str) -> (&str, &str) {
    let client = member_addr.split_once('@').map_or(member_addr, |(c, _)| c);
    client.rsplit_once(':').unwrap_or((client, "0"))
}

/// A replica of the shard as its leader sees it.
pub struct ReplicaView {
    /// Raft node id.
    pub id: NodeId,
    /// Client host.
    pub host: String,
    /// Client port.
    pub port: String,
    /// The last log index it holds, if it has acknowledged any.
    pub matched: Option<u64>,
}

/// Parses `shard-replicas`: `id@host:port[@busport] ...`; the bus port defaults to the client port + 10000.
pub fn parse_peers(text: &str) -> Result<Vec<Peer>, String> {
    let mut out: Vec<Peer> = Vec::new();
    for word in text.split_whitespace() {
        let bad = || format!("invalid shard-replicas entry '{word}' (want id@host:port[@busport])");
        let (id, rest) = word.split_once('@').ok_or_else(bad)?;
        let id: NodeId = id.parse().map_err(|_| bad())?;
        let (client, bus) = match rest.split_once('@') {
            Some((c, b)) => (c, Some(b)),
            None => (rest, None),
        };
        let (host, port) = client.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let bus: u16 = match bus {
            Some(b) => b.parse().map_err(|_| bad())?,
            None => port.checked_add(10000).ok_or_else(bad)?,
        };
        if id == 0 || out.iter().any(|p| p.id == id) {
            return Err(format!("shard-replicas: node id {id} is zero or repeated"));
        }
        out.push(Peer {
            id,
            client_addr: format!("{host}:{port}"),
            bus_addr: format!("{host}:{bus}"),
        });
    }
    Ok(out)
}

/// The fsync policy the log runs with: `appendfsync`, or `no` when `appendonly` is off (the log itself cannot be
/// switched off: it is how the shard replicates and restarts).
pub fn fsync_policy(config: &Config) -> FsyncPolicy {
    if !config.get_bool("appendonly") {
        return FsyncPolicy::No;
    }
    config
        .get("appendfsync")
        .parse()
        .unwrap_or(FsyncPolicy::Everysec)
}

/// Persistence bookkeeping for `INFO persistence`, LASTSAVE and the automatic triggers.
#[derive(Default)]
pub struct Persistence {
    /// A snapshot is being built.
    pub in_progress: AtomicBool,
    /// The running snapshot was asked for as an AOF rewrite (BGREWRITEAOF or the size trigger).
    pub rewrite_in_progress: AtomicBool,
    /// Unix ms when the running snapshot started.
    pub started_ms: AtomicI64,
    /// Unix seconds of the last successful snapshot (or of start-up).
    pub lastsave: AtomicI64,
    /// Whether the last snapshot succeeded.
    pub last_ok: AtomicBool,
    /// Seconds the last snapshot took (-1: none yet).
    pub last_secs: AtomicI64,
    /// Applied changes counted when the last snapshot started.
    pub dirty_at_save: AtomicU64,
    /// Successful snapshots since start.
    pub saves: AtomicU64,
    /// Snapshots started as AOF rewrites.
    pub rewrites: AtomicU64,
    /// Log bytes right after the last compaction (`aof_base_size`), the base of the growth trigger.
    pub base_size: AtomicU64,
    /// Longest keyspace lock hold of the last snapshot, in microseconds.
    pub last_longest_hold_us: AtomicU64,
    /// Keys of the last snapshot that writes changed before its walk reached them (copied first).
    pub last_saved_keys: AtomicU64,
    /// Most bytes those copies held at once during the last snapshot.
    pub last_saved_peak_bytes: AtomicU64,
}

/// The node's shard group with its storage.
pub struct Replication {
    /// This node's Raft id.
    pub node_id: NodeId,
    /// The shard's voters as configured (empty: a single-voter group of this node).
    pub peers: Vec<Peer>,
    /// Log and snapshot storage.
    pub storage: NodeStorage,
    /// The Raft group.
    pub group: ShardGroup,
    /// Persistence state.
    pub persistence: Persistence,
    registry: GrpcRegistry,
    /// The node's transport to its peers (for its counters).
    transport: GrpcPeers,
    bus: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// This node leads the shard and is its only voter, kept current by a watcher of the group's metrics so that
    /// the read path checks an atomic instead of copying the metrics for every batch.
    sole_leader: AtomicBool,
    /// Un-purged log entries, each with an index entry in memory until a snapshot purges it.
    live_log_entries: AtomicU64,
}

/// Estimated bytes of the in-memory index of one un-purged log entry (a B-tree entry with its position).
const LOG_INDEX_ENTRY_BYTES: u64 = 48;

impl Replication {
    /// Opens the storage under `dir`, restores the snapshot and log into the node's keyspace, starts the Raft
    /// group and its gRPC endpoint (when there are peers), and initializes a new group.
    pub async fn start(node: &Arc<Node>) -> Result<Arc<Replication>, String> {
        let (dir, node_id, peers, port, cluster_port, fsync, node_timeout) = {
            let c = node.config.read();
            let peers = parse_peers(c.get("shard-replicas"))?;
            (
                std::path::PathBuf::from(c.get("dir")).join("shoal"),
                c.get_i64("node-id"),
                peers,
                c.get_i64("port"),
                c.get_i64("cluster-port"),
                fsync_policy(&c),
                c.get_i64("cluster-node-timeout") as u64,
            )
        };
        let node_id: NodeId = if peers.is_empty() {
            if node_id > 0 {
                node_id as u64
            } else {
                1
            }
        } else if node_id > 0 {
            node_id as u64
        } else {
            return Err("shard-replicas is set but node-id is not".into());
        };
        let me = if peers.is_empty() {
            let bus = if cluster_port > 0 {
                cluster_port
            } else {
                port + 10000
            };
            Peer {
                id: node_id,
                client_addr: format!("127.0.0.1:{port}"),
                bus_addr: format!("127.0.0.1:{bus}"),
            }
        } else {
            peers
                .iter()
                .find(|p| p.id == node_id)
                .cloned()
                .ok_or_else(|| format!("node-id {node_id} is not listed in shard-replicas"))?
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let storage = open_storage(&dir, fsync)?;
        let started = Instant::now();
        let registry = GrpcRegistry::new();
        let repl = Replication::launch(
            storage,
            node.shard.keyspace_arc(),
            SHARD_GROUP,
            node_id,
            me.member_addr(),
            &grpc_peers(node_timeout),
            registry.clone(),
            peers.clone(),
            node_timeout,
        )
        .await?;
        let group = repl.group.clone();
        if !peers.is_empty() {
            let listener = tokio::net::TcpListener::bind(bind_any(&me.bus_addr))
                .await
                .map_err(|e| format!("cannot listen on cluster bus {}: {e}", me.bus_addr))?;
            let registry = repl.registry.clone();
            let mut sig = node.shutdown_signal();
            let task = tokio::spawn(async move {
                let stop = async move {
                    let _ = sig.wait_for(|s| *s).await;
                };
                if let Err(e) = raft::grpc::serve(listener, registry, stop).await {
                    warn!(error = %e, "cluster bus stopped");
                }
            });
            *repl.bus.lock() = Some(task);
        }
        let members: BTreeMap<NodeId, raft::Node> = if peers.is_empty() {
            [(node_id, raft::Node::new(me.member_addr()))].into()
        } else {
            peers
                .iter()
                .map(|p| (p.id, raft::Node::new(p.member_addr())))
                .collect()
        };
        // The lowest id creates a new group; the others learn of it from the first leader's messages.
        if peers.is_empty() || peers.iter().map(|p| p.id).min() == Some(node_id) {
            let created = group.initialize(members).await.map_err(|e| e.to_string())?;
            if created {
                info!(
                    node_id,
                    voters = peers.len().max(1),
                    "created a new shard group"
                );
            }
        }
        if peers.is_empty() {
            // A single voter serves local reads without a quorum round, so it must have applied everything
            // committed before the first client comes.
            group
                .wait_for_leader(Duration::from_secs(30))
                .await
                .map_err(|e| format!("no leader after restart: {e}"))?;
            let last = group.metrics().last_log_index;
            let _ = group
                .raft()
                .wait(Some(Duration::from_secs(600)))
                .applied_index_at_least(last, "log replayed")
                .await;
        }
        let m = group.metrics();
        info!(
            node_id,
            last_log = ?m.last_log_index,
            applied = ?m.last_applied.map(|l| l.index),
            keys = node.shard.lock().keyspace().len(),
            ms = started.elapsed().as_millis() as u64,
            "shard group started"
        );
        repl.persistence
            .base_size
            .store(repl.storage.size_on_disk().unwrap_or(0), Ordering::Relaxed);
        Ok(repl)
    }

    /// Commit-only AppendEntries the transport answered without sending them (see `raft::coalesce`), over all
    /// groups and peers of the node.
    pub fn appends_coalesced(&self) -> u64 {
        self.transport.commits_coalesced()
    }

    /// Estimated bytes the log keeps in memory (recent entries, the index of un-purged ones): left out of
    /// `maxmemory`, as Redis leaves out its AOF buffer, since evicting keys cannot free them.
    pub fn log_memory(&self) -> u64 {
        self.group.log_cache_bytes()
            + self.live_log_entries.load(Ordering::Relaxed) * LOG_INDEX_ENTRY_BYTES
    }

    /// Starts group `group_id` over `keyspace` with the node's shared storage, transport and registry (which then
    /// serves it to peers); the group still has to be initialized if it is new.
    #[allow(clippy::too_many_arguments)]
    pub async fn launch(
        storage: NodeStorage,
        keyspace: Arc<parking_lot::Mutex<store::Keyspace>>,
        group_id: u64,
        node_id: NodeId,
        member_addr: String,
        peers_net: &GrpcPeers,
        registry: GrpcRegistry,
        peers: Vec<Peer>,
        node_timeout_ms: u64,
    ) -> Result<Arc<Replication>, String> {
        let mut gc = group_config(group_id, node_id, member_addr, node_timeout_ms);
        // Snapshots follow Redis' triggers (`save`, `auto-aof-rewrite-*`, SAVE, BGSAVE, BGREWRITEAOF).
        gc.raft.snapshot_policy = openraft::SnapshotPolicy::Never;
        let group = ShardGroup::start(&storage, keyspace, peers_net.network(group_id), gc)
            .await
            .map_err(|e| e.to_string())?;
        registry.register(group_id, group.raft().clone());
        let repl = Arc::new(Replication {
            node_id,
            peers,
            storage,
            group: group.clone(),
            persistence: Persistence::default(),
            registry,
            transport: peers_net.clone(),
            bus: parking_lot::Mutex::new(None),
            sole_leader: AtomicBool::new(false),
            live_log_entries: AtomicU64::new(0),
        });
        {
            let repl = Arc::downgrade(&repl);
            let mut rx = group.raft().metrics();
            tokio::spawn(async move {
                loop {
                    let (sole, live) = {
                        let m = rx.borrow_and_update();
                        let mut voters = m.membership_config.membership().voter_ids();
                        let sole = m.state == openraft::ServerState::Leader
                            && m.current_leader == Some(node_id)
                            && voters.next() == Some(node_id)
                            && voters.next().is_none();
                        let last = m.last_log_index.unwrap_or(0);
                        let purged = m.purged.map_or(0, |p| p.index);
                        (sole, last.saturating_sub(purged))
                    };
                    match repl.upgrade() {
                        Some(r) => {
                            r.sole_leader.store(sole, Ordering::Release);
                            r.live_log_entries.store(live, Ordering::Relaxed);
                        }
                        None => return,
                    }
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            });
        }
        let p = &repl.persistence;
        p.lastsave.store(unix_ms() / 1000, Ordering::Relaxed);
        p.last_ok.store(true, Ordering::Relaxed);
        p.last_secs.store(-1, Ordering::Relaxed);
        p.base_size
            .store(repl.storage.size_on_disk().unwrap_or(0), Ordering::Relaxed);
        Ok(repl)
    }

    /// Whether this node is the shard's only voter and leads it: local reads need no quorum round then.
    pub fn sole_leader(&self) -> bool {
        self.sole_leader.load(Ordering::Acquire)
    }

    /// The other members of the shard with the log index each holds (known on the leader only).
    pub fn replicas(&self, m: &raft::typ::RaftMetrics) -> Vec<ReplicaView> {
        m.membership_config
            .membership()
            .nodes()
            .filter(|(id, _)| **id != self.node_id)
            .map(|(id, n)| {
                let (host, port) = client_host_port(&n.addr);
                ReplicaView {
                    id: *id,
                    host: host.to_string(),
                    port: port.to_string(),
                    matched: m
                        .replication
                        .as_ref()
                        .and_then(|rep| rep.get(id).cloned().flatten())
                        .map(|l| l.index),
                }
            })
            .collect()
    }

    /// The client host and port of the leader this node knows of.
    pub fn leader_client(&self) -> Option<(String, String)> {
        self.group.leader().map(|(_, addr)| {
            let (h, p) = client_host_port(&addr);
            (h.to_string(), p.to_string())
        })
    }

    /// Whether the leader's lease still covers a local read: a quorum acknowledged it within half the minimum
    /// election timeout (no other leader can have been elected since) and it has applied its whole log. openraft
    /// may date an acknowledgement up to the commit window late (`raft::coalesce`), so the lease is that much
    /// shorter.
    pub fn lease_valid(&self) -> bool {
        let m = self.group.metrics();
        let raft = &self.group.config().raft;
        let window = raft::commit_window(raft.heartbeat_interval).as_millis() as u64;
        let lease = (raft.election_timeout_min / 2).saturating_sub(window);
        m.millis_since_quorum_ack.is_some_and(|ms| ms < lease)
            && m.last_applied.map(|l| l.index) == m.last_log_index
    }

    /// Builds a snapshot (SAVE, BGSAVE, BGREWRITEAOF, automatic triggers); the log up to it is then purged.
    /// Returns an error reply if one is already running or the build fails.
    pub async fn save(&self, rewrite: bool) -> Result<(), Frame> {
        let p = &self.persistence;
        if p.in_progress.swap(true, Ordering::AcqRel) {
            return Err(Frame::error("ERR Background save already in progress"));
        }
        p.rewrite_in_progress.store(rewrite, Ordering::Relaxed);
        let start = unix_ms();
        p.started_ms.store(start, Ordering::Relaxed);
        let dirty = self.group.apply_stats().dirty.load(Ordering::Relaxed);
        let res = self.group.snapshot(SAVE_TIMEOUT).await;
        let elapsed = (unix_ms() - start) / 1000;
        p.last_secs.store(elapsed, Ordering::Relaxed);
        let out = match res {
            Ok(report) => {
                // openraft purges the log right after the snapshot is installed; give it a moment.
                tokio::time::sleep(Duration::from_millis(50)).await;
                p.base_size
                    .store(self.storage.size_on_disk().unwrap_or(0), Ordering::Relaxed);
                p.last_ok.store(true, Ordering::Relaxed);
                p.lastsave.store(unix_ms() / 1000, Ordering::Relaxed);
                p.dirty_at_save.store(dirty, Ordering::Relaxed);
                p.last_longest_hold_us
                    .store(report.longest_hold.as_micros() as u64, Ordering::Relaxed);
                p.last_saved_keys
                    .store(report.saved_keys, Ordering::Relaxed);
                p.last_saved_peak_bytes
                    .store(report.saved_peak_bytes, Ordering::Relaxed);
                // Counted once the next save may start, so a client that sees the count can ask for another.
                p.in_progress.store(false, Ordering::Release);
                p.saves.fetch_add(1, Ordering::Relaxed);
                if rewrite {
                    p.rewrites.fetch_add(1, Ordering::Relaxed);
                }
                info!(
                    keys = report.keys,
                    bytes = report.bytes,
                    longest_hold_us = report.longest_hold.as_micros() as u64,
                    saved_keys = report.saved_keys,
                    total_ms = report.total.as_millis() as u64,
                    "DB saved on disk"
                );
                Ok(())
            }
            Err(e) => {
                p.last_ok.store(false, Ordering::Relaxed);
                p.in_progress.store(false, Ordering::Release);
                warn!(error = %e, "snapshot failed");
                Err(Frame::error_owned(format!("ERR snapshot failed: {e}")))
            }
        };
        out
    }

    /// Changes applied since the last snapshot (`rdb_changes_since_last_save`).
    pub fn dirty_since_save(&self) -> u64 {
        self.group
            .apply_stats()
            .dirty
            .load(Ordering::Relaxed)
            .saturating_sub(self.persistence.dirty_at_save.load(Ordering::Relaxed))
    }

    /// Stops the group and flushes the log (graceful shutdown).
    pub async fn shutdown(&self) {
        if let Err(e) = self.group.shutdown().await {
            warn!(error = %e, "stopping the shard group");
        }
        if let Err(e) = self.storage.close().await {
            warn!(error = %e, "flushing the log at shutdown");
        }
        if let Some(t) = self.bus.lock().take() {
            t.abort();
        }
    }
}

/// The settings of a group on this node: `cluster-node-timeout` (ms) is the minimum election timeout, 1.5 times
/// it the maximum, a quarter of it the heartbeat (100 gives openraft's timing of 25 / 100-150 ms).
pub fn group_config(
    group_id: u64,
    node_id: NodeId,
    addr: String,
    node_timeout_ms: u64,
) -> GroupConfig {
    let mut gc = GroupConfig::new(group_id, node_id, addr);
    let t = node_timeout_ms.max(20);
    gc.raft.election_timeout_min = t;
    gc.raft.election_timeout_max = t + t / 2;
    gc.raft.heartbeat_interval = heartbeat_ms(node_timeout_ms);
    gc
}

/// The heartbeat interval of the groups for `cluster-node-timeout` (ms).
fn heartbeat_ms(node_timeout_ms: u64) -> u64 {
    (node_timeout_ms.max(20) / 4).max(5)
}

/// The node's gRPC transport to its peers, coalescing commit-only AppendEntries within the window of the groups'
/// heartbeat (see `raft::coalesce`).
pub fn grpc_peers(node_timeout_ms: u64) -> GrpcPeers {
    GrpcPeers::with_commit_window(raft::commit_window(heartbeat_ms(node_timeout_ms)))
}

/// Opens the node's log and snapshot store under `dir` with the fsync policy.
pub fn open_storage(dir: &std::path::Path, fsync: FsyncPolicy) -> Result<NodeStorage, String> {
    let options = StorageOptions {
        fsync,
        ..StorageOptions::default()
    };
    NodeStorage::open(dir, &options)
        .map_err(|e| format!("cannot open the log in {}: {e}", dir.display()))
}

/// The address a cluster-bus listener binds for `bus_addr`.
pub fn bind_any(bus_addr: &str) -> String {
    // Peers reach the bus on the configured host; listen on every interface of that port so containers and
    // loopback both work.
    format!("0.0.0.0:{}", bus_port(bus_addr))
}

/// The reply for a write or linearizable read this node cannot serve.
pub fn not_served(e: &WriteError) -> Frame {
    match e {
        WriteError::ForwardToLeader { .. } => {
            Frame::error("READONLY You can't write against a read only replica.")
        }
        WriteError::NoLeader => {
            Frame::error("TRYAGAIN No leader elected for this shard yet, retry shortly")
        }
        WriteError::Fatal(m) => Frame::error_owned(format!("ERR replication failed: {m}")),
    }
}

/// Runs Redis' automatic persistence triggers once a second: `save <seconds> <changes>` points and
/// `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size` over the log's size.
pub async fn cron(node: Arc<Node>, repl: Arc<Replication>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if repl.group.metrics().running_state.is_err() {
            // The group stopped: its replica left this node (cluster move-replica), or the node shuts down.
            return;
        }
        if repl.persistence.in_progress.load(Ordering::Relaxed) {
            continue;
        }
        let (points, pct, min_size) = {
            let c = node.config.read();
            (
                save_points(c.get("save")),
                c.get_i64("auto-aof-rewrite-percentage"),
                c.get_i64("auto-aof-rewrite-min-size").max(0) as u64,
            )
        };
        let dirty = repl.dirty_since_save();
        let since = unix_ms() / 1000 - repl.persistence.lastsave.load(Ordering::Relaxed);
        let save_due = dirty > 0
            && points
                .iter()
                .any(|&(secs, changes)| since >= secs && dirty >= changes);
        let rewrite_due = pct > 0 && {
            let size = repl.storage.size_on_disk().unwrap_or(0);
            let base = repl.persistence.base_size.load(Ordering::Relaxed).max(1);
            size >= min_size && size.saturating_sub(base) * 100 / base >= pct as u64
        };
        if save_due || rewrite_due {
            let repl = repl.clone();
            tokio::spawn(async move {
                let _ = repl.save(rewrite_due && !save_due).await;
            });
        }
    }
}

fn save_points(text: &str) -> Vec<(i64, u64)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .chunks(2)
        .filter_map(|c| match c {
            [s, n] => Some((s.parse().ok()?, n.parse().ok()?)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_with_default_and_explicit_bus_ports() {
        let p = parse_peers("1@127.0.0.1:7001 2@10.0.0.2:7002@17777").unwrap();
        assert_eq!(p[0].bus_addr, "127.0.0.1:17001");
        assert_eq!(p[1].bus_addr, "10.0.0.2:17777");
        assert_eq!(p[1].member_addr(), "10.0.0.2:7002@17777");
        assert_eq!(
            client_host_port("10.0.0.2:7002@17777"),
            ("10.0.0.2", "7002")
        );
        assert_eq!(
            raft::grpc::bus_addr("10.0.0.2:7002@17777"),
            "10.0.0.2:17777"
        );
        assert!(parse_peers("x@1:2").is_err());
        assert!(parse_peers("1@h:1 1@h:2").is_err());
        assert!(parse_peers("0@h:1").is_err());
        assert!(parse_peers("1@h").is_err());
        assert!(parse_peers("").unwrap().is_empty());
    }

    #[test]
    fn peers_may_be_host_names() {
        // Compose service names: the gRPC channel resolves them on every connect, so a restarted container's new
        // address is found.
        let p = parse_peers("1@shoal1:6379 2@shoal2.example:6379@17000").unwrap();
        assert_eq!(p[0].bus_addr, "shoal1:16379");
        assert_eq!(p[0].member_addr(), "shoal1:6379@16379");
        assert_eq!(raft::grpc::bus_addr(&p[0].member_addr()), "shoal1:16379");
        assert_eq!(
            client_host_port(&p[1].member_addr()),
            ("shoal2.example", "6379")
        );
        assert_eq!(bind_any(&p[1].bus_addr), "0.0.0.0:17000");
    }

    #[test]
    fn save_points_pair_up() {
        assert_eq!(save_points("3600 1 300 100"), vec![(3600, 1), (300, 100)]);
        assert!(save_points("").is_empty());
    }
}
