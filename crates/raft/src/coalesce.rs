//! Commit-only AppendEntries that need not cross the network.
//!
//! openraft 0.9 replicates to each peer one call at a time, and once an entry commits it tells every peer the new
//! commit index with an AppendEntries of its own, empty unless more entries have arrived meanwhile. Under a
//! closed-loop load (clients that wait for their reply before sending the next write, as `redis-benchmark`'s
//! do) none have: the clients are still waiting for the replies the commit releases. So about half the calls a
//! follower received were empty, and on a small machine each call costs both processes a wake-up (measured at
//! -P1 with three replicas on two cores: 47% of a follower's calls, about 160 µs of its CPU each).
//!
//! [`CommitCoalescer`] answers such a call itself when it adds nothing the peer has not just confirmed: the same
//! vote, the same `prev_log_id` as the last call the peer acknowledged with `Success`, that call sent less than
//! the window ago, and no entries. The commit index then reaches the follower with the next call that carries
//! entries, or with the next heartbeat that falls outside the window (at most a heartbeat interval later), so a
//! follower applies a little later; nothing waits on that (WAIT counts what followers hold, not what they have
//! applied).
//!
//! Why it is safe:
//! - The answer carries no new information for openraft: a `Success` to an empty call at the acknowledged
//!   `prev_log_id` leaves the peer's matching index where it was, so nothing commits on its strength.
//! - A peer that has since moved on (a higher vote, a lost log) is heard from at most a window later, on the next
//!   real call; a call that failed, was abandoned, or answered anything but `Success` disables the shortcut until
//!   a real call succeeds again.
//! - openraft counts the answer as the peer's acknowledgement of the leader at the time the call began, which
//!   can be up to the window later than the peer's real one. The leader lease used for lease reads is shortened
//!   by the window to keep its margin ([`commit_window`]). ReadIndex (`ensure_linearizable`) is not affected: it
//!   sends its heartbeats on fresh connections, which have no acknowledged call to lean on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use openraft::{LogId, Vote};

use crate::types::{NodeId, TypeConfig};

/// How long after a peer's acknowledgement an empty AppendEntries may be answered locally: half the heartbeat
/// interval. Lease reads subtract it from the lease.
pub fn commit_window(heartbeat_interval_ms: u64) -> Duration {
    Duration::from_millis(heartbeat_interval_ms / 2)
}

/// The last call a peer acknowledged with `Success`.
#[derive(Clone, Debug)]
struct Acknowledged {
    vote: Vote<NodeId>,
    /// The peer's log matches the leader's up to here: the call's last entry, or its `prev_log_id`.
    matching: Option<LogId<NodeId>>,
    /// When the call was sent.
    sent: Instant,
}

/// What a call was, kept from before it is sent to judge its answer.
#[derive(Clone, Debug)]
pub struct Sent {
    vote: Vote<NodeId>,
    matching: Option<LogId<NodeId>>,
    at: Instant,
}

/// Per connection (one peer of one group): decides which empty AppendEntries are answered locally.
#[derive(Debug)]
pub struct CommitCoalescer {
    window: Duration,
    last: Option<Acknowledged>,
    skipped: Arc<AtomicU64>,
}

impl CommitCoalescer {
    /// A coalescer with nothing acknowledged yet; `skipped` counts the calls it answers.
    pub fn new(window: Duration, skipped: Arc<AtomicU64>) -> CommitCoalescer {
        CommitCoalescer {
            window,
            last: None,
            skipped,
        }
    }

    /// The local answer to `rpc` if it need not be sent, as of `now`.
    pub fn answer(
        &self,
        rpc: &AppendEntriesRequest<TypeConfig>,
        now: Instant,
    ) -> Option<AppendEntriesResponse<NodeId>> {
        let last = self.last.as_ref()?;
        let fresh = now.saturating_duration_since(last.sent) < self.window;
        if rpc.entries.is_empty()
            && fresh
            && last.vote == rpc.vote
            && last.matching == rpc.prev_log_id
        {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return Some(AppendEntriesResponse::Success);
        }
        None
    }

    /// Notes a call about to be sent at `at`. Until its answer is taken in, nothing is answered locally: a call
    /// abandoned on its way (openraft's timeout drops it) leaves the peer's state unknown.
    pub fn sending(&mut self, rpc: &AppendEntriesRequest<TypeConfig>, at: Instant) -> Sent {
        self.last = None;
        Sent {
            vote: rpc.vote,
            matching: rpc.entries.last().map(|e| e.log_id).or(rpc.prev_log_id),
            at,
        }
    }

