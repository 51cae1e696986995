//! The data types a key can hold.

use crate::types::hash::Hash;
use crate::types::set::Set;

/// A key's value. New types (hash, list, set, sorted set, stream) are added as variants.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string that is not held as an integer.
    Str(Vec<u8>),
    /// A string that is the canonical form of an `i64` (Redis' `int` encoding).
    Int(i64),
    /// A hash.
    Hash(Hash),
    /// A set.
    Set(Set),
    /// A list (`listpack` or `quicklist` encoding).
    List(Box<crate::list::List>),
    /// A sorted set (16 bytes: `Value` stays 24).
    ZSet(crate::zset::ZSet),
    /// A stream (boxed: `Value` stays 24 bytes).
    Stream(Box<crate::types::stream::Stream>),
}

impl Value {
    /// Builds a string value, keeping canonical integers as [`Value::Int`].
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(i) = crate::num::parse_i64(b) {
                return Value::Int(i);
            }
        }
        Value::Str(b.to_vec())
    }

    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::Int(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` answers.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_stays_24_bytes() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
    }
}
