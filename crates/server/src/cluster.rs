//! Cluster mode (`cluster-enabled yes`): the node hosts one [`Shard`] (keyspace and Raft group) per shard it has a
//! replica of, a replica of the metadata group if it is one of its voters, and gossips with every other node over
//! the cluster bus.
//!
//! - Identity and metadata arrive once, from `shoal-server cluster create` (`CLUSTER BOOTSTRAP`), and are kept in
//!   `<dir>/shoal/cluster.state` so a restart rejoins with the same groups.
//! - The metadata group ([`cluster::META_GROUP`]) is the authority: a change is a compare-and-set entry; every
//!   voter adopts what it applies, and gossip carries it to the other nodes, which adopt any newer epoch.
//! - Gossip also carries who leads each shard (with its Raft term). Together with the node's own Raft state that
//!   makes the [`View`] every command is routed with ([`cluster::route`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use cluster::{
    meta_group, pick_leader, Gossip, LeaderNews, Metadata, NodeId, ShardId, View, META_GROUP,
};
use parking_lot::{Mutex, RwLock};
use raft::{GrpcPeers, GrpcRegistry, NodeStorage, ShardGroup};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::node::Node;
use crate::replication::{fsync_policy, group_config, open_storage, Replication};
use crate::shard::Shard;

// A child module (its file beside this one) so that it reaches the node's groups and registry.
#[path = "membership.rs"]
pub mod membership;

/// How often a node gossips with each other node.
const GOSSIP_INTERVAL: Duration = Duration::from_millis(100);
/// Longest wait for one gossip answer.
const GOSSIP_TIMEOUT: Duration = Duration::from_millis(500);
/// A node not heard from for this long is shown as failed (`CLUSTER NODES`, `CLUSTER SHARDS`).
pub const NODE_TIMEOUT: Duration = Duration::from_millis(2000);

/// The cluster side of a node.
pub struct ClusterNode {
    node: Weak<Node>,
    storage: NodeStorage,
    peers: GrpcPeers,
    registry: GrpcRegistry,
    state_path: PathBuf,
    me: AtomicU64,
    meta: RwLock<Arc<Metadata>>,
    shards: RwLock<BTreeMap<ShardId, Arc<Shard>>>,
    meta_group: Mutex<Option<ShardGroup>>,
    news: Mutex<LeaderNews>,
    seen: Mutex<HashMap<NodeId, Instant>>,
    view: RwLock<Arc<View>>,
    /// Serializes adoptions of metadata (group starts are async).
    adopting: tokio::sync::Mutex<()>,
    bus_port: u16,
    node_timeout_ms: u64,
    gossip_sent: AtomicU64,
    gossip_received: AtomicU64,
    /// Pub/sub messages to and from the other nodes.
    forwarder: std::sync::OnceLock<Arc<crate::forward::Forwarder>>,
}

