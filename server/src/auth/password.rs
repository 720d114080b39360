//! Passwords are kept only as argon2id hashes with OWASP's recommended parameters
//! (19 MiB of memory, 2 iterations, 1 lane).

use argon2::password_hash::rand_core::{OsRng, RngCore};
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shorter passwords are refused; longer ones are refused too, so that hashing a hostile
/// input cannot be made expensive.
pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("a password may have at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("the password could not be hashed: {0}")]
    Hashing(String),
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP's argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string to store: algorithm, parameters, salt and hash.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hashing(error.to_string()))
}

/// True when `password` is the one `stored` (a PHC string) was made from. Takes the same
/// time (tens of milliseconds of CPU) whether or not it matches: run it off the async threads.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.chars().count() > MAX_LENGTH {
        return false;
    }
    PasswordHash::new(stored).is_ok_and(|parsed| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Does the work of a verification that fails, for a sign-in with an unknown user name, so
/// that the time taken does not tell which names exist.
pub fn verify_against_nothing(password: &str) {
    static DECOY: OnceLock<String> = OnceLock::new();
    let decoy = DECOY.get_or_init(|| hash(&generate()).expect("a generated password hashes"));
    verify(password, decoy);
}

/// A random password of 24 letters and digits (about 143 bits), for generated accounts.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut password = String::with_capacity(24);
    while password.len() < 24 {
        let byte = (OsRng.next_u32() & 0xff) as usize;
        // Rejection sampling keeps every character equally likely.
        if byte < 256 - 256 % ALPHABET.len() {
            password.push(ALPHABET[byte % ALPHABET.len()] as char);
        }
    }
    password
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_with_owasp_parameters_and_verify() {
        let first = hash("correct horse battery").unwrap();
        let second = hash("correct horse battery").unwrap();
        assert_ne!(first, second, "each hash has its own salt");
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        let parsed = PasswordHash::new(&first).unwrap();
        assert!(
            hasher()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(
            hasher()
                .verify_password(b"correct horse battery!", &parsed)
                .is_err()
        );
    }

    #[test]
    fn verification_accepts_only_the_same_password() {
        let stored = hash("correct horse battery").unwrap();
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("correct horse battery", "not a PHC string"));
        assert!(!verify(&"x".repeat(MAX_LENGTH + 1), &stored));
    }

    #[test]
    fn too_short_and_too_long_passwords_are_refused() {
        assert_eq!(hash("elevenchars"), Err(PasswordError::TooShort));
        assert_eq!(
            hash(&"x".repeat(MAX_LENGTH + 1)),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn generated_passwords_are_long_alphanumeric_and_differ() {
        let (first, second) = (generate(), generate());
        assert_eq!(first.len(), 24);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(first, second);
        assert!(hash(&first).is_ok());
    }
}
