//! Lists: LPUSH, LPOP, LRANGE and the rest of Redis' list family (t_list.c, Redis 7.2 semantics and encodings).
//!
//! The blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) serve what they can at once through
//! [`try_pop`], [`try_mpop`] or [`try_move`], which answer `None` when every key is absent. Then, proposed by a
//! client that may wait, they reply [`crate::blocking::WOULD_BLOCK`] and the server parks the client on the keys
//! their rows name, proposing the same command again when [`Keyspace::take_ready_keys`] reports one of them (as
//! Redis 7.2 re-executes a woken client's command); otherwise (MULTI, scripts) they reply null.

use bytes::Bytes;
use resp::Frame;

use crate::blocking::{parse_timeout, unserved, Block};
use crate::cmd::{arg_i64, is, reply};
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::list::{Elem, End, List};
use crate::notify::class as ev;
use crate::table::{acl, flags, CommandSpec, Handler, Writes};
use crate::value::Value;

const RO: u32 = flags::READONLY;
const W: u32 = flags::WRITE;
const DENYOOM: u32 = flags::DENYOOM;
const FAST: u32 = flags::FAST;
const NOSCRIPT: u32 = flags::NOSCRIPT;
const BLOCKING: u32 = flags::BLOCKING;
const L: u32 = acl::LIST;

const PUSH_COMPLEXITY: &str =
    "O(1) for each element added, so O(N) to add N elements when the command is called \
with multiple arguments.";

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, W | DENYOOM | FAST, L, Handler::Keyspace(lpush))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            PUSH_COMPLEXITY,
            "Prepend one or multiple elements to a list",
        ),
    CommandSpec::new("rpush", -3, W | DENYOOM | FAST, L, Handler::Keyspace(rpush))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            PUSH_COMPLEXITY,
            "Append one or multiple elements to a list",
        ),
    CommandSpec::new("lpushx", -3, W | DENYOOM | FAST, L, Handler::Keyspace(lpushx))
        .keys(1, 1, 1)
        .doc(
            "list",
            "2.2.0",
            PUSH_COMPLEXITY,
            "Prepend an element to a list, only if the list exists",
        ),
    CommandSpec::new("rpushx", -3, W | DENYOOM | FAST, L, Handler::Keyspace(rpushx))
        .keys(1, 1, 1)
        .doc(
            "list",
            "2.2.0",
            PUSH_COMPLEXITY,
            "Append an element to a list, only if the list exists",
        ),
    CommandSpec::new("lpop", -2, W | FAST, L, Handler::Keyspace(lpop))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            "O(N) where N is the number of elements returned",
            "Remove and get the first elements in a list",
        ),
    CommandSpec::new("rpop", -2, W | FAST, L, Handler::Keyspace(rpop))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            "O(N) where N is the number of elements returned",
            "Remove and get the last elements in a list",
        ),
    CommandSpec::new("lrange", 4, RO, L, Handler::Keyspace(lrange))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end \
             (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
            "Get a range of elements from a list",
        ),
    CommandSpec::new("llen", 2, RO | FAST, L, Handler::Keyspace(llen))
        .keys(1, 1, 1)
        .doc("list", "1.0.0", "O(1)", "Get the length of a list"),
    CommandSpec::new("lindex", 3, RO, L, Handler::Keyspace(lindex))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            "O(N) where N is the number of elements to traverse to get to the element at index. This \
             makes asking for the first or the last element of the list O(1).",
            "Get an element from a list by its index",
        ),
    CommandSpec::new("lset", 4, W | DENYOOM, L, Handler::Keyspace(lset))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            "O(N) where N is the length of the list. Setting either the first or the last element of the \
             list is O(1).",
            "Set the value of an element in a list by its index",
        ),
    CommandSpec::new("linsert", 5, W | DENYOOM, L, Handler::Keyspace(linsert))
        .keys(1, 1, 1)
        .doc(
            "list",
            "2.2.0",
            "O(N) where N is the number of elements to traverse before seeing the value pivot. This means \
             that inserting somewhere on the left end on the list (head) can be considered O(1) and \
             inserting somewhere on the right end (tail) is O(N).",
            "Insert an element before or after another element in a list",
        ),
    CommandSpec::new("lrem", 4, W, L, Handler::Keyspace(lrem))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            "O(N+M) where N is the length of the list and M is the number of elements removed.",
            "Remove elements from a list",
        ),
    CommandSpec::new("ltrim", 4, W, L, Handler::Keyspace(ltrim))
        .keys(1, 1, 1)
        .doc(
            "list",
            "1.0.0",
            "O(N) where N is the number of elements to be removed by the operation.",
            "Trim a list to the specified range",
        ),
    CommandSpec::new("lpos", -3, RO, L, Handler::Keyspace(lpos))
        .keys(1, 1, 1)
        .doc(
            "list",
            "6.0.6",
            "O(N) where N is the number of elements in the list, for the average case. When searching for \
             elements near the head or the tail of the list, or when the MAXLEN option is provided, the \
             command may run in constant time.",
            "Return the index of matching elements on a list",
        ),
    CommandSpec::new("lmove", 5, W | DENYOOM, L, Handler::Keyspace(lmove))
        .keys(1, 2, 1)
        .doc(
            "list",
            "6.2.0",
            "O(1)",
            "Pop an element from a list, push it to another list and return it",
        ),
    CommandSpec::new("rpoplpush", 3, W | DENYOOM, L, Handler::Keyspace(rpoplpush))
        .keys(1, 2, 1)
        .doc(
            "list",
            "1.2.0",
            "O(1)",
            "Remove the last element in a list, prepend it to another list and return it",
        ),
    CommandSpec::new("lmpop", -4, W, L, Handler::Keyspace(lmpop))
        .keys_fn(0, 0, 0, lmpop_keys)
        .writes(Writes::PoppedKey)
        .doc(
            "list",
            "7.0.0",
            "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
            "Pop elements from a list",
        ),
    CommandSpec::new("blpop", -3, W | NOSCRIPT | BLOCKING, L, Handler::Keyspace(blpop))
        .keys(1, -2, 1)
        .writes(Writes::PoppedKey)
        .blocks_on(bpop_block)
        .doc(
            "list",
            "2.0.0",
            "O(N) where N is the number of provided keys.",
            "Remove and get the first element in a list, or block until one is available",
        ),
    CommandSpec::new("brpop", -3, W | NOSCRIPT | BLOCKING, L, Handler::Keyspace(brpop))
        .keys(1, -2, 1)
        .writes(Writes::PoppedKey)
        .blocks_on(bpop_block)
        .doc(
            "list",
            "2.0.0",
            "O(N) where N is the number of provided keys.",
            "Remove and get the last element in a list, or block until one is available",
        ),
    CommandSpec::new(
        "brpoplpush",
        4,
        W | DENYOOM | NOSCRIPT | BLOCKING,
        L,
        Handler::Keyspace(brpoplpush),
    )
    .keys(1, 2, 1)
    .blocks_on(brpoplpush_block)
    .doc(
        "list",
        "2.2.0",
        "O(1)",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
    ),
    CommandSpec::new(
        "blmove",
        6,
        W | DENYOOM | NOSCRIPT | BLOCKING,
        L,
        Handler::Keyspace(blmove),
    )
    .keys(1, 2, 1)
    .blocks_on(blmove_block)
    .doc(
        "list",
        "6.2.0",
        "O(1)",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
    ),
    CommandSpec::new("blmpop", -5, W | BLOCKING, L, Handler::Keyspace(blmpop))
        .keys_fn(0, 0, 0, blmpop_keys)
        .writes(Writes::PoppedKey)
        .blocks_on(blmpop_block)
        .doc(
            "list",
            "7.0.0",
            "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
            "Pop elements from a list, or block until one is available",
        ),
];

