//! The load queue: where the groups written to the segments wait for the loader, in file order.
//!
//! Why not a channel: without `--fsync`, request handlers append their own records to the
//! segment (see `appender.rs`), one small write each. The queue joins the contiguous ranges of
//! those writes into one [`Batch`], so that the loader reads each run back with one read and
//! the queue stays a handful of entries under load; and a handler can see whether there is room
//! *before* it writes (a full channel is found out only after the record is on disk).
//!
//! Order: every push happens under the segment's lock, right after the append it describes, so
//! the queue's order is the file's order, which the loader's progress offset relies on.

use super::loader::Batch;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Most bytes of segment one joined batch covers: the loader reads a batch back into one
/// buffer, so a batch joined without limit while the loader stalls (a WAL reset, a slow disk)
/// would be read back as one allocation of megabytes.
const JOIN_MAX_BYTES: u64 = 256 * 1024;

/// Batches waiting for the loader, bounded in records.
pub struct LoadQueue {
    state: Mutex<State>,
    /// The loader waits here while the queue is empty.
    filled: Condvar,
    /// The writer thread waits here while the queue is full.
    emptied: Condvar,
    /// Most records waiting; beyond it the handlers' fast path steps aside and the writer
    /// thread waits (back-pressure, instead of an unbounded backlog when SQLite stalls).
    cap: usize,
}

#[derive(Default)]
struct State {
    batches: VecDeque<Batch>,
    records: usize,
    closed: bool,
    loader_waiting: bool,
}

impl LoadQueue {
    pub fn new(cap: usize) -> LoadQueue {
        LoadQueue {
            state: Mutex::default(),
            filled: Condvar::new(),
            emptied: Condvar::new(),
            cap,
        }
    }

    /// A panic elsewhere while holding the lock leaves the state consistent (every change is
    /// one assignment or one push), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `records` more fit (an empty queue takes any group, however large).
    pub fn has_room(&self, records: usize) -> bool {
        let s = self.lock();
        s.records == 0 || s.records + records <= self.cap
    }

