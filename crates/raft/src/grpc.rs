//! The Raft transport between processes: every group's RPCs over one gRPC service (`proto/raft.proto`), one
//! HTTP/2 channel per peer shared by all groups, payloads encoded with postcard.
//!
//! AppendEntries and votes go over the `Stream` RPC: one long-lived bidirectional stream per group and peer, a
//! request message answered by one reply message in order. A unary call costs a new HTTP/2 stream (HPACK-coded
//! headers each way, trailers, flow-control updates) and, with three replicas on two cores, that was about a
//! quarter of the leader's CPU per write and a third of each follower's. In-order replies suffice: openraft calls a
//! connection (`&mut self`) once at a time, and a call abandoned mid-way (openraft's timeout) drops its stream.
//! A peer that answers `Unimplemented` (an older node) is called unary, and asked again after [`UNARY_RETRY`].
//! InstallSnapshot stays unary: its multi-megabyte chunks are rare and need no stream of their own.
//!
//! Client side: [`GrpcPeers`] (one per node) hands out a [`GrpcNetwork`] per group. Server side: [`GrpcRegistry`]
//! maps group ids to the local Raft handles; [`GrpcRegistry::service`] is the tonic service to mount on the
//! cluster-bus port (or [`serve`] runs a server with only it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tonic::transport::{Channel, Endpoint};

use crate::coalesce::{commit_window, CommitCoalescer};
use crate::types::typ::Raft;
use crate::types::{GroupId, Node, NodeId, TypeConfig};

/// Generated protobuf and tonic code.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("shoal.raft");
}

use pb::raft_bus_client::RaftBusClient;
use pb::raft_bus_server::{RaftBus, RaftBusServer};
pub use pb::PublishedMessage;
use pb::{GossipMessage, Kind, PublishAck, PublishBatch, RaftReply, RaftRequest};

/// Largest gRPC message accepted or sent: a snapshot chunk (openraft's `snapshot_max_chunk_size`, 3 MiB by
/// default) or a large append, with room to spare over tonic's 4 MiB default.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// How long a peer without the `Stream` RPC is called unary before it is asked again (it may have been upgraded).
pub const UNARY_RETRY: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Msg(String);

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Msg {}

/// Channels to the peers of one node, shared by all its groups. Cheap to clone.
#[derive(Clone, Default)]
pub struct GrpcPeers {
    channels: Arc<Mutex<HashMap<NodeId, (String, Channel)>>>,
    /// By peer: `None` once a `Stream` call was opened to it, or until when it is called unary (it answered
    /// `Unimplemented`).
    streaming: Arc<Mutex<HashMap<NodeId, Option<Instant>>>>,
    /// How long after a peer's acknowledgement an empty AppendEntries is answered locally (see
    /// [`crate::coalesce`]); zero sends every call.
    commit_window: Duration,
    /// Empty AppendEntries answered locally, over all groups and peers.
    coalesced: Arc<AtomicU64>,
}

impl GrpcPeers {
    /// No channel yet; each is created lazily on first use. Commit-only AppendEntries are coalesced within
    /// [`commit_window`] of openraft's default heartbeat.
    pub fn new() -> GrpcPeers {
        GrpcPeers {
            commit_window: commit_window(openraft::Config::default().heartbeat_interval),
            ..GrpcPeers::default()
        }
    }

    /// The same, coalescing within `window` (see [`crate::coalesce`]): [`commit_window`] of the groups'
    /// heartbeat interval, or zero to send every call.
    pub fn with_commit_window(window: Duration) -> GrpcPeers {
        GrpcPeers {
            commit_window: window,
            ..GrpcPeers::default()
        }
    }

    /// Empty AppendEntries answered locally so far, over all groups and peers.
    pub fn commits_coalesced(&self) -> u64 {
        self.coalesced.load(Ordering::Relaxed)
    }

    /// The network factory of `group`.
    pub fn network(&self, group: GroupId) -> GrpcNetwork {
        GrpcNetwork {
            peers: self.clone(),
            group,
        }
    }

    /// Sends one gossip message to node `target` at `addr` (its member address) and returns its answer.
    pub async fn gossip(
        &self,
        target: NodeId,
        addr: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        let channel = self.channel(target, addr).map_err(|e| e.0)?;
        let mut client = RaftBusClient::new(channel);
        let mut request = tonic::Request::new(GossipMessage { payload });
        request.set_timeout(timeout);
        match client.gossip(request).await {
            Ok(r) => Ok(r.into_inner().payload),
            Err(s) => Err(format!("{}: {}", s.code(), s.message())),
        }
    }

