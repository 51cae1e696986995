//! One client connection: read frames, run them in order, write the replies.
//!
//! Every complete command in the read buffer is decoded before any is run, so a pipeline executes as one batch:
//! consecutive keyspace commands share one acquisition of the shard and the replies go out in one write.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use resp::{encode, Decoder, Frame, Protocol};
use store::blocking::is_would_block;
use store::exec::Op;
use store::table::flags;
use store::{CommandSpec, Handler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tracing::{debug, Instrument};

use crate::blocking::TIMED_OUT;
use crate::clients::ClientHandle;
use crate::node::{unix_ms, CommandStat, Node};
use crate::replication::Replication;
use crate::routing::{self, Target};

/// Most commands run in one batch before replies are flushed, bounding the output buffer of a deep pipeline.
const MAX_BATCH: usize = 1024;
/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;
/// Output buffers larger than this are released after a flush.
const OUT_KEEP: usize = 64 * 1024;
/// Redis' PROTO_RESIZE_THRESHOLD: a query buffer above this is trimmed when recent use is under half of it.
const QBUF_RESIZE_THRESHOLD: usize = 32 * 1024;
/// Free query-buffer space below this is not worth a reallocation (Redis' 4 KB rule).
const QBUF_MIN_WASTE: usize = 4 * 1024;
/// How often an active client's query buffer is checked against its recent peak; Redis' `clientsCron`
/// visits each of a few clients about this often.
const QBUF_CHECK_PERIOD: Duration = Duration::from_millis(100);
/// A client idle this long gives its query buffer's free space back, as Redis does after more than 2 s.
const QBUF_IDLE_RELEASE: Duration = Duration::from_secs(3);

/// A blocking command waiting for its keys.
struct Parked {
    /// Its position in the commands passed to [`Conn::process`].
    index: usize,
    spec: &'static CommandSpec,
    /// Time its first attempt took.
    usec: u64,
    /// Its last reply, from the blocked-client registry.
    reply: oneshot::Receiver<Frame>,
    /// That registry (its shard's).
    registry: Arc<crate::blocking::Blocking>,
    deadline: Option<tokio::time::Instant>,
}

/// `CLIENT REPLY`: which replies reach the client (pushes always do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    /// Every reply.
    On,
    /// None.
    Off,
    /// `CLIENT REPLY SKIP` just ran: its own reply is dropped, then the next command's.
    SkipArmed,
    /// This command's reply is dropped.
    Skip,
}

/// Connection-local state that commands may change.
pub struct Conn {
    /// The node this connection belongs to.
    pub node: Arc<Node>,
    /// This client's entry in the registry.
    pub handle: Arc<ClientHandle>,
    /// Reply protocol, set by `HELLO`.
    pub protocol: Protocol,
    /// Whether the client has authenticated (always true when no password is set).
    pub authenticated: bool,
    /// Set by `QUIT` (and fatal errors): close after flushing the replies so far.
    pub closing: bool,
    /// Set by `READONLY`: the client accepts stale reads from a replica (cluster mode redirects otherwise).
    pub readonly: bool,
    /// Channels, patterns and shard channels this client listens to, and its message queue.
    pub subs: crate::commands::pubsub::Subscriptions,
    /// `CLIENT REPLY`.
    pub reply_mode: ReplyMode,
    /// The open transaction, between MULTI and EXEC/DISCARD (`crate::multi`).
    pub(crate) multi: Option<crate::multi::MultiState>,
    /// Set by `ASKING`, for the next command only: it may run on a slot being imported here.
    pub asking: bool,
    seed: u64,
    local_stats: Vec<(&'static str, CommandStat)>,
    executed: u64,
    last_cmd: Option<&'static str>,
}

impl Conn {
    pub(crate) fn next_seed(&mut self) -> u64 {
        // xorshift64*: the seed a leader stamps into a write; only needs to be unpredictable enough.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Sets the reply protocol and publishes it for `CLIENT LIST`.
    pub fn set_protocol(&mut self, p: Protocol) {
        self.protocol = p;
        if let Some(q) = &self.subs.queue {
            q.set_protocol(p);
        }
        self.handle
            .resp
            .store(if p == Protocol::Resp3 { 3 } else { 2 }, Ordering::Relaxed);
    }

    /// Resolves one command and checks it may run on this connection; an error reply otherwise.
    fn admit(&mut self, args: &[Bytes]) -> Result<&'static CommandSpec, Frame> {
        match store::cmd::resolve(args) {
            Err(e) => {
                if let Some(spec) = store::lookup(&args[0]) {
                    self.count(spec.name, 0, false, true);
                }
                Err(e)
            }
            Ok(spec)
                if !self.authenticated
                    && spec.flags & flags::NO_AUTH == 0
                    && self.node.hot.auth_required.load(Ordering::Relaxed) =>
            {
                self.count(store::table::table().full_name(spec), 0, false, true);
                Err(Frame::error("NOAUTH Authentication required."))
            }
            // RESP2 has no out-of-band frames: a subscribed client may only manage its subscriptions.
            Ok(spec)
                if self.protocol == Protocol::Resp2
                    && self.subs.total() > 0
                    && !SUBSCRIBED_MODE_COMMANDS.contains(&spec.name) =>
            {
                let name = store::table::table().full_name(spec);
                self.count(name, 0, false, true);
                Err(Frame::error_owned(format!(
                    "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET \
                     are allowed in this context"
                )))
            }
            Ok(spec) => Ok(spec),
        }
    }

