//! How the process takes memory from the kernel.
//!
//! Burn's CPU backends allocate a fresh buffer for almost every tensor, many of them
//! megabytes. With glibc's defaults a freed buffer of that size goes straight back to the
//! kernel, so the next layer's buffer is faulted in again, one 4 KiB page at a time: a
//! profile of a training run spent more time faulting pages in, zeroing and copying than
//! multiplying matrices. Keeping freed memory in the process and backing large blocks with
//! transparent huge pages made CRNN training about 30 % faster and PP-OCRv4's detector
//! about 20 % (docs/BENCH.md, "Memory from the kernel").

use std::alloc::{GlobalAlloc, Layout, System};

/// The size of a transparent huge page on x86-64 and most aarch64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Blocks up to this size come from glibc's heaps, which keep freed memory for reuse;
/// larger ones are mapped and unmapped one by one. 32 MiB is the most glibc allows.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LARGEST_HEAP_BLOCK: libc::c_int = 32 << 20;

/// Free memory a heap keeps before it gives any back to the kernel. A whole job's worth:
/// with 256 MiB, trocr-base's encoder gave its activations back and the decoder's 340 MB
/// of cross-attention keys were faulted in again, a third of a batch's time on this
/// machine (docs/BENCH.md). The app hands it back when it goes idle
/// ([`give_back_freed_memory`]); the peak is the same either way.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const KEPT_FREE_MEMORY: libc::c_int = 1 << 30;

/// Tells glibc to keep freed tensor buffers for the next ones (see the module's text).
/// Call it first thing in `main`; elsewhere than on Linux with glibc it does nothing.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; a refused value (return 0)
    // leaves glibc's default, which is merely slower.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGEST_HEAP_BLOCK);
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEPT_FREE_MEMORY);
    }
}

/// Hands the freed memory glibc keeps (up to 1 GiB after [`keep_freed_memory`]) back to the
/// kernel: for a long-lived process going idle, so that it does not hold a finished job's
/// memory while nothing runs. Elsewhere than on Linux with glibc it does nothing.
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns memory no allocation holds to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The system allocator, asking the kernel to back every block of 2 MiB or more with
/// transparent huge pages (Linux's `MADV_HUGEPAGE`; most distributions enable them only
/// for memory that asks). Fewer, larger pages mean fewer faults and TLB misses on the big
/// tensors. Everything else is the system allocator's.
pub struct HugePageAllocator;

// SAFETY: every method forwards to `System`, which upholds GlobalAlloc's contract; the
// advice added afterwards never moves, frees or changes the contents of a block.
unsafe impl GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, passed on unchanged.
        let block = unsafe { System.alloc(layout) };
        advise_huge_pages(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let block = unsafe { System.alloc_zeroed(layout) };
        advise_huge_pages(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: the block came from `System` through this allocator, with this layout.
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `dealloc`; the caller guarantees `new_size` is valid.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        advise_huge_pages(moved, new_size);
        moved
    }
}

/// Advises huge pages for the whole 2 MiB pages inside `[block, block + size)`. Advice
/// only: a kernel without transparent huge pages refuses it and nothing changes.
fn advise_huge_pages(block: *mut u8, size: usize) {
    let Some((start, length)) = whole_huge_pages(block as usize, size) else {
        return;
    };
    #[cfg(target_os = "linux")]
    // SAFETY: the range lies inside a block this process owns; MADV_HUGEPAGE changes how
    // its pages are backed, never what they hold.
    unsafe {
        libc::madvise(start as *mut libc::c_void, length, libc::MADV_HUGEPAGE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, length);
}

/// The aligned huge pages that fit inside `[address, address + size)`, as (start, length).
fn whole_huge_pages(address: usize, size: usize) -> Option<(usize, usize)> {
    if address == 0 || size < HUGE_PAGE {
        return None;
    }
    let start = address.checked_next_multiple_of(HUGE_PAGE)?;
    let end = address.checked_add(size)? / HUGE_PAGE * HUGE_PAGE;
    (end > start).then(|| (start, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advises_only_the_whole_huge_pages_inside_a_block() {
        let mib = 1 << 20;
        assert_eq!(whole_huge_pages(0, 8 * mib), None, "a null block");
        assert_eq!(
            whole_huge_pages(4096, mib),
            None,
            "smaller than a huge page"
        );
        assert_eq!(whole_huge_pages(2 * mib, 2 * mib), Some((2 * mib, 2 * mib)));
        // Starts 4 KiB after a boundary: the first whole page begins at the next one.
        assert_eq!(
            whole_huge_pages(2 * mib + 4096, 6 * mib),
            Some((4 * mib, 4 * mib))
        );
        assert_eq!(
            whole_huge_pages(2 * mib + 4096, 2 * mib),
            None,
            "straddles two"
        );
        assert_eq!(
            whole_huge_pages(usize::MAX - mib, 4 * mib),
            None,
            "wraps around"
        );
    }

    #[test]
    fn blocks_from_the_allocator_hold_what_was_written() {
        let layout = Layout::from_size_align(5 * HUGE_PAGE + 123, 64).unwrap();
        // SAFETY: a non-zero layout; the block is freed with the layout it was made with.
        unsafe {
            let block = HugePageAllocator.alloc_zeroed(layout);
            assert!(!block.is_null());
            assert!((0..layout.size()).step_by(4093).all(|i| *block.add(i) == 0));
            block.write_bytes(7, layout.size());
            let bigger = HugePageAllocator.realloc(block, layout, 7 * HUGE_PAGE);
            assert!(!bigger.is_null());
            assert!(
                (0..layout.size())
                    .step_by(4093)
                    .all(|i| *bigger.add(i) == 7)
            );
            let grown = Layout::from_size_align(7 * HUGE_PAGE, 64).unwrap();
            HugePageAllocator.dealloc(bigger, grown);
        }
    }
}
