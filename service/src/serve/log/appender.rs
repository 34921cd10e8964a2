//! The segment appender, shared by the journal's writer thread and, without `--fsync`, by the
//! request handlers themselves.
//!
//! Why handlers write: handing each record to the writer thread and waiting for its
//! acknowledgement costs two thread hops per group (the writer's wake-up, then the wake-up of
//! every waiting request's task), measured as a sixth of the server's CPU per request under wrk
//! on two cores. Without `--fsync` a group write saves nothing but `write` calls, each a copy
//! of a few hundred bytes into the page cache. So a handler formats its record outside any
//! lock, appends it under the segment's lock with one `write`, queues its place for the loader
//! and answers: the same promise as before (the bytes are in the kernel before the answer
//! leaves, so a `kill -9` loses nothing answered), without a thread hop.
//!
//! Relaxed durability takes the same path when it can (a record costs the handler less than a
//! queued message), so it loses nothing on a crash then; it still answers when the journal
//! cannot be written.
//!
//! With `--fsync` the writer thread stays the only writer: one fdatasync per group is the point
//! of the group. It also stays the fallback: when the segment is failing, the load queue is
//! full or the log is closing, handlers submit through it as before (it waits for room, retries
//! a failing disk with a back-off, and refuses after the close). Probes go through it too.

use super::journal::{encode_records, Buffers};
use super::loader::{Batch, ProbeAck};
use super::queue::LoadQueue;
use super::segment::SegmentWriter;
use super::Records;
use crate::serve::metrics::Metrics;
use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A handler's frame buffer is kept between requests up to this size (a batch request can
/// leave a large one behind).
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    /// Formatting buffers of a runtime worker thread, reused by every request it serves.
    static SCRATCH: RefCell<(Buffers, Vec<u8>)> = RefCell::default();
}

/// The current segment, appended to by whoever holds the lock.
pub struct Appender {
    seg: Mutex<Segment>,
    queue: Arc<LoadQueue>,
    metrics: Arc<Metrics>,
    /// Whether the last append succeeded (`/ready`, and the fast path's go-ahead).
    healthy: Arc<AtomicBool>,
    /// Whether handlers may append themselves (not under `--fsync`).
    inline: bool,
}

struct Segment {
    writer: SegmentWriter,
    /// Set by the writer thread when it stops: from then on nothing is appended.
    closed: bool,
}

impl Appender {
    pub fn new(
        writer: SegmentWriter,
        queue: Arc<LoadQueue>,
        metrics: Arc<Metrics>,
        healthy: Arc<AtomicBool>,
        inline: bool,
    ) -> Appender {
        Appender {
            seg: Mutex::new(Segment {
                writer,
                closed: false,
            }),
            queue,
            metrics,
            healthy,
            inline,
        }
    }

