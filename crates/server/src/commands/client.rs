//! CLIENT ID|SETNAME|GETNAME|LIST|INFO|KILL|UNBLOCK|SETINFO|HELP.

use std::sync::Arc;

use bytes::Bytes;
use resp::Frame;
use store::cmd::is;

use super::connection::{set_client_name, DEFAULT_USER};
use super::{help_reply, text};
use crate::clients::ClientHandle;
use crate::conn::Conn;

/// Redis' client types (`getClientTypeByName`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Pubsub,
    Master,
}

fn client_type(name: &[u8]) -> Option<ClientType> {
    let lower = name.to_ascii_lowercase();
    match &lower[..] {
        b"normal" => Some(ClientType::Normal),
        b"slave" | b"replica" => Some(ClientType::Replica),
        b"pubsub" => Some(ClientType::Pubsub),
        b"master" => Some(ClientType::Master),
        _ => None,
    }
}

/// The type of a connected client: `pubsub` while subscribed to anything (Redis' CLIENT_PUBSUB, in either
/// protocol), `normal` otherwise (replicas are Raft peers, not clients).
fn type_of(client: &ClientHandle) -> ClientType {
    use std::sync::atomic::Ordering::Relaxed;
    if client.sub.load(Relaxed) + client.psub.load(Relaxed) + client.ssub.load(Relaxed) > 0 {
        ClientType::Pubsub
    } else {
        ClientType::Normal
    }
}

fn unknown_type(name: &[u8]) -> Frame {
    Frame::error_owned(format!(
        "ERR Unknown client type '{}'",
        store::errors::sanitize(name, 128)
    ))
}

/// Text lines in `CLIENT LIST|INFO` replies: a verbatim string in RESP3, a bulk string in RESP2.
fn verbatim(s: String) -> Frame {
    Frame::Verbatim {
        format: *b"txt",
        text: Bytes::from(s),
    }
}

/// Redis sets a client's last command before running it, so its own line shows the command being run.
fn mark_running(conn: &Conn, full_name: &str) {
    let mut info = conn.handle.info.lock();
    info.last_cmd.clear();
    info.last_cmd.push_str(full_name);
}

/// `CLIENT ID`.
pub fn id(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    Frame::Integer(conn.handle.id as i64)
}

/// `CLIENT SETNAME name`.
pub fn setname(conn: &mut Conn, args: &[Bytes]) -> Frame {
    match set_client_name(conn, &args[2]) {
        Ok(()) => Frame::ok(),
        Err(e) => e,
    }
}

/// `CLIENT GETNAME`.
pub fn getname(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let info = conn.handle.info.lock();
    if info.name.is_empty() {
        Frame::Null
    } else {
        Frame::bulk(&info.name)
    }
}

/// `CLIENT LIST [TYPE type | ID id [id ...]]`.
pub fn list(conn: &mut Conn, args: &[Bytes]) -> Frame {
    mark_running(conn, "client|list");
    let clients: Vec<Arc<ClientHandle>> = if args.len() == 4 && is(&args[2], "type") {
        let Some(t) = client_type(&args[3]) else {
            return unknown_type(&args[3]);
        };
        conn.node
            .clients
            .all()
            .into_iter()
            .filter(|c| type_of(c) == t)
            .collect()
    } else if args.len() > 3 && is(&args[2], "id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for a in &args[3..] {
            match store::num::parse_i64(a) {
                Some(id) => ids.push(id),
                None => return Frame::error("ERR Invalid client ID"),
            }
        }
        let all = conn.node.clients.all();
        ids.iter()
            .filter_map(|id| all.iter().find(|c| c.id as i64 == *id).cloned())
            .collect()
    } else if args.len() != 2 {
        return store::errors::SYNTAX;
    } else {
        conn.node.clients.all()
    };
    crate::multi::refresh_dirty_flags(&conn.node);
    let mut out = String::with_capacity(clients.len() * 256);
    for c in clients {
        out.push_str(&c.describe());
        out.push('\n');
    }
    verbatim(out)
}

/// `CLIENT INFO`.
pub fn info(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    mark_running(conn, "client|info");
    crate::multi::refresh_dirty_flags(&conn.node);
    let mut line = conn.handle.describe();
    line.push('\n');
    verbatim(line)
}

/// Filters of `CLIENT KILL`; every given one must match.
#[derive(Default)]
struct KillFilter {
    addr: Option<String>,
    laddr: Option<String>,
    id: Option<u64>,
    kind: Option<ClientType>,
    user: Option<String>,
    skip_me: bool,
}

impl KillFilter {
    fn matches(&self, c: &ClientHandle, me: u64) -> bool {
        if self.addr.as_ref().is_some_and(|a| *a != c.addr.to_string()) {
            return false;
        }
        if self
            .laddr
            .as_ref()
            .is_some_and(|a| *a != c.laddr.to_string())
        {
            return false;
        }
        if self.id.is_some_and(|id| id != c.id) {
            return false;
        }
        if self.kind.is_some_and(|t| t != type_of(c)) {
            return false;
        }
        if self.user.as_ref().is_some_and(|u| {
            let info = c.info.lock();
            let name = if info.user.is_empty() {
                DEFAULT_USER
            } else {
                &info.user
            };
            u != name
        }) {
            return false;
        }
        !(self.skip_me && c.id == me)
    }
}

