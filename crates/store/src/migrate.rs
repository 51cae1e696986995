//! The keyspace side of moving hash slots between shards ([`crate::exec::Op::Migration`]).
//!
//! A shard moving slots out keeps, as replicated state:
//! - the slots it is moving out (or has moved out): no command may *create* a key of one of them here any more,
//!   since its clients are sent to the destination for missing keys ([`MOVED_OUT`]);
//! - at most one *frozen* batch of keys: copied to the destination, not yet deleted here. No write may change a
//!   frozen key ([`FROZEN`]); reads still see it (it holds the one current value until it is deleted here).
//! - the number of the last batch it froze, so that each batch has a number the destination can deduplicate by.
//!
//! A shard receiving slots remembers, per source shard, the last batch it imported: a batch sent twice (the
//! source's leader failed over between the import and the release) or delivered late is applied once.
//!
//! Every operation here is deterministic: the leader picks the keys of a batch and they travel in the entry.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use bytes::Bytes;
use resp::Frame;

use crate::exec::ExecCtx;
use crate::keyspace::Keyspace;

/// Number of hash slots (Redis Cluster's).
pub const SLOTS: u16 = 16384;

/// Reply of a write that would change a frozen key: the server waits for the batch to leave and routes the
/// command again; a client only sees it if the batch takes too long.
pub const FROZEN: &str = "TRYAGAIN Key is being moved to another shard, retry shortly";
/// Reply of a write that would create a key in a slot moving out: the server routes it again (to `-ASK`).
pub const MOVED_OUT: &str = "TRYAGAIN Slot is being moved to another shard, retry shortly";
/// Reply of a transaction touching a moving slot.
pub const TX_MIGRATING: &str = "TRYAGAIN Multiple keys request during rehashing of slot";

/// The hash slot of `key`: CRC16 (XMODEM) of its hash tag modulo 16384, as Redis Cluster (and the `cluster`
/// crate, which this must agree with) computes it.
pub fn key_slot(key: &[u8]) -> u16 {
    let mut tagged = key;
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                tagged = &key[open + 1..open + 1 + len];
            }
        }
    }
    let mut crc: u16 = 0;
    for &b in tagged {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc & (SLOTS - 1)
}

/// Replicated migration state of one keyspace (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationState {
    /// Slots moving (or moved) out of this shard.
    pub out_slots: BTreeSet<u16>,
    /// Number of the frozen batch, 0 when none is.
    pub batch: u64,
    /// The frozen keys.
    pub frozen: BTreeSet<Bytes>,
    /// Number of the last batch frozen here.
    pub last_batch: u64,
    /// Per source shard, the last batch imported here.
    pub imported: BTreeMap<u64, u64>,
}

impl MigrationState {
    /// Whether writes must be checked at all (the common case: nothing moves).
    #[inline]
    pub fn active(&self) -> bool {
        !self.out_slots.is_empty() || !self.frozen.is_empty()
    }

    /// Whether nothing is recorded (a snapshot writes this state only then as empty).
    pub fn is_empty(&self) -> bool {
        *self == MigrationState::default()
    }

    /// Whether `key` is in a frozen batch.
    pub fn is_frozen(&self, key: &[u8]) -> bool {
        !self.frozen.is_empty() && self.frozen.contains(key)
    }

    /// Whether `slot` is moving out of this shard: missing keys of it are looked for at the destination.
    pub fn moving_out(&self, slot: u16) -> bool {
        self.out_slots.contains(&slot)
    }
}

/// What a write to `keys` must answer instead of running, if anything: [`FROZEN`] if one is frozen,
/// [`MOVED_OUT`] if one is missing from a slot moving out.
pub fn check_keys<'a>(
    ks: &Keyspace,
    mut keys: impl Iterator<Item = &'a [u8]>,
) -> Option<&'static str> {
    let m = &ks.migration;
    keys.find_map(|k| {
        if m.is_frozen(k) {
            Some(FROZEN)
        } else if !m.out_slots.is_empty() && m.moving_out(key_slot(k)) && ks.get_raw(k).is_none() {
            Some(MOVED_OUT)
        } else {
            None
        }
    })
}

/// [`check_keys`] for one command's arguments (its keys from the command table).
pub fn check_command(ks: &Keyspace, args: &[Bytes]) -> Option<&'static str> {
    if !ks.migration.active() {
        return None;
    }
    let spec = crate::cmd::resolve(args).ok()?;
    let positions = spec.key_positions(args).ok()?;
    check_keys(ks, positions.iter().map(|&i| args[i].as_ref()))
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn parse_slots(b: &[u8]) -> Option<Vec<u16>> {
    if b.is_empty() {
        return Some(Vec::new());
    }
    std::str::from_utf8(b)
        .ok()?
        .split(',')
        .map(|s| s.parse::<u16>().ok().filter(|&n| n < SLOTS))
        .collect()
}

