//! Base64 as ISDS clients send it: standard alphabet, padding optional,
//! trailing bits tolerated, XML whitespace (line breaks) anywhere.
//!
//! [`decode_lenient`] decodes large texts in fixed-size chunks, so a
//! wrapped text is never compacted into a second full-size copy; it
//! accepts exactly what decoding the whole compacted text with
//! [`LENIENT`] accepts, with the same result.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard alphabet; padding optional and trailing bits tolerated, as
/// clients differ.
pub const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Characters of base64 text decoded at a time (a multiple of 4).
const CHUNK: usize = 64 * 1024;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Decodes `text` (whitespace ignored); `None` when it is not valid
/// base64 (the caller reports the error through the whole-text decoder).
pub fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = crate::large_buffers::vec_with_capacity(bytes.len() / 4 * 3 + 3);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut rest = bytes;
    while !rest.is_empty() {
        // A whole chunk without whitespace is decoded where it lies.
        if buf.is_empty()
            && let Some(chunk) = rest.get(..CHUNK)
            && !chunk.iter().fold(false, |acc, &b| acc | is_space(b))
        {
            rest = skip_spaces(&rest[CHUNK..]);
            if !rest.is_empty() && memchr::memchr(b'=', chunk).is_some() {
                return None;
            }
            decode_chunk(chunk, &mut out)?;
            continue;
        }
        // Copy the next run of non-space characters into the chunk.
        let room = CHUNK - buf.len();
        if room == 0 {
            // A full chunk with more text to come: it is not the last, so
            // padding inside it would be an error for the whole text too.
            if memchr::memchr(b'=', &buf).is_some() {
                return None;
            }
            decode_chunk(&buf, &mut out)?;
            buf.clear();
            continue;
        }
        let run = rest
            .iter()
            .take(room)
            .position(|&b| is_space(b))
            .unwrap_or(room.min(rest.len()));
        buf.extend_from_slice(&rest[..run]);
        rest = skip_spaces(&rest[run..]);
    }
    decode_chunk(&buf, &mut out)?;
    Some(out)
}

fn skip_spaces(text: &[u8]) -> &[u8] {
    let spaces = text
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(text.len());
    &text[spaces..]
}

fn decode_chunk(chunk: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    out.resize(start + chunk.len().div_ceil(4) * 3, 0);
    let n = LENIENT.decode_slice(chunk, &mut out[start..]).ok()?;
    out.truncate(start + n);
    Some(())
}

/// Appends the canonical (padded, unwrapped) base64 form of `bytes`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> Option<Vec<u8>> {
        let compact: Vec<u8> = text.bytes().filter(|b| !is_space(*b)).collect();
        LENIENT.decode(compact).ok()
    }

    #[test]
    fn chunked_decoding_agrees_with_whole_decoding() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let plain = base64::engine::general_purpose::STANDARD.encode(&data);
        let wrapped: String = plain
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
            .collect();
        let unpadded = plain.trim_end_matches('=').to_owned();
        // Wrapped at first, then one long line: both ways of reading mix.
        // (1,000 wrapped characters hold 12 line breaks: 976 of base64.)
        let mixed = format!("{}\n{}", &wrapped[..1_000], &plain[976..]);
        let spaced_end = format!("{plain}\r\n  \n");
        for text in [&plain, &wrapped, &unpadded, &mixed, &spaced_end] {
            assert_eq!(decode_lenient(text).as_deref(), Some(data.as_slice()));
        }
        // Exactly one chunk, padded, with or without whitespace after it.
        let one = &plain[..CHUNK - 4];
        for text in [
            format!("{one}QQ=="),
            format!("{one}QQ==\n"),
            format!("{one}QQ"),
        ] {
            assert_eq!(decode_lenient(&text), whole(&text), "{:.40}", text);
            assert!(decode_lenient(&text).is_some());
        }
        // Padding at the end of a full chunk that is not the last.
        let early = format!("{one}QQ==QUJD");
        assert_eq!(decode_lenient(&early), None);
        assert_eq!(whole(&early), None);
        let mut bad = plain.clone();
        bad.replace_range(100_000..100_001, "*");
        let mut inner_pad = plain.clone();
        inner_pad.replace_range(70_000..70_004, "QQ==");
        for text in [
            bad.as_str(),
            inner_pad.as_str(),
            "QQ==QQ==",
            "Q",
            "QQ=",
            "QUJD\nRA==",
            "",
            "  ",
        ] {
            assert_eq!(decode_lenient(text), whole(text), "{:.40}", text);
        }
    }
}
