//! The app key: seals provider secrets at rest (XChaCha20-Poly1305) and signs tokens.
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

const NONCE_LEN: usize = 24;

/// Keys derived from the one app key, each for one purpose.
pub struct Keys {
    seal: XChaCha20Poly1305,
    jwt_secret: [u8; 32],
    sandbox_token: String,
    link_key: [u8; 32],
}

impl Keys {
    /// From `TURNOUT_SECRET_KEY` (base64 of 32 bytes) or, when unset, a key file generated
    /// once under the data directory with mode 0600.
    pub fn load(configured: &str, data_dir: &Path) -> Result<Self, String> {
        let master = if configured.is_empty() {
            load_or_create_key_file(&data_dir.join("secret.key"))?
        } else {
            decode_key(configured).map_err(|e| format!("TURNOUT_SECRET_KEY: {e}"))?
        };
        Ok(Self::from_master(&master))
    }

    pub fn from_master(master: &[u8; 32]) -> Self {
        let seal_key = derive(master, b"turnout seal v1");
        Self {
            seal: XChaCha20Poly1305::new((&seal_key).into()),
            jwt_secret: derive(master, b"turnout jwt v1"),
            sandbox_token: URL_SAFE_NO_PAD.encode(derive(master, b"turnout sandbox v1")),
            link_key: derive(master, b"turnout links v1"),
        }
    }

    /// Signs the sandbox provider's delivery reports.
    pub fn sandbox_token(&self) -> &str {
        &self.sandbox_token
    }

    /// A link token carrying `data` that only this app could have made (e.g. the one-click
    /// unsubscribe link in every email): the data, a dot, a truncated HMAC-SHA256.
    pub fn sign_link(&self, data: &str) -> String {
        format!("{}.{}", URL_SAFE_NO_PAD.encode(data), URL_SAFE_NO_PAD.encode(self.link_mac(data)))
    }

    /// The data of a token `sign_link` made, or `None` when it was altered.
    pub fn open_link(&self, token: &str) -> Option<String> {
        let (data, mac) = token.split_once('.')?;
        let data = String::from_utf8(URL_SAFE_NO_PAD.decode(data).ok()?).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        use subtle::ConstantTimeEq;
        bool::from(mac.ct_eq(&self.link_mac(&data))).then_some(data)
    }

    fn link_mac(&self, data: &str) -> [u8; 16] {
        use hmac::{Hmac, Mac};
        let mut out = [0u8; 16];
        if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.link_key) {
            mac.update(data.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes()[..16]);
        }
        out
    }

    pub fn jwt_secret(&self) -> &[u8] {
        &self.jwt_secret
    }

    /// Encrypts a secret: a random nonce followed by the ciphertext.
    pub fn seal(&self, plaintext: &str) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .seal
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| "encryption failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, String> {
        if sealed.len() < NONCE_LEN {
            return Err("sealed value too short".into());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let pt = self
            .seal
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| "cannot decrypt: was the secret key changed?".to_string())?;
        String::from_utf8(pt).map_err(|_| "decrypted value is not text".into())
    }
}

fn derive(master: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(purpose);
    h.update(master);
    h.finalize().into()
}

fn decode_key(s: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(s.trim())
        .map_err(|_| "must be base64".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "must decode to exactly 32 bytes".to_string())
}

fn load_or_create_key_file(path: &Path) -> Result<[u8; 32], String> {
    match std::fs::read_to_string(path) {
        Ok(s) => decode_key(&s).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            super::files::write_private(path, &STANDARD.encode(key))?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// A random token for public links (reset, unsubscribe, media): 256 bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens are stored only as their SHA-256, so a leaked table opens nothing.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_detects_tampering() {
        let keys = Keys::from_master(&[7u8; 32]);
        let sealed = keys.seal("hunter2").unwrap();
        assert_eq!(keys.open(&sealed).unwrap(), "hunter2");
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(keys.open(&bad).is_err());
        assert!(Keys::from_master(&[8u8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn key_file_is_created_once_with_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("turnout-key-{}", uuid::Uuid::now_v7()));
        let a = Keys::load("", &dir).unwrap();
        let b = Keys::load("", &dir).unwrap();
        assert_eq!(a.jwt_secret(), b.jwt_secret());
        let mode = std::fs::metadata(dir.join("secret.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
