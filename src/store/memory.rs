//! In-memory backend: ordered maps behind one lock. Nothing is persistent;
//! meant for tests and throwaway runs.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{
    Batch, BatchOp, CREATED_BY, CasOutcome, Entry, EntryIter, FORMAT_VERSION, KeyRange, Order,
    Store, StoreError, StoreInfo, Tree, validate_name,
};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Default)]
struct State {
    trees: BTreeMap<String, Map>,
    sequences: BTreeMap<String, u64>,
}

/// Shared state. A single lock makes batches trivially atomic; a poisoned
/// lock is still usable because every mutation below completes or rolls
/// back before any code that could panic runs.
#[derive(Default)]
struct Shared(RwLock<State>);

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

struct MemoryStore {
    shared: Arc<Shared>,
}

/// Opens a new, empty in-memory store.
pub fn open_memory() -> Arc<dyn Store> {
    Arc::new(MemoryStore {
        shared: Arc::new(Shared::default()),
    })
}

impl Store for MemoryStore {
    fn tree(&self, name: &str) -> Result<Arc<dyn Tree>, StoreError> {
        validate_name(name)?;
        Ok(Arc::new(MemoryTree {
            shared: Arc::clone(&self.shared),
            name: name.to_owned(),
        }))
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        batch.tree_names()?;
        let mut state = self.shared.write();
        // Apply in order, remembering previous values so that a failed
        // precondition can restore them; the write lock hides the interim.
        let mut undo: Vec<(String, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut failure = None;
        for op in batch.ops {
            match op {
                BatchOp::Put { tree, key, value } => {
                    let old = state
                        .trees
                        .entry(tree.clone())
                        .or_default()
                        .insert(key.clone(), value);
                    undo.push((tree, key, old));
                }
                BatchOp::Delete { tree, key } => {
                    let old = state.trees.get_mut(&tree).and_then(|m| m.remove(&key));
                    undo.push((tree, key, old));
                }
                BatchOp::Add { tree, key, deltas } => {
                    let map = state.trees.entry(tree.clone()).or_default();
                    let old = map.get(&key).cloned();
                    match super::add_counters(old.as_deref(), &deltas) {
                        Some(value) => map.insert(key.clone(), value),
                        None => map.remove(&key),
                    };
                    undo.push((tree, key, old));
                }
                BatchOp::Expect { tree, key, value } => {
                    let current = state.trees.get(&tree).and_then(|m| m.get(&key));
                    if current != value.as_ref() {
                        failure = Some(StoreError::Conflict { tree, key });
                        break;
                    }
                }
            }
        }
        if let Some(err) = failure {
            for (tree, key, old) in undo.into_iter().rev() {
                let map = state.trees.entry(tree).or_default();
                match old {
                    Some(v) => map.insert(key, v),
                    None => map.remove(&key),
                };
            }
            return Err(err);
        }
        Ok(())
    }

    fn next_id(&self, sequence: &str) -> Result<u64, StoreError> {
        validate_name(sequence)?;
        let mut state = self.shared.write();
        let counter = state.sequences.entry(sequence.to_owned()).or_insert(0);
        let next = counter
            .checked_add(1)
            .ok_or_else(|| StoreError::SequenceExhausted(sequence.to_owned()))?;
        *counter = next;
        Ok(next)
    }

    fn flush_durable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Nothing to wait for: applied at once, on the caller's thread.
    fn submit_durable(
        &self,
        batch: Batch,
        done: super::DurableDone,
    ) -> Result<(), (Batch, super::DurableDone)> {
        done(self.apply_durable(batch));
        Ok(())
    }

    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "memory",
            format_version: FORMAT_VERSION,
            created_by: CREATED_BY.to_owned(),
            persistent: false,
        }
    }
}

struct MemoryTree {
    shared: Arc<Shared>,
    name: String,
}

impl Tree for MemoryTree {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .shared
            .read()
            .trees
            .get(&self.name)
            .and_then(|m| m.get(key))
            .cloned())
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut state = self.shared.write();
        Ok(state
            .trees
            .entry(self.name.clone())
            .or_default()
            .insert(key.to_vec(), value.to_vec()))
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut state = self.shared.write();
        Ok(state.trees.get_mut(&self.name).and_then(|m| m.remove(key)))
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome, StoreError> {
        let mut state = self.shared.write();
        let map = state.trees.entry(self.name.clone()).or_default();
        let current = map.get(key);
        if current.map(Vec::as_slice) != expected {
            return Ok(CasOutcome::Mismatch {
                current: current.cloned(),
            });
        }
        match new {
            Some(v) => map.insert(key.to_vec(), v.to_vec()),
            None => map.remove(key),
        };
        Ok(CasOutcome::Swapped)
    }

    fn iter(&self, range: KeyRange, order: Order) -> EntryIter {
        Box::new(MemoryIter {
            shared: Arc::clone(&self.shared),
            tree: self.name.clone(),
            range,
            order,
        })
    }
}

/// Takes the lock once per item and resumes after the last key returned,
/// so it never holds the lock between calls and each step is O(log n).
struct MemoryIter {
    shared: Arc<Shared>,
    tree: String,
    range: KeyRange,
    order: Order,
}

impl Iterator for MemoryIter {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.range.is_empty() {
            return None;
        }
        let found = {
            let state = self.shared.read();
            let map = state.trees.get(&self.tree)?;
            let mut r = map.range((self.range.start.clone(), self.range.end.clone()));
            let hit = match self.order {
                Order::Ascending => r.next(),
                Order::Descending => r.next_back(),
            };
            hit.map(|(k, v)| (k.clone(), v.clone()))
        };
        match found {
            Some((k, v)) => {
                let rest = match self.order {
                    Order::Ascending => self.range.clone().after(&k),
                    Order::Descending => self.range.clone().before(&k),
                };
                self.range = rest;
                Some(Ok((k, v)))
            }
            None => {
                // Exhausted: make later calls cheap and stable.
                self.range = KeyRange::between(Vec::new(), Vec::new());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;

    #[test]
    fn conformance_suite() {
        conformance::all(open_memory());
    }

    #[test]
    fn info_is_not_persistent() {
        let info = open_memory().info();
        assert_eq!(info.backend, "memory");
        assert_eq!(info.format_version, FORMAT_VERSION);
        assert!(!info.persistent);
    }
}
