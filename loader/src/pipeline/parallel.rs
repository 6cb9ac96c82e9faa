//! Work on several threads, effects in list order: the objects step checks and loads
//! independent objects this way ([`object_run`](super::object_run)). Each item goes through
//! four steps: `check` on any thread; [`InOrder::decide`] on this thread in list order, which
//! either gives the threads more `work` for the item or its answer at once; then
//! [`InOrder::apply`] on this thread in list order. No effect leaves here but what the steps
//! return and what the two in-order steps do themselves. This thread does an in-order step as
//! soon as one can be done and otherwise works beside the others, so one item is decided and
//! loaded while later ones are still checked, and applied while later ones still load.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
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

/// What [`InOrder::decide`] makes of an item: work for the threads, or its answer now.
pub enum Next<L, D> {
    Work(L),
    Done(D),
}

/// The two steps of [`pipeline`] that run on the calling thread, each in list order.
pub trait InOrder<C, L, D> {
    /// Item `i`'s checked value (`None`: `check` panicked on it), after every earlier item's
    /// decision.
    fn decide(&mut self, i: usize, checked: Option<C>) -> Next<L, D>;
    /// Item `i`'s answer (`None`: `work` panicked on it), after every earlier item's.
    fn apply(&mut self, i: usize, answer: Option<D>);
}

/// One item through `check`, `steps.decide`, `work` (if decided so) and `steps.apply`, on up to
/// `jobs` threads (this one among them; the in-order steps only here). A panic in `check` or
/// `work` (a build that unwinds; the release build aborts) is that item's failure only. A
/// thread that cannot be started leaves its share to the others; with none, this thread does it
/// all, in the same order.
pub fn pipeline<T, C, L, D>(
    items: Vec<T>,
    jobs: usize,
    check: impl Fn(T) -> C + Sync,
    work: impl Fn(L) -> D + Sync,
    steps: &mut impl InOrder<C, L, D>,
) where
    T: Send,
    C: Send,
    L: Send,
    D: Send,
{
    let n = items.len();
    let shared = Shared {
        queues: Mutex::new(Queues {
            to_check: items.into_iter().enumerate().collect(),
            checked: (0..n).map(|_| None).collect(),
            to_work: VecDeque::new(),
            answers: (0..n).map(|_| None).collect(),
            all_decided: n == 0,
        }),
        signal: Condvar::new(),
    };
    let (check, work) = (&check, &work);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(n).saturating_sub(1) {
            let shared = &shared;
            let _ = std::thread::Builder::new()
                .name("bpf-preload-load".into())
                .spawn_scoped(s, move || {
                    while let Some(task) = shared.next_task() {
                        shared.run(task, check, work);
                    }
                });
        }
        // However this thread leaves (a panic in a step of a build that unwinds), the helpers
        // stop waiting for work that will not come; the scope's end waits for them.
        let _stop = Stop(&shared);
        shared.in_order(n, check, work, steps);
    });
}

/// The state every thread of [`pipeline`] works on, behind one lock (each step takes far
/// longer than taking it).
struct Shared<T, C, L, D> {
    queues: Mutex<Queues<T, C, L, D>>,
    /// "Something changed": an item checked or worked on, work added, or no more to come.
    signal: Condvar,
}

struct Queues<T, C, L, D> {
    /// Items not yet checked, in list order.
    to_check: VecDeque<(usize, T)>,
    /// By item: `Some` once checked (the inner `None`: `check` panicked), until decided.
    checked: Vec<Option<Option<C>>>,
    /// Decided work nobody has started, in list order.
    to_work: VecDeque<(usize, L)>,
    /// By item: `Some` once it has its answer (the inner `None`: `work` panicked), until
    /// applied.
    answers: Vec<Option<Option<D>>>,
    /// Every item is decided: once `to_check` and `to_work` are empty, no task will come.
    all_decided: bool,
}

enum Task<T, L> {
    Check(usize, T),
    Work(usize, L),
}