    /// Records an executed command's statistics and slow-log entry.
    pub(crate) fn executed(
        &mut self,
        spec: &'static CommandSpec,
        args: &[Bytes],
        usec: u64,
        reply: &Frame,
    ) {
        let full_name = store::table::table().full_name(spec);
        self.count(full_name, usec, reply.is_error(), false);
        self.maybe_slowlog(spec, args, usec);
        self.last_cmd = Some(full_name);
        self.executed += 1;
    }

    /// Appends a reply; returns false when the rest of the batch must not run (QUIT, SHUTDOWN).
    fn emit(&mut self, reply: &Frame, out: &mut BytesMut) -> bool {
        if let Frame::Error(msg) = reply {
            self.node.record_error_reply(msg);
        }
        if self.closing && self.node.is_shutting_down() {
            // SHUTDOWN: Redis exits without answering, so the client sees the connection close.
            return false;
        }
        // Messages delivered to this client so far go first: a RESP3 client that publishes to itself sees the
        // message before PUBLISH's reply, as in Redis.
        if let Some(q) = &self.subs.queue {
            if q.pending_bytes() > 0 {
                q.drain_into(out);
            }
        }
        let silenced = match self.reply_mode {
            ReplyMode::On => false,
            _ if matches!(reply, Frame::Push(_)) => false,
            ReplyMode::Off => true,
            ReplyMode::SkipArmed => {
                self.reply_mode = ReplyMode::Skip;
                true
            }
            ReplyMode::Skip => {
                self.reply_mode = ReplyMode::On;
                true
            }
        };
        if !silenced {
            encode(reply, self.protocol, out);
        }
        !self.closing
    }

    /// Whether the command at `args` is a keyspace command of the given kind that may run now, on `target`.
    fn same_run(
        &self,
        args: &[Bytes],
        write: bool,
        target: &Target,
    ) -> Option<&'static CommandSpec> {
        let spec = store::cmd::resolve(args).ok()?;
        let auth_ok = self.authenticated
            || spec.flags & flags::NO_AUTH != 0
            || !self.node.hot.auth_required.load(Ordering::Relaxed);
        (auth_ok
            && matches!(spec.handler, Handler::Keyspace(_))
            && on_write_path(spec, args) == write
            && routing::same_target(&self.node, target, spec, args, self.readonly))
        .then_some(spec)
    }

    /// The routing step: the shard a keyspace command runs on, or the reply it gets instead (a cluster redirect).
    /// `ASKING` counts for this command only.
    fn route(&mut self, spec: &'static CommandSpec, args: &[Bytes]) -> Result<Target, Frame> {
        let asking = std::mem::take(&mut self.asking);
        routing::route(&self.node, spec, args, self.readonly, asking)
    }