fn parse_kill_filters(args: &[Bytes]) -> Result<KillFilter, Frame> {
    let mut f = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(store::errors::SYNTAX);
        }
        let (opt, val) = (&args[i], &args[i + 1]);
        if is(opt, "id") {
            match store::num::parse_i64(val) {
                Some(id) if id >= 1 => f.id = Some(id as u64),
                _ => return Err(Frame::error("ERR client-id should be greater than 0")),
            }
        } else if is(opt, "type") {
            f.kind = Some(client_type(val).ok_or_else(|| unknown_type(val))?);
        } else if is(opt, "addr") {
            f.addr = Some(text(val));
        } else if is(opt, "laddr") {
            f.laddr = Some(text(val));
        } else if is(opt, "user") {
            if &val[..] != DEFAULT_USER.as_bytes() {
                return Err(Frame::error_owned(format!(
                    "ERR No such user '{}'",
                    store::errors::sanitize(val, 128)
                )));
            }
            f.user = Some(DEFAULT_USER.to_string());
        } else if is(opt, "skipme") {
            if is(val, "yes") {
                f.skip_me = true;
            } else if is(val, "no") {
                f.skip_me = false;
            } else {
                return Err(store::errors::SYNTAX);
            }
        } else {
            return Err(store::errors::SYNTAX);
        }
        i += 2;
    }
    Ok(f)
}

/// `CLIENT KILL ip:port` (replies OK or an error) or `CLIENT KILL <filter> <value> ...` (replies the count).
pub fn kill(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let old_form = args.len() == 3;
    let filter = if old_form {
        // The old form may kill the caller itself.
        KillFilter {
            addr: Some(text(&args[2])),
            skip_me: false,
            ..KillFilter::default()
        }
    } else {
        match parse_kill_filters(args) {
            Ok(f) => f,
            Err(e) => return e,
        }
    };
    let me = conn.handle.id;
    let mut killed = 0i64;
    for c in conn.node.clients.all() {
        if !filter.matches(&c, me) {
            continue;
        }
        if c.id == me {
            // Closed after this reply is written, as Redis' CLIENT_CLOSE_AFTER_REPLY.
            conn.closing = true;
        } else {
            c.kill();
            // Redis frees the client at once: it leaves CLIENT LIST and the count now, while its task winds down.
            conn.node.clients.unregister(c.id);
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            Frame::error("ERR No such client")
        } else {
            Frame::ok()
        }
    } else {
        Frame::Integer(killed)
    }
}

/// `CLIENT UNBLOCK client-id [TIMEOUT|ERROR]`: ends another client's blocking command as if it timed out, or
/// with the UNBLOCKED error; replies 1 if that client was blocked, else 0.
pub fn unblock(conn: &mut Conn, args: &[Bytes]) -> Frame {
    if args.len() > 4 {
        return super::subcommand_syntax_error(args);
    }
    let error = match args.get(3) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => return Frame::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let Some(id) = store::num::parse_i64(&args[2]) else {
        return store::errors::NOT_INTEGER;
    };
    let unblocked = u64::try_from(id).is_ok_and(|id| conn.node.unblock(id, error));
    Frame::Integer(unblocked as i64)
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value` (Redis 7.2).
pub fn setinfo(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let (attr, val) = (&args[2], &args[3]);
    let lib_name = if is(attr, "lib-name") {
        true
    } else if is(attr, "lib-ver") {
        false
    } else {
        return Frame::error_owned(format!(
            "ERR Unrecognized option '{}'",
            store::errors::sanitize(attr, 128)
        ));
    };
    if !val.iter().all(|b| (b'!'..=b'~').contains(b)) {
        return Frame::error_owned(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            store::errors::sanitize(attr, 128)
        ));
    }
    let mut info = conn.handle.info.lock();
    let field = if lib_name {
        &mut info.lib_name
    } else {
        &mut info.lib_ver
    };
    field.clear();
    field.push_str(&text(val));
    Frame::ok()
}

/// `CLIENT HELP`: the subcommands Shoal has, in Redis 7.2's words.
/// `CLIENT REPLY ON|OFF|SKIP`: only ON answers (OK); OFF silences every reply but pushes, SKIP the next
/// command's reply.
pub fn reply(conn: &mut Conn, args: &[Bytes]) -> Frame {
    use crate::conn::ReplyMode;
    let mode = &args[2];
    if mode.eq_ignore_ascii_case(b"on") {
        conn.reply_mode = ReplyMode::On;
    } else if mode.eq_ignore_ascii_case(b"off") {
        conn.reply_mode = ReplyMode::Off;
    } else if mode.eq_ignore_ascii_case(b"skip") {
        if conn.reply_mode != ReplyMode::Off {
            conn.reply_mode = ReplyMode::SkipArmed;
        }
    } else {
        return store::errors::SYNTAX;
    }
    Frame::ok()
}

/// `CLIENT HELP`.
pub fn help(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    help_reply(
        &args[0],
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
        ],
    )
}
