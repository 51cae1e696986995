//! PING, QUIT, SELECT, HELLO, AUTH, RESET and CLIENT.

use bytes::Bytes;
use resp::Frame;

use crate::conn::Conn;

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
