//! Buffers of many megabytes (request bodies, decoded attachments) asked
//! to be backed by transparent huge pages.
//!
//! Why: such a buffer is new memory for nearly every request (the
//! allocator hands freed pages back to the kernel at once, see
//! `crate::allocator`), and faulting it in 4 KiB pages took about a
//! quarter of the server's CPU time in a 20 MB upload: ~12,000 page
//! faults for the body and the decoded bytes. With huge pages that is a
//! few dozen.

/// Smallest buffer worth advising: one huge page more than the size of a
/// huge page, so an aligned huge page always lies inside it.
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// A vector with room for `capacity` bytes, its large aligned part
/// advised for huge pages (Linux; elsewhere, and for small capacities, a
/// plain `Vec::with_capacity`). Only the kernel's choice of page size
/// changes: contents and semantics are those of any `Vec`.
pub fn vec_with_capacity(capacity: usize) -> Vec<u8> {
    let buffer = Vec::with_capacity(capacity);
    if capacity >= 2 * HUGE_PAGE {
        advise_huge_pages(&buffer);
    }
    buffer
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn advise_huge_pages(buffer: &Vec<u8>) {
    let start = buffer.as_ptr() as usize;
    let end = start + buffer.capacity();
    let first = start.next_multiple_of(HUGE_PAGE);
    let last = end - end % HUGE_PAGE;
    if last <= first {
        return;
    }
    // SAFETY: [first, last) lies inside the vector's own allocation, which
    // lives for this call; MADV_HUGEPAGE changes only how the kernel backs
    // those pages, never their contents or the mapping's validity. A
    // refusal (THP disabled, old kernel) is harmless and ignored.
    unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_HUGEPAGE,
        );
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn advise_huge_pages(_buffer: &Vec<u8>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_buffers_behave_as_vectors() {
        for capacity in [0, 10, 2 * HUGE_PAGE, 5 * HUGE_PAGE + 123] {
            let mut v = vec_with_capacity(capacity);
            assert!(v.capacity() >= capacity);
            v.extend((0..capacity).map(|i| (i % 251) as u8));
            assert!(v.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        }
    }
}
