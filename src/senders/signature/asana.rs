//! Asana's learned secret: its `X-Hook-Secret` handshake gives the secret that signs later
//! deliveries (`X-Hook-Signature`: hex HMAC-SHA256 of the body with that secret).
//!
//! The secrets are kept where the tokens are: `data_dir/asana-secrets.json` (mode 0600) beside
//! a local journal, the key `asana-secrets` of a NATS journal's state bucket (shared by every
//! receiver). Several Asana webhooks may share one URL (one per resource), each with its own
//! secret: the newest [`MAX_SECRETS`] are kept, and a delivery signed by any is accepted.

use std::path::PathBuf;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::SignatureError;
use crate::fsutil;
use crate::journal::JournalConfig;
use crate::journal::nats::{StateBucket, block_on};

/// Secrets kept at most: one per Asana webhook pointing at this URL.
pub const MAX_SECRETS: usize = 32;
/// Writes lost to other receivers at once before learning gives up.
const MAX_WRITE_ATTEMPTS: usize = 32;
/// The file beside a local journal.
const FILE_NAME: &str = "asana-secrets.json";
/// The key in a NATS journal's state bucket.
const KEY: &str = "asana-secrets";
/// The header carrying a delivery's signature.
const SIGNATURE_HEADER: &str = "x-hook-signature";

/// What is stored: newest first.
#[derive(Default, Serialize, Deserialize)]
struct Stored {
    secrets: Vec<StoredSecret>,
}

#[derive(Serialize, Deserialize)]
struct StoredSecret {
    secret: String,
    learned_at: DateTime<Utc>,
}

/// Where the secrets are kept.
enum Place {
    File(PathBuf),
    Shared(Box<StateBucket>),
}

/// The secrets learned from Asana's handshakes, and where they are kept.
pub struct LearnedSecrets {
    place: Place,
    secrets: RwLock<Vec<String>>,
}

impl std::fmt::Debug for LearnedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LearnedSecrets(<redacted>)")
    }
}

impl LearnedSecrets {
    /// Opens the secrets kept for `journal`, reading those learned before.
    pub fn open(journal: &JournalConfig) -> Result<Self, String> {
        let place = match journal {
            JournalConfig::Local { data_dir, .. } => Place::File(data_dir.join(FILE_NAME)),
            JournalConfig::Nats { settings, .. } => Place::Shared(Box::new(
                StateBucket::open_shared(settings).map_err(|e| e.to_string())?,
            )),
        };
        let stored = match &place {
            Place::File(path) => read_file(path)?,
            Place::Shared(bucket) => {
                let bucket = bucket.clone();
                block_on(async move { Ok(read_shared(&bucket).await) })
                    .map_err(|e| e.to_string())??
            }
        };
        Ok(LearnedSecrets {
            place,
            secrets: RwLock::new(stored.secrets.into_iter().map(|s| s.secret).collect()),
        })
    }

    /// Keeps a secret from Asana's handshake (durably, before the handshake is answered).
    pub async fn learn(&self, secret: &str) -> Result<(), String> {
        let stored = match &self.place {
            Place::File(path) => {
                let stored = with_secret(read_file(path)?, secret);
                let bytes = serde_json::to_vec(&stored).map_err(|e| e.to_string())?;
                fsutil::write_atomic_private(path, &bytes)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                stored
            }
            Place::Shared(bucket) => learn_shared(bucket, secret).await?,
        };
        self.replace(stored);
        Ok(())
    }

    /// Verifies a delivery's `X-Hook-Signature` against the secrets learned. With a NATS
    /// journal another receiver may have learned its secret: the bucket is read again once.
    pub async fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
        let given = headers
            .get(SIGNATURE_HEADER)
            .ok_or_else(|| SignatureError::Missing("X-Hook-Signature".into()))?;
        let given = hex::decode(given.as_bytes().trim_ascii())
            .map_err(|_| SignatureError::Malformed("X-Hook-Signature is not hexadecimal".into()))?;
        if self.matches(&given, body) {
            return Ok(());
        }
        if let Place::Shared(bucket) = &self.place
            && let Ok(stored) = read_shared(bucket).await
        {
            self.replace(stored);
            if self.matches(&given, body) {
                return Ok(());
            }
        }
        if self.secrets.read().map_or(true, |s| s.is_empty()) {
            return Err(SignatureError::Malformed(
                "no secret was learned from Asana's X-Hook-Secret handshake yet; create the \
                 webhook again (POST /webhooks in Asana's API) so that its handshake reaches \
                 this URL"
                    .into(),
            ));
        }
        Err(SignatureError::Mismatch("X-Hook-Signature".into()))
    }

    /// Whether any secret signs `body` as `given`; every secret is compared in constant time.
    fn matches(&self, given: &[u8], body: &[u8]) -> bool {
        let Ok(secrets) = self.secrets.read() else {
            return false;
        };
        let mut matched = subtle::Choice::from(0);
        for secret in secrets.iter() {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(body);
            matched |= mac.finalize().into_bytes().as_slice().ct_eq(given);
        }
        matched.into()
    }

    fn replace(&self, stored: Stored) {
        if let Ok(mut secrets) = self.secrets.write() {
            *secrets = stored.secrets.into_iter().map(|s| s.secret).collect();
        }
    }
}

