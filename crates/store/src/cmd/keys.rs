//! The generic family (commands on keys of any type: DEL, EXISTS, RENAME, COPY, SCAN, the EXPIRE and TTL
//! commands, OBJECT) plus the keyspace-wide ones Redis files under `server` (DBSIZE, FLUSHDB, FLUSHALL, MEMORY).

use bytes::Bytes;
use resp::Frame;

use crate::cmd::{arg_i64, is, reply};
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::notify::class as ev;
use crate::table::{acl, flags, AllShards, CommandSpec, Handler, Writes};

const DEL_COMPLEXITY: &str = "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).";
const UNLINK_COMPLEXITY: &str = "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.";
const SCAN_COMPLEXITY: &str = "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.";

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "encoding",
        3,
        flags::READONLY,
        acl::KEYSPACE,
        Handler::Keyspace(object_encoding),
    )
    .keys(2, 2, 1)
    .doc(
        "generic",
        "2.2.3",
        "O(1)",
        "Inspect the internal encoding of a Redis object",
    ),
    CommandSpec::new(
        "freq",
        3,
        flags::READONLY,
        acl::KEYSPACE,
        Handler::Keyspace(object_freq),
    )
    .keys(2, 2, 1)
    .doc(
        "generic",
        "4.0.0",
        "O(1)",
        "Get the logarithmic access frequency counter of a Redis object",
    ),
    CommandSpec::new(
        "idletime",
        3,
        flags::READONLY,
        acl::KEYSPACE,
        Handler::Keyspace(object_idletime),
    )
    .keys(2, 2, 1)
    .doc(
        "generic",
        "2.2.3",
        "O(1)",
        "Get the time since a Redis object was last accessed",
    ),
    CommandSpec::new(
        "refcount",
        3,
        flags::READONLY,
        acl::KEYSPACE,
        Handler::Keyspace(object_refcount),
    )
    .keys(2, 2, 1)
    .doc(
        "generic",
        "2.2.3",
        "O(1)",
        "Get the number of references to the value of the key",
    ),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        acl::KEYSPACE,
        Handler::Keyspace(object_help_cmd),
    )
    .doc(
        "generic",
        "6.2.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

const MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "usage",
        -3,
        flags::READONLY,
        0,
        Handler::Keyspace(memory_usage),
    )
    .keys(2, 2, 1)
    .doc(
        "server",
        "4.0.0",
        "O(N) where N is the number of samples.",
        "Estimate the memory usage of a key",
    ),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        0,
        Handler::Keyspace(memory_help_cmd),
    )
    .doc(
        "server",
        "4.0.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, flags::WRITE, acl::KEYSPACE, Handler::Keyspace(del))
        .keys(1, -1, 1)
        .doc("generic", "1.0.0", DEL_COMPLEXITY, "Delete a key"),
    CommandSpec::new(
        "unlink",
        -2,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(del),
    )
    .keys(1, -1, 1)
    .doc(
        "generic",
        "4.0.0",
        UNLINK_COMPLEXITY,
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
    ),
    CommandSpec::new(
        "exists",
        -2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(exists),
    )
    .keys(1, -1, 1)
    .doc(
        "generic",
        "1.0.0",
        "O(N) where N is the number of keys to check.",
        "Determine if a key exists",
    ),
    CommandSpec::new(
        "type",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(type_cmd),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Determine the type stored at key",
    ),
    CommandSpec::new(
        "rename",
        3,
        flags::WRITE,
        acl::KEYSPACE,
        Handler::Keyspace(rename),
    )
    .keys(1, 2, 1)
    .doc("generic", "1.0.0", "O(1)", "Rename a key"),
    CommandSpec::new(
        "renamenx",
        3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(renamenx),
    )
    .keys(1, 2, 1)
    .doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Rename a key, only if the new key does not exist",
    ),
    CommandSpec::new(
        "copy",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::KEYSPACE,
        Handler::Keyspace(copy),
    )
    .keys(1, 2, 1)
    .writes(Writes::LastKey)
    .doc(
        "generic",
        "6.2.0",
        "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        "Copy a key",
    ),
    CommandSpec::new(
        "dump",
        2,
        flags::READONLY,
        acl::KEYSPACE,
        Handler::Keyspace(dump),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "2.6.0",
        "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        "Return a serialized version of the value stored at the specified key.",
    ),
    CommandSpec::new(
        "restore",
        -4,
        flags::WRITE | flags::DENYOOM,
        acl::KEYSPACE,
        Handler::Keyspace(restore),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "2.6.0",
        "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
    ),
    CommandSpec::new(
        "touch",
        -2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(touch),
    )
    .keys(1, -1, 1)
    .doc(
        "generic",
        "3.2.1",
        "O(N) where N is the number of keys that will be touched.",
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
    ),
    CommandSpec::new(
        "keys",
        2,
        flags::READONLY,
        acl::KEYSPACE | acl::DANGEROUS,
        Handler::Keyspace(keys),
    )
    .all_shards(AllShards::Always)
    .doc(
        "generic",
        "1.0.0",
        "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        "Find all keys matching the given pattern",
    ),
    CommandSpec::new(
        "scan",
        -2,
        flags::READONLY,
        acl::KEYSPACE,
        Handler::Keyspace(scan),
    )
    .all_shards(AllShards::Always)
    .doc(
        "generic",
        "2.8.0",
        SCAN_COMPLEXITY,
        "Incrementally iterate the keys space",
    ),
    CommandSpec::new(
        "randomkey",
        1,
        flags::READONLY,
        acl::KEYSPACE,
        Handler::Keyspace(randomkey),
    )
    .all_shards(AllShards::Always)
    .doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Return a random key from the keyspace",
    ),
    CommandSpec::new(
        "expire",
        -3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(expire),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Set a key's time to live in seconds",
    ),
    CommandSpec::new(
        "pexpire",
        -3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(pexpire),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "2.6.0",
        "O(1)",
        "Set a key's time to live in milliseconds",
    ),
    CommandSpec::new(
        "expireat",
        -3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(expireat),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "1.2.0",
        "O(1)",
        "Set the expiration for a key as a UNIX timestamp",
    ),
    CommandSpec::new(
        "pexpireat",
        -3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(pexpireat),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "2.6.0",
        "O(1)",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
    ),
    CommandSpec::new(
        "ttl",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(ttl),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Get the time to live for a key in seconds",
    ),
    CommandSpec::new(
        "pttl",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(pttl),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "2.6.0",
        "O(1)",
        "Get the time to live for a key in milliseconds",
    ),
    CommandSpec::new(
        "expiretime",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(expiretime),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "7.0.0",
        "O(1)",
        "Get the expiration Unix timestamp for a key",
    ),
    CommandSpec::new(
        "pexpiretime",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(pexpiretime),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "7.0.0",
        "O(1)",
        "Get the expiration Unix timestamp for a key in milliseconds",
    ),
    CommandSpec::new(
        "persist",
        2,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(persist),
    )
    .keys(1, 1, 1)
    .doc(
        "generic",
        "2.2.0",
        "O(1)",
        "Remove the expiration from a key",
    ),
    CommandSpec::new("object", -2, 0, 0, Handler::Container)
        .subcommands(OBJECT_SUBCOMMANDS)
        .doc(
            "generic",
            "2.2.3",
            "Depends on subcommand.",
            "A container for object introspection commands",
        ),
    CommandSpec::new("memory", -2, 0, 0, Handler::Container)
        .subcommands(MEMORY_SUBCOMMANDS)
        .doc(
            "server",
            "4.0.0",
            "Depends on subcommand.",
            "A container for memory diagnostics commands",
        ),
    CommandSpec::new(
        "dbsize",
        1,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        Handler::Keyspace(dbsize),
    )
    .all_shards(AllShards::Always)
    .doc(
        "server",
        "1.0.0",
        "O(1)",
        "Return the number of keys in the selected database",
    ),
    CommandSpec::new(
        "flushdb",
        -1,
        flags::WRITE,
        acl::KEYSPACE | acl::DANGEROUS,
        Handler::Keyspace(flush),
    )
    .all_shards(AllShards::Always)
    .doc(
        "server",
        "1.0.0",
        "O(N) where N is the number of keys in the selected database",
        "Remove all keys from the current database",
    ),
    CommandSpec::new(
        "flushall",
        -1,
        flags::WRITE,
        acl::KEYSPACE | acl::DANGEROUS,
        Handler::Keyspace(flush),
    )
    .all_shards(AllShards::Always)
    .doc(
        "server",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        "Remove all keys from all databases",
    ),
];

