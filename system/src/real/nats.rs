//! The `Publisher` and `Subscription` ports on NATS JetStream.
//!
//! How the Kafka-shaped port maps onto JetStream:
//!
//! | port (Kafka words)         | JetStream                                                    |
//! |----------------------------|--------------------------------------------------------------|
//! | topic                      | a stream `<prefix>_<topic>`, subjects `<prefix>.<topic>.*`   |
//! | partition, picked by key   | the last subject token: `<prefix>.<topic>.<key % partitions>` |
//! | the key                    | a message header, `Scalelab-Key`                             |
//! | consumer group             | a durable pull consumer named after the group                |
//! | commit                     | an explicit ack of the message                               |
//! | offset                     | the message's stream sequence number                         |
//!
//! `publish` returns once JetStream has acknowledged the message (stored it). A message that
//! a member fetched but did not ack is delivered again after the consumer's ack wait: at least
//! once, as with Kafka. One difference: Kafka gives each partition to one member of a group, so
//! a key's messages are handled in order; here the members of a group share one consumer, so
//! with several members, messages of one key may be handled in parallel. The side work is
//! idempotent by order id and order-independent, so the shop does not mind.
//!
//! Must not: show the URL's password (errors go through `ServiceError`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use futures_util::StreamExt;

use super::ServiceError;
use crate::ports::{Delivery, PortError, Publisher, Subscription};

/// Partitions per topic: subjects `<topic>.0` to `<topic>.5`.
pub const PARTITIONS: u64 = 6;
const KEY_HEADER: &str = "Scalelab-Key";
/// How long an empty poll waits for messages.
const POLL_WAIT: Duration = Duration::from_millis(500);

/// A connection to JetStream, publishing to and subscribing on `<prefix>` topics.
pub struct NatsBroker {
    js: jetstream::Context,
    prefix: String,
    url: String,
    ack_wait: Duration,
}

/// Names that go into subjects and stream names: letters, digits, `-` and `_` only (dots,
/// spaces and wildcards mean something to NATS).
fn check_name(what: &str, name: &str) -> Result<(), PortError> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(PortError::Unavailable(format!(
            "nats: {what} {name:?} must be letters, digits, - and _"
        )))
    }
}

fn nats_error(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Unavailable(format!("nats {what}: {e}"))
}

