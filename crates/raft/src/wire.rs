//! A lean transport for the Raft calls every write pays for (AppendEntries, which also carries heartbeats and
//! commit updates) and for votes: length-prefixed frames over one plain TCP connection per peer, on the
//! cluster-bus port beside gRPC.
//!
//! Why: a unary gRPC call costs a new HTTP/2 stream (HPACK-coded headers each way, trailers, flow-control
//! updates), and the HTTP/2 client wrote 2-3 times per call. With three replicas on two cores every process's
//! CPU per write counts, and that machinery was about a quarter of the leader's and a third of each follower's.
//! Here a call is one frame written and one frame read on each side, several frames sharing a `write(2)` when
//! they queue up.
//!
//! - Handshake: the client sends [`HELLO`] (24 bytes, as long as the HTTP/2 preface, so an HTTP/2 server
//!   rejects it at once); a server that speaks this protocol answers [`MAGIC`]. [`serve`] tells the two apart
//!   by the connection's first byte (`S` here, `P` for HTTP/2). A peer that answers anything else (an older
//!   node: HTTP/2 settings, or a close) is called over gRPC instead, and asked again after [`LEGACY_RETRY`].
//! - Request frame: `[len u32][id u64][group u64][kind u8][payload]`; reply frame: `[len u32][id u64][status
//!   u8][payload]` (little-endian; `len` counts the bytes after itself, at most [`MAX_FRAME`]). Payloads are
//!   postcard, as on gRPC: the request, and the `Result` of the Raft call.
//! - Replies come back in any order (each request runs in its own task on the server), matched by id. A call
//!   whose caller gave up (openraft's timeout) is forgotten; its late reply is dropped.
//! - InstallSnapshot stays on gRPC: its multi-megabyte chunks would hold up the heartbeats queued behind them
//!   on a single stream, where HTTP/2 interleaves them.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::grpc::{GrpcRegistry, MAX_MESSAGE};
use crate::types::GroupId;

/// The server's answer to [`HELLO`].
pub const MAGIC: &[u8; 8] = b"SHOALRW1";
/// What a client sends first: [`MAGIC`], padded to the length of the HTTP/2 preface.
pub const HELLO: &[u8; 24] = b"SHOALRW1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
/// Largest frame accepted: a gRPC message's limit plus the frame header.
pub const MAX_FRAME: usize = MAX_MESSAGE + 32;
/// How long a peer found not to speak this protocol is called over gRPC before it is asked again.
pub const LEGACY_RETRY: Duration = Duration::from_secs(30);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest a connection may take to send its first byte or its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes gathered into one `write(2)`.
const WRITE_BATCH: usize = 256 << 10;

/// The calls carried here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Call {
    /// openraft's AppendEntries.
    AppendEntries = 1,
    /// openraft's Vote.
    Vote = 2,
}

const ST_OK: u8 = 0;
const ST_NOT_HOSTED: u8 = 1;
const ST_BAD_REQUEST: u8 = 2;

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// The peer cannot be reached (down, refusing, connection lost before the reply, or not hosting the group).
    Unreachable(String),
    /// The peer answered, but not with a result (a malformed request or reply).
    Bad(String),
    /// The peer does not speak this protocol: call it over gRPC.
    Legacy,
}

/// A postcard output that appends to a frame buffer (after its header).
struct FrameFlavor(Vec<u8>);

impl postcard::ser_flavors::Flavor for FrameFlavor {
    type Output = Vec<u8>;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// `header` followed by `value` in postcard, with the length prefix filled in.
fn frame<T: Serialize + ?Sized>(header: &[u8], value: &T) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(header);
    let mut buf = postcard::serialize_with_flavor(value, FrameFlavor(buf))
        .map_err(|e| format!("encode: {e}"))?;
    finish_frame(&mut buf)?;
    Ok(buf)
}