/// `stored` with `secret` first (once), the oldest beyond [`MAX_SECRETS`] dropped.
fn with_secret(mut stored: Stored, secret: &str) -> Stored {
    stored.secrets.retain(|s| s.secret != secret);
    stored.secrets.insert(
        0,
        StoredSecret {
            secret: secret.to_owned(),
            learned_at: Utc::now(),
        },
    );
    stored.secrets.truncate(MAX_SECRETS);
    stored
}

/// Adds `secret` to the bucket's list, written only at the revision it was read at: of two
/// receivers learning at once, one write fails and that one reads again, so both are kept.
async fn learn_shared(bucket: &StateBucket, secret: &str) -> Result<Stored, String> {
    let mut last = String::new();
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let (stored, revision) = read_shared_at(bucket).await?;
        let stored = with_secret(stored, secret);
        let bytes = serde_json::to_vec(&stored).map_err(|e| e.to_string())?;
        slow_write().await;
        let written = bucket.write_at(KEY, bytes.into(), revision).await;
        match written {
            Ok(true) => return Ok(stored),
            Ok(false) => last = "another receiver kept writing at once".to_owned(),
            Err(e) => last = e,
        }
    }
    Err(format!(
        "cannot store the secret in bucket {}: {last}",
        bucket.name()
    ))
}

/// The environment variable of a test fault (debug builds only): learning waits this many
/// milliseconds between reading the bucket's secrets and writing them back, so that a test
/// can have two receivers learn inside that window.
#[cfg(debug_assertions)]
pub const SLOW_WRITE_ENV: &str = "TAP_WEBHOOKS_TEST_SLOW_SECRET_WRITE_MS";

/// The test fault of [`SLOW_WRITE_ENV`]; nothing in a release build.
async fn slow_write() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var(SLOW_WRITE_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

fn read_file(path: &std::path::Path) -> Result<Stored, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{}: {e}; delete it and create the Asana webhook again",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Stored::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

async fn read_shared(bucket: &StateBucket) -> Result<Stored, String> {
    read_shared_at(bucket).await.map(|(stored, _)| stored)
}

/// The bucket's secrets and the revision they were read at (`None`: never written).
async fn read_shared_at(bucket: &StateBucket) -> Result<(Stored, Option<u64>), String> {
    let (value, revision) = bucket.read_at(KEY).await?;
    let stored = match value {
        Some(value) => serde_json::from_slice(&value)
            .map_err(|e| format!("{KEY} of bucket {}: {e}", bucket.name()))?,
        None => Stored::default(),
    };
    Ok((stored, revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &str, body: &[u8]) -> HeaderMap {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let mut headers = HeaderMap::new();
        let hex = hex::encode(mac.finalize().into_bytes());
        headers.insert(SIGNATURE_HEADER, hex.parse().unwrap());
        headers
    }

    #[tokio::test]
    async fn learned_secrets_verify_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let journal = JournalConfig::Local {
            data_dir: dir.path().to_owned(),
            segment_bytes: 1 << 20,
            min_free_bytes: 0,
        };
        let body = br#"{"events":[{"action":"changed"}]}"#;
        let secrets = LearnedSecrets::open(&journal).unwrap();
        let e = secrets.verify(&signed("s1", body), body).await.unwrap_err();
        assert!(e.to_string().contains("no secret was learned"), "{e}");
        secrets.learn("s1").await.unwrap();
        secrets.learn("s2").await.unwrap();
        let again = LearnedSecrets::open(&journal).unwrap();
        for s in ["s1", "s2"] {
            again.verify(&signed(s, body), body).await.unwrap();
        }
        let e = again.verify(&signed("s3", body), body).await.unwrap_err();
        assert!(matches!(e, SignatureError::Mismatch(_)), "{e}");
        assert!(matches!(
            again.verify(&HeaderMap::new(), body).await,
            Err(SignatureError::Missing(_))
        ));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
