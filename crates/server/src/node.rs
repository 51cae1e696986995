//! The node: shared state, listeners, background tasks and shutdown.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::clients::Clients;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::shard::Shard;
use crate::slowlog::Slowlog;

/// Wall-clock Unix time in milliseconds: the time a leader stamps into writes.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Counters for `INFO stats`.
#[derive(Default)]
pub struct Stats {
    /// Connections accepted.
    pub total_connections_received: AtomicU64,
    /// Connections refused over `maxclients`.
    pub rejected_connections: AtomicU64,
    /// Commands executed.
    pub total_commands_processed: AtomicU64,
    /// Bytes read from clients.
    pub total_net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub total_net_output_bytes: AtomicU64,
    /// Error replies sent.
    pub total_error_replies: AtomicU64,
}

/// Per-command counters for `INFO commandstats`.
#[derive(Default, Clone, Copy, Debug)]
pub struct CommandStat {
    /// Successful and failed executions.
    pub calls: u64,
    /// Total microseconds spent.
    pub usec: u64,
    /// Refused before execution (arity, auth, ...).
    pub rejected_calls: u64,
    /// Executed but replied with an error.
    pub failed_calls: u64,
}

/// Values read on every command, kept as atomics so the hot path takes no lock.
#[derive(Default)]
pub struct HotConfig {
    /// `slowlog-log-slower-than` in microseconds (negative disables).
    pub slowlog_slower_than: AtomicI64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: AtomicU64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: AtomicU64,
    /// `client-query-buffer-limit`.
    pub query_buffer_limit: AtomicU64,
    /// `maxclients`.
    pub maxclients: AtomicU64,
    /// Whether `requirepass` is set.
    pub auth_required: AtomicBool,
    /// `hz`.
    pub hz: AtomicU64,
    /// `active-expire-effort` (1-10).
    pub active_expire_effort: AtomicU64,
    /// `timeout`: seconds a client may stay idle before it is closed (0: never).
    pub client_timeout: AtomicU64,
    /// `tcp-keepalive`: seconds between TCP keepalive probes on client sockets (0: off).
    pub tcp_keepalive: AtomicU64,
    /// `read-consistency lease`: a leader serves reads under its lease instead of a quorum round.
    pub lease_reads: AtomicBool,
}

/// Everything the connections of one node share.
pub struct Node {
    /// The configuration as `CONFIG GET` shows it.
    pub config: RwLock<Config>,
    /// Hot copies of some configuration values.
    pub hot: HotConfig,
    /// The node's single shard outside cluster mode (in cluster mode it stays empty: see [`Node::cluster`]).
    pub shard: Arc<Shard>,
    /// Cluster mode: the shards this node hosts, metadata, gossip.
    pub cluster: OnceLock<Arc<crate::cluster::ClusterNode>>,
    /// Connected clients.
    pub clients: Clients,
    /// Counters.
    pub stats: Stats,
    /// Per-command counters, by full command name (`client|list`).
    pub command_stats: Mutex<HashMap<String, CommandStat, foldhash::fast::RandomState>>,
    /// The slow log.
    pub slowlog: Mutex<Slowlog>,
    /// 40 hex characters identifying this run.
    pub run_id: String,
    /// When the node started.
    pub started: Instant,
    /// Addresses actually bound.
    pub bound: Mutex<Vec<SocketAddr>>,
    /// Error replies by code (`ERR`, `WRONGTYPE`, ...) for `INFO errorstats`.
    pub error_stats: Mutex<BTreeMap<String, u64>>,
    /// Instantaneous rates and memory peak for `INFO`.
    pub metrics: Metrics,
    /// Replication id shown by `INFO replication` (40 hex characters, distinct from `run_id`).
    pub replid: String,
    /// `used_memory` when the node was created (`used_memory_startup`).
    pub memory_startup: usize,
    /// Clients blocked on keys of the node's only shard (BLPOP, ...): `shard.blocking`. In cluster mode each
    /// hosted shard has its own registry.
    pub blocking: Arc<crate::blocking::Blocking>,
    /// Pub/sub subscriptions and delivery.
    pub pubsub: Arc<crate::pubsub::PubSub>,
    /// `maxmemory` enforcement.
    pub evictor: crate::evict::Evictor,
    shutdown_tx: watch::Sender<bool>,
}

