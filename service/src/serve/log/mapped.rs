//! Appending to a segment through a shared memory map: a copy instead of a `write` call.
//!
//! Why: without `--fsync` every answered request appends its own record (see `appender.rs`),
//! and the `pwrite` of a few hundred bytes into the page cache cost the handler about 1.2 µs
//! of kernel time per request (perf, `wrk -c32` on two cores: 7% of the strict server's CPU).
//! A store into a shared file mapping lands in the same page cache with no system call, so the
//! promise is unchanged: the bytes are the kernel's before the answer leaves, and a `kill -9`
//! cannot lose them (with `--fsync` the writer thread writes and syncs instead, as before).
//!
//! The hazards of a writable file mapping, and what is done about each:
//! * A store the file system cannot back (no free block, a quota) raises `SIGBUS` instead of
//!   returning an error. So the segment's blocks are reserved with `fallocate` before anything
//!   is mapped; where that fails (a full disk, or a file system without it: NFS before 4.2,
//!   FUSE mounts such as Cloud Storage FUSE) the segment is written with `pwrite` as before.
//! * A store past the end of the file raises `SIGBUS` too: the file is never shortened while
//!   a window is mapped ([`Space::release`] unmaps first).
//! * Mapped pages count as the process's resident memory: only a window of [`WINDOW`] bytes is
//!   mapped at a time (a whole 16 MiB segment doubled the server's peak RSS under load).
//!
//! A reserved segment is longer than what was written until its writer lets it go (the file is
//! cut back to its frames when the next segment starts and when the writer is dropped); after a
//! crash the rest is zeros, which recovery (`loader::replay`) cuts off as unwritten space.

use std::fs::File;

/// Bytes mapped at a time: about 400 records; moving the window costs an `munmap` and an
/// `mmap`, and its pages are the only resident memory the map adds.
pub const WINDOW: u64 = 256 * 1024;

/// Where windows start: a multiple of every page size in use (4 KiB, 16 KiB, 64 KiB).
const ALIGN: u64 = 64 * 1024;

/// The reserved space of one segment file and the window of it that is mapped.
pub struct Space {
    reserved: u64,
    window: Option<Window>,
}

struct Window {
    start: u64,
    map: memmap2::MmapMut,
}

impl Space {
    /// Reserves the first `bytes` of `file` (which grows to that length) for stores through a
    /// map. `None` where that is not possible; the caller then writes with `pwrite`.
    pub fn reserve(file: &File, bytes: u64) -> Option<Space> {
        reserve_blocks(file, bytes).ok()?;
        Some(Space {
            reserved: bytes,
            window: None,
        })
    }

    /// Copies `bytes` to offset `at` of `file`. False (nothing copied) when they do not fit in
    /// the reserved space or no window can be mapped: the caller writes them instead.
    pub fn store(&mut self, file: &File, bytes: &[u8], at: u64) -> bool {
        let end = at + bytes.len() as u64;
        if end > self.reserved {
            return false;
        }
        let fits = |w: &Window| w.start <= at && end <= w.start + w.map.len() as u64;
        if !self.window.as_ref().is_some_and(fits) {
            // Unmapped first, so that at most one window is resident.
            self.window = None;
            let start = at - at % ALIGN;
            let len = (end - start).max(WINDOW).min(self.reserved - start);
            // SAFETY: the mapping is of this process's own segment file, whose blocks up to
            // `reserved` are allocated (no SIGBUS for want of space) and which is not shortened
            // while mapped (`release` unmaps first); nothing else writes to it.
            let map = unsafe {
                memmap2::MmapOptions::new()
                    .offset(start)
                    .len(len as usize)
                    .map_mut(file)
            };
            match map {
                Ok(map) => self.window = Some(Window { start, map }),
                Err(_) => return false,
            }
        }
        let Some(w) = self.window.as_mut() else {
            return false;
        };
        let from = (at - w.start) as usize;
        w.map[from..from + bytes.len()].copy_from_slice(bytes);
        true
    }

    /// Unmaps the window and cuts `file` back to `len` bytes, the frames written.
    pub fn release(mut self, file: &File, len: u64) -> std::io::Result<()> {
        self.window = None;
        file.set_len(len)
    }
}

#[cfg(target_os = "linux")]
fn reserve_blocks(file: &File, bytes: u64) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let len = libc::off_t::try_from(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "segment too large"))?;
    // Mode 0: allocate the blocks and extend the file. Not `posix_fallocate`, which glibc
    // emulates by writing zeros where the file system lacks it: that is exactly where the
    // segment should be written with `pwrite` instead.
    // SAFETY: a plain system call on an open descriptor.
    if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere segments are written with `pwrite` (no reservation that keeps a mapped store from
/// failing with `SIGBUS`).
#[cfg(not(target_os = "linux"))]
fn reserve_blocks(_file: &File, _bytes: u64) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "segments are mapped on Linux only",
    ))
}
