//! The process's memory allocator: mimalloc, declared here in the library
//! so that every program built on it (the gateway, the bench, the tests)
//! allocates the same way, and the memory bounds the tests measure are
//! those of the allocator that ships.
//!
//! Why mimalloc: glibc's malloc and free took 30-45 % of the CPU in bulk
//! work (delivering 100,000 waiting messages, writing a population of
//! boxes, many concurrent requests), mostly under sled's node copies and
//! transaction write sets of many small blocks. mimalloc's per-thread
//! free lists cost a fraction of that; docs/benchmarks.md ("The
//! allocator") has the figures side by side.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Two of mimalloc's options, set before the program's first allocation
/// (an `.init_array` entry runs after mimalloc's own, which has the
/// highest priority, and before Rust's runtime starts). Each keeps the
/// resident memory near glibc's, measured with the bench on a host with
/// transparent huge pages always on:
/// - `arena_eager_commit` 0: by default mimalloc maps its first 1 GiB
///   arena read-write at once, and the kernel then backs every touched
///   2 MiB of it with a huge page: the idle gateway took 75 MiB (58 of
///   them huge pages) against glibc's 17.
/// - `purge_delay` 10 ms: freed pages go back to the kernel 10 ms after
///   they were freed (at the next allocation or free after that), so a
///   burst (Argon2's 19 MiB per login hash, a 20 MB body) does not stay
///   resident while the server is quiet. At 0 (returned the moment they
///   are freed) a busy server gave back and faulted in the same pages
///   request after request: with 16 clients searching a million boxes,
///   page faults, zeroing and TLB shootdowns were 15 % of the gateway's
///   time, and FindDataBox by name cost 0.545 against 0.405 ms of CPU a
///   query (docs/search.md).
///
/// An option set in the environment (`MIMALLOC_ARENA_EAGER_COMMIT`,
/// `MIMALLOC_PURGE_DELAY`) is left as the operator set it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE: extern "C" fn() = configure;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn configure() {
    use libmimalloc_sys::{mi_option_set, mi_option_t};
    // The numbers of `mi_option_arena_eager_commit` and
    // `mi_option_purge_delay` in mimalloc.h (the sys crate names only the
    // options of its first versions).
    const ARENA_EAGER_COMMIT: mi_option_t = 4;
    const PURGE_DELAY: mi_option_t = 15;
    for (option, variable, value) in [
        (ARENA_EAGER_COMMIT, c"MIMALLOC_ARENA_EAGER_COMMIT", 0),
        (PURGE_DELAY, c"MIMALLOC_PURGE_DELAY", 10),
    ] {
        // SAFETY: getenv reads the environment, which nothing writes
        // while constructors run; mi_option_set only stores a value.
        unsafe {
            if libc::getenv(variable.as_ptr()).is_null() {
                mi_option_set(option, value);
            }
        }
    }
}

/// Hands the memory the allocator holds free back to the kernel at once.
/// A request that built millions of small blocks (a large document
/// refused for its structure) leaves as much freed memory behind: under
/// glibc it stayed resident for good (measured with three 20 MB bodies of
/// elements with 63 empty attributes each, 544 MiB against a baseline of
/// 52, until `malloc_trim` was called here). `mi_collect(true)` frees
/// the pages mimalloc still keeps for this thread and purges what is
/// pending. It costs a walk over the heap, so it is called only after
/// such a request, not after every one.
pub fn release_free_memory() {
    // SAFETY: mi_collect only frees the allocator's own unused pages and
    // caches; no block in use moves or changes.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
