//! TIME, SLOWLOG GET|LEN|RESET|HELP, SHUTDOWN.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use resp::Frame;
use store::cmd::is;
use tracing::info;

use super::{help_reply, subcommand_syntax_error};
use crate::conn::Conn;

/// `TIME`: seconds and microseconds as bulk strings.
pub fn time(_conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Frame::Array(vec![
        Frame::bulk(d.as_secs().to_string()),
        Frame::bulk(d.subsec_micros().to_string()),
    ])
}

/// `SLOWLOG GET [count]`: newest first, 10 by default, -1 for all.
pub fn slowlog_get(conn: &mut Conn, args: &[Bytes]) -> Frame {
    if args.len() > 3 {
        return subcommand_syntax_error(args);
    }
    let count = match args.get(2) {
        None => Some(10),
        Some(a) => match store::num::parse_i64(a) {
            Some(-1) => None,
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Frame::error("ERR count should be greater than or equal to -1"),
        },
    };
    let log = conn.node.slowlog.lock();
    Frame::Array(
        log.newest(count)
            .map(|e| {
                Frame::Array(vec![
                    Frame::Integer(e.id as i64),
                    Frame::Integer(e.time),
                    Frame::Integer(e.duration_us as i64),
                    Frame::Array(e.args.iter().cloned().map(Frame::Bulk).collect()),
                    Frame::bulk(&e.client_addr),
                    Frame::bulk(&e.client_name),
                ])
            })
            .collect(),
    )
}

/// `SLOWLOG LEN`.
pub fn slowlog_len(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    Frame::Integer(conn.node.slowlog.lock().len() as i64)
}

/// `SLOWLOG RESET`.
pub fn slowlog_reset(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    conn.node.slowlog.lock().reset();
    Frame::ok()
}

/// `SLOWLOG HELP`.
pub fn slowlog_help(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    help_reply(
        &args[0],
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: stops the node; the caller's connection closes without a
/// reply and the process exits with status 0 after flushing the log (which holds every acknowledged write).
pub fn shutdown(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let (mut nosave, mut save, mut force, mut abort, mut flagged) =
        (false, false, false, false, false);
    for a in &args[1..] {
        if is(a, "nosave") {
            nosave = true;
        } else if is(a, "save") {
            save = true;
        } else if is(a, "now") {
        } else if is(a, "force") {
            force = true;
        } else if is(a, "abort") {
            abort = true;
            continue;
        } else {
            return store::errors::SYNTAX;
        }
        flagged = true;
    }
    if (abort && flagged) || (nosave && save) {
        return store::errors::SYNTAX;
    }
    if abort {
        // Shutdown is immediate, so there is never one in progress to abort.
        return Frame::error("ERR No shutdown in progress.");
    }
    // Every write is already in the log, which the shutdown flushes: SAVE and NOSAVE both lose nothing.
    let _ = (save, force);
    info!(client = %conn.handle.addr, "user requested shutdown");
    conn.closing = true;
    conn.node.shutdown();
    Frame::ok()
}