fn finish_frame(buf: &mut [u8]) -> Result<(), String> {
    let len = buf.len() - 4;
    if len > MAX_FRAME {
        return Err(format!(
            "message of {len} bytes over the {MAX_FRAME}-byte limit"
        ));
    }
    buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

/// Takes one whole frame (without its length prefix) off the front of `buf`, if it holds one.
fn take_frame(buf: &mut BytesMut) -> io::Result<Option<Bytes>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes over the {MAX_FRAME}-byte limit"),
        ));
    }
    if buf.len() < 4 + len {
        // Room for the rest of it, so the next reads do not reallocate piecemeal (bounded by MAX_FRAME).
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Writes the frames sent on `rx`, gathering what is queued into one write, until `rx` closes or a write fails.
async fn write_loop(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) -> io::Result<()> {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut pending = first;
        loop {
            match rx.try_recv() {
                Ok(next) if batch.len() + pending.len() + next.len() <= WRITE_BATCH => {
                    batch.extend_from_slice(&pending);
                    pending = next;
                }
                Ok(next) => {
                    batch.extend_from_slice(&pending);
                    w.write_all(&batch).await?;
                    batch.clear();
                    pending = next;
                }
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            w.write_all(&pending).await?;
        } else {
            batch.extend_from_slice(&pending);
            w.write_all(&batch).await?;
            batch.clear();
            if batch.capacity() > WRITE_BATCH * 2 {
                batch = Vec::new();
            }
        }
    }
    Ok(())
}

type Reply = Result<Bytes, CallError>;

/// Calls in flight on one connection, by id.
#[derive(Default)]
struct Pending {
    calls: HashMap<u64, oneshot::Sender<Reply>>,
    /// Why the connection is gone; set once, after which no call is registered.
    closed: Option<String>,
}

struct Shared {
    pending: Mutex<Pending>,
    dead: AtomicBool,
}

impl Shared {
    fn fail(&self, why: &str) {
        self.dead.store(true, Ordering::Release);
        let calls = {
            let mut p = self.pending.lock();
            if p.closed.is_none() {
                p.closed = Some(why.to_string());
            }
            std::mem::take(&mut p.calls)
        };
        for (_, tx) in calls {
            let _ = tx.send(Err(CallError::Unreachable(why.to_string())));
        }
    }
}

/// One open connection to a peer.
struct Conn {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for Conn {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn read_loop(mut r: OwnedReadHalf, shared: Arc<Shared>) {
    let mut buf = BytesMut::with_capacity(64 << 10);
    let why = loop {
        loop {
            match take_frame(&mut buf) {
                Ok(Some(mut f)) => {
                    if f.len() < 9 {
                        shared.fail("malformed reply frame");
                        return;
                    }
                    let id = f.get_u64_le();
                    let status = f.get_u8();
                    let tx = shared.pending.lock().calls.remove(&id);
                    if let Some(tx) = tx {
                        let _ = tx.send(match status {
                            ST_OK => Ok(f),
                            ST_NOT_HOSTED => Err(CallError::Unreachable(
                                String::from_utf8_lossy(&f).into_owned(),
                            )),
                            _ => Err(CallError::Bad(String::from_utf8_lossy(&f).into_owned())),
                        });
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    shared.fail(&e.to_string());
                    return;
                }
            }
        }
        match r.read_buf(&mut buf).await {
            Ok(0) => break "connection closed by the peer".to_string(),
            Ok(_) => {}
            Err(e) => break format!("read: {e}"),
        }
    };
    shared.fail(&why);
}

enum State {
    Idle,
    Up(Arc<Conn>),
    /// The peer did not speak this protocol at this instant.
    Legacy(Instant),
}

/// The connection to one peer (shared by every group that replicates to it). Cheap to clone.
#[derive(Clone)]
pub struct WirePeer {
    inner: Arc<PeerInner>,
}

struct PeerInner {
    addr: String,
    state: Mutex<State>,
    /// One connection attempt at a time.
    connecting: tokio::sync::Mutex<()>,
}

/// Removes a call from the pending table if its caller stops waiting for it.
struct Forget<'a> {
    shared: &'a Shared,
    id: u64,
    armed: bool,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.pending.lock().calls.remove(&self.id);
        }
    }
}

impl WirePeer {
    /// The peer whose cluster bus listens at `addr` (`host:port`); nothing connects until the first call.
    pub fn new(addr: String) -> WirePeer {
        WirePeer {
            inner: Arc::new(PeerInner {
                addr,
                state: Mutex::new(State::Idle),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The bus address this peer is reached at.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Whether the peer speaks this protocol: `Some(true)` while connected, `Some(false)` while it is called over
    /// gRPC, `None` before the first call or after the connection was lost.
    pub fn speaks_wire(&self) -> Option<bool> {
        match &*self.inner.state.lock() {
            State::Up(c) if !c.shared.dead.load(Ordering::Acquire) => Some(true),
            State::Legacy(at) if at.elapsed() < LEGACY_RETRY => Some(false),
            _ => None,
        }
    }

    fn current(&self) -> Option<Result<Arc<Conn>, CallError>> {
        match &*self.inner.state.lock() {
            State::Up(c) if !c.shared.dead.load(Ordering::Acquire) => Some(Ok(c.clone())),
            State::Legacy(at) if at.elapsed() < LEGACY_RETRY => Some(Err(CallError::Legacy)),
            _ => None,
        }
    }

    async fn conn(&self) -> Result<Arc<Conn>, CallError> {
        if let Some(c) = self.current() {
            return c;
        }
        let _one = self.inner.connecting.lock().await;
        if let Some(c) = self.current() {
            return c;
        }
        match connect(&self.inner.addr).await {
            Ok(Some(conn)) => {
                let conn = Arc::new(conn);
                *self.inner.state.lock() = State::Up(conn.clone());
                Ok(conn)
            }
            Ok(None) => {
                tracing::info!(
                    addr = %self.inner.addr,
                    "peer does not speak the Raft wire protocol, using gRPC"
                );
                *self.inner.state.lock() = State::Legacy(Instant::now());
                Err(CallError::Legacy)
            }
            Err(e) => {
                *self.inner.state.lock() = State::Idle;
                Err(CallError::Unreachable(format!(
                    "connect to {}: {e}",
                    self.inner.addr
                )))
            }
        }
    }

    /// Sends `req` as call `kind` to `group` and returns the reply's payload (the postcard-encoded result).
    /// Dropping the future forgets the call.
    pub async fn call<T: Serialize>(
        &self,
        group: GroupId,
        kind: Call,
        req: &T,
    ) -> Result<Bytes, CallError> {
        let conn = self.conn().await?;
        let id = conn.next_id.fetch_add(1, Ordering::Relaxed);
        let mut header = [0u8; 17];
        header[..8].copy_from_slice(&id.to_le_bytes());
        header[8..16].copy_from_slice(&group.to_le_bytes());
        header[16] = kind as u8;
        let buf = frame(&header, req).map_err(CallError::Bad)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut p = conn.shared.pending.lock();
            if let Some(why) = &p.closed {
                return Err(CallError::Unreachable(why.clone()));
            }
            p.calls.insert(id, tx);
        }
        let mut forget = Forget {
            shared: &conn.shared,
            id,
            armed: true,
        };
        if conn.tx.send(buf).is_err() {
            return Err(CallError::Unreachable("connection closed".into()));
        }
        let r = rx
            .await
            .unwrap_or_else(|_| Err(CallError::Unreachable("connection closed".into())));
        forget.armed = false;
        r
    }
}

/// Connects and shakes hands: `Ok(None)` if the peer answered but does not speak this protocol.
async fn connect(addr: &str) -> io::Result<Option<Conn>> {
    let mut s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    // A call waits for its reply: nothing may sit in Nagle's buffer waiting for an ACK.
    s.set_nodelay(true)?;
    s.write_all(HELLO).await?;
    let mut answer = [0u8; 8];
    let got = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let mut n = 0;
        while n < answer.len() {
            match s.read(&mut answer[n..]).await? {
                0 => break,
                k => n += k,
            }
        }
        io::Result::Ok(n)
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer to the hello"))??;
    if got < answer.len() || &answer != MAGIC {
        return Ok(None);
    }
    let (r, w) = s.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        dead: AtomicBool::new(false),
    });
    let writer = {
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(e) = write_loop(w, rx).await {
                shared.fail(&format!("write: {e}"));
            }
        })
    };
    let reader = tokio::spawn(read_loop(r, shared.clone()));
    Ok(Some(Conn {
        tx,
        shared,
        next_id: AtomicU64::new(1),
        tasks: [writer, reader],
    }))
}