    /// Sends a batch of pub/sub messages to node `target` at `addr` (its member address) for its subscribers.
    pub async fn publish(
        &self,
        target: NodeId,
        addr: &str,
        messages: Vec<PublishedMessage>,
        timeout: Duration,
    ) -> Result<(), String> {
        let channel = self.channel(target, addr).map_err(|e| e.0)?;
        let mut client = RaftBusClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let mut request = tonic::Request::new(PublishBatch { messages });
        request.set_timeout(timeout);
        match client.publish(request).await {
            Ok(_) => Ok(()),
            Err(s) => Err(format!("{}: {}", s.code(), s.message())),
        }
    }

    /// Whether AppendEntries and votes to node `target` go over the `Stream` RPC (`Some(false)`: unary, the peer
    /// does not implement it); `None` before the first attempt.
    pub fn streams_to(&self, target: NodeId) -> Option<bool> {
        self.streaming.lock().get(&target).map(|u| u.is_none())
    }

    /// Whether `target` may be offered a stream (it has not refused one in the last [`UNARY_RETRY`]).
    fn may_stream(&self, target: NodeId) -> bool {
        match self.streaming.lock().get(&target) {
            Some(Some(until)) => Instant::now() >= *until,
            _ => true,
        }
    }

    fn channel(&self, target: NodeId, addr: &str) -> Result<Channel, Msg> {
        let mut ch = self.channels.lock();
        if let Some((a, c)) = ch.get(&target) {
            if a == addr {
                return Ok(c.clone());
            }
        }
        let uri = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("http://{}", bus_addr(addr))
        };
        // Lazy: creating a client must not connect (openraft creates them from its core loop).
        let c = Endpoint::from_shared(uri)
            .map_err(|e| Msg(format!("bad address {addr}: {e}")))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .connect_lazy();
        ch.insert(target, (addr.to_string(), c.clone()));
        Ok(c)
    }
}

/// The cluster-bus address in a member address: `host:port@cport` (Redis' notation, the client port first) names
/// `host:cport`; an address without `@` is the bus address itself.
pub fn bus_addr(addr: &str) -> String {
    match addr.split_once('@') {
        Some((client, cport)) => {
            let host = client.rsplit_once(':').map_or(client, |(h, _)| h);
            format!("{host}:{cport}")
        }
        None => addr.to_string(),
    }
}

/// [`RaftNetworkFactory`] of one group over gRPC.
#[derive(Clone)]
pub struct GrpcNetwork {
    peers: GrpcPeers,
    group: GroupId,
}

/// HTTP/2 flow-control windows: large enough that a stream of appends rarely waits for a WINDOW_UPDATE (with
/// the 64 KiB default, every few large appends); CPU per write measured the same as with the defaults.
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// An open `Stream` call: requests go into `tx`, replies come out of `rx` in order.
struct OpenStream {
    tx: mpsc::Sender<RaftRequest>,
    rx: tonic::Streaming<RaftReply>,
}

/// A gRPC connection of one group to one peer.
pub struct GrpcConnection {
    client: Result<RaftBusClient<Channel>, Msg>,
    peers: GrpcPeers,
    stream: Option<OpenStream>,
    /// A request went out on `stream` and its reply was not read (the caller gave up): the stream is out of step.
    in_flight: bool,
    target: NodeId,
    group: GroupId,
    coalescer: CommitCoalescer,
}

impl RaftNetworkFactory<TypeConfig> for GrpcNetwork {
    type Network = GrpcConnection;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> GrpcConnection {
        let client = self.peers.channel(target, &node.addr).map(|c| {
            RaftBusClient::new(c)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE)
        });
        GrpcConnection {
            client,
            peers: self.peers.clone(),
            stream: None,
            in_flight: false,
            target,
            group: self.group,
            coalescer: CommitCoalescer::new(self.peers.commit_window, self.peers.coalesced.clone()),
        }
    }
}

impl GrpcConnection {
    async fn call<Req, Resp, E>(
        &mut self,
        kind: Kind,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, Node, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let client = match &mut self.client {
            Ok(c) => c,
            Err(e) => return Err(RPCError::Unreachable(Unreachable::new(&Msg(e.0.clone())))),
        };
        let payload =
            postcard::to_allocvec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(RaftRequest {
            group_id: self.group,
            kind: kind as i32,
            payload,
        });
        request.set_timeout(option.hard_ttl());
        let reply = client.call(request).await.map_err(status_error)?;
        self.result(&reply.into_inner().payload)
    }

