//! One time budget for a whole query, shared by every stage, and enforced rather than requested.
//!
//! A [`Budget`] holds an optional deadline and a stop flag. Stages ask how much time is left
//! ([`Budget::remaining`]) to set their solvers' own limits, and poll [`Budget::is_stopped`]
//! between steps. Solvers that only check their limits between internal steps (Z3) or that run
//! for a long time in one call (HiGHS) register an interrupter ([`Budget::on_stop`]): when the
//! deadline passes, a watchdog thread sets the flag and calls every registered interrupter, so
//! the solver stops from another thread (Z3's `Z3_interrupt`, HiGHS's interrupt callback). The
//! same path serves an explicit [`Budget::stop`] (Ctrl-C, or the first answer of a portfolio).
//!
//! Shaped after egg's `RunnerLimits` (one place for every limit) and its typed stop reasons.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

type Interrupter = Box<dyn Fn() + Send + Sync>;

struct Inner {
    deadline: Option<Instant>,
    stop: AtomicBool,
    /// Whether the stop came from the deadline (a time-out) rather than an explicit stop.
    timed_out: AtomicBool,
    interrupters: Mutex<Vec<(u64, Interrupter)>>,
    next_id: AtomicU64,
    watchdog: Mutex<Option<Thread>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Wake the watchdog so that it sees the budget is gone and exits.
        if let Some(t) = self.watchdog.get_mut().ok().and_then(|t| t.take()) {
            t.unpark();
        }
    }
}

/// A query's time budget: a deadline (or none) and a stop flag. Cheap to clone; clones share
/// everything.
#[derive(Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").field("remaining", &self.remaining()).field("stopped", &self.is_stopped()).finish()
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::unlimited()
    }
}

impl Budget {
    fn with_deadline(deadline: Option<Instant>) -> Budget {
        let b = Budget {
            inner: Arc::new(Inner {
                deadline,
                stop: AtomicBool::new(false),
                timed_out: AtomicBool::new(false),
                interrupters: Mutex::new(Vec::new()),
                next_id: AtomicU64::new(0),
                watchdog: Mutex::new(None),
            }),
        };
        if let Some(d) = deadline {
            b.spawn_watchdog(d);
        }
        b
    }

    /// No deadline; stops only when [`Budget::stop`] is called.
    pub fn unlimited() -> Budget {
        Budget::with_deadline(None)
    }

    /// A deadline `limit` from now (`None`: unlimited).
    pub fn new(limit: Option<Duration>) -> Budget {
        Budget::with_deadline(limit.map(|l| Instant::now() + l))
    }