    /// Runs a batch of commands in order and appends their replies to `out`. Consecutive writes become one
    /// proposal (one log entry, one fsync); consecutive reads share one lock of the shard after one
    /// linearizability check for the batch. Stops at a blocking command that has to wait, returning it: the
    /// commands after it run once it is answered.
    async fn process(&mut self, batch: &[Vec<Bytes>], out: &mut BytesMut) -> Option<Parked> {
        let node = self.node.clone();
        // The shard whose reads were checked (linearizable on its leader) in this batch.
        let mut reads_checked: Option<u64> = None;
        let mut parked = None;
        self.executed = 0;
        self.last_cmd = None;
        let mut i = 0;
        'batch: while i < batch.len() {
            let args = &batch[i];
            let admitted = self.admit(args);
            if self.multi.is_some() {
                if let Some(reply) = crate::multi::intercept(self, &admitted, args) {
                    i += 1;
                    if !self.emit(&reply, out) {
                        break;
                    }
                    continue;
                }
            }
            let spec = match admitted {
                Ok(spec) => spec,
                Err(reply) => {
                    i += 1;
                    if !self.emit(&reply, out) {
                        break;
                    }
                    continue;
                }
            };
            // ASKING counts for the next command only (a keyspace command takes it in its routing step).
            if !matches!(
                spec.handler,
                Handler::Keyspace(_) | Handler::Node(store::NodeCommand::Asking)
            ) {
                self.asking = false;
            }
            // Cluster mode: DBSIZE, SCAN, FLUSHALL... answer for every shard this node leads.
            if matches!(spec.handler, Handler::Keyspace(_))
                && node.cluster().is_some()
                && spec.spans_shards(args)
            {
                self.asking = false;
                let start = Instant::now();
                if let Some(reply) = crate::keyless::run(self, spec, args).await {
                    self.executed(spec, args, start.elapsed().as_micros() as u64, &reply);
                    i += 1;
                    if !self.emit(&reply, out) {
                        break;
                    }
                    continue;
                }
            }
            let target = match spec.handler {
                Handler::Keyspace(_) => match self.route(spec, args) {
                    Ok(t) => Some(t),
                    Err(reply) => {
                        self.executed(spec, args, 0, &reply);
                        i += 1;
                        if !self.emit(&reply, out) {
                            break;
                        }
                        continue;
                    }
                },
                _ => None,
            };
            match spec.handler {
                Handler::Keyspace(_) if on_write_path(spec, args) => {
                    // Over `maxmemory`, a write that may grow memory first makes room, or is refused.
                    if spec.flags & flags::DENYOOM != 0 && node.evictor.excess(&node) > 0 {
                        if let Err(reply) = node.evictor.make_room(&node).await {
                            self.executed(spec, args, 0, &reply);
                            i += 1;
                            if !self.emit(&reply, out) {
                                break;
                            }
                            continue;
                        }
                    }
                    let target = target.expect("routed");
                    let repl = target.shard.replication().cloned();
                    // A command that may block ends its run: what follows waits until it is answered.
                    let mut run = vec![spec];
                    while spec.block_on.is_none() {
                        let Some(s) = batch
                            .get(i + run.len())
                            .and_then(|a| self.same_run(a, true, &target))
                        else {
                            break;
                        };
                        // Over `maxmemory`, each write that may grow memory is checked on its own.
                        if s.flags & flags::DENYOOM != 0 && node.evictor.excess(&node) > 0 {
                            break;
                        }
                        run.push(s);
                        if s.block_on.is_some() {
                            break;
                        }
                    }
                    let start = Instant::now();
                    let cmds = &batch[i..i + run.len()];
                    let replies = match &repl {
                        Some(r) => {
                            let ops = run
                                .iter()
                                .zip(cmds)
                                .map(|(s, a)| match s.block_on {
                                    Some(_) => Op::Block(a.clone()),
                                    None => Op::Command(a.clone()),
                                })
                                .collect();
                            match r.group.write(ops).await {
                                Ok(mut frames) => {
                                    crate::migration::settle(
                                        &node,
                                        self.readonly,
                                        &run,
                                        &batch[i..i + run.len()],
                                        &mut frames,
                                    )
                                    .await;
                                    frames
                                }
                                Err(e) => vec![routing::refused(&node, &target, &e); run.len()],
                            }
                        }
                        None => vec![
                            Frame::error("LOADING Shoal is loading the dataset in memory");
                            run.len()
                        ],
                    };
                    let usec = start.elapsed().as_micros() as u64 / run.len() as u64;
                    for (k, ((spec, args), reply)) in run.iter().zip(cmds).zip(&replies).enumerate()
                    {
                        if is_would_block(reply) {
                            match self.park(&target.shard.blocking, spec, args, reply) {
                                Some((reply, deadline)) => {
                                    // CLIENT LIST shows the command it waits in, as Redis does.
                                    self.last_cmd = Some(store::table::table().full_name(spec));
                                    parked = Some(Parked {
                                        index: i + k,
                                        spec,
                                        usec,
                                        reply,
                                        registry: target.shard.blocking.clone(),
                                        deadline,
                                    });
                                    break 'batch;
                                }
                                None => {
                                    self.executed(spec, args, usec, &TIMED_OUT);
                                    if !self.emit(&TIMED_OUT, out) {
                                        break 'batch;
                                    }
                                    continue;
                                }
                            }
                        }
                        self.executed(spec, args, usec, reply);
                        if !self.emit(reply, out) {
                            break 'batch;
                        }
                    }
                    i += run.len();
                }
                Handler::Keyspace(_) => {
                    let target = target.expect("routed");
                    let repl = target.shard.replication().cloned();
                    if reads_checked != Some(target.id) {
                        if let Err(reply) = self.check_reads(&target, repl.as_deref()).await {
                            self.executed(spec, args, 0, &reply);
                            i += 1;
                            if !self.emit(&reply, out) {
                                break;
                            }
                            continue;
                        }
                        reads_checked = Some(target.id);
                    }
                    let mut run = vec![spec];
                    while let Some(s) = batch
                        .get(i + run.len())
                        .and_then(|a| self.same_run(a, false, &target))
                    {
                        run.push(s);
                    }
                    let mut replies = Vec::with_capacity(run.len());
                    let expired = {
                        let mut g = target.shard.lock();
                        let now = unix_ms();
                        let mut start = Instant::now();
                        for (spec, args) in run.iter().zip(&batch[i..]) {
                            let seed = self.next_seed();
                            let reply = match crate::migration::check_read(g.keyspace(), spec, args)
                            {
                                Some(moved) => moved,
                                None => g.read(spec, args, now, seed),
                            };
                            let end = Instant::now();
                            replies.push((end.duration_since(start).as_micros() as u64, reply));
                            start = end;
                        }
                        g.keyspace_mut().flush_events();
                        g.take_lazy_expired()
                    };
                    if !expired.is_empty() {
                        propose_expiry(repl.as_deref(), expired);
                    }
                    let cmds = &batch[i..i + run.len()];
                    crate::migration::settle_reads(&node, self.readonly, &run, cmds, &mut replies);
                    for ((spec, args), (usec, reply)) in run.iter().zip(cmds).zip(&replies) {
                        self.executed(spec, args, *usec, reply);
                        if !self.emit(reply, out) {
                            break 'batch;
                        }
                    }
                    i += run.len();
                }
                Handler::Node(cmd) => {
                    let start = Instant::now();
                    if let Some(frames) = crate::commands::run_multi(self, cmd, args) {
                        let usec = start.elapsed().as_micros() as u64;
                        if let Some(first) = frames.first() {
                            self.executed(spec, args, usec, first);
                        }
                        i += 1;
                        for f in &frames {
                            if !self.emit(f, out) {
                                break 'batch;
                            }
                        }
                        continue;
                    }
                    let reply = if crate::commands::is_async(cmd) {
                        crate::commands::run_async(self, cmd, args).await
                    } else {
                        crate::commands::run(self, cmd, args)
                    };
                    self.executed(spec, args, start.elapsed().as_micros() as u64, &reply);
                    i += 1;
                    if !self.emit(&reply, out) {
                        break;
                    }
                }
                Handler::Container => {
                    i += 1;
                    if !self.emit(&Frame::error("ERR missing subcommand"), out) {
                        break;
                    }
                }
            }
        }
        node.stats
            .total_commands_processed
            .fetch_add(self.executed, Ordering::Relaxed);
        if let Some(name) = self.last_cmd {
            let mut info = self.handle.info.lock();
            info.last_cmd.clear();
            info.last_cmd.push_str(name);
        }
        self.flush_stats();
        parked
    }

    /// Registers this client as a waiter for the blocking command `args`, which found nothing. Returns where
    /// its last reply will come from and when it times out.
    fn park(
        &mut self,
        registry: &crate::blocking::Blocking,
        spec: &'static CommandSpec,
        args: &[Bytes],
        reply: &Frame,
    ) -> Option<(oneshot::Receiver<Frame>, Option<tokio::time::Instant>)> {
        let block = (spec.block_on?)(args, unix_ms())?;
        // The command to retry, when the first attempt rewrote it (XREAD's `$` resolved to an ID).
        let retry = store::blocking::retry_args(reply).unwrap_or_else(|| args.to_vec());
        let deadline = if block.timeout_ms > 0 {
            // A deadline beyond what the clock can hold is no deadline.
            tokio::time::Instant::now().checked_add(Duration::from_millis(block.timeout_ms as u64))
        } else {
            None
        };
        self.handle.blocked.store(true, Ordering::Relaxed);
        let reply = registry.register(self.handle.id, block, retry);
        Some((reply, deadline))
    }

    /// Answers a blocking command once its wait ended, counting it as executed then.
    fn finish_parked(&mut self, p: &Parked, args: &[Bytes], reply: Frame, out: &mut BytesMut) {
        self.handle.blocked.store(false, Ordering::Relaxed);
        self.executed = 0;
        self.executed(p.spec, args, p.usec, &reply);
        self.emit(&reply, out);
        self.node
            .stats
            .total_commands_processed
            .fetch_add(self.executed, Ordering::Relaxed);
        self.flush_stats();
    }

    /// Makes sure reads served from this node's keyspace now are allowed: linearizable on the leader (a quorum
    /// round shared by concurrent readers, or a valid leader lease), stale on a replica (as a Redis replica
    /// serves reads).
    pub(crate) async fn check_reads(
        &self,
        target: &Target,
        repl: Option<&Replication>,
    ) -> Result<(), Frame> {
        let Some(r) = repl else {
            return Ok(());
        };
        if r.sole_leader() {
            return Ok(());
        }
        if !r.group.is_leader() {
            // A replica serves stale reads, as Redis replicas do; in cluster mode only after READONLY (routing
            // found this node leading the shard, and it has just lost the leadership).
            if self.node.cluster().is_some() && !self.readonly {
                let e = match r.group.leader() {
                    Some((leader_id, addr)) => {
                        raft::WriteError::ForwardToLeader { leader_id, addr }
                    }
                    None => raft::WriteError::NoLeader,
                };
                return Err(routing::refused(&self.node, target, &e));
            }
            return Ok(());
        }
        if self.node.hot.lease_reads.load(Ordering::Relaxed) && r.lease_valid() {
            return Ok(());
        }
        r.group
            .read_barrier()
            .await
            .map_err(|e| routing::refused(&self.node, target, &e))
    }

    fn count(&mut self, name: &'static str, usec: u64, failed: bool, rejected: bool) {
        let i = match self
            .local_stats
            .iter()
            .position(|(n, _)| std::ptr::eq(*n, name))
        {
            Some(i) => i,
            None => {
                self.local_stats.push((name, CommandStat::default()));
                self.local_stats.len() - 1
            }
        };
        let s = &mut self.local_stats[i].1;
        if rejected {
            s.rejected_calls += 1;
        } else {
            s.calls += 1;
            s.usec += usec;
            s.failed_calls += failed as u64;
        }
    }

    fn flush_stats(&mut self) {
        if self.local_stats.is_empty() {
            return;
        }
        let mut m = self.node.command_stats.lock();
        for (name, s) in self.local_stats.drain(..) {
            let e = match m.get_mut(name) {
                Some(e) => e,
                None => m.entry(name.to_string()).or_default(),
            };
            e.calls += s.calls;
            e.usec += s.usec;
            e.rejected_calls += s.rejected_calls;
            e.failed_calls += s.failed_calls;
        }
    }

    fn maybe_slowlog(&self, spec: &CommandSpec, args: &[Bytes], usec: u64) {
        let threshold = self.node.hot.slowlog_slower_than.load(Ordering::Relaxed);
        if threshold < 0 || (usec as i64) < threshold || spec.flags & flags::SKIP_SLOWLOG != 0 {
            return;
        }
        let name = self.handle.info.lock().name.clone();
        let max = self.node.hot.slowlog_max_len.load(Ordering::Relaxed) as usize;
        self.node.slowlog.lock().push(
            unix_ms() / 1000,
            usec,
            args,
            self.handle.addr.to_string(),
            name,
            max,
        );
    }
}

