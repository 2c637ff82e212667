//! AWS SNS message signatures. SNS signs each message with RSA (PKCS #1 v1.5) over some of its
//! fields in a fixed order, with SHA1 (`SignatureVersion` 1, the default) or SHA256 (2), under
//! the certificate it publishes at `SigningCertURL`.
//!
//! The tap fetches nothing: the certificate is configured (`public_key`: the PEM downloaded
//! from `SigningCertURL`; several PEM blocks during a rotation). A message signed under another
//! certificate is refused with the URL to download. Specified in "Verifying the signatures of
//! Amazon SNS messages" of the SNS developer guide.

use ring::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
    VerificationAlgorithm,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use spki::der::Decode;

use super::SignatureError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The OID of `rsaEncryption` (RFC 8017), the key type of SNS's certificates.
const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The RSA public key of one configured certificate (PKCS #1 `RSAPublicKey`, DER).
#[derive(Clone)]
pub struct Certificate(Vec<u8>);

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Certificate(RSA)")
    }
}

/// The certificates in `pem` (one or more `CERTIFICATE` blocks); the error names what is wrong.
pub fn certificates(pem: &str) -> Result<Vec<Certificate>, String> {
    let mut found = Vec::new();
    for (i, der) in CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
        let n = i + 1;
        let der = der.map_err(|e| format!("public_key: certificate {n} is not PEM: {e}"))?;
        let cert = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| format!("public_key: certificate {n} is not an X.509 certificate: {e}"))?;
        let spki_der = cert.subject_public_key_info();
        let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der.as_ref())
            .map_err(|e| format!("public_key: certificate {n} has no readable public key: {e}"))?;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(format!(
                "public_key: certificate {n} holds no RSA key (SNS signs with RSA)"
            ));
        }
        found.push(Certificate(spki.subject_public_key.raw_bytes().to_vec()));
    }
    if found.is_empty() {
        return Err(
            "public_key: give the certificate SNS signs with: the PEM text (-----BEGIN \
                    CERTIFICATE-----…) downloaded from a message's SigningCertURL"
                .into(),
        );
    }
    Ok(found)
}

/// The fields of an SNS message that are signed or say how.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Message {
    #[serde(rename = "Type")]
    kind: String,
    message: Option<String>,
    message_id: Option<String>,
    subject: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    timestamp: Option<String>,
    token: Option<String>,
    topic_arn: Option<String>,
    signature_version: Option<String>,
    signature: Option<String>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<String>,
}

/// The fields SNS signs for each message type, in order; `Subject` only when present.
const NOTIFICATION: [&str; 6] = [
    "Message",
    "MessageId",
    "Subject",
    "Timestamp",
    "TopicArn",
    "Type",
];
const CONFIRMATION: [&str; 7] = [
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
];

impl Message {
    fn field(&self, name: &str) -> Option<&str> {
        match name {
            "Message" => self.message.as_deref(),
            "MessageId" => self.message_id.as_deref(),
            "Subject" => self.subject.as_deref(),
            "SubscribeURL" => self.subscribe_url.as_deref(),
            "Timestamp" => self.timestamp.as_deref(),
            "Token" => self.token.as_deref(),
            "TopicArn" => self.topic_arn.as_deref(),
            "Type" => Some(&self.kind),
            _ => None,
        }
    }
}

/// The text SNS signs: `Name\nvalue\n` for each signed field.
fn string_to_sign(m: &Message) -> Result<String, SignatureError> {
    let fields: &[&str] = match m.kind.as_str() {
        "Notification" => &NOTIFICATION,
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => &CONFIRMATION,
        other => {
            return Err(SignatureError::Malformed(format!(
                "SNS message Type {other:?} is not Notification, SubscriptionConfirmation or \
                 UnsubscribeConfirmation"
            )));
        }
    };
    let mut text = String::new();
    for name in fields {
        let value = match m.field(name) {
            Some(value) => value,
            None if *name == "Subject" => continue,
            None => {
                return Err(SignatureError::Malformed(format!(
                    "the SNS message has no {name}"
                )));
            }
        };
        for part in [name, "\n", value, "\n"] {
            text.push_str(part);
        }
    }
    Ok(text)
}

/// Verifies the SNS message `body` under any of `certificates`; its `Timestamp` must be within
/// `tolerance` seconds of `now`.
pub fn verify(
    certificates: &[Certificate],
    body: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<(), SignatureError> {
    let m: Message = serde_json::from_slice(body).map_err(|_| {
        SignatureError::Malformed("the body is not an SNS message (JSON with Type)".into())
    })?;
    let algorithm: &dyn VerificationAlgorithm = match m.signature_version.as_deref() {
        Some("1") => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        Some("2") => &RSA_PKCS1_2048_8192_SHA256,
        other => {
            return Err(SignatureError::Malformed(format!(
                "SNS SignatureVersion {other:?} is not \"1\" or \"2\""
            )));
        }
    };
    let signature = m
        .signature
        .as_deref()
        .and_then(|s| BASE64.decode(s).ok())
        .ok_or_else(|| {
            SignatureError::Malformed("the SNS message has no base64 Signature".into())
        })?;
    let signed = string_to_sign(&m)?;
    let verified = certificates.iter().any(|c| {
        UnparsedPublicKey::new(algorithm, &c.0)
            .verify(signed.as_bytes(), &signature)
            .is_ok()
    });
    if !verified {
        return Err(SignatureError::Malformed(format!(
            "no configured certificate verifies this SNS message; it names SigningCertURL {:?} \
             (if AWS changed its certificate, add that one to signature.public_key)",
            m.signing_cert_url.as_deref().unwrap_or("")
        )));
    }
    let timestamp = m
        .timestamp
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .ok_or_else(|| {
            SignatureError::Malformed("the SNS message's Timestamp is not RFC 3339".into())
        })?;
    let skew = i128::from(now) - i128::from(timestamp.timestamp());
    if skew.unsigned_abs() > u128::from(tolerance) {
        return Err(SignatureError::Expired { skew, tolerance });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
