//! The process allocator: the system allocator, counting the bytes it hands out so `INFO memory` can report
//! `used_memory` the way Redis' zmalloc does (requested sizes of live allocations).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// Counter slots, each on its own cache line: threads add to their own slot, so allocating on several cores
/// does not bounce one shared line between them. Reading sums every slot.
const SLOTS: usize = 16;

#[repr(align(64))]
struct Slot(AtomicIsize);

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Slot = Slot(AtomicIsize::new(0));
static ALLOCATED: [Slot; SLOTS] = [ZERO; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // `const` initialisation: reading it never allocates, which matters inside the allocator.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn slot() -> &'static AtomicIsize {
    let i = MY_SLOT
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
                s.set(i);
            }
            i
        })
        // During thread teardown the slot is gone: fall back to a shared one.
        .unwrap_or(0);
    &ALLOCATED[i].0
}

#[inline]
fn add(n: usize) {
    slot().fetch_add(n as isize, Ordering::Relaxed);
}

#[inline]
fn sub(n: usize) {
    slot().fetch_sub(n as isize, Ordering::Relaxed);
}

/// The system allocator with a live-bytes counter.
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counter is only
// bookkeeping and never influences the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) };
        sub(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // On failure the old block is untouched and still counted.
            if new_size >= layout.size() {
                add(new_size - layout.size());
            } else {
                sub(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes currently allocated by the process through Rust's allocator (Redis' `used_memory`).
pub fn allocated() -> usize {
    let total: isize = ALLOCATED.iter().map(|s| s.0.load(Ordering::Relaxed)).sum();
    total.max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_large_allocation() {
        // Other test threads allocate too, so only a change much larger than their noise is asserted.
        let before = allocated();
        let v: Vec<u8> = vec![1; 64 << 20];
        let during = allocated();
        assert!(during >= before + (60 << 20), "{before} -> {during}");
        drop(v);
        let after = allocated();
        assert!(after + (60 << 20) <= during, "{during} -> {after}");
    }
}
