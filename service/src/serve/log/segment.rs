//! The segment journal: append-only files of checksummed records, the strict log's durable copy.
//!
//! Why: a strict answer waits until its record is durable. When that meant a SQLite commit, the
//! writer also had to finish a WAL checkpoint (two fdatasyncs and a device flush, ~9 ms on a
//! 2-core EPYC with a virtio disk) every 8 MiB of WAL, which made the strict log's p99 20–26 ms
//! (docs/strict-log-tail.md). Appending a group's records to a plain file with one `write` has no
//! such pass: the file only grows, and a `kill -9` after the `write` returned cannot lose the
//! bytes (they are in the page cache); with `--fsync`, one `fdatasync` per group makes them
//! survive a power cut. The SQLite table is filled from the same records off the request path
//! (see `loader.rs`), and a segment is deleted once everything in it is loaded.
//!
//! Layout: the segments of the journal `x.db` live in the directory `x.db.segments/`, named
//! `seg-<number>.log` with a 20-digit number that only grows (so names sort by age, and the
//! adoption of `journal-<id>.db` finds `journal-<id>.db.segments/`). Each record is one frame:
//!
//! | bytes | what |
//! |---|---|
//! | 4 | payload length, little-endian (at least 1, at most [`MAX_FRAME`]) |
//! | 4 | CRC-32 (crc32fast, IEEE) of the length bytes and the payload |
//! | n | payload: a kind byte ([`RECORD`] or [`PROBE`]), then for a record its columns |
//!
//! A record's payload: the decision id (16 bytes), probability (f64), prediction (u8), score
//! (f64), latency in µs (i64), then the text columns each as a u32 length and UTF-8 bytes:
//! request id, trace id (length `u32::MAX` = none), ts, model version, input (JSON), reasons
//! (JSON). All numbers little-endian. The text is the table's text, formatted once by the writer.
//!
//! A crash can leave a torn last frame (a short write at a power cut, or zeros from a file
//! extension that was not written); it fails its length or checksum, and reading stops there.
//! Damage with whole frames after it (a page lost at a power cut while later ones reached the
//! disk) stops [`Frames`] the same way; recovery (`loader::replay`) then looks for the next
//! whole frame and goes on loading from there.

use super::LogError;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Size past which the writer starts a new segment (before its next group, so a group never
/// spans two files). Small enough that a loaded segment goes away soon (disk, or memory on
/// Cloud Run), large enough that creating files is rare (~1 a second at 40k records/s).
pub const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;
/// Longest payload accepted when reading: a record is well under 4 KiB; anything larger is a
/// damaged length, and reading stops there as at a torn frame.
pub const MAX_FRAME: u32 = 1 << 20;
/// Payload kind: an answered prediction.
pub const RECORD: u8 = 1;
/// Payload kind: `/ready`'s write check, which writes a real frame and is skipped by loading.
pub const PROBE: u8 = 2;
pub(super) const HEADER: usize = 8;

/// The directory holding the segments of the journal `db`: `<db>.segments`.
pub fn dir_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".segments");
    PathBuf::from(s)
}

/// The file of segment `number` in `dir`.
pub fn path_of(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("seg-{number:020}.log"))
}

