//! The hash table under the keyspace.
//!
//! PLACEHOLDER over std's HashMap: to be replaced by a chained, power-of-two table with Redis' reverse-binary
//! SCAN cursor and random bucket sampling. The API below is the contract.

use std::collections::HashMap;

use crate::exec::Rng;

type Hasher = foldhash::fast::FixedState;

/// A map from byte-string keys to `V` with stable SCAN cursors and random sampling.
pub struct Dict<V> {
    map: HashMap<Box<[u8]>, V, Hasher>,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict {
            map: HashMap::with_hasher(Hasher::with_seed(0x0051_40a1)),
        }
    }
}

impl<V> Dict<V> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.map.get(key)
    }
    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.map.get_mut(key)
    }
    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }
    /// Inserts or replaces; the key is copied only when new. Returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        if let Some(v) = self.map.get_mut(key) {
            return Some(std::mem::replace(v, value));
        }
        self.map.insert(key.into(), value);
        None
    }
    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.map.remove(key)
    }
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.map.clear()
    }
    /// Every entry, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.map.iter().map(|(k, v)| (&**k, v))
    }
    /// Visits the entries of the cursor's next bucket(s) and returns the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &V)) -> u64 {
        if cursor == 0 {
            for (k, v) in self.map.iter() {
                f(k, v);
            }
        }
        0
    }
    /// A random entry, chosen with `rng`.
    pub fn random(&self, rng: &mut Rng) -> Option<(&[u8], &V)> {
        if self.map.is_empty() {
            return None;
        }
        let n = rng.below(self.map.len() as u64) as usize;
        self.map.iter().nth(n).map(|(k, v)| (&**k, v))
    }
}
