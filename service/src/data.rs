//! Reading applicant CSVs (the Kaggle layout as it is: CRLF, `NA`, an unnamed id column,
//! optionally gzip-compressed) as a stream of records, hashing the bytes on the way.

use anyhow::{bail, Context, Result};
use credit_core::{feature_index, RawValue, FEATURES, N_FEATURES};
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Name of the label column in the Kaggle data.
pub const LABEL: &str = "SeriousDlqin2yrs";

/// A reader that hashes (and counts) what passes through it.
pub struct HashingReader<R> {
    inner: R,
    state: Arc<Mutex<(Sha256, u64)>>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut s) = self.state.lock() {
            s.0.update(&buf[..n]);
            s.1 += n as u64;
        }
        Ok(n)
    }
}

/// Handle to read the digest of everything read so far.
#[derive(Clone)]
pub struct Digests(Arc<Mutex<(Sha256, u64)>>);

impl Digests {
    pub fn sha256_hex(&self) -> String {
        let s = self
            .0
            .lock()
            .map(|s| s.0.clone().finalize())
            .unwrap_or_default();
        s.iter().map(|b| format!("{b:02x}")).collect()
    }
    pub fn bytes(&self) -> u64 {
        self.0.lock().map(|s| s.1).unwrap_or(0)
    }
}

/// Opens a CSV or CSV.gz (by magic bytes, not by name). Returns the reader of the uncompressed
/// bytes, a handle to their sha256, and the compressed file size (for progress bars).
pub fn open(path: &Path) -> Result<(Box<dyn Read + Send>, Digests, u64, CountingHandle)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let counted = CountingReader {
        inner: file,
        count: Arc::new(Mutex::new(0)),
    };
    let handle = CountingHandle(counted.count.clone());
    let mut buffered = BufReader::with_capacity(1 << 16, counted);
    let magic = {
        use std::io::BufRead;
        let b = buffered.fill_buf()?;
        b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b
    };
    let raw: Box<dyn Read + Send> = if magic {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let state = Arc::new(Mutex::new((Sha256::new(), 0u64)));
    let reader = HashingReader {
        inner: raw,
        state: state.clone(),
    };
    Ok((Box::new(reader), Digests(state), size, handle))
}

/// Counts compressed bytes read from the file (progress).
pub struct CountingReader<R> {
    inner: R,
    count: Arc<Mutex<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut c) = self.count.lock() {
            *c += n as u64;
        }
        Ok(n)
    }
}

#[derive(Clone)]
pub struct CountingHandle(Arc<Mutex<u64>>);

impl CountingHandle {
    pub fn get(&self) -> u64 {
        self.0.lock().map(|c| *c).unwrap_or(0)
    }
}

/// Where the model's columns, the id and the label sit in a CSV header.
#[derive(Clone, Debug)]
pub struct Columns {
    /// CSV column of each feature, in model order.
    pub feature: [usize; N_FEATURES],
    /// The id column: the unnamed first column, or one named `id` / `Id` / `ID`.
    pub id: Option<usize>,
    pub label: Option<usize>,
    pub header: Vec<String>,
}

impl Columns {
    pub fn from_header(header: &csv::StringRecord) -> Result<Columns> {
        let names: Vec<String> = header.iter().map(|s| s.trim().to_owned()).collect();
        let mut feature = [usize::MAX; N_FEATURES];
        for (c, name) in names.iter().enumerate() {
            if let Some(j) = feature_index(name) {
                if feature[j] != usize::MAX {
                    bail!(
                        "column {name:?} appears twice in the header (also as {:?})",
                        names[feature[j]]
                    );
                }
                feature[j] = c;
            }
        }
        let missing: Vec<&str> = FEATURES
            .iter()
            .zip(feature)
            .filter(|(_, c)| *c == usize::MAX)
            .map(|(f, _)| f.name)
            .collect();
        if !missing.is_empty() {
            bail!(
                "the CSV header lacks the column(s) {}; it has {:?}",
                missing.join(", "),
                names
            );
        }
        let id = names
            .iter()
            .position(|n| n.is_empty() || n.eq_ignore_ascii_case("id"));
        let label = names.iter().position(|n| n == LABEL);
        Ok(Columns {
            feature,
            id,
            label,
            header: names,
        })
    }

    /// The raw field values of a record, as validation input.
    pub fn fields<'r>(&self, rec: &'r csv::StringRecord) -> Vec<(&'static str, RawValue<'r>)> {
        FEATURES
            .iter()
            .zip(self.feature)
            .map(|(spec, c)| (spec.name, raw(rec.get(c).unwrap_or(""))))
            .collect()
    }
}

/// A CSV cell as validation input: empty / `NA` / `NaN` is missing, a number is a number,
/// anything else a string (which validation turns into `not_a_number`).
pub fn raw(cell: &str) -> RawValue<'_> {
    let t = cell.trim();
    if t.is_empty() || t == "NA" || t == "NaN" || t == "nan" || t == "null" {
        return RawValue::Null;
    }
    match t.parse::<f64>() {
        Ok(v) => RawValue::Float(v),
        Err(_) => RawValue::Str(t),
    }
}

/// A CSV reader over the file's uncompressed bytes (flexible so a short row is an error of its own).
pub fn csv_reader<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(r)
}
