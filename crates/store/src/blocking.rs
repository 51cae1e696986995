//! What the keyspace knows of blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX,
//! BZMPOP; the same shape fits XREAD BLOCK).
//!
//! A blocking command is an ordinary table row with a keyspace handler that never waits: it serves what it can
//! now. Proposed by a client as [`crate::Op::Block`] (`ctx.blocking`), a command that finds nothing replies
//! [`WOULD_BLOCK`] and changes nothing; the server then parks the client on the keys its row's
//! [`BlockFn`] names and proposes the same command again when a write makes one of them ready
//! ([`crate::Keyspace::signal_ready`], [`servable`]). Run any other way (inside a transaction, a script), the
//! handler replies what Redis replies to a client that may not block: the command's null.

use bytes::Bytes;
use resp::Frame;

use crate::exec::ExecCtx;
use crate::keyspace::Keyspace;
use crate::num::LongDouble;
use crate::value::Value;

/// The reply of an [`crate::Op::Block`] that found nothing to serve. An empty push is a shape no command
/// replies, so it cannot be mistaken for a served reply; the server never sends it to a client.
pub const WOULD_BLOCK: Frame = Frame::Push(Vec::new());

/// Whether `reply` is [`WOULD_BLOCK`] or [`would_block_as`].
pub fn is_would_block(reply: &Frame) -> bool {
    matches!(reply, Frame::Push(v) if v.is_empty() || matches!(v.as_slice(), [Frame::Array(_)]))
}

/// [`WOULD_BLOCK`] naming the command to propose again when the client is woken, when that differs from the
/// one it sent: XREAD's `$` becomes the stream's last ID at the time the client blocked.
pub fn would_block_as(args: Vec<Bytes>) -> Frame {
    Frame::Push(vec![Frame::Array(
        args.into_iter().map(Frame::Bulk).collect(),
    )])
}

