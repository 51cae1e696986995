//! The openraft type configuration of a shard group, and the wire form of its replies.

use std::borrow::Cow;
use std::io::Cursor;

use bytes::Bytes;
use resp::Frame;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A node of the cluster: one process, one id for every group it hosts.
pub type NodeId = u64;
/// A Raft group: one shard (or the metadata group).
pub type GroupId = u64;
/// What the group knows of a node: its cluster-bus address.
pub type Node = openraft::BasicNode;

openraft::declare_raft_types!(
    /// Type configuration of every shard group: entries carry a [`store::LogEntry`], applying one yields its
    /// [`Replies`].
    pub TypeConfig:
        D = store::LogEntry,
        R = Replies,
        NodeId = NodeId,
        Node = Node,
        SnapshotData = Cursor<Vec<u8>>,
);

/// Aliases of openraft's generic types for [`TypeConfig`].
pub mod typ {
    use super::{NodeId, TypeConfig};

    /// A Raft handle of a shard group.
    pub type Raft = openraft::Raft<TypeConfig>;
    /// A log entry.
    pub type Entry = openraft::Entry<TypeConfig>;
    /// A log id (leader term and index).
    pub type LogId = openraft::LogId<NodeId>;
    /// A vote.
    pub type Vote = openraft::Vote<NodeId>;
    /// Storage failure.
    pub type StorageError = openraft::StorageError<NodeId>;
    /// Storage failure detail.
    pub type StorageIOError = openraft::StorageIOError<NodeId>;
    /// Snapshot metadata.
    pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, super::Node>;
    /// A snapshot with its data.
    pub type Snapshot = openraft::Snapshot<TypeConfig>;
    /// Membership as stored with its log id.
    pub type StoredMembership = openraft::StoredMembership<NodeId, super::Node>;
    /// Metrics of a group.
    pub type RaftMetrics = openraft::RaftMetrics<NodeId, super::Node>;
}

/// The replies of one applied entry, one per operation, in order. Blank and membership entries have none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Replies(pub Vec<Frame>);

// Replies travel only when openraft forwards a client write response between nodes. They are encoded as a
// mirror of `Frame` rather than as RESP3 text because RESP3 spells `Null` and `NullArray` alike (`_`), and a RESP2
// client must still see `$-1` or `*-1` exactly as the command produced it.
#[derive(Serialize, Deserialize)]
enum WireFrame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    Null,
    NullArray,
    Array(Vec<WireFrame>),
    Map(Vec<(WireFrame, WireFrame)>),
    Set(Vec<WireFrame>),
    Pairs(Vec<(WireFrame, WireFrame)>),
    Double(f64),
    Boolean(bool),
    BigNumber(String),
    Verbatim { format: [u8; 3], text: Bytes },
    Push(Vec<WireFrame>),
    ArrayMap(Vec<(WireFrame, WireFrame)>),
}

fn to_wire(f: &Frame) -> WireFrame {
    let list = |v: &[Frame]| v.iter().map(to_wire).collect();
    match f {
        Frame::Simple(s) => WireFrame::Simple(s.to_string()),
        Frame::Error(s) => WireFrame::Error(s.to_string()),
        Frame::Integer(i) => WireFrame::Integer(*i),
        Frame::Bulk(b) => WireFrame::Bulk(b.clone()),
        Frame::Null => WireFrame::Null,
        Frame::NullArray => WireFrame::NullArray,
        Frame::Array(v) => WireFrame::Array(list(v)),
        Frame::Map(v) => WireFrame::Map(v.iter().map(|(k, v)| (to_wire(k), to_wire(v))).collect()),
        Frame::Set(v) => WireFrame::Set(list(v)),
        Frame::Pairs(v) => {
            WireFrame::Pairs(v.iter().map(|(a, b)| (to_wire(a), to_wire(b))).collect())
        }
        Frame::Double(d) => WireFrame::Double(*d),
        Frame::Boolean(b) => WireFrame::Boolean(*b),
        Frame::BigNumber(s) => WireFrame::BigNumber(s.clone()),
        Frame::Verbatim { format, text } => WireFrame::Verbatim {
            format: *format,
            text: text.clone(),
        },
        Frame::Push(v) => WireFrame::Push(list(v)),
        Frame::BulkList(l) => to_wire(&l.to_frame()),
        Frame::ArrayMap(v) => {
            WireFrame::ArrayMap(v.iter().map(|(a, b)| (to_wire(a), to_wire(b))).collect())
        }
    }
}

