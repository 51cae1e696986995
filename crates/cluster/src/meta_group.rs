//! The metadata Raft group's state machine: its state is the cluster [`Metadata`], changed only by applied
//! compare-and-set entries, so two administrators (or two nodes seeding the first copy) cannot overwrite each
//! other's change.
//!
//! The group uses the same log, transport and proposer as the data shards (group id [`META_GROUP`]); an entry's
//! operation is `META-CAS <expected epoch> <encoded metadata>`, which applies only if the current epoch is the
//! expected one and the new copy's epoch is the next.

use std::io::{self, Cursor};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use raft::typ::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use raft::{ApplyStats, Replies, SnapshotFile, TypeConfig};
use resp::Frame;
use store::Op;
use tokio::sync::watch;

use crate::meta::{Metadata, META_GROUP};

/// Name of the compare-and-set operation in the metadata group's entries.
const CAS: &[u8] = b"META-CAS";

/// The operation that replaces metadata at `expected` epoch by `next` (whose epoch must be `expected + 1`).
pub fn cas_op(expected: u64, next: &Metadata) -> Op {
    Op::Command(vec![
        Bytes::from_static(CAS),
        Bytes::from(expected.to_string()),
        Bytes::from(next.encode()),
    ])
}

/// Applies one operation to `state`; the reply says whether it took effect.
fn apply_op(state: &mut Metadata, op: &Op) -> Frame {
    let Op::Command(args) = op else {
        return Frame::error("ERR not a metadata operation");
    };
    let [name, expected, blob] = args.as_slice() else {
        return Frame::error("ERR malformed metadata operation");
    };
    if name.as_ref() != CAS {
        return Frame::error("ERR not a metadata operation");
    }
    let Some(expected) = std::str::from_utf8(expected)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Frame::error("ERR malformed metadata operation");
    };
    if state.epoch != expected {
        return Frame::error_owned(format!(
            "ERR cluster metadata changed meanwhile (epoch {}, expected {expected})",
            state.epoch
        ));
    }
    match Metadata::decode(blob) {
        Ok(next) if next.epoch == expected + 1 => {
            *state = next;
            Frame::ok()
        }
        Ok(_) => Frame::error("ERR new metadata must carry the next epoch"),
        Err(e) => Frame::error_owned(format!("ERR {e}")),
    }
}

/// The metadata group's state machine.
pub struct MetaStateMachine {
    state: Metadata,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    file: SnapshotFile,
    stats: Arc<ApplyStats>,
    publish: watch::Sender<Arc<Metadata>>,
}

impl MetaStateMachine {
    /// Restores the state from the group's snapshot in `storage` (openraft re-applies the log after it); every
    /// state the machine reaches is published on the returned channel.
    pub fn open(
        storage: &raft::NodeStorage,
    ) -> io::Result<(MetaStateMachine, watch::Receiver<Arc<Metadata>>)> {
        let file = SnapshotFile::new(storage.snapshot_path(META_GROUP))?;
        let (publish, rx) = watch::channel(Arc::new(Metadata::default()));
        let mut sm = MetaStateMachine {
            state: Metadata::default(),
            last_applied: None,
            last_membership: StoredMembership::default(),
            file,
            stats: Arc::new(ApplyStats::default()),
            publish,
        };
        if let Some((meta, data)) = sm.file.read()? {
            sm.state = Metadata::decode(&data).map_err(io::Error::other)?;
            sm.last_applied = meta.last_log_id;
            sm.last_membership = meta.last_membership;
            sm.publish.send_replace(Arc::new(sm.state.clone()));
        }
        Ok((sm, rx))
    }

    /// Counters shared with the group's proposer.
    pub fn stats(&self) -> Arc<ApplyStats> {
        self.stats.clone()
    }
}

/// A snapshot of the metadata: it is small, so it is encoded whole when asked for.
pub struct MetaSnapshotBuilder {
    data: Vec<u8>,
    meta: SnapshotMeta,
    file: SnapshotFile,
}

