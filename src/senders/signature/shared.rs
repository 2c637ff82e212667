//! Kinds that compare a shared secret rather than a signature: `header` (the secret itself
//! in a header, GitLab's `X-Gitlab-Token`) and `basic` (HTTP Basic credentials).
//!
//! Both compare SHA-256 digests in constant time, so neither the secret's bytes nor its
//! length show in the time a refusal takes.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::keys::{BASE64_LENIENT, Key};
use super::{HeaderSource, SignatureError, Verifier, require, text};

/// Where HTTP Basic credentials travel.
pub const AUTHORIZATION: &str = "authorization";

/// The digest a presented secret is compared through.
pub(super) fn digest(secret: &[u8]) -> Key {
    Key(Sha256::digest(secret).to_vec())
}

fn matches_any(v: &Verifier, presented: &[u8]) -> bool {
    let presented = Sha256::digest(presented);
    let mut matched = Choice::from(0);
    for key in &v.keys {
        matched |= presented.as_slice().ct_eq(&key.0);
    }
    bool::from(matched)
}

/// `header`: the header's value, after `prefix`, is one of the secrets.
pub(super) fn header(
    v: &Verifier,
    headers: &(impl HeaderSource + ?Sized),
    name: &str,
    prefix: &str,
) -> Result<(), SignatureError> {
    let value = text(require(headers, name)?, name)?;
    let secret = value
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &value[prefix.len()..])
        .ok_or_else(|| {
            SignatureError::Malformed(format!("{name} does not start with {prefix:?}"))
        })?;
    if matches_any(v, secret.trim().as_bytes()) {
        Ok(())
    } else {
        Err(SignatureError::WrongSecret(name.to_owned()))
    }
}

/// `basic`: `Authorization: Basic base64(username:password)` with one of the passwords.
pub(super) fn basic(
    v: &Verifier,
    headers: &(impl HeaderSource + ?Sized),
) -> Result<(), SignatureError> {
    let missing = || SignatureError::Missing("Authorization (HTTP Basic credentials)".into());
    let value = text(
        headers.header(AUTHORIZATION).ok_or_else(missing)?,
        "Authorization",
    )?;
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Err(SignatureError::Malformed(
            "Authorization holds a Bearer token, not Basic credentials: with scheme basic, \
             put the webhook token in the URL (/webhooks/<token>)"
                .into(),
        ));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(missing());
    }
    let decoded = BASE64_LENIENT
        .decode(credentials.trim())
        .map_err(|_| SignatureError::Malformed("Authorization: Basic is not base64".into()))?;
    if matches_any(v, &decoded) {
        Ok(())
    } else {
        Err(SignatureError::WrongSecret("Authorization".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Scheme, Secret};
    use super::*;

    fn verifier(scheme: Scheme, secrets: &[&str]) -> Verifier {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(s.to_string())).collect();
        Verifier::new(scheme, &secrets, 300).unwrap()
    }

    #[test]
    fn a_header_secret_is_compared_whole_after_its_prefix() {
        let v = verifier(
            Scheme::Header {
                header: "x-gitlab-token".into(),
                prefix: String::new(),
            },
            &["old-token", "glt-secret"],
        );
        let check = |value: &str| v.verify(&[("X-Gitlab-Token", value.as_bytes())][..], b"{}", 0);
        assert_eq!(check("glt-secret"), Ok(()));
        assert_eq!(check("old-token"), Ok(()));
        for wrong in ["glt-secreT", "glt-secret2", "glt-secre", ""] {
            assert!(
                matches!(check(wrong), Err(SignatureError::WrongSecret(_))),
                "{wrong}"
            );
        }
        assert!(matches!(
            v.verify(&[][..], b"{}", 0),
            Err(SignatureError::Missing(_))
        ));
        let v = verifier(
            Scheme::Header {
                header: "authorization".into(),
                prefix: "Bearer ".into(),
            },
            &["okta-key"],
        );
        let check = |value: &str| v.verify(&[("Authorization", value.as_bytes())][..], b"", 0);
        assert_eq!(check("bearer okta-key"), Ok(()));
        assert!(matches!(
            check("okta-key"),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn basic_credentials_are_checked_and_a_bearer_token_is_explained() {
        // RFC 7617's example: Aladdin / open sesame.
        let v = verifier(Scheme::Basic, &["Aladdin:open sesame"]);
        let check = |value: &str| v.verify(&[("Authorization", value.as_bytes())][..], b"", 0);
        assert_eq!(check("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), Ok(()));
        assert_eq!(check("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ"), Ok(()));
        assert!(matches!(
            check("Basic QWxhZGRpbjpvcGVuIHNlc2FtZg=="),
            Err(SignatureError::WrongSecret(_))
        ));
        let e = check("Bearer tok").unwrap_err().to_string();
        assert!(e.contains("put the webhook token in the URL"), "{e}");
        assert!(matches!(check("Digest x"), Err(SignatureError::Missing(_))));
        assert!(matches!(
            check("Basic !!"),
            Err(SignatureError::Malformed(_))
        ));
    }
}