/// Whether a connection accepted on the cluster bus speaks this protocol (rather than HTTP/2): its first byte.
/// `None` if it sent nothing in time or closed.
pub(crate) async fn is_wire(s: &TcpStream) -> Option<bool> {
    let mut b = [0u8; 1];
    match tokio::time::timeout(HELLO_TIMEOUT, s.peek(&mut b)).await {
        Ok(Ok(1)) => Some(b[0] == HELLO[0]),
        _ => None,
    }
}

fn reply_frame(id: u64, status: u8, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(13 + payload.len());
    buf.extend_from_slice(&[0; 4]);
    buf.put_u64_le(id);
    buf.put_u8(status);
    buf.extend_from_slice(payload);
    let len = (buf.len() - 4) as u32;
    buf[..4].copy_from_slice(&len.to_le_bytes());
    buf
}

/// Runs the Raft call of one request frame and returns the reply frame.
async fn answer(registry: &GrpcRegistry, mut f: Bytes) -> Option<Vec<u8>> {
    if f.len() < 17 {
        return None;
    }
    let id = f.get_u64_le();
    let group = f.get_u64_le();
    let kind = f.get_u8();
    let Some(raft) = registry.raft(group) else {
        let why = format!("group {group} is not hosted here");
        return Some(reply_frame(id, ST_NOT_HOSTED, why.as_bytes()));
    };
    let bad = |e: String| Some(reply_frame(id, ST_BAD_REQUEST, e.as_bytes()));
    let encoded = if kind == Call::AppendEntries as u8 {
        match postcard::from_bytes(&f) {
            Ok(req) => frame(&reply_header(id), &raft.append_entries(req).await),
            Err(e) => return bad(format!("bad payload: {e}")),
        }
    } else if kind == Call::Vote as u8 {
        match postcard::from_bytes(&f) {
            Ok(req) => frame(&reply_header(id), &raft.vote(req).await),
            Err(e) => return bad(format!("bad payload: {e}")),
        }
    } else {
        return bad(format!("unknown call kind {kind}"));
    };
    match encoded {
        Ok(buf) => Some(buf),
        Err(e) => bad(e),
    }
}