impl Node {
    /// A node with `config`, not yet listening.
    pub fn new(config: Config) -> Arc<Node> {
        let (shutdown_tx, _) = watch::channel(false);
        let shard = Arc::new(Shard::new());
        let node = Arc::new(Node {
            config: RwLock::new(config),
            hot: HotConfig::default(),
            blocking: shard.blocking.clone(),
            shard,
            cluster: OnceLock::new(),
            clients: Clients::default(),
            stats: Stats::default(),
            command_stats: Mutex::new(HashMap::default()),
            slowlog: Mutex::new(Slowlog::default()),
            run_id: make_run_id(),
            started: Instant::now(),
            bound: Mutex::new(Vec::new()),
            error_stats: Mutex::new(BTreeMap::new()),
            metrics: Metrics::default(),
            replid: make_run_id(),
            memory_startup: crate::alloc::allocated(),
            pubsub: Arc::default(),
            evictor: Default::default(),
            shutdown_tx,
        });
        node.shard.lock().keyspace_mut().config.notify.sink =
            Some(crate::pubsub::keyspace_event_sink(node.pubsub.clone()));
        node.refresh_hot_config();
        node
    }

    /// Copies configuration values read on the hot path into atomics; call after every change.
    pub fn refresh_hot_config(&self) {
        let c = self.config.read();
        let h = &self.hot;
        h.slowlog_slower_than
            .store(c.get_i64("slowlog-log-slower-than"), Ordering::Relaxed);
        h.slowlog_max_len
            .store(c.get_i64("slowlog-max-len") as u64, Ordering::Relaxed);
        h.proto_max_bulk_len
            .store(c.get_i64("proto-max-bulk-len") as u64, Ordering::Relaxed);
        h.query_buffer_limit.store(
            c.get_i64("client-query-buffer-limit") as u64,
            Ordering::Relaxed,
        );
        h.maxclients
            .store(c.get_i64("maxclients") as u64, Ordering::Relaxed);
        h.auth_required
            .store(!c.get("requirepass").is_empty(), Ordering::Relaxed);
        h.hz.store(c.get_i64("hz").max(1) as u64, Ordering::Relaxed);
        h.active_expire_effort.store(
            c.get_i64("active-expire-effort").clamp(1, 10) as u64,
            Ordering::Relaxed,
        );
        h.client_timeout
            .store(c.get_i64("timeout").max(0) as u64, Ordering::Relaxed);
        h.tcp_keepalive
            .store(c.get_i64("tcp-keepalive").max(0) as u64, Ordering::Relaxed);
        h.lease_reads
            .store(c.get("read-consistency") == "lease", Ordering::Relaxed);
        let proto_max_bulk_len = c.get_i64("proto-max-bulk-len") as u64;
        let size = |name: &str| usize::try_from(c.get_i64(name)).unwrap_or(usize::MAX);
        let (hash_entries, hash_value, set_entries) = (
            size("hash-max-listpack-entries"),
            size("hash-max-listpack-value"),
            size("set-max-intset-entries"),
        );
        let zset_limits = store::zset::Limits {
            max_entries: size("zset-max-listpack-entries"),
            max_value: size("zset-max-listpack-value"),
        };
        let stream_limits = store::types::stream::NodeLimits {
            max_bytes: size("stream-node-max-bytes"),
            max_entries: size("stream-node-max-entries"),
        };
        let fsync = crate::replication::fsync_policy(&c);
        let list_max_listpack_size = c.get_i64("list-max-listpack-size") as i32;
        let list_compress_depth = c.get_i64("list-compress-depth") as i32;
        let notify_classes =
            store::notify::parse_classes(c.get("notify-keyspace-events").as_bytes()).unwrap_or(0);
        let policy = store::evict::Policy::parse(c.get("maxmemory-policy"))
            .unwrap_or(store::evict::Policy::NoEviction);
        let access = store::evict::AccessTracking {
            lfu: policy.is_lfu(),
            log_factor: c.get_i64("lfu-log-factor").clamp(0, u32::MAX as i64) as u32,
            decay_minutes: c.get_i64("lfu-decay-time").clamp(0, u32::MAX as i64) as u32,
            shared_integers: c.get_i64("maxmemory") == 0 || !policy.tracks_access(),
        };
        self.pubsub.set_limit(crate::pubsub::pubsub_limit(
            c.get("client-output-buffer-limit"),
        ));
        self.evictor.configure(
            c.get_i64("maxmemory").max(0) as u64,
            policy,
            c.get_i64("maxmemory-samples").clamp(1, 64) as usize,
            c.get_i64("maxmemory-eviction-tenacity").clamp(0, 100) as u64,
        );
        drop(c);
        if let Some(r) = self.shard.replication() {
            r.storage.flusher().set_policy(fsync);
        }
        if let Some(c) = self.cluster.get() {
            c.storage().flusher().set_policy(fsync);
        }
        for shard in self.all_shards() {
            let mut shard = shard.lock();
            let ks = &mut shard.keyspace_mut().config;
            ks.proto_max_bulk_len = proto_max_bulk_len;
            ks.list_max_listpack_size = list_max_listpack_size;
            ks.list_compress_depth = list_compress_depth;
            ks.hash_max_listpack_entries = hash_entries;
            ks.hash_max_listpack_value = hash_value;
            ks.set_max_intset_entries = set_entries;
            ks.zset_limits = zset_limits;
            ks.notify.classes = notify_classes;
            ks.access = access;
            ks.stream_node_limits = stream_limits;
        }
    }

