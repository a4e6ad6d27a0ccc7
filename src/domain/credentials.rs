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
