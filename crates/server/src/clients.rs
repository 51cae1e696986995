//! The registry of connected clients, for `CLIENT LIST|INFO|KILL` and `INFO clients`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// What other tasks may read or change of one connection.
#[derive(Debug)]
pub struct ClientHandle {
    /// Unique, increasing client id (`CLIENT ID`).
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address the client connected to.
    pub laddr: SocketAddr,
    /// When the connection was accepted.
    pub created: Instant,
    /// Mutable descriptive state.
    pub info: Mutex<ClientInfo>,
    /// Milliseconds since `created` of the last command.
    pub last_interaction_ms: AtomicI64,
    /// Bytes in the query buffer (while a batch runs, including the commands being run, as Redis counts).
    pub qbuf: AtomicU64,
    /// Free bytes allocated for the query buffer.
    pub qbuf_free: AtomicU64,
    /// Bytes waiting in the output buffer.
    pub omem: AtomicU64,
    /// Protocol version (2 or 3).
    pub resp: AtomicU8,
    /// Set when the client must be disconnected (`CLIENT KILL`, shutdown).
    pub killed: AtomicBool,
    /// Wakes the connection task when `killed` is set.
    pub kill_notify: Notify,
    /// Waiting in a blocking command (`flags=b`).
    pub blocked: AtomicBool,
    /// Commands queued since MULTI, or -1 outside a transaction (`multi=`, `flags=x`).
    pub multi: AtomicI64,
    /// Bytes held by the queued commands (`multi-mem`).
    pub multi_mem: AtomicU64,
    /// What WATCH observed of each watched key.
    pub watched: Mutex<Vec<store::exec::Watched>>,
    /// A watched key changed (`flags=d`), as last computed by `multi::refresh_dirty_flags`.
    pub dirty_cas: AtomicBool,
}

/// Descriptive client state changed by its own commands.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// `CLIENT SETNAME`.
    pub name: String,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: String,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: String,
    /// Full name of the last command (`client|list`).
    pub last_cmd: String,
    /// Authenticated user name.
    pub user: String,
}

impl ClientHandle {
    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
    }

    /// Seconds since the connection was accepted.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let since = self.created.elapsed().as_millis() as i64
            - self.last_interaction_ms.load(Ordering::Relaxed);
        (since.max(0) / 1000) as u64
    }

    /// The line `CLIENT LIST` and `CLIENT INFO` print for this client, with Redis 7's fields.
    pub fn describe(&self) -> String {
        let info = self.info.lock().clone();
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        let qbuf_free = self.qbuf_free.load(Ordering::Relaxed);
        let omem = self.omem.load(Ordering::Relaxed);
        let multi = self.multi.load(Ordering::Relaxed);
        let multi_mem = self.multi_mem.load(Ordering::Relaxed);
        // Redis' order of the flag letters.
        let mut flags = String::new();
        if multi >= 0 {
            flags.push('x');
        }
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        if self.dirty_cas.load(Ordering::Relaxed) {
            flags.push('d');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 multi={} \
             qbuf={} qbuf-free={} argv-mem=0 multi-mem={} rbs=16384 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r \
             cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            info.name,
            self.age_secs(),
            self.idle_secs(),
            flags,
            multi,
            qbuf,
            qbuf_free,
            multi_mem,
            omem,
            qbuf + qbuf_free + omem + multi_mem + 16384,
            if info.last_cmd.is_empty() { "NULL" } else { &info.last_cmd },
            if info.user.is_empty() { "default" } else { &info.user },
            self.resp.load(Ordering::Relaxed),
            info.lib_name,
            info.lib_ver,
        )
    }
}

/// Every connected client, by id.
#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl Clients {
    /// Registers a new connection and returns its handle.
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            info: Mutex::new(ClientInfo::default()),
            last_interaction_ms: AtomicI64::new(0),
            qbuf: AtomicU64::new(0),
            qbuf_free: AtomicU64::new(0),
            omem: AtomicU64::new(0),
            resp: AtomicU8::new(2),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            blocked: AtomicBool::new(false),
            multi: AtomicI64::new(-1),
            multi_mem: AtomicU64::new(0),
            watched: Mutex::new(Vec::new()),
            dirty_cas: AtomicBool::new(false),
        });
        self.map.lock().insert(id, h.clone());
        h
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }

    /// A snapshot of every client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map.lock().values().cloned().collect()
    }

    /// Asks every client to disconnect.
    pub fn kill_all(&self) {
        for c in self.all() {
            c.kill();
        }
    }
}
