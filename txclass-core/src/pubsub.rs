//! A Redis pub/sub subscription that outlives Redis blips: the one place that keeps a
//! subscriber connected, for the shared breaker (open verdicts) and the limiter (slots
//! freed on another instance).
//!
//! Pub/sub is at-most-once: a message published while the subscriber is away is lost. So
//! every (re)subscription is announced as [`SubEvent::Subscribed`], after which the
//! consumer reads the state it follows (the breaker's `open` key) or acts as if it had
//! missed a message (the limiter wakes its waiters). Reconnects back off from 100 ms to
//! 5 s, and start over after each subscription that worked.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::backoff::Backoff;

/// What a subscription reports.
#[derive(Debug)]
pub(crate) enum SubEvent {
    /// Subscribed (again): messages since the last subscription may have been missed.
    Subscribed,
    /// A message on `channel`.
    Message { channel: String, payload: String },
}

/// Subscribes to `channels` on a task of the current runtime, for as long as the returned
/// receiver lives.
pub(crate) fn follow(client: redis::Client, channels: Vec<String>) -> mpsc::Receiver<SubEvent> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(client, channels, tx));
    rx
}

async fn run(client: redis::Client, channels: Vec<String>, tx: mpsc::Sender<SubEvent>) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let mut subscribed = false;
        let session = async {
            let mut pubsub = client.get_async_pubsub().await?;
            for channel in &channels {
                pubsub.subscribe(channel).await?;
            }
            subscribed = true;
            if tx.send(SubEvent::Subscribed).await.is_err() {
                return Ok(());
            }
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                let Ok(payload) = msg.get_payload::<String>() else {
                    continue;
                };
                let event = SubEvent::Message {
                    channel: msg.get_channel_name().to_string(),
                    payload,
                };
                if tx.send(event).await.is_err() {
                    return Ok(());
                }
            }
            Err::<(), redis::RedisError>(redis::RedisError::from((
                redis::ErrorKind::Io,
                "pub/sub connection closed",
            )))
        };
        tokio::select! {
            _ = tx.closed() => return,
            r = session => match r {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "redis subscription lost; reconnecting"),
            },
        }
        if subscribed {
            // A session that worked: the next blip is a new one, not the same outage.
            backoff.reset();
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}
