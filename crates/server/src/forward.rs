//! Pub/sub across the cluster: PUBLISH reaches the subscribers of every node, SPUBLISH those of every replica of
//! the channel's shard, as Redis Cluster propagates them over its bus.
//!
//! The publisher never waits for another node: each message is appended to a bounded queue per peer, and one task
//! per peer sends what has accumulated as one `Publish` call of the cluster bus. A slow or dead peer only fills its
//! own queue; past the bound, messages for it are dropped and counted (`cluster_stats_messages_publish_dropped`),
//! as Redis drops bus messages to a node it cannot reach. One queue and one sender per peer keep a publisher's
//! messages in order at every receiver.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use cluster::{key_slot, NodeId};
use parking_lot::Mutex;
use raft::grpc::PublishedMessage;
use raft::GrpcPeers;
use tokio::sync::Notify;
use tracing::debug;

use crate::cluster::ClusterNode;

/// Most messages waiting for one peer.
const QUEUE_MAX_MESSAGES: usize = 100_000;
/// Most bytes (channels and messages) waiting for one peer.
const QUEUE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Most messages in one `Publish` call.
const BATCH_MAX_MESSAGES: usize = 4096;
/// Most bytes in one `Publish` call (well under the bus' message limit).
const BATCH_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Longest wait for a peer to take a batch; past it the batch is counted as dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause after a failed send, so a dead peer costs one attempt per pause, not a busy loop.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Bus message counters, for `CLUSTER INFO`.
#[derive(Default)]
pub struct ForwardStats {
    /// PUBLISH messages handed to peers (counted once per peer that acknowledged them).
    pub publish_sent: AtomicU64,
    /// SPUBLISH messages handed to peers.
    pub publishshard_sent: AtomicU64,
    /// PUBLISH messages received from peers.
    pub publish_received: AtomicU64,
    /// SPUBLISH messages received from peers.
    pub publishshard_received: AtomicU64,
    /// Messages for a peer dropped: its queue was full, or it did not take them in time.
    pub dropped: AtomicU64,
}

#[derive(Default)]
struct Pending {
    messages: VecDeque<PublishedMessage>,
    bytes: usize,
}

struct PeerQueue {
    pending: Mutex<Pending>,
    ready: Notify,
}

/// The per-peer queues of one node.
pub struct Forwarder {
    cluster: Weak<ClusterNode>,
    peers: GrpcPeers,
    queues: Mutex<HashMap<NodeId, Arc<PeerQueue>>>,
    /// Counters.
    pub stats: ForwardStats,
}

impl Forwarder {
    /// A forwarder sending through `peers` to the nodes `cluster`'s metadata names.
    pub fn new(cluster: Weak<ClusterNode>, peers: GrpcPeers) -> Forwarder {
        Forwarder {
            cluster,
            peers,
            queues: Mutex::new(HashMap::new()),
            stats: ForwardStats::default(),
        }
    }

    /// Queues `message` for every other node that should deliver it: all of them for a channel, the other
    /// replicas of the channel's shard for a shard channel. Never waits.
    pub fn publish(self: &Arc<Self>, channel: &Bytes, message: &Bytes, shard: bool) {
        let Some(c) = self.cluster.upgrade() else {
            return;
        };
        let me = c.me();
        if me == 0 {
            return;
        }
        let meta = c.meta();
        let targets: Vec<NodeId> = if shard {
            match meta
                .slots
                .owner(key_slot(channel))
                .and_then(|s| meta.shards.get(&s))
            {
                Some(info) => info.replicas.clone(),
                None => return,
            }
        } else {
            meta.nodes.keys().copied().collect()
        };
        for target in targets.into_iter().filter(|t| *t != me) {
            self.enqueue(
                target,
                PublishedMessage {
                    channel: channel.to_vec(),
                    message: message.to_vec(),
                    shard,
                },
            );
        }
    }