    /// Waits until `records` more fit, or the queue is closed.
    pub fn wait_for_room(&self, records: usize) {
        let mut s = self.lock();
        while !(s.closed || s.records == 0 || s.records + records <= self.cap) {
            s = self.emptied.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Adds `b` at the back; joined to the last batch when it continues it in the same segment,
    /// neither carries a `/ready` probe (a probe is answered after its own batch loads) and the
    /// joined batch stays within [`JOIN_MAX_BYTES`].
    pub fn push(&self, b: Batch) {
        let mut s = self.lock();
        s.records += b.records;
        match s.batches.back_mut() {
            Some(last)
                if last.segment == b.segment
                    && last.end == b.start
                    && last.probes.is_empty()
                    && b.probes.is_empty()
                    && b.end - last.start <= JOIN_MAX_BYTES =>
            {
                last.end = b.end;
                last.records += b.records;
            }
            _ => s.batches.push_back(b),
        }
        if s.loader_waiting {
            s.loader_waiting = false;
            self.filled.notify_one();
        }
    }

    /// No more batches come: the loader takes what is queued and then stops.
    pub fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        self.filled.notify_all();
        self.emptied.notify_all();
    }

    /// The loader's side: waits for a batch, lets more gather for `gather` (sleeping, so that
    /// pushes do not wake it), then moves batches in order into `into` until they hold `max`
    /// records (at least one batch). False once the queue is closed and empty.
    pub fn take(&self, gather: Duration, max: usize, into: &mut Vec<Batch>) -> bool {
        let mut s = self.lock();
        while s.batches.is_empty() {
            if s.closed {
                return false;
            }
            s.loader_waiting = true;
            s = self.filled.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        drop(s);
        std::thread::sleep(gather);
        let mut s = self.lock();
        let mut n = 0;
        while let Some(b) = s.batches.pop_front() {
            n += b.records;
            s.records -= b.records;
            into.push(b);
            if n >= max {
                break;
            }
        }
        self.emptied.notify_all();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(segment: u64, start: u64, end: u64, records: usize) -> Batch {
        Batch {
            segment,
            start,
            end,
            records,
            probes: Vec::new(),
        }
    }

    fn ranges(q: &LoadQueue) -> Vec<(u64, u64, u64, usize)> {
        let mut v = Vec::new();
        q.close();
        while q.take(Duration::ZERO, usize::MAX, &mut v) {}
        v.iter()
            .map(|b| (b.segment, b.start, b.end, b.records))
            .collect()
    }

    #[test]
    fn contiguous_writes_join_into_one_batch() {
        let q = LoadQueue::new(100);
        q.push(batch(1, 0, 10, 1));
        q.push(batch(1, 10, 25, 1));
        q.push(batch(1, 25, 30, 2));
        // A new segment, and a gap (a write cut off after a failure leaves none, but the queue
        // must not assume it): each starts a batch of its own.
        q.push(batch(2, 0, 8, 1));
        q.push(batch(2, 9, 12, 1));
        assert_eq!(ranges(&q), [(1, 0, 30, 4), (2, 0, 8, 1), (2, 9, 12, 1)]);
    }

    #[test]
    fn joined_batches_stay_within_the_byte_bound() {
        let q = LoadQueue::new(usize::MAX);
        let step = JOIN_MAX_BYTES / 4;
        for k in 0..10 {
            q.push(batch(1, k * step, (k + 1) * step, 1));
        }
        assert_eq!(
            ranges(&q),
            [
                (1, 0, 4 * step, 4),
                (1, 4 * step, 8 * step, 4),
                (1, 8 * step, 10 * step, 2)
            ]
        );
    }

    #[test]
    fn a_probe_keeps_its_batch() {
        let q = LoadQueue::new(100);
        q.push(batch(1, 0, 10, 1));
        let (ack, _rx) = tokio::sync::oneshot::channel();
        let mut with_probe = batch(1, 10, 20, 0);
        with_probe.probes.push(ack);
        q.push(with_probe);
        q.push(batch(1, 20, 30, 1));
        assert_eq!(ranges(&q), [(1, 0, 10, 1), (1, 10, 20, 0), (1, 20, 30, 1)]);
    }

    #[test]
    fn room_is_counted_in_records() {
        let q = LoadQueue::new(10);
        assert!(q.has_room(50), "an empty queue takes any group");
        q.push(batch(1, 0, 10, 8));
        assert!(q.has_room(2));
        assert!(!q.has_room(3));
        let mut v = Vec::new();
        assert!(q.take(Duration::ZERO, 1, &mut v));
        assert!(q.has_room(10));
    }

    #[test]
    fn the_writer_waits_for_room_until_the_loader_takes() {
        let q = std::sync::Arc::new(LoadQueue::new(4));
        q.push(batch(1, 0, 10, 4));
        let loader = {
            let q = q.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                let mut v = Vec::new();
                q.take(Duration::ZERO, usize::MAX, &mut v);
                v.len()
            })
        };
        let started = std::time::Instant::now();
        q.wait_for_room(1);
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert_eq!(loader.join().unwrap(), 1);
    }

    #[test]
    fn the_loader_takes_in_order_up_to_max_and_stops_after_close() {
        let q = LoadQueue::new(100);
        q.push(batch(1, 0, 10, 3));
        q.push(batch(2, 0, 10, 3));
        q.push(batch(3, 0, 10, 3));
        let mut v = Vec::new();
        assert!(q.take(Duration::ZERO, 5, &mut v));
        assert_eq!(v.iter().map(|b| b.segment).collect::<Vec<_>>(), [1, 2]);
        q.close();
        v.clear();
        assert!(
            q.take(Duration::ZERO, 5, &mut v),
            "what was queued is still taken"
        );
        assert_eq!(v.len(), 1);
        assert!(!q.take(Duration::ZERO, 5, &mut v));
    }
}
