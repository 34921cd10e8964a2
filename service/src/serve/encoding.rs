//! Request bodies sent compressed (`Content-Encoding`): gzip and deflate are read, anything else
//! is refused by name.
//!
//! Why: a batch of applicants compresses about tenfold, and HTTP clients and proxies that
//! compress request bodies got a 400 "not UTF-8" that did not say what was wrong. The body limit
//! holds for the decompressed bytes too: a small body that inflates far (a zip bomb) is a 413
//! after at most `limit + 1` bytes of output, never inflated whole.

use super::error::ApiError;
use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use std::io::Read;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    /// HTTP's "deflate": zlib (RFC 9110), or raw deflate as some clients send it.
    Deflate,
}

impl Encoding {
    /// The request's `Content-Encoding` (absent, empty or `identity`: none). One coding only:
    /// a list such as `gzip, gzip` or a second header is refused like an unknown coding.
    pub fn of(headers: &HeaderMap) -> Result<Encoding, ApiError> {
        let mut values = headers.get_all(header::CONTENT_ENCODING).iter();
        let Some(value) = values.next() else {
            return Ok(Encoding::Identity);
        };
        if values.next().is_some() {
            return Err(ApiError::unsupported_encoding(
                "more than one Content-Encoding header",
            ));
        }
        let text = value.to_str().unwrap_or("").trim();
        match text.to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            _ => Err(ApiError::unsupported_encoding(text)),
        }
    }

    /// The body as sent, decoded; 413 past `limit` decoded bytes, 400 if it does not decode.
    pub fn decode(self, body: Bytes, limit: usize) -> Result<Bytes, ApiError> {
        let (name, out) = match self {
            Encoding::Identity => return Ok(body),
            Encoding::Gzip => (
                "gzip",
                inflate(flate2::read::MultiGzDecoder::new(&body[..]), limit),
            ),
            Encoding::Deflate if is_zlib(&body) => (
                "deflate",
                inflate(flate2::read::ZlibDecoder::new(&body[..]), limit),
            ),
            Encoding::Deflate => (
                "deflate",
                inflate(flate2::read::DeflateDecoder::new(&body[..]), limit),
            ),
        };
        match out {
            Ok(Some(bytes)) => Ok(Bytes::from(bytes)),
            Ok(None) => Err(ApiError::too_large(limit)),
            Err(e) => Err(ApiError::invalid_encoding(name, &e)),
        }
    }
}

/// Reads `r` to its end; `None` once it yields more than `limit` bytes.
fn inflate(r: impl Read, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1).read_to_end(&mut out)?;
    Ok((out.len() <= limit).then_some(out))
}

/// Whether `b` starts with a zlib header (RFC 1950: method 8, header check a multiple of 31).
fn is_zlib(b: &[u8]) -> bool {
    matches!(b, [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::CONTENT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn compress<W: Write>(mut w: W, data: &[u8]) -> W {
        w.write_all(data).unwrap();
        w
    }

    #[test]
    fn codings_are_read_by_name_and_case() {
        let of = |v: &[&str]| Encoding::of(&headers(v)).map_err(|e| e.status.as_u16());
        assert_eq!(of(&[]), Ok(Encoding::Identity));
        assert_eq!(of(&[""]), Ok(Encoding::Identity));
        assert_eq!(of(&["Identity"]), Ok(Encoding::Identity));
        assert_eq!(of(&["GZIP"]), Ok(Encoding::Gzip));
        assert_eq!(of(&[" x-gzip "]), Ok(Encoding::Gzip));
        assert_eq!(of(&["deflate"]), Ok(Encoding::Deflate));
        for refused in [&["br"][..], &["gzip, gzip"], &["gzip", "gzip"], &["zstd"]] {
            assert_eq!(of(refused), Err(415), "{refused:?}");
        }
    }

    #[test]
    fn every_coding_decodes_to_the_same_bytes() {
        let data = br#"{"age": 45}"#.repeat(100);
        let gz = compress(GzEncoder::new(Vec::new(), Compression::default()), &data)
            .finish()
            .unwrap();
        let zl = compress(ZlibEncoder::new(Vec::new(), Compression::default()), &data)
            .finish()
            .unwrap();
        let raw = compress(
            DeflateEncoder::new(Vec::new(), Compression::default()),
            &data,
        )
        .finish()
        .unwrap();
        for (enc, body) in [
            (Encoding::Identity, data.clone()),
            (Encoding::Gzip, gz),
            (Encoding::Deflate, zl),
            (Encoding::Deflate, raw),
        ] {
            let got = enc.decode(Bytes::from(body), data.len()).unwrap();
            assert_eq!(&got[..], &data[..], "{enc:?}");
        }
    }

    #[test]
    fn the_limit_holds_for_decoded_bytes_and_damage_is_named() {
        let data = vec![b' '; 10_000];
        let gz = compress(GzEncoder::new(Vec::new(), Compression::default()), &data)
            .finish()
            .unwrap();
        let at = |limit| {
            Encoding::Gzip
                .decode(Bytes::from(gz.clone()), limit)
                .map(|b| b.len())
        };
        assert_eq!(at(10_000).ok(), Some(10_000));
        assert_eq!(at(9_999).map_err(|e| e.status.as_u16()), Err(413));
        let cut = Bytes::from(gz[..gz.len() - 9].to_vec());
        let e = Encoding::Gzip.decode(cut, 20_000).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert_eq!(e.detail[0]["type"], "invalid_encoding");
        assert!(
            e.detail[0]["msg"].as_str().unwrap().contains("gzip"),
            "{:?}",
            e.detail
        );
        let e = Encoding::Gzip
            .decode(Bytes::from_static(b"{}"), 100)
            .unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }
}
