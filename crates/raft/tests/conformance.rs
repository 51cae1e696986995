//! openraft's own storage conformance suite over the logs (AOF, redb and sled) and the keyspace state machine.

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use parking_lot::Mutex;
use raft::typ::StorageError;
use raft::{
    Engine, FsyncPolicy, GroupLog, LogStore, NodeStorage, ShardStateMachine, SnapshotFile,
    StorageOptions, TypeConfig,
};
use store::Keyspace;
use tempfile::TempDir;

struct Builder(Engine, FsyncPolicy);

impl StoreBuilder<TypeConfig, LogStore<GroupLog>, ShardStateMachine, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, LogStore<GroupLog>, ShardStateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = StorageOptions {
            fsync: self.1,
            engine: self.0,
            cache_capacity: 8 * 1024 * 1024,
            // Small segments, so the suite's purges and truncations also cross segment files.
            segment_bytes: 512,
        };
        let node = NodeStorage::open(dir.path(), &options).expect("open store");
        let log = LogStore::open(&node, 7).expect("open log");
        let file = SnapshotFile::new(node.snapshot_path(7)).expect("snapshot file");
        let sm = ShardStateMachine::open(Arc::new(Mutex::new(Keyspace::new())), file)
            .expect("state machine");
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_suite_aof_fsync_always() {
    Suite::test_all(Builder(Engine::Aof, FsyncPolicy::Always)).expect("suite");
}

#[test]
fn openraft_suite_aof_fsync_everysec() {
    Suite::test_all(Builder(Engine::Aof, FsyncPolicy::Everysec)).expect("suite");
}

#[test]
fn openraft_suite_aof_fsync_no() {
    Suite::test_all(Builder(Engine::Aof, FsyncPolicy::No)).expect("suite");
}

#[test]
fn openraft_suite_redb_fsync_always() {
    Suite::test_all(Builder(Engine::Redb, FsyncPolicy::Always)).expect("suite");
}

#[test]
fn openraft_suite_redb_fsync_everysec() {
    Suite::test_all(Builder(Engine::Redb, FsyncPolicy::Everysec)).expect("suite");
}

#[test]
fn openraft_suite_sled_fsync_always() {
    Suite::test_all(Builder(Engine::Sled, FsyncPolicy::Always)).expect("suite");
}
