//! The CSV tokenizer under every importer: finds each record's fields and its true first line,
//! 64 bytes at a time, in safe Rust.
//!
//! Each 64-byte block becomes three bit masks (quotes, commas, line feeds), built eight bytes at
//! a time with word arithmetic (SWAR). A prefix XOR of the quote mask marks the bytes inside
//! quotes, so the commas and line feeds left outside are the separators; the line feeds inside
//! quotes are counted so that line numbers stay physical. This is the technique of simdjson and
//! simdcsv without the vector instructions, and it reads the benchmark's GIAS file about twice
//! as fast as the `csv` crate's state machine (see BENCHMARKS.md).
//!
//! Dialect: RFC 4180 with the usual leniency, as the `csv` crate reads it (the tests check the
//! two agree on well-formed files): `"` opens a quoted field at the start of a field, `""` inside
//! one is a quote, line ends are LF or CRLF, and a field that does not start with `"` keeps any
//! `"` it contains. Where they differ: a line of only a bare CR does not end a record here (a
//! CR before LF is dropped), and an odd number of quotes in the middle of an unquoted field opens
//! a quoted run (the `csv` crate keeps it literal). Neither happens in DfE's files; both give
//! row errors, never a panic.

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;
/// Gathers the low bit of each byte into the top byte (each byte's bit lands in its own place).
const GATHER: u64 = 0x0102_0408_1020_4080;

/// The high bit of each byte of `word` that equals `byte` (no false positives from borrows).
#[inline(always)]
fn zero_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW7) + LOW7) | x) & HIGH
}

/// The high bits of a word's bytes as an 8-bit mask (byte i → bit i).
#[inline(always)]
fn gather(high_bits: u64) -> u64 {
    (high_bits >> 7).wrapping_mul(GATHER) >> 56
}

/// Masks of the quotes and of the separators (commas and line feeds) in a block: bit i is byte i.
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    let (words, _) = block.as_chunks::<8>();
    let (mut quotes, mut separators) = (0u64, 0u64);
    for (i, w) in words.iter().enumerate() {
        let w = u64::from_le_bytes(*w);
        quotes |= gather(zero_bytes(w, b'"')) << (8 * i);
        separators |= gather(zero_bytes(w, b',') | zero_bytes(w, b'\n')) << (8 * i);
    }
    (quotes, separators)
}

/// Bit i is the XOR of bits 0..=i: set on the bytes from an opening quote up to its closing one.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// A record's place in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    /// The physical line the record starts on.
    pub line: u64,
    /// The record runs to the end of the text inside an unclosed quote.
    pub unclosed_quote: bool,
    /// The record may contain a quote (false means it certainly does not).
    pub may_have_quotes: bool,
}

/// Splits text into records of raw field ranges (quotes still on; see [`field_value`]).
#[derive(Debug)]
pub struct Scanner<'a> {
    bytes: &'a [u8],
    next_block: usize,
    block_start: usize,
    /// Separators (commas and line feeds outside quotes) of the loaded block not yet taken.
    separators: u64,
    /// Line feeds inside quotes in the loaded block not yet counted.
    quoted_line_feeds: u64,
    /// All ones when the loaded block ends inside quotes.
    in_quotes: u64,
    /// The quotes of the loaded block.
    quotes: u64,
    /// A block the current record touches has a quote.
    record_quotes: bool,
    /// Line feeds inside quotes in the current record so far.
    quoted_lines: u64,
    /// Where the next record starts.
    position: usize,
    line: u64,
}

impl<'a> Scanner<'a> {
    /// A scanner over `bytes`, which start at a record boundary on physical line `first_line`.
    pub fn new(bytes: &'a [u8], first_line: u64) -> Self {
        Scanner {
            bytes,
            next_block: 0,
            block_start: 0,
            separators: 0,
            quoted_line_feeds: 0,
            in_quotes: 0,
            quotes: 0,
            record_quotes: false,
            quoted_lines: 0,
            position: 0,
            line: first_line,
        }
    }

    /// Where the next record starts, and its line (before blank lines are skipped).
    pub fn position(&self) -> (usize, u64) {
        (self.position, self.line)
    }