/// Refcount Redis reports for its shared objects (`OBJ_SHARED_REFCOUNT`, INT_MAX).
const SHARED_REFCOUNT: i64 = 2_147_483_647;
/// Integers `0..SHARED_INTEGERS` are shared objects in Redis (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;

const SAME_OBJECT: Frame = Frame::error("ERR source and destination objects are the same");
const DB_OUT_OF_RANGE: Frame = Frame::error("ERR DB index is out of range");
pub(crate) const INVALID_CURSOR: Frame = Frame::error("ERR invalid cursor");
const NO_LRU: Frame = Frame::error(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);
const NO_LFU: Frame = Frame::error(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);

fn del(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let mut deleted = 0;
    for key in &args[1..] {
        ks.expire_if_due(key, ctx.now_ms);
        if ks.remove(key).is_some() {
            ks.notify(ev::GENERIC, "del", key);
            deleted += 1;
        }
    }
    ctx.dirty += deleted as u64;
    Frame::Integer(deleted)
}

fn exists(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let n = args[1..]
        .iter()
        .filter(|k| ks.read_notouch(ctx, k).is_some())
        .count();
    Frame::Integer(n as i64)
}

fn touch(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let n = args[1..]
        .iter()
        .filter(|k| ks.read(ctx, k).is_some())
        .count();
    Frame::Integer(n as i64)
}

fn type_cmd(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    Frame::simple(
        ks.read_notouch(ctx, &args[1])
            .map_or("none", |o| o.value.type_name()),
    )
}

fn rename(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    rename_generic(ks, ctx, args, false)
}

fn renamenx(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    rename_generic(ks, ctx, args, true)
}

fn rename_generic(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes], nx: bool) -> Frame {
    let (from, to) = (&args[1], &args[2]);
    if !ks.exists(ctx, from) {
        return errors::NO_SUCH_KEY;
    }
    let done = if nx { Frame::Integer(1) } else { Frame::ok() };
    if from == to {
        return if nx { Frame::Integer(0) } else { done };
    }
    if nx && ks.exists(ctx, to) {
        return Frame::Integer(0);
    }
    ks.rename(ctx, from, to);
    ks.notify(ev::GENERIC, "rename_from", from);
    ks.notify(ev::GENERIC, "rename_to", to);
    ctx.dirty += 1;
    done
}