/// The segments in `dir`, oldest first (none when the directory does not exist).
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_prefix("seg-"))
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            out.push((number, entry.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Removes a segment; one that is already gone is fine (a crash after an earlier removal).
pub fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes the segment directory of `db` and whatever it holds (only once everything in it is
/// loaded, or the journal itself is being deleted).
pub fn remove_dir(db: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir_of(db)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The text columns and numbers of one record, as the table stores them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row<'a> {
    pub decision_id: uuid::Uuid,
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    pub ts: &'a str,
    pub model_version: &'a str,
    pub input: &'a str,
    pub probability: f64,
    pub prediction: u8,
    pub score: f64,
    pub reasons: &'a str,
    pub latency_us: i64,
}

impl Row<'_> {
    /// Bytes of its text columns (what `journal::record_bytes` counts).
    pub fn text_len(&self) -> usize {
        self.request_id.len()
            + self.trace_id.map_or(0, str::len)
            + self.ts.len()
            + self.model_version.len()
            + self.input.len()
            + self.reasons.len()
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends one frame holding `payload` (written by `fill`) to `out`.
fn push_frame(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    fill(out);
    let len = (out.len() - start - HEADER) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let crc = checksum(&out[start..start + 4], &out[start + HEADER..]);
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
}

fn checksum(len: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(payload);
    h.finalize()
}

/// Appends a record's frame to `out`.
pub fn push_record(out: &mut Vec<u8>, r: &Row<'_>) {
    push_frame(out, |p| {
        p.push(RECORD);
        p.extend_from_slice(r.decision_id.as_bytes());
        p.extend_from_slice(&r.probability.to_le_bytes());
        p.push(r.prediction);
        p.extend_from_slice(&r.score.to_le_bytes());
        p.extend_from_slice(&r.latency_us.to_le_bytes());
        push_str(p, r.request_id);
        match r.trace_id {
            Some(t) => push_str(p, t),
            None => p.extend_from_slice(&u32::MAX.to_le_bytes()),
        }
        for s in [r.ts, r.model_version, r.input, r.reasons] {
            push_str(p, s);
        }
    });
}

/// Appends a probe frame (`/ready`'s write check) to `out`.
pub fn push_probe(out: &mut Vec<u8>) {
    push_frame(out, |p| p.push(PROBE));
}

/// One frame read back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Frame<'a> {
    Record(Row<'a>),
    Probe,
}

/// A cursor over a payload's fields; `None` when it runs out (a malformed payload).
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        let len = u32::from_le_bytes(self.array()?);
        if len == u32::MAX {
            return Some(None);
        }
        std::str::from_utf8(self.bytes(len as usize)?)
            .ok()
            .map(Some)
    }
    fn str(&mut self) -> Option<&'a str> {
        self.opt_str()?
    }
}

fn decode(payload: &[u8]) -> Option<Frame<'_>> {
    let mut f = Fields(payload);
    match f.array::<1>()?[0] {
        PROBE => return f.0.is_empty().then_some(Frame::Probe),
        RECORD => {}
        _ => return None,
    }
    let decision_id = uuid::Uuid::from_bytes(f.array()?);
    let probability = f64::from_le_bytes(f.array()?);
    let prediction = f.array::<1>()?[0];
    let score = f64::from_le_bytes(f.array()?);
    let latency_us = i64::from_le_bytes(f.array()?);
    let row = Row {
        decision_id,
        request_id: f.str()?,
        trace_id: f.opt_str()?,
        ts: f.str()?,
        model_version: f.str()?,
        input: f.str()?,
        reasons: f.str()?,
        probability,
        prediction,
        score,
        latency_us,
    };
    f.0.is_empty().then_some(Frame::Record(row))
}

/// Reads the frames of `buf` from `from` on, each with the offset just past it; stops at the
/// end or at the first frame that is short or fails its checksum (see [`Frames::torn`]).
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Frames<'a> {
    pub fn new(buf: &'a [u8], from: usize) -> Frames<'a> {
        Frames {
            buf,
            pos: from.min(buf.len()),
        }
    }

    /// Offset just past the last whole, valid frame read so far.
    pub fn valid_end(&self) -> usize {
        self.pos
    }

    /// Whether reading stopped before the end of the buffer (a torn or damaged frame).
    pub fn torn(&self) -> bool {
        self.pos < self.buf.len()
    }
}

impl<'a> Iterator for Frames<'a> {
    /// `Err` is a frame whose checksum holds but whose payload this build cannot read: not a
    /// torn write but a bug or a file of another format, which must stop the caller instead of
    /// being cut off as a torn tail.
    type Item = Result<(usize, Frame<'a>), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..)?;
        let header: [u8; HEADER] = rest.get(..HEADER)?.try_into().ok()?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 || len > MAX_FRAME {
            return None;
        }
        let payload = rest.get(HEADER..HEADER + len as usize)?;
        if checksum(&header[..4], payload) != crc {
            return None;
        }
        let at = self.pos;
        self.pos += HEADER + len as usize;
        Some(match decode(payload) {
            Some(frame) => Ok((self.pos, frame)),
            None => Err(LogError::Segment(format!(
                "a frame at offset {at} has a valid checksum but cannot be read by this build"
            ))),
        })
    }
}

