//! CONFIG GET|SET|RESETSTAT|HELP.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use resp::Frame;

use super::{bulk_string, help_reply, text};
use crate::config::{param, Param, PARAMS};
use crate::conn::Conn;

/// `CONFIG GET pattern [pattern ...]`: a map of names to values. An exact name is echoed as given (as Redis
/// does); a glob matches every parameter name and alias without regard to case.
pub fn get(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let mut found: Vec<(String, &'static Param)> = Vec::new();
    // By name: `PARAMS` is a constant, so two uses of it need not share an address.
    let seen = |found: &Vec<(String, &'static Param)>, p: &Param| {
        found.iter().any(|(_, q)| q.name == p.name)
    };
    for pat in &args[2..] {
        if !pat.iter().any(|b| b"[*?".contains(b)) {
            if let Some(p) = param(&text(pat)) {
                if !seen(&found, p) {
                    found.push((text(pat), p));
                }
            }
            continue;
        }
        for p in PARAMS {
            for name in std::iter::once(p.name).chain(p.alias) {
                if !seen(&found, p) && store::glob::matches(pat, name.as_bytes(), true) {
                    found.push((name.to_string(), p));
                }
            }
        }
    }
    let cfg = conn.node.config.read();
    Frame::Map(
        found
            .into_iter()
            .map(|(name, p)| (bulk_string(name), Frame::bulk(cfg.get(p.name))))
            .collect(),
    )
}

/// `CONFIG SET name value [name value ...]`: all or nothing, with Redis 7.0's errors.
pub fn set(conn: &mut Conn, args: &[Bytes]) -> Frame {
    if args.len() % 2 == 1 {
        return store::errors::SYNTAX;
    }
    let pairs = &args[2..];
    let mut chosen: Vec<&'static Param> = Vec::with_capacity(pairs.len() / 2);
    // The first bad name decides the error, whatever comes after it.
    for pair in pairs.chunks_exact(2) {
        let name = text(&pair[0]);
        let Some(p) = param(&name) else {
            return Frame::error_owned(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                store::errors::sanitize(&pair[0], 128)
            ));
        };
        let reason = if !p.mutable {
            Some("can't set immutable config")
        } else if chosen.iter().any(|q| q.name == p.name) {
            Some("duplicate parameter")
        } else {
            None
        };
        if let Some(reason) = reason {
            return failed(&name, reason);
        }
        chosen.push(p);
    }
    let mut values = Vec::with_capacity(chosen.len());
    {
        let cfg = conn.node.config.read();
        for (p, pair) in chosen.iter().zip(pairs.chunks_exact(2)) {
            match cfg.normalize(p, &text(&pair[1])) {
                Ok(v) => values.push(v),
                Err(reason) => return failed(p.name, &reason),
            }
        }
    }
    {
        let mut cfg = conn.node.config.write();
        for (p, v) in chosen.iter().zip(values) {
            cfg.set_normalized(p.name, v);
        }
    }
    let node = &conn.node;
    node.refresh_hot_config();
    crate::logging::set_level(node.config.read().get("loglevel"));
    if chosen.iter().any(|p| p.name == "slowlog-max-len") {
        let max = node.hot.slowlog_max_len.load(Ordering::Relaxed) as usize;
        node.slowlog.lock().truncate(max);
    }
    Frame::ok()
}

fn failed(name: &str, reason: &str) -> Frame {
    Frame::error_owned(format!(
        "ERR CONFIG SET failed (possibly related to argument '{}') - {reason}",
        store::errors::sanitize(name.as_bytes(), 128)
    ))
}

/// `CONFIG RESETSTAT`: zeroes the counters `INFO` shows, as Redis' `resetServerStats` (not the slow log, not
/// the changes since the last save).
pub fn resetstat(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let node = &conn.node;
    let s = &node.stats;
    for counter in [
        &s.total_connections_received,
        &s.rejected_connections,
        &s.total_commands_processed,
        &s.total_net_input_bytes,
        &s.total_net_output_bytes,
        &s.total_error_replies,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    node.command_stats.lock().clear();
    node.error_stats.lock().clear();
    node.metrics.reset_rates();
    for shard in node.all_shards() {
        shard.lock().keyspace_mut().stats = Default::default();
    }
    Frame::ok()
}

/// `CONFIG HELP`.
pub fn help(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    help_reply(
        &args[0],
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
        ],
    )
}
