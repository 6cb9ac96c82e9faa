//! Work on several threads, answers in list order: the objects step verifies and loads
//! independent objects this way ([`object_run`](super::object_run)). No effect leaves here but
//! what `f` returns; the caller applies them in order.
#![forbid(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// How many threads the objects step uses: `jobs`, 0 for every core.
pub fn jobs(jobs: usize) -> usize {
    match jobs {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `f` of every item, on up to `jobs` threads (this one among them), each answer at its item's
/// place. `None`: `f` panicked on that item (a build that unwinds; the release build aborts),
/// which is that item's failure only. A thread that cannot be started leaves its share to the
/// others; with none, this thread does it all.
pub fn map<T: Send, R: Send>(
    items: Vec<T>,
    jobs: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<Option<R>> {
    let n = items.len();
    let inputs: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let outputs: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let (Some(input), Some(output)) = (inputs.get(i), outputs.get(i)) else {
            break;
        };
        if let Some(item) = lock(input).take() {
            *lock(output) = catch_unwind(AssertUnwindSafe(|| f(item))).ok();
        }
    };
    let helpers = jobs.min(n).saturating_sub(1);
    std::thread::scope(|s| {
        let started: Vec<_> = (0..helpers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("bpf-preload-load".into())
                    .spawn_scoped(s, work)
                    .ok()
            })
            .collect();
        work();
        for t in started {
            // A panic was caught around `f`; nothing else in `work` panics.
            let _ = t.join();
        }
    });
    outputs
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn answers_keep_the_list_order_whatever_order_they_finish_in() {
        // The first items take longest: they finish last.
        let items: Vec<u64> = (0..8).collect();
        let out = map(items, 4, |i| {
            std::thread::sleep(Duration::from_millis(8 * (8 - i)));
            i * 10
        });
        let want: Vec<Option<u64>> = (0..8).map(|i| Some(i * 10)).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn a_panic_is_that_items_failure_only() {
        let out = map(vec![1, 2, 3], 2, |i| {
            if i == 2 {
                panic!("item 2");
            }
            i
        });
        assert_eq!(out, vec![Some(1), None, Some(3)]);
    }

    #[test]
    fn uses_several_threads_and_one_when_told() {
        let threads = |jobs| {
            let ids = map((0..6).collect::<Vec<u32>>(), jobs, |_| {
                std::thread::sleep(Duration::from_millis(20));
                std::thread::current().id()
            });
            let mut ids: Vec<String> = ids.into_iter().map(|t| format!("{t:?}")).collect();
            ids.sort();
            ids.dedup();
            ids.len()
        };
        assert_eq!(threads(1), 1);
        assert!(threads(3) > 1, "three jobs ran on one thread");
        assert_eq!(jobs(1), 1);
        assert!(jobs(0) >= 1);
    }
}
