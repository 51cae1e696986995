//! Connection commands: PING, ECHO, HELLO, AUTH, QUIT, RESET, SELECT, CLIENT. Most need the connection's state,
//! so the server runs them (`Handler::Node`); the rows live here so the table is declared in one place.

use bytes::Bytes;
use resp::Frame;

use crate::exec::ExecCtx;
use crate::keyspace::Keyspace;
use crate::table::{acl, flags, CommandSpec, Handler, NodeCommand};

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "id",
        2,
        flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientId),
    )
    .doc(
        "connection",
        "5.0.0",
        "O(1)",
        "Returns the client ID for the current connection",
    ),
    CommandSpec::new(
        "setname",
        3,
        flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientSetName),
    )
    .doc(
        "connection",
        "2.6.9",
        "O(1)",
        "Set the current connection name",
    ),
    CommandSpec::new(
        "getname",
        2,
        flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientGetName),
    )
    .doc(
        "connection",
        "2.6.9",
        "O(1)",
        "Get the current connection name",
    ),
    CommandSpec::new(
        "list",
        -2,
        flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientList),
    )
    .doc(
        "connection",
        "2.4.0",
        "O(N) where N is the number of client connections",
        "Get the list of client connections",
    ),
    CommandSpec::new(
        "info",
        2,
        flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientInfo),
    )
    .doc(
        "connection",
        "6.2.0",
        "O(1)",
        "Returns information about the current client connection.",
    ),
    CommandSpec::new(
        "kill",
        -3,
        flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientKill),
    )
    .doc(
        "connection",
        "2.4.0",
        "O(N) where N is the number of client connections",
        "Kill the connection of a client",
    ),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientHelp),
    )
    .doc(
        "connection",
        "5.0.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
    CommandSpec::new(
        "unblock",
        -3,
        flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientUnblock),
    )
    .doc(
        "connection",
        "5.0.0",
        "O(log N) where N is the number of client connections",
        "Unblock a client blocked in a blocking command from a different connection",
    ),
    CommandSpec::new(
        "setinfo",
        4,
        flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientSetInfo),
    )
    .doc(
        "connection",
        "7.2.0",
        "O(1)",
        "Set client or connection specific info",
    ),
    CommandSpec::new(
        "reply",
        3,
        flags::NOSCRIPT | flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::ClientReply),
    )
    .doc(
        "connection",
        "3.2.0",
        "O(1)",
        "Instruct the server whether to reply to commands",
    ),
];

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "ping",
        -1,
        flags::FAST,
        acl::CONNECTION,
        Handler::Node(NodeCommand::Ping),
    )
    .doc("connection", "1.0.0", "O(1)", "Ping the server"),
    CommandSpec::new(
        "echo",
        2,
        flags::LOADING | flags::STALE | flags::FAST,
        acl::CONNECTION,
        Handler::Keyspace(echo),
    )
    .doc("connection", "1.0.0", "O(1)", "Echo the given string"),
    CommandSpec::new(
        "hello",
        -1,
        flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::FAST
            | flags::NO_AUTH
            | flags::ALLOW_BUSY,
        acl::CONNECTION,
        Handler::Node(NodeCommand::Hello),
    )
    .doc("connection", "6.0.0", "O(1)", "Handshake with Redis"),
    CommandSpec::new(
        "auth",
        -2,
        flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::FAST
            | flags::NO_AUTH
            | flags::ALLOW_BUSY,
        acl::CONNECTION,
        Handler::Node(NodeCommand::Auth),
    )
    .doc(
        "connection",
        "1.0.0",
        "O(N) where N is the number of passwords defined for the user",
        "Authenticate to the server",
    ),
    CommandSpec::new(
        "quit",
        -1,
        flags::ALLOW_BUSY
            | flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::FAST
            | flags::NO_AUTH,
        acl::CONNECTION,
        Handler::Node(NodeCommand::Quit),
    )
    .doc("connection", "1.0.0", "O(1)", "Close the connection"),
    CommandSpec::new(
        "reset",
        1,
        flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::FAST
            | flags::NO_AUTH
            | flags::ALLOW_BUSY,
        acl::CONNECTION,
        Handler::Node(NodeCommand::Reset),
    )
    .doc("connection", "6.2.0", "O(1)", "Reset the connection"),
    CommandSpec::new(
        "select",
        2,
        flags::LOADING | flags::STALE | flags::FAST,
        acl::CONNECTION,
        Handler::Node(NodeCommand::Select),
    )
    .doc(
        "connection",
        "1.0.0",
        "O(1)",
        "Change the selected database for the current connection",
    ),
    CommandSpec::new("client", -2, 0, 0, Handler::Container)
        .subcommands(CLIENT_SUBCOMMANDS)
        .doc(
            "connection",
            "2.4.0",
            "Depends on subcommand.",
            "A container for client connection commands",
        ),
];

fn echo(_ks: &mut Keyspace, _ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    Frame::Bulk(args[1].clone())
}