    fn load_block(&mut self) -> bool {
        let start = self.next_block;
        let Some(rest) = self.bytes.get(start..).filter(|r| !r.is_empty()) else {
            return false;
        };
        self.quoted_lines += u64::from(self.quoted_line_feeds.count_ones());
        let (quotes, separators) = match rest.first_chunk::<64>() {
            Some(block) => block_masks(block),
            None => {
                let mut block = [0u8; 64];
                block[..rest.len()].copy_from_slice(rest);
                block_masks(&block)
            }
        };
        self.quotes = quotes;
        self.record_quotes |= quotes != 0;
        let inside = prefix_xor(quotes) ^ self.in_quotes;
        self.in_quotes = if inside >> 63 == 1 { u64::MAX } else { 0 };
        self.separators = separators & !inside;
        // Commas and line feeds inside quotes: count the line feeds among them (rare).
        let mut quoted = separators & inside;
        self.quoted_line_feeds = 0;
        while quoted != 0 {
            let bit_index = quoted.trailing_zeros();
            quoted &= quoted - 1;
            if rest.get(bit_index as usize) == Some(&b'\n') {
                self.quoted_line_feeds |= 1 << bit_index;
            }
        }
        self.block_start = start;
        self.next_block = start + 64;
        true
    }

    /// Reads the next non-blank record's raw field ranges into `fields` (cleared first).
    pub fn next_record(&mut self, fields: &mut Vec<(usize, usize)>) -> Option<RecordSpan> {
        loop {
            fields.clear();
            if self.position >= self.bytes.len() {
                return None;
            }
            let line = self.line;
            let mut start = self.position;
            // Quotes in the loaded block at or after the record's start.
            let offset = start.wrapping_sub(self.block_start);
            self.record_quotes = offset < 64 && self.quotes >> offset != 0;
            'record: loop {
                while self.separators != 0 {
                    let bit_index = self.separators.trailing_zeros();
                    let at = self.block_start + bit_index as usize;
                    self.separators &= self.separators - 1;
                    fields.push((start, at));
                    start = at + 1;
                    if self.bytes.get(at) == Some(&b'\n') {
                        let bit = 1u64 << bit_index;
                        // Line feeds inside quotes before this one are this record's.
                        let before = self.quoted_line_feeds & (bit - 1);
                        self.quoted_lines += u64::from(before.count_ones());
                        self.quoted_line_feeds &= !before;
                        break 'record;
                    }
                }
                if !self.load_block() {
                    fields.push((start, self.bytes.len()));
                    start = self.bytes.len();
                    break;
                }
            }
            self.position = start;
            self.line += 1 + self.quoted_lines;
            self.quoted_lines = 0;
            // A CR before the line feed belongs to the line end (and a last CR to the file end).
            if let Some(last) = fields.last_mut()
                && last.1 > last.0
                && self.bytes[last.1 - 1] == b'\r'
            {
                last.1 -= 1;
            }
            if let [(s, e)] = fields.as_slice()
                && s == e
            {
                continue; // a blank line
            }
            let unclosed_quote = start >= self.bytes.len() && self.in_quotes != 0;
            return Some(RecordSpan {
                line,
                unclosed_quote,
                may_have_quotes: self.record_quotes,
            });
        }
    }
}

/// How a raw field reads: its bytes as they stand, or unquoted into `out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unquoted {
    /// The value is this sub-range of the raw field (offsets relative to the field).
    Within(usize, usize),
    /// The value was written to `out` (it had `""` escapes or text after its closing quote).
    Written,
}