    /// Every change under the lock completes or is cut back (a failed append), so a lock
    /// poisoned by a panic elsewhere is used as it is.
    fn lock(&self) -> MutexGuard<'_, Segment> {
        self.seg.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handlers' fast path: formats `records` and appends them to the segment, then queues
    /// their place for the loader. False when it wrote nothing (`--fsync`, a failing segment,
    /// a full load queue, a closed log): the caller then submits through the writer thread.
    pub fn try_append(&self, records: &Records) -> bool {
        if !self.inline || !self.healthy.load(Ordering::Relaxed) {
            return false;
        }
        SCRATCH.with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return false;
            };
            let (bufs, frames) = &mut *scratch;
            frames.clear();
            let n = encode_records(records, bufs, frames);
            let mut seg = self.lock();
            let done = !seg.closed
                && self.queue.has_room(n)
                && self
                    .append_locked(&mut seg, frames, n, &mut Vec::new())
                    .is_ok();
            drop(seg);
            if frames.capacity() > SCRATCH_KEPT {
                *frames = Vec::new();
            }
            done
        })
    }

    /// The writer thread's append of a framed group (`records` records, and a probe frame per
    /// entry of `probes`, which go to the loader with the batch on success). One attempt: the
    /// writer retries, releasing the lock in between.
    pub fn append(
        &self,
        frames: &[u8],
        records: usize,
        probes: &mut Vec<ProbeAck>,
    ) -> io::Result<()> {
        let mut seg = self.lock();
        if seg.closed {
            return Err(io::Error::other("the journal is closed"));
        }
        self.append_locked(&mut seg, frames, records, probes)
    }

    /// Appends under the lock and queues the batch before the lock is released, so the load
    /// queue keeps the file's order. A failed append is cut off the file at once: whoever
    /// appends next starts at the last good frame.
    fn append_locked(
        &self,
        seg: &mut Segment,
        frames: &[u8],
        records: usize,
        probes: &mut Vec<ProbeAck>,
    ) -> io::Result<()> {
        match seg.writer.append(frames) {
            Ok((segment, end)) => {
                self.healthy.store(true, Ordering::Relaxed);
                let m = &self.metrics;
                // Backlog before the push: the loader subtracts what it loads.
                m.log_segment_backlog
                    .fetch_add(records as i64, Ordering::Relaxed);
                m.log_records_journaled
                    .fetch_add(records as u64, Ordering::Relaxed);
                m.log_commits.fetch_add(1, Ordering::Relaxed);
                self.queue.push(Batch {
                    segment,
                    start: end - frames.len() as u64,
                    end,
                    records,
                    probes: std::mem::take(probes),
                });
                Ok(())
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Relaxed);
                self.metrics
                    .log_write_failures
                    .fetch_add(1, Ordering::Relaxed);
                if let Err(cut) = seg.writer.discard_tail() {
                    tracing::error!(error = %cut, "cannot cut a failed write off the journal segment");
                }
                Err(e)
            }
        }
    }

    /// Waits until the load queue has room for `records` (the writer thread's back-pressure).
    pub fn wait_for_room(&self, records: usize) {
        self.queue.wait_for_room(records);
    }

    /// The writer thread has stopped: nothing more is appended, and the loader stops once it
    /// has loaded what is queued.
    pub fn close(&self) {
        self.lock().closed = true;
        self.queue.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::log::segment;
    use crate::serve::log::Record;
    use std::time::Duration;

    fn record(id: &str) -> Record {
        crate::serve::log::journal::tests::record(id)
    }

    struct Fixture {
        dir: std::path::PathBuf,
        queue: Arc<LoadQueue>,
        metrics: Arc<Metrics>,
        healthy: Arc<AtomicBool>,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn appender(name: &str, inline: bool, cap: usize) -> (Appender, Fixture) {
        let dir =
            std::env::temp_dir().join(format!("credit-appender-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let writer = SegmentWriter::create(&dir, 1, segment::SEGMENT_BYTES, false).unwrap();
        let f = Fixture {
            dir,
            queue: Arc::new(LoadQueue::new(cap)),
            metrics: Arc::new(Metrics::default()),
            healthy: Arc::new(AtomicBool::new(true)),
        };
        let a = Appender::new(
            writer,
            f.queue.clone(),
            f.metrics.clone(),
            f.healthy.clone(),
            inline,
        );
        (a, f)
    }

    fn taken(q: &LoadQueue) -> Vec<Batch> {
        let mut v = Vec::new();
        q.close();
        while q.take(Duration::ZERO, usize::MAX, &mut v) {}
        v
    }

    /// Requests that append one after another end up as one contiguous batch that holds
    /// exactly their frames, in order.
    #[test]
    fn handlers_append_their_records_and_queue_one_contiguous_batch() {
        let (a, f) = appender("inline", true, 100);
        for k in 0..5 {
            assert!(a.try_append(&Records::One(record(&format!("r{k}")))));
        }
        assert!(a.try_append(&Records::Many(vec![record("m0"), record("m1")])));
        let batches = taken(&f.queue);
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!((b.segment, b.start, b.records), (1, 0, 7));
        let bytes = std::fs::read(segment::path_of(&f.dir, 1)).unwrap();
        assert_eq!(b.end, bytes.len() as u64);
        let ids: Vec<String> = segment::Frames::new(&bytes, 0)
            .map(|fr| match fr.unwrap().1 {
                segment::Frame::Record(r) => r.request_id.to_owned(),
                segment::Frame::Probe => "probe".to_owned(),
            })
            .collect();
        assert_eq!(ids, ["r0", "r1", "r2", "r3", "r4", "m0", "m1"]);
        assert_eq!(f.metrics.log_segment_backlog.load(Ordering::Relaxed), 7);
        assert_eq!(f.metrics.log_commits.load(Ordering::Relaxed), 6);
    }

    /// The fast path steps aside (and writes nothing) under `--fsync`, with a full load queue,
    /// after a failed write and once the log is closed.
    #[test]
    fn the_fast_path_steps_aside_without_writing() {
        let (a, f) = appender("fsync", false, 100);
        assert!(!a.try_append(&Records::One(record("x"))));
        drop(a);
        drop(f);

        let (a, f) = appender("full", true, 2);
        assert!(a.try_append(&Records::Many(vec![record("a"), record("b")])));
        assert!(!a.try_append(&Records::One(record("c"))), "queue full");
        f.healthy.store(false, Ordering::Relaxed);
        let mut v = Vec::new();
        assert!(f.queue.take(Duration::ZERO, usize::MAX, &mut v));
        assert!(!a.try_append(&Records::One(record("d"))), "segment failing");
        f.healthy.store(true, Ordering::Relaxed);
        a.close();
        assert!(!a.try_append(&Records::One(record("e"))), "closed");
        assert!(a.append(b"", 0, &mut Vec::new()).is_err(), "closed");
        let bytes = std::fs::read(segment::path_of(&f.dir, 1)).unwrap();
        assert_eq!(segment::Frames::new(&bytes, 0).count(), 2);
    }

    /// Two threads appending at once never interleave frames, and the queue's batches cover
    /// the file exactly.
    #[test]
    fn concurrent_appends_keep_frames_whole_and_in_queue_order() {
        let (a, f) = appender("threads", true, 1_000_000);
        let a = Arc::new(a);
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let a = a.clone();
                std::thread::spawn(move || {
                    for k in 0..500 {
                        assert!(a.try_append(&Records::One(record(&format!("t{t}-{k}")))));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let batches = taken(&f.queue);
        let bytes = std::fs::read(segment::path_of(&f.dir, 1)).unwrap();
        let mut at = 0;
        for b in &batches {
            assert_eq!(b.start, at, "batches cover the file in order");
            at = b.end;
        }
        assert_eq!(at, bytes.len() as u64);
        assert_eq!(batches.iter().map(|b| b.records).sum::<usize>(), 1000);
        let mut frames = segment::Frames::new(&bytes, 0);
        assert_eq!(frames.by_ref().filter(|f| f.is_ok()).count(), 1000);
        assert!(!frames.torn());
    }
}