/// The writer's side: the current segment, appended to at a known offset.
pub struct SegmentWriter {
    dir: PathBuf,
    file: File,
    number: u64,
    /// Bytes written and acknowledged; a failed write is cut back to this.
    len: u64,
    fsync: bool,
    max: u64,
}

impl SegmentWriter {
    /// Creates segment `number` in `dir` (which must not hold it yet), rotating past `max` bytes.
    pub fn create(dir: &Path, number: u64, max: u64, fsync: bool) -> io::Result<SegmentWriter> {
        fs::create_dir_all(dir)?;
        let file = new_segment(dir, number, fsync)?;
        Ok(SegmentWriter {
            dir: dir.to_path_buf(),
            file,
            number,
            len: 0,
            fsync,
            max,
        })
    }

    /// Appends `frames` with one write (and, with `--fsync`, one fdatasync); returns the segment
    /// and the offset just past them. After an error nothing counts as written: the caller may
    /// retry the same bytes, which then land at the same offset.
    pub fn append(&mut self, frames: &[u8]) -> io::Result<(u64, u64)> {
        if self.len >= self.max {
            self.file = new_segment(&self.dir, self.number + 1, self.fsync)?;
            self.number += 1;
            self.len = 0;
        }
        // A positioned write: one system call per append (a handler's fast path appends
        // one record at a time), and a retry lands at the same offset by construction.
        write_at(&mut self.file, frames, self.len)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        self.len += frames.len() as u64;
        Ok((self.number, self.len))
    }

    /// Cuts off what a failed append may have left past the last good frame, so that recovery
    /// does not load a record whose request was told it failed.
    pub fn discard_tail(&mut self) -> io::Result<()> {
        self.file.set_len(self.len)
    }
}

/// The loader's side: reads a group's frames back from its segment into one reused buffer.
///
/// Why not hand the bytes over in memory: the writer would allocate a buffer per group and the
/// loader free it on another thread, and whatever the loader had not loaded yet (it can lag
/// behind a slow SQLite commit) would sit in memory on top. Read back, the bytes come from the
/// page cache (written moments before), the writer reuses one buffer, and the loader's memory
/// is one group however far behind it is.
pub struct SegmentReader {
    dir: PathBuf,
    open: Option<(u64, File)>,
    buf: Vec<u8>,
}

impl SegmentReader {
    pub fn new(dir: &Path) -> SegmentReader {
        SegmentReader {
            dir: dir.to_path_buf(),
            open: None,
            buf: Vec::new(),
        }
    }

    /// The bytes `start..end` of segment `number`.
    pub fn read(&mut self, number: u64, start: u64, end: u64) -> io::Result<&[u8]> {
        let len = usize::try_from(end.saturating_sub(start))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "group too large"))?;
        let file = match &mut self.open {
            Some((n, f)) if *n == number => f,
            open => {
                &mut open
                    .insert((number, File::open(path_of(&self.dir, number))?))
                    .1
            }
        };
        if self.buf.capacity() > READ_BUFFER_KEPT && len <= READ_BUFFER_KEPT {
            self.buf = Vec::new();
        }
        self.buf.resize(len, 0);
        read_at(file, &mut self.buf, start)?;
        Ok(&self.buf)
    }
}

/// The read buffer's capacity kept between groups (a recovery-sized group is not kept).
const READ_BUFFER_KEPT: usize = 1 << 20;

/// Creates a segment file; with `fsync` also its directory entry, so that the file itself
/// survives a power cut and not only its data.
fn new_segment(dir: &Path, number: u64, fsync: bool) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path_of(dir, number))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(file)
}

#[cfg(unix)]
fn write_at(file: &mut File, buf: &[u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, at)
}