    /// The cluster side of the node, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<crate::cluster::ClusterNode>> {
        self.cluster.get()
    }

    /// The shard keyless commands and node-wide reports (DBSIZE, SCAN, INFO keyspace, ROLE, SAVE...) use: the
    /// node's only shard, or in cluster mode the lowest shard it leads (else the lowest it hosts).
    pub fn default_shard(&self) -> Arc<Shard> {
        self.cluster()
            .and_then(|c| c.default_shard())
            .map_or_else(|| self.shard.clone(), |(_, s)| s)
    }

    /// `CLIENT UNBLOCK`: ends `client`'s wait in whichever shard's registry holds it.
    pub fn unblock(&self, client: u64, error: bool) -> bool {
        self.all_shards()
            .iter()
            .any(|s| s.blocking.unblock(client, error))
    }

    /// Every shard this node holds a replica of.
    pub fn all_shards(&self) -> Vec<Arc<Shard>> {
        match self.cluster() {
            Some(c) => c.shards().into_iter().map(|(_, s)| s).collect(),
            None => vec![self.shard.clone()],
        }
    }

    /// Current protocol limits for decoders.
    pub fn limits(&self) -> resp::Limits {
        resp::Limits {
            proto_max_bulk_len: self.hot.proto_max_bulk_len.load(Ordering::Relaxed) as usize,
            client_query_buffer_limit: self.hot.query_buffer_limit.load(Ordering::Relaxed) as usize,
            ..resp::Limits::default()
        }
    }

    /// Asks the node to stop: listeners close, clients are disconnected, `run` returns.
    pub fn shutdown(&self) {
        self.shutdown_tx.send_replace(true);
        self.clients.kill_all();
    }

    /// Whether shutdown has been requested.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown_tx.borrow()
    }

    /// A receiver that changes to `true` at shutdown.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Counts an error reply in `total_error_replies` and, by its code, in `INFO errorstats`.
    pub fn record_error_reply(&self, message: &str) {
        self.stats
            .total_error_replies
            .fetch_add(1, Ordering::Relaxed);
        let code = message.split(' ').next().unwrap_or(message);
        let mut m = self.error_stats.lock();
        if let Some(n) = m.get_mut(code) {
            *n += 1;
        } else if m.len() < MAX_ERROR_CODES {
            m.insert(code.to_string(), 1);
        }
    }
}