    /// The peer's postcard-coded answer as the call's result.
    fn result<Resp, E>(
        &self,
        payload: &[u8],
    ) -> Result<Resp, RPCError<NodeId, Node, RaftError<NodeId, E>>>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let res: Result<Resp, RaftError<NodeId, E>> =
            postcard::from_bytes(payload).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    /// The call on this connection's `Stream` RPC (opened if need be); `None` if the peer is called unary.
    async fn call_stream<Req, Resp, E>(
        &mut self,
        kind: Kind,
        req: &Req,
    ) -> Option<Result<Resp, RPCError<NodeId, Node, RaftError<NodeId, E>>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        if self.in_flight {
            // The last call was abandoned before its reply: that reply would be taken for this call's.
            self.stream = None;
            self.in_flight = false;
        }
        if self.stream.is_none() {
            let client = self.client.as_mut().ok()?;
            if !self.peers.may_stream(self.target) {
                return None;
            }
            let (tx, rx) = mpsc::channel(1);
            match client
                .stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
            {
                Ok(r) => {
                    self.peers.streaming.lock().insert(self.target, None);
                    self.stream = Some(OpenStream {
                        tx,
                        rx: r.into_inner(),
                    });
                }
                Err(s) if s.code() == tonic::Code::Unimplemented => {
                    tracing::debug!(
                        target = self.target,
                        "peer has no Stream RPC: calling it unary"
                    );
                    let until = Instant::now() + UNARY_RETRY;
                    self.peers.streaming.lock().insert(self.target, Some(until));
                    return None;
                }
                Err(s) => return Some(Err(status_error(s))),
            }
        }
        let payload = match postcard::to_allocvec(req) {
            Ok(p) => p,
            Err(e) => return Some(Err(RPCError::Network(NetworkError::new(&e)))),
        };
        let open = self.stream.as_mut()?;
        self.in_flight = true;
        let request = RaftRequest {
            group_id: self.group,
            kind: kind as i32,
            payload,
        };
        let reply = match open.tx.send(request).await {
            Ok(()) => open.rx.message().await,
            // The request side is closed: the stream failed; its status, if any, says why.
            Err(_) => match open.rx.message().await {
                Ok(_) => Ok(None),
                Err(s) => Err(s),
            },
        };
        self.in_flight = false;
        Some(match reply {
            Ok(Some(reply)) => self.result(&reply.payload),
            Ok(None) => {
                // The server ended the stream (it is shutting down): the next call opens another.
                self.stream = None;
                Err(RPCError::Unreachable(Unreachable::new(&Msg(
                    "the peer closed the Raft stream".into(),
                ))))
            }
            Err(s) => {
                self.stream = None;
                Err(status_error(s))
            }
        })
    }
}

/// A failed call's status as openraft's error.
fn status_error<E: std::error::Error>(s: tonic::Status) -> RPCError<NodeId, Node, E> {
    let e = Msg(format!("{}: {}", s.code(), s.message()));
    match s.code() {
        // Down, refusing connections, or not hosting the group: openraft backs off before retrying.
        tonic::Code::Unavailable | tonic::Code::NotFound => {
            RPCError::Unreachable(Unreachable::new(&e))
        }
        _ => RPCError::Network(NetworkError::new(&e)),
    }
}

impl RaftNetwork<TypeConfig> for GrpcConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        let now = Instant::now();
        if let Some(answer) = self.coalescer.answer(&rpc, now) {
            return Ok(answer);
        }
        let sent = self.coalescer.sending(&rpc, now);
        let result = match self.call_stream(Kind::AppendEntries, &rpc).await {
            Some(r) => r,
            None => self.call(Kind::AppendEntries, &rpc, &option).await,
        };
        self.coalescer.answered(sent, &result);
        result
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Kind::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        if let Some(r) = self.call_stream(Kind::Vote, &rpc).await {
            return r;
        }
        self.call(Kind::Vote, &rpc, &option).await
    }
}

/// Answers a gossip message with this node's own (both opaque to the transport).
pub type GossipHandler = Arc<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

/// Takes in a batch of pub/sub messages forwarded by a peer.
pub type PublishHandler = Arc<dyn Fn(Vec<PublishedMessage>) + Send + Sync>;

/// The groups this node serves to its peers, and its gossip handler. Cheap to clone.
#[derive(Clone)]
pub struct GrpcRegistry {
    groups: Arc<RwLock<HashMap<GroupId, Raft>>>,
    gossip: Arc<RwLock<Option<GossipHandler>>>,
    publish: Arc<RwLock<Option<PublishHandler>>>,
    /// Set when the bus shuts down: ends the open `Stream` calls, which graceful shutdown would wait for.
    closing: Arc<watch::Sender<bool>>,
}

impl GrpcRegistry {
    /// No group yet.
    pub fn new() -> GrpcRegistry {
        GrpcRegistry {
            groups: Arc::default(),
            gossip: Arc::default(),
            publish: Arc::default(),
            closing: Arc::new(watch::channel(false).0),
        }
    }

