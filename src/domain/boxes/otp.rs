//! One-time passwords for the OTP logins: HOTP (RFC 4226) and TOTP
//! (RFC 6238) codes, the per-user secrets and their counters, and the
//! base32 form (RFC 4648) in which secrets are exchanged.
//!
//! Store layout (tree: key → value):
//! - `otp_secrets`: user ID → [`OtpSecret`] (JSON)

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;

use crate::domain::boxes::repo::RepoError;
use crate::domain::boxes::user::UserId;
use crate::store::{Batch, Store, StoreError};

pub(crate) const OTP_SECRETS: &str = "otp_secrets";

/// Digits of every code ISDS uses.
pub const DIGITS: u32 = 6;
/// TOTP time step in seconds (RFC 6238 default).
pub const TOTP_STEP_SECONDS: i64 = 30;
/// TOTP steps accepted either side of the current one (clock drift, and
/// the time an SMS takes to arrive).
pub const TOTP_SKEW_STEPS: u64 = 1;
/// HOTP counters accepted ahead of the expected one (codes generated on the
/// token but never used); a match there resynchronises the counter.
pub const HOTP_LOOK_AHEAD: u64 = 10;
/// RFC 4226 requires shared secrets of at least 128 bits.
pub const MIN_SECRET_BYTES: usize = 16;

/// Which algorithm a user's secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtpKind {
    /// Counter-based codes from a hardware or software token.
    Hotp,
    /// Time-based codes, in ISDS delivered by SMS.
    Totp,
}

impl OtpKind {
    pub fn name(self) -> &'static str {
        match self {
            OtpKind::Hotp => "hotp",
            OtpKind::Totp => "totp",
        }
    }
}

/// A user's OTP secret and how far it has been used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpSecret {
    pub kind: OtpKind,
    /// The shared key (raw bytes, not base32).
    pub secret: Vec<u8>,
    /// HOTP: the counter value the next code is expected for. TOTP: the
    /// last time step whose code was accepted (0: none yet), so a code is
    /// never accepted twice.
    pub counter: u64,
}

impl OtpSecret {
    /// Checks a code at Unix time `now`. On success returns the value the
    /// counter must be advanced to; the caller stores it (see
    /// [`advance_counter`]) before treating the code as used.
    pub fn check(&self, code: &str, now: i64) -> Option<u64> {
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match self.kind {
            OtpKind::Hotp => (self.counter..self.counter.saturating_add(HOTP_LOOK_AHEAD))
                .find(|&c| same_code(&format_code(hotp(&self.secret, c)), code))
                .map(|c| c.saturating_add(1)),
            OtpKind::Totp => {
                let step = totp_step(now);
                (step.saturating_sub(TOTP_SKEW_STEPS)..=step.saturating_add(TOTP_SKEW_STEPS))
                    .filter(|&s| s > self.counter)
                    .find(|&s| same_code(&format_code(hotp(&self.secret, s)), code))
            }
        }
    }

    /// The TOTP code for Unix time `now` (what the simulated SMS carries).
    pub fn totp_code(&self, now: i64) -> String {
        totp(&self.secret, now)
    }
}

/// RFC 4226 HOTP value with [`DIGITS`] digits.
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    hotp_digits(secret, counter, DIGITS)
}

/// RFC 4226 HOTP value: HMAC-SHA-1 over the big-endian counter, dynamic
/// truncation, modulo 10^digits (`digits` at most 9).
pub fn hotp_digits(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = (u32::from(hash[offset] & 0x7f) << 24)
        | (u32::from(hash[offset + 1]) << 16)
        | (u32::from(hash[offset + 2]) << 8)
        | u32::from(hash[offset + 3]);
    binary % 10u32.pow(digits.min(9))
}

/// The RFC 6238 time step of Unix time `unix` (0 before the epoch).
pub fn totp_step(unix: i64) -> u64 {
    u64::try_from(unix.div_euclid(TOTP_STEP_SECONDS)).unwrap_or(0)
}

/// The RFC 6238 TOTP code (SHA-1, 30 s, 6 digits) at Unix time `unix`.
pub fn totp(secret: &[u8], unix: i64) -> String {
    format_code(hotp(secret, totp_step(unix)))
}

/// A code as the user types it: zero-padded to [`DIGITS`] digits.
pub fn format_code(value: u32) -> String {
    format!("{value:0width$}", width = DIGITS as usize)
}

