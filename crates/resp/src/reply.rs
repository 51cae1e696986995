//! Reply parser. PLACEHOLDER: API contract only.
use crate::Frame;

/// A malformed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyError(pub String);

/// Parses one reply from the front of `buf`: the frame and the bytes it used, `Ok(None)` if incomplete.
pub fn parse_reply(_buf: &[u8]) -> Result<Option<(Frame, usize)>, ReplyError> {
    todo!()
}