fn from_wire(w: WireFrame) -> Frame {
    let list = |v: Vec<WireFrame>| v.into_iter().map(from_wire).collect();
    match w {
        WireFrame::Simple(s) => Frame::Simple(Cow::Owned(s)),
        WireFrame::Error(s) => Frame::Error(Cow::Owned(s)),
        WireFrame::Integer(i) => Frame::Integer(i),
        WireFrame::Bulk(b) => Frame::Bulk(b),
        WireFrame::Null => Frame::Null,
        WireFrame::NullArray => Frame::NullArray,
        WireFrame::Array(v) => Frame::Array(list(v)),
        WireFrame::Map(v) => Frame::Map(
            v.into_iter()
                .map(|(k, v)| (from_wire(k), from_wire(v)))
                .collect(),
        ),
        WireFrame::Set(v) => Frame::Set(list(v)),
        WireFrame::Pairs(v) => Frame::Pairs(
            v.into_iter()
                .map(|(a, b)| (from_wire(a), from_wire(b)))
                .collect(),
        ),
        WireFrame::Double(d) => Frame::Double(d),
        WireFrame::Boolean(b) => Frame::Boolean(b),
        WireFrame::BigNumber(s) => Frame::BigNumber(s),
        WireFrame::Verbatim { format, text } => Frame::Verbatim { format, text },
        WireFrame::Push(v) => Frame::Push(list(v)),
        WireFrame::ArrayMap(v) => Frame::ArrayMap(
            v.into_iter()
                .map(|(a, b)| (from_wire(a), from_wire(b)))
                .collect(),
        ),
    }
}

impl Serialize for Replies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let wire: Vec<WireFrame> = self.0.iter().map(to_wire).collect();
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Replies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Vec::<WireFrame>::deserialize(d)?;
        Ok(Replies(wire.into_iter().map(from_wire).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_every_frame_shape_through_postcard() {
        let frames = vec![
            Frame::ok(),
            Frame::error("ERR wrong"),
            Frame::Integer(-7),
            Frame::bulk(b"\x00bin\r\n"),
            Frame::Null,
            Frame::NullArray,
            Frame::Array(vec![Frame::Null, Frame::Array(vec![Frame::NullArray])]),
            Frame::Map(vec![(Frame::bulk("k"), Frame::Double(1.5))]),
            Frame::Set(vec![Frame::Boolean(true)]),
            Frame::Double(f64::NEG_INFINITY),
            Frame::BigNumber("123456789012345678901234567890".into()),
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"hello"),
            },
            Frame::Push(vec![Frame::simple("message")]),
        ];
        let r = Replies(frames);
        let bytes = postcard::to_allocvec(&r).unwrap();
        let back: Replies = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn log_entries_round_trip_through_postcard() {
        use store::{LogEntry, Op};
        let e = LogEntry {
            time_ms: 1_700_000_000_123,
            seed: u64::MAX,
            ops: vec![
                Op::Command(vec![
                    Bytes::from_static(b"SET"),
                    Bytes::from_static(b"k"),
                    Bytes::new(),
                ]),
                Op::ExpireIfDue(vec![Bytes::from_static(b"old")]),
            ]
            .into(),
            wire: Default::default(),
        };
        let entry = typ::Entry {
            log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(3, 1), 42),
            payload: openraft::EntryPayload::Normal(e),
        };
        let bytes = postcard::to_allocvec(&entry).unwrap();
        let back: typ::Entry = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.log_id, entry.log_id);
        match (back.payload, entry.payload) {
            (openraft::EntryPayload::Normal(a), openraft::EntryPayload::Normal(b)) => {
                assert_eq!(a, b)
            }
            _ => panic!("payload kind changed"),
        }
    }
}