impl ClusterNode {
    /// Opens the node's storage, listens on the cluster bus, and rejoins the cluster recorded in
    /// `cluster.state` if there is one.
    pub async fn start(node: &Arc<Node>) -> Result<Arc<ClusterNode>, String> {
        let (dir, port, cluster_port, fsync, node_timeout_ms) = {
            let c = node.config.read();
            (
                PathBuf::from(c.get("dir")).join("shoal"),
                c.get_i64("port"),
                c.get_i64("cluster-port"),
                fsync_policy(&c),
                c.get_i64("cluster-node-timeout") as u64,
            )
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let storage = open_storage(&dir, fsync)?;
        let bus_port = if cluster_port > 0 {
            cluster_port
        } else {
            port + 10000
        };
        let bus_port = u16::try_from(bus_port).map_err(|_| "cluster bus port out of range")?;
        let c = Arc::new(ClusterNode {
            node: Arc::downgrade(node),
            storage,
            peers: crate::replication::grpc_peers(node_timeout_ms),
            registry: GrpcRegistry::new(),
            state_path: dir.join("cluster.state"),
            me: AtomicU64::new(0),
            meta: RwLock::new(Arc::new(Metadata::default())),
            shards: RwLock::new(BTreeMap::new()),
            meta_group: Mutex::new(None),
            news: Mutex::new(LeaderNews::default()),
            seen: Mutex::new(HashMap::new()),
            view: RwLock::new(Arc::new(View::default())),
            adopting: tokio::sync::Mutex::new(()),
            bus_port,
            node_timeout_ms,
            gossip_sent: AtomicU64::new(0),
            gossip_received: AtomicU64::new(0),
            forwarder: std::sync::OnceLock::new(),
        });
        {
            // PUBLISH and SPUBLISH reach the other nodes' subscribers through the forwarder; what peers forward
            // is delivered here.
            let f = Arc::new(crate::forward::Forwarder::new(
                Arc::downgrade(&c),
                c.peers.clone(),
            ));
            let _ = c.forwarder.set(f.clone());
            let out = Arc::downgrade(&f);
            node.pubsub
                .set_forward(Arc::new(move |channel, message, shard| {
                    if let Some(f) = out.upgrade() {
                        f.publish(channel, message, shard);
                    }
                }));
            let (inbound, pubsub) = (Arc::downgrade(&f), node.pubsub.clone());
            c.registry.set_publish(Arc::new(move |messages| {
                if let Some(f) = inbound.upgrade() {
                    f.receive(&pubsub, messages);
                }
            }));
        }
        {
            let weak = Arc::downgrade(&c);
            c.registry
                .set_gossip(Arc::new(move |payload| match weak.upgrade() {
                    Some(c) => {
                        c.receive(&payload);
                        c.gossip_message().encode()
                    }
                    None => Vec::new(),
                }));
        }
        let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{bus_port}"))
            .await
            .map_err(|e| format!("cannot listen on cluster bus port {bus_port}: {e}"))?;
        let registry = c.registry.clone();
        let mut sig = node.shutdown_signal();
        tokio::spawn(async move {
            let stop = async move {
                let _ = sig.wait_for(|s| *s).await;
            };
            if let Err(e) = raft::grpc::serve(listener, registry, stop).await {
                warn!(error = %e, "cluster bus stopped");
            }
        });
        if let Some((me, meta)) = c.load_state()? {
            info!(node_id = me, epoch = meta.epoch, "rejoining the cluster");
            c.adopt(me, meta, false).await?;
        } else {
            info!("cluster mode: waiting for `shoal-server cluster create`");
        }
        tokio::spawn(c.clone().gossip_loop());
        tokio::spawn(membership::follow_meta_voters(Arc::downgrade(&c)));
        crate::migration::spawn_driver(Arc::downgrade(&c));
        Ok(c)
    }

    /// This node's replica of the metadata group, if it is one of its voters.
    pub fn meta_group(&self) -> Option<ShardGroup> {
        self.meta_group.lock().clone()
    }

    /// The node this is the cluster side of (`None` once it is dropped).
    pub fn node(&self) -> Option<Arc<Node>> {
        self.node.upgrade()
    }

    /// This node's id (0 before the cluster is created).
    pub fn me(&self) -> NodeId {
        self.me.load(Ordering::Acquire)
    }

    /// The metadata in force here.
    pub fn meta(&self) -> Arc<Metadata> {
        self.meta.read().clone()
    }

    /// The routing view: metadata and the leaders known now.
    pub fn view(&self) -> Arc<View> {
        self.view.read().clone()
    }

    /// This node's replica of `shard`, if it hosts one.
    pub fn shard(&self, id: ShardId) -> Option<Arc<Shard>> {
        self.shards.read().get(&id).cloned()
    }

    /// Every shard hosted here, by id.
    pub fn shards(&self) -> Vec<(ShardId, Arc<Shard>)> {
        self.shards
            .read()
            .iter()
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }

    /// Pub/sub forwarding to and from the other nodes.
    pub fn forwarder(&self) -> Option<&Arc<crate::forward::Forwarder>> {
        self.forwarder.get()
    }

    /// The node's storage (shared by all its groups).
    pub fn storage(&self) -> &NodeStorage {
        &self.storage
    }

    /// The shard keyless commands (DBSIZE, SCAN, FLUSHALL, INFO keyspace, ROLE...) run against: the lowest shard
    /// this node leads, else the lowest it hosts.
    pub fn default_shard(&self) -> Option<(ShardId, Arc<Shard>)> {
        let view = self.view();
        let shards = self.shards.read();
        shards
            .iter()
            .find(|(id, _)| view.leaders.get(id) == Some(&view.me))
            .or_else(|| shards.iter().next())
            .map(|(id, s)| (*id, s.clone()))
    }

    /// When `node` was last heard from (this node: now).
    pub fn last_seen(&self, node: NodeId) -> Option<Instant> {
        if node == self.me() {
            return Some(Instant::now());
        }
        self.seen.lock().get(&node).copied()
    }

    /// Whether `node` answered gossip recently.
    pub fn is_alive(&self, node: NodeId) -> bool {
        self.last_seen(node)
            .is_some_and(|t| t.elapsed() < NODE_TIMEOUT)
    }

    /// Gossip messages sent and received (`cluster_stats_messages_*`).
    pub fn gossip_counts(&self) -> (u64, u64) {
        (
            self.gossip_sent.load(Ordering::Relaxed),
            self.gossip_received.load(Ordering::Relaxed),
        )
    }

    /// The log index each replica of `shard` is known to hold, as far as this node knows (its own applied index;
    /// every replica's if it leads the shard).
    pub fn replication_offsets(&self, shard: ShardId) -> HashMap<NodeId, u64> {
        let mut out = HashMap::new();
        let Some(r) = self.shard(shard).and_then(|s| s.replication().cloned()) else {
            return out;
        };
        let m = r.group.metrics();
        out.insert(self.me(), m.last_applied.map_or(0, |l| l.index));
        if let Some(rep) = &m.replication {
            for (id, l) in rep {
                if let Some(l) = l {
                    out.insert(*id, l.index);
                }
            }
        }
        out
    }

    /// The cluster-bus port this node listens on.
    pub fn bus_port(&self) -> u16 {
        self.bus_port
    }

    fn load_state(&self) -> Result<Option<(NodeId, Metadata)>, String> {
        let buf = match std::fs::read(&self.state_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", self.state_path.display())),
        };
        let bad = || format!("{} is damaged", self.state_path.display());
        if buf.len() < 12 {
            return Err(bad());
        }
        let crc = u32::from_le_bytes(buf[..4].try_into().map_err(|_| bad())?);
        if crc32fast::hash(&buf[4..]) != crc {
            return Err(bad());
        }
        let me = u64::from_le_bytes(buf[4..12].try_into().map_err(|_| bad())?);
        let meta = Metadata::decode(&buf[12..])?;
        Ok(Some((me, meta)))
    }

    fn save_state(&self, me: NodeId, meta: &Metadata) -> Result<(), String> {
        let mut body = me.to_le_bytes().to_vec();
        body.extend_from_slice(&meta.encode());
        let mut buf = crc32fast::hash(&body).to_le_bytes().to_vec();
        buf.extend_from_slice(&body);
        let tmp = self.state_path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&buf)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.state_path)?;
            if let Some(dir) = self.state_path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| format!("cannot write {}: {e}", self.state_path.display()))
    }

    /// `CLUSTER BOOTSTRAP`: this node becomes node `me` of the cluster `meta` describes, creating the groups it
    /// is the first replica of. Running it again with the same layout changes nothing.
    pub async fn bootstrap(self: &Arc<Self>, me: NodeId, meta: Metadata) -> Result<(), String> {
        let current = self.meta();
        if self.me() != 0 {
            if self.me() == me && current.nodes == meta.nodes && current.shards == meta.shards {
                return Ok(());
            }
            return Err(format!(
                "this node is already node {} of a cluster",
                self.me()
            ));
        }
        if meta.epoch != 1 {
            return Err("a new cluster's metadata starts at epoch 1".into());
        }
        self.adopt(me, meta, true).await
    }

    /// Makes `meta` the metadata in force here (if newer than the current copy), records it, and starts the
    /// groups it gives this node. With `create`, new groups whose first replica is this node are initialized.
    ///
    /// Boxed, with its `Send` bound spelled out: it starts the task that follows the metadata group, which calls
    /// it again.
    fn adopt(
        self: &Arc<Self>,
        me: NodeId,
        meta: Metadata,
        create: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(self.adopt_now(me, meta, create))
    }

    async fn adopt_now(
        self: &Arc<Self>,
        me: NodeId,
        meta: Metadata,
        create: bool,
    ) -> Result<(), String> {
        let _g = self.adopting.lock().await;
        let current = self.meta();
        let mine = self.me();
        if mine != 0 && (mine != me || meta.epoch <= current.epoch) {
            return Ok(());
        }
        if !meta.nodes.contains_key(&me) {
            if mine == me && mine != 0 {
                return self.leave().await;
            }
            return Err(format!("node {me} is not part of that cluster"));
        }
        meta.validate()?;
        self.save_state(me, &meta)?;
        self.me.store(me, Ordering::Release);
        let meta = Arc::new(meta);
        *self.meta.write() = meta.clone();
        info!(node_id = me, epoch = meta.epoch, "cluster metadata adopted");
        let Some(node) = self.node.upgrade() else {
            return Err("node stopped".into());
        };
        let addr = meta.nodes[&me].member_addr();
        for id in meta.hosted_by(me) {
            if self.shards.read().contains_key(&id) {
                continue;
            }
            let info = &meta.shards[&id];
            // Staggered election priority: the other replicas wait half as long again before standing, so after
            // a lost heartbeat the preferred leader (the first replica, spread evenly by `cluster create`) is the
            // first candidate and leaders stay spread across the nodes.
            let timeout = if info.replicas.first() == Some(&me) {
                self.node_timeout_ms
            } else {
                self.node_timeout_ms + self.node_timeout_ms / 2
            };
            let shard = Arc::new(Shard::new());
            shard.lock().keyspace_mut().config.notify.sink =
                Some(crate::pubsub::keyspace_event_sink(node.pubsub.clone()));
            let repl = Replication::launch(
                self.storage.clone(),
                shard.keyspace_arc(),
                id,
                me,
                addr.clone(),
                &self.peers,
                self.registry.clone(),
                Vec::new(),
                timeout,
            )
            .await?;
            shard.set_replication(repl.clone());
            self.shards.write().insert(id, shard);
            node.refresh_hot_config();
            if create && info.replicas.first() == Some(&me) {
                let members = members(&meta, &info.replicas);
                if repl
                    .group
                    .initialize(members)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    info!(
                        shard = id,
                        voters = info.replicas.len(),
                        "created shard group"
                    );
                }
            }
            tokio::spawn(watch_leadership(Arc::downgrade(self), repl.group.clone()));
            let shard = self.shard(id).expect("just added");
            tokio::spawn(shard.blocking.clone().serve_shard(node.clone(), shard));
            tokio::spawn(crate::replication::cron(node.clone(), repl));
        }
        let voters = meta.meta_voters();
        if voters.contains(&me) && self.meta_group.lock().is_none() {
            self.start_meta_group(me, &meta, &voters, create).await?;
        }
        self.retire_shards(&meta).await;
        self.refresh_view();
        Ok(())
    }

    async fn start_meta_group(
        self: &Arc<Self>,
        me: NodeId,
        meta: &Metadata,
        voters: &[NodeId],
        create: bool,
    ) -> Result<(), String> {
        let (sm, state) =
            meta_group::MetaStateMachine::open(&self.storage).map_err(|e| e.to_string())?;
        let stats = sm.stats();
        let config = group_config(
            META_GROUP,
            me,
            meta.nodes[&me].member_addr(),
            self.node_timeout_ms,
        );
        let group = ShardGroup::start_with(
            &self.storage,
            sm,
            stats,
            self.peers.network(META_GROUP),
            config,
        )
        .await
        .map_err(|e| e.to_string())?;
        self.registry.register(META_GROUP, group.raft().clone());
        if create && voters.first() == Some(&me) {
            group
                .initialize(members(meta, voters))
                .await
                .map_err(|e| e.to_string())?;
        }
        *self.meta_group.lock() = Some(group.clone());
        tokio::spawn(follow_meta_group(Arc::downgrade(self), group, state));
        Ok(())
    }

    /// Rebuilds the routing view from the metadata, this node's Raft state and the leaders heard of.
    pub fn refresh_view(&self) {
        let meta = self.meta();
        let news = self.news.lock().clone();
        let shards = self.shards.read();
        let mut leaders = HashMap::new();
        for id in meta.shards.keys() {
            // The server metrics: openraft publishes them before the full metrics, and the watcher wakes on them.
            let local = shards.get(id).and_then(|s| s.replication()).map(|r| {
                let m = r.group.raft().server_metrics();
                let m = m.borrow();
                (m.current_leader, m.vote.leader_id().term)
            });
            if let Some(l) = pick_leader(local, news.get(*id)) {
                leaders.insert(*id, l);
            }
        }
        *self.view.write() = Arc::new(View {
            me: self.me(),
            meta,
            leaders,
        });
    }

    fn gossip_message(&self) -> Gossip {
        let meta = self.meta();
        let leaders = self
            .shards
            .read()
            .iter()
            .filter_map(|(id, s)| {
                let r = s.replication()?;
                let m = r.group.raft().metrics();
                let m = m.borrow();
                m.current_leader.map(|l| (*id, l, m.current_term))
            })
            .collect();
        Gossip {
            from: self.me(),
            epoch: meta.epoch,
            meta: if meta.epoch > 0 {
                meta.encode()
            } else {
                Vec::new()
            },
            leaders,
        }
    }

    /// Takes in a gossip message (sent to this node, or an answer to its own).
    fn receive(self: &Arc<Self>, payload: &[u8]) {
        let Some(g) = Gossip::decode(payload) else {
            return;
        };
        self.gossip_received.fetch_add(1, Ordering::Relaxed);
        if g.from == 0 {
            return;
        }
        self.seen.lock().insert(g.from, Instant::now());
        let me = self.me();
        if me != 0 && g.epoch > self.meta().epoch {
            match Metadata::decode(&g.meta) {
                Ok(meta) => {
                    let c = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = c.adopt(me, meta, false).await {
                            warn!(error = %e, "cannot adopt gossiped metadata");
                        }
                    });
                }
                Err(e) => warn!(from = g.from, error = %e, "bad metadata in gossip"),
            }
        }
        if self.news.lock().merge(&g.leaders) {
            self.refresh_view();
        }
    }

    async fn gossip_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(GOSSIP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut calls = tokio::task::JoinSet::new();
        loop {
            tick.tick().await;
            if self.node.upgrade().is_none_or(|n| n.is_shutting_down()) {
                return;
            }
            let me = self.me();
            if me == 0 {
                continue;
            }
            let payload = self.gossip_message().encode();
            for n in self.meta().nodes.values() {
                if n.id == me {
                    continue;
                }
                let (peers, payload, addr, id) =
                    (self.peers.clone(), payload.clone(), n.member_addr(), n.id);
                let c = Arc::downgrade(&self);
                self.gossip_sent.fetch_add(1, Ordering::Relaxed);
                calls.spawn(async move {
                    if let Ok(reply) = peers.gossip(id, &addr, payload, GOSSIP_TIMEOUT).await {
                        if let Some(c) = c.upgrade() {
                            c.receive(&reply);
                        }
                    }
                });
            }
            // Calls to a dead node time out; the others are answered well within the interval.
            let deadline = tokio::time::Instant::now() + GOSSIP_TIMEOUT;
            while let Ok(Some(_)) = tokio::time::timeout_at(deadline, calls.join_next()).await {}
            calls.abort_all();
        }
    }

    /// Stops every group and flushes the log (graceful shutdown).
    pub async fn shutdown(&self) {
        let group = self.meta_group.lock().take();
        if let Some(g) = group {
            let _ = g.shutdown().await;
        }
        for (_, s) in self.shards() {
            if let Some(r) = s.replication() {
                let _ = r.group.shutdown().await;
            }
        }
        if let Err(e) = self.storage.close().await {
            warn!(error = %e, "flushing the log at shutdown");
        }
    }
}