    /// Takes in the outcome of a call that was sent: only `Success` lets later empty calls be answered locally.
    pub fn answered<E>(&mut self, sent: Sent, result: &Result<AppendEntriesResponse<NodeId>, E>) {
        self.last = match result {
            Ok(AppendEntriesResponse::Success) => Some(Acknowledged {
                vote: sent.vote,
                matching: sent.matching,
                sent: sent.at,
            }),
            _ => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, Entry, EntryPayload};

    fn log_id(term: u64, index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    fn rpc(
        term: u64,
        prev: Option<LogId<NodeId>>,
        entries: Vec<LogId<NodeId>>,
        commit: Option<LogId<NodeId>>,
    ) -> AppendEntriesRequest<TypeConfig> {
        let mut vote = Vote::new(term, 1);
        vote.commit();
        AppendEntriesRequest {
            vote,
            prev_log_id: prev,
            entries: entries
                .into_iter()
                .map(|log_id| Entry {
                    log_id,
                    payload: EntryPayload::Blank,
                })
                .collect(),
            leader_commit: commit,
        }
    }

    fn coalescer() -> (CommitCoalescer, Arc<AtomicU64>) {
        let n = Arc::new(AtomicU64::new(0));
        (
            CommitCoalescer::new(Duration::from_millis(10), n.clone()),
            n,
        )
    }

    type Answer = Result<AppendEntriesResponse<NodeId>, ()>;

    /// Sends `r` at `at` with the peer answering `reply`.
    fn exchange(
        c: &mut CommitCoalescer,
        r: &AppendEntriesRequest<TypeConfig>,
        at: Instant,
        reply: Answer,
    ) {
        let sent = c.sending(r, at);
        c.answered(sent, &reply);
    }

    #[test]
    fn commit_only_call_right_after_an_acknowledged_append_is_answered_locally() {
        let (mut c, skipped) = coalescer();
        let t0 = Instant::now();
        let append = rpc(
            1,
            Some(log_id(1, 4)),
            vec![log_id(1, 5), log_id(1, 6)],
            Some(log_id(1, 4)),
        );
        assert!(c.answer(&append, t0).is_none(), "entries always go out");
        exchange(&mut c, &append, t0, Ok(AppendEntriesResponse::Success));
        let commit_only = rpc(1, Some(log_id(1, 6)), vec![], Some(log_id(1, 6)));
        assert_eq!(
            c.answer(&commit_only, t0 + Duration::from_millis(2)),
            Some(AppendEntriesResponse::Success)
        );
        assert_eq!(skipped.load(Ordering::Relaxed), 1);
        // A heartbeat after the window goes out, and carries the commit index.
        assert!(c
            .answer(&commit_only, t0 + Duration::from_millis(10))
            .is_none());
        assert_eq!(skipped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn nothing_is_answered_locally_without_a_fresh_success_at_the_same_point() {
        let t0 = Instant::now();
        let soon = t0 + Duration::from_millis(1);
        let append = rpc(2, Some(log_id(2, 9)), vec![log_id(2, 10)], None);
        let commit_only = rpc(2, Some(log_id(2, 10)), vec![], Some(log_id(2, 10)));

        // A fresh connection (ReadIndex's heartbeats use one) sends everything.
        let (c, _) = coalescer();
        assert!(c.answer(&commit_only, soon).is_none());

        // Anything but Success: a conflict, a higher vote, a transport error.
        for reply in [
            Ok(AppendEntriesResponse::Conflict),
            Ok(AppendEntriesResponse::HigherVote(Vote::new(3, 2))),
            Ok(AppendEntriesResponse::PartialSuccess(Some(log_id(2, 10)))),
            Err(()),
        ] {
            let (mut c, _) = coalescer();
            exchange(&mut c, &append, t0, Ok(AppendEntriesResponse::Success));
            exchange(&mut c, &append, t0, reply);
            assert!(c.answer(&commit_only, soon).is_none());
        }

        let (mut c, _) = coalescer();
        exchange(&mut c, &append, t0, Ok(AppendEntriesResponse::Success));
        // Another point in the log (openraft probing back after a conflict, or entries the peer lacks).
        assert!(c
            .answer(&rpc(2, Some(log_id(2, 9)), vec![], None), soon)
            .is_none());
        // Another vote: a new term's leader must be heard by the peer.
        assert!(c
            .answer(&rpc(3, Some(log_id(2, 10)), vec![], None), soon)
            .is_none());
        // Entries always go out.
        assert!(c
            .answer(
                &rpc(2, Some(log_id(2, 10)), vec![log_id(2, 11)], None),
                soon
            )
            .is_none());
        // The same call is answered locally inside the window.
        assert!(c.answer(&commit_only, soon).is_some());
    }

    #[test]
    fn a_call_abandoned_on_its_way_disables_the_shortcut() {
        let (mut c, _) = coalescer();
        let t0 = Instant::now();
        let append = rpc(1, None, vec![log_id(1, 1)], None);
        exchange(&mut c, &append, t0, Ok(AppendEntriesResponse::Success));
        // The next append goes out and its answer never comes back (the caller gave up).
        let _ = c.sending(&rpc(1, Some(log_id(1, 1)), vec![log_id(1, 2)], None), t0);
        let heartbeat = rpc(1, Some(log_id(1, 1)), vec![], Some(log_id(1, 1)));
        assert!(c
            .answer(&heartbeat, t0 + Duration::from_millis(1))
            .is_none());
    }

    #[test]
    fn a_locally_answered_call_does_not_extend_the_window() {
        let (mut c, _) = coalescer();
        let t0 = Instant::now();
        let append = rpc(1, None, vec![log_id(1, 1)], None);
        exchange(&mut c, &append, t0, Ok(AppendEntriesResponse::Success));
        let heartbeat = rpc(1, Some(log_id(1, 1)), vec![], Some(log_id(1, 1)));
        for ms in [1, 4, 8] {
            assert!(c
                .answer(&heartbeat, t0 + Duration::from_millis(ms))
                .is_some());
        }
        // Measured from the last call that really went out, however many were answered since.
        assert!(c
            .answer(&heartbeat, t0 + Duration::from_millis(11))
            .is_none());
    }

    #[test]
    fn the_window_is_half_a_heartbeat() {
        assert_eq!(commit_window(25), Duration::from_millis(12));
    }
}