/// The argument form of a slot list (`1,2,3`).
pub fn slots_arg(slots: &[u16]) -> Bytes {
    let s: Vec<String> = slots.iter().map(u16::to_string).collect();
    Bytes::from(s.join(","))
}

/// `FREEZE slots key...`: marks `slots` as moving out, and freezes those of `keys` that exist here in one of
/// them, as a new batch. If a batch is frozen already nothing is frozen and that batch is returned instead (a
/// leader that took over resumes it). Reply: `[batch, payload]`, batch 0 when nothing is frozen.
fn freeze(ks: &mut Keyspace, args: &[Bytes]) -> Frame {
    let Some(slots) = args.get(1).and_then(|a| parse_slots(a)) else {
        return Frame::error("ERR malformed migration operation");
    };
    ks.migration.out_slots.extend(slots.iter().copied());
    if ks.migration.batch == 0 {
        let mut frozen = BTreeSet::new();
        for k in &args[2..] {
            if slots.contains(&key_slot(k)) && ks.get_raw(k).is_some() {
                frozen.insert(k.clone());
            }
        }
        if !frozen.is_empty() {
            ks.migration.last_batch += 1;
            ks.migration.batch = ks.migration.last_batch;
            ks.migration.frozen = frozen;
        }
    }
    let m = &ks.migration;
    if m.batch == 0 {
        return Frame::Array(vec![Frame::Integer(0), Frame::bulk("")]);
    }
    let keys: Vec<&[u8]> = m.frozen.iter().map(|k| k.as_ref()).collect();
    let payload = crate::snapshot::encode_records(ks, &keys);
    Frame::Array(vec![
        Frame::Integer(m.batch as i64),
        Frame::Bulk(Bytes::from(payload)),
    ])
}

/// `IMPORT source batch slots payload`: stores the batch's keys (replacing any), unless batch `batch` of
/// `source` or a later one was imported already; `slots` stop moving out of this shard (they are coming in).
/// Batch 0 carries no keys: it only does the latter. Reply: keys stored.
fn import(ks: &mut Keyspace, ctx: &ExecCtx, args: &[Bytes]) -> Frame {
    let (Some(source), Some(batch), Some(slots), Some(payload)) = (
        args.get(1).and_then(|a| parse_u64(a)),
        args.get(2).and_then(|a| parse_u64(a)),
        args.get(3).and_then(|a| parse_slots(a)),
        args.get(4),
    ) else {
        return Frame::error("ERR malformed migration operation");
    };
    for s in &slots {
        ks.migration.out_slots.remove(s);
    }
    if batch == 0 {
        return Frame::Integer(0);
    }
    if ks
        .migration
        .imported
        .get(&source)
        .is_some_and(|&b| b >= batch)
    {
        return Frame::Integer(0);
    }
    let records = match crate::snapshot::decode_records(payload) {
        Ok(r) => r,
        Err(e) => return Frame::error_owned(format!("ERR {e}")),
    };
    ks.migration.imported.insert(source, batch);
    let n = records.len();
    for (key, value, expire_at) in records {
        ks.set(ctx, &key, value, expire_at);
        // An imported key counts as written (WATCH).
        ks.touch(&key);
    }
    Frame::Integer(n as i64)
}

/// `RELEASE batch`: the destination has batch `batch`: its keys are deleted here and nothing is frozen any
/// more. Reply: keys deleted (0 if that batch is not the frozen one: released already).
fn release(ks: &mut Keyspace, args: &[Bytes]) -> Frame {
    let Some(batch) = args.get(1).and_then(|a| parse_u64(a)) else {
        return Frame::error("ERR malformed migration operation");
    };
    if batch == 0 || ks.migration.batch != batch {
        return Frame::Integer(0);
    }
    let frozen = std::mem::take(&mut ks.migration.frozen);
    ks.migration.batch = 0;
    let mut n = 0;
    for k in &frozen {
        if ks.remove(k).is_some() {
            n += 1;
        }
    }
    Frame::Integer(n)
}

/// Applies one [`crate::exec::Op::Migration`].
pub fn apply(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let name = args.first().map(|a| a.to_ascii_uppercase());
    let reply = match name.as_deref() {
        Some(b"FREEZE") => freeze(ks, args),
        Some(b"IMPORT") => import(ks, ctx, args),
        Some(b"RELEASE") => release(ks, args),
        _ => return Frame::error("ERR unknown migration operation"),
    };
    if matches!(reply, Frame::Integer(n) if n > 0) {
        ctx.dirty += 1;
    }
    reply
}