/// Compares two codes without an early exit.
fn same_code(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Text that is not base32.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base32Error {
    #[error("invalid base32 character {0:?}")]
    Character(char),
    #[error("invalid base32 length")]
    Length,
}

/// Decodes RFC 4648 base32 as authenticator apps and `oathtool -b` accept
/// it: case-insensitive, padding optional, spaces ignored.
pub fn decode_base32(text: &str) -> Result<Vec<u8>, Base32Error> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    let mut chars = 0usize;
    let mut padding = false;
    for c in text.chars() {
        if c == ' ' {
            continue;
        }
        if c == '=' {
            padding = true;
            continue;
        }
        if padding {
            // Data after padding.
            return Err(Base32Error::Character(c));
        }
        let value = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32,
            '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return Err(Base32Error::Character(c)),
        };
        buffer = (buffer << 5) | u64::from(value);
        bits += 5;
        chars += 1;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // A final group of 1, 3 or 6 characters cannot come from whole bytes.
    if matches!(chars % 8, 1 | 3 | 6) {
        return Err(Base32Error::Length);
    }
    Ok(out)
}

/// The OTP secret of a user, if one is set.
pub fn get_secret(store: &dyn Store, user: &UserId) -> Result<Option<OtpSecret>, RepoError> {
    match store.tree(OTP_SECRETS)?.get(user.as_str().as_bytes())? {
        Some(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| RepoError::Corrupt {
                    what: format!("OTP secret of user {user}"),
                    source,
                })
        }
        None => Ok(None),
    }
}

/// Adds writing a user's OTP secret to `batch`.
pub fn put_secret(batch: &mut Batch, user: &UserId, secret: &OtpSecret) {
    batch.put(OTP_SECRETS, user.as_str(), encode(secret));
}

/// Moves the counter of `current` (as read) to `counter`. Returns `false`
/// when the stored secret changed meanwhile (a concurrent login used a
/// code): nothing is written and the code must not be accepted.
pub fn advance_counter(
    store: &dyn Store,
    user: &UserId,
    current: &OtpSecret,
    counter: u64,
) -> Result<bool, RepoError> {
    let next = OtpSecret {
        counter,
        ..current.clone()
    };
    let mut batch = Batch::new();
    batch.expect(OTP_SECRETS, user.as_str(), Some(encode(current)));
    put_secret(&mut batch, user, &next);
    match store.apply(batch) {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn encode(secret: &OtpSecret) -> Vec<u8> {
    // A plain struct of an enum, bytes and a number always serialises.
    serde_json::to_vec(secret).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc4226_appendix_d_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64), want, "counter {counter}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let expected = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (time, want) in expected {
            assert_eq!(
                hotp_digits(RFC_SECRET, totp_step(time), 8),
                want,
                "T = {time}"
            );
        }
        // Six digits are the low six of the eight.
        assert_eq!(totp(RFC_SECRET, 59), "287082");
        assert_eq!(totp(RFC_SECRET, 1111111109), "081804");
    }

    #[test]
    fn rfc4648_base32_vectors() {
        for (text, bytes) in [
            ("", ""),
            ("MY======", "f"),
            ("MZXQ====", "fo"),
            ("MZXW6===", "foo"),
            ("MZXW6YQ=", "foob"),
            ("MZXW6YTB", "fooba"),
            ("MZXW6YTBOI======", "foobar"),
            ("mzxw6ytboi", "foobar"),
            ("MZXW 6YTB OI", "foobar"),
        ] {
            assert_eq!(decode_base32(text).unwrap(), bytes.as_bytes(), "{text}");
        }
        assert_eq!(
            decode_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            RFC_SECRET
        );
        assert_eq!(decode_base32("MZ1="), Err(Base32Error::Character('1')));
        assert_eq!(decode_base32("M"), Err(Base32Error::Length));
        assert_eq!(decode_base32("MY=A"), Err(Base32Error::Character('A')));
    }

    #[test]
    fn hotp_accepts_a_look_ahead_window_and_resynchronises() {
        let s = OtpSecret {
            kind: OtpKind::Hotp,
            secret: RFC_SECRET.to_vec(),
            counter: 0,
        };
        assert_eq!(s.check("755224", 0), Some(1));
        // Counter 9 is within the window of 10 from 0.
        assert_eq!(s.check("520489", 0), Some(10));
        let later = OtpSecret { counter: 2, ..s };
        // Already used (counter 0) and malformed codes are refused.
        assert_eq!(later.check("755224", 0), None);
        assert_eq!(later.check("35915", 0), None);
        assert_eq!(later.check("35915a", 0), None);
        assert_eq!(later.check("359152", 0), Some(3));
    }

    #[test]
    fn totp_accepts_one_step_either_side_once() {
        let s = OtpSecret {
            kind: OtpKind::Totp,
            secret: RFC_SECRET.to_vec(),
            counter: 0,
        };
        let now = 1_111_111_111;
        let code = s.totp_code(now);
        assert_eq!(s.check(&code, now), Some(totp_step(now)));
        assert_eq!(s.check(&code, now + 30), Some(totp_step(now)));
        assert_eq!(s.check(&code, now - 30), Some(totp_step(now)));
        assert_eq!(s.check(&code, now + 60), None);
        let used = OtpSecret {
            counter: totp_step(now),
            ..s
        };
        assert_eq!(used.check(&code, now), None);
    }
}
