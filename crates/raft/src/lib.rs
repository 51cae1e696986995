//! Shoal replication (work in progress).
