//! Three nodes in one process talking real gRPC over loopback: replication, redirection, failover, and a
//! restarted node catching up through a snapshot sent in chunks; the Stream RPC and its unary fallback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openraft::error::RaftError;
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use parking_lot::Mutex;
use raft::grpc::pb;
use raft::grpc::pb::raft_bus_server::{RaftBus, RaftBusServer};
use raft::{
    FsyncPolicy, GroupConfig, GrpcPeers, GrpcRegistry, NodeStorage, ShardGroup, StorageOptions,
    TypeConfig, WriteError,
};
use resp::Frame;
use store::{Keyspace, Op, Value};
use tokio::sync::oneshot;

const GROUP: u64 = 11;

struct Node {
    id: u64,
    addr: SocketAddr,
    peers: GrpcPeers,
    storage: NodeStorage,
    group: ShardGroup,
    ks: Arc<Mutex<Keyspace>>,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

async fn start_node(id: u64, dir: &std::path::Path, addr: Option<SocketAddr>) -> Node {
    start_node_with(id, dir, addr, false).await
}

/// `unary_only`: serve the bus as nodes did before the `Stream` RPC.
async fn start_node_with(
    id: u64,
    dir: &std::path::Path,
    addr: Option<SocketAddr>,
    unary_only: bool,
) -> Node {
    let listener =
        tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let addr = listener.local_addr().unwrap();
    let storage = NodeStorage::open(
        dir,
        &StorageOptions {
            fsync: FsyncPolicy::Always,
            cache_capacity: 8 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    let ks = Arc::new(Mutex::new(Keyspace::new()));
    let mut config = GroupConfig::new(GROUP, id, addr.to_string());
    config.raft.heartbeat_interval = 50;
    config.raft.election_timeout_min = 200;
    config.raft.election_timeout_max = 400;
    config.raft.snapshot_policy = openraft::SnapshotPolicy::Never;
    config.raft.max_in_snapshot_log_to_keep = 0;
    // Small chunks, so the snapshot crosses the wire in several calls.
    config.raft.snapshot_max_chunk_size = 4096;
    let peers = GrpcPeers::new();
    let group = ShardGroup::start(&storage, ks.clone(), peers.network(GROUP), config)
        .await
        .unwrap();
    let registry = GrpcRegistry::new();
    registry.register(GROUP, group.raft().clone());
    let (stop, rx) = oneshot::channel();
    let server = tokio::spawn(async move {
        let stop = async {
            let _ = rx.await;
        };
        if unary_only {
            tonic::transport::Server::builder()
                .add_service(RaftBusServer::new(FakeBus {
                    registry,
                    answer: StreamAnswer::Unimplemented,
                }))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    stop,
                )
                .await
                .unwrap();
        } else {
            raft::grpc::serve(listener, registry, stop).await.unwrap();
        }
    });
    Node {
        id,
        addr,
        peers,
        storage,
        group,
        ks,
        stop,
        server,
    }
}

/// Nodes 1-3 in `dirs`, initialized as one group (node `unary`, if any, serving its bus unary-only); returns them
/// and the leader's id once it accepts writes.
async fn start_group(dirs: &[tempfile::TempDir], unary: Option<u64>) -> (Vec<Node>, u64) {
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        let unary_only = unary == Some(id);
        nodes.push(start_node_with(id, dirs[id as usize - 1].path(), None, unary_only).await);
    }
    let members = nodes
        .iter()
        .map(|n| (n.id, openraft::BasicNode::new(n.addr.to_string())))
        .collect();
    assert!(nodes[0].group.initialize(members).await.unwrap());
    let leader = nodes[0]
        .group
        .wait_for_leader(Duration::from_secs(10))
        .await
        .unwrap();
    let lg = nodes[leader as usize - 1].group.clone();
    wait_until("leader ready", move || lg.is_leader()).await;
    (nodes, leader)
}

async fn stop_node(n: Node) {
    let _ = n.stop.send(());
    n.server.await.unwrap();
    n.group.shutdown().await.unwrap();
    n.storage.close().await.unwrap();
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not reached in 10 s");
}

fn set(k: &str, v: &str) -> Op {
    Op::Command(vec![
        Bytes::from_static(b"SET"),
        Bytes::copy_from_slice(k.as_bytes()),
        Bytes::copy_from_slice(v.as_bytes()),
    ])
}

async fn write_keys(g: &ShardGroup, prefix: &str, n: usize) {
    let mut hs = Vec::new();
    for i in 0..n {
        let g = g.clone();
        let k = format!("{prefix}:{i}");
        hs.push(tokio::spawn(async move {
            g.write(vec![set(&k, "some value")]).await
        }));
    }
    for h in hs {
        assert_eq!(h.await.unwrap().unwrap(), vec![Frame::ok()]);
    }
}

fn has_keys(ks: &Mutex<Keyspace>, prefix: &str, n: usize) -> bool {
    let ks = ks.lock();
    (0..n).all(|i| {
        ks.peek(0, format!("{prefix}:{i}").as_bytes())
            .is_some_and(|o| o.value == Value::Str(b"some value".to_vec()))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_over_grpc() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        nodes.push(Some(
            start_node(id, dirs[id as usize - 1].path(), None).await,
        ));
    }
    let members = nodes
        .iter()
        .flatten()
        .map(|n| (n.id, openraft::BasicNode::new(n.addr.to_string())))
        .collect();
    let first = nodes[0].as_ref().unwrap();
    assert!(first.group.initialize(members).await.unwrap());
    let leader = first
        .group
        .wait_for_leader(Duration::from_secs(10))
        .await
        .unwrap();
    let li = leader as usize - 1;
    let lg = nodes[li].as_ref().unwrap().group.clone();
    wait_until("leader ready", move || lg.is_leader()).await;

    let l = nodes[li].as_ref().unwrap();
    write_keys(&l.group, "a", 200).await;
    for n in nodes.iter().flatten() {
        let ks = n.ks.clone();
        wait_until("replicated", move || has_keys(&ks, "a", 200)).await;
    }
    let f = nodes[(li + 1) % 3].as_ref().unwrap();
    match f.group.write(vec![set("x", "y")]).await {
        Err(WriteError::ForwardToLeader { leader_id, addr }) => {
            assert_eq!(leader_id, leader);
            assert_eq!(addr, l.addr.to_string());
        }
        other => panic!("follower accepted a write: {other:?}"),
    }

    // The leader's process stops; the two others elect a new leader and keep writing.
    let old = nodes[li].take().unwrap();
    let old_addr = old.addr;
    stop_node(old).await;
    let others: Vec<ShardGroup> = nodes.iter().flatten().map(|n| n.group.clone()).collect();
    let o = others.clone();
    wait_until("new leader", move || o.iter().any(|g| g.is_leader())).await;
    let new_leader = others.iter().find(|g| g.is_leader()).unwrap().clone();
    write_keys(&new_leader, "b", 200).await;

    // Compact the log, so the old leader, restarted from its own disk, can only catch up by snapshot.
    new_leader.snapshot(Duration::from_secs(10)).await.unwrap();
    let snap = new_leader.metrics().snapshot.unwrap().index;
    let nl = new_leader.clone();
    wait_until("purged", move || {
        nl.metrics().purged.is_some_and(|p| p.index >= snap)
    })
    .await;
    let back = start_node(leader, dirs[li].path(), Some(old_addr)).await;
    let ks = back.ks.clone();
    wait_until("restarted node caught up", move || {
        has_keys(&ks, "a", 200) && has_keys(&ks, "b", 200)
    })
    .await;
    assert!(back
        .group
        .metrics()
        .snapshot
        .is_some_and(|s| s.index >= snap));
    nodes[li] = Some(back);

    for n in nodes.into_iter().flatten() {
        stop_node(n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_without_the_stream_rpc_is_called_unary() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Node 3 serves its bus as an older node would: unary calls only.
    let (nodes, leader) = start_group(&dirs, Some(3)).await;
    let l = &nodes[leader as usize - 1];
    write_keys(&l.group, "w", 100).await;
    for n in &nodes {
        let ks = n.ks.clone();
        wait_until("replicated", move || has_keys(&ks, "w", 100)).await;
    }
    // Whoever leads: the new nodes stream to each other and call node 3 unary.
    for n in nodes.iter().filter(|n| n.id != leader) {
        let expect = n.id != 3;
        assert_eq!(l.peers.streams_to(n.id), Some(expect), "node {}", n.id);
    }
    for n in nodes {
        stop_node(n).await;
    }
}

/// How a [`FakeBus`] answers the `Stream` RPC.
#[derive(Clone, Copy)]
enum StreamAnswer {
    /// As nodes did before the `Stream` RPC: `Unimplemented` (they serve unary calls only).
    Unimplemented,
    /// The first AppendEntries late with `Conflict`, every later one at once with `Success`.
    SlowFirst,
}

/// A node's bus that serves unary calls, gossip and publish as the real one does, and `Stream` as `answer` says.
#[derive(Clone)]
struct FakeBus {
    registry: GrpcRegistry,
    answer: StreamAnswer,
}

#[tonic::async_trait]
impl RaftBus for FakeBus {
    async fn call(
        &self,
        request: tonic::Request<pb::RaftRequest>,
    ) -> Result<tonic::Response<pb::RaftReply>, tonic::Status> {
        self.registry.call(request).await
    }

    type StreamStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::RaftReply, tonic::Status>>;

    async fn stream(
        &self,
        request: tonic::Request<tonic::Streaming<pb::RaftRequest>>,
    ) -> Result<tonic::Response<Self::StreamStream>, tonic::Status> {
        if let StreamAnswer::Unimplemented = self.answer {
            return Err(tonic::Status::unimplemented("no Stream RPC"));
        }
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut incoming = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            while let Ok(Some(_)) = incoming.message().await {
                let reply: Result<AppendEntriesResponse<u64>, RaftError<u64>> =
                    if CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Ok(AppendEntriesResponse::Conflict)
                    } else {
                        Ok(AppendEntriesResponse::Success)
                    };
                let payload = postcard::to_allocvec(&reply).unwrap();
                if tx.send(Ok(pb::RaftReply { payload })).await.is_err() {
                    return;
                }
            }
        });
        Ok(tonic::Response::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
    }

    async fn gossip(
        &self,
        request: tonic::Request<pb::GossipMessage>,
    ) -> Result<tonic::Response<pb::GossipMessage>, tonic::Status> {
        self.registry.gossip(request).await
    }

    async fn publish(
        &self,
        request: tonic::Request<pb::PublishBatch>,
    ) -> Result<tonic::Response<pb::PublishAck>, tonic::Status> {
        self.registry.publish(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_abandoned_mid_stream_does_not_answer_the_next() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RaftBusServer::new(FakeBus {
                registry: GrpcRegistry::new(),
                answer: StreamAnswer::SlowFirst,
            }))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut conn = GrpcPeers::new()
        .network(GROUP)
        .new_client(2, &openraft::BasicNode::new(addr.to_string()))
        .await;
    let req = || AppendEntriesRequest::<TypeConfig> {
        vote: openraft::Vote::new_committed(1, 1),
        prev_log_id: None,
        entries: Vec::new(),
        leader_commit: None,
    };
    let opt = || RPCOption::new(Duration::from_secs(5));
    // openraft's timeout drops the call before its (late) reply.
    let first = tokio::time::timeout(
        Duration::from_millis(100),
        conn.append_entries(req(), opt()),
    )
    .await;
    assert!(first.is_err(), "the first call should have timed out");
    // The late `Conflict` belongs to the abandoned call: this one must get its own answer.
    let second = conn.append_entries(req(), opt()).await.unwrap();
    assert!(
        matches!(second, AppendEntriesResponse::Success),
        "{second:?}"
    );
    server.abort();
}

/// Closed-loop writers (each waits for its reply before the next write, as redis-benchmark's clients do): the
/// commit-only AppendEntries openraft sends after each commit find nothing new to carry and are answered by the
/// leader's transport itself; the followers still learn every commit, from the next append or heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_only_appends_are_coalesced_and_followers_still_apply_everything() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (nodes, leader) = start_group(&dirs, None).await;
    let l = &nodes[leader as usize - 1];

    let writers: Vec<_> = (0..8)
        .map(|w| {
            let g = l.group.clone();
            tokio::spawn(async move {
                for i in 0..150 {
                    let k = format!("c{w}:{i}");
                    assert_eq!(
                        g.write(vec![set(&k, "some value")]).await.unwrap(),
                        vec![Frame::ok()]
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let coalesced = l.peers.commits_coalesced();
    assert!(coalesced > 0, "no commit-only append was coalesced");

    // Every follower applies the last write: the commit index reached it without the skipped calls.
    let last = l.group.metrics().last_log_index;
    for n in &nodes {
        let g = n.group.clone();
        wait_until("follower applied the last write", move || {
            g.metrics().last_applied.map(|a| a.index) >= last
        })
        .await;
        for w in 0..8 {
            assert!(has_keys(&n.ks, &format!("c{w}"), 150), "node {}", n.id);
        }
    }
    // A linearizable read still takes a real quorum round.
    l.group.read_barrier().await.unwrap();
    eprintln!(
        "1200 closed-loop writes in {} entries; {coalesced} commit-only appends answered locally",
        last.unwrap_or(0)
    );
    for n in nodes {
        stop_node(n).await;
    }
}