const INDEX_OUT_OF_RANGE: Frame = Frame::error("ERR index out of range");

fn fill(ks: &Keyspace) -> i32 {
    ks.config.list_max_listpack_size
}

fn bulk(e: Elem) -> Frame {
    Frame::Bulk(e.to_bytes())
}

/// The list under `key` for a write: `None` when absent, WRONGTYPE for another type.
fn list_mut<'a>(
    ks: &'a mut Keyspace,
    ctx: &ExecCtx,
    key: &[u8],
) -> Result<Option<&'a mut List>, Frame> {
    match ks.lookup(ctx, key) {
        None => Ok(None),
        Some(o) => match &mut o.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// The list under `key` for a read (counting a hit or miss): `None` when absent, WRONGTYPE for another type.
fn list_read<'a>(
    ks: &'a mut Keyspace,
    ctx: &ExecCtx,
    key: &[u8],
) -> Result<Option<&'a List>, Frame> {
    match ks.read(ctx, key) {
        None => Ok(None),
        Some(o) => match &o.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Deletes the key of a list that elements were removed from, if they were its last (Redis deletes empty
/// lists).
fn settle(ks: &mut Keyspace, key: &[u8], empty: bool) {
    if empty {
        ks.remove(key);
        ks.notify(ev::GENERIC, "del", key);
    }
}

/// The event a push at `end` emits.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// The event a pop at `end` emits.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// Parses `LEFT` / `RIGHT`.
pub fn parse_end(arg: &Bytes) -> Result<End, Frame> {
    if is(arg, "right") {
        Ok(End::Right)
    } else if is(arg, "left") {
        Ok(End::Left)
    } else {
        Err(errors::SYNTAX)
    }
}

/// A Redis `(start, end)` range over a list of `len` as a start position and a length; `None` when empty.
fn range_of(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, (end - start + 1) as usize))
}

// ---------------------------------------------------------------------------------------------------------
// Push
// ---------------------------------------------------------------------------------------------------------

fn lpush(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    push_generic(ks, ctx, args, End::Left, false)
}

fn rpush(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    push_generic(ks, ctx, args, End::Right, false)
}

fn lpushx(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    push_generic(ks, ctx, args, End::Left, true)
}

fn rpushx(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    push_generic(ks, ctx, args, End::Right, true)
}

/// Pushes `elems` onto `l`, converting it first if they would pass the listpack limit.
fn push_all(l: &mut List, fill: i32, end: End, elems: &[Bytes]) {
    let bytes = elems.iter().fold(0usize, |a, e| a.saturating_add(e.len()));
    l.prepare_growth(fill, bytes, elems.len());
    for e in elems {
        l.push(fill, end, e);
    }
}

/// Redis' `pushGenericCommand`; `xx` for LPUSHX/RPUSHX, which only push onto an existing list.
fn push_generic(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes], end: End, xx: bool) -> Frame {
    let (key, elems) = (&args[1], &args[2..]);
    let fill = fill(ks);
    let len = match list_mut(ks, ctx, key) {
        Err(e) => return e,
        Ok(Some(l)) => {
            push_all(l, fill, end, elems);
            l.len()
        }
        Ok(None) if xx => return Frame::Integer(0),
        Ok(None) => {
            let mut l = List::new();
            push_all(&mut l, fill, end, elems);
            let len = l.len();
            ks.set(ctx, key, Value::List(Box::new(l)), NO_EXPIRE);
            len
        }
    };
    ks.signal_ready(key);
    ks.notify(ev::LIST, push_event(end), key);
    ctx.dirty += elems.len() as u64;
    Frame::Integer(len as i64)
}

fn linsert(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return errors::SYNTAX;
    };
    let fill = fill(ks);
    let l = match list_mut(ks, ctx, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Frame::Integer(0),
        Ok(Some(l)) => l,
    };
    // As Redis: the conversion is decided before knowing whether the pivot exists.
    l.prepare_growth(fill, args[4].len(), 1);
    if !l.insert_at_pivot(fill, &args[3], after, &args[4]) {
        return Frame::Integer(-1);
    }
    let len = l.len();
    ks.signal_ready(&args[1]);
    ks.notify(ev::LIST, "linsert", &args[1]);
    ctx.dirty += 1;
    Frame::Integer(len as i64)
}

// ---------------------------------------------------------------------------------------------------------
// Read
// ---------------------------------------------------------------------------------------------------------

fn llen(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    match list_read(ks, ctx, &args[1]) {
        Err(e) => e,
        Ok(l) => Frame::Integer(l.map_or(0, |l| l.len() as i64)),
    }
}

fn lindex(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let Some(l) = list_read(ks, ctx, &args[1])? else {
            return Ok(Frame::Null);
        };
        let index = arg_i64(&args[2])?;
        Ok(l.index(index)
            .and_then(|i| l.get(i))
            .map_or(Frame::Null, bulk))
    })())
}

fn lrange(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let start = arg_i64(&args[2])?;
        let end = arg_i64(&args[3])?;
        let Some(l) = list_read(ks, ctx, &args[1])? else {
            return Ok(Frame::Array(Vec::new()));
        };
        Ok(Frame::Array(match range_of(l.len(), start, end) {
            None => Vec::new(),
            Some((s, n)) => l.iter_from(s, false).take(n).map(bulk).collect(),
        }))
    })())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
fn lpos(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(lpos_inner(ks, ctx, args))
}

