//! PING, QUIT, SELECT, HELLO, AUTH and RESET.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use resp::{Frame, Protocol};
use store::cmd::is;

use super::text;
use crate::conn::Conn;

/// The only user: Shoal has `requirepass` but no ACL users yet, like Redis' `default` user.
pub const DEFAULT_USER: &str = "default";

/// The version `HELLO` and `INFO` report: clients switch features on it, so Shoal names the Redis release whose
/// behaviour it follows (its own version is `INFO`'s `shoal_version`).
pub const REDIS_VERSION: &str = "7.0.15";

/// `PING [message]`.
pub fn ping(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    match args.len() {
        1 => Frame::simple("PONG"),
        2 => Frame::Bulk(args[1].clone()),
        _ => store::errors::wrong_arity("ping"),
    }
}

/// `QUIT`: replies OK, then the connection closes.
pub fn quit(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    conn.closing = true;
    Frame::ok()
}

/// `SELECT index`: only database 0 exists, as in cluster mode.
pub fn select(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    match store::num::parse_i64(&args[1]) {
        None => store::errors::NOT_INTEGER,
        Some(0) => Frame::ok(),
        Some(_) => Frame::error("ERR DB index is out of range"),
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a password was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Redis' `ACLAuthenticateUser` for the `default` user: without `requirepass` any password is accepted.
fn authenticate(conn: &mut Conn, user: &[u8], pass: &[u8]) -> bool {
    if user != DEFAULT_USER.as_bytes() {
        return false;
    }
    let ok = {
        let cfg = conn.node.config.read();
        let required = cfg.get("requirepass");
        required.is_empty() || same_secret(required.as_bytes(), pass)
    };
    if ok {
        conn.authenticated = true;
        let mut info = conn.handle.info.lock();
        info.user.clear();
        info.user.push_str(DEFAULT_USER);
    }
    ok
}

const WRONGPASS: Frame =
    Frame::error("WRONGPASS invalid username-password pair or user is disabled.");

/// `AUTH [username] password`.
pub fn auth(conn: &mut Conn, args: &[Bytes]) -> Frame {
    if args.len() > 3 {
        return store::errors::SYNTAX;
    }
    let (user, pass) = if args.len() == 2 {
        if conn.node.config.read().get("requirepass").is_empty() {
            return Frame::error(
                "ERR AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            );
        }
        (DEFAULT_USER.as_bytes(), &args[1][..])
    } else {
        (&args[1][..], &args[2][..])
    };
    if authenticate(conn, user, pass) {
        Frame::ok()
    } else {
        WRONGPASS
    }
}

/// Redis' `clientSetNameOrReply`: an empty name removes it; printable ASCII without spaces only.
pub fn set_client_name(conn: &mut Conn, name: &[u8]) -> Result<(), Frame> {
    if !name.iter().all(|b| (b'!'..=b'~').contains(b)) {
        return Err(Frame::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    let mut info = conn.handle.info.lock();
    info.name.clear();
    // Checked above: every byte is printable ASCII.
    info.name.push_str(&text(name));
    Ok(())
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
pub fn hello(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let mut version = None;
    if args.len() >= 2 {
        match store::num::parse_i64(&args[1]) {
            None => return Frame::error("ERR Protocol version is not an integer or out of range"),
            Some(v @ 2..=3) => version = Some(v),
            Some(_) => return Frame::error("NOPROTO unsupported protocol version"),
        }
    }
    let mut j = 2;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if is(opt, "auth") && more >= 2 {
            if !authenticate(conn, &args[j + 1], &args[j + 2]) {
                return WRONGPASS;
            }
            j += 3;
        } else if is(opt, "setname") && more >= 1 {
            if let Err(e) = set_client_name(conn, &args[j + 1]) {
                return e;
            }
            j += 2;
        } else {
            return Frame::error_owned(format!(
                "ERR Syntax error in HELLO option '{}'",
                store::errors::sanitize(opt, 128)
            ));
        }
    }
    if !conn.authenticated {
        return Frame::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH \
             <user> <pass> option can be used to authenticate the client and select the RESP protocol version \
             at the same time",
        );
    }
    match version {
        Some(3) => conn.set_protocol(Protocol::Resp3),
        Some(_) => conn.set_protocol(Protocol::Resp2),
        None => {}
    }
    let proto = if conn.protocol == Protocol::Resp3 {
        3
    } else {
        2
    };
    let mode = if conn.node.config.read().get_bool("cluster-enabled") {
        "cluster"
    } else {
        "standalone"
    };
    Frame::Map(vec![
        (Frame::bulk_static("server"), Frame::bulk_static("redis")),
        (
            Frame::bulk_static("version"),
            Frame::bulk_static(REDIS_VERSION),
        ),
        (Frame::bulk_static("proto"), Frame::Integer(proto)),
        (
            Frame::bulk_static("id"),
            Frame::Integer(conn.handle.id as i64),
        ),
        (Frame::bulk_static("mode"), Frame::bulk_static(mode)),
        (Frame::bulk_static("role"), Frame::bulk_static("master")),
        (Frame::bulk_static("modules"), Frame::Array(Vec::new())),
    ])
}

/// `RESET`: back to a fresh connection's state (RESP2, no name, authenticated only if no password is set).
pub fn reset(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    crate::multi::reset(conn);
    conn.set_protocol(Protocol::Resp2);
    conn.authenticated = !conn.node.hot.auth_required.load(Ordering::Relaxed);
    {
        let mut info = conn.handle.info.lock();
        info.name.clear();
        info.user.clear();
        info.user.push_str(DEFAULT_USER);
    }
    Frame::simple("RESET")
}
