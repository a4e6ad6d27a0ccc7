//! A written document whose large binary contents are kept as bytes, to
//! be base64-encoded only as the document is sent.
//!
//! A 20 MB document in a response is 27 MB of base64 text; held as a
//! [`Fragment`] it stays 20 MB (shared with whoever read it), and its text
//! is produced in pieces as the connection takes them.

use base64::Engine as _;
use bytes::Bytes;

/// One piece of a [`Fragment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Markup and text, ready to send.
    Text(String),
    /// Bytes that stand in the document as their base64 text (standard
    /// alphabet, padded, unwrapped).
    Base64(Bytes),
}

/// An XML document (or part of one) as a sequence of [`Part`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fragment {
    parts: Vec<Part>,
}

/// The length of the base64 text of `n` bytes.
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

impl Fragment {
    pub(crate) fn from_parts(parts: Vec<Part>) -> Fragment {
        Fragment { parts }
    }

    /// Puts `text` before everything else.
    pub fn prepend(&mut self, text: String) {
        self.parts.insert(0, Part::Text(text));
    }

    /// Adds `text` at the end.
    pub fn append(&mut self, text: String) {
        self.parts.push(Part::Text(text));
    }

    /// Whether every part is text (nothing left to encode).
    pub fn is_text(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Length of the whole document in bytes, base64 texts included.
    pub fn len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::Base64(b) => base64_len(b.len()),
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parts, in order.
    pub fn into_parts(self) -> Vec<Part> {
        self.parts
    }

    /// The whole document as one string (binary contents encoded).
    pub fn into_string(mut self) -> String {
        // One piece of text (most responses): that string, not a copy.
        if let [Part::Text(text)] = self.parts.as_mut_slice() {
            return std::mem::take(text);
        }
        let mut out = String::with_capacity(self.len());
        for part in self.parts {
            match part {
                Part::Text(t) => out.push_str(&t),
                Part::Base64(b) => {
                    base64::engine::general_purpose::STANDARD.encode_string(&b, &mut out)
                }
            }
        }
        out
    }
}

impl From<String> for Fragment {
    fn from(text: String) -> Fragment {
        Fragment {
            parts: vec![Part::Text(text)],
        }
    }
}
