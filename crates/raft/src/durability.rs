//! When the log reaches the disk: Redis' `appendfsync` policies over one flush per node, with group commit.
//!
//! One flush makes every write of the node durable (every group's log, vote and metadata: they share one
//! store). Appends that arrive while a flush is running wait for the next one, so under load N concurrent appends
//! cost one flush, not N.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// Redis' `appendfsync`: when an appended log entry counts as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// `always`: an entry is acknowledged (and counts toward the majority) only after a flush covering it.
    Always,
    /// `everysec`: acknowledged once written (for the AOF engine: handed to the operating system, so a crash
    /// of the process loses nothing); a background task flushes every second (redb and sled also after
    /// [`EARLY_FLUSH_WRITES`] writes), so an operating system crash of every replica at once loses at most
    /// about a second of acknowledged writes.
    #[default]
    Everysec,
    /// `no`: acknowledged once written; flushed only in the background every 30 s (redb and sled also after
    /// [`EARLY_FLUSH_WRITES`] writes: they need durable points to reclaim space), as an operating system's
    /// writeback would.
    No,
}

impl FsyncPolicy {
    /// The name `CONFIG GET appendfsync` answers.
    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::No => "no",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            FsyncPolicy::Always => 0,
            FsyncPolicy::Everysec => 1,
            FsyncPolicy::No => 2,
        }
    }

    fn from_u8(v: u8) -> FsyncPolicy {
        match v {
            0 => FsyncPolicy::Always,
            1 => FsyncPolicy::Everysec,
            _ => FsyncPolicy::No,
        }
    }
}

impl FromStr for FsyncPolicy {
    type Err = ();

    /// Parses Redis' names, case-insensitively.
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "everysec" => Ok(FsyncPolicy::Everysec),
            "no" => Ok(FsyncPolicy::No),
            _ => Err(()),
        }
    }
}

/// The one durability point of a node's store (`fdatasync` of the appended files, or the engine's flush).
pub trait Durable: Send + Sync + 'static {
    /// Makes every write done so far durable.
    fn flush(&self) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + '_>>;
    /// The same, blocking the thread (for drop and shutdown paths outside a runtime).
    fn flush_blocking(&self) -> io::Result<()>;
    /// Whether `everysec` and `no` also flush after [`EARLY_FLUSH_WRITES`] unflushed writes (engines that lose
    /// unflushed writes with the process, or reclaim space only at durable points, want it).
    fn early_flush(&self) -> bool {
        true
    }
}

/// What the flusher has done, for `INFO persistence` and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Flushes performed.
    pub flushes: u64,
    /// Writes (appends, votes) whose acknowledgement waited for a flush.
    pub waited_writes: u64,
    /// Total time spent flushing, in microseconds.
    pub flush_micros: u64,
    /// Flushes that failed.
    pub errors: u64,
}

type Done = Box<dyn FnOnce(io::Result<()>) + Send>;

struct Inner {
    durable: Arc<dyn Durable>,
    early_flush: bool,
    policy: AtomicU8,
    waiting: Mutex<Vec<Done>>,
    wake: Notify,
    /// Writes acknowledged without a flush since the last one (for `everysec` and `no`).
    unflushed: AtomicBool,
    /// How many such writes: past [`EARLY_FLUSH_WRITES`] the flush comes early, which bounds both what a crash
    /// can lose and the space an engine cannot reclaim until its next durable point.
    unflushed_writes: AtomicU64,
    closed: AtomicBool,
    flushes: AtomicU64,
    waited: AtomicU64,
    micros: AtomicU64,
    errors: AtomicU64,
}

/// Runs the node's flushes according to the [`FsyncPolicy`]; cheap to clone. The task stops (after a last
/// flush) when the last clone is dropped or [`Flusher::close`] is called.
#[derive(Clone)]
pub struct Flusher {
    inner: Arc<Inner>,
    guard: Arc<TaskGuard>,
}

struct TaskGuard {
    inner: Arc<Inner>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake.notify_one();
    }
}