/// Distinct error codes tracked by `INFO errorstats` (Redis' ERROR_STATS_NUMBER), bounding the map.
const MAX_ERROR_CODES: usize = 128;

fn make_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(40);
    let mut i = 0u64;
    while out.len() < 40 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i ^ unix_ms() as u64);
        out.push_str(&format!("{:016x}", h.finish()));
        i += 1;
    }
    out.truncate(40);
    out
}

/// Binds every address of `bind` on `port` (a leading `-` marks an address that may be unavailable).
pub async fn bind(bind: &str, port: u16, backlog: u32) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    for addr in bind.split_whitespace() {
        let (optional, host) = match addr.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, addr),
        };
        let host = if host == "*" { "0.0.0.0" } else { host };
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match listen(&target, backlog).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional => warn!(%target, error = %e, "optional bind address unavailable"),
            Err(e) => return Err(e),
        }
    }
    Ok(listeners)
}

/// Listens on `target` (an address or a host name) with Redis' `tcp-backlog` as the accept queue length.
async fn listen(target: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last = std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address");
    for addr in tokio::net::lookup_host(target).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(backlog)) {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Runs the node until shutdown: accepts clients on `listeners` and runs the background tasks.
pub async fn run(node: Arc<Node>, listeners: Vec<TcpListener>) {
    for l in &listeners {
        if let Ok(a) = l.local_addr() {
            node.bound.lock().push(a);
            info!(addr = %a, "ready to accept connections");
        }
    }
    let expiry = tokio::spawn(crate::expire::active_expiry(node.clone()));
    let persistence = node
        .shard
        .replication()
        .map(|r| tokio::spawn(crate::replication::cron(node.clone(), r.clone())));
    let sampler = tokio::spawn(crate::metrics::sampler(node.clone()));
    let blocked = tokio::spawn(node.blocking.clone().serve(node.clone()));
    let eviction = tokio::spawn(crate::evict::cron(node.clone()));
    let mut accepts = Vec::new();
    for l in listeners {
        accepts.push(tokio::spawn(accept_loop(node.clone(), l)));
    }
    let mut sig = node.shutdown_signal();
    while !*sig.borrow_and_update() {
        if sig.changed().await.is_err() {
            break;
        }
    }
    for a in accepts {
        a.abort();
    }
    expiry.abort();
    sampler.abort();
    blocked.abort();
    eviction.abort();
    if let Some(p) = persistence {
        p.abort();
    }
    // Give connections a moment to flush their last replies and close.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !node.clients.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if let Some(r) = node.shard.replication() {
        r.shutdown().await;
    }
    if let Some(c) = node.cluster() {
        c.shutdown().await;
    }
    info!("shoal is now ready to exit, bye bye");
}

async fn accept_loop(node: Arc<Node>, listener: TcpListener) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        node.stats
            .total_connections_received
            .fetch_add(1, Ordering::Relaxed);
        if node.clients.len() as u64 >= node.hot.maxclients.load(Ordering::Relaxed) {
            node.stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(reject(stream));
            continue;
        }
        let _ = stream.set_nodelay(true);
        let keepalive = node.hot.tcp_keepalive.load(Ordering::Relaxed);
        if keepalive > 0 {
            let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive));
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        let laddr = stream.local_addr().unwrap_or(addr);
        let handle = node.clients.register(addr, laddr);
        tokio::spawn(crate::conn::serve(node.clone(), stream, handle));
    }
}

async fn reject(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
}