/// A raw field's value: quotes removed and `""` read as `"`, as the `csv` crate reads it.
pub fn field_value(raw: &[u8], out: &mut Vec<u8>) -> Unquoted {
    if raw.first() != Some(&b'"') {
        return Unquoted::Within(0, raw.len());
    }
    let n = raw.len();
    if n >= 2 && raw[n - 1] == b'"' && memchr::memchr(b'"', &raw[1..n - 1]).is_none() {
        return Unquoted::Within(1, n - 1);
    }
    out.clear();
    let mut quoted = true;
    let mut i = 1;
    while i < n {
        let b = raw[i];
        if quoted && b == b'"' {
            if raw.get(i + 1) == Some(&b'"') {
                out.push(b'"');
                i += 2;
                continue;
            }
            quoted = false;
        } else {
            out.push(b);
        }
        i += 1;
    }
    Unquoted::Written
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn records(text: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut s = Scanner::new(text, 1);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        let mut all = Vec::new();
        while let Some(span) = s.next_record(&mut fields) {
            let values = fields
                .iter()
                .map(|&(a, b)| match field_value(&text[a..b], &mut out) {
                    Unquoted::Within(x, y) => text[a + x..a + y].to_vec(),
                    Unquoted::Written => out.clone(),
                })
                .collect();
            all.push((span.line, values));
        }
        all
    }

    fn with_csv_crate(text: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut rec = csv::ByteRecord::new();
        let mut all = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            all.push(rec.iter().map(<[u8]>::to_vec).collect());
        }
        all
    }

    #[test]
    fn byte_masks_are_exact() {
        let mut block = [0u8; 64];
        for (i, b) in block.iter_mut().enumerate() {
            *b = [b'"', b',', b'\n', b'a', 0x80, 0xff, b'!', 0x2b][i % 8];
        }
        let (q, s) = block_masks(&block);
        let every = |k: u64| (0..8).fold(0u64, |m, j| m | (1 << (8 * j + k)));
        assert_eq!((q, s), (every(0), every(1) | every(2)));
    }

    #[test]
    fn fields_and_physical_lines() {
        // (input, [(line, fields)])
        type Records = &'static [(u64, &'static [&'static str])];
        let cases: &[(&str, Records)] = &[
            ("a,b\nc,d", &[(1, &["a", "b"]), (2, &["c", "d"])]),
            ("a,b\r\nc,d\r\n", &[(1, &["a", "b"]), (2, &["c", "d"])]),
            ("\"x, y\",\"say \"\"hi\"\"\"\r\n", &[(1, &["x, y", "say \"hi\""])]),
            (
                "h\r\n\"two\r\nlines\",z\r\n\r\nnext",
                &[(1, &["h"]), (2, &["two\r\nlines", "z"]), (5, &["next"])],
            ),
            ("a,,\n,\n", &[(1, &["a", "", ""]), (2, &["", ""])]),
            ("\"\",\"\"\n", &[(1, &["", ""])]),
            ("ab\"c,d\"e\n", &[(1, &["ab\"c,d\"e"])]),
            ("\"ab\"c,d\n", &[(1, &["abc", "d"])]),
            ("\"open\nnever closed", &[(1, &["open\nnever closed"])]),
        ];
        for (input, want) in cases {
            let got = records(input.as_bytes());
            let want: Vec<(u64, Vec<Vec<u8>>)> = want
                .iter()
                .map(|(l, f)| (*l, f.iter().map(|s| s.as_bytes().to_vec()).collect()))
                .collect();
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn an_unclosed_quote_is_reported_on_the_record_that_opened_it() {
        let mut s = Scanner::new(b"a\n\"b\nc", 1);
        let mut f = Vec::new();
        let mut next = || s.next_record(&mut f).map(|r| (r.line, r.unclosed_quote));
        assert_eq!(next(), Some((1, false)));
        assert_eq!(next(), Some((2, true)));
        assert_eq!(next(), None);
    }

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9 .é’-]{0,12}",
            "[a-z,\"\r\n ]{0,12}".prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
        ]
    }

    proptest! {
        /// On well-formed CSV (fields quoted as writers quote them) the scanner and the `csv`
        /// crate read the same records, across block boundaries, with LF or CRLF line ends.
        #[test]
        fn agrees_with_the_csv_crate(
            rows in prop::collection::vec(prop::collection::vec(field(), 1..8), 1..30),
            crlf in any::<bool>(),
            final_break in any::<bool>(),
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let mut text = rows.iter().map(|r| r.join(",")).collect::<Vec<_>>().join(end);
            if final_break {
                text.push_str(end);
            }
            // A record of one empty field is a blank line to both (`""` alone is one to `csv`).
            let blank = |r: &Vec<Vec<u8>>| r.len() == 1 && r[0].is_empty();
            let ours: Vec<Vec<Vec<u8>>> = records(text.as_bytes()).into_iter().map(|r| r.1).filter(|r| !blank(r)).collect();
            let theirs: Vec<Vec<Vec<u8>>> = with_csv_crate(text.as_bytes()).into_iter().filter(|r| !blank(r)).collect();
            prop_assert_eq!(ours, theirs);
        }

        /// Lines count every line feed before the record, inside quotes or not.
        #[test]
        fn lines_are_physical(rows in prop::collection::vec(prop::collection::vec(field(), 1..5), 1..30)) {
            let text = rows.iter().map(|r| r.join(",")).collect::<Vec<_>>().join("\r\n");
            let mut s = Scanner::new(text.as_bytes(), 1);
            let mut f = Vec::new();
            while let Some(span) = s.next_record(&mut f) {
                let (start, end) = (f[0].0, f[f.len() - 1].1);
                prop_assert!(span.may_have_quotes || !text.as_bytes()[start..end].contains(&b'"'));
                let want = 1 + text.as_bytes()[..start].iter().filter(|&&b| b == b'\n').count() as u64;
                prop_assert_eq!(span.line, want);
            }
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = records(&bytes);
        }
    }
}
