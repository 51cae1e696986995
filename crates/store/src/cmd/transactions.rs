//! Transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH. They need the connection's state (the queue, the
//! watched keys), so the server runs them (`Handler::Node`, `server/src/multi.rs`); an EXEC's keyspace part is
//! one [`crate::exec::Op::Multi`].

use crate::table::{acl, flags, CommandSpec, Handler, NodeCommand};

/// The transaction family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "multi",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST | flags::ALLOW_BUSY,
        acl::TRANSACTION,
        Handler::Node(NodeCommand::Multi),
    )
    .doc(
        "transactions",
        "1.2.0",
        "O(1)",
        "Mark the start of a transaction block",
    ),
    CommandSpec::new(
        "exec",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::SKIP_SLOWLOG,
        acl::TRANSACTION,
        Handler::Node(NodeCommand::Exec),
    )
    .doc(
        "transactions",
        "1.2.0",
        "Depends on commands in the transaction",
        "Execute all commands issued after MULTI",
    ),
    CommandSpec::new(
        "discard",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST | flags::ALLOW_BUSY,
        acl::TRANSACTION,
        Handler::Node(NodeCommand::Discard),
    )
    .doc(
        "transactions",
        "2.0.0",
        "O(N), when N is the number of queued commands",
        "Discard all commands issued after MULTI",
    ),
    CommandSpec::new(
        "watch",
        -2,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST | flags::ALLOW_BUSY,
        acl::TRANSACTION,
        Handler::Node(NodeCommand::Watch),
    )
    .keys(1, -1, 1)
    .doc(
        "transactions",
        "2.2.0",
        "O(1) for every key.",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
    ),
    CommandSpec::new(
        "unwatch",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST | flags::ALLOW_BUSY,
        acl::TRANSACTION,
        Handler::Node(NodeCommand::Unwatch),
    )
    .doc(
        "transactions",
        "2.2.0",
        "O(1)",
        "Forget about all watched keys",
    ),
];