fn reply_header(id: u64) -> [u8; 9] {
    let mut h = [0u8; 9];
    h[..8].copy_from_slice(&id.to_le_bytes());
    h[8] = ST_OK;
    h
}

/// Serves one connection that sent [`HELLO`] until it closes, a frame is malformed, or `stop` turns true.
pub(crate) async fn serve_conn(
    mut s: TcpStream,
    registry: GrpcRegistry,
    mut stop: watch::Receiver<bool>,
) {
    let _ = s.set_nodelay(true);
    let mut hello = [0u8; HELLO.len()];
    match tokio::time::timeout(HELLO_TIMEOUT, s.read_exact(&mut hello)).await {
        Ok(Ok(_)) if &hello == HELLO => {}
        _ => return,
    }
    if s.write_all(MAGIC).await.is_err() {
        return;
    }
    let (mut r, w) = s.into_split();
    let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        let _ = write_loop(w, rx).await;
    });
    let mut buf = BytesMut::with_capacity(64 << 10);
    'conn: loop {
        loop {
            match take_frame(&mut buf) {
                Ok(Some(f)) => {
                    // Each call in its own task: one group's append must not hold up another group's.
                    let (registry, tx) = (registry.clone(), tx.clone());
                    tokio::spawn(async move {
                        if let Some(reply) = answer(&registry, f).await {
                            let _ = tx.send(reply);
                        }
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "dropping a Raft wire connection");
                    break 'conn;
                }
            }
        }
        tokio::select! {
            n = r.read_buf(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    writer.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_lengths_are_refused() {
        let f = frame(&[7, 7], &(1u32, "abc")).unwrap();
        let mut buf = BytesMut::from(&f[..]);
        buf.extend_from_slice(&f[..5]);
        let one = take_frame(&mut buf).unwrap().unwrap();
        assert_eq!(&one[..2], &[7, 7]);
        let v: (u32, String) = postcard::from_bytes(&one[2..]).unwrap();
        assert_eq!(v, (1, "abc".to_string()));
        // The second frame is not whole yet.
        assert!(take_frame(&mut buf).unwrap().is_none());
        let mut huge = BytesMut::new();
        huge.put_u32_le(u32::MAX);
        assert!(take_frame(&mut huge).is_err());
    }
}
