//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, SSUBSCRIBE, SUNSUBSCRIBE,
//! SPUBLISH and PUBSUB. Messages are not keyspace state (they are never logged), so the server runs them all
//! (`Handler::Node`); the rows live here so the table is declared in one place.

use crate::table::{flags, CommandSpec, Handler, NodeCommand};

const SUBSCRIBE_FLAGS: u32 = flags::PUBSUB | flags::NOSCRIPT | flags::LOADING | flags::STALE;
const PUBLISH_FLAGS: u32 =
    flags::PUBSUB | flags::LOADING | flags::STALE | flags::FAST | flags::MAY_REPLICATE;
const INTROSPECTION_FLAGS: u32 = flags::PUBSUB | flags::LOADING | flags::STALE;

const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "channels",
        -2,
        INTROSPECTION_FLAGS,
        0,
        Handler::Node(NodeCommand::PubsubChannels),
    )
    .doc(
        "pubsub",
        "2.8.0",
        "O(N) where N is the number of active channels, and assuming constant time pattern matching \
         (relatively short channels and patterns)",
        "List active channels",
    ),
    CommandSpec::new(
        "numsub",
        -2,
        INTROSPECTION_FLAGS,
        0,
        Handler::Node(NodeCommand::PubsubNumsub),
    )
    .doc(
        "pubsub",
        "2.8.0",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        "Get the count of subscribers for channels",
    ),
    CommandSpec::new(
        "numpat",
        2,
        INTROSPECTION_FLAGS,
        0,
        Handler::Node(NodeCommand::PubsubNumpat),
    )
    .doc(
        "pubsub",
        "2.8.0",
        "O(1)",
        "Get the count of unique patterns pattern subscriptions",
    ),
    CommandSpec::new(
        "shardchannels",
        -2,
        INTROSPECTION_FLAGS,
        0,
        Handler::Node(NodeCommand::PubsubShardChannels),
    )
    .doc(
        "pubsub",
        "7.0.0",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching \
         (relatively short shard channels).",
        "List active shard channels",
    ),
    CommandSpec::new(
        "shardnumsub",
        -2,
        INTROSPECTION_FLAGS,
        0,
        Handler::Node(NodeCommand::PubsubShardNumsub),
    )
    .doc(
        "pubsub",
        "7.0.0",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        "Get the count of subscribers for shard channels",
    ),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::PubsubHelp),
    )
    .doc(
        "pubsub",
        "6.2.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

/// The pub/sub family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "subscribe",
        -2,
        SUBSCRIBE_FLAGS,
        0,
        Handler::Node(NodeCommand::Subscribe),
    )
    .doc(
        "pubsub",
        "2.0.0",
        "O(N) where N is the number of channels to subscribe to.",
        "Listen for messages published to the given channels",
    ),
    CommandSpec::new(
        "unsubscribe",
        -1,
        SUBSCRIBE_FLAGS,
        0,
        Handler::Node(NodeCommand::Unsubscribe),
    )
    .doc(
        "pubsub",
        "2.0.0",
        "O(N) where N is the number of clients already subscribed to a channel.",
        "Stop listening for messages posted to the given channels",
    ),
    CommandSpec::new(
        "psubscribe",
        -2,
        SUBSCRIBE_FLAGS,
        0,
        Handler::Node(NodeCommand::Psubscribe),
    )
    .doc(
        "pubsub",
        "2.0.0",
        "O(N) where N is the number of patterns the client is already subscribed to.",
        "Listen for messages published to channels matching the given patterns",
    ),
    CommandSpec::new(
        "punsubscribe",
        -1,
        SUBSCRIBE_FLAGS,
        0,
        Handler::Node(NodeCommand::Punsubscribe),
    )
    .doc(
        "pubsub",
        "2.0.0",
        "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of \
         total patterns subscribed in the system (by any client).",
        "Stop listening for messages posted to channels matching the given patterns",
    ),
    CommandSpec::new(
        "publish",
        3,
        PUBLISH_FLAGS,
        0,
        Handler::Node(NodeCommand::Publish),
    )
    .doc(
        "pubsub",
        "2.0.0",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total \
         number of subscribed patterns (by any client).",
        "Post a message to a channel",
    ),
    // Shard channels hash like keys (a cluster routes them by slot), so their names are declared as keys.
    CommandSpec::new(
        "ssubscribe",
        -2,
        SUBSCRIBE_FLAGS,
        0,
        Handler::Node(NodeCommand::Ssubscribe),
    )
    .keys(1, -1, 1)
    .doc(
        "pubsub",
        "7.0.0",
        "O(N) where N is the number of shard channels to subscribe to.",
        "Listen for messages published to the given shard channels",
    ),
    CommandSpec::new(
        "sunsubscribe",
        -1,
        SUBSCRIBE_FLAGS,
        0,
        Handler::Node(NodeCommand::Sunsubscribe),
    )
    .keys(1, -1, 1)
    .doc(
        "pubsub",
        "7.0.0",
        "O(N) where N is the number of clients already subscribed to a shard channel.",
        "Stop listening for messages posted to the given shard channels",
    ),
    CommandSpec::new(
        "spublish",
        3,
        PUBLISH_FLAGS,
        0,
        Handler::Node(NodeCommand::Spublish),
    )
    .keys(1, 1, 1)
    .doc(
        "pubsub",
        "7.0.0",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        "Post a message to a shard channel",
    ),
    CommandSpec::new("pubsub", -2, 0, 0, Handler::Container)
        .subcommands(PUBSUB_SUBCOMMANDS)
        .doc(
            "pubsub",
            "2.8.0",
            "Depends on subcommand.",
            "A container for Pub/Sub commands",
        ),
];