#[cfg(unix)]
pub(super) fn read_at(file: &mut File, buf: &mut [u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

/// Elsewhere (Windows builds of the binary): a seek, then the write or read.
#[cfg(not(unix))]
fn write_at(file: &mut File, buf: &[u8], at: u64) -> io::Result<()> {
    use io::{Seek, Write};
    file.seek(io::SeekFrom::Start(at))?;
    file.write_all(buf)
}

#[cfg(not(unix))]
pub(super) fn read_at(file: &mut File, buf: &mut [u8], at: u64) -> io::Result<()> {
    use io::{Read, Seek};
    file.seek(io::SeekFrom::Start(at))?;
    file.read_exact(buf)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn row(id: &str) -> Row<'_> {
        Row {
            decision_id: uuid::Uuid::now_v7(),
            request_id: id,
            trace_id: if id.len().is_multiple_of(2) {
                Some("4bf9")
            } else {
                None
            },
            ts: "2023-11-14T22:13:20.000000Z",
            model_version: "9.9.9",
            input: r#"{"age":45}"#,
            probability: 0.25,
            prediction: 1,
            score: 600.5,
            reasons: r#"["R04"]"#,
            latency_us: 42,
        }
    }

    fn read_all(buf: &[u8]) -> (Vec<Frame<'_>>, usize, bool) {
        let mut frames = Frames::new(buf, 0);
        let got = frames.by_ref().map(|f| f.unwrap().1).collect();
        (got, frames.valid_end(), frames.torn())
    }

    #[test]
    fn frames_round_trip() {
        let rows = [row("a"), row("bb"), row(""), row("ünïcode")];
        let mut buf = Vec::new();
        for r in &rows {
            push_record(&mut buf, r);
        }
        push_probe(&mut buf);
        let (got, end, torn) = read_all(&buf);
        let want: Vec<Frame<'_>> = rows
            .iter()
            .map(|r| Frame::Record(*r))
            .chain([Frame::Probe])
            .collect();
        assert_eq!(got, want);
        assert_eq!((end, torn), (buf.len(), false));
        // Reading from a frame's end offset resumes at the next frame.
        let second_end = Frames::new(&buf, 0).nth(1).unwrap().unwrap().0;
        let rest: Vec<_> = Frames::new(&buf, second_end)
            .map(|f| f.unwrap().1)
            .collect();
        assert_eq!(rest, want[2..]);
    }

    /// Every cut inside the last frame, a flipped bit anywhere in it, and zeros after it all
    /// stop reading at the end of the frame before, which is then the valid end.
    #[test]
    fn a_torn_or_damaged_frame_stops_reading() {
        let mut buf = Vec::new();
        push_record(&mut buf, &row("a"));
        let good = buf.len();
        push_record(&mut buf, &row("b"));
        for cut in good + 1..buf.len() {
            let (got, end, torn) = read_all(&buf[..cut]);
            assert_eq!((got.len(), end, torn), (1, good, true), "cut at {cut}");
        }
        for byte in good..buf.len() {
            let mut bad = buf.clone();
            bad[byte] ^= 0x10;
            let (got, end, torn) = read_all(&bad);
            assert_eq!(
                (got.len(), end, torn),
                (1, good, true),
                "bit in byte {byte}"
            );
        }
        let mut zeros = buf[..good].to_vec();
        zeros.extend_from_slice(&[0; 64]);
        let (got, end, torn) = read_all(&zeros);
        assert_eq!((got.len(), end, torn), (1, good, true));
    }

    /// A frame with a valid checksum that does not decode is an error, not a torn tail.
    #[test]
    fn an_unreadable_frame_with_a_valid_checksum_is_an_error() {
        let mut buf = Vec::new();
        push_frame(&mut buf, |p| p.extend_from_slice(&[9, 9, 9]));
        assert!(matches!(
            Frames::new(&buf, 0).next(),
            Some(Err(LogError::Segment(_)))
        ));
    }

    /// A segment takes groups until it holds at least the size bound; the next group starts a
    /// new one (never split), and the files list in order.
    #[test]
    fn the_writer_rotates_by_size_and_lists_in_order() {
        let dir = std::env::temp_dir().join(format!("credit-seg-rotate-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut frames = Vec::new();
        push_record(&mut frames, &row("x"));
        let f = frames.len() as u64;
        let mut w = SegmentWriter::create(&dir, 7, 2 * f, false).unwrap();
        let ends: Vec<(u64, u64)> = (0..5).map(|_| w.append(&frames).unwrap()).collect();
        assert_eq!(ends, [(7, f), (7, 2 * f), (8, f), (8, 2 * f), (9, f)]);
        let numbers: Vec<u64> = list(&dir).unwrap().iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [7, 8, 9]);
        assert_eq!(fs::metadata(path_of(&dir, 8)).unwrap().len(), 2 * f);
        fs::remove_dir_all(&dir).unwrap();
    }
}