    fn enqueue(self: &Arc<Self>, target: NodeId, m: PublishedMessage) {
        let queue = {
            let mut queues = self.queues.lock();
            match queues.get(&target) {
                Some(q) => q.clone(),
                None => {
                    let q = Arc::new(PeerQueue {
                        pending: Mutex::new(Pending::default()),
                        ready: Notify::new(),
                    });
                    queues.insert(target, q.clone());
                    tokio::spawn(send_loop(Arc::downgrade(self), target, q.clone()));
                    q
                }
            }
        };
        let size = m.channel.len() + m.message.len();
        {
            let mut p = queue.pending.lock();
            if p.messages.len() >= QUEUE_MAX_MESSAGES || p.bytes + size > QUEUE_MAX_BYTES {
                drop(p);
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            p.bytes += size;
            p.messages.push_back(m);
        }
        queue.ready.notify_one();
    }

    /// Delivers messages a peer forwarded to this node's subscribers.
    pub fn receive(&self, pubsub: &crate::pubsub::PubSub, messages: Vec<PublishedMessage>) {
        for m in messages {
            let counter = if m.shard {
                &self.stats.publishshard_received
            } else {
                &self.stats.publish_received
            };
            counter.fetch_add(1, Ordering::Relaxed);
            pubsub.deliver(&Bytes::from(m.channel), &Bytes::from(m.message), m.shard);
        }
    }
}

/// Takes up to a batch's worth of messages off the queue.
fn take_batch(q: &PeerQueue) -> Vec<PublishedMessage> {
    let mut p = q.pending.lock();
    let mut batch = Vec::new();
    let mut bytes = 0;
    while batch.len() < BATCH_MAX_MESSAGES && bytes < BATCH_MAX_BYTES {
        let Some(m) = p.messages.pop_front() else {
            break;
        };
        let size = m.channel.len() + m.message.len();
        bytes += size;
        p.bytes -= size;
        batch.push(m);
    }
    batch
}

/// Sends one peer's queue, batch after batch, until the node stops or the peer leaves the cluster.
async fn send_loop(f: Weak<Forwarder>, target: NodeId, q: Arc<PeerQueue>) {
    loop {
        q.ready.notified().await;
        loop {
            let Some(fw) = f.upgrade() else { return };
            let Some(c) = fw.cluster.upgrade() else {
                return;
            };
            let Some(addr) = c.meta().nodes.get(&target).map(|n| n.member_addr()) else {
                // No longer a member: forget its queue (a later message starts a new one if it comes back).
                fw.queues.lock().remove(&target);
                return;
            };
            drop(c);
            let batch = take_batch(&q);
            if batch.is_empty() {
                break;
            }
            let n = batch.len() as u64;
            let shard = batch.iter().filter(|m| m.shard).count() as u64;
            match fw.peers.publish(target, &addr, batch, SEND_TIMEOUT).await {
                Ok(()) => {
                    fw.stats
                        .publish_sent
                        .fetch_add(n - shard, Ordering::Relaxed);
                    fw.stats
                        .publishshard_sent
                        .fetch_add(shard, Ordering::Relaxed);
                }
                Err(e) => {
                    debug!(peer = target, error = %e, messages = n, "pub/sub messages not forwarded");
                    fw.stats.dropped.fetch_add(n, Ordering::Relaxed);
                    drop(fw);
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_take_messages_in_order_and_bounded() {
        let q = PeerQueue {
            pending: Mutex::new(Pending::default()),
            ready: Notify::new(),
        };
        {
            let mut p = q.pending.lock();
            for i in 0..(BATCH_MAX_MESSAGES + 10) {
                let m = PublishedMessage {
                    channel: b"c".to_vec(),
                    message: i.to_string().into_bytes(),
                    shard: false,
                };
                p.bytes += m.channel.len() + m.message.len();
                p.messages.push_back(m);
            }
        }
        let first = take_batch(&q);
        assert_eq!(first.len(), BATCH_MAX_MESSAGES);
        assert_eq!(first[0].message, b"0");
        let rest = take_batch(&q);
        assert_eq!(rest.len(), 10);
        assert_eq!(rest[0].message, BATCH_MAX_MESSAGES.to_string().into_bytes());
        assert_eq!(q.pending.lock().bytes, 0);
        assert!(take_batch(&q).is_empty());
    }
}