impl<T, C, L, D> Shared<T, C, L, D> {
    fn queues(&self) -> MutexGuard<'_, Queues<T, C, L, D>> {
        lock(&self.queues)
    }

    fn wait<'g>(
        &self,
        g: MutexGuard<'g, Queues<T, C, L, D>>,
    ) -> MutexGuard<'g, Queues<T, C, L, D>> {
        self.signal.wait(g).unwrap_or_else(|e| e.into_inner())
    }

    /// A helper's next task: work first (its item is further along), then a check; waits while
    /// there is none but more may come. `None`: nothing left to do.
    fn next_task(&self) -> Option<Task<T, L>> {
        let mut q = self.queues();
        loop {
            if let Some(task) = q.take_task(false) {
                return Some(task);
            }
            if q.all_decided {
                return None;
            }
            q = self.wait(q);
        }
    }

    /// One task on this thread; its value stored, and the signal.
    fn run(
        &self,
        task: Task<T, L>,
        check: &(impl Fn(T) -> C + Sync),
        work: &(impl Fn(L) -> D + Sync),
    ) {
        match task {
            Task::Check(i, item) => {
                let c = catch_unwind(AssertUnwindSafe(|| check(item))).ok();
                if let Some(slot) = self.queues().checked.get_mut(i) {
                    *slot = Some(c);
                }
            }
            Task::Work(i, item) => {
                let d = catch_unwind(AssertUnwindSafe(|| work(item))).ok();
                if let Some(slot) = self.queues().answers.get_mut(i) {
                    *slot = Some(d);
                }
            }
        }
        self.signal.notify_all();
    }

    /// The calling thread's part: decide and apply each item in list order as soon as it can;
    /// meanwhile check and work beside the helpers (checks first: they lead to decisions).
    fn in_order(
        &self,
        n: usize,
        check: &(impl Fn(T) -> C + Sync),
        work: &(impl Fn(L) -> D + Sync),
        steps: &mut impl InOrder<C, L, D>,
    ) {
        let (mut decided, mut applied) = (0, 0);
        while applied < n {
            let mut q = self.queues();
            if let Some(c) = q.checked.get_mut(decided).and_then(Option::take) {
                drop(q);
                let next = steps.decide(decided, c);
                let mut q = self.queues();
                match next {
                    Next::Work(l) => q.to_work.push_back((decided, l)),
                    Next::Done(d) => {
                        if let Some(slot) = q.answers.get_mut(decided) {
                            *slot = Some(Some(d));
                        }
                    }
                }
                decided += 1;
                q.all_decided = decided == n;
                drop(q);
                self.signal.notify_all();
                continue;
            }
            if applied < decided {
                if let Some(d) = q.answers.get_mut(applied).and_then(Option::take) {
                    drop(q);
                    steps.apply(applied, d);
                    applied += 1;
                    continue;
                }
            }
            match q.take_task(true) {
                Some(task) => {
                    drop(q);
                    self.run(task, check, work);
                }
                // What this thread waits for is a task on another thread: its end signals.
                None => drop(self.wait(q)),
            }
        }
    }
}

impl<T, C, L, D> Queues<T, C, L, D> {
    /// The next task nobody has started: a check or work, whichever `checks_first` prefers.
    fn take_task(&mut self, checks_first: bool) -> Option<Task<T, L>> {
        let check = |q: &mut Self| q.to_check.pop_front().map(|(i, t)| Task::Check(i, t));
        let work = |q: &mut Self| q.to_work.pop_front().map(|(i, l)| Task::Work(i, l));
        if checks_first {
            check(self).or_else(|| work(self))
        } else {
            work(self).or_else(|| check(self))
        }
    }
}

/// Ends the helpers' wait when the calling thread leaves [`pipeline`]'s scope.
struct Stop<'s, T, C, L, D>(&'s Shared<T, C, L, D>);

