//! Stdout for the service's log lines, with the access log written in batches.
//!
//! Every request writes an access line (see [`super::access`]). Written one by one, each line
//! is a `write` system call to stdout under its lock; under load that was a visible part of a
//! request's CPU. Here access lines go to a shared buffer that a background thread writes out
//! every [`FLUSH_EVERY`] (or sooner when [`FLUSH_AT`] bytes are waiting): one system call for
//! hundreds of lines. Every other line (start-up, warnings, errors, shutdown) is written at once,
//! after whatever access lines are waiting, so the order of lines is kept and a warning is
//! never held back.
//!
//! What this costs: a crash of the process (`kill -9`) loses at most the last [`FLUSH_EVERY`]
//! of access lines. The prediction log is unaffected: the decision records are in the journal,
//! not in these lines. An orderly exit (SIGTERM, the end of `credit serve`) writes everything:
//! [`Stdout::finish`] / dropping the [`Flusher`].

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Longest an access line waits in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Buffered bytes that wake the writer thread before [`FLUSH_EVERY`].
const FLUSH_AT: usize = 64 * 1024;
/// Buffered bytes beyond which access lines are written at once (stdout is stuck or slow: the
/// memory stays bounded, and the request pays for its own line again).
const MAX_PENDING: usize = 4 * 1024 * 1024;

/// The target of the access middleware's events.
const ACCESS_TARGET: &str = "credit_service::serve::access";

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    closed: bool,
}

/// Where the lines go: stdout, or a test's buffer.
type Sink = Box<dyn Fn(&[u8]) -> io::Result<()> + Send + Sync>;

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Held while a batch is written, so that a line written at once by another thread cannot
    /// overtake older buffered ones (taken while `pending` is still held).
    order: Mutex<()>,
    sink: Sink,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves plain bytes behind: still fine to write.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes and empties `bytes` (the caller holds the buffer's lock).
    fn write_out(&self, bytes: &mut Vec<u8>) -> io::Result<()> {
        let _order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        let r = (self.sink)(bytes);
        bytes.clear();
        r
    }
}

fn to_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// The `MakeWriter` of the service's logger.
#[derive(Clone)]
pub struct Stdout(Arc<Shared>);

/// Writes what is buffered when dropped, and stops the writer thread.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stdout {
    /// The writer and its background thread (`None` if the thread cannot start: then every line
    /// is written at once).
    pub fn start() -> (Stdout, Option<Flusher>) {
        Stdout::start_with(Box::new(to_stdout))
    }

    fn start_with(sink: Sink) -> (Stdout, Option<Flusher>) {
        let out = Stdout(Arc::new(Shared {
            pending: Mutex::default(),
            wake: Condvar::new(),
            order: Mutex::new(()),
            sink,
        }));
        let shared = out.0.clone();
        let thread = std::thread::Builder::new()
            .name("credit-stdout".into())
            .spawn(move || write_batches(&shared))
            .ok();
        let flusher = thread.map(|t| Flusher {
            shared: out.0.clone(),
            thread: Some(t),
        });
        if flusher.is_none() {
            out.0.lock().closed = true;
        }
        (out, flusher)
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Anything appended between the thread's last round and `closed`.
        let mut p = self.shared.lock();
        let _ = self.shared.write_out(&mut p.bytes);
    }
}

/// The writer thread: every [`FLUSH_EVERY`] (or when woken), everything buffered in one write.
fn write_batches(shared: &Shared) {
    let mut spare = Vec::new();
    loop {
        let p = shared.lock();
        let (mut p, _) = shared
            .wake
            .wait_timeout_while(p, FLUSH_EVERY, |p| !p.closed && p.bytes.len() < FLUSH_AT)
            .unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut p.bytes, &mut spare);
        let closed = p.closed;
        let order = shared.order.lock().unwrap_or_else(|p| p.into_inner());
        drop(p);
        if !spare.is_empty() {
            let _ = (shared.sink)(&spare);
        }
        drop(order);
        spare.clear();
        if closed {
            return;
        }
    }
}

/// One line's writer: deferred (an access line) or at once.
pub struct Line<'a> {
    shared: &'a Shared,
    deferred: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    /// The fmt layer hands over each formatted line whole, in one call.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut p = self.shared.lock();
        if self.deferred && !p.closed && p.bytes.len() + buf.len() <= MAX_PENDING {
            p.bytes.extend_from_slice(buf);
            if p.bytes.len() >= FLUSH_AT {
                self.shared.wake.notify_one();
            }
            return Ok(());
        }
        // The waiting lines first, then this one: the order of lines is kept.
        p.bytes.extend_from_slice(buf);
        self.shared.write_out(&mut p.bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Access lines (INFO of the access middleware) wait for the writer thread; nothing else does.
fn is_deferred(level: &Level, target: &str) -> bool {
    *level == Level::INFO && target == ACCESS_TARGET
}

impl<'a> MakeWriter<'a> for Stdout {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.0,
            deferred: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.0,
            deferred: is_deferred(meta.level(), meta.target()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    type Written = Arc<Mutex<Vec<u8>>>;

    fn start() -> (Stdout, Option<Flusher>, Written) {
        let written = Written::default();
        let w = written.clone();
        let (out, flusher) = Stdout::start_with(Box::new(move |b: &[u8]| {
            w.lock().unwrap().extend_from_slice(b);
            Ok(())
        }));
        (out, flusher, written)
    }

    fn text(w: &Written) -> String {
        String::from_utf8(w.lock().unwrap().clone()).unwrap()
    }

    fn line(out: &Stdout, deferred: bool, s: &str) {
        let mut l = Line {
            shared: &out.0,
            deferred,
        };
        l.write_all(s.as_bytes()).unwrap();
    }

    #[test]
    fn access_lines_wait_for_the_writer_thread_and_arrive_soon() {
        let (out, _flusher, written) = start();
        line(&out, true, "a1\n");
        line(&out, true, "a2\n");
        assert_eq!(
            text(&written),
            "",
            "access lines are batched, not written at once"
        );
        let t = Instant::now();
        while text(&written).is_empty() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(text(&written), "a1\na2\n");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }

    #[test]
    fn other_lines_are_written_at_once_after_the_waiting_access_lines() {
        let (out, _flusher, written) = start();
        line(&out, true, "access\n");
        line(&out, false, "warning\n");
        assert_eq!(text(&written), "access\nwarning\n");
    }

    #[test]
    fn dropping_the_flusher_writes_everything() {
        let (out, flusher, written) = start();
        for i in 0..1000 {
            line(&out, true, &format!("{i}\n"));
        }
        drop(flusher);
        let want: String = (0..1000).map(|i| format!("{i}\n")).collect();
        assert_eq!(text(&written), want);
        // After the flusher is gone every line is written at once.
        line(&out, true, "late\n");
        assert!(text(&written).ends_with("late\n"));
    }

    #[test]
    fn only_info_lines_of_the_access_middleware_are_deferred() {
        assert!(is_deferred(&Level::INFO, ACCESS_TARGET));
        assert!(!is_deferred(&Level::WARN, ACCESS_TARGET));
        assert!(!is_deferred(&Level::INFO, "credit_service::serve"));
        // The constant names the module the access lines come from.
        assert_eq!(
            ACCESS_TARGET,
            module_path!().replace("stdout::tests", "access")
        );
    }
}
