//! Bearer secrets (session ids, API tokens): 256 random bits, stored only as their SHA-256.
//! A fast hash is right here: unlike a password, a 256-bit random value cannot be guessed,
//! and the lookup on every request must be cheap.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A new random secret with `prefix`, and the digest to store.
pub fn generate(prefix: &str) -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = digest(&secret);
    (secret, digest)
}

/// What the store keeps of a secret.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_256_random_bits_and_only_their_digest_is_kept() {
        let (first, first_digest) = generate("tk_");
        let (second, _) = generate("tk_");
        assert_ne!(first, second);
        assert!(first.starts_with("tk_"));
        // 32 bytes in unpadded base64url are 43 characters.
        assert_eq!(first.len(), 3 + 43);
        assert_eq!(first_digest, digest(&first));
        assert_eq!(first_digest.len(), 32);
    }
}
