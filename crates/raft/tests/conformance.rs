//! openraft's own storage conformance suite over the sled log and the keyspace state machine.

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use parking_lot::Mutex;
use raft::typ::StorageError;
use raft::{
    FsyncPolicy, LogStore, NodeStorage, ShardStateMachine, SledLog, SnapshotFile, StorageOptions,
    TypeConfig,
};
use store::Keyspace;
use tempfile::TempDir;

struct Builder(FsyncPolicy);

impl StoreBuilder<TypeConfig, LogStore<SledLog>, ShardStateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore<SledLog>, ShardStateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = StorageOptions {
            fsync: self.0,
            cache_capacity: 8 * 1024 * 1024,
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
fn openraft_suite_fsync_always() {
    Suite::test_all(Builder(FsyncPolicy::Always)).expect("suite");
}

#[test]
fn openraft_suite_fsync_everysec() {
    Suite::test_all(Builder(FsyncPolicy::Everysec)).expect("suite");
}