impl NatsBroker {
    /// Connects to NATS at `url` (e.g. `nats://127.0.0.1:4222`), which must have JetStream on
    /// (that shows at the first `subscribe` or `publish`, which create the topic's stream).
    /// Streams and subjects start with `prefix`, so that shops (or tests) can share a server.
    pub async fn connect(url: &str, prefix: &str) -> Result<NatsBroker, ServiceError> {
        let hint = "Check that nats-server runs there with JetStream on (nats-server -js; \
                    --nats-url or SCALELAB_NATS_URL), or leave the URL out to use the \
                    in-process broker.";
        check_name("prefix", prefix)
            .map_err(|e| ServiceError::new("NATS", url, e.to_string(), ""))?;
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| ServiceError::new("NATS", url, format!("cannot connect ({e})"), hint))?;
        let js = jetstream::new(client);
        Ok(NatsBroker {
            js,
            prefix: prefix.to_owned(),
            url: url.to_owned(),
            ack_wait: Duration::from_secs(30),
        })
    }

    /// How long a fetched message may stay unacknowledged before it is delivered again.
    pub fn with_ack_wait(mut self, ack_wait: Duration) -> NatsBroker {
        self.ack_wait = ack_wait;
        self
    }

    fn stream_name(&self, topic: &str) -> String {
        format!("{}_{topic}", self.prefix)
    }

    async fn stream(&self, topic: &str) -> Result<stream::Stream, PortError> {
        check_name("topic", topic)?;
        self.js
            .get_or_create_stream(stream::Config {
                name: self.stream_name(topic),
                subjects: vec![format!("{}.{topic}.*", self.prefix)],
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error("stream", e))
    }

    /// Joins consumer group `group` on `topic`.
    pub async fn subscribe(
        &self,
        topic: &str,
        group: &str,
    ) -> Result<NatsSubscription, ServiceError> {
        let setup = async {
            check_name("group", group)?;
            let stream = self.stream(topic).await?;
            stream
                .get_or_create_consumer(
                    group,
                    consumer::pull::Config {
                        durable_name: Some(group.to_owned()),
                        ack_policy: consumer::AckPolicy::Explicit,
                        ack_wait: self.ack_wait,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| nats_error("consumer", e))
        };
        let consumer = setup
            .await
            .map_err(|e| ServiceError::new("NATS", &self.url, e.to_string(), ""))?;
        Ok(NatsSubscription {
            consumer,
            unacked: Mutex::new(BTreeMap::new()),
        })
    }

    /// How far consumer group `group` is behind on `topic`: messages not yet delivered to
    /// it plus those delivered and not yet acknowledged. A shop that stops waits for zero.
    pub async fn lag(&self, topic: &str, group: &str) -> Result<u64, PortError> {
        let stream = self.stream(topic).await?;
        let mut consumer: consumer::PullConsumer = stream
            .get_consumer(group)
            .await
            .map_err(|e| nats_error("consumer", e))?;
        let info = consumer
            .info()
            .await
            .map_err(|e| nats_error("consumer info", e))?;
        Ok(info.num_pending + info.num_ack_pending as u64)
    }

    /// Deletes `topic`'s stream and everything in it (for tests that made their own).
    pub async fn delete_topic(&self, topic: &str) -> Result<(), PortError> {
        self.js
            .delete_stream(self.stream_name(topic))
            .await
            .map(|_| ())
            .map_err(|e| nats_error("delete stream", e))
    }
}

#[async_trait]
impl Publisher for NatsBroker {
    async fn publish(&self, topic: &str, key: u64, payload: Vec<u8>) -> Result<(), PortError> {
        // Creating the stream on first use means a publish never goes to a subject that no
        // stream stores (which NATS would drop without a word).
        self.stream(topic).await?;
        let subject = format!("{}.{topic}.{}", self.prefix, key % PARTITIONS);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(KEY_HEADER, key.to_string().as_str());
        let ack = self
            .js
            .publish_with_headers(subject, headers, payload.into())
            .await
            .map_err(|e| nats_error("publish", e))?;
        // The second await is JetStream's acknowledgement: the message is stored.
        ack.await
            .map(|_| ())
            .map_err(|e| nats_error("publish ack", e))
    }
}

/// One member of a consumer group: fetches from the group's durable consumer.
pub struct NatsSubscription {
    consumer: consumer::PullConsumer,
    /// Fetched messages not yet committed, by stream sequence: acking needs the message.
    unacked: Mutex<BTreeMap<u64, jetstream::Message>>,
}

fn delivery(message: &jetstream::Message) -> Result<Delivery, PortError> {
    let info = message.info().map_err(|e| nats_error("message info", e))?;
    let partition = message
        .subject
        .rsplit('.')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let key = message
        .headers
        .as_ref()
        .and_then(|h| h.get(KEY_HEADER))
        .and_then(|v| v.as_str().parse().ok())
        .unwrap_or(0);
    Ok(Delivery {
        partition,
        offset: info.stream_sequence,
        key,
        payload: message.payload.to_vec(),
    })
}

#[async_trait]
impl Subscription for NatsSubscription {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, PortError> {
        let mut batch = self
            .consumer
            .batch()
            .max_messages(max.max(1))
            .expires(POLL_WAIT)
            .messages()
            .await
            .map_err(|e| nats_error("fetch", e))?;
        let mut out = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| nats_error("fetch", e))?;
            let d = delivery(&message)?;
            self.unacked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(d.offset, message);
            out.push(d);
        }
        Ok(out)
    }

    async fn commit(&self, delivery: &Delivery) -> Result<(), PortError> {
        let message = self
            .unacked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&delivery.offset);
        match message {
            // double_ack waits for the server to confirm, so a commit that returns Ok is done.
            Some(m) => m.double_ack().await.map_err(|e| nats_error("ack", e)),
            // Already committed (or fetched by another member): nothing to do.
            None => Ok(()),
        }
    }
}