fn members(meta: &Metadata, ids: &[NodeId]) -> BTreeMap<NodeId, raft::Node> {
    ids.iter()
        .filter_map(|id| {
            meta.nodes
                .get(id)
                .map(|n| (*id, raft::Node::new(n.member_addr())))
        })
        .collect()
}

/// Rebuilds the routing view whenever a local group's role or leader changes.
async fn watch_leadership(c: Weak<ClusterNode>, group: ShardGroup) {
    let mut rx = group.raft().server_metrics();
    loop {
        match c.upgrade() {
            Some(c) => c.refresh_view(),
            None => return,
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Adopts every state the metadata group applies; and while the group is new (epoch 0), its leader seeds it with
/// the metadata `cluster create` gave (every node got the same copy, and only one seed can apply).
async fn follow_meta_group(
    c: Weak<ClusterNode>,
    group: ShardGroup,
    mut state: watch::Receiver<Arc<Metadata>>,
) {
    loop {
        let applied = state.borrow_and_update().clone();
        let Some(node) = c.upgrade() else { return };
        let me = node.me();
        let local = node.meta();
        if applied.epoch > local.epoch {
            if let Err(e) = node.adopt(me, (*applied).clone(), false).await {
                warn!(error = %e, "cannot adopt the metadata group's state");
            }
        } else if applied.epoch == 0 && local.epoch > 0 && group.is_leader() {
            match group.write(vec![meta_group::cas_op(0, &local)]).await {
                Ok(_) => info!(epoch = local.epoch, "metadata group seeded"),
                Err(e) => warn!(error = %e, "seeding the metadata group"),
            }
        }
        drop(node);
        let wait = if applied.epoch == 0 {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            r = state.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster::NodeInfo;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out: {what}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_node_adopts_newer_metadata_and_newer_leaders_from_gossip() {
        let dir = std::env::temp_dir().join(format!("shoal-cluster-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (port, bus) = (free_port(), free_port());
        let args: Vec<String> = [
            "--dir",
            &dir.display().to_string(),
            "--port",
            &port.to_string(),
            "--cluster-port",
            &bus.to_string(),
            "--cluster-enabled",
            "yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let node = Node::new(crate::config::Config::from_args(&args).unwrap());
        let c = ClusterNode::start(&node).await.unwrap();
        let _ = node.cluster.set(c.clone());
        assert_eq!(c.me(), 0);
        let me = NodeInfo {
            id: 0,
            host: "127.0.0.1".into(),
            port,
            bus_port: bus,
        };
        let first = Metadata::layout(vec![me.clone()], 1, 1).unwrap();
        c.bootstrap(1, first.clone()).await.unwrap();
        // Running it again with the same layout is accepted; another identity is refused.
        c.bootstrap(1, first.clone()).await.unwrap();
        assert!(c.bootstrap(2, first.clone()).await.is_err());
        wait_for("this node leads shard 1", || {
            c.view().leaders.get(&1) == Some(&1)
        })
        .await;

        // A newer epoch heard by gossip is adopted and recorded; an older one is ignored.
        let mut next = first.clone();
        next.epoch = 2;
        next.nodes.insert(
            2,
            NodeInfo {
                id: 2,
                host: "127.0.0.1".into(),
                port: 1,
                bus_port: 2,
            },
        );
        let news = |epoch: u64, meta: &Metadata, leaders: Vec<(ShardId, NodeId, u64)>| {
            Gossip {
                from: 2,
                epoch,
                meta: meta.encode(),
                leaders,
            }
            .encode()
        };
        c.receive(&news(2, &next, Vec::new()));
        wait_for("epoch 2 adopted", || c.meta().epoch == 2).await;
        assert_eq!(*c.meta(), next);
        c.receive(&news(1, &first, Vec::new()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(c.meta().epoch, 2);
        assert_eq!(c.load_state().unwrap(), Some((1, next.clone())));
        assert!(c.last_seen(2).is_some());

        // A leader of a later term than this node's own Raft state wins the routing view; an older one does not.
        c.receive(&news(2, &next, vec![(1, 2, 1)]));
        assert_eq!(c.view().leaders.get(&1), Some(&1));
        c.receive(&news(2, &next, vec![(1, 2, 1_000)]));
        assert_eq!(c.view().leaders.get(&1), Some(&2));

        node.shutdown();
        c.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
