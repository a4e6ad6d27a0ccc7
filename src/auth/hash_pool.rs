//! A fixed pool of threads for password hashing. Argon2 takes ~19 MiB per
//! run; run on tokio's growing blocking pool, each new thread's allocator
//! arena keeps its last 19 MiB, so a burst of first logins left hundreds of
//! megabytes resident. A few long-lived threads bound both the memory and
//! the cores spent on hashing.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Runs closures on a fixed set of worker threads.
pub(super) struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// The pool's workers are gone (only if a worker thread could not start).
#[derive(Debug, thiserror::Error)]
#[error("the password hashing threads are not running")]
pub struct PoolGone;

impl HashPool {
    /// Starts `threads` workers (at least one).
    pub(super) fn new(threads: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking a job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the pool was dropped
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password hashing thread");
            }
        }
        Self {
            jobs: Mutex::new(tx),
        }
    }

    /// Runs `f` on a worker and waits for its result without blocking the
    /// async runtime.
    pub(super) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, PoolGone> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .lock()
            .map_err(|_| PoolGone)?
            .send(job)
            .map_err(|_| PoolGone)?;
        rx.await.map_err(|_| PoolGone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_concurrently_up_to_its_size() {
        let pool = Arc::new(HashPool::new(2));
        let mut handles = Vec::new();
        for i in 0..8u64 {
            let pool = pool.clone();
            handles.push(tokio::spawn(async move { pool.run(move || i * i).await }));
        }
        let mut results = Vec::new();
        for h in handles {
            results.push(h.await.unwrap().unwrap());
        }
        results.sort();
        assert_eq!(results, vec![0, 1, 4, 9, 16, 25, 36, 49]);
    }
}