/// The arguments of a `FREEZE` operation.
pub fn freeze_op(slots: &[u16], keys: Vec<Bytes>) -> Vec<Bytes> {
    let mut args = vec![Bytes::from_static(b"FREEZE"), slots_arg(slots)];
    args.extend(keys);
    args
}

/// The arguments of an `IMPORT` operation.
pub fn import_op(source: u64, batch: u64, slots: &[u16], payload: Bytes) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"IMPORT"),
        Bytes::from(source.to_string()),
        Bytes::from(batch.to_string()),
        slots_arg(slots),
        payload,
    ]
}

/// The arguments of a `RELEASE` operation.
pub fn release_op(batch: u64) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"RELEASE"),
        Bytes::from(batch.to_string()),
    ]
}

/// Keys of `slots` held here, at most `max` (a walk of every key: there is no per-slot index).
pub fn keys_in_slots(ks: &Keyspace, slots: &HashSet<u16>, max: usize) -> Vec<Bytes> {
    ks.iter()
        .filter(|(k, _)| slots.contains(&key_slot(k)))
        .take(max)
        .map(|(k, _)| Bytes::copy_from_slice(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn slots_match_redis() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn a_batch_moves_once_and_frozen_keys_refuse_writes() {
        let ctx = ExecCtx::for_write(1000, 0);
        let mut src = Keyspace::new();
        let mut dst = Keyspace::new();
        src.set(&ctx, b"bar", Value::Str(b"1".to_vec()), 5000);
        src.set(&ctx, b"{bar}x", Value::Int(7), crate::keyspace::NO_EXPIRE);
        src.set(&ctx, b"foo", Value::Int(1), crate::keyspace::NO_EXPIRE);
        let slot = key_slot(b"bar");
        assert_eq!(check_command(&src, &[b("SET"), b("new"), b("1")]), None);
        let mut c = ExecCtx::for_write(1000, 0);
        let r = apply(
            &mut src,
            &mut c,
            &freeze_op(
                &[slot],
                vec![b("bar"), b("{bar}x"), b("foo"), b("{bar}gone")],
            ),
        );
        let Frame::Array(items) = r else { panic!() };
        assert_eq!(items[0], Frame::Integer(1));
        let Frame::Bulk(payload) = items[1].clone() else {
            panic!()
        };
        // "foo" is in another slot: not frozen.
        assert_eq!(src.migration.frozen.len(), 2);
        assert_eq!(check_command(&src, &[b("INCR"), b("{bar}x")]), Some(FROZEN));
        assert_eq!(
            check_command(&src, &[b("SET"), b("{bar}new"), b("1")]),
            Some(MOVED_OUT)
        );
        assert_eq!(check_command(&src, &[b("SET"), b("foo"), b("1")]), None);
        // Freezing again resumes the same batch.
        let again = apply(&mut src, &mut c, &freeze_op(&[slot], vec![b("foo")]));
        assert_eq!(
            again,
            Frame::Array(vec![Frame::Integer(1), Frame::Bulk(payload.clone())])
        );
        // Imported once: a repeat is ignored.
        let imp = import_op(1, 1, &[slot], payload.clone());
        assert_eq!(apply(&mut dst, &mut c, &imp), Frame::Integer(2));
        dst.set(
            &ctx,
            b"bar",
            Value::Str(b"client".to_vec()),
            crate::keyspace::NO_EXPIRE,
        );
        assert_eq!(apply(&mut dst, &mut c, &imp), Frame::Integer(0));
        assert!(matches!(&dst.get_raw(b"bar").unwrap().value, Value::Str(s) if s == b"client"));
        assert_eq!(
            dst.get_raw(b"{bar}x").unwrap().expire_at,
            crate::keyspace::NO_EXPIRE
        );
        assert_eq!(apply(&mut src, &mut c, &release_op(1)), Frame::Integer(2));
        assert_eq!(apply(&mut src, &mut c, &release_op(1)), Frame::Integer(0));
        assert!(src.get_raw(b"bar").is_none());
        assert!(!src.migration.active() || src.migration.frozen.is_empty());
        // Nothing left: an empty freeze.
        let r = apply(&mut src, &mut c, &freeze_op(&[slot], vec![]));
        assert_eq!(r, Frame::Array(vec![Frame::Integer(0), Frame::bulk("")]));
        // The slot coming back clears the mark.
        assert_eq!(
            apply(&mut src, &mut c, &import_op(2, 0, &[slot], Bytes::new())),
            Frame::Integer(0)
        );
        assert!(!src.migration.moving_out(slot));
        assert!(apply(&mut src, &mut c, &[b("BOGUS")]).is_error());
        assert!(apply(&mut src, &mut c, &[b("FREEZE"), b("99999")]).is_error());
        assert!(apply(&mut dst, &mut c, &import_op(1, 5, &[slot], b("junk"))).is_error());
    }
}