    /// Ends the open `Stream` calls (and any opened later), so a graceful shutdown of the server need not wait
    /// for peers to hang up.
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Answers one Raft call.
    async fn dispatch(&self, req: RaftRequest) -> Result<RaftReply, tonic::Status> {
        let raft = self
            .groups
            .read()
            .get(&req.group_id)
            .cloned()
            .ok_or_else(|| {
                tonic::Status::not_found(format!("group {} is not hosted here", req.group_id))
            })?;
        match Kind::try_from(req.kind) {
            Ok(Kind::AppendEntries) => encode(&raft.append_entries(decode(&req.payload)?).await),
            Ok(Kind::Vote) => encode(&raft.vote(decode(&req.payload)?).await),
            Ok(Kind::InstallSnapshot) => {
                encode(&raft.install_snapshot(decode(&req.payload)?).await)
            }
            _ => Err(tonic::Status::invalid_argument(format!(
                "unknown call kind {}",
                req.kind
            ))),
        }
    }

    /// Serves `raft` as group `group`.
    pub fn register(&self, group: GroupId, raft: Raft) {
        self.groups.write().insert(group, raft);
    }

    /// Answers gossip with `handler` (a node outside cluster mode answers `unimplemented`).
    pub fn set_gossip(&self, handler: GossipHandler) {
        *self.gossip.write() = Some(handler);
    }

    /// Delivers pub/sub messages forwarded by peers with `handler` (a node outside cluster mode answers
    /// `unimplemented`).
    pub fn set_publish(&self, handler: PublishHandler) {
        *self.publish.write() = Some(handler);
    }

    /// Stops serving a group (do this before shutting the group down).
    pub fn unregister(&self, group: GroupId) {
        self.groups.write().remove(&group);
    }

    /// The tonic service to mount on the cluster-bus server, with raised message limits.
    pub fn service(&self) -> RaftBusServer<GrpcRegistry> {
        RaftBusServer::new(self.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
}

impl Default for GrpcRegistry {
    fn default() -> GrpcRegistry {
        GrpcRegistry::new()
    }
}

fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, tonic::Status> {
    postcard::from_bytes(payload)
        .map_err(|e| tonic::Status::invalid_argument(format!("bad payload: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<RaftReply, tonic::Status> {
    postcard::to_allocvec(v)
        .map(|payload| RaftReply { payload })
        .map_err(|e| tonic::Status::internal(format!("encode reply: {e}")))
}

#[tonic::async_trait]
impl RaftBus for GrpcRegistry {
    async fn call(
        &self,
        request: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        self.dispatch(request.into_inner())
            .await
            .map(tonic::Response::new)
    }

    type StreamStream = tokio_stream::wrappers::ReceiverStream<Result<RaftReply, tonic::Status>>;

    async fn stream(
        &self,
        request: tonic::Request<tonic::Streaming<RaftRequest>>,
    ) -> Result<tonic::Response<Self::StreamStream>, tonic::Status> {
        let mut incoming = request.into_inner();
        let registry = self.clone();
        let mut closing = self.closing.subscribe();
        let (tx, rx) = mpsc::channel(1);
        // One call at a time, answered in the order asked (the client matches replies by order).
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    m = incoming.message() => m,
                    _ = closing.wait_for(|c| *c) => return,
                };
                let reply = match next {
                    Ok(Some(req)) => registry.dispatch(req).await,
                    Ok(None) => return,
                    Err(s) => Err(s),
                };
                // An error ends the stream with that status; the client opens another.
                let last = reply.is_err();
                if tx.send(reply).await.is_err() || last {
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
        request: tonic::Request<GossipMessage>,
    ) -> Result<tonic::Response<GossipMessage>, tonic::Status> {
        let handler = self
            .gossip
            .read()
            .clone()
            .ok_or_else(|| tonic::Status::unimplemented("this node is not in cluster mode"))?;
        let payload = handler(request.into_inner().payload);
        Ok(tonic::Response::new(GossipMessage { payload }))
    }

    async fn publish(
        &self,
        request: tonic::Request<PublishBatch>,
    ) -> Result<tonic::Response<PublishAck>, tonic::Status> {
        let handler = self
            .publish
            .read()
            .clone()
            .ok_or_else(|| tonic::Status::unimplemented("this node is not in cluster mode"))?;
        handler(request.into_inner().messages);
        Ok(tonic::Response::new(PublishAck {}))
    }
}

/// Runs the cluster bus on `listener` until `shutdown` completes: a gRPC server with only the Raft service.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: GrpcRegistry,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    use tokio_stream::StreamExt;
    // Replies go out at once: with Nagle's algorithm a small AppendEntries answer can wait for the peer's
    // delayed ACK, and every commit waits for that answer.
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
        if let Ok(s) = &s {
            let _ = s.set_nodelay(true);
        }
        s
    });
    let service = registry.service();
    tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            registry.close_streams();
        })
        .await
}
