//! Pub/sub: which connections listen to which channels, patterns and shard channels, and delivery of messages
//! into each subscriber's outbound queue.
//!
//! Messages are not keyspace state: nothing here goes through the log. A publisher never waits for a
//! subscriber: delivery encodes the message once per protocol and appends it to the subscriber's queue, which
//! the subscriber's own connection task writes to its socket. A queue past `client-output-buffer-limit pubsub`
//! (hard limit, or soft limit for longer than its seconds) closes that subscriber instead of growing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use resp::{encode, Frame, Protocol};
use tokio::sync::Notify;
use tracing::warn;

use crate::clients::ClientHandle;

/// Channels and patterns to their subscribers, in subscription order.
type Subscribers = HashMap<Bytes, Vec<Arc<Subscriber>>, foldhash::fast::RandomState>;

/// The three kinds of subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE: exact channel names.
    Channel,
    /// PSUBSCRIBE: glob patterns over channel names.
    Pattern,
    /// SSUBSCRIBE: shard channels, which PUBLISH and patterns never reach.
    Shard,
}

/// An output buffer limit class (`client-output-buffer-limit <class> <hard> <soft> <soft seconds>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferLimit {
    /// Bytes at which the client is closed at once (0: none).
    pub hard: u64,
    /// Bytes the client may stay above for `soft_secs` seconds (0: none).
    pub soft: u64,
    /// Seconds above `soft` before the client is closed.
    pub soft_secs: u64,
}

/// What is waiting to be written to one subscriber.
#[derive(Default)]
struct Outbox {
    buf: BytesMut,
    /// Bytes taken by the connection task and still being written: they count toward the limit.
    in_flight: usize,
    /// Since when the queue has been above the soft limit.
    soft_since: Option<Instant>,
    /// Set once the limit was overrun: nothing more is queued.
    closed: bool,
}

/// One connection's message queue, shared by the registry (which fills it) and the connection (which drains it).
pub struct Subscriber {
    /// The connection's client id.
    pub id: u64,
    handle: Arc<ClientHandle>,
    resp3: AtomicBool,
    outbox: Mutex<Outbox>,
    /// Woken when messages were queued.
    pub ready: Notify,
}

impl Subscriber {
    /// A queue for the connection `handle`, encoding for `protocol`.
    pub fn new(handle: Arc<ClientHandle>, protocol: Protocol) -> Arc<Subscriber> {
        Arc::new(Subscriber {
            id: handle.id,
            handle,
            resp3: AtomicBool::new(protocol == Protocol::Resp3),
            outbox: Mutex::new(Outbox::default()),
            ready: Notify::new(),
        })
    }

    /// Follows a protocol change (HELLO, RESET): later messages are encoded for it.
    pub fn set_protocol(&self, protocol: Protocol) {
        self.resp3
            .store(protocol == Protocol::Resp3, Ordering::Relaxed);
    }

    /// Bytes queued or being written.
    pub fn pending_bytes(&self) -> u64 {
        self.handle.pubsub_omem.load(Ordering::Relaxed)
    }

    /// Moves the queued messages to the end of `out` (they precede the replies appended after them).
    pub fn drain_into(&self, out: &mut BytesMut) {
        let mut o = self.outbox.lock();
        if o.buf.is_empty() {
            return;
        }
        if out.is_empty() {
            std::mem::swap(out, &mut o.buf);
        } else {
            out.extend_from_slice(&o.buf);
            o.buf.clear();
        }
        self.handle
            .pubsub_omem
            .store(o.in_flight as u64, Ordering::Relaxed);
    }

    /// Takes the queued messages to write them; they count toward the limit until [`Subscriber::written`].
    pub fn take(&self) -> BytesMut {
        let mut o = self.outbox.lock();
        let buf = std::mem::take(&mut o.buf);
        o.in_flight += buf.len();
        buf
    }

    /// Records that `n` bytes taken by [`Subscriber::take`] reached the socket.
    pub fn written(&self, n: usize) {
        let mut o = self.outbox.lock();
        o.in_flight = o.in_flight.saturating_sub(n);
        let total = o.buf.len() + o.in_flight;
        self.handle
            .pubsub_omem
            .store(total as u64, Ordering::Relaxed);
    }

    /// Queues one encoded message, unless that overruns `limit`: then the queue is dropped and the client closed.
    fn push(&self, msg: &EncodedMessage, limit: BufferLimit) {
        let bytes = msg.get(self.resp3.load(Ordering::Relaxed));
        let mut o = self.outbox.lock();
        if o.closed {
            return;
        }
        o.buf.extend_from_slice(bytes);
        let used = (o.buf.len() + o.in_flight) as u64;
        let hard = limit.hard > 0 && used >= limit.hard;
        let soft = if limit.soft > 0 && used >= limit.soft {
            // Redis' rule: above the soft limit for strictly more than its seconds.
            let since = *o.soft_since.get_or_insert_with(Instant::now);
            since.elapsed().as_secs_f64() > limit.soft_secs as f64
        } else {
            o.soft_since = None;
            false
        };
        if hard || soft {
            o.closed = true;
            o.buf = BytesMut::new();
            self.handle
                .pubsub_omem
                .store(o.in_flight as u64, Ordering::Relaxed);
            drop(o);
            warn!(
                client = %self.handle.addr,
                id = self.id,
                "client scheduled to be closed ASAP for overcoming of output buffer limits"
            );
            self.handle.kill();
            return;
        }
        self.handle.pubsub_omem.store(used, Ordering::Relaxed);
        drop(o);
        self.ready.notify_one();
    }
}