/// Commands a RESP2 client may run while subscribed (Redis' list).
const SUBSCRIBED_MODE_COMMANDS: &[&str] = &[
    "ping",
    "subscribe",
    "ssubscribe",
    "unsubscribe",
    "sunsubscribe",
    "psubscribe",
    "punsubscribe",
    "quit",
    "reset",
];

impl Drop for Conn {
    /// A closed connection leaves its subscriptions, so publishers stop counting it.
    fn drop(&mut self) {
        let node = self.node.clone();
        self.subs.clear(&node.pubsub, self.handle.id);
    }
}

/// Deletes, through the log, expired keys that reads came across (Redis deletes them on access; here the
/// deletion is an ordinary entry so replicas stay identical). Only a leader proposes; the reply is not awaited.
pub(crate) fn propose_expiry(repl: Option<&Replication>, keys: Vec<Vec<u8>>) {
    let Some(r) = repl else { return };
    if !r.group.is_leader() {
        return;
    }
    let group = r.group.clone();
    let op = Op::ExpireIfDue(keys.into_iter().map(Bytes::from).collect());
    tokio::spawn(async move {
        let _ = group.write(vec![op]).await;
    });
}

/// Serves one client until it quits, breaks the protocol, is killed or the node shuts down.
pub async fn serve(node: Arc<Node>, stream: TcpStream, handle: Arc<ClientHandle>) {
    let span = tracing::debug_span!("client", id = handle.id, addr = %handle.addr);
    let id = handle.id;
    serve_inner(node.clone(), stream, handle)
        .instrument(span)
        .await;
    node.clients.unregister(id);
}

