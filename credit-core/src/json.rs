//! A small compact-JSON writer with serde_json's exact output (see [`JsonWriter`]).

/// Compact JSON written by hand, byte for byte as serde_json writes it: its string escapes, its
/// float printer (through `Number`), no spaces. Written by hand so that serde_json's
/// serializer is not linked into the `.wasm`; the artifact's checksum is computed over what
/// this writes (see `artifact::read`), and the browser package hands results to JS as its
/// text for one `JSON.parse`, much cheaper there than setting properties one by one.
pub struct JsonWriter {
    out: Vec<u8>,
    /// Whether the next key or element is the first of its object or array.
    first: bool,
}

impl JsonWriter {
    /// An empty writer.
    pub fn with_capacity(bytes: usize) -> JsonWriter {
        JsonWriter {
            out: Vec::with_capacity(bytes),
            first: true,
        }
    }

    /// The text written.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }

    /// Text as it is (valid JSON is the caller's business).
    pub fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
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

    /// A JSON string with serde_json's escapes: `\"`, `\\`, the five short control escapes,
    /// `\u00xx` (lower-case hex) for the other control characters, everything else as is.
    pub fn string(&mut self, v: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.out.push(b'"');
        let bytes = v.as_bytes();
        // Runs without escapes are copied whole: a call per byte was most of the cost.
        let mut run = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                0x0c => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0..=0x1f => b'u',
                _ => continue,
            };
            self.out
                .extend_from_slice(bytes.get(run..i).unwrap_or_default());
            run = i + 1;
            self.out.extend_from_slice(&[b'\\', short]);
            if short == b'u' {
                let hex = [
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ];
                self.out.extend_from_slice(&hex);
            }
        }
        self.out
            .extend_from_slice(bytes.get(run..).unwrap_or_default());
        self.out.push(b'"');
    }

    /// A float as serde_json writes it: its own float printer (zmij) through `Number`'s
    /// `Display`, which is that printer alone, without serde_json's serializer; `null` for
    /// NaN and infinities. (Rust's own shortest printing is not a substitute: the two pick
    /// different last digits for some floats, e.g. 84418043664819.13 against .12.)
    pub fn number(&mut self, v: f64) {
        match serde_json::Number::from_f64(v) {
            Some(n) => self.raw(&n.to_string()),
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
        self.raw(&v.to_string());
    }

    /// `"key":true` or `"key":false`.
    pub fn bool(&mut self, key: &str, v: bool) {
        self.next(Some(key));
        self.raw(if v { "true" } else { "false" })
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
    use super::JsonWriter;
    use proptest::prelude::*;

    fn written(v: &str) -> String {
        let mut w = JsonWriter::with_capacity(16);
        w.string(v);
        String::from_utf8(w.finish()).unwrap()
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
