//! Cluster commands: CLUSTER and its subcommands, ASKING. The server runs them (`Handler::Node`): they read the
//! node's cluster metadata and routing view.

use crate::table::{acl, flags, CommandSpec, Handler, NodeCommand};

#[rustfmt::skip]
const CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
CommandSpec::new("info", 2, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterInfo))
    .doc("cluster", "3.0.0", "O(1)", "Provides info about Redis Cluster node state"),
CommandSpec::new("myid", 2, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterMyId))
    .doc("cluster", "3.0.0", "O(1)", "Return the node id"),
CommandSpec::new("myshardid", 2, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterMyShardId))
    .doc("cluster", "7.2.0", "O(1)", "Return the node shard id"),
CommandSpec::new("nodes", 2, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterNodes))
    .doc("cluster", "3.0.0", "O(N) where N is the total number of Cluster nodes", "Get Cluster config for the node"),
CommandSpec::new("replicas", 3, flags::ADMIN | flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterReplicas))
    .doc("cluster", "5.0.0", "O(N) where N is the number of replicas.", "Lists the replica nodes of a master node."),
CommandSpec::new("slaves", 3, flags::ADMIN | flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterReplicas))
    .doc("cluster", "3.0.0", "O(N) where N is the number of replicas.", "Lists the replica nodes of a master node."),
CommandSpec::new("slots", 2, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterSlots))
    .doc("cluster", "3.0.0", "O(N) where N is the total number of Cluster nodes", "Get array of Cluster slot to node mappings"),
CommandSpec::new("shards", 2, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterShards))
    .doc("cluster", "7.0.0", "O(N) where N is the total number of cluster nodes", "Get array of cluster slots to node mappings"),
CommandSpec::new("keyslot", 3, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterKeySlot))
    .doc("cluster", "3.0.0", "O(N) where N is the number of bytes in the key", "Returns the hash slot of the specified key"),
CommandSpec::new("countkeysinslot", 3, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterCountKeysInSlot))
    .doc("cluster", "3.0.0", "O(N) where N is the number of keys in the slot's shard", "Return the number of local keys in the specified hash slot"),
CommandSpec::new("getkeysinslot", 4, flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterGetKeysInSlot))
    .doc("cluster", "3.0.0", "O(N) where N is the number of keys in the slot's shard", "Return local key names in the specified hash slot"),
CommandSpec::new("bootstrap", 4, flags::ADMIN | flags::STALE | flags::NOSCRIPT, acl::SLOW, Handler::Node(NodeCommand::ClusterBootstrap))
    .doc("cluster", "shoal", "O(N) where N is the number of shards", "Make this node part of a new cluster (sent by `shoal-server cluster create`)"),
CommandSpec::new("setmigration", -5, flags::ADMIN | flags::STALE | flags::NOSCRIPT, acl::SLOW, Handler::Node(NodeCommand::ClusterMigration))
    .doc("cluster", "shoal", "O(N) where N is the number of slots", "Start moving slot ranges to other shards (sent by `shoal-server cluster move-slots`)"),
CommandSpec::new("metacas", 4, flags::ADMIN | flags::STALE | flags::NOSCRIPT, acl::SLOW, Handler::Node(NodeCommand::ClusterMigration))
    .doc("cluster", "shoal", "O(1)", "Propose a change of the cluster metadata (internal)"),
CommandSpec::new("import", 7, flags::ADMIN | flags::STALE | flags::NOSCRIPT, acl::SLOW, Handler::Node(NodeCommand::ClusterMigration))
    .doc("cluster", "shoal", "O(N) where N is the number of keys in the batch", "Import a batch of keys moving from another shard (internal)"),
CommandSpec::new("metadata", 2, flags::ADMIN | flags::STALE | flags::NOSCRIPT, acl::SLOW, Handler::Node(NodeCommand::ClusterMigration))
    .doc("cluster", "shoal", "O(N) where N is the number of shards", "Return this node's copy of the cluster metadata, encoded (internal)"),
CommandSpec::new("membership", -3, flags::ADMIN | flags::STALE | flags::NOSCRIPT, acl::SLOW, Handler::Node(NodeCommand::ClusterMembership))
    .doc("cluster", "shoal", "O(N) where N is the number of nodes and shards", "A step of adding, moving or removing a node's replicas (sent by `shoal-server cluster add-node | move-replica | remove-node`)"),
CommandSpec::new("help", 2, flags::LOADING | flags::STALE, acl::SLOW, Handler::Node(NodeCommand::ClusterHelp))
    .doc("cluster", "5.0.0", "O(1)", "Show helpful text about the different subcommands"),
];

/// Commands of this family.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
CommandSpec::new("cluster", -2, 0, acl::SLOW, Handler::Container)
    .doc("cluster", "3.0.0", "Depends on subcommand.", "A container for cluster commands")
    .subcommands(CLUSTER_SUBCOMMANDS),
CommandSpec::new("asking", 1, flags::FAST, acl::CONNECTION, Handler::Node(NodeCommand::Asking))
    .doc("cluster", "3.0.0", "O(1)", "Sent by cluster clients after an -ASK redirect"),
];
