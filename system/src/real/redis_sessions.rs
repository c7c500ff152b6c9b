//! The `SessionStore` port on Redis: each session is one key holding the session as JSON,
//! with the time-to-live set on every save (`SET key value PX ttl`), so Redis itself forgets
//! idle sessions.
//!
//! Must not: trust what it reads. A value that does not parse is treated as no session (the
//! visitor starts a new one), never as an error that takes the page down.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::ServiceError;
use crate::ports::{PortError, SessionStore};
use crate::session::{Session, SessionId};

/// The longest one Redis command may take before the request gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

pub struct RedisSessions {
    /// Reconnects by itself after Redis restarts; cloning it shares the one connection.
    conn: ConnectionManager,
    /// Keys are `<prefix>:session:<id>`, so several shops (or tests) can share a Redis.
    prefix: String,
    ttl: Duration,
}

impl RedisSessions {
    /// Connects to Redis at `url` (e.g. `redis://127.0.0.1:6379`) and checks that it answers.
    pub async fn connect(
        url: &str,
        prefix: &str,
        ttl: Duration,
    ) -> Result<RedisSessions, ServiceError> {
        let hint = "Check that Redis is running there (--redis-url or SCALELAB_REDIS_URL), \
                    or leave the URL out to keep sessions in this process.";
        let client = redis::Client::open(url)
            .map_err(|e| ServiceError::new("Redis", url, format!("not a Redis URL ({e})"), hint))?;
        // One plain connection first: when it fails, its error says why (the manager
        // below would keep retrying and only time out).
        tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| ServiceError::new("Redis", url, "no answer within 5 s", hint))?
        .map_err(|e| ServiceError::new("Redis", url, format!("cannot connect ({e})"), hint))?;
        let conn = tokio::time::timeout(Duration::from_secs(5), ConnectionManager::new(client))
            .await
            .map_err(|_| ServiceError::new("Redis", url, "no answer within 5 s", hint))?
            .map_err(|e| ServiceError::new("Redis", url, format!("cannot connect ({e})"), hint))?;
        let mut ping = conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut ping)
            .await
            .map_err(|e| ServiceError::new("Redis", url, format!("PING failed ({e})"), hint))?;
        Ok(RedisSessions {
            conn,
            prefix: prefix.to_owned(),
            ttl,
        })
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}:session:{}", self.prefix, id.as_str())
    }
}

/// Runs one Redis command with the time limit, turning its failures into port errors.
async fn within<T>(
    what: &str,
    command: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, PortError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(PortError::Unavailable(format!("redis {what}: {e}"))),
        Err(_) => Err(PortError::Timeout(format!("redis {what}"))),
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn load(&self, id: &SessionId) -> Result<Option<Session>, PortError> {
        let mut conn = self.conn.clone();
        let key = self.key(id);
        let value: Option<String> = within("GET", conn.get(&key)).await?;
        Ok(value.and_then(|json| serde_json::from_str(&json).ok()))
    }

    async fn save(&self, id: &SessionId, session: &Session) -> Result<(), PortError> {
        let json = serde_json::to_string(session)
            .map_err(|e| PortError::Unavailable(format!("encoding session: {e}")))?;
        let mut conn = self.conn.clone();
        let key = self.key(id);
        let ttl_ms = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        within("SET", conn.pset_ex::<_, _, ()>(&key, json, ttl_ms)).await
    }
}
