//! Password hashing. Passwords are stored only as salted Argon2id hashes
//! (PHC strings); nothing reversible is kept.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash as PhcHash};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

/// A salted Argon2id hash in PHC string form.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// Hashing failed (only on resource exhaustion or a corrupt stored hash).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &str) -> Result<Self, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| HashError(e.to_string()))
    }

    /// A hash that no password verifies against, for identities that have
    /// no password (a box's application logged in by certificate).
    pub fn unusable() -> Self {
        PasswordHash(String::from("!"))
    }

    /// Whether `password` is the one hashed. Constant-time in the password.
    pub fn verify(&self, password: &str) -> bool {
        match PhcHash::new(&self.0) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = PasswordHash::new("Heslo-123456").unwrap();
        let b = PasswordHash::new("Heslo-123456").unwrap();
        assert!(a.verify("Heslo-123456"));
        assert!(!a.verify("heslo-123456"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.0.starts_with("$argon2id$"));
        assert!(!format!("{a:?}").contains("argon2"));
    }
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRuleViolation {
    #[error("the password must be {min} to {max} characters long")]
    Length { min: usize, max: usize },
    #[error("the password must contain a lower-case letter, an upper-case letter and a digit")]
    CharacterClasses,
    #[error("the password may contain only letters a-z, A-Z, digits and the characters {SPECIALS}")]
    ForbiddenCharacter,
    #[error("the password must not contain the user name")]
    ContainsLogin,
    #[error("the password must not repeat one character three times in a row")]
    Repetition,
    #[error("the password must not start with a keyboard or number sequence")]
    TrivialStart,
    #[error("the new password must differ from the current one")]
    SameAsCurrent,
}

/// The special characters a password may contain.
pub const SPECIALS: &str = "!#$%&()*+,-.:=?@[]_{|}~";

/// Shortest and longest accepted password.
pub const PASSWORD_LENGTH: (usize, usize) = (8, 32);

/// Checks a new password against the ISDS strength rules: length, a lower
/// and an upper-case letter and a digit, only ASCII letters, digits and
/// [`SPECIALS`], not containing the login, no character three times in a
/// row, no trivial keyboard start, and not the current password.
pub fn check_new_password(
    new: &str,
    login: &str,
    current: &PasswordHash,
) -> Result<(), PasswordRuleViolation> {
    check_password_rules(new, login)?;
    if current.verify(new) {
        return Err(PasswordRuleViolation::SameAsCurrent);
    }
    Ok(())
}

/// The strength rules of [`check_new_password`] that do not depend on the
/// current password (for a user who has none yet).
pub fn check_password_rules(new: &str, login: &str) -> Result<(), PasswordRuleViolation> {
    let (min, max) = PASSWORD_LENGTH;
    let len = new.chars().count();
    if len < min || len > max {
        return Err(PasswordRuleViolation::Length { min, max });
    }
    if !new
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
    {
        return Err(PasswordRuleViolation::ForbiddenCharacter);
    }
    let has = |f: fn(&char) -> bool| new.chars().any(|c| f(&c));
    if !(has(char::is_ascii_lowercase)
        && has(char::is_ascii_uppercase)
        && has(char::is_ascii_digit))
    {
        return Err(PasswordRuleViolation::CharacterClasses);
    }
    if !login.is_empty() && new.to_lowercase().contains(&login.to_lowercase()) {
        return Err(PasswordRuleViolation::ContainsLogin);
    }
    let bytes = new.as_bytes();
    if bytes.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return Err(PasswordRuleViolation::Repetition);
    }
    let lower = new.to_lowercase();
    if ["qwert", "asdfg", "12345"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return Err(PasswordRuleViolation::TrivialStart);
    }
    Ok(())
}

/// Length of generated passwords.
const GENERATED_LENGTH: usize = 16;

/// Characters of generated passwords: letters and digits without the
/// look-alikes (0/O, 1/l/I), and a few specials that need no quoting in a
/// shell or a URL.
const GENERATED_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.";

/// A fresh random password for `login` that satisfies
/// [`check_password_rules`], from the operating system's random source.
pub fn generate_password(login: &str) -> String {
    loop {
        let candidate: String = (0..GENERATED_LENGTH)
            .map(|_| char::from(GENERATED_ALPHABET[random_below(GENERATED_ALPHABET.len())]))
            .collect();
        if check_password_rules(&candidate, login).is_ok() {
            return candidate;
        }
    }
}

/// A uniformly random index below `n` (0 < n <= 256), by rejection
/// sampling from [`OsRng`].
pub fn random_below(n: usize) -> usize {
    use rand_core::RngCore;
    let n = n.clamp(1, 256);
    // The largest multiple of n that fits in a byte's 256 values.
    let limit = 256 - 256 % n;
    loop {
        let mut byte = [0u8; 1];
        OsRng.fill_bytes(&mut byte);
        let b = usize::from(byte[0]);
        if b < limit {
            return b % n;
        }
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    #[test]
    fn password_rules() {
        let current = PasswordHash::new("Current-Pass1").unwrap();
        let ok = |p: &str| check_new_password(p, "jnovak", &current);
        assert_eq!(ok("Silne-Heslo7"), Ok(()));
        assert_eq!(
            ok("Kr4tk-"),
            Err(PasswordRuleViolation::Length { min: 8, max: 32 })
        );
        assert_eq!(
            ok(&"Ab1-".repeat(9)),
            Err(PasswordRuleViolation::Length { min: 8, max: 32 })
        );
        assert_eq!(
            ok("bezcislic-A"),
            Err(PasswordRuleViolation::CharacterClasses)
        );
        assert_eq!(
            ok("Heslo s mezerou 1"),
            Err(PasswordRuleViolation::ForbiddenCharacter)
        );
        assert_eq!(
            ok("Žluťoučký-1A"),
            Err(PasswordRuleViolation::ForbiddenCharacter)
        );
        assert_eq!(
            ok("Xx-JNovak-12"),
            Err(PasswordRuleViolation::ContainsLogin)
        );
        assert_eq!(ok("Heslooo-12A"), Err(PasswordRuleViolation::Repetition));
        assert_eq!(
            ok("Qwerty-Heslo1"),
            Err(PasswordRuleViolation::TrivialStart)
        );
        assert_eq!(
            ok("Current-Pass1"),
            Err(PasswordRuleViolation::SameAsCurrent)
        );
        assert!(!PasswordHash::unusable().verify(""));
        assert!(!PasswordHash::unusable().verify("!"));
    }

    #[test]
    fn generated_passwords_pass_the_rules_and_differ() {
        let a = generate_password("ab12cd");
        let b = generate_password("ab12cd");
        assert_ne!(a, b);
        for p in [&a, &b] {
            assert_eq!(p.len(), GENERATED_LENGTH);
            assert_eq!(check_password_rules(p, "ab12cd"), Ok(()));
        }
        for _ in 0..1000 {
            assert!(random_below(36) < 36);
        }
    }
}