fn copy_err(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

impl Flusher {
    /// Starts the flush task on the current tokio runtime.
    pub fn start(durable: Arc<dyn Durable>, policy: FsyncPolicy) -> Flusher {
        let inner = Arc::new(Inner {
            early_flush: durable.early_flush(),
            durable,
            policy: AtomicU8::new(policy.to_u8()),
            waiting: Mutex::new(Vec::new()),
            wake: Notify::new(),
            unflushed: AtomicBool::new(false),
            unflushed_writes: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            flushes: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        });
        let task = tokio::spawn(run(inner.clone()));
        Flusher {
            guard: Arc::new(TaskGuard {
                inner: inner.clone(),
                task: Mutex::new(Some(task)),
            }),
            inner,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> FsyncPolicy {
        FsyncPolicy::from_u8(self.inner.policy.load(Ordering::Relaxed))
    }

    /// Changes the policy (`CONFIG SET appendfsync`); takes effect for the next write.
    pub fn set_policy(&self, policy: FsyncPolicy) {
        self.inner.policy.store(policy.to_u8(), Ordering::Relaxed);
        self.inner.wake.notify_one();
    }

    /// Counters so far.
    pub fn stats(&self) -> FlushStats {
        let i = &self.inner;
        FlushStats {
            flushes: i.flushes.load(Ordering::Relaxed),
            waited_writes: i.waited.load(Ordering::Relaxed),
            flush_micros: i.micros.load(Ordering::Relaxed),
            errors: i.errors.load(Ordering::Relaxed),
        }
    }

    /// Reports a finished write to `done` when the policy says it is written: after the next flush for
    /// `always`, at once otherwise.
    pub fn after_write(&self, done: impl FnOnce(io::Result<()>) + Send + 'static) {
        if self.policy() == FsyncPolicy::Always {
            self.wait_for_flush(Box::new(done));
        } else {
            self.inner.unflushed.store(true, Ordering::Relaxed);
            if self.inner.early_flush
                && self.inner.unflushed_writes.fetch_add(1, Ordering::Relaxed) + 1
                    == EARLY_FLUSH_WRITES
            {
                self.inner.wake.notify_one();
            }
            done(Ok(()));
        }
    }

    /// Waits for a flush covering every write done so far, whatever the policy (a Raft vote must be durable).
    pub async fn sync(&self) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.wait_for_flush(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        rx.await
            .unwrap_or_else(|_| Err(io::Error::other("flusher stopped")))
    }

    fn wait_for_flush(&self, done: Done) {
        if self.inner.closed.load(Ordering::Acquire) {
            // The task is gone (shutdown): flush inline rather than never answering.
            done(self.inner.durable.flush_blocking());
            return;
        }
        self.inner.waited.fetch_add(1, Ordering::Relaxed);
        self.inner.waiting.lock().push(done);
        self.inner.wake.notify_one();
    }

    /// Stops the task after a last flush of everything written so far.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake.notify_one();
        let task = self.guard.task.lock().take();
        if let Some(t) = task {
            let _ = t.await;
        }
        self.inner.durable.flush().await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Last handle gone: whatever the policy, leave nothing unflushed behind.
        if let Err(e) = self.durable.flush_blocking() {
            tracing::error!("final log flush failed: {e}");
        }
    }
}

/// How often `no` flushes anyway.
const NO_POLICY_FLUSH: Duration = Duration::from_secs(30);

/// Unflushed writes after which `everysec` and `no` flush without waiting for their timer.
pub const EARLY_FLUSH_WRITES: u64 = 2048;

async fn run(inner: Arc<Inner>) {
    let mut last_flush = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let ticked = tokio::select! {
            _ = inner.wake.notified() => false,
            _ = tick.tick() => true,
        };
        let batch = std::mem::take(&mut *inner.waiting.lock());
        let closed = inner.closed.load(Ordering::Acquire);
        let early = inner.early_flush
            && inner.unflushed_writes.load(Ordering::Relaxed) >= EARLY_FLUSH_WRITES;
        let due = early
            || match FsyncPolicy::from_u8(inner.policy.load(Ordering::Relaxed)) {
                FsyncPolicy::Always => closed,
                FsyncPolicy::Everysec => ticked || closed,
                FsyncPolicy::No => closed || (ticked && last_flush.elapsed() >= NO_POLICY_FLUSH),
            };
        let periodic = due && inner.unflushed.swap(false, Ordering::Relaxed);
        if periodic {
            inner.unflushed_writes.store(0, Ordering::Relaxed);
        }
        if !batch.is_empty() || periodic {
            let start = Instant::now();
            last_flush = start;
            // Under `always` writers wait for this flush anyway: running it right here, as Redis' event loop does,
            // saves two thread hand-offs per flush. The periodic flushes of `everysec`/`no` run on a blocking
            // thread so nobody waits for them.
            let r = if FsyncPolicy::from_u8(inner.policy.load(Ordering::Relaxed))
                == FsyncPolicy::Always
            {
                inner.durable.flush_blocking()
            } else {
                inner.durable.flush().await
            };
            inner
                .micros
                .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
            inner.flushes.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = &r {
                inner.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("log flush failed: {e}");
            }
            for done in batch {
                done(r.as_ref().map(|_| ()).map_err(copy_err));
            }
        }
        if closed {
            // Writers that raced with close: answered inline by `wait_for_flush` from now on; these get one more.
            let rest = std::mem::take(&mut *inner.waiting.lock());
            if !rest.is_empty() {
                let r = inner.durable.flush().await;
                for done in rest {
                    done(r.as_ref().map(|_| ()).map_err(copy_err));
                }
            }
            return;
        }
    }
}
