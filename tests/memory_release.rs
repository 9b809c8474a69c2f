//! The freed memory the process keeps for the next job goes back to the kernel when asked
//! (the app asks whenever its worker goes idle). Its own test binary without libtest's
//! harness (Cargo.toml): resident memory is a per-process figure that other tests would
//! blur, and the blocks must come from the main thread's heap, the one glibc keeps (the
//! heaps of other threads' arenas go back when empty anyway).

use inkread::memory::{give_back_freed_memory, keep_freed_memory};

/// Resident memory of this process in bytes (Linux's `/proc/self/statm`).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn main() {
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        kept_memory_is_given_back_when_asked();
    } else {
        eprintln!("memory_release: NOT RUN: only glibc keeps freed memory this way");
    }
}

fn kept_memory_is_given_back_when_asked() {
    keep_freed_memory();
    const BLOCK: usize = 16 << 20;
    // 40 blocks of 16 MiB, written so that they are resident, then freed: under the 1 GiB
    // glibc now keeps, so the process still holds them.
    let blocks: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i | 1; BLOCK]).collect();
    assert!(blocks.iter().all(|b| b[BLOCK / 2] != 0));
    drop(blocks);
    let kept = resident_bytes();
    give_back_freed_memory();
    let after = resident_bytes();
    assert!(
        after + 400 * (1 << 20) < kept,
        "resident {} MiB before giving back, {} MiB after",
        kept >> 20,
        after >> 20
    );
    println!(
        "memory_release: ok: {} MiB resident while kept, {} MiB after giving back",
        kept >> 20,
        after >> 20
    );
}
