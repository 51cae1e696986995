//! The slow log: commands that took longer than `slowlog-log-slower-than` microseconds.

use std::collections::VecDeque;

use bytes::Bytes;

/// One slow command.
#[derive(Clone, Debug)]
pub struct SlowEntry {
    /// Increasing id.
    pub id: u64,
    /// Unix time in seconds when it ran.
    pub time: i64,
    /// Duration in microseconds.
    pub duration_us: u64,
    /// Arguments, cut as Redis cuts them (32 arguments, 128 bytes each).
    pub args: Vec<Bytes>,
    /// Client `ip:port`.
    pub client_addr: String,
    /// Client name.
    pub client_name: String,
}

/// The bounded list of slow commands, newest first.
#[derive(Default)]
pub struct Slowlog {
    next_id: u64,
    entries: VecDeque<SlowEntry>,
}

/// Redis' SLOWLOG_ENTRY_MAX_ARGC.
const MAX_ARGC: usize = 32;
/// Redis' SLOWLOG_ENTRY_MAX_STRING.
const MAX_STRING: usize = 128;

impl Slowlog {
    /// Records a command, trimming to `max_len` entries.
    pub fn push(
        &mut self,
        time: i64,
        duration_us: u64,
        args: &[Bytes],
        client_addr: String,
        client_name: String,
        max_len: usize,
    ) {
        let mut kept: Vec<Bytes> = Vec::with_capacity(args.len().min(MAX_ARGC));
        for (i, a) in args.iter().enumerate() {
            if i == MAX_ARGC - 1 && args.len() > MAX_ARGC {
                kept.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    args.len() - MAX_ARGC + 1
                )));
                break;
            }
            if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                kept.push(Bytes::from(s));
            } else {
                kept.push(Bytes::copy_from_slice(a));
            }
        }
        self.entries.push_front(SlowEntry {
            id: self.next_id,
            time,
            duration_us,
            args: kept,
            client_addr,
            client_name,
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }

    /// The newest `count` entries (all if `None`).
    pub fn newest(&self, count: Option<usize>) -> impl Iterator<Item = &SlowEntry> {
        self.entries.iter().take(count.unwrap_or(usize::MAX))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry.
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// Trims to `max_len` entries after a `CONFIG SET slowlog-max-len`.
    pub fn truncate(&mut self, max_len: usize) {
        self.entries.truncate(max_len);
    }
}