impl RaftSnapshotBuilder<TypeConfig> for MetaSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        self.file
            .save(&self.meta, &self.data)
            .map_err(|e| StorageIOError::write_snapshot(Some(self.meta.signature()), &e))?;
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: Box::new(Cursor::new(self.data.clone())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MetaStateMachine {
    type SnapshotBuilder = MetaSnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Replies>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        let before = self.state.epoch;
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => out.push(Replies::default()),
                EntryPayload::Normal(le) => {
                    let frames = le
                        .ops
                        .iter()
                        .map(|op| apply_op(&mut self.state, op))
                        .collect();
                    self.stats
                        .last_time_ms
                        .fetch_max(le.time_ms, Ordering::Relaxed);
                    out.push(Replies(frames));
                }
                EntryPayload::Membership(m) => {
                    self.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    out.push(Replies::default());
                }
            }
            self.stats.entries.fetch_add(1, Ordering::Relaxed);
        }
        if self.state.epoch != before {
            self.publish.send_replace(Arc::new(self.state.clone()));
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let id = match &self.last_applied {
            Some(l) => format!("meta-{}-{}", l.leader_id.term, l.index),
            None => "meta-0-0".into(),
        };
        MetaSnapshotBuilder {
            data: self.state.encode(),
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.last_membership.clone(),
                snapshot_id: id,
            },
            file: self.file.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let err = |e: String| -> StorageError {
            StorageIOError::read_snapshot(Some(meta.signature()), &io::Error::other(e)).into()
        };
        let state = Metadata::decode(&data).map_err(err)?;
        self.file
            .save(meta, &data)
            .map_err(|e| err(e.to_string()))?;
        self.state = state;
        self.last_applied = meta.last_log_id;
        self.last_membership = meta.last_membership.clone();
        self.publish.send_replace(Arc::new(self.state.clone()));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let read = self
            .file
            .read()
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(read.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::NodeInfo;

    fn layout() -> Metadata {
        let nodes = (1..=3)
            .map(|i| NodeInfo {
                id: 0,
                host: "127.0.0.1".into(),
                port: 7000 + i,
                bus_port: 17000 + i,
            })
            .collect();
        Metadata::layout(nodes, 3, 3).unwrap()
    }

    #[test]
    fn cas_applies_only_at_the_expected_epoch() {
        let mut state = Metadata::default();
        let first = layout();
        assert_eq!(apply_op(&mut state, &cas_op(0, &first)), Frame::ok());
        assert_eq!(state, first);
        // A second seed of the same first copy loses.
        assert!(apply_op(&mut state, &cas_op(0, &first)).is_error());
        let mut next = first.clone();
        next.epoch = 2;
        next.slots.assign(0, 0, 2);
        // Skipping an epoch is refused.
        let mut skip = next.clone();
        skip.epoch = 3;
        assert!(apply_op(&mut state, &cas_op(1, &skip)).is_error());
        assert_eq!(apply_op(&mut state, &cas_op(1, &next)), Frame::ok());
        assert_eq!(state.slots.owner(0), Some(2));
        assert!(apply_op(&mut state, &Op::Command(vec![Bytes::from_static(b"SET")])).is_error());
        assert!(apply_op(&mut state, &Op::ExpireIfDue(vec![])).is_error());
    }

    #[tokio::test]
    async fn a_single_voter_group_keeps_its_metadata_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = layout();
        for round in 0..2 {
            let storage =
                raft::NodeStorage::open(dir.path(), &raft::StorageOptions::default()).unwrap();
            let (sm, mut rx) = MetaStateMachine::open(&storage).unwrap();
            let stats = sm.stats();
            let router = raft::LocalRouter::new();
            let config = raft::GroupConfig::new(META_GROUP, 1, "meta-1");
            let group = raft::ShardGroup::start_with(
                &storage,
                sm,
                stats,
                router.network(1, META_GROUP),
                config,
            )
            .await
            .unwrap();
            router.register(1, META_GROUP, group.raft().clone());
            group.initialize_single().await.unwrap();
            group
                .wait_for_leader(std::time::Duration::from_secs(5))
                .await
                .unwrap();
            if round == 0 {
                let r = group.write(vec![cas_op(0, &first)]).await.unwrap();
                assert_eq!(r, vec![Frame::ok()]);
                let r = group.write(vec![cas_op(0, &first)]).await.unwrap();
                assert!(r[0].is_error());
            } else {
                // Restarted: the log is re-applied and the state published.
                let got = rx
                    .wait_for(|m| m.epoch == 1)
                    .await
                    .map(|m| (**m).clone())
                    .unwrap();
                assert_eq!(got, first);
            }
            group.shutdown().await.unwrap();
            storage.close().await.unwrap();
        }
    }
}
