//! Reply encoder. PLACEHOLDER: API contract only.
use bytes::BytesMut;

use crate::{Frame, Protocol};

/// Appends `frame` to `out` as `proto` spells it.
pub fn encode(_frame: &Frame, _proto: Protocol, _out: &mut BytesMut) {
    todo!()
}