    fn spawn_watchdog(&self, deadline: Instant) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new().name("quiver-watchdog".into()).spawn(move || loop {
            let now = Instant::now();
            if now >= deadline {
                if let Some(inner) = weak.upgrade() {
                    Budget { inner }.fire(true);
                }
                return;
            }
            std::thread::park_timeout(deadline - now);
            if weak.strong_count() == 0 {
                return;
            }
        });
        // Without a watchdog (no thread could be spawned) the deadline is still honoured by
        // the stages that poll it.
        if let Ok(h) = spawned {
            if let Ok(mut w) = self.inner.watchdog.lock() {
                *w = Some(h.thread().clone());
            }
        }
    }

    fn fire(&self, timed_out: bool) {
        if timed_out {
            self.inner.timed_out.store(true, Ordering::SeqCst);
        }
        if self.inner.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        let list = self.inner.interrupters.lock().unwrap_or_else(|e| e.into_inner());
        for (_, f) in list.iter() {
            f();
        }
    }

    /// Stop every stage now (Ctrl-C; a portfolio's first answer). Idempotent.
    pub fn stop(&self) {
        self.fire(false);
    }

    /// Whether the budget is used up or stopped. Also true once the deadline has passed even if
    /// the watchdog has not fired yet.
    pub fn is_stopped(&self) -> bool {
        self.inner.stop.load(Ordering::SeqCst) || self.inner.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Whether the budget ended by its deadline (as opposed to an explicit stop).
    pub fn timed_out(&self) -> bool {
        self.inner.timed_out.load(Ordering::SeqCst)
            || (!self.inner.stop.load(Ordering::SeqCst) && self.inner.deadline.is_some_and(|d| Instant::now() >= d))
    }

    /// The flag set when the budget stops (for solvers that poll one, e.g. HiGHS's callback).
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.inner.stop
    }

    /// Time left before the deadline (`None`: no deadline; zero once passed or stopped).
    pub fn remaining(&self) -> Option<Duration> {
        if self.inner.stop.load(Ordering::SeqCst) {
            return Some(Duration::ZERO);
        }
        self.inner.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The smaller of the time left and `limit`.
    pub fn remaining_or(&self, limit: Duration) -> Duration {
        self.remaining().map_or(limit, |r| r.min(limit))
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }

    /// A budget that ends at `limit` from now, at this budget's deadline, or when this budget
    /// stops, whichever comes first — for a part of a solve (a leaf, a portfolio member) that
    /// can also be stopped on its own. The guard keeps the link; drop it with the child.
    pub fn child(&self, limit: Option<Duration>) -> (Budget, StopGuard) {
        let limit = match (limit, self.remaining()) {
            (Some(l), Some(r)) => Some(l.min(r)),
            (l, r) => l.or(r),
        };
        let child = Budget::new(limit);
        let c = child.clone();
        let guard = self.on_stop(move || c.stop());
        (child, guard)
    }

    /// Why a stage that this budget ended left its query open: the time limit if it ran out,
    /// else an interruption.
    pub fn stop_reason(&self, detail: impl Into<String>) -> crate::verdict::Unknown {
        if self.timed_out() {
            crate::verdict::Unknown::TimeLimit(detail.into())
        } else {
            crate::verdict::Unknown::Interrupted(detail.into())
        }
    }

    /// Call `f` (from the watchdog's or the stopping thread) when the budget stops; at once if it
    /// already has. The registration ends when the returned guard is dropped, so `f` may refer
    /// to a solver that lives as long as the guard.
    pub fn on_stop(&self, f: impl Fn() + Send + Sync + 'static) -> StopGuard {
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        let mut list = self.inner.interrupters.lock().unwrap_or_else(|e| e.into_inner());
        if self.inner.stop.load(Ordering::SeqCst) {
            f();
        }
        list.push((id, Box::new(f)));
        StopGuard { budget: Arc::downgrade(&self.inner), id }
    }
}

/// Keeps an interrupter registered with a [`Budget`]; dropping it unregisters (and waits for a
/// running call of it to finish, so the interrupter never outlives what it refers to).
pub struct StopGuard {
    budget: Weak<Inner>,
    id: u64,
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.budget.upgrade() {
            let mut list = inner.interrupters.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|(id, _)| *id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn the_watchdog_fires_interrupters_at_the_deadline() {
        let b = Budget::new(Some(Duration::from_millis(50)));
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let _g = b.on_stop(move || {
            h.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!b.is_stopped());
        let t = Instant::now();
        while hits.load(Ordering::SeqCst) == 0 && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert!(b.is_stopped() && b.timed_out());
        assert_eq!(b.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn an_explicit_stop_is_not_a_time_out_and_dropped_guards_are_not_called() {
        let b = Budget::unlimited();
        let hits = Arc::new(AtomicUsize::new(0));
        let (h1, h2) = (hits.clone(), hits.clone());
        let g1 = b.on_stop(move || {
            h1.fetch_add(1, Ordering::SeqCst);
        });
        let _g2 = b.on_stop(move || {
            h2.fetch_add(10, Ordering::SeqCst);
        });
        drop(g1);
        assert_eq!(b.remaining(), None);
        b.stop();
        b.stop();
        assert_eq!(hits.load(Ordering::SeqCst), 10);
        assert!(b.is_stopped() && !b.timed_out());
        // Registering after the stop calls at once.
        let h3 = hits.clone();
        let _g3 = b.on_stop(move || {
            h3.fetch_add(100, Ordering::SeqCst);
        });
        assert_eq!(hits.load(Ordering::SeqCst), 110);
    }
}
