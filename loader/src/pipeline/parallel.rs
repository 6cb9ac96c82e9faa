//! Work on several threads, answers in list order: the objects step verifies and loads
//! independent objects this way ([`object_run`](super::object_run)). No effect leaves here but
//! what `f` returns; the caller applies them in order ([`map`]: all answers at the end;
//! [`map_in_order`]: each answer as soon as it is there, while the others are still worked on).
#![forbid(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

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
    let state = Ordered::new(items);
    std::thread::scope(|s| {
        state.start_helpers(s, jobs, &f);
        state.work_all(&f);
        // The scope's end waits for the helpers' last items.
    });
    state
        .outputs
        .into_iter()
        .map(
            |m| match m.into_inner().unwrap_or_else(|e| e.into_inner()) {
                Slot::Done(answer) => answer,
                Slot::Pending | Slot::Taken => None,
            },
        )
        .collect()
}

/// One item's answer, as [`map`] and [`map_in_order`] keep it.
enum Slot<R> {
    Pending,
    /// `None`: `f` panicked on it.
    Done(Option<R>),
    Taken,
}

/// The shared state of [`map`] and [`map_in_order`]: items not started, answers, and a signal for "an answer
/// is there" (the counter only serves the condition variable).
struct Ordered<T, R> {
    inputs: Vec<Mutex<Option<T>>>,
    outputs: Vec<Mutex<Slot<R>>>,
    next: AtomicUsize,
    finished: Mutex<usize>,
    signal: Condvar,
}

impl<T, R> Ordered<T, R> {
    fn new(items: Vec<T>) -> Self {
        let n = items.len();
        Self {
            inputs: items.into_iter().map(|t| Mutex::new(Some(t))).collect(),
            outputs: (0..n).map(|_| Mutex::new(Slot::Pending)).collect(),
            next: AtomicUsize::new(0),
            finished: Mutex::new(0),
            signal: Condvar::new(),
        }
    }

    /// Up to `jobs - 1` threads that work on unstarted items until there are none. A thread
    /// that cannot be started leaves its share to the others and to this one.
    fn start_helpers<'s>(
        &'s self,
        s: &'s std::thread::Scope<'s, '_>,
        jobs: usize,
        f: &'s (impl Fn(T) -> R + Sync),
    ) where
        T: Send,
        R: Send,
    {
        for _ in 0..jobs.min(self.inputs.len()).saturating_sub(1) {
            let _ = std::thread::Builder::new()
                .name("bpf-preload-load".into())
                .spawn_scoped(s, move || self.work_all(f));
        }
    }

    /// Work on unstarted items, on this thread, until there are none.
    fn work_all(&self, f: &(impl Fn(T) -> R + Sync)) {
        while let Some(i) = self.claim(usize::MAX) {
            self.work(i, f);
        }
    }

    /// Claim the next item nobody has started, if its index is at most `limit`.
    fn claim(&self, limit: usize) -> Option<usize> {
        let mut i = self.next.load(Ordering::Relaxed);
        loop {
            if i > limit || i >= self.inputs.len() {
                return None;
            }
            match self
                .next
                .compare_exchange_weak(i, i + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(i),
                Err(now) => i = now,
            }
        }
    }

    /// Item `i`'s work, on this thread, and the signal that its answer is there.
    fn work(&self, i: usize, f: &(impl Fn(T) -> R + Sync)) {
        let (Some(input), Some(output)) = (self.inputs.get(i), self.outputs.get(i)) else {
            return;
        };
        if let Some(item) = lock(input).take() {
            let answer = catch_unwind(AssertUnwindSafe(|| f(item))).ok();
            *lock(output) = Slot::Done(answer);
            // The answer is stored before the signal's lock is taken: a waiter that found it
            // missing under that lock is waiting by the time this notifies.
            *lock(&self.finished) += 1;
            self.signal.notify_all();
        }
    }

    /// Item `k`'s answer, once. While it is not started, this thread works on the items up to
    /// it; once another thread has it, this one waits (it never starts a later item, so `k`'s
    /// answer is applied as soon as it is there). `None`: no such item, taken already, or `f`
    /// panicked on it.
    fn take(&self, k: usize, f: &(impl Fn(T) -> R + Sync)) -> Option<R> {
        let output = self.outputs.get(k)?;
        while let Some(i) = self.claim(k) {
            self.work(i, f);
        }
        let mut finished = lock(&self.finished);
        loop {
            // (A binding, not a match on the call: the guard of `lock` must be gone before
            // the Pending arm locks the slot again.)
            let was = std::mem::replace(&mut *lock(output), Slot::Taken);
            match was {
                Slot::Done(answer) => return answer,
                Slot::Taken => return None,
                Slot::Pending => *lock(output) = Slot::Pending,
            }
            finished = self
                .signal
                .wait(finished)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// `f` of every item, on up to `jobs` threads (this one among them), while `consume` runs on
/// this thread and takes each answer by its index with the function it is given (once; `None`:
/// no such item, taken already, or `f` panicked on it). Taking an answer that is not there yet
/// puts this thread to work on the items up to it that nobody has started, then waits: so
/// `consume` applies the first answers while the other threads still work on later ones. Items
/// `consume` never takes are still worked on; their answers are dropped at the end.
pub fn map_in_order<T: Send, R: Send, O>(
    items: Vec<T>,
    jobs: usize,
    f: impl Fn(T) -> R + Sync,
    consume: impl FnOnce(&mut dyn FnMut(usize) -> Option<R>) -> O,
) -> O {
    let state = Ordered::new(items);
    std::thread::scope(|s| {
        let f = &f;
        state.start_helpers(s, jobs, f);
        consume(&mut |k| state.take(k, f))
    })
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

    #[test]
    fn in_order_answers_come_to_this_thread_by_index() {
        // The first items take longest: they finish last; consume asks for them first.
        let consumer = std::thread::current().id();
        let out = map_in_order(
            (0..8).collect::<Vec<u64>>(),
            4,
            |i| {
                std::thread::sleep(Duration::from_millis(4 * (8 - i)));
                i * 10
            },
            |take| {
                let got: Vec<_> = (0..8).map(&mut *take).collect();
                assert_eq!(std::thread::current().id(), consumer);
                // Once only, and nothing beyond the list.
                (got, take(3), take(8))
            },
        );
        let want: Vec<Option<u64>> = (0..8).map(|i| Some(i * 10)).collect();
        assert_eq!(out, (want, None, None));
    }

    #[test]
    fn in_order_the_first_answer_is_applied_while_later_items_still_run() {
        // Item 0 is quick, item 1 waits until consume has seen item 0: with answers only at
        // the end (as `map` gives them) this would never finish; a timeout makes it fail.
        let (seen_tx, seen_rx) = std::sync::mpsc::channel::<()>();
        let seen_rx = Mutex::new(seen_rx);
        let out = map_in_order(
            vec![0u32, 1],
            2,
            |i| match i {
                0 => true,
                _ => lock(&seen_rx).recv_timeout(Duration::from_secs(10)).is_ok(),
            },
            |take| {
                let first = take(0);
                seen_tx.send(()).ok();
                (first, take(1))
            },
        );
        assert_eq!(out, (Some(true), Some(true)));
    }

    #[test]
    fn in_order_on_one_thread_the_taker_does_the_work() {
        let out = map_in_order(
            vec![1, 2, 3],
            1,
            |i| {
                if i == 2 {
                    panic!("item 2");
                }
                (i, std::thread::current().id())
            },
            |take| (take(2), take(1), take(0)),
        );
        let me = std::thread::current().id();
        assert_eq!(out, (Some((3, me)), None, Some((1, me))));
    }
}
