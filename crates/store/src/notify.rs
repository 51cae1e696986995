//! Keyspace notifications (Redis' `notify-keyspace-events`): event classes, their configuration syntax, and
//! the events a write produces.
//!
//! Commands call [`crate::Keyspace::notify`] while they run; enabled events are buffered in the keyspace and
//! handed to the server's [`EventSink`] once the entry (or the run of reads) is done, so apply itself does no
//! I/O and every replica produces the same events from the same entries.

use std::sync::Arc;

/// Event classes, with Redis' bits.
pub mod class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted-set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: keys deleted because their deadline passed.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: keys evicted under `maxmemory`.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: lookups of missing keys (not part of `A`).
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module events.
    pub const MODULE: u32 = 1 << 13;
    /// `n`: a key was created (not part of `A`).
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but `m` and `n`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses class characters (`notify-keyspace-events`); `None` for a character that names no class.
pub fn parse_classes(text: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for c in text {
        flags |= match c {
            b'A' => class::ALL,
            b'g' => class::GENERIC,
            b'$' => class::STRING,
            b'l' => class::LIST,
            b's' => class::SET,
            b'h' => class::HASH,
            b'z' => class::ZSET,
            b'x' => class::EXPIRED,
            b'e' => class::EVICTED,
            b'K' => class::KEYSPACE,
            b'E' => class::KEYEVENT,
            b't' => class::STREAM,
            b'm' => class::KEY_MISS,
            b'd' => class::MODULE,
            b'n' => class::NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The canonical text of `flags`, as `CONFIG GET` echoes it (`A` stands for all its classes, and then Redis
/// 7.0 leaves out `n`).
pub fn classes_to_string(flags: u32) -> String {
    let mut s = String::new();
    if flags & class::ALL == class::ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (class::GENERIC, 'g'),
            (class::STRING, '$'),
            (class::LIST, 'l'),
            (class::SET, 's'),
            (class::HASH, 'h'),
            (class::ZSET, 'z'),
            (class::EXPIRED, 'x'),
            (class::EVICTED, 'e'),
            (class::STREAM, 't'),
            (class::MODULE, 'd'),
            (class::NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (class::KEYSPACE, 'K'),
        (class::KEYEVENT, 'E'),
        (class::KEY_MISS, 'm'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// One keyspace event, to be published on the channels its flags name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// Publish on `__keyspace@0__:<key>` with the event as message.
    pub keyspace: bool,
    /// Publish on `__keyevent@0__:<event>` with the key as message.
    pub keyevent: bool,
    /// Redis' event name (`set`, `del`, `expired`, ...).
    pub event: &'static str,
    /// The key.
    pub key: Vec<u8>,
}

/// Receives the events of each applied entry (or run of reads), in order. Called under the keyspace lock:
/// it must only hand messages out, never lock the keyspace or wait.
pub type EventSink = Arc<dyn Fn(Vec<KeyEvent>) + Send + Sync>;

/// The node's notification settings: the enabled classes and where events go. Node configuration, not
/// replicated state: each replica publishes to its own subscribers.
#[derive(Clone, Default)]
pub struct Notifier {
    /// Enabled classes (bits of [`class`]).
    pub classes: u32,
    /// Where events go; without one, nothing is recorded.
    pub sink: Option<EventSink>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("classes", &classes_to_string(self.classes))
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

impl Notifier {
    /// Whether an event of `class` would be published.
    pub fn wants(&self, event_class: u32) -> bool {
        self.classes & event_class != 0
            && self.classes & (class::KEYSPACE | class::KEYEVENT) != 0
            && self.sink.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::run;
    use crate::Keyspace;
    use std::sync::Mutex;

    /// A keyspace with every class on and a sink that records `event key` lines.
    fn recording(classes: &[u8]) -> (Keyspace, Arc<Mutex<Vec<String>>>) {
        let mut ks = Keyspace::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let out = seen.clone();
        ks.config.notify = Notifier {
            classes: parse_classes(classes).unwrap(),
            sink: Some(Arc::new(move |events: Vec<KeyEvent>| {
                let mut v = out.lock().unwrap();
                for e in events {
                    v.push(format!("{} {}", e.event, String::from_utf8_lossy(&e.key)));
                }
            })),
        };
        (ks, seen)
    }

    fn drain(ks: &mut Keyspace, seen: &Mutex<Vec<String>>) -> Vec<String> {
        ks.flush_events();
        std::mem::take(&mut *seen.lock().unwrap())
    }

    #[test]
    fn commands_emit_redis_event_names_in_order() {
        let (mut ks, seen) = recording(b"KEAn");
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["SET", "k", "v", "EX", "100"],
                &["new k", "set k", "expire k"],
            ),
            (&["SET", "k", "w"], &["set k"]),
            (&["INCRBY", "n", "2"], &["new n", "incrby n"]),
            (&["APPEND", "k", "x"], &["append k"]),
            (
                &["RENAME", "k", "k2"],
                &["new k2", "rename_from k", "rename_to k2"],
            ),
            (&["DEL", "k2", "nope"], &["del k2"]),
            (&["RPUSH", "l", "a", "b"], &["new l", "rpush l"]),
            (&["LPOP", "l"], &["lpop l"]),
            (
                &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
                &["new l2", "rpush l2", "lpop l", "del l"],
            ),
            (&["HSET", "h", "f", "1"], &["new h", "hset h"]),
            (&["HINCRBY", "h", "f", "1"], &["hincrby h"]),
            (&["HDEL", "h", "f"], &["hdel h", "del h"]),
            (&["SADD", "s", "a", "b"], &["new s", "sadd s"]),
            (&["SREM", "s", "zz"], &[]),
            (&["SPOP", "s", "5"], &["spop s", "del s"]),
            (&["ZADD", "z", "1", "a"], &["new z", "zadd z"]),
            (&["ZINCRBY", "z", "1", "a"], &["zincr z"]),
            (&["ZPOPMIN", "z"], &["zpopmin z", "del z"]),
            (&["EXPIRE", "n", "0"], &["del n"]),
            (&["SETBIT", "b", "3", "1"], &["new b", "setbit b"]),
        ];
        for (cmd, want) in cases {
            run(&mut ks, 1000, cmd);
            assert_eq!(drain(&mut ks, &seen), *want, "{cmd:?}");
        }
        // A key past its deadline is reported `expired` when a write meets it.
        run(&mut ks, 1000, &["SET", "t", "v", "PX", "10"]);
        drain(&mut ks, &seen);
        run(&mut ks, 5000, &["LPUSH", "t", "x"]);
        assert_eq!(drain(&mut ks, &seen), ["expired t", "new t", "lpush t"]);
    }

    #[test]
    fn disabled_classes_record_nothing() {
        let (mut ks, seen) = recording(b"Kl");
        run(&mut ks, 0, &["SET", "k", "v"]);
        run(&mut ks, 0, &["LPUSH", "l", "v"]);
        assert_eq!(drain(&mut ks, &seen), ["lpush l"]);
        // Classes without K or E publish nowhere.
        let (mut ks, seen) = recording(b"A");
        run(&mut ks, 0, &["SET", "k", "v"]);
        assert!(drain(&mut ks, &seen).is_empty());
    }

    #[test]
    fn classes_parse_and_echo_like_redis() {
        let all = parse_classes(b"KEA").unwrap();
        assert_eq!(classes_to_string(all), "AKE");
        assert_eq!(classes_to_string(parse_classes(b"Ex$lg").unwrap()), "g$lxE");
        assert_eq!(classes_to_string(parse_classes(b"Kmn").unwrap()), "nKm");
        // `A` with `n`: Redis 7.0 prints only `A`.
        assert_eq!(classes_to_string(parse_classes(b"AnK").unwrap()), "AK");
        assert_eq!(classes_to_string(parse_classes(b"").unwrap()), "");
        assert_eq!(parse_classes(b"Kq"), None);
        assert_eq!(parse_classes(b"K E"), None);
    }
}
