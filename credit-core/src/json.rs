//! A small compact-JSON writer with serde_json's exact output (see [`JsonWriter`]).

use std::fmt::Write as _;

/// Compact JSON written by hand, byte for byte as serde_json writes it: its string escapes, its
/// float printer (through `Number`), no spaces. Written by hand so that serde_json's
/// serializer is not linked into the `.wasm`; the artifact's checksum is computed over what
/// this writes (see `artifact::read`), and the browser package hands results to JS as its
/// text for one `JSON.parse`, much cheaper there than setting properties one by one.
pub struct JsonWriter {
    out: String,
    /// Whether the next key or element is the first of its object or array.
    first: bool,
}

/// Appends `v` as a JSON string with serde_json's escapes: `\"`, `\\`, the five short control
/// escapes, `\u00xx` (lower-case hex) for the other control characters, everything else as is.
/// The one JSON string writer of the project (the artifact's checksum, the browser package's
/// results, the service's journal records).
pub fn push_string(out: &mut String, v: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    // Runs without escapes are copied whole: a call per byte was most of the cost in the
    // `.wasm`. A run ends at an ASCII byte, so it is whole characters.
    let mut run = 0;
    for (i, &b) in v.as_bytes().iter().enumerate() {
        let short = match b {
            b'"' => '"',
            b'\\' => '\\',
            0x08 => 'b',
            0x0c => 'f',
            b'\n' => 'n',
            b'\r' => 'r',
            b'\t' => 't',
            0..=0x1f => 'u',
            _ => continue,
        };
        out.push_str(v.get(run..i).unwrap_or_default());
        run = i + 1;
        out.push('\\');
        out.push(short);
        if short == 'u' {
            out.push_str("00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out.push_str(v.get(run..).unwrap_or_default());
    out.push('"');
}

impl JsonWriter {
    /// An empty writer.
    pub fn with_capacity(bytes: usize) -> JsonWriter {
        JsonWriter {
            out: String::with_capacity(bytes),
            first: true,
        }
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }

    /// Text as it is (valid JSON is the caller's business).
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Opens an object (`{`) or array (`[`).
    pub fn open(&mut self, bracket: &str) {
        self.raw(bracket);
        self.first = true;
    }

    /// Closes an object (`}`) or array (`]`).
    pub fn close(&mut self, bracket: &str) {
        self.first = false;
        self.raw(bracket);
    }

    /// Starts an element of an array, or a key of an object (`key` is a plain identifier).
    pub fn next(&mut self, key: Option<&str>) {
        if !std::mem::take(&mut self.first) {
            self.raw(",");
        }
        if let Some(k) = key {
            self.raw("\"");
            self.raw(k);
            self.raw("\":");
        }
    }

    /// A JSON string (see [`push_string`]).
    pub fn string(&mut self, v: &str) {
        push_string(&mut self.out, v);
    }

    /// A float as serde_json writes it: its own float printer (zmij) through `Number`'s
    /// `Display`, which is that printer alone, without serde_json's serializer; `null` for
    /// NaN and infinities. (Rust's own shortest printing is not a substitute: the two pick
    /// different last digits for some floats, e.g. 84418043664819.13 against .12.)
    pub fn number(&mut self, v: f64) {
        match serde_json::Number::from_f64(v) {
            // Straight into the text: no `String` per number.
            Some(n) => {
                let _ = write!(self.out, "{n}");
            }
            None => self.raw("null"),
        }
    }

    /// `"key":"v"`.
    pub fn str(&mut self, key: &str, v: &str) {
        self.next(Some(key));
        self.string(v);
    }

    /// `"key":v` (`null` for NaN and infinities).
    pub fn f64(&mut self, key: &str, v: f64) {
        self.next(Some(key));
        self.number(v);
    }

    /// `"key":v`.
    pub fn u64(&mut self, key: &str, v: u64) {
        self.next(Some(key));
        let _ = write!(self.out, "{v}");
    }

    /// `"key":true` or `"key":false`.
    pub fn bool(&mut self, key: &str, v: bool) {
        self.next(Some(key));
        self.raw(if v { "true" } else { "false" })
    }

    /// `"key":[v0,v1,…]` of integers.
    pub fn u64s(&mut self, key: &str, v: &[u64]) {
        self.next(Some(key));
        self.open("[");
        for &x in v {
            self.next(None);
            let _ = write!(self.out, "{x}");
        }
        self.close("]")
    }

    /// `"key":[v0,v1,…]`.
    pub fn f64s(&mut self, key: &str, v: &[f64]) {
        self.next(Some(key));
        self.open("[");
        for &x in v {
            self.next(None);
            self.number(x);
        }
        self.close("]")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    fn written(v: &str) -> String {
        let mut out = String::new();
        super::push_string(&mut out, v);
        out
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        for s in [
            "",
            "plain",
            "\"quoted\" and \\back\\slashed\\",
            "tab\tnew\nline\rform\u{c}back\u{8}",
            &every_control,
            "\u{7f}\u{85}\u{2028}Ünïcödé 日本 💳",
            "\"",
            "a\u{0}b",
        ] {
            assert_eq!(written(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in any::<String>()) {
            prop_assert_eq!(written(&s), serde_json::to_string(&s).unwrap());
        }
    }
}
