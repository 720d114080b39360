//! Channel secrets at rest: sealed with AES-256-GCM under the server's key, which lives
//! outside the database (`TRAILKEEPER_SECRET_KEY`, or a key file made at first start), so a
//! database dump alone does not reveal a signing key or an SMTP password.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use trailkeeper_app::AppError;

/// The key file's name in the data directory, when no key is configured.
pub const SECRET_KEY_FILE: &str = "secret.key";
/// Bytes in a key.
pub const KEY_LEN: usize = 32;
/// Marks the sealing scheme, so a later one can tell old values apart.
const VERSION: &str = "v1:";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not a key: expected {KEY_LEN} bytes in base64 (make one with `openssl rand -base64 32`)"
    )]
    Malformed,
    #[error("cannot read or create the key file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "a channel's secrets cannot be opened with this key: it was sealed with another \
         TRAILKEEPER_SECRET_KEY or key file"
    )]
    WrongKey,
}

impl From<KeyError> for AppError {
    fn from(error: KeyError) -> AppError {
        AppError::internal("opening alert channel secrets", error)
    }
}

/// The server's key for channel secrets.
#[derive(Clone)]
pub struct SealingKey(Arc<LessSafeKey>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    pub fn from_base64(text: &str) -> Result<SealingKey, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::Malformed)?;
        SealingKey::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<SealingKey, KeyError> {
        if bytes.len() != KEY_LEN {
            return Err(KeyError::Malformed);
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::Malformed)?;
        Ok(SealingKey(Arc::new(LessSafeKey::new(key))))
    }

    /// A new random key.
    pub fn generate() -> SealingKey {
        SealingKey::from_bytes(&random::<KEY_LEN>()).expect("a random key has the right length")
    }

    /// The key in `path`, made (readable by its owner only) when there is none yet.
    pub fn from_file(path: &Path) -> Result<SealingKey, KeyError> {
        let failed = |source| KeyError::File {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => SealingKey::from_base64(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let bytes = random::<KEY_LEN>();
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(failed)?;
                }
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(failed)?;
                writeln!(file, "{}", STANDARD.encode(bytes)).map_err(failed)?;
                file.sync_all().map_err(failed)?;
                SealingKey::from_bytes(&bytes)
            }
            Err(error) => Err(failed(error)),
        }
    }

    /// `plaintext` sealed, as text for the store. `context` (what the value is) is bound to
    /// it: a sealed value moved to another place does not open there.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let nonce_bytes = random::<NONCE_LEN>();
        let mut sealed = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any message this small");
        let mut out = nonce_bytes.to_vec();
        out.extend(sealed);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let bytes = sealed
            .strip_prefix(VERSION)
            .and_then(|body| STANDARD.decode(body).ok())
            .filter(|bytes| bytes.len() > NONCE_LEN)
            .ok_or(KeyError::WrongKey)?;
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::WrongKey)?;
        let mut body = body.to_vec();
        let plaintext = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| KeyError::WrongKey)?;
        Ok(plaintext.to_vec())
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source works");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_context_only() {
        let key = SealingKey::generate();
        let sealed = key.seal("channel 1", b"whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(key.open("channel 1", &sealed).unwrap(), b"whsec_abc");
        assert!(matches!(
            key.open("channel 2", &sealed),
            Err(KeyError::WrongKey)
        ));
        assert!(matches!(
            SealingKey::generate().open("channel 1", &sealed),
            Err(KeyError::WrongKey)
        ));
        // Two seals of one value differ: nothing to compare across channels.
        assert_ne!(sealed, key.seal("channel 1", b"whsec_abc"));
    }

    #[test]
    fn the_key_file_is_made_once_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("secret.key");
        let first = SealingKey::from_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = SealingKey::from_file(&path).unwrap();
        assert_eq!(again.open("x", &first.seal("x", b"kept")).unwrap(), b"kept");
    }

    #[test]
    fn a_key_that_is_not_32_bytes_of_base64_is_refused() {
        assert!(matches!(
            SealingKey::from_base64("hunter2"),
            Err(KeyError::Malformed)
        ));
        assert!(matches!(
            SealingKey::from_base64(&STANDARD.encode([7u8; 16])),
            Err(KeyError::Malformed)
        ));
        assert!(SealingKey::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
    }
}
