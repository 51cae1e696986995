//! DEBUG: the subcommands that compare replicas (DIGEST, DIGEST-VALUE). Redis' other DEBUG subcommands poke at
//! its internals (RELOAD, SLEEP, OBJECT, ...) and are absent.

use std::hash::Hasher;

use bytes::Bytes;
use resp::Frame;

use crate::cmd::is;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, Object};
use crate::table::{flags, AllShards, CommandSpec, Handler};

#[rustfmt::skip]
/// The DEBUG row.
pub const COMMANDS: &[CommandSpec] = &[
CommandSpec::new("debug", -2, flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE, 0, Handler::Keyspace(debug))
    .all_shards(AllShards::WithArgument("digest"))
    .doc("server", "1.0.0", "Depends on subcommand.", "A container for debugging commands"),
];

/// 160 bits, shown as 40 hex characters like Redis' digest.
#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
struct Digest([u64; 3]);

impl Digest {
    /// Mixes one key in, independently of the order keys are visited (replicas may lay their tables out
    /// differently after a snapshot install).
    fn add(&mut self, key: &[u8], obj: &Object) {
        let rec = crate::snapshot::record_bytes(key, obj);
        for (i, slot) in self.0.iter_mut().enumerate() {
            // SipHash with fixed keys: the same on every replica running this binary.
            #[allow(deprecated)]
            let mut h =
                std::hash::SipHasher::new_with_keys(0x5348_4f41_4c00 + i as u64, 0x4449_4745_5354);
            h.write(&rec);
            let v = h.finish();
            *slot = if i == 1 {
                slot.wrapping_add(v)
            } else {
                *slot ^ v
            };
        }
    }

    fn hex(&self) -> String {
        if self.0 == [0; 3] {
            return "0".repeat(40);
        }
        let mut s = format!("{:016x}{:016x}{:016x}", self.0[0], self.0[1], self.0[2]);
        s.truncate(40);
        s
    }
}

/// `DEBUG DIGEST` | `DEBUG DIGEST-VALUE key ...` | `DEBUG HELP`.
fn debug(ks: &mut Keyspace, _ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let sub = &args[1];
    if is(sub, "digest") && args.len() == 2 {
        // Every key in the table, expired ones not yet deleted included: the state replicas must agree on.
        let mut d = Digest::default();
        for (k, o) in ks.iter() {
            d.add(k, o);
        }
        Frame::bulk(d.hex())
    } else if is(sub, "digest-value") {
        let out = args[2..]
            .iter()
            .map(|k| {
                let mut d = Digest::default();
                if let Some(o) = ks.get_raw(k) {
                    d.add(k, o);
                }
                Frame::bulk(d.hex())
            })
            .collect();
        Frame::Array(out)
    } else if is(sub, "help") && args.len() == 2 {
        Frame::Array(
            [
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "HELP",
                "    Prints this help.",
            ]
            .into_iter()
            .map(Frame::simple)
            .collect(),
        )
    } else {
        Frame::error_owned(format!(
            "ERR unknown subcommand '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(sub)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::NO_EXPIRE;
    use crate::Value;

    #[test]
    fn digest_ignores_insertion_order_and_sees_every_change() {
        let ctx = ExecCtx::for_write(1_000, 1);
        let mut a = Keyspace::new();
        let mut b = Keyspace::new();
        for i in 0..100 {
            a.set(&ctx, format!("k{i}").as_bytes(), Value::Int(i), NO_EXPIRE);
        }
        for i in (0..100).rev() {
            b.set(&ctx, format!("k{i}").as_bytes(), Value::Int(i), NO_EXPIRE);
        }
        let digest = |ks: &mut Keyspace| {
            let mut c = ExecCtx::for_read(1_000, 1);
            debug(ks, &mut c, &[Bytes::from("debug"), Bytes::from("digest")])
        };
        assert_eq!(digest(&mut a), digest(&mut b));
        b.set_expire(&ctx, b"k1", 5_000);
        assert_ne!(digest(&mut a), digest(&mut b));
        assert_eq!(digest(&mut Keyspace::new()), Frame::bulk("0".repeat(40)));
    }
}