impl<T, C, L, D> Drop for Stop<'_, T, C, L, D> {
    fn drop(&mut self) {
        let mut q = self.0.queues();
        q.to_check.clear();
        q.to_work.clear();
        q.all_decided = true;
        drop(q);
        self.0.signal.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::ThreadId;
    use std::time::Duration;

    /// Records the in-order steps: `decide` sends item `i` to work unless `done(i)`.
    struct Record {
        done: fn(usize) -> bool,
        decided: Vec<(usize, Option<u64>)>,
        applied: Vec<(usize, Option<u64>)>,
        log: &'static Mutex<Vec<String>>,
        panic_at: Option<usize>,
    }

    impl Record {
        fn new(done: fn(usize) -> bool, log: &'static Mutex<Vec<String>>) -> Self {
            Record {
                done,
                decided: Vec::new(),
                applied: Vec::new(),
                log,
                panic_at: None,
            }
        }
    }

    impl InOrder<u64, u64, u64> for Record {
        fn decide(&mut self, i: usize, checked: Option<u64>) -> Next<u64, u64> {
            if self.panic_at == Some(i) {
                panic!("decide {i}");
            }
            self.decided.push((i, checked));
            match checked {
                Some(c) if !(self.done)(i) => Next::Work(c),
                Some(c) => Next::Done(c + 1000),
                None => Next::Done(0),
            }
        }
        fn apply(&mut self, i: usize, answer: Option<u64>) {
            lock(self.log).push(format!("apply {i}"));
            self.applied.push((i, answer));
        }
    }

    fn log() -> &'static Mutex<Vec<String>> {
        Box::leak(Box::new(Mutex::new(Vec::new())))
    }

    #[test]
    fn every_item_is_decided_and_applied_in_list_order_whatever_order_the_threads_finish_in() {
        // The first items take longest to check and to work on: they finish last.
        let mut r = Record::new(|i| i % 3 == 2, log());
        pipeline(
            (0..8u64).collect(),
            4,
            |i| {
                std::thread::sleep(Duration::from_millis(3 * (8 - i)));
                i * 10
            },
            |c| {
                std::thread::sleep(Duration::from_millis(3 * (80 - c) / 10));
                c + 1
            },
            &mut r,
        );
        let decided: Vec<_> = (0..8u64).map(|i| (i as usize, Some(i * 10))).collect();
        assert_eq!(r.decided, decided);
        // Items 2 and 5 were done at their decision: their answer, no work.
        let applied: Vec<_> = (0..8u64)
            .map(|i| {
                (
                    i as usize,
                    Some(if i % 3 == 2 {
                        i * 10 + 1000
                    } else {
                        i * 10 + 1
                    }),
                )
            })
            .collect();
        assert_eq!(r.applied, applied);
    }

    #[test]
    fn a_panic_in_check_or_work_is_that_items_failure_only() {
        let mut r = Record::new(|_| false, log());
        pipeline(
            vec![1u64, 2, 3, 4],
            2,
            |i| {
                assert_ne!(i, 2, "check of item 2");
                i
            },
            |c| {
                assert_ne!(c, 4, "work of item 4");
                c
            },
            &mut r,
        );
        assert_eq!(
            r.decided,
            vec![(0, Some(1)), (1, None), (2, Some(3)), (3, Some(4))]
        );
        // Item 1's failed check is decided as done (0); item 3's work panicked.
        assert_eq!(
            r.applied,
            vec![(0, Some(1)), (1, Some(0)), (2, Some(3)), (3, None)]
        );
    }

    #[test]
    fn an_item_is_applied_while_later_items_are_still_checked() {
        // Item 0 is checked at once, every later one takes 30 ms: with every check done
        // before the first decision (the objects step before this one), "apply 0" would come
        // after the last check.
        static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut r = Record::new(|_| false, &LOG);
        pipeline(
            (0..8u64).collect(),
            2,
            |i| {
                if i > 0 {
                    std::thread::sleep(Duration::from_millis(30));
                }
                lock(&LOG).push(format!("check {i}"));
                i
            },
            |c| c,
            &mut r,
        );
        let log = lock(&LOG).clone();
        let applied_first = log.iter().position(|l| l == "apply 0");
        let last_check = log.iter().rposition(|l| l.starts_with("check "));
        assert!(applied_first < last_check, "{log:?}");
        assert_eq!(r.applied.len(), 8);
    }

    #[test]
    fn several_threads_work_and_one_when_told_and_that_one_is_this_one() {
        static THREADS: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());
        let threads = |jobs| {
            lock(&THREADS).clear();
            let mut r = Record::new(|_| false, log());
            let note = |x: u64| {
                std::thread::sleep(Duration::from_millis(10));
                lock(&THREADS).push(std::thread::current().id());
                x
            };
            pipeline((0..6u64).collect(), jobs, note, note, &mut r);
            assert_eq!(r.applied.len(), 6);
            let mut ids = lock(&THREADS).clone();
            ids.sort_by_key(|t| format!("{t:?}"));
            ids.dedup();
            ids
        };
        assert_eq!(threads(1), vec![std::thread::current().id()]);
        assert!(threads(3).len() > 1, "three jobs ran on one thread");
        assert_eq!(jobs(1), 1);
        assert!(jobs(0) >= 1);
    }

    #[test]
    fn no_items_no_steps() {
        let mut r = Record::new(|_| false, log());
        pipeline(Vec::<u64>::new(), 4, |i| i, |c| c, &mut r);
        assert!(r.decided.is_empty() && r.applied.is_empty());
    }

    #[test]
    fn a_panic_in_an_in_order_step_stops_the_helpers_instead_of_leaving_them_waiting() {
        // Without the stop, the helpers would wait for work forever and the scope with them:
        // this test would never end.
        let mut r = Record::new(|_| false, log());
        r.panic_at = Some(1);
        let out = catch_unwind(AssertUnwindSafe(|| {
            pipeline((0..6u64).collect(), 3, |i| i, |c| c, &mut r);
        }));
        assert!(out.is_err());
        assert_eq!(r.decided, vec![(0, Some(0))]);
    }
}
