//! The threads the box searches of db_search run on: one per core, fed
//! in arrival order.
//!
//! A search is CPU work from memory (the in-memory index, the records kept
//! with it), so more at once only share the cores: with 16 clients on 2
//! cores every search would run at an eighth of a core's speed, and a long
//! one (a hundred boxes to answer) would take eight times its own time.
//! Waiting in line (first come, first served) instead keeps each search at
//! full speed once it starts.
//!
//! Threads of their own rather than tokio's blocking pool behind a
//! semaphore: the pool hands each job to whichever of its threads is idle
//! and starts another while none is, so under 16 clients the searches
//! spread over many threads, each with cold caches (its share of the
//! allocator, its set of box numbers), and every search paid a permit, a
//! task and a wake-up of the pool. Side by side at a million boxes and 16
//! clients (docs/benchmarks.md): FindDataBox by IČ 0.157-0.169 -> 0.112-
//! 0.120 ms of gateway CPU a query, by name 0.53-0.56 -> 0.41-0.46 ms,
//! full text 0.49-0.52 -> 0.37-0.40 ms (p99 9.8-10.8 -> 7.0-7.7 ms).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

/// A search that did not answer: its thread panicked, or none could be
/// started.
#[derive(Debug, thiserror::Error)]
#[error("the search failed on its thread")]
pub struct SearchFailed;

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` on one of the search threads, after the searches sent before
/// it have started, and returns what it returns.
pub(super) async fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SearchFailed> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // A panic is the search's alone: the thread goes on with the next
        // one, and the caller learns of it from the dropped sender.
        if let Ok(v) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
            let _ = answer.send(v);
        }
    });
    queue().send(job).map_err(|_| SearchFailed)?;
    answered.await.map_err(|_| SearchFailed)
}

/// The queue of the search threads, started on first use.
fn queue() -> &'static Sender<Job> {
    static QUEUE: OnceLock<Sender<Job>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (send, receive) = channel::<Job>();
        let receive = Arc::new(Mutex::new(receive));
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        for n in 0..cores {
            let receive = receive.clone();
            let started = std::thread::Builder::new()
                .name(format!("search-{n}"))
                .spawn(move || serve(&receive));
            if let Err(e) = started {
                // Fewer threads search more slowly; with none the receiver
                // is dropped and every search fails with SearchFailed.
                tracing::error!(error = %e, "a search thread could not be started");
            }
        }
        send
    })
}

/// Runs the queue's jobs one after another until the queue is gone.
fn serve(receive: &Mutex<Receiver<Job>>) {
    loop {
        // Jobs catch their own panics, so the lock is never poisoned by
        // one; the receiver is taken as it is if it were.
        let job = match receive.lock() {
            Ok(r) => r.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_search_fails_alone_and_the_threads_go_on() {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        // More panics than threads: had one ended its thread, the searches
        // after them would never be answered.
        for _ in 0..cores + 1 {
            let failed = run(|| -> u32 { panic!("a search that panics") }).await;
            assert!(failed.is_err());
        }
        let answers: Vec<u32> =
            futures_util::future::join_all((0..8u32).map(|i| run(move || i * 2)))
                .await
                .into_iter()
                .map(|r| r.expect("answered"))
                .collect();
        assert_eq!(answers, [0, 2, 4, 6, 8, 10, 12, 14]);
    }
}
