//! Request decoder. PLACEHOLDER: API contract only.

use bytes::{Bytes, BytesMut};

/// Redis' request limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: largest bulk argument (512 MB).
    pub proto_max_bulk_len: usize,
    /// Largest number of arguments in one multibulk request.
    pub max_multibulk_len: usize,
    /// `client-query-buffer-limit`: most unprocessed bytes a client may have buffered (1 GB).
    pub client_query_buffer_limit: usize,
    /// Longest inline command line (64 KB, Redis' PROTO_INLINE_MAX_SIZE).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// A request that breaks the protocol: the client gets the message and is disconnected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    /// The full error line, such as `ERR Protocol error: invalid bulk length`.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Incremental request decoder; keeps its position across partial reads.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Decoder {
        Decoder { limits }
    }

    /// Replaces the limits (after `CONFIG SET`).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Takes one complete command (its arguments) off the front of `buf`, `Ok(None)` if more bytes are needed.
    /// An empty argument list is never returned (blank inline lines are skipped).
    pub fn decode(&mut self, _buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        todo!()
    }
}