fn lpos_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "rank") && more {
            j += 1;
            // Redis 7.2 refuses LONG_MIN, whose negation does not exist.
            rank = arg_i64(&args[j])?;
            if rank == i64::MIN {
                return Err(Frame::error(
                    "ERR value is out of range, value must between -9223372036854775807 and \
                     9223372036854775807",
                ));
            }
            if rank == 0 {
                return Err(Frame::error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                     or use negative to start from the end of the list",
                ));
            }
        } else if is(&args[j], "count") && more {
            j += 1;
            match crate::num::parse_i64(&args[j]) {
                Some(c) if c >= 0 => count = Some(c),
                _ => return Err(Frame::error("ERR COUNT can't be negative")),
            }
        } else if is(&args[j], "maxlen") && more {
            j += 1;
            match crate::num::parse_i64(&args[j]) {
                Some(m) if m >= 0 => maxlen = m,
                _ => return Err(Frame::error("ERR MAXLEN can't be negative")),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let absent = || {
        if count.is_some() {
            Frame::Array(Vec::new())
        } else {
            Frame::Null
        }
    };
    let Some(l) = list_read(ks, ctx, &args[1])? else {
        return Ok(absent());
    };
    let found = l.positions(
        &args[2],
        rank.unsigned_abs(),
        count.unwrap_or(1) as u64,
        maxlen as u64,
        rank < 0,
    );
    Ok(match count {
        Some(_) => Frame::Array(
            found
                .into_iter()
                .map(|i| Frame::Integer(i as i64))
                .collect(),
        ),
        None => found
            .first()
            .map_or(Frame::Null, |&i| Frame::Integer(i as i64)),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Edit
// ---------------------------------------------------------------------------------------------------------

fn lset(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let fill = fill(ks);
    let l = match list_mut(ks, ctx, &args[1]) {
        Err(e) => return e,
        Ok(None) => return errors::NO_SUCH_KEY,
        Ok(Some(l)) => l,
    };
    let index = match arg_i64(&args[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    l.prepare_growth(fill, args[3].len(), 1);
    match l.index(index) {
        Some(i) if l.set(i, &args[3]) => {
            // A big element may have become a small one: the growing case was handled before.
            l.after_shrink(fill);
            ks.notify(ev::LIST, "lset", &args[1]);
            ctx.dirty += 1;
            Frame::ok()
        }
        _ => INDEX_OUT_OF_RANGE,
    }
}

fn lrem(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let count = match arg_i64(&args[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let fill = fill(ks);
    let l = match list_mut(ks, ctx, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Frame::Integer(0),
        Ok(Some(l)) => l,
    };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = l.remove_matching(&args[3], limit, count < 0);
    let empty = l.is_empty();
    if removed > 0 && !empty {
        l.after_shrink(fill);
    }
    if removed > 0 {
        ks.notify(ev::LIST, "lrem", &args[1]);
    }
    settle(ks, &args[1], empty);
    ctx.dirty += removed as u64;
    Frame::Integer(removed as i64)
}

fn ltrim(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let (start, end) = match (arg_i64(&args[2]), arg_i64(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let fill = fill(ks);
    let l = match list_mut(ks, ctx, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Frame::ok(),
        Ok(Some(l)) => l,
    };
    let len = l.len();
    let (keep_from, keep) = range_of(len, start, end).unwrap_or((len, 0));
    let tail_from = keep_from + keep;
    l.remove_range(tail_from, len - tail_from);
    l.remove_range(0, keep_from);
    let empty = l.is_empty();
    if !empty {
        l.after_shrink(fill);
    }
    ks.notify(ev::LIST, "ltrim", &args[1]);
    settle(ks, &args[1], empty);
    ctx.dirty += (len - keep) as u64;
    Frame::ok()
}

// ---------------------------------------------------------------------------------------------------------
// Pop and move
// ---------------------------------------------------------------------------------------------------------

fn lpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    pop_generic(ks, ctx, args, End::Left, "lpop")
}

fn rpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    pop_generic(ks, ctx, args, End::Right, "rpop")
}

/// Pops up to `count` elements from one end of `l`, in the order they come off.
fn pop_range(l: &mut List, end: End, count: usize) -> Vec<Frame> {
    let n = count.min(l.len());
    if n == 0 {
        return Vec::new();
    }
    match end {
        End::Left => {
            let out = l.iter_from(0, false).take(n).map(bulk).collect();
            l.remove_range(0, n);
            out
        }
        End::Right => {
            let out = l.iter_from(l.len() - 1, true).take(n).map(bulk).collect();
            l.remove_range(l.len() - n, n);
            out
        }
    }
}

/// Redis' `popGenericCommand`: LPOP/RPOP with an optional count (Redis 7 replies: a missing key is a null
/// bulk without a count and a null array with one; a count of 0 on an existing list is an empty array).
fn pop_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    end: End,
    name: &str,
) -> Frame {
    if args.len() > 3 {
        return errors::wrong_arity(name);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match crate::num::parse_i64(a) {
            Some(c) if c >= 0 => Some(usize::try_from(c).unwrap_or(usize::MAX)),
            _ => return errors::OUT_OF_RANGE,
        },
    };
    let key = &args[1];
    let fill = fill(ks);
    let l = match list_mut(ks, ctx, key) {
        Err(e) => return e,
        Ok(None) if count.is_some() => return Frame::NullArray,
        Ok(None) => return Frame::Null,
        Ok(Some(l)) => l,
    };
    let (out, popped) = match count {
        Some(0) => return Frame::Array(Vec::new()),
        None => match l.pop(end) {
            Some(v) => (Frame::Bulk(v), 1),
            None => return Frame::Null,
        },
        Some(n) => {
            let items = pop_range(l, end, n);
            let popped = items.len();
            (Frame::Array(items), popped)
        }
    };
    let empty = l.is_empty();
    if !empty {
        l.after_shrink(fill);
    }
    ks.notify(ev::LIST, pop_event(end), key);
    settle(ks, key, empty);
    ctx.dirty += popped as u64;
    out
}

/// BLPOP/BRPOP's step: pops one element from the first non-empty list among `keys`, replying
/// `[key, element]`; `None` when every key is absent (the client waits). A key of another type answers
/// WRONGTYPE.
pub fn try_pop(ks: &mut Keyspace, ctx: &mut ExecCtx, keys: &[Bytes], end: End) -> Option<Frame> {
    let fill = fill(ks);
    for key in keys {
        let l = match list_mut(ks, ctx, key) {
            Err(e) => return Some(e),
            Ok(None) => continue,
            Ok(Some(l)) => l,
        };
        let Some(v) = l.pop(end) else {
            continue;
        };
        let empty = l.is_empty();
        if !empty {
            l.after_shrink(fill);
        }
        ks.notify(ev::LIST, pop_event(end), key);
        settle(ks, key, empty);
        ctx.dirty += 1;
        return Some(Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Bulk(v)]));
    }
    None
}

/// LMPOP/BLMPOP's step: pops up to `count` elements from the first non-empty list among `keys`, replying
/// `[key, [elements]]`; `None` when every key is absent. A key of another type answers WRONGTYPE.
pub fn try_mpop(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    keys: &[Bytes],
    end: End,
    count: usize,
) -> Option<Frame> {
    let fill = fill(ks);
    for key in keys {
        let l = match list_mut(ks, ctx, key) {
            Err(e) => return Some(e),
            Ok(None) => continue,
            Ok(Some(l)) => l,
        };
        if l.is_empty() {
            continue;
        }
        let items = pop_range(l, end, count);
        let popped = items.len();
        let empty = l.is_empty();
        if !empty {
            l.after_shrink(fill);
        }
        ks.notify(ev::LIST, pop_event(end), key);
        settle(ks, key, empty);
        ctx.dirty += popped as u64;
        return Some(Frame::Array(vec![
            Frame::Bulk(key.clone()),
            Frame::Array(items),
        ]));
    }
    None
}

/// LMOVE/RPOPLPUSH and BLMOVE/BRPOPLPUSH's step (Redis' `lmoveGenericCommand`): pops from `src` at `from`,
/// pushes onto `dst` at `to` (creating it), replies the element; `None` when `src` is absent. WRONGTYPE when
/// either key holds another type (checked before anything moves).
pub fn try_move(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
) -> Option<Frame> {
    let fill = fill(ks);
    match list_mut(ks, ctx, src) {
        Err(e) => return Some(e),
        Ok(None) => return None,
        Ok(Some(_)) => {}
    }
    if let Err(e) = list_mut(ks, ctx, dst) {
        return Some(e);
    }
    let value = {
        let Ok(Some(l)) = list_mut(ks, ctx, src) else {
            return None;
        };
        l.pop(from)?
    };
    // The destination (possibly the source itself) gets the element before the source is settled.
    match list_mut(ks, ctx, dst) {
        Ok(Some(d)) => {
            d.prepare_growth(fill, value.len(), 1);
            d.push(fill, to, &value);
        }
        _ => {
            let mut d = List::new();
            d.prepare_growth(fill, value.len(), 1);
            d.push(fill, to, &value);
            ks.set(ctx, dst, Value::List(Box::new(d)), NO_EXPIRE);
        }
    }
    ks.signal_ready(dst);
    ks.notify(ev::LIST, push_event(to), dst);
    ks.notify(ev::LIST, pop_event(from), src);
    if let Ok(Some(l)) = list_mut(ks, ctx, src) {
        let empty = l.is_empty();
        if !empty {
            l.after_shrink(fill);
        }
        settle(ks, src, empty);
    }
    ctx.dirty += 1;
    Some(Frame::Bulk(value))
}

fn lmove(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let (from, to) = match (parse_end(&args[3]), parse_end(&args[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    try_move(ks, ctx, &args[1], &args[2], from, to).unwrap_or(Frame::Null)
}

fn rpoplpush(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    try_move(ks, ctx, &args[1], &args[2], End::Right, End::Left).unwrap_or(Frame::Null)
}

/// The parsed arguments of LMPOP/BLMPOP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpopArgs {
    /// Where the keys are in the arguments.
    pub keys: std::ops::Range<usize>,
    /// Which end to pop from.
    pub end: End,
    /// Most elements to pop (1 without `COUNT`).
    pub count: usize,
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` starting at `args[numkeys_idx]` (1 for LMPOP, 2
/// for BLMPOP), with Redis' errors in Redis' order.
pub fn parse_mpop(args: &[Bytes], numkeys_idx: usize) -> Result<MpopArgs, Frame> {
    let numkeys = match args.get(numkeys_idx).and_then(|a| crate::num::parse_i64(a)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(Frame::error("ERR numkeys should be greater than 0")),
    };
    let where_idx = (numkeys_idx as u64 + 1).saturating_add(numkeys);
    if where_idx >= args.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let end = parse_end(&args[where_idx])?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            match crate::num::parse_i64(&args[j]) {
                Some(c) if c >= 1 => count = Some(usize::try_from(c).unwrap_or(usize::MAX)),
                _ => return Err(Frame::error("ERR count should be greater than 0")),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(MpopArgs {
        keys: numkeys_idx + 1..where_idx,
        end,
        count: count.unwrap_or(1),
    })
}

fn lmpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    match parse_mpop(args, 1) {
        Err(e) => e,
        Ok(m) => try_mpop(ks, ctx, &args[m.keys], m.end, m.count).unwrap_or(Frame::NullArray),
    }
}

/// Key positions of LMPOP (`numkeys` then the keys), for COMMAND GETKEYS and routing.
fn lmpop_keys(args: &[Bytes]) -> Result<Vec<usize>, Frame> {
    numkeys_positions(args, 1)
}

/// Key positions of BLMPOP (`timeout numkeys` then the keys).
fn blmpop_keys(args: &[Bytes]) -> Result<Vec<usize>, Frame> {
    numkeys_positions(args, 2)
}

/// The keys after a `numkeys` argument at `numkeys_idx`.
fn numkeys_positions(args: &[Bytes], numkeys_idx: usize) -> Result<Vec<usize>, Frame> {
    let invalid = || Frame::error("ERR Invalid arguments specified for command");
    let n = args
        .get(numkeys_idx)
        .and_then(|a| crate::num::parse_i64(a))
        .filter(|&n| n >= 0)
        .ok_or_else(invalid)? as u64;
    let first = numkeys_idx + 1;
    if n.saturating_add(first as u64) > args.len() as u64 {
        return Err(invalid());
    }
    Ok((first..first + n as usize).collect())
}

// ---------------------------------------------------------------------------------------------------------
// Blocking forms (Redis' blockingPopGenericCommand, blmoveGenericCommand, lmpopGenericCommand)
// ---------------------------------------------------------------------------------------------------------

fn blpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    bpop(ks, ctx, args, End::Left)
}

fn brpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    bpop(ks, ctx, args, End::Right)
}

/// `B[LR]POP key [key ...] timeout`: the timeout is checked first, then the keys in order.
fn bpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes], end: End) -> Frame {
    let last = args.len() - 1;
    if let Err(e) = parse_timeout(&args[last], ctx.now_ms) {
        return e;
    }
    try_pop(ks, ctx, &args[1..last], end).unwrap_or_else(|| unserved(ctx, Frame::NullArray))
}

fn bpop_block(args: &[Bytes], now_ms: i64) -> Option<Block> {
    let last = args.len().checked_sub(1).filter(|&l| l >= 2)?;
    let timeout = parse_timeout(&args[last], now_ms).ok()?;
    Some(Block::new(&args[1..last], timeout))
}

/// `BRPOPLPUSH source destination timeout`.
fn brpoplpush(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    if let Err(e) = parse_timeout(&args[3], ctx.now_ms) {
        return e;
    }
    try_move(ks, ctx, &args[1], &args[2], End::Right, End::Left)
        .unwrap_or_else(|| unserved(ctx, Frame::Null))
}

fn brpoplpush_block(args: &[Bytes], now_ms: i64) -> Option<Block> {
    let timeout = parse_timeout(args.get(3)?, now_ms).ok()?;
    Some(Block::new(&args[1..2], timeout))
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`: the directions are checked before the timeout.
/// Only the source is waited on; the destination's type is checked when an element is there to move.
fn blmove(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let (from, to) = match (parse_end(&args[3]), parse_end(&args[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if let Err(e) = parse_timeout(&args[5], ctx.now_ms) {
        return e;
    }
    try_move(ks, ctx, &args[1], &args[2], from, to).unwrap_or_else(|| unserved(ctx, Frame::Null))
}

fn blmove_block(args: &[Bytes], now_ms: i64) -> Option<Block> {
    let timeout = parse_timeout(args.get(5)?, now_ms).ok()?;
    Some(Block::new(&args[1..2], timeout))
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`: the other arguments are checked before
/// the timeout.
fn blmpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let m = match parse_mpop(args, 2) {
        Ok(m) => m,
        Err(e) => return e,
    };
    if let Err(e) = parse_timeout(&args[1], ctx.now_ms) {
        return e;
    }
    try_mpop(ks, ctx, &args[m.keys], m.end, m.count)
        .unwrap_or_else(|| unserved(ctx, Frame::NullArray))
}

fn blmpop_block(args: &[Bytes], now_ms: i64) -> Option<Block> {
    let m = parse_mpop(args, 2).ok()?;
    let timeout = parse_timeout(&args[1], now_ms).ok()?;
    Some(Block::new(&args[m.keys], timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{arr, b, err};
    use crate::cmd::testing::{run, run_dirty};

    const T: i64 = 1_700_000_000_000;

    fn range(ks: &mut Keyspace, key: &str) -> Frame {
        run(ks, T, &["LRANGE", key, "0", "-1"])
    }

    fn encoding(ks: &mut Keyspace, key: &str) -> Frame {
        run(ks, T, &["OBJECT", "ENCODING", key])
    }

    #[test]
    fn push_pop_and_lengths() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run_dirty(&mut ks, T, &["RPUSH", "l", "a", "b", "c"]),
            (Frame::Integer(3), 3)
        );
        assert_eq!(
            run(&mut ks, T, &["LPUSH", "l", "z", "y"]),
            Frame::Integer(5)
        );
        assert_eq!(range(&mut ks, "l"), arr(&["y", "z", "a", "b", "c"]));
        assert_eq!(run(&mut ks, T, &["LLEN", "l"]), Frame::Integer(5));
        assert_eq!(run(&mut ks, T, &["LLEN", "nokey"]), Frame::Integer(0));
        assert_eq!(
            run(&mut ks, T, &["LPUSHX", "nokey", "a"]),
            Frame::Integer(0)
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "nokey"]), Frame::Integer(0));
        assert_eq!(
            run(&mut ks, T, &["RPUSHX", "l", "d", "e"]),
            Frame::Integer(7)
        );
        assert_eq!(run(&mut ks, T, &["LPOP", "l"]), b("y"));
        assert_eq!(run(&mut ks, T, &["RPOP", "l"]), b("e"));
        assert_eq!(
            run_dirty(&mut ks, T, &["LPOP", "l", "2"]),
            (arr(&["z", "a"]), 2)
        );
        assert_eq!(run(&mut ks, T, &["RPOP", "l", "2"]), arr(&["d", "c"]));
        assert_eq!(run(&mut ks, T, &["LPOP", "l", "0"]), Frame::Array(vec![]));
        assert_eq!(run(&mut ks, T, &["RPOP", "l", "100"]), arr(&["b"]));
        assert_eq!(run(&mut ks, T, &["EXISTS", "l"]), Frame::Integer(0));
        assert_eq!(run(&mut ks, T, &["LPOP", "l"]), Frame::Null);
        assert_eq!(run(&mut ks, T, &["LPOP", "l", "0"]), Frame::NullArray);
        assert_eq!(run(&mut ks, T, &["RPOP", "l", "3"]), Frame::NullArray);
        assert_eq!(run(&mut ks, T, &["LPOP", "l", "-1"]), errors::OUT_OF_RANGE);
        assert_eq!(run(&mut ks, T, &["LPOP", "l", "x"]), errors::OUT_OF_RANGE);
        assert_eq!(
            run(&mut ks, T, &["LPOP", "l", "1", "2"]),
            err("ERR wrong number of arguments for 'lpop' command")
        );
        // A huge count allocates nothing beyond the list.
        run(&mut ks, T, &["RPUSH", "l", "1", "2"]);
        assert_eq!(
            run(&mut ks, T, &["LPOP", "l", "9223372036854775807"]),
            arr(&["1", "2"])
        );
    }

    #[test]
    fn wrongtype_everywhere() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["SET", "s", "x"]);
        run(&mut ks, T, &["RPUSH", "l", "a"]);
        for args in [
            &["LPUSH", "s", "a"][..],
            &["RPUSHX", "s", "a"],
            &["LPOP", "s"],
            &["RPOP", "s", "0"],
            &["LRANGE", "s", "0", "1"],
            &["LLEN", "s"],
            &["LINDEX", "s", "0"],
            &["LINDEX", "s", "x"],
            &["LSET", "s", "0", "a"],
            &["LSET", "s", "x", "a"],
            &["LINSERT", "s", "before", "a", "b"],
            &["LREM", "s", "0", "a"],
            &["LTRIM", "s", "0", "1"],
            &["LPOS", "s", "a"],
            &["LMOVE", "s", "l", "left", "left"],
            &["LMOVE", "l", "s", "left", "left"],
            &["RPOPLPUSH", "l", "s"],
            &["LMPOP", "2", "nokey", "s", "left"],
        ] {
            assert_eq!(run(&mut ks, T, args), errors::WRONGTYPE, "{args:?}");
        }
        assert_eq!(run(&mut ks, T, &["GET", "l"]), errors::WRONGTYPE);
        assert_eq!(range(&mut ks, "l"), arr(&["a"]));
        assert_eq!(run(&mut ks, T, &["TYPE", "l"]), Frame::simple("list"));
    }

    #[test]
    fn lindex_lset_lrange() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["RPUSH", "l", "a", "b", "c", "1", "-2"]);
        assert_eq!(run(&mut ks, T, &["LINDEX", "l", "0"]), b("a"));
        assert_eq!(run(&mut ks, T, &["LINDEX", "l", "-1"]), b("-2"));
        assert_eq!(run(&mut ks, T, &["LINDEX", "l", "3"]), b("1"));
        assert_eq!(run(&mut ks, T, &["LINDEX", "l", "5"]), Frame::Null);
        assert_eq!(run(&mut ks, T, &["LINDEX", "l", "-6"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T, &["LINDEX", "l", "-9223372036854775808"]),
            Frame::Null
        );
        assert_eq!(run(&mut ks, T, &["LINDEX", "l", "x"]), errors::NOT_INTEGER);
        assert_eq!(run(&mut ks, T, &["LINDEX", "nokey", "x"]), Frame::Null);
        assert_eq!(run(&mut ks, T, &["LSET", "l", "1", "B"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["LSET", "l", "-1", "X"]), Frame::ok());
        assert_eq!(
            run(&mut ks, T, &["LSET", "l", "5", "X"]),
            err("ERR index out of range")
        );
        assert_eq!(
            run(&mut ks, T, &["LSET", "nokey", "0", "X"]),
            errors::NO_SUCH_KEY
        );
        assert_eq!(
            run(&mut ks, T, &["LSET", "nokey", "x", "X"]),
            errors::NO_SUCH_KEY
        );
        assert_eq!(
            run(&mut ks, T, &["LSET", "l", "x", "X"]),
            errors::NOT_INTEGER
        );
        assert_eq!(range(&mut ks, "l"), arr(&["a", "B", "c", "1", "X"]));
        assert_eq!(
            run(&mut ks, T, &["LRANGE", "l", "1", "2"]),
            arr(&["B", "c"])
        );
        assert_eq!(
            run(&mut ks, T, &["LRANGE", "l", "-2", "100"]),
            arr(&["1", "X"])
        );
        assert_eq!(run(&mut ks, T, &["LRANGE", "l", "-100", "0"]), arr(&["a"]));
        assert_eq!(run(&mut ks, T, &["LRANGE", "l", "3", "1"]), arr(&[]));
        assert_eq!(run(&mut ks, T, &["LRANGE", "l", "5", "10"]), arr(&[]));
        assert_eq!(
            run(
                &mut ks,
                T,
                &["LRANGE", "l", "-9223372036854775808", "9223372036854775807"]
            ),
            arr(&["a", "B", "c", "1", "X"])
        );
        assert_eq!(run(&mut ks, T, &["LRANGE", "nokey", "0", "-1"]), arr(&[]));
        assert_eq!(
            run(&mut ks, T, &["LRANGE", "nokey", "x", "-1"]),
            errors::NOT_INTEGER
        );
    }

    #[test]
    fn linsert_lrem_ltrim() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["RPUSH", "l", "a", "b", "a", "c", "a"]);
        assert_eq!(
            run(&mut ks, T, &["LINSERT", "l", "BEFORE", "b", "x"]),
            Frame::Integer(6)
        );
        assert_eq!(
            run(&mut ks, T, &["LINSERT", "l", "after", "c", "y"]),
            Frame::Integer(7)
        );
        assert_eq!(
            run(&mut ks, T, &["LINSERT", "l", "after", "zz", "y"]),
            Frame::Integer(-1)
        );
        assert_eq!(
            run(&mut ks, T, &["LINSERT", "nokey", "after", "zz", "y"]),
            Frame::Integer(0)
        );
        assert_eq!(
            run(&mut ks, T, &["LINSERT", "l", "middle", "a", "y"]),
            errors::SYNTAX
        );
        assert_eq!(
            range(&mut ks, "l"),
            arr(&["a", "x", "b", "a", "c", "y", "a"])
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["LREM", "l", "-2", "a"]),
            (Frame::Integer(2), 2)
        );
        assert_eq!(range(&mut ks, "l"), arr(&["a", "x", "b", "c", "y"]));
        assert_eq!(
            run(&mut ks, T, &["LREM", "l", "0", "zz"]),
            Frame::Integer(0)
        );
        assert_eq!(
            run(&mut ks, T, &["LREM", "l", "x", "a"]),
            errors::NOT_INTEGER
        );
        assert_eq!(
            run(&mut ks, T, &["LREM", "nokey", "1", "a"]),
            Frame::Integer(0)
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["LTRIM", "l", "1", "-2"]),
            (Frame::ok(), 2)
        );
        assert_eq!(range(&mut ks, "l"), arr(&["x", "b", "c"]));
        assert_eq!(run(&mut ks, T, &["LTRIM", "nokey", "0", "1"]), Frame::ok());
        assert_eq!(
            run(&mut ks, T, &["LTRIM", "l", "0", "x"]),
            errors::NOT_INTEGER
        );
        assert_eq!(run(&mut ks, T, &["LTRIM", "l", "2", "1"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["EXISTS", "l"]), Frame::Integer(0));
        run(&mut ks, T, &["RPUSH", "l", "a", "a"]);
        assert_eq!(run(&mut ks, T, &["LREM", "l", "0", "a"]), Frame::Integer(2));
        assert_eq!(run(&mut ks, T, &["EXISTS", "l"]), Frame::Integer(0));
    }

    #[test]
    fn lpos_options_and_errors() {
        let mut ks = Keyspace::new();
        run(
            &mut ks,
            T,
            &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"],
        );
        assert_eq!(run(&mut ks, T, &["LPOS", "l", "c"]), Frame::Integer(2));
        assert_eq!(run(&mut ks, T, &["LPOS", "l", "3"]), Frame::Integer(5));
        assert_eq!(run(&mut ks, T, &["LPOS", "l", "zz"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "RANK", "-1"]),
            Frame::Integer(7)
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "COUNT", "0"]),
            Frame::Array(vec![
                Frame::Integer(2),
                Frame::Integer(6),
                Frame::Integer(7)
            ])
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "COUNT", "2", "RANK", "-1"]),
            Frame::Array(vec![Frame::Integer(7), Frame::Integer(6)])
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "3"]),
            Frame::Array(vec![Frame::Integer(2)])
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "MAXLEN", "2"]),
            Frame::Null
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "nokey", "c", "COUNT", "1"]),
            Frame::Array(vec![])
        );
        assert_eq!(run(&mut ks, T, &["LPOS", "nokey", "c"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "RANK", "0"]),
            err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "RANK", "x"]),
            errors::NOT_INTEGER
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "RANK", "-9223372036854775808"]),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "COUNT", "-1"]),
            err("ERR COUNT can't be negative")
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "COUNT", "x"]),
            err("ERR COUNT can't be negative")
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "MAXLEN", "-1"]),
            err("ERR MAXLEN can't be negative")
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "COUNT"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["LPOS", "l", "c", "FOO", "1"]),
            errors::SYNTAX
        );
        // Option errors come before the type check.
        run(&mut ks, T, &["SET", "s", "x"]);
        assert_eq!(run(&mut ks, T, &["LPOS", "s", "c", "FOO"]), errors::SYNTAX);
    }

    #[test]
    fn lmove_and_rpoplpush() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["RPUSH", "src", "a", "b", "c"]);
        assert_eq!(
            run_dirty(&mut ks, T, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]),
            (b("a"), 1)
        );
        assert_eq!(run(&mut ks, T, &["RPOPLPUSH", "src", "dst"]), b("c"));
        assert_eq!(range(&mut ks, "dst"), arr(&["c", "a"]));
        assert_eq!(
            run(&mut ks, T, &["LMOVE", "src", "src", "left", "right"]),
            b("b")
        );
        assert_eq!(range(&mut ks, "src"), arr(&["b"]));
        assert_eq!(run(&mut ks, T, &["RPOPLPUSH", "src", "src"]), b("b"));
        assert_eq!(
            run(&mut ks, T, &["LMOVE", "src", "dst", "right", "left"]),
            b("b")
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "src"]), Frame::Integer(0));
        assert_eq!(range(&mut ks, "dst"), arr(&["b", "c", "a"]));
        assert_eq!(
            run(&mut ks, T, &["LMOVE", "src", "dst", "left", "left"]),
            Frame::Null
        );
        assert_eq!(run(&mut ks, T, &["RPOPLPUSH", "src", "dst"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T, &["LMOVE", "src", "dst", "up", "left"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["LMOVE", "dst", "x", "left", "down"]),
            errors::SYNTAX
        );
        // The destination's type is checked before the source is popped.
        run(&mut ks, T, &["SET", "s", "v"]);
        assert_eq!(
            run(&mut ks, T, &["LMOVE", "dst", "s", "left", "left"]),
            errors::WRONGTYPE
        );
        assert_eq!(run(&mut ks, T, &["LLEN", "dst"]), Frame::Integer(3));
        // The destination is signalled for blocked clients.
        ks.take_ready_keys();
        run(&mut ks, T, &["LMOVE", "dst", "other", "left", "left"]);
        assert_eq!(ks.take_ready_keys().keys, vec![b"other".to_vec()]);
    }

    #[test]
    fn lmpop_arguments_and_replies() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["RPUSH", "b", "1", "2", "3"]);
        assert_eq!(
            run(&mut ks, T, &["LMPOP", "2", "a", "b", "LEFT"]),
            Frame::Array(vec![b("b"), arr(&["1"])])
        );
        assert_eq!(
            run_dirty(
                &mut ks,
                T,
                &["LMPOP", "2", "a", "b", "right", "COUNT", "10"]
            ),
            (Frame::Array(vec![b("b"), arr(&["3", "2"])]), 2)
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "b"]), Frame::Integer(0));
        assert_eq!(
            run(&mut ks, T, &["LMPOP", "2", "a", "b", "right"]),
            Frame::NullArray
        );
        let numkeys = err("ERR numkeys should be greater than 0");
        assert_eq!(run(&mut ks, T, &["LMPOP", "0", "a", "left"]), numkeys);
        assert_eq!(run(&mut ks, T, &["LMPOP", "x", "a", "left"]), numkeys);
        assert_eq!(run(&mut ks, T, &["LMPOP", "-1", "a", "left"]), numkeys);
        assert_eq!(
            run(&mut ks, T, &["LMPOP", "2", "a", "left"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["LMPOP", "9223372036854775807", "a", "left"]),
            errors::SYNTAX
        );
        assert_eq!(run(&mut ks, T, &["LMPOP", "1", "a", "up"]), errors::SYNTAX);
        let count = err("ERR count should be greater than 0");
        assert_eq!(
            run(&mut ks, T, &["LMPOP", "1", "a", "left", "count", "0"]),
            count
        );
        assert_eq!(
            run(&mut ks, T, &["LMPOP", "1", "a", "left", "count", "x"]),
            count
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["LMPOP", "1", "a", "left", "count", "1", "count", "1"]
            ),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["LMPOP", "1", "a", "left", "count"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["LMPOP", "1", "a"]),
            err("ERR wrong number of arguments for 'lmpop' command")
        );
        let spec = crate::table::lookup(b"lmpop").unwrap();
        let args =
            |v: &[&str]| -> Vec<Bytes> { v.iter().map(|s| Bytes::from(s.to_string())).collect() };
        assert_eq!(
            spec.key_positions(&args(&["lmpop", "2", "a", "b", "left"])),
            Ok(vec![2, 3])
        );
        assert!(spec
            .key_positions(&args(&["lmpop", "3", "a", "left"]))
            .is_err());
        assert!(spec
            .key_positions(&args(&["lmpop", "x", "a", "left"]))
            .is_err());
    }

    #[test]
    fn blocking_steps() {
        let mut ks = Keyspace::new();
        let mut ctx = ExecCtx::for_write(T, 1);
        let keys = [Bytes::from("a"), Bytes::from("b")];
        assert_eq!(try_pop(&mut ks, &mut ctx, &keys, End::Left), None);
        assert_eq!(try_mpop(&mut ks, &mut ctx, &keys, End::Left, 5), None);
        assert_eq!(
            try_move(&mut ks, &mut ctx, &keys[0], &keys[1], End::Left, End::Left),
            None
        );
        run(&mut ks, T, &["RPUSH", "b", "x", "y"]);
        assert_eq!(
            try_pop(&mut ks, &mut ctx, &keys, End::Right),
            Some(Frame::Array(vec![b("b"), b("y")]))
        );
        assert_eq!(
            try_move(&mut ks, &mut ctx, &keys[1], &keys[0], End::Left, End::Left),
            Some(b("x"))
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "b"]), Frame::Integer(0));
        run(&mut ks, T, &["SET", "b", "s"]);
        assert_eq!(
            try_pop(
                &mut ks,
                &mut ctx,
                &[Bytes::from("nokey"), Bytes::from("b")],
                End::Left
            ),
            Some(errors::WRONGTYPE)
        );
        assert_eq!(ctx.dirty, 2);
    }

    /// Runs `args` as a client that may block proposes it ([`crate::Op::Block`]).
    fn run_block(ks: &mut Keyspace, args: &[&str]) -> Frame {
        let args: Vec<Bytes> = args.iter().map(|s| Bytes::from(s.to_string())).collect();
        let mut ctx = ExecCtx::for_write(T, 1);
        let reply = crate::exec::apply_op(ks, &mut ctx, &crate::Op::Block(args));
        assert!(!ctx.blocking);
        reply
    }

    #[test]
    fn blocking_commands_serve_now_or_would_block() {
        use crate::blocking::is_would_block;
        let mut ks = Keyspace::new();
        // Nothing there: a client that may wait is told so; anyone else gets the command's null.
        for cmd in [
            &["BLPOP", "a", "b", "0"][..],
            &["BRPOP", "a", "1.5"],
            &["BLMPOP", "0", "2", "a", "b", "left", "count", "3"],
            &["BLMOVE", "a", "d", "left", "right", "0"],
            &["BRPOPLPUSH", "a", "d", "0"],
        ] {
            assert!(is_would_block(&run_block(&mut ks, cmd)), "{cmd:?}");
        }
        assert_eq!(run(&mut ks, T, &["BLPOP", "a", "0"]), Frame::NullArray);
        assert_eq!(run(&mut ks, T, &["BRPOP", "a", "b", "0"]), Frame::NullArray);
        assert_eq!(
            run(&mut ks, T, &["BLMPOP", "0", "1", "a", "left"]),
            Frame::NullArray
        );
        assert_eq!(
            run(&mut ks, T, &["BLMOVE", "a", "d", "left", "left", "0"]),
            Frame::Null
        );
        assert_eq!(run(&mut ks, T, &["BRPOPLPUSH", "a", "d", "0"]), Frame::Null);
        assert_eq!(ks.len(), 0);
        // Something there: served at once, first non-empty key in the command's order.
        run(&mut ks, T, &["RPUSH", "b", "1", "2", "3", "4", "5"]);
        assert_eq!(
            run_block(&mut ks, &["BLPOP", "a", "b", "0"]),
            Frame::Array(vec![b("b"), b("1")])
        );
        assert_eq!(
            run(&mut ks, T, &["BRPOP", "a", "b", "0"]),
            Frame::Array(vec![b("b"), b("5")])
        );
        assert_eq!(
            run_block(
                &mut ks,
                &["BLMPOP", "0", "2", "a", "b", "right", "count", "2"]
            ),
            Frame::Array(vec![b("b"), arr(&["4", "3"])])
        );
        assert_eq!(
            run_block(&mut ks, &["BLMOVE", "b", "d", "left", "right", "0"]),
            b("2")
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "b"]), Frame::Integer(0));
        assert_eq!(run_block(&mut ks, &["BRPOPLPUSH", "d", "d", "0"]), b("2"));
        assert_eq!(range(&mut ks, "d"), arr(&["2"]));
        // Types are checked key by key, as the pops go.
        run(&mut ks, T, &["SET", "s", "x"]);
        assert_eq!(
            run_block(&mut ks, &["BLPOP", "a", "s", "0"]),
            errors::WRONGTYPE
        );
        assert_eq!(
            run_block(&mut ks, &["BLPOP", "d", "s", "0"]),
            Frame::Array(vec![b("d"), b("2")])
        );
        assert_eq!(
            run_block(&mut ks, &["BLMPOP", "0", "2", "a", "s", "left"]),
            errors::WRONGTYPE
        );
        // BLMOVE waits on its source only: the destination's type matters once there is an element.
        assert!(is_would_block(&run_block(
            &mut ks,
            &["BLMOVE", "a", "s", "left", "left", "0"]
        )));
        run(&mut ks, T, &["RPUSH", "a", "x"]);
        assert_eq!(
            run_block(&mut ks, &["BRPOPLPUSH", "a", "s", "0"]),
            errors::WRONGTYPE
        );
        assert_eq!(range(&mut ks, "a"), arr(&["x"]));
    }

    #[test]
    fn blocking_command_errors_in_redis_order() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["SET", "s", "x"]);
        let negative = err("ERR timeout is negative");
        let not_float = err("ERR timeout is not a float or out of range");
        assert_eq!(run_block(&mut ks, &["BLPOP", "s", "-1"]), negative);
        assert_eq!(run_block(&mut ks, &["BRPOP", "s", "x"]), not_float);
        assert_eq!(
            run_block(&mut ks, &["BRPOPLPUSH", "s", "d", "x"]),
            not_float
        );
        assert_eq!(
            run_block(&mut ks, &["BLMOVE", "s", "d", "up", "left", "x"]),
            errors::SYNTAX
        );
        assert_eq!(
            run_block(&mut ks, &["BLMOVE", "s", "d", "left", "down", "x"]),
            errors::SYNTAX
        );
        assert_eq!(
            run_block(&mut ks, &["BLMOVE", "s", "d", "left", "left", "-1"]),
            negative
        );
        let numkeys = err("ERR numkeys should be greater than 0");
        assert_eq!(
            run_block(&mut ks, &["BLMPOP", "x", "0", "a", "left"]),
            numkeys
        );
        assert_eq!(
            run_block(&mut ks, &["BLMPOP", "x", "1", "a", "up"]),
            errors::SYNTAX
        );
        assert_eq!(
            run_block(&mut ks, &["BLMPOP", "x", "1", "a", "left", "count", "0"]),
            err("ERR count should be greater than 0")
        );
        assert_eq!(
            run_block(&mut ks, &["BLMPOP", "x", "1", "a", "left"]),
            not_float
        );
        assert_eq!(
            run_block(&mut ks, &["BLMPOP", "-1", "1", "s", "left"]),
            negative
        );
        assert_eq!(
            run(&mut ks, T, &["BLMPOP", "0", "1"]),
            err("ERR wrong number of arguments for 'blmpop' command")
        );
        assert_eq!(
            run(&mut ks, T, &["BLPOP", "a"]),
            err("ERR wrong number of arguments for 'blpop' command")
        );
        assert_eq!(ks.len(), 1);
    }

    #[test]
    fn blocking_rows_name_their_keys_and_waits() {
        let args =
            |v: &[&str]| -> Vec<Bytes> { v.iter().map(|s| Bytes::from(s.to_string())).collect() };
        let block = |v: &[&str]| {
            let a = args(v);
            let spec = crate::cmd::resolve(&a).unwrap();
            (spec.block_on.unwrap())(&a, T)
        };
        let keys = |v: &[&str]| {
            v.iter()
                .map(|s| Bytes::from(s.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            block(&["blpop", "a", "b", "a", "0.5"]),
            Some(Block {
                keys: keys(&["a", "b"]),
                timeout_ms: 500
            })
        );
        assert_eq!(block(&["brpop", "a", "0"]).unwrap().timeout_ms, 0);
        assert_eq!(
            block(&["blmove", "a", "b", "left", "left", "2"]),
            Some(Block {
                keys: keys(&["a"]),
                timeout_ms: 2000
            })
        );
        assert_eq!(
            block(&["brpoplpush", "a", "b", "0"]).unwrap().keys,
            keys(&["a"])
        );
        assert_eq!(
            block(&["blmpop", "0.001", "2", "x", "y", "right", "count", "2"]),
            Some(Block {
                keys: keys(&["x", "y"]),
                timeout_ms: 1
            })
        );
        assert_eq!(block(&["blpop", "a", "-1"]), None);
        let spec = crate::table::lookup(b"blmpop").unwrap();
        assert_eq!(
            spec.key_positions(&args(&["blmpop", "0", "2", "a", "b", "left"])),
            Ok(vec![3, 4])
        );
        assert!(spec
            .key_positions(&args(&["blmpop", "0", "3", "a", "left"]))
            .is_err());
        let spec = crate::table::lookup(b"blpop").unwrap();
        assert_eq!(
            spec.key_positions(&args(&["blpop", "a", "b", "0"])),
            Ok(vec![1, 2])
        );
        for name in ["blpop", "brpop", "blmove", "brpoplpush", "blmpop"] {
            let spec = crate::table::lookup(name.as_bytes()).unwrap();
            assert!(
                spec.flags & flags::BLOCKING != 0 && spec.is_write(),
                "{name}"
            );
        }
    }

    #[test]
    fn ready_keys_are_signalled_once_and_bounded() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["RPUSH", "a", "1"]);
        run(&mut ks, T, &["LPUSH", "b", "1"]);
        run(&mut ks, T, &["RPUSH", "a", "2"]);
        run(&mut ks, T, &["LPUSHX", "nokey", "2"]);
        run(&mut ks, T, &["LINSERT", "a", "before", "1", "0"]);
        let r = ks.take_ready_keys();
        assert_eq!(r.keys, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(!r.overflowed);
        assert_eq!(ks.take_ready_keys().keys, Vec::<Vec<u8>>::new());
        // COPY and RENAME of a list signal the new key.
        run(&mut ks, T, &["COPY", "a", "c"]);
        run(&mut ks, T, &["RENAME", "b", "d"]);
        assert_eq!(
            ks.take_ready_keys().keys,
            vec![b"c".to_vec(), b"d".to_vec()]
        );
        for i in 0..crate::keyspace::READY_KEYS_MAX + 10 {
            run(&mut ks, T, &["RPUSH", &format!("k{i}"), "x"]);
        }
        let r = ks.take_ready_keys();
        assert_eq!(r.keys.len(), crate::keyspace::READY_KEYS_MAX);
        assert!(r.overflowed);
        assert!(!ks.take_ready_keys().overflowed);
    }

    #[test]
    fn encodings_follow_the_configuration() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["RPUSH", "l", "a", "b"]);
        assert_eq!(encoding(&mut ks, "l"), b("listpack"));
        let big = "x".repeat(9000);
        run(&mut ks, T, &["RPUSH", "l", &big]);
        assert_eq!(encoding(&mut ks, "l"), b("quicklist"));
        run(&mut ks, T, &["RPOP", "l"]);
        assert_eq!(encoding(&mut ks, "l"), b("listpack"));
        // LSET with a large element converts first.
        run(&mut ks, T, &["LSET", "l", "0", &big]);
        assert_eq!(encoding(&mut ks, "l"), b("quicklist"));
        run(&mut ks, T, &["LSET", "l", "0", "a"]);
        assert_eq!(encoding(&mut ks, "l"), b("listpack"));
        ks.config.list_max_listpack_size = 4;
        run(&mut ks, T, &["RPUSH", "m", "1", "2", "3", "4"]);
        assert_eq!(encoding(&mut ks, "m"), b("listpack"));
        run(&mut ks, T, &["RPUSH", "m", "5"]);
        assert_eq!(encoding(&mut ks, "m"), b("quicklist"));
        run(&mut ks, T, &["LTRIM", "m", "0", "1"]);
        assert_eq!(encoding(&mut ks, "m"), b("listpack"));
        // LINSERT converts before knowing whether the pivot exists, as Redis does.
        run(&mut ks, T, &["RPUSH", "n", "1", "2", "3", "4"]);
        assert_eq!(
            run(&mut ks, T, &["LINSERT", "n", "before", "zz", "0"]),
            Frame::Integer(-1)
        );
        assert_eq!(encoding(&mut ks, "n"), b("quicklist"));
    }

    #[test]
    fn copy_and_memory_usage() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["RPUSH", "l", "a", "b"]);
        assert_eq!(run(&mut ks, T, &["COPY", "l", "c"]), Frame::Integer(1));
        run(&mut ks, T, &["RPUSH", "c", "z"]);
        assert_eq!(range(&mut ks, "l"), arr(&["a", "b"]));
        assert_eq!(range(&mut ks, "c"), arr(&["a", "b", "z"]));
        let usage = |ks: &mut Keyspace, k: &str| match run(ks, T, &["MEMORY", "USAGE", k]) {
            Frame::Integer(n) => n,
            other => panic!("{other:?}"),
        };
        let small = usage(&mut ks, "l");
        let big: Vec<String> = (0..2000).map(|i| format!("element-{i}")).collect();
        let mut args = vec!["RPUSH", "l"];
        args.extend(big.iter().map(|s| s.as_str()));
        run(&mut ks, T, &args);
        let large = usage(&mut ks, "l");
        assert!(small < 250, "{small}");
        // About 13-14 bytes an element packed, with node and allocator overhead well under 50%.
        assert!(large > 2000 * 13 && large < 2000 * 22, "{large}");
    }
}
