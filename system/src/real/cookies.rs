//! Signed session cookies: the `sid` cookie carries its value and an HMAC-SHA256 of it, so a
//! visitor cannot make up or alter a session id; one that does not verify is dropped before
//! the storefront sees it, and the visitor simply gets a new session.
//!
//! A layer around the storefront rather than a change inside it: the storefront (shared with
//! the simulator) keeps setting and reading a plain `sid=<id>`; this layer signs what goes out
//! and checks what comes in. The storefront already marks the cookie HttpOnly (no script can
//! read it) and SameSite=Lax; in production this layer adds Secure (HTTPS only).
//!
//! Must not: log or show the secret.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The least secret length accepted: 32 bytes, as much as the HMAC's output.
pub const MIN_SECRET_BYTES: usize = 32;

/// Signs and checks cookie values with one secret.
pub struct CookieSigner {
    key: Vec<u8>,
    /// Mark outgoing session cookies `Secure`: browsers then send them over HTTPS only.
    secure: bool,
}

impl std::fmt::Debug for CookieSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieSigner { key: *** }")
    }
}

impl CookieSigner {
    /// A signer with `secret`, which must be at least [`MIN_SECRET_BYTES`] long.
    pub fn new(secret: &[u8]) -> Result<CookieSigner, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the session secret must be at least {MIN_SECRET_BYTES} bytes, it has {}",
                secret.len()
            ));
        }
        Ok(CookieSigner {
            key: secret.to_vec(),
            secure: false,
        })
    }

    /// The same signer, marking the cookies it signs `Secure` when `secure` (production: the
    /// shop is behind TLS, and a session id must never travel in clear text).
    pub fn secure(mut self, secure: bool) -> CookieSigner {
        self.secure = secure;
        self
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length: this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// `value.signature`, the signature in hex.
    pub fn sign(&self, value: &str) -> String {
        let mut mac = self.mac();
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("{value}.{hex}")
    }

    /// The value of a signed `value.signature`, if the signature is this signer's.
    pub fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, hex) = signed.rsplit_once('.')?;
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let tag: Option<Vec<u8>> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect();
        let mut mac = self.mac();
        mac.update(value.as_bytes());
        // verify_slice compares in constant time, so timing tells an attacker nothing.
        mac.verify_slice(&tag?).ok().map(|()| value)
    }
}

/// The axum middleware: checks incoming `sid` cookies, signs outgoing ones.
/// Use with `axum::middleware::from_fn_with_state(signer, sign_session_cookies)`.
pub async fn sign_session_cookies(
    State(signer): State<Arc<CookieSigner>>,
    mut request: Request,
    next: Next,
) -> Response {
    let cookies: Vec<String> = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter_map(|pair| match pair.strip_prefix("sid=") {
            // A forged or altered id is dropped: the visitor gets a fresh session.
            Some(signed) => signer.verify(signed).map(|id| format!("sid={id}")),
            None => Some(pair.to_owned()),
        })
        .filter(|pair| !pair.is_empty())
        .collect();
    request.headers_mut().remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&cookies.join("; ")) {
        if !cookies.is_empty() {
            request.headers_mut().insert(header::COOKIE, value);
        }
    }

    let mut response = next.run(request).await;
    let outgoing: Vec<HeaderValue> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    response.headers_mut().remove(header::SET_COOKIE);
    for value in outgoing {
        let signed = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("sid="))
            .map(|rest| {
                let (id, attributes) = rest.split_once(';').unwrap_or((rest, ""));
                let secure = if signer.secure { "; Secure" } else { "" };
                format!("sid={};{attributes}{secure}", signer.sign(id))
            })
            .and_then(|v| HeaderValue::from_str(&v).ok());
        response
            .headers_mut()
            .append(header::SET_COOKIE, signed.unwrap_or(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_signatures_verify() {
        let signer = CookieSigner::new(&[7u8; 32]).expect("signer");
        let other = CookieSigner::new(&[8u8; 32]).expect("signer");
        let signed = signer.sign("abc123");
        assert_eq!(signer.verify(&signed), Some("abc123"));
        assert_eq!(other.verify(&signed), None, "another secret's signature");
        let forged = signed.replacen("abc123", "abc124", 1);
        assert_eq!(signer.verify(&forged), None, "an altered value");
        assert_eq!(signer.verify("abc123"), None, "no signature");
        assert_eq!(signer.verify("abc.zz"), None, "a malformed signature");
        assert_eq!(signer.verify("abc.é"), None, "non-ASCII does not panic");
        assert!(CookieSigner::new(b"short").is_err());
        assert!(!format!("{signer:?}").contains('7'));
    }
}
