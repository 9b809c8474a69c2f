//! The `inkread` binary: all of it lives in [`inkread::cli`].

/// Large tensors on transparent huge pages (see [`inkread::memory`]).
#[global_allocator]
static ALLOCATOR: inkread::memory::HugePageAllocator = inkread::memory::HugePageAllocator;

fn main() -> std::process::ExitCode {
    inkread::cli::main()
}