/// Parses a database index as Redis' `getIntFromObjectOrReply` does.
fn arg_db(b: &[u8]) -> Result<i64, Frame> {
    let v = arg_i64(b)?;
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return Err(Frame::error(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    Ok(v)
}

fn copy(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(copy_inner(ks, ctx, args))
}

fn copy_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "db") && j + 1 < args.len() {
            // Shoal has only database 0; any other index is out of range, as in a Redis with `databases 1`.
            if arg_db(&args[j + 1])? != 0 {
                return Err(DB_OUT_OF_RANGE);
            }
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let (src, dst) = (&args[1], &args[2]);
    if src == dst {
        return Err(SAME_OBJECT);
    }
    let Some(o) = ks.read(ctx, src) else {
        return Ok(Frame::Integer(0));
    };
    let (value, expire_at) = (o.value.clone(), o.expire_at);
    if ks.exists(ctx, dst) && !replace {
        return Ok(Frame::Integer(0));
    }
    ks.set(ctx, dst, value, expire_at);
    ks.notify(ev::GENERIC, "copy_to", dst);
    ctx.dirty += 1;
    Ok(Frame::Integer(1))
}

fn dump(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    match ks.read(ctx, &args[1]) {
        Some(o) => Frame::Bulk(Bytes::from(crate::snapshot::dump_value(o))),
        None => Frame::Null,
    }
}

fn restore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(restore_inner(ks, ctx, args))
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`, with Redis' checks in
/// Redis' order.
fn restore_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "absttl") {
            absttl = true;
        } else if is(&args[j], "idletime") && more && freq.is_none() {
            let v = arg_i64(&args[j + 1])?;
            if v < 0 {
                return Err(Frame::error("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if is(&args[j], "freq") && more && idle.is_none() {
            let v = arg_i64(&args[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(Frame::error(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let key = &args[1];
    let exists = ks.exists(ctx, key);
    if !replace && exists {
        return Err(Frame::error("BUSYKEY Target key name already exists."));
    }
    let ttl = arg_i64(&args[2])?;
    if ttl < 0 {
        return Err(Frame::error("ERR Invalid TTL value, must be >= 0"));
    }
    let value = match crate::snapshot::restore_value(&args[3]) {
        Ok(v) => v,
        Err(crate::snapshot::PayloadError::Footer) => {
            return Err(Frame::error(
                "ERR DUMP payload version or checksum are wrong",
            ))
        }
        Err(crate::snapshot::PayloadError::Data) => {
            return Err(Frame::error("ERR Bad data format"))
        }
    };
    let expire_at = match ttl {
        0 => NO_EXPIRE,
        t if absttl => t,
        t => ctx.now_ms.saturating_add(t),
    };
    if expire_at != NO_EXPIRE && expire_at <= ctx.now_ms {
        // Already past its deadline: Redis deletes any old value and stores nothing.
        if exists && ks.remove(key).is_some() {
            ks.notify(ev::GENERIC, "del", key);
            ctx.dirty += 1;
        }
        return Ok(Frame::ok());
    }
    ks.set(ctx, key, value, expire_at);
    let access = ks.config.access;
    if access.lfu {
        if let Some(f) = freq {
            let created = access.created(ctx.now_ms);
            ks.set_access(key, (created & !0xff) | f as u32);
        }
    } else if let Some(s) = idle {
        let now = crate::keyspace::lru_clock(ctx.now_ms);
        ks.set_access(
            key,
            now.saturating_sub(u32::try_from(s).unwrap_or(u32::MAX)),
        );
    }
    ks.notify(ev::GENERIC, "restore", key);
    ctx.dirty += 1;
    Ok(Frame::ok())
}

fn keys(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let pattern = &args[1];
    let all = pattern.as_ref() == b"*";
    let out = ks
        .iter()
        .filter(|(k, o)| {
            (all || crate::glob::matches(pattern, k, false)) && !o.is_expired(ctx.now_ms)
        })
        .map(|(k, _)| Frame::bulk(k))
        .collect();
    Frame::Array(out)
}

/// Parses a SCAN cursor as Redis does with `strtoul(..., 10)`: an optional sign (a `-` negates modulo 2^64),
/// decimal digits, nothing after them; the empty string is cursor 0. C string semantics end it at a NUL.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let b = b.split(|&c| c == 0).next().unwrap_or_default();
    if b.first()
        .is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b)
    {
        return None;
    }
    if b.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

fn scan(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(scan_inner(ks, ctx, args))
}

fn scan_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let cursor = parse_cursor(&args[1]).ok_or(INVALID_CURSOR)?;
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "count") && has_value {
            count = arg_i64(&args[i + 1])?;
            if count < 1 {
                return Err(errors::SYNTAX);
            }
        } else if is(&args[i], "match") && has_value {
            let p = &args[i + 1];
            pattern = (p.as_ref() != b"*").then_some(p.as_ref());
        } else if is(&args[i], "type") && has_value {
            type_name = Some(&args[i + 1]);
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let (next, visited) = ks.scan_keys(cursor, count);
    let mut out = Vec::with_capacity(visited.len());
    for key in visited {
        if pattern.is_some_and(|p| !crate::glob::matches(p, &key, false)) {
            continue;
        }
        if let Some(want) = type_name {
            // Redis looks the key up to learn its type, which counts a keyspace hit or miss.
            let found = ks
                .read_notouch(ctx, &key)
                .map_or("none", |o| o.value.type_name());
            if !want.eq_ignore_ascii_case(found.as_bytes()) {
                continue;
            }
        }
        if ks.peek(ctx.now_ms, &key).is_none() {
            continue;
        }
        out.push(Frame::Bulk(Bytes::from(key)));
    }
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(next.to_string())),
        Frame::Array(out),
    ]))
}

fn randomkey(ks: &mut Keyspace, ctx: &mut ExecCtx, _args: &[Bytes]) -> Frame {
    match ks.random_key(ctx.now_ms, &mut ctx.rng) {
        Some(k) => Frame::Bulk(Bytes::from(k)),
        None => Frame::Null,
    }
}

fn expire(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(expire_generic(ks, ctx, args, "expire", true, true))
}

fn pexpire(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(expire_generic(ks, ctx, args, "pexpire", true, false))
}

fn expireat(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(expire_generic(ks, ctx, args, "expireat", false, true))
}

fn pexpireat(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(expire_generic(ks, ctx, args, "pexpireat", false, false))
}

/// The NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Default)]
struct ExpireCond {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCond {
    fn parse(opts: &[Bytes]) -> Result<ExpireCond, Frame> {
        let mut c = ExpireCond::default();
        for opt in opts {
            if is(opt, "nx") {
                c.nx = true;
            } else if is(opt, "xx") {
                c.xx = true;
            } else if is(opt, "gt") {
                c.gt = true;
            } else if is(opt, "lt") {
                c.lt = true;
            } else {
                return Err(Frame::error_owned(format!(
                    "ERR Unsupported option {}",
                    errors::sanitize(opt, opt.len())
                )));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(Frame::error(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(Frame::error(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(c)
    }

    /// Whether a key whose deadline is `current` ([`NO_EXPIRE`] for none, which counts as infinite) may get
    /// the deadline `when`.
    fn allows(&self, current: i64, when: i64) -> bool {
        let persistent = current == NO_EXPIRE;
        !(self.nx && !persistent
            || self.xx && persistent
            || self.gt && (persistent || when <= current)
            || self.lt && !persistent && when >= current)
    }
}

fn expire_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    name: &str,
    relative: bool,
    seconds: bool,
) -> Result<Frame, Frame> {
    let cond = ExpireCond::parse(&args[3..])?;
    let invalid = || Frame::error_owned(format!("ERR invalid expire time in '{name}' command"));
    let mut when = arg_i64(&args[2])?;
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    if relative {
        when = when.checked_add(ctx.now_ms).ok_or_else(invalid)?;
    }
    let Some(o) = ks.lookup(ctx, &args[1]) else {
        return Ok(Frame::Integer(0));
    };
    if !cond.allows(o.expire_at, when) {
        return Ok(Frame::Integer(0));
    }
    // A deadline already past deletes the key now (Redis propagates it as a DEL).
    ks.set_expire(ctx, &args[1], when);
    let event = if when <= ctx.now_ms { "del" } else { "expire" };
    ks.notify(ev::GENERIC, event, &args[1]);
    ctx.dirty += 1;
    Ok(Frame::Integer(1))
}

fn ttl(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    ttl_generic(ks, ctx, args, false, false)
}

fn pttl(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    ttl_generic(ks, ctx, args, true, false)
}

fn expiretime(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    ttl_generic(ks, ctx, args, false, true)
}

fn pexpiretime(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    ttl_generic(ks, ctx, args, true, true)
}

fn ttl_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    millis: bool,
    absolute: bool,
) -> Frame {
    let Some(o) = ks.read_notouch(ctx, &args[1]) else {
        return Frame::Integer(-2);
    };
    if o.expire_at == NO_EXPIRE {
        return Frame::Integer(-1);
    }
    let t = if absolute {
        o.expire_at
    } else {
        o.expire_at.saturating_sub(ctx.now_ms)
    }
    .max(0);
    if millis {
        Frame::Integer(t)
    } else {
        // Rounded to the nearest second; i128 because a deadline near i64::MAX must not overflow.
        Frame::Integer(((t as i128 + 500) / 1000) as i64)
    }
}

fn persist(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    if ks.persist(ctx, &args[1]) {
        ks.notify(ev::GENERIC, "persist", &args[1]);
        ctx.dirty += 1;
        Frame::Integer(1)
    } else {
        Frame::Integer(0)
    }
}

fn object_encoding(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    match ks.read_notouch(ctx, &args[2]) {
        Some(o) => Frame::bulk_static(o.value.encoding()),
        None => Frame::Null,
    }
}

fn object_freq(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let access = ks.config.access;
    match ks.read_notouch(ctx, &args[2]) {
        Some(o) if access.lfu => Frame::Integer(access.decayed(o.lru, ctx.now_ms) as i64),
        Some(_) => NO_LFU,
        None => Frame::Null,
    }
}

fn object_idletime(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let lfu = ks.config.access.lfu;
    match ks.read_notouch(ctx, &args[2]) {
        Some(_) if lfu => NO_LRU,
        Some(o) => Frame::Integer(o.idle_secs(ctx.now_ms) as i64),
        None => Frame::Null,
    }
}

fn object_refcount(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let shared = ks.config.access.shared_integers;
    match ks.read_notouch(ctx, &args[2]) {
        // Redis stores small non-negative integers as shared objects with a pinned refcount.
        Some(o) => match o.value {
            crate::Value::Int(i) if shared && (0..SHARED_INTEGERS).contains(&i) => {
                Frame::Integer(SHARED_REFCOUNT)
            }
            _ => Frame::Integer(1),
        },
        None => Frame::Null,
    }
}

fn memory_usage(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let mut j = 3;
    while j < args.len() {
        if is(&args[j], "samples") && j + 1 < args.len() {
            // Strings have no nested elements to sample; the option is still validated as Redis does.
            match arg_i64(&args[j + 1]) {
                Err(e) => return e,
                Ok(n) if n < 0 => return errors::SYNTAX,
                Ok(_) => {}
            }
            j += 2;
        } else {
            return errors::SYNTAX;
        }
    }
    match ks.memory_usage(ctx.now_ms, &args[2]) {
        Some(n) => Frame::Integer(n as i64),
        None => Frame::Null,
    }
}

fn dbsize(ks: &mut Keyspace, _ctx: &mut ExecCtx, _args: &[Bytes]) -> Frame {
    Frame::Integer(ks.len() as i64)
}

fn flush(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    // SYNC and ASYNC differ only in when memory is reclaimed; the keyspace is empty afterwards either way.
    let ok = match args {
        [_] => true,
        [_, mode] => is(mode, "sync") || is(mode, "async"),
        _ => false,
    };
    if !ok {
        return errors::SYNTAX;
    }
    ctx.dirty += ks.len() as u64;
    ks.clear();
    Frame::ok()
}

/// Redis' `addReplyHelp`: a header naming the command as the client typed it, the lines, then HELP itself.
fn help_reply(cmd: &[u8], lines: &[&'static str]) -> Frame {
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Frame::Simple(
        format!(
            "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            errors::sanitize(cmd, cmd.len()).to_ascii_uppercase()
        )
        .into(),
    ));
    out.extend(lines.iter().copied().map(Frame::simple));
    out.push(Frame::simple("HELP"));
    out.push(Frame::simple("    Prints this help."));
    Frame::Array(out)
}

fn object_help_cmd(_ks: &mut Keyspace, _ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    object_help(args)
}

fn memory_help_cmd(_ks: &mut Keyspace, _ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    memory_help(args)
}

/// Reply of `OBJECT HELP`; `args[0]` is the command name as sent.
pub fn object_help(args: &[Bytes]) -> Frame {
    help_reply(
        args.first().map_or(&b"OBJECT"[..], |a| a.as_ref()),
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    )
}

/// Reply of `MEMORY HELP` ([`NodeCommand::MemoryHelp`]); `args[0]` is the command name as sent.
pub fn memory_help(args: &[Bytes]) -> Frame {
    help_reply(
        args.first().map_or(&b"MEMORY"[..], |a| a.as_ref()),
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{err, int};
    use crate::cmd::testing::{run, run_dirty};

    /// A fixed "now" for the tests: 2023-11-14T22:13:20Z.
    const T: i64 = 1_700_000_000_000;

    fn bulk(s: &str) -> Frame {
        Frame::bulk(s)
    }

    fn args_of(args: &[&str]) -> Vec<Bytes> {
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    /// A keyspace holding the given string keys, set at `T`.
    fn with_keys(keys: &[&str]) -> Keyspace {
        let mut ks = Keyspace::new();
        for k in keys {
            assert_eq!(run(&mut ks, T, &["SET", k, "v"]), Frame::ok());
        }
        ks
    }

    /// Every key a full SCAN iteration with `opts` returns, sorted; also checks each reply's shape.
    fn scan_all(ks: &mut Keyspace, now_ms: i64, opts: &[&str]) -> Vec<String> {
        let mut cursor = "0".to_string();
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let mut args = vec!["SCAN", cursor.as_str()];
            args.extend_from_slice(opts);
            let Frame::Array(parts) = run(ks, now_ms, &args) else {
                panic!("SCAN reply is not an array");
            };
            let [Frame::Bulk(next), Frame::Array(keys)] = &parts[..] else {
                panic!("SCAN reply is not [cursor, keys]: {parts:?}");
            };
            for k in keys {
                let Frame::Bulk(k) = k else {
                    panic!("SCAN key is not a bulk string")
                };
                out.push(String::from_utf8(k.to_vec()).unwrap());
            }
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                out.sort();
                return out;
            }
        }
        panic!("SCAN never returned cursor 0");
    }

    fn sorted_keys(f: Frame) -> Vec<String> {
        let Frame::Array(items) = f else {
            panic!("not an array: {f:?}")
        };
        let mut v: Vec<String> = items
            .into_iter()
            .map(|i| match i {
                Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn del_and_unlink_count_deleted_keys() {
        let mut ks = with_keys(&["a", "b", "c"]);
        assert_eq!(run_dirty(&mut ks, T, &["DEL", "a", "a", "x"]), (int(1), 1));
        assert_eq!(
            run_dirty(&mut ks, T, &["UNLINK", "b", "c", "x"]),
            (int(2), 2)
        );
        assert!(ks.is_empty());
        assert_eq!(run_dirty(&mut ks, T, &["DEL", "a"]), (int(0), 0));
        assert_eq!(
            run(&mut ks, T, &["DEL"]),
            err("ERR wrong number of arguments for 'del' command")
        );
        assert_eq!(
            run(&mut ks, T, &["unlink"]),
            err("ERR wrong number of arguments for 'unlink' command")
        );
    }

    #[test]
    fn del_of_an_expired_key_counts_an_expiry_not_a_deletion() {
        let mut ks = with_keys(&["k"]);
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "k", "100"]), int(1));
        assert_eq!(run_dirty(&mut ks, T + 100, &["DEL", "k"]), (int(0), 0));
        assert_eq!(ks.stats.expired_keys, 1);
        assert!(ks.is_empty());
        assert_eq!(ks.volatile_len(), 0);
    }

    #[test]
    fn exists_counts_every_argument_and_keyspace_hits() {
        let mut ks = with_keys(&["a", "b"]);
        assert_eq!(run(&mut ks, T, &["EXISTS", "a", "a", "b", "x"]), int(3));
        assert_eq!(ks.stats.keyspace_hits, 3);
        assert_eq!(ks.stats.keyspace_misses, 1);
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "a", "10"]), int(1));
        assert_eq!(run(&mut ks, T + 9, &["EXISTS", "a"]), int(1));
        assert_eq!(run(&mut ks, T + 10, &["EXISTS", "a"]), int(0));
        assert_eq!(
            run(&mut ks, T, &["EXISTS"]),
            err("ERR wrong number of arguments for 'exists' command")
        );
    }

    #[test]
    fn exists_does_not_touch_but_touch_does() {
        let mut ks = with_keys(&["a", "b"]);
        assert_eq!(run(&mut ks, T + 10_000, &["EXISTS", "a", "b"]), int(2));
        assert_eq!(
            run(&mut ks, T + 10_000, &["TYPE", "a"]),
            Frame::simple("string")
        );
        assert_eq!(
            run(&mut ks, T + 10_000, &["OBJECT", "IDLETIME", "a"]),
            int(10)
        );
        assert_eq!(run(&mut ks, T + 10_000, &["TOUCH", "a", "a", "x"]), int(2));
        assert_eq!(
            run(&mut ks, T + 15_000, &["OBJECT", "IDLETIME", "a"]),
            int(5)
        );
        assert_eq!(
            run(&mut ks, T + 15_000, &["OBJECT", "IDLETIME", "b"]),
            int(15)
        );
        assert_eq!(ks.stats.keyspace_misses, 1);
    }

    #[test]
    fn type_names_the_value_type() {
        let mut ks = with_keys(&["s"]);
        assert_eq!(run(&mut ks, T, &["SET", "i", "12"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["TYPE", "s"]), Frame::simple("string"));
        assert_eq!(run(&mut ks, T, &["TYPE", "i"]), Frame::simple("string"));
        assert_eq!(run(&mut ks, T, &["TYPE", "nokey"]), Frame::simple("none"));
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "s", "5"]), int(1));
        assert_eq!(run(&mut ks, T + 5, &["TYPE", "s"]), Frame::simple("none"));
        assert_eq!(
            run(&mut ks, T, &["TYPE", "a", "b"]),
            err("ERR wrong number of arguments for 'type' command")
        );
    }

    #[test]
    fn rename_moves_value_and_deadline() {
        let mut ks = with_keys(&["a", "b"]);
        assert_eq!(run(&mut ks, T, &["SET", "a", "hello"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "a", "5000"]), int(1));
        assert_eq!(
            run_dirty(&mut ks, T + 1000, &["RENAME", "a", "b"]),
            (Frame::ok(), 1)
        );
        assert_eq!(run(&mut ks, T + 1000, &["GET", "b"]), bulk("hello"));
        assert_eq!(run(&mut ks, T + 1000, &["PTTL", "b"]), int(4000));
        assert_eq!(run(&mut ks, T + 1000, &["EXISTS", "a"]), int(0));
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.volatile_len(), 1);
        // The moved deadline still applies.
        assert_eq!(run(&mut ks, T + 5000, &["GET", "b"]), Frame::Null);
        // A persistent key renamed over a volatile one leaves no deadline behind.
        let mut ks = with_keys(&["p", "v"]);
        assert_eq!(run(&mut ks, T, &["EXPIRE", "v", "50"]), int(1));
        assert_eq!(run(&mut ks, T, &["RENAME", "p", "v"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["TTL", "v"]), int(-1));
        assert_eq!(ks.volatile_len(), 0);
    }

    #[test]
    fn rename_keeps_the_access_time() {
        let mut ks = with_keys(&["a"]);
        assert_eq!(run(&mut ks, T + 7000, &["RENAME", "a", "b"]), Frame::ok());
        assert_eq!(run(&mut ks, T + 7000, &["OBJECT", "IDLETIME", "b"]), int(7));
    }

    #[test]
    fn rename_errors_and_same_key() {
        let mut ks = with_keys(&["a"]);
        assert_eq!(
            run_dirty(&mut ks, T, &["RENAME", "a", "a"]),
            (Frame::ok(), 0)
        );
        assert_eq!(run(&mut ks, T, &["GET", "a"]), bulk("v"));
        assert_eq!(
            run(&mut ks, T, &["RENAME", "x", "y"]),
            err("ERR no such key")
        );
        assert_eq!(
            run(&mut ks, T, &["RENAME", "x", "x"]),
            err("ERR no such key")
        );
        assert_eq!(
            run(&mut ks, T, &["RENAMENX", "x", "y"]),
            err("ERR no such key")
        );
        assert_eq!(
            run(&mut ks, T, &["RENAMENX", "x", "x"]),
            err("ERR no such key")
        );
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "a", "10"]), int(1));
        assert_eq!(
            run(&mut ks, T + 10, &["RENAME", "a", "b"]),
            err("ERR no such key")
        );
        assert_eq!(
            run(&mut ks, T, &["RENAME", "a"]),
            err("ERR wrong number of arguments for 'rename' command")
        );
    }

    #[test]
    fn renamenx_only_to_an_absent_key() {
        let mut ks = with_keys(&["a", "b"]);
        assert_eq!(run_dirty(&mut ks, T, &["RENAMENX", "a", "a"]), (int(0), 0));
        assert_eq!(run_dirty(&mut ks, T, &["RENAMENX", "a", "b"]), (int(0), 0));
        assert_eq!(run_dirty(&mut ks, T, &["RENAMENX", "a", "c"]), (int(1), 1));
        assert_eq!(sorted_keys(run(&mut ks, T, &["KEYS", "*"])), ["b", "c"]);
        // A destination past its deadline counts as absent.
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "b", "10"]), int(1));
        assert_eq!(run(&mut ks, T + 10, &["RENAMENX", "c", "b"]), int(1));
        assert_eq!(run(&mut ks, T + 10, &["TTL", "b"]), int(-1));
        assert_eq!(ks.volatile_len(), 0);
        assert_eq!(ks.stats.expired_keys, 1);
    }

    #[test]
    fn copy_duplicates_value_and_deadline() {
        let mut ks = with_keys(&[]);
        assert_eq!(run(&mut ks, T, &["SET", "src", "hello"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "src", "3000"]), int(1));
        assert_eq!(run_dirty(&mut ks, T, &["COPY", "src", "dst"]), (int(1), 1));
        assert_eq!(run(&mut ks, T, &["GET", "dst"]), bulk("hello"));
        assert_eq!(run(&mut ks, T, &["GET", "src"]), bulk("hello"));
        assert_eq!(run(&mut ks, T, &["PEXPIRETIME", "dst"]), int(T + 3000));
        assert_eq!(ks.volatile_len(), 2);
        // Independent copies: changing one leaves the other.
        assert_eq!(run(&mut ks, T, &["SET", "src", "other"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["GET", "dst"]), bulk("hello"));
        assert_eq!(run(&mut ks, T + 3000, &["EXISTS", "dst"]), int(0));
    }

    #[test]
    fn copy_replace_and_db_options() {
        let mut ks = with_keys(&["a", "b"]);
        assert_eq!(run(&mut ks, T, &["SET", "a", "new"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["EXPIRE", "b", "100"]), int(1));
        assert_eq!(run_dirty(&mut ks, T, &["COPY", "a", "b"]), (int(0), 0));
        assert_eq!(run(&mut ks, T, &["GET", "b"]), bulk("v"));
        assert_eq!(
            run(&mut ks, T, &["COPY", "a", "b", "REPLACE", "replace"]),
            int(1)
        );
        assert_eq!(run(&mut ks, T, &["GET", "b"]), bulk("new"));
        assert_eq!(run(&mut ks, T, &["TTL", "b"]), int(-1));
        assert_eq!(ks.volatile_len(), 0);
        assert_eq!(run(&mut ks, T, &["COPY", "a", "c", "DB", "0"]), int(1));
        assert_eq!(run(&mut ks, T, &["COPY", "nokey", "d"]), int(0));
        assert_eq!(run(&mut ks, T, &["EXISTS", "d"]), int(0));
    }

    #[test]
    fn copy_errors() {
        let mut ks = with_keys(&["a"]);
        let same = err("ERR source and destination objects are the same");
        assert_eq!(run(&mut ks, T, &["COPY", "a", "a"]), same);
        assert_eq!(run(&mut ks, T, &["COPY", "x", "x", "DB", "0"]), same);
        let range = err("ERR DB index is out of range");
        assert_eq!(run(&mut ks, T, &["COPY", "a", "b", "DB", "1"]), range);
        assert_eq!(run(&mut ks, T, &["COPY", "a", "b", "db", "-1"]), range);
        assert_eq!(run(&mut ks, T, &["COPY", "a", "a", "DB", "15"]), range);
        assert_eq!(
            run(&mut ks, T, &["COPY", "a", "b", "DB", "x"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            run(&mut ks, T, &["COPY", "a", "b", "DB", "4294967296"]),
            err("ERR value is out of range, value must between -2147483648 and 2147483647")
        );
        assert_eq!(run(&mut ks, T, &["COPY", "a", "b", "DB"]), errors::SYNTAX);
        assert_eq!(run(&mut ks, T, &["COPY", "a", "b", "foo"]), errors::SYNTAX);
        assert_eq!(
            run(&mut ks, T, &["COPY", "a"]),
            err("ERR wrong number of arguments for 'copy' command")
        );
        assert_eq!(ks.len(), 1);
    }

    #[test]
    fn keys_lists_live_matching_keys() {
        let mut ks = with_keys(&["one", "two", "three"]);
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "three", "1"]), int(1));
        assert_eq!(
            sorted_keys(run(&mut ks, T, &["KEYS", "*"])),
            ["one", "three", "two"]
        );
        assert_eq!(
            sorted_keys(run(&mut ks, T + 1, &["KEYS", "*"])),
            ["one", "two"]
        );
        assert_eq!(sorted_keys(run(&mut ks, T, &["KEYS", "two"])), ["two"]);
        assert_eq!(run(&mut ks, T, &["KEYS", "nomatch"]), Frame::Array(vec![]));
        assert_eq!(
            run(&mut ks, T, &["KEYS"]),
            err("ERR wrong number of arguments for 'keys' command")
        );
    }

    #[test]
    fn scan_iterates_every_live_key_once() {
        let names: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut ks = with_keys(&refs);
        let mut want = names.clone();
        want.sort();
        assert_eq!(scan_all(&mut ks, T, &[]), want);
        assert_eq!(scan_all(&mut ks, T, &["COUNT", "3"]), want);
        assert_eq!(scan_all(&mut ks, T, &["count", "1000", "MATCH", "*"]), want);
        assert_eq!(scan_all(&mut ks, T, &["MATCH", "key:7"]), ["key:7"]);
        // Expired keys are never returned, even before they are deleted.
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "key:7", "10"]), int(1));
        assert_eq!(ks.len(), 200);
        assert_eq!(
            scan_all(&mut ks, T + 10, &["MATCH", "key:7"]),
            Vec::<String>::new()
        );
        assert_eq!(scan_all(&mut ks, T + 10, &[]).len(), 199);
    }

    #[test]
    fn scan_type_filter() {
        let mut ks = with_keys(&["a", "b"]);
        assert_eq!(scan_all(&mut ks, T, &["TYPE", "string"]), ["a", "b"]);
        assert_eq!(
            scan_all(&mut ks, T, &["type", "STRING", "MATCH", "b"]),
            ["b"]
        );
        assert_eq!(
            scan_all(&mut ks, T, &["TYPE", "hash"]),
            Vec::<String>::new()
        );
        assert_eq!(
            scan_all(&mut ks, T, &["TYPE", "none"]),
            Vec::<String>::new()
        );
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "a", "1"]), int(1));
        assert_eq!(
            scan_all(&mut ks, T + 1, &["TYPE", "none"]),
            Vec::<String>::new()
        );
        assert_eq!(scan_all(&mut ks, T + 1, &["TYPE", "string"]), ["b"]);
    }

    #[test]
    fn scan_errors() {
        let mut ks = with_keys(&["a"]);
        let invalid = err("ERR invalid cursor");
        for bad in [
            " 0",
            "\t1",
            "abc",
            "1.5",
            "0x10",
            "18446744073709551616",
            "-",
            "+",
            "1 ",
        ] {
            assert_eq!(run(&mut ks, T, &["SCAN", bad]), invalid, "cursor {bad:?}");
        }
        assert_eq!(
            run(&mut ks, T, &["SCAN", "0", "COUNT", "0"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["SCAN", "0", "COUNT", "-1"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["SCAN", "0", "COUNT", "x"]),
            errors::NOT_INTEGER
        );
        assert_eq!(run(&mut ks, T, &["SCAN", "0", "MATCH"]), errors::SYNTAX);
        assert_eq!(run(&mut ks, T, &["SCAN", "0", "TYPE"]), errors::SYNTAX);
        assert_eq!(
            run(&mut ks, T, &["SCAN", "0", "FOO", "bar"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["SCAN"]),
            err("ERR wrong number of arguments for 'scan' command")
        );
    }

    #[test]
    fn scan_cursor_parses_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"5\0junk"), Some(5));
        assert_eq!(parse_cursor(b"-18446744073709551616"), None);
        assert_eq!(parse_cursor(b"\x0b1"), None);
        // The empty cursor starts an iteration, as in Redis.
        let mut ks = with_keys(&["a"]);
        assert_eq!(
            run(&mut ks, T, &["SCAN", ""]),
            run(&mut ks, T, &["SCAN", "0"])
        );
    }

    #[test]
    fn randomkey_returns_live_keys_only() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T, &["RANDOMKEY"]), Frame::Null);
        assert_eq!(run(&mut ks, T, &["SET", "only", "v"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["RANDOMKEY"]), bulk("only"));
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "only", "1"]), int(1));
        assert_eq!(run(&mut ks, T + 1, &["RANDOMKEY"]), Frame::Null);
        let mut ks = with_keys(&["a", "b", "c"]);
        for _ in 0..10 {
            let Frame::Bulk(k) = run(&mut ks, T, &["RANDOMKEY"]) else {
                panic!("RANDOMKEY gave no key");
            };
            assert!(["a", "b", "c"].contains(&std::str::from_utf8(&k).unwrap()));
        }
        assert_eq!(
            run(&mut ks, T, &["RANDOMKEY", "x"]),
            err("ERR wrong number of arguments for 'randomkey' command")
        );
    }

    #[test]
    fn expire_variants_set_the_same_deadline() {
        let mut ks = with_keys(&["a", "b", "c", "d"]);
        assert_eq!(run_dirty(&mut ks, T, &["EXPIRE", "a", "100"]), (int(1), 1));
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "b", "100000"]), int(1));
        assert_eq!(run(&mut ks, T, &["EXPIREAT", "c", "1700000100"]), int(1));
        assert_eq!(
            run(&mut ks, T, &["PEXPIREAT", "d", "1700000100000"]),
            int(1)
        );
        for k in ["a", "b", "c", "d"] {
            assert_eq!(run(&mut ks, T, &["PEXPIRETIME", k]), int(T + 100_000));
        }
        assert_eq!(ks.volatile_len(), 4);
        assert_eq!(
            run_dirty(&mut ks, T, &["EXPIRE", "nokey", "100"]),
            (int(0), 0)
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "nokey"]), int(0));
    }

    #[test]
    fn expiry_timing_follows_now() {
        let mut ks = with_keys(&["k"]);
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "k", "1500"]), int(1));
        assert_eq!(run(&mut ks, T + 1499, &["GET", "k"]), bulk("v"));
        assert_eq!(run(&mut ks, T + 1499, &["PTTL", "k"]), int(1));
        assert_eq!(run(&mut ks, T + 1500, &["GET", "k"]), Frame::Null);
        assert_eq!(run(&mut ks, T + 1500, &["TTL", "k"]), int(-2));
        assert_eq!(run(&mut ks, T + 1500, &["EXISTS", "k"]), int(0));
        // A read does not delete; the next write does.
        assert_eq!(ks.len(), 1);
        assert_eq!(run(&mut ks, T + 1500, &["PERSIST", "k"]), int(0));
        assert!(ks.is_empty());
        assert_eq!(ks.volatile_len(), 0);
    }

    #[test]
    fn expire_in_the_past_deletes_now() {
        let mut ks = with_keys(&["a", "b", "c", "d"]);
        assert_eq!(run_dirty(&mut ks, T, &["EXPIRE", "a", "-1"]), (int(1), 1));
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "b", "0"]), int(1));
        assert_eq!(run(&mut ks, T, &["EXPIREAT", "c", "1"]), int(1));
        assert_eq!(run(&mut ks, T, &["PEXPIREAT", "d", &T.to_string()]), int(1));
        assert!(ks.is_empty());
        assert_eq!(ks.volatile_len(), 0);
        assert_eq!(ks.stats.expired_keys, 0);
        let mut ks = with_keys(&["m"]);
        assert_eq!(
            run(&mut ks, T, &["PEXPIREAT", "m", "-9223372036854775808"]),
            int(1)
        );
        assert!(ks.is_empty());
    }

    #[test]
    fn expire_conditions() {
        let mut ks = with_keys(&["p", "v"]);
        assert_eq!(run(&mut ks, T, &["EXPIRE", "v", "100"]), int(1));
        // NX: only without a deadline.
        assert_eq!(run(&mut ks, T, &["EXPIRE", "v", "50", "NX"]), int(0));
        assert_eq!(run(&mut ks, T, &["TTL", "v"]), int(100));
        // XX: only with a deadline.
        assert_eq!(run(&mut ks, T, &["EXPIRE", "p", "50", "xx"]), int(0));
        assert_eq!(run(&mut ks, T, &["EXPIRE", "v", "50", "XX"]), int(1));
        assert_eq!(run(&mut ks, T, &["TTL", "v"]), int(50));
        // GT: no deadline counts as infinite, so GT never applies to it.
        assert_eq!(run(&mut ks, T, &["EXPIRE", "p", "50", "GT"]), int(0));
        assert_eq!(run(&mut ks, T, &["EXPIRE", "v", "50", "GT"]), int(0));
        assert_eq!(run(&mut ks, T, &["EXPIRE", "v", "60", "GT"]), int(1));
        // LT: always applies to a key without a deadline.
        assert_eq!(run(&mut ks, T, &["EXPIRE", "v", "60", "LT"]), int(0));
        assert_eq!(run(&mut ks, T, &["EXPIRE", "v", "40", "lt", "XX"]), int(1));
        assert_eq!(run(&mut ks, T, &["TTL", "v"]), int(40));
        assert_eq!(run(&mut ks, T, &["EXPIRE", "p", "70", "LT"]), int(1));
        assert_eq!(run(&mut ks, T, &["TTL", "p"]), int(70));
        assert_eq!(run(&mut ks, T, &["PERSIST", "p"]), int(1));
        assert_eq!(run(&mut ks, T, &["EXPIRE", "p", "70", "NX"]), int(1));
        // A failed condition does not delete, even with a past deadline.
        assert_eq!(run(&mut ks, T, &["EXPIRE", "p", "-1", "GT"]), int(0));
        assert_eq!(run(&mut ks, T, &["EXISTS", "p"]), int(1));
        assert_eq!(run(&mut ks, T, &["EXPIRE", "p", "-1", "LT"]), int(1));
        assert_eq!(run(&mut ks, T, &["EXISTS", "p"]), int(0));
    }

    #[test]
    fn expire_errors() {
        let mut ks = with_keys(&["a"]);
        let nx = err("ERR NX and XX, GT or LT options at the same time are not compatible");
        let gtlt = err("ERR GT and LT options at the same time are not compatible");
        assert_eq!(run(&mut ks, T, &["EXPIRE", "a", "10", "NX", "XX"]), nx);
        assert_eq!(run(&mut ks, T, &["EXPIRE", "a", "10", "NX", "GT"]), nx);
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "a", "10", "lt", "nx"]), nx);
        assert_eq!(run(&mut ks, T, &["EXPIREAT", "a", "10", "GT", "LT"]), gtlt);
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "a", "10", "XX", "GT", "XX"]),
            int(0)
        );
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "a", "10", "foo"]),
            err("ERR Unsupported option foo")
        );
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "a", "10", "bad\r\nx"]),
            err("ERR Unsupported option bad  x")
        );
        // Options are checked before the number, and both before the key.
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "nokey", "x", "foo"]),
            err("ERR Unsupported option foo")
        );
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "nokey", "x"]),
            errors::NOT_INTEGER
        );
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "a", "1.5"]),
            errors::NOT_INTEGER
        );
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "a"]),
            err("ERR wrong number of arguments for 'expire' command")
        );
        assert_eq!(run(&mut ks, T, &["TTL", "a"]), int(-1));
    }

    #[test]
    fn expire_overflow_errors_name_the_command() {
        let mut ks = with_keys(&["a"]);
        let invalid = |c: &str| err(&format!("ERR invalid expire time in '{c}' command"));
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "a", "9223372036854776"]),
            invalid("expire")
        );
        assert_eq!(
            run(&mut ks, T, &["EXPIRE", "a", "-9223372036854776"]),
            invalid("expire")
        );
        // In range once multiplied, but not once `now` is added.
        assert_eq!(
            run(&mut ks, T, &["expire", "a", "9223372036854775"]),
            invalid("expire")
        );
        assert_eq!(
            run(&mut ks, T, &["PEXPIRE", "a", "9223372036854775807"]),
            invalid("pexpire")
        );
        assert_eq!(
            run(&mut ks, T, &["EXPIREAT", "a", "9223372036854776"]),
            invalid("expireat")
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "a"]), int(1));
        // The largest deadlines are accepted.
        assert_eq!(
            run(&mut ks, T, &["EXPIREAT", "a", "9223372036854775"]),
            int(1)
        );
        assert_eq!(
            run(&mut ks, T, &["PEXPIREAT", "a", "9223372036854775807"]),
            int(1)
        );
        assert_eq!(
            run(&mut ks, T, &["PEXPIRETIME", "a"]),
            int(9_223_372_036_854_775_807)
        );
        assert_eq!(
            run(&mut ks, T, &["EXPIRETIME", "a"]),
            int(9_223_372_036_854_776)
        );
        assert_eq!(run(&mut ks, T, &["TTL", "a"]), int(9_223_370_336_854_776));
    }

    #[test]
    fn ttl_family_replies() {
        let mut ks = with_keys(&["p", "v"]);
        for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
            assert_eq!(run(&mut ks, T, &[cmd, "nokey"]), int(-2));
            assert_eq!(run(&mut ks, T, &[cmd, "p"]), int(-1));
            assert_eq!(
                run(&mut ks, T, &[cmd]),
                err(&format!(
                    "ERR wrong number of arguments for '{}' command",
                    cmd.to_lowercase()
                ))
            );
        }
        assert_eq!(
            run(&mut ks, T, &["PEXPIREAT", "v", &(T + 2500).to_string()]),
            int(1)
        );
        assert_eq!(run(&mut ks, T, &["PTTL", "v"]), int(2500));
        // TTL rounds to the nearest second; EXPIRETIME too.
        assert_eq!(run(&mut ks, T, &["TTL", "v"]), int(3));
        assert_eq!(run(&mut ks, T + 1, &["TTL", "v"]), int(2));
        assert_eq!(run(&mut ks, T + 2000, &["TTL", "v"]), int(1));
        assert_eq!(run(&mut ks, T + 2001, &["TTL", "v"]), int(0));
        assert_eq!(run(&mut ks, T, &["PEXPIRETIME", "v"]), int(T + 2500));
        assert_eq!(run(&mut ks, T, &["EXPIRETIME", "v"]), int(1_700_000_003));
        assert_eq!(run(&mut ks, T + 2500, &["PTTL", "v"]), int(-2));
    }

    #[test]
    fn persist_removes_the_deadline() {
        let mut ks = with_keys(&["k"]);
        assert_eq!(run_dirty(&mut ks, T, &["PERSIST", "k"]), (int(0), 0));
        assert_eq!(run_dirty(&mut ks, T, &["PERSIST", "nokey"]), (int(0), 0));
        assert_eq!(run(&mut ks, T, &["EXPIRE", "k", "10"]), int(1));
        assert_eq!(run_dirty(&mut ks, T, &["PERSIST", "k"]), (int(1), 1));
        assert_eq!(run(&mut ks, T, &["TTL", "k"]), int(-1));
        assert_eq!(ks.volatile_len(), 0);
        assert_eq!(run(&mut ks, T + 20_000, &["GET", "k"]), bulk("v"));
        assert_eq!(
            run(&mut ks, T, &["PERSIST"]),
            err("ERR wrong number of arguments for 'persist' command")
        );
    }

    #[test]
    fn object_encoding_and_refcount() {
        let mut ks = Keyspace::new();
        let long = "x".repeat(45);
        for (k, v) in [
            ("zero", "0"),
            ("small", "9999"),
            ("big", "10000"),
            ("neg", "-1"),
            ("emb", "hello"),
            ("raw", long.as_str()),
        ] {
            assert_eq!(run(&mut ks, T, &["SET", k, v]), Frame::ok());
        }
        let enc = |ks: &mut Keyspace, k: &str| run(ks, T, &["OBJECT", "ENCODING", k]);
        assert_eq!(enc(&mut ks, "small"), bulk("int"));
        assert_eq!(enc(&mut ks, "neg"), bulk("int"));
        assert_eq!(enc(&mut ks, "emb"), bulk("embstr"));
        assert_eq!(enc(&mut ks, "raw"), bulk("raw"));
        assert_eq!(enc(&mut ks, "nokey"), Frame::Null);
        let rc = |ks: &mut Keyspace, k: &str| run(ks, T, &["object", "refcount", k]);
        assert_eq!(rc(&mut ks, "zero"), int(2_147_483_647));
        assert_eq!(rc(&mut ks, "small"), int(2_147_483_647));
        assert_eq!(rc(&mut ks, "big"), int(1));
        assert_eq!(rc(&mut ks, "neg"), int(1));
        assert_eq!(rc(&mut ks, "emb"), int(1));
        assert_eq!(rc(&mut ks, "nokey"), Frame::Null);
    }

    #[test]
    fn dump_and_restore_round_trip_with_redis_errors() {
        let mut ks = Keyspace::new();
        let exec = |ks: &mut Keyspace, now: i64, args: Vec<Bytes>| {
            let mut ctx = ExecCtx::for_write(now, 0);
            crate::cmd::execute(ks, &mut ctx, &args)
        };
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        run(&mut ks, T, &["RPUSH", "l", "a", "b", "c"]);
        run(&mut ks, T, &["HSET", "h", "f", "v"]);
        run(&mut ks, T, &["SET", "s", "x", "PX", "5000"]);
        assert_eq!(run(&mut ks, T, &["DUMP", "nokey"]), Frame::Null);
        for key in ["l", "h", "s"] {
            let Frame::Bulk(payload) = exec(&mut ks, T, vec![b("DUMP"), b(key)]) else {
                panic!("DUMP {key}")
            };
            let copy = format!("{key}2");
            assert_eq!(
                exec(
                    &mut ks,
                    T,
                    vec![b("RESTORE"), b(&copy), b("0"), payload.clone()]
                ),
                Frame::ok()
            );
            assert_eq!(
                exec(&mut ks, T, vec![b("DUMP"), b(&copy)]),
                Frame::Bulk(payload.clone())
            );
            // No deadline travels in the payload.
            assert_eq!(run(&mut ks, T, &["PTTL", &copy]), int(-1));
            assert_eq!(
                exec(
                    &mut ks,
                    T,
                    vec![b("RESTORE"), b(&copy), b("0"), payload.clone()]
                ),
                Frame::error("BUSYKEY Target key name already exists.")
            );
            let mut bad = payload.to_vec();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert_eq!(
                exec(
                    &mut ks,
                    T,
                    vec![b("RESTORE"), b("new"), b("0"), Bytes::from(bad)]
                ),
                Frame::error("ERR DUMP payload version or checksum are wrong")
            );
        }
        let Frame::Bulk(payload) = exec(&mut ks, T, vec![b("DUMP"), b("s")]) else {
            panic!()
        };
        let restore = |ks: &mut Keyspace, extra: &[&str]| {
            let mut args = vec![b("RESTORE"), b("s"), b("1000"), payload.clone()];
            args.extend(extra.iter().map(|a| b(a)));
            exec(ks, T, args)
        };
        assert_eq!(restore(&mut ks, &["REPLACE"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["PTTL", "s"]), int(1000));
        assert_eq!(
            restore(&mut ks, &["REPLACE", "ABSTTL"]),
            Frame::ok(),
            "a deadline in the past deletes"
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "s"]), int(0));
        assert_eq!(
            restore(&mut ks, &["IDLETIME", "-1"]),
            Frame::error("ERR Invalid IDLETIME value, must be >= 0")
        );
        assert_eq!(
            restore(&mut ks, &["FREQ", "256"]),
            Frame::error("ERR Invalid FREQ value, must be >= 0 and <= 255")
        );
        assert_eq!(
            restore(&mut ks, &["FREQ", "1", "IDLETIME", "1"]),
            errors::SYNTAX
        );
        assert_eq!(restore(&mut ks, &["BOGUS"]), errors::SYNTAX);
        assert_eq!(restore(&mut ks, &["IDLETIME", "100"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["OBJECT", "IDLETIME", "s"]), int(100));
        let args = vec![b("RESTORE"), b("t"), b("-1"), payload.clone()];
        assert_eq!(
            exec(&mut ks, T, args),
            Frame::error("ERR Invalid TTL value, must be >= 0")
        );
        let args = vec![b("RESTORE"), b("t"), b("0"), b("garbage")];
        assert_eq!(
            exec(&mut ks, T, args),
            Frame::error("ERR DUMP payload version or checksum are wrong")
        );
    }

    #[test]
    fn object_freq_idletime_and_errors() {
        let mut ks = with_keys(&["k"]);
        assert_eq!(run(&mut ks, T, &["OBJECT", "FREQ", "k"]), NO_LFU);
        assert_eq!(run(&mut ks, T, &["OBJECT", "FREQ", "nokey"]), Frame::Null);
        assert_eq!(run(&mut ks, T + 999, &["OBJECT", "IDLETIME", "k"]), int(0));
        assert_eq!(
            run(&mut ks, T + 61_000, &["OBJECT", "IDLETIME", "k"]),
            int(61)
        );
        assert_eq!(
            run(&mut ks, T, &["OBJECT", "IDLETIME", "nokey"]),
            Frame::Null
        );
        assert_eq!(run(&mut ks, T + 61_000, &["GET", "k"]), bulk("v"));
        assert_eq!(
            run(&mut ks, T + 62_000, &["OBJECT", "IDLETIME", "k"]),
            int(1)
        );
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "k", "5"]), int(1));
        assert_eq!(
            run(&mut ks, T + 5, &["OBJECT", "ENCODING", "k"]),
            Frame::Null
        );
        assert_eq!(
            run(&mut ks, T, &["OBJECT", "foo", "k"]),
            err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
        );
        assert_eq!(
            run(&mut ks, T, &["OBJECT", "ENCODING"]),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        assert_eq!(
            run(&mut ks, T, &["OBJECT", "encoding", "a", "b"]),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        assert_eq!(
            run(&mut ks, T, &["OBJECT"]),
            err("ERR wrong number of arguments for 'object' command")
        );
    }

    #[test]
    fn help_replies_match_redis() {
        let Frame::Array(lines) = object_help(&args_of(&["object", "help"])) else {
            panic!("OBJECT HELP is not an array");
        };
        assert_eq!(lines.len(), 15);
        assert_eq!(
            lines[0],
            Frame::simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        );
        assert_eq!(lines[1], Frame::simple("ENCODING <key>"));
        assert_eq!(lines[13], Frame::simple("HELP"));
        assert_eq!(lines[14], Frame::simple("    Prints this help."));
        let Frame::Array(lines) = memory_help(&args_of(&["Memory", "HELP"])) else {
            panic!("MEMORY HELP is not an array");
        };
        assert_eq!(lines.len(), 14);
        assert_eq!(
            lines[0],
            Frame::simple("MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        );
        assert_eq!(lines[9], Frame::simple("USAGE <key> [SAMPLES <count>]"));
        let mut ks = Keyspace::new();
        let oh = args_of(&["OBJECT", "HELP"]);
        assert_eq!(run(&mut ks, T, &["OBJECT", "HELP"]), object_help(&oh));
        let mh = args_of(&["memory", "help"]);
        assert_eq!(run(&mut ks, T, &["memory", "help"]), memory_help(&mh));
    }

    fn usage(ks: &mut Keyspace, args: &[&str]) -> i64 {
        match run(ks, T, args) {
            Frame::Integer(n) => n,
            other => panic!("MEMORY USAGE gave {other:?}"),
        }
    }

    #[test]
    fn memory_usage_estimates_grow_with_the_data() {
        let mut ks = Keyspace::new();
        assert_eq!(run(&mut ks, T, &["SET", "i", "12345"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["SET", "s", "hello"]), Frame::ok());
        let big = "x".repeat(1000);
        assert_eq!(run(&mut ks, T, &["SET", "b", &big]), Frame::ok());
        let int_usage = usage(&mut ks, &["MEMORY", "USAGE", "i"]);
        let small = usage(&mut ks, &["MEMORY", "USAGE", "s"]);
        let large = usage(&mut ks, &["memory", "usage", "b", "SAMPLES", "0"]);
        assert!(int_usage > 0 && int_usage < small, "{int_usage} {small}");
        // The 1000 bytes replace an allocation of 32 (the smallest malloc chunk).
        assert!(large >= small + 1000 - 32, "{small} {large}");
        assert_eq!(
            usage(&mut ks, &["MEMORY", "USAGE", "s", "samples", "5"]),
            small
        );
        assert_eq!(run(&mut ks, T, &["EXPIRE", "s", "100"]), int(1));
        assert!(usage(&mut ks, &["MEMORY", "USAGE", "s"]) > small);
        assert_eq!(run(&mut ks, T, &["MEMORY", "USAGE", "nokey"]), Frame::Null);
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "i", "1"]), int(1));
        assert_eq!(run(&mut ks, T + 1, &["MEMORY", "USAGE", "i"]), Frame::Null);
    }

    /// The estimate follows the table's real layout: a short key lives inside the entry's node, a long one in a
    /// buffer of its own.
    #[test]
    fn memory_usage_counts_inline_keys_once() {
        let mut ks = Keyspace::new();
        let node = crate::dict::Dict::<crate::Object>::entry_allocations(0).0;
        let entry = crate::keyspace::heap_bytes(node) as i64 + 8;
        run(&mut ks, T, &["SET", "s:0000001", "value-0000000001"]);
        // The node, its bucket slot and the 16-byte value's chunk.
        assert_eq!(
            usage(&mut ks, &["MEMORY", "USAGE", "s:0000001"]),
            entry + 32
        );
        let long_key = "k".repeat(40);
        run(&mut ks, T, &["SET", &long_key, "value-0000000001"]);
        assert_eq!(
            usage(&mut ks, &["MEMORY", "USAGE", &long_key]),
            entry + crate::keyspace::heap_bytes(40) as i64 + 32
        );
    }

    #[test]
    fn memory_usage_errors() {
        let mut ks = with_keys(&["k"]);
        let u = |ks: &mut Keyspace, extra: &[&str]| {
            let mut a = vec!["MEMORY", "USAGE", "k"];
            a.extend_from_slice(extra);
            run(ks, T, &a)
        };
        assert_eq!(u(&mut ks, &["SAMPLES"]), errors::SYNTAX);
        assert_eq!(u(&mut ks, &["SAMPLES", "-1"]), errors::SYNTAX);
        assert_eq!(u(&mut ks, &["SAMPLES", "x"]), errors::NOT_INTEGER);
        assert_eq!(u(&mut ks, &["FOO", "1"]), errors::SYNTAX);
        assert_eq!(
            run(&mut ks, T, &["MEMORY", "USAGE", "nokey", "SAMPLES", "x"]),
            errors::NOT_INTEGER
        );
        assert_eq!(
            run(&mut ks, T, &["MEMORY", "USAGE"]),
            err("ERR wrong number of arguments for 'memory|usage' command")
        );
        assert_eq!(
            run(&mut ks, T, &["MEMORY", "foo"]),
            err("ERR unknown subcommand 'foo'. Try MEMORY HELP.")
        );
    }

    #[test]
    fn dbsize_counts_keys_not_yet_deleted() {
        let mut ks = with_keys(&["a", "b"]);
        assert_eq!(run(&mut ks, T, &["DBSIZE"]), int(2));
        assert_eq!(run(&mut ks, T, &["PEXPIRE", "a", "1"]), int(1));
        // Like Redis, an expired key counts until something deletes it.
        assert_eq!(run(&mut ks, T + 1, &["DBSIZE"]), int(2));
        assert_eq!(run(&mut ks, T + 1, &["DEL", "a"]), int(0));
        assert_eq!(run(&mut ks, T + 1, &["DBSIZE"]), int(1));
        assert_eq!(
            run(&mut ks, T, &["DBSIZE", "x"]),
            err("ERR wrong number of arguments for 'dbsize' command")
        );
    }

    #[test]
    fn flushall_and_flushdb_empty_the_keyspace() {
        let mut ks = with_keys(&["a", "b", "c"]);
        assert_eq!(run(&mut ks, T, &["EXPIRE", "a", "10"]), int(1));
        assert_eq!(run_dirty(&mut ks, T, &["FLUSHALL"]), (Frame::ok(), 3));
        assert!(ks.is_empty());
        assert_eq!(ks.volatile_len(), 0);
        assert_eq!(run_dirty(&mut ks, T, &["FLUSHALL"]), (Frame::ok(), 0));
        let mut ks = with_keys(&["a", "b"]);
        assert_eq!(
            run_dirty(&mut ks, T, &["FLUSHALL", "ASYNC"]),
            (Frame::ok(), 2)
        );
        assert!(ks.is_empty());
        let mut ks = with_keys(&["a"]);
        assert_eq!(run(&mut ks, T, &["flushall", "sync"]), Frame::ok());
        assert!(ks.is_empty());
        for cmd in ["FLUSHDB", "flushdb"] {
            let mut ks = with_keys(&["a", "b"]);
            assert_eq!(run_dirty(&mut ks, T, &[cmd]), (Frame::ok(), 2));
            assert!(ks.is_empty());
            let mut ks = with_keys(&["a"]);
            assert_eq!(run(&mut ks, T, &[cmd, "Async"]), Frame::ok());
            assert!(ks.is_empty());
        }
        let mut ks = with_keys(&["a"]);
        assert_eq!(run(&mut ks, T, &["FLUSHALL", "foo"]), errors::SYNTAX);
        assert_eq!(
            run(&mut ks, T, &["FLUSHALL", "SYNC", "ASYNC"]),
            errors::SYNTAX
        );
        assert_eq!(run(&mut ks, T, &["FLUSHDB", "a", "b"]), errors::SYNTAX);
        assert_eq!(run(&mut ks, T, &["DBSIZE"]), int(1));
    }

    #[test]
    fn table_rows_follow_redis() {
        let spec = |name: &str| crate::table::lookup(name.as_bytes()).unwrap();
        for name in [
            "del",
            "unlink",
            "rename",
            "renamenx",
            "copy",
            "expire",
            "pexpire",
            "expireat",
            "pexpireat",
            "persist",
            "flushdb",
            "flushall",
        ] {
            assert!(spec(name).is_write(), "{name}");
        }
        for name in [
            "exists",
            "type",
            "touch",
            "keys",
            "scan",
            "randomkey",
            "ttl",
            "pttl",
            "expiretime",
            "pexpiretime",
            "dbsize",
        ] {
            assert!(spec(name).flags & flags::READONLY != 0, "{name}");
            assert!(!spec(name).is_write(), "{name}");
        }
        let rename = spec("RENAME");
        assert_eq!(
            rename
                .key_positions(&args_of(&["rename", "a", "b"]))
                .unwrap(),
            [1, 2]
        );
        assert_eq!(
            spec("del")
                .key_positions(&args_of(&["del", "a", "b", "c"]))
                .unwrap(),
            [1, 2, 3]
        );
        let enc = spec("object").subcommand(b"ENCODING").unwrap();
        assert_eq!(
            enc.key_positions(&args_of(&["object", "encoding", "k"]))
                .unwrap(),
            [2]
        );
        assert_eq!(
            spec("keys").acl_categories() & acl::DANGEROUS,
            acl::DANGEROUS
        );
        assert_eq!(spec("unlink").acl_categories() & acl::FAST, acl::FAST);
        assert_eq!(spec("del").acl_categories() & acl::SLOW, acl::SLOW);
        assert_eq!(spec("memory").doc.group, "server");
    }
}