async fn serve_inner(node: Arc<Node>, stream: TcpStream, handle: Arc<ClientHandle>) {
    let (mut rd, mut wr) = stream.into_split();
    // Allocated on the first read, so a connection that sends nothing holds no query buffer (as in Redis).
    let mut inbuf = BytesMut::new();
    let mut qbuf_peak = 0usize;
    let mut qbuf_checked = Instant::now();
    let idle_release = tokio::time::sleep(QBUF_IDLE_RELEASE);
    tokio::pin!(idle_release);
    let mut out = BytesMut::with_capacity(READ_CHUNK);
    let mut decoder = Decoder::new(node.limits());
    // Created once: a kill (CLIENT KILL, or every client at shutdown) leaves a permit if it lands between polls.
    let killed = handle.kill_notify.notified();
    tokio::pin!(killed);
    let mut last_read = tokio::time::Instant::now();
    let auth_required = node.hot.auth_required.load(Ordering::Relaxed);
    let mut conn = Conn {
        node: node.clone(),
        handle: handle.clone(),
        protocol: Protocol::Resp2,
        authenticated: !auth_required,
        closing: false,
        readonly: false,
        subs: Default::default(),
        reply_mode: ReplyMode::On,
        multi: None,
        asking: false,
        seed: (unix_ms() as u64) ^ handle.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        local_stats: Vec::new(),
        executed: 0,
        last_cmd: None,
    };
    let mut batch: Vec<Vec<Bytes>> = Vec::new();
    loop {
        if handle.killed.load(Ordering::Relaxed) {
            break;
        }
        // While the batch runs, `CLIENT LIST` shows the buffer as read, commands included, as Redis does.
        publish_qbuf(&handle, &inbuf);
        let mut fatal = None;
        let mut one_at_a_time = false;
        while batch.len() < MAX_BATCH {
            // Until the client authenticates, Redis caps multibulk and bulk lengths; and the command after an
            // AUTH is parsed with that AUTH's outcome, so such a client's commands are decoded one at a time.
            if !conn.authenticated && !batch.is_empty() {
                one_at_a_time = true;
                break;
            }
            decoder.set_auth_required(!conn.authenticated);
            match decoder.decode(&mut inbuf) {
                Ok(Some(args)) => batch.push(args),
                Ok(None) => break,
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            }
        }
        let mut more = batch.len() >= MAX_BATCH || one_at_a_time;
        let pipelined = batch.len() > 1;
        if !batch.is_empty() {
            handle.last_interaction_ms.store(
                handle.created.elapsed().as_millis() as i64,
                Ordering::Relaxed,
            );
            let mut from = 0;
            let mut gone = false;
            while let Some(mut p) = conn.process(&batch[from..], &mut out).await {
                // The replies so far go out before the wait, as Redis writes them before the client blocks.
                let reply =
                    if out.is_empty() || flush(&node, &handle, &mut wr, &mut out).await.is_ok() {
                        let io = Io {
                            rd: &mut rd,
                            wr: &mut wr,
                            inbuf: &mut inbuf,
                            queue: conn.subs.queue.as_deref(),
                        };
                        wait_parked(&node, &handle, &mut p, io, killed.as_mut()).await
                    } else {
                        p.registry.cancel(handle.id, None);
                        None
                    };
                let Some(reply) = reply else {
                    gone = true;
                    break;
                };
                conn.finish_parked(&p, &batch[from + p.index], reply, &mut out);
                // Answering counts as interaction (Redis' `lastinteraction`): a long wait is not idleness.
                last_read = tokio::time::Instant::now();
                handle.last_interaction_ms.store(
                    handle.created.elapsed().as_millis() as i64,
                    Ordering::Relaxed,
                );
                from += p.index + 1;
                // Commands that arrived during the wait are in the buffer: decode them before reading more.
                more = true;
            }
            batch.clear();
            if gone {
                handle.blocked.store(false, Ordering::Relaxed);
                break;
            }
        }
        if let Some(e) = &fatal {
            debug!(error = e.message(), "protocol error, closing");
            node.record_error_reply(e.message());
            encode(
                &Frame::error_owned(e.message().to_string()),
                conn.protocol,
                &mut out,
            );
        }
        if !out.is_empty() {
            handle.omem.store(out.len() as u64, Ordering::Relaxed);
            // For a pipeline, let the other clients that are ready run their commands first, so replies go out
            // together at the end of the scheduler's round, as Redis writes them just before its event loop sleeps:
            // a client woken once reads many replies instead of one wake-up per reply. A lone request-response
            // command is answered at once: there the extra scheduling round costs more latency than it saves.
            if pipelined {
                tokio::task::yield_now().await;
            }
            if flush(&node, &handle, &mut wr, &mut out).await.is_err() {
                break;
            }
        }
        if fatal.is_some() || conn.closing {
            break;
        }
        if more {
            continue;
        }
        // The arguments of the batch are dropped by now: the space they used can be read into again.
        compact(&mut inbuf);
        if qbuf_checked.elapsed() >= QBUF_CHECK_PERIOD {
            trim_query_buffer(&mut inbuf, &mut qbuf_peak, false);
            qbuf_checked = Instant::now();
        }
        publish_qbuf(&handle, &inbuf);
        if inbuf.len() as u64 > node.hot.query_buffer_limit.load(Ordering::Relaxed) {
            tracing::warn!(client = %handle.addr, "closing client that reached max query buffer length");
            break;
        }
        let idle_armed = inbuf.capacity() - inbuf.len() > QBUF_MIN_WASTE;
        // With room in the buffer, read directly: a short read tells tokio the socket is drained, so no extra
        // read comes back empty. Without room (an idle client's buffer was released), wait for data first, then
        // allocate.
        let have_room = inbuf.capacity() - inbuf.len() >= READ_CHUNK / 4;
        let client_timeout = node.hot.client_timeout.load(Ordering::Relaxed);
        let queue = conn.subs.queue.clone();
        let mut deliver = false;
        tokio::select! {
            // Messages for a subscriber: written below, where a kill can interrupt a write the client stalls.
            _ = messages_ready(queue.as_deref()) => deliver = true,
            r = read_more(&mut rd, &mut inbuf, have_room) => match r {
                Ok(Some(0)) | Err(_) => break,
                Ok(Some(n)) => {
                    node.stats.total_net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    qbuf_peak = qbuf_peak.max(inbuf.len());
                    // Idleness counts from the last read, as Redis' `lastinteraction`. The timer itself is only
                    // moved when it fires: resetting it on every read would cost a timer update per request.
                    last_read = tokio::time::Instant::now();
                }
                Ok(None) => inbuf.reserve(READ_CHUNK),
            },
            _ = &mut idle_release, if idle_armed => {
                let due = last_read + QBUF_IDLE_RELEASE;
                if tokio::time::Instant::now() >= due {
                    trim_query_buffer(&mut inbuf, &mut qbuf_peak, true);
                    idle_release.as_mut().reset(tokio::time::Instant::now() + QBUF_IDLE_RELEASE);
                } else {
                    idle_release.as_mut().reset(due);
                }
            }
            _ = &mut killed => break,
            // Redis' `timeout`: an idle client is closed. The timer exists only when the setting is on.
            _ = idle_timeout(last_read, client_timeout), if client_timeout > 0 => {
                debug!("closing idle client (timeout)");
                break;
            }
        }
        if let (true, Some(q)) = (deliver, queue) {
            let buf = q.take();
            if buf.is_empty() {
                continue;
            }
            let n = buf.len();
            tokio::select! {
                r = wr.write_all(&buf) => {
                    if r.is_err() {
                        break;
                    }
                    q.written(n);
                    node.stats.total_net_output_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                // Cut off by the output buffer limit (or CLIENT KILL) while the client was not reading.
                _ = &mut killed => break,
            }
        }
    }
    // Subscriptions end before the client sees the connection close.
    drop(conn);
    let _ = wr.shutdown().await;
}

/// Completes when a subscriber's queue has messages; never without a queue.
async fn messages_ready(queue: Option<&crate::pubsub::Subscriber>) {
    match queue {
        Some(q) => q.ready.notified().await,
        None => std::future::pending().await,
    }
}

/// Writes the replies in `out` and empties it.
async fn flush(
    node: &Node,
    handle: &ClientHandle,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    out: &mut BytesMut,
) -> std::io::Result<()> {
    handle.omem.store(out.len() as u64, Ordering::Relaxed);
    wr.write_all(out).await?;
    node.stats
        .total_net_output_bytes
        .fetch_add(out.len() as u64, Ordering::Relaxed);
    handle.omem.store(0, Ordering::Relaxed);
    out.clear();
    if out.capacity() > OUT_KEEP {
        *out = BytesMut::with_capacity(READ_CHUNK);
    }
    Ok(())
}

/// Whether a keyspace command goes through the log: writes, and reads that may wait (XREAD BLOCK), which are
/// proposed as [`Op::Block`] so that their wait starts from a position in the log.
fn on_write_path(spec: &CommandSpec, args: &[Bytes]) -> bool {
    spec.is_write() || spec.block_on.is_some_and(|f| f(args, unix_ms()).is_some())
}

/// Waits until a blocked command's wait ends and returns its reply; `None` if the client went away (closed
/// the connection, was killed, the node is shutting down, or it overran the query buffer limit). Meanwhile
/// the socket is still read, so a closed connection is noticed at once; the commands read wait in `inbuf`.
async fn wait_parked(
    node: &Node,
    handle: &ClientHandle,
    p: &mut Parked,
    io: Io<'_>,
    mut killed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> Option<Frame> {
    let Io {
        rd,
        wr,
        inbuf,
        queue,
    } = io;
    let registry = p.registry.clone();
    let gone = || {
        registry.cancel(handle.id, None);
        None
    };
    if handle.killed.load(Ordering::Relaxed) {
        return gone();
    }
    // The blocked command is consumed: CLIENT LIST shows only what is queued behind it.
    publish_qbuf(handle, inbuf);
    loop {
        let have_room = inbuf.capacity() - inbuf.len() >= READ_CHUNK / 4;
        tokio::select! {
            // A reply that is there goes out before anything else is looked at.
            biased;
            r = &mut p.reply => return r.ok(),
            _ = sleep_until(p.deadline) => {
                // The registry answers (a null, or the element if a pop was already under way).
                p.deadline = None;
                p.registry.cancel(handle.id, Some(TIMED_OUT));
            }
            r = read_more(rd, inbuf, have_room) => match r {
                Ok(Some(0)) | Err(_) => return gone(),
                Ok(Some(n)) => {
                    node.stats.total_net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    publish_qbuf(handle, inbuf);
                    if inbuf.len() as u64 > node.hot.query_buffer_limit.load(Ordering::Relaxed) {
                        tracing::warn!(client = %handle.addr, "closing client that reached max query buffer length");
                        return gone();
                    }
                }
                Ok(None) => inbuf.reserve(READ_CHUNK),
            },
            _ = killed.as_mut() => return gone(),
            // A RESP3 subscriber keeps receiving messages while it waits, as in Redis.
            _ = messages_ready(queue) => {
                let Some(q) = queue else { continue };
                let buf = q.take();
                if buf.is_empty() {
                    continue;
                }
                tokio::select! {
                    r = wr.write_all(&buf) => {
                        if r.is_err() {
                            return gone();
                        }
                        q.written(buf.len());
                        node.stats.total_net_output_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                    }
                    _ = killed.as_mut() => return gone(),
                }
            }
        }
    }
}

/// What a blocked client's wait reads from and writes to.
struct Io<'a> {
    rd: &'a mut tokio::net::tcp::OwnedReadHalf,
    wr: &'a mut tokio::net::tcp::OwnedWriteHalf,
    inbuf: &'a mut BytesMut,
    /// Its pub/sub queue, if it subscribed.
    queue: Option<&'a crate::pubsub::Subscriber>,
}

/// Completes at `deadline`, or never without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Completes once a client idle since `last_read` has been idle for `secs` seconds.
async fn idle_timeout(last_read: tokio::time::Instant, secs: u64) {
    tokio::time::sleep_until(last_read + Duration::from_secs(secs)).await;
}

/// Reads into `inbuf` when it has room (`Some(bytes read)`), or only waits for the socket to become readable
/// when it has none (`None`), so an idle client holds no buffer. Cancel-safe: nothing is lost if dropped.
async fn read_more(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    inbuf: &mut BytesMut,
    have_room: bool,
) -> std::io::Result<Option<usize>> {
    if have_room {
        rd.read_buf(inbuf).await.map(Some)
    } else {
        rd.readable().await.map(|()| None)
    }
}

/// Publishes the query buffer's use and free space for `CLIENT LIST`.
fn publish_qbuf(handle: &ClientHandle, inbuf: &BytesMut) {
    handle.qbuf.store(inbuf.len() as u64, Ordering::Relaxed);
    handle
        .qbuf_free
        .store((inbuf.capacity() - inbuf.len()) as u64, Ordering::Relaxed);
}

/// Moves unread bytes back to the start of their allocation when nothing else shares it and the copy is
/// small (at most the consumed prefix), so `capacity()` counts all the free space.
fn compact(inbuf: &mut BytesMut) {
    let free = inbuf.capacity() - inbuf.len();
    // Asking for more than is free makes `try_reclaim` reuse the consumed prefix; it never allocates.
    let _ = inbuf.try_reclaim(free + 1);
}

/// Redis' `clientsCronResizeQueryBuffer`: when more than 4 KB is free, an idle client's buffer shrinks to
/// its content, and a buffer over 32 KB that is more than twice its recent peak shrinks to that peak (or its
/// content, if larger). The peak then restarts from the current content.
fn trim_query_buffer(inbuf: &mut BytesMut, peak: &mut usize, idle: bool) {
    let (len, alloc) = (inbuf.len(), inbuf.capacity());
    if alloc - len > QBUF_MIN_WASTE {
        let target = if idle {
            Some(len)
        } else if alloc > QBUF_RESIZE_THRESHOLD && alloc / 2 > *peak {
            Some(len.max(*peak))
        } else {
            None
        };
        if let Some(target) = target {
            let mut resized = BytesMut::with_capacity(target);
            resized.extend_from_slice(inbuf);
            *inbuf = resized;
        }
    }
    *peak = inbuf.len();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_reuses_the_consumed_prefix() {
        let mut buf = BytesMut::new();
        buf.reserve(READ_CHUNK);
        let alloc = buf.capacity();
        buf.extend_from_slice(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI");
        let consumed = buf.split_to(14);
        drop(consumed);
        assert_eq!(buf.capacity(), alloc - 14);
        compact(&mut buf);
        assert_eq!(&buf[..], b"*1\r\n$4\r\nPI");
        assert_eq!(buf.capacity(), alloc);
        // Shared with a live argument: left alone.
        let mut shared = BytesMut::with_capacity(64);
        shared.extend_from_slice(b"abcdef");
        let arg = shared.split_to(3).freeze();
        compact(&mut shared);
        assert_eq!(shared.capacity(), 61);
        assert_eq!(&arg[..], b"abc");
    }

    #[test]
    fn idle_client_gives_its_free_space_back() {
        let mut peak = 0;
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        trim_query_buffer(&mut buf, &mut peak, true);
        assert_eq!(buf.capacity(), 0);
        // A partial command survives the trim.
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        buf.extend_from_slice(b"*2\r\n$3\r\nGET");
        trim_query_buffer(&mut buf, &mut peak, true);
        assert_eq!(&buf[..], b"*2\r\n$3\r\nGET");
        assert_eq!(buf.capacity(), buf.len());
        assert_eq!(peak, buf.len());
        // Less than 4 KB free: not worth a reallocation.
        let mut buf = BytesMut::with_capacity(4096);
        trim_query_buffer(&mut buf, &mut peak, true);
        assert_eq!(buf.capacity(), 4096);
    }

    #[test]
    fn large_buffer_shrinks_to_its_recent_peak() {
        let mut buf = BytesMut::with_capacity(512 * 1024);
        // Recently used up to 100 bytes: trimmed to that, never below the content.
        let mut peak = 100;
        buf.extend_from_slice(b"abc");
        trim_query_buffer(&mut buf, &mut peak, false);
        assert_eq!(buf.capacity(), 100);
        assert_eq!(&buf[..], b"abc");
        assert_eq!(peak, 3);
        // Recently used more than half: kept.
        let mut buf = BytesMut::with_capacity(512 * 1024);
        let mut peak = 300 * 1024;
        trim_query_buffer(&mut buf, &mut peak, false);
        assert_eq!(buf.capacity(), 512 * 1024);
        assert_eq!(peak, 0);
        // At most 32 KB: kept while the client is active.
        let mut buf = BytesMut::with_capacity(QBUF_RESIZE_THRESHOLD);
        trim_query_buffer(&mut buf, &mut 0, false);
        assert_eq!(buf.capacity(), QBUF_RESIZE_THRESHOLD);
    }
}
