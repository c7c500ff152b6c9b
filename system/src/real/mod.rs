//! The real world: the ports on real infrastructure, and the shop deployed on them (what
//! `scalelab serve` runs).
//!
//! Compiled only without `--cfg madsim`: sqlx, redis and async-nats need a real tokio reactor,
//! so the simulator never builds this module (its own adapters live in `sim/`).
//!
//! # Layout
//!
//! - [`sql`]: the `Store` port on SQLite files or PostgreSQL databases, through sqlx.
//! - [`redis_sessions`]: the `SessionStore` port on Redis.
//! - [`nats`]: the `Publisher` and `Subscription` ports on NATS JetStream.
//! - [`local`]: a mailer that appends to a log file, the embedded default.
//! - [`cookies`]: HMAC-signed session cookies, as a layer around the storefront.
//! - [`deploy`]: the whole real deployment of each design from the parts above and the rest of
//!   this crate (`Config`, `start`, `Shop::stop`, the graceful shutdown).
//! - [`balance`]: the load balancer in front of the replicas.
//!
//! Must not: print (only `tui/` does: what an operator should see is returned), or show a
//! secret. Every error that names a service goes through [`ServiceError`], which shows its URL
//! without the password.

pub mod balance;
pub mod cookies;
pub mod deploy;
pub mod local;
pub mod nats;
pub mod redis_sessions;
pub mod sql;

use std::fmt;

/// A service that could not be used at start-up, said so that an operator can act on it:
/// which service, where (the URL without its password), what failed, and what to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub service: &'static str,
    /// The URL with any password replaced by `***`.
    pub url: String,
    pub what: String,
    pub hint: String,
}

impl ServiceError {
    pub fn new(
        service: &'static str,
        url: &str,
        what: impl fmt::Display,
        hint: impl Into<String>,
    ) -> ServiceError {
        ServiceError {
            service,
            url: redact(url),
            // Drivers sometimes repeat the URL they were given in their messages.
            what: scrub(&what.to_string(), url),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}.", self.service, self.url, self.what)?;
        if !self.hint.is_empty() {
            write!(f, " {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// `url` with its password, if any, replaced by `***`; a string that is not a URL is shown
/// only up to its first `@`, in case it carries credentials in a shape we do not parse.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        },
    }
}

/// `message` with the password of `url` (if any) blanked out wherever it appears.
fn scrub(message: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        Some(password) if !password.is_empty() => message.replace(&password, "***"),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = "postgres://shop:hunter2@db.example:5432/shop";
        let e = ServiceError::new("PostgreSQL", url, "auth failed for hunter2", "check it");
        let shown = e.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://shop:***@db.example:5432/shop"),
            "{shown}"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("not a url:secret@host"), "***@host");
    }
}