/// The command a [`would_block_as`] reply names, if any.
pub fn retry_args(reply: &Frame) -> Option<Vec<Bytes>> {
    match reply {
        Frame::Push(v) => match v.as_slice() {
            [Frame::Array(a)] => a
                .iter()
                .map(|f| match f {
                    Frame::Bulk(b) => Some(b.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        },
        _ => None,
    }
}

/// The reply of a blocking command that found nothing: [`WOULD_BLOCK`] when the client may wait, else
/// `denied` (what Redis answers when blocking is not allowed, e.g. inside MULTI).
pub fn unserved(ctx: &ExecCtx, denied: Frame) -> Frame {
    if ctx.blocking {
        WOULD_BLOCK
    } else {
        denied
    }
}

/// Where a blocked client waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The keys whose changes may serve it, in the command's order, each once.
    pub keys: Vec<Bytes>,
    /// How long it may wait, in milliseconds; 0 waits forever.
    pub timeout_ms: i64,
}

impl Block {
    /// A wait on `keys` (repeats dropped, first position kept) for `timeout_ms`.
    pub fn new(keys: &[Bytes], timeout_ms: i64) -> Block {
        let mut uniq: Vec<Bytes> = Vec::with_capacity(keys.len());
        for k in keys {
            if !uniq.contains(k) {
                uniq.push(k.clone());
            }
        }
        Block {
            keys: uniq,
            timeout_ms,
        }
    }
}

/// A blocking command's row: from its (already validated) arguments and the time, where it waits. `None`
/// when the arguments do not describe a wait.
pub type BlockFn = fn(&[Bytes], i64) -> Option<Block>;

/// Redis' `getTimeoutFromObjectOrReply` in seconds: a `long double` (`strtold` syntax: decimal,
/// hexadecimal, `inf`), converted as `(long long)ceill(secs * 1000.0)`, so any positive timeout waits at least
/// 1 ms; negative results are refused (out-of-range values convert to `LLONG_MIN`, so `inf` and `1e20` count
/// as negative, as in Redis 7.0), and so is a deadline past the end of time (Redis 7.2's "out of range").
/// Returns milliseconds, 0 meaning no timeout.
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<i64, Frame> {
    let Some(secs) = LongDouble::parse(arg) else {
        return Err(Frame::error("ERR timeout is not a float or out of range"));
    };
    let ms = secs.mul_ceil(1000).unwrap_or(i64::MIN);
    if ms < 0 {
        return Err(Frame::error("ERR timeout is negative"));
    }
    if ms > 0 && ms > i64::MAX - now_ms.max(0) {
        return Err(Frame::error("ERR timeout is out of range"));
    }
    Ok(ms)
}

/// How many blocked clients the value under `key` could serve now (each taking at least one element): a list's or
/// sorted set's length; 0 when the key is absent, expired, or of a type no blocked client takes from. The server wakes at
/// most this many of a ready key's waiters at once, except for waiters [`waiter_ready`] decides for.
pub fn servable(ks: &Keyspace, now_ms: i64, key: &[u8]) -> usize {
    match ks.peek(now_ms, key).map(|o| &o.value) {
        Some(Value::List(l)) => l.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    }
}

/// For a waiter whose command is `args`, blocked on `key`: `Some(true)` when proposing it again now would serve
/// it (or end it with an error), `Some(false)` when it would not, `None` when [`servable`]'s count decides
/// (commands that take elements). Stream readers decide alone: XREAD is ready when the stream has an ID past
/// the one it waits after, XREADGROUP when the group's last delivered ID is behind the stream's, or when the
/// stream or group is gone (its error is the reply).
pub fn waiter_ready(ks: &Keyspace, now_ms: i64, key: &[u8], args: &[Bytes]) -> Option<bool> {
    let name = args.first()?;
    if name.eq_ignore_ascii_case(b"xread") || name.eq_ignore_ascii_case(b"xreadgroup") {
        return Some(crate::cmd::stream::waiter_ready(ks, now_ms, key, args));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn ms(s: &str) -> Result<i64, Frame> {
        parse_timeout(s.as_bytes(), NOW)
    }

    #[test]
    fn timeouts_parse_as_redis_does() {
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("1"), Ok(1000));
        assert_eq!(ms("0.1"), Ok(100));
        assert_eq!(ms("0.001"), Ok(1));
        assert_eq!(ms("1.5e0"), Ok(1500));
        assert_eq!(ms("0x10"), Ok(16_000));
        assert_eq!(ms("+2"), Ok(2000));
        // Rounded up: a tiny negative is no timeout at all, a tiny positive is 1 ms.
        assert_eq!(ms("-0.0001"), Ok(0));
        assert_eq!(ms("-0.0009"), Ok(0));
        assert_eq!(ms("-0"), Ok(0));
        assert_eq!(ms("0.0009"), Ok(1));
        assert_eq!(ms("0.0011"), Ok(2));
        assert_eq!(ms("0x1p-20"), Ok(1));
        assert_eq!(ms("1e-400"), Ok(1));
        assert_eq!(ms("-1e-400"), Ok(0));
        let negative = Err(Frame::error("ERR timeout is negative"));
        for s in [
            "-1",
            "-0.5",
            "-0.9",
            "inf",
            "-inf",
            "1e20",
            "9999999999999999",
            "1e400",
        ] {
            assert_eq!(ms(s), negative, "{s}");
        }
        let not_float = Err(Frame::error("ERR timeout is not a float or out of range"));
        for s in ["abc", "", " 1", "1 ", "nan", "1e5000", "0.1.1"] {
            assert_eq!(ms(s), not_float, "{s}");
        }
        assert_eq!(
            ms("9223372036854775"),
            Err(Frame::error("ERR timeout is out of range"))
        );
    }

    #[test]
    fn would_block_is_no_command_reply() {
        assert!(is_would_block(&WOULD_BLOCK));
        assert!(!is_would_block(&Frame::NullArray));
        assert!(!is_would_block(&Frame::Push(vec![Frame::simple(
            "message"
        )])));
        let mut ctx = ExecCtx::for_write(NOW, 1);
        assert_eq!(unserved(&ctx, Frame::Null), Frame::Null);
        ctx.blocking = true;
        assert!(is_would_block(&unserved(&ctx, Frame::Null)));
    }

    #[test]
    fn ready_hook_runs_once_per_drain_and_servable_counts_list_elements() {
        use crate::cmd::testing::run;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let calls = Arc::new(AtomicUsize::new(0));
        let mut ks = Keyspace::new();
        let c = calls.clone();
        ks.set_ready_hook(Some(Arc::new(move || {
            c.fetch_add(1, Ordering::Relaxed);
        })));
        run(&mut ks, NOW, &["RPUSH", "a", "1", "2"]);
        run(&mut ks, NOW, &["RPUSH", "b", "1"]);
        run(&mut ks, NOW, &["RPUSH", "a", "3"]);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(servable(&ks, NOW, b"a"), 3);
        assert_eq!(servable(&ks, NOW, b"b"), 1);
        assert_eq!(servable(&ks, NOW, b"none"), 0);
        run(&mut ks, NOW, &["SET", "s", "x"]);
        assert_eq!(servable(&ks, NOW, b"s"), 0);
        run(&mut ks, NOW, &["PEXPIRE", "b", "10"]);
        assert_eq!(servable(&ks, NOW + 10, b"b"), 0);
        ks.take_ready_keys();
        run(&mut ks, NOW, &["LPUSH", "c", "1"]);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        ks.take_ready_keys();
        ks.signal_all_ready();
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        assert!(ks.take_ready_keys().overflowed);
        assert!(ks.ready_hook().is_some());
    }

    #[test]
    fn block_keys_keep_first_positions() {
        let k = |s: &'static str| Bytes::from_static(s.as_bytes());
        let b = Block::new(&[k("a"), k("b"), k("b"), k("a"), k("c")], 5);
        assert_eq!(b.keys, vec![k("a"), k("b"), k("c")]);
        assert_eq!(b.timeout_ms, 5);
    }
}