/// A message encoded for each protocol on first need, so many subscribers share one encoding.
struct EncodedMessage {
    frame: Frame,
    resp2: std::cell::OnceCell<Bytes>,
    resp3: std::cell::OnceCell<Bytes>,
}

impl EncodedMessage {
    fn new(frame: Frame) -> EncodedMessage {
        EncodedMessage {
            frame,
            resp2: Default::default(),
            resp3: Default::default(),
        }
    }

    fn get(&self, resp3: bool) -> &Bytes {
        let (cell, proto) = if resp3 {
            (&self.resp3, Protocol::Resp3)
        } else {
            (&self.resp2, Protocol::Resp2)
        };
        cell.get_or_init(|| {
            let mut out = BytesMut::new();
            encode(&self.frame, proto, &mut out);
            out.freeze()
        })
    }
}

#[derive(Default)]
struct Registry {
    channels: Subscribers,
    patterns: Subscribers,
    shard: Subscribers,
}

impl Registry {
    fn map(&mut self, kind: Kind) -> &mut Subscribers {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

/// Hands a message published here to the other nodes of the cluster (channel, message, shard channel).
pub type Forward = Arc<dyn Fn(&Bytes, &Bytes, bool) + Send + Sync>;

/// The node's pub/sub registry.
#[derive(Default)]
pub struct PubSub {
    reg: Mutex<Registry>,
    limit_hard: AtomicU64,
    limit_soft: AtomicU64,
    limit_secs: AtomicU64,
    forward: std::sync::OnceLock<Forward>,
}

impl PubSub {
    /// Sets the `pubsub` class of `client-output-buffer-limit`.
    pub fn set_limit(&self, l: BufferLimit) {
        self.limit_hard.store(l.hard, Ordering::Relaxed);
        self.limit_soft.store(l.soft, Ordering::Relaxed);
        self.limit_secs.store(l.soft_secs, Ordering::Relaxed);
    }

    fn limit(&self) -> BufferLimit {
        BufferLimit {
            hard: self.limit_hard.load(Ordering::Relaxed),
            soft: self.limit_soft.load(Ordering::Relaxed),
            soft_secs: self.limit_secs.load(Ordering::Relaxed),
        }
    }

    /// Adds `sub` to the subscribers of `name` (the caller knows it was not subscribed).
    pub fn subscribe(&self, kind: Kind, name: &Bytes, sub: &Arc<Subscriber>) {
        self.reg
            .lock()
            .map(kind)
            .entry(name.clone())
            .or_default()
            .push(sub.clone());
    }

    /// Removes the subscriber `id` from `name`; a name nobody listens to any more is forgotten.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) {
        let mut reg = self.reg.lock();
        let map = reg.map(kind);
        if let Some(subs) = map.get_mut(name) {
            subs.retain(|s| s.id != id);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// In cluster mode: how messages published here reach the other nodes (set once, at start).
    pub fn set_forward(&self, forward: Forward) {
        let _ = self.forward.set(forward);
    }

    /// PUBLISH and SPUBLISH: delivers `message` on `channel` to this node's subscribers and, in cluster mode,
    /// hands it to the cluster bus for the other nodes' (all of them; for a shard channel, the other replicas of
    /// its shard). Returns how many of this node's clients received it, as Redis Cluster counts.
    pub fn publish(&self, channel: &Bytes, message: &Bytes, shard: bool) -> usize {
        if let Some(f) = self.forward.get() {
            f(channel, message, shard);
        }
        self.deliver(channel, message, shard)
    }

    /// Delivers `message` on `channel` to this node's subscribers only: those of the channel, then those of
    /// every matching pattern (or, for a shard channel, only its own subscribers). Returns how many received it.
    /// Keyspace notifications and messages forwarded by other nodes come here: they are node-local.
    pub fn deliver(&self, channel: &Bytes, message: &Bytes, shard: bool) -> usize {
        let limit = self.limit();
        let reg = self.reg.lock();
        let mut receivers = 0;
        let (map, kind) = if shard {
            (&reg.shard, "smessage")
        } else {
            (&reg.channels, "message")
        };
        if let Some(subs) = map.get(channel) {
            let msg = EncodedMessage::new(Frame::Push(vec![
                Frame::bulk_static(kind),
                Frame::Bulk(channel.clone()),
                Frame::Bulk(message.clone()),
            ]));
            for s in subs {
                s.push(&msg, limit);
            }
            receivers += subs.len();
        }
        if shard {
            return receivers;
        }
        for (pattern, subs) in &reg.patterns {
            if !store::glob::matches(pattern, channel, false) {
                continue;
            }
            let msg = EncodedMessage::new(Frame::Push(vec![
                Frame::bulk_static("pmessage"),
                Frame::Bulk(pattern.clone()),
                Frame::Bulk(channel.clone()),
                Frame::Bulk(message.clone()),
            ]));
            for s in subs {
                s.push(&msg, limit);
            }
            receivers += subs.len();
        }
        receivers
    }

    /// Names with at least one subscriber of `kind` matching the glob `pattern` (all without one).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut reg = self.reg.lock();
        reg.map(kind)
            .keys()
            .filter(|n| pattern.is_none_or(|p| store::glob::matches(p, n, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of the channel (or shard channel) `name`, patterns not counted.
    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.reg.lock().map(kind).get(name).map_or(0, Vec::len)
    }

    /// Distinct channels, patterns and shard channels with subscribers (`INFO stats`).
    pub fn totals(&self) -> (usize, usize, usize) {
        let reg = self.reg.lock();
        (reg.channels.len(), reg.patterns.len(), reg.shard.len())
    }
}

/// The keyspace's event sink: each event published on `__keyspace@0__:<key>` (message: the event) and/or
/// `__keyevent@0__:<event>` (message: the key), as its flags say, through the same delivery as PUBLISH but
/// never forwarded to other nodes: as in Redis Cluster, a node's keyspace events reach its own clients only.
pub fn keyspace_event_sink(pubsub: Arc<PubSub>) -> store::notify::EventSink {
    Arc::new(move |events: Vec<store::notify::KeyEvent>| {
        for e in events {
            let key = Bytes::from(e.key);
            let event = Bytes::from_static(e.event.as_bytes());
            if e.keyspace {
                let mut channel = Vec::with_capacity(15 + key.len());
                channel.extend_from_slice(b"__keyspace@0__:");
                channel.extend_from_slice(&key);
                pubsub.deliver(&Bytes::from(channel), &event, false);
            }
            if e.keyevent {
                let mut channel = Vec::with_capacity(15 + event.len());
                channel.extend_from_slice(b"__keyevent@0__:");
                channel.extend_from_slice(&event);
                pubsub.deliver(&Bytes::from(channel), &key, false);
            }
        }
    })
}

/// Parses `client-output-buffer-limit` (`<class> <hard> <soft> <soft seconds>` repeated, classes `normal`,
/// `replica`/`slave`, `pubsub`, sizes with memory units) onto `current`, Redis' canonical text: only the named
/// classes change.
pub fn parse_buffer_limits(current: &str, value: &str) -> Result<String, String> {
    let classes = ["normal", "slave", "pubsub"];
    let mut limits: Vec<[i64; 3]> = classes
        .iter()
        .map(|c| class_limit(current, c).unwrap_or([0, 0, 0]))
        .collect();
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    for w in words.chunks_exact(4) {
        let class = match w[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = crate::config::parse_memory(w[1]);
        let soft = crate::config::parse_memory(w[2]);
        let secs = w[3].parse::<i64>().ok();
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) if h >= 0 && s >= 0 && t >= 0 => limits[class] = [h, s, t],
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    Ok(classes
        .iter()
        .zip(&limits)
        .map(|(c, [h, s, t])| format!("{c} {h} {s} {t}"))
        .collect::<Vec<_>>()
        .join(" "))
}

fn class_limit(text: &str, class: &str) -> Option<[i64; 3]> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let w = words.chunks_exact(4).find(|w| w[0] == class)?;
    Some([w[1].parse().ok()?, w[2].parse().ok()?, w[3].parse().ok()?])
}

/// The `pubsub` class of a canonical `client-output-buffer-limit` value.
pub fn pubsub_limit(text: &str) -> BufferLimit {
    let [hard, soft, secs] = class_limit(text, "pubsub").unwrap_or([0, 0, 0]);
    BufferLimit {
        hard: hard as u64,
        soft: soft as u64,
        soft_secs: secs as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_limits_parse_like_redis() {
        let cur = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        assert_eq!(
            parse_buffer_limits(cur, "pubsub 1mb 512k 5").unwrap(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 512000 5"
        );
        assert_eq!(
            parse_buffer_limits(cur, "replica 0 0 0 normal 1 2 3").unwrap(),
            "normal 1 2 3 slave 0 0 0 pubsub 33554432 8388608 60"
        );
        assert!(parse_buffer_limits(cur, "pubsub 1 2").is_err());
        assert!(parse_buffer_limits(cur, "other 1 2 3").is_err());
        assert!(parse_buffer_limits(cur, "pubsub x 2 3").is_err());
        assert_eq!(
            pubsub_limit(cur),
            BufferLimit {
                hard: 33554432,
                soft: 8388608,
                soft_secs: 60
            }
        );
    }
}
