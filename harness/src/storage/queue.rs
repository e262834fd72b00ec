//! An Azure Storage queue (docs/protocol.md §2): put, receive, peek, delete, update visibility,
//! create. Which calls retry by themselves: the ones whose repetition cannot change the outcome
//! (receive and peek read; delete and update name one pop receipt; create is idempotent).
//! Put does not: a put retried after a lost answer would post the message twice.

use std::time::Duration;

use reqwest::Method;

use super::client::{Resource, StorageError};
use cvnotify_wire::xml::{self, ListedMessage};

/// A queue.
#[derive(Clone, Debug)]
pub struct Queue {
    resource: Resource,
}

impl Queue {
    /// The queue at `resource`.
    pub fn new(resource: Resource) -> Self {
        Self { resource }
    }

    /// The resource (URL, credentials).
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Creates the queue (nothing happens when it exists).
    pub async fn create(&self) -> Result<(), StorageError> {
        let answer: Result<_, StorageError> = async {
            let a = self.resource.send(Method::PUT, "", &[], None, true).await?;
            a.expect(&[201, 204, 409]).map(drop)
        }
        .await;
        answer.map_err(|e| self.resource.during("queue", "Create Queue", e))
    }

    /// Get Queue Metadata's `x-ms-approximate-messages-count`: every message, hidden ones too.
    pub async fn approximate_count(&self) -> Result<u64, StorageError> {
        let answer: Result<_, StorageError> = async {
            let query = [("comp", "metadata".to_string())];
            let a = self
                .resource
                .send(Method::GET, "", &query, None, true)
                .await?;
            let a = a.expect(&[200])?;
            let count = a.header("x-ms-approximate-messages-count")?;
            count.trim().parse().map_err(|_| {
                StorageError::Body(xml::XmlError(
                    "x-ms-approximate-messages-count is not a number".into(),
                ))
            })
        }
        .await;
        answer.map_err(|e| self.resource.during("queue", "Get Queue Metadata", e))
    }

    /// Put Message. `visibility` delays it; `ttl` of `None` keeps the service default (7 days).
    pub async fn put(
        &self,
        text: &str,
        visibility: Duration,
        ttl: Option<i64>,
    ) -> Result<ListedMessage, StorageError> {
        let answer: Result<_, StorageError> = async {
            let mut query = vec![("visibilitytimeout", visibility.as_secs().to_string())];
            if let Some(ttl) = ttl {
                query.push(("messagettl", ttl.to_string()));
            }
            let body = xml::message_body(text).map_err(StorageError::Body)?;
            let a = self
                .resource
                .send(Method::POST, "messages", &query, Some(body), false)
                .await?
                .expect(&[201])?;
            xml::read_messages(&a.body)
                .map_err(StorageError::Body)?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    StorageError::Body(xml::XmlError(
                        "Put Message answered without the message".into(),
                    ))
                })
        }
        .await;
        answer.map_err(|e| self.resource.during("queue", "Put Message", e))
    }

    /// Get Messages: up to `count` (1..=32) messages, hidden for `visibility`.
    pub async fn receive(
        &self,
        count: u8,
        visibility: Duration,
    ) -> Result<Vec<ListedMessage>, StorageError> {
        let answer: Result<_, StorageError> = async {
            let query = [
                ("numofmessages", count.clamp(1, 32).to_string()),
                ("visibilitytimeout", visibility.as_secs().max(1).to_string()),
            ];
            self.list(&query).await
        }
        .await;
        answer.map_err(|e| self.resource.during("queue", "Get Messages", e))
    }

    /// Peek Messages: up to `count` (1..=32) messages, without hiding them.
    pub async fn peek(&self, count: u8) -> Result<Vec<ListedMessage>, StorageError> {
        let answer: Result<_, StorageError> = async {
            let query = [
                ("peekonly", "true".to_string()),
                ("numofmessages", count.clamp(1, 32).to_string()),
            ];
            self.list(&query).await
        }
        .await;
        answer.map_err(|e| self.resource.during("queue", "Peek Messages", e))
    }

    /// Get or Peek Messages with `query`.
    async fn list(&self, query: &[(&str, String)]) -> Result<Vec<ListedMessage>, StorageError> {
        let a = self
            .resource
            .send(Method::GET, "messages", query, None, true)
            .await?
            .expect(&[200])?;
        xml::read_messages(&a.body).map_err(StorageError::Body)
    }

    /// Delete Message with its pop receipt.
    pub async fn delete(&self, message_id: &str, pop_receipt: &str) -> Result<(), StorageError> {
        let answer: Result<_, StorageError> = async {
            let query = [("popreceipt", pop_receipt.to_string())];
            let path = format!("messages/{message_id}");
            let a = self
                .resource
                .send(Method::DELETE, &path, &query, None, true)
                .await?;
            a.expect(&[204]).map(drop)
        }
        .await;
        answer.map_err(|e| self.resource.during("queue", "Delete Message", e))
    }

    /// Update Message: hides it for `visibility` more; returns the new pop receipt.
    pub async fn update_visibility(
        &self,
        message_id: &str,
        pop_receipt: &str,
        visibility: Duration,
    ) -> Result<String, StorageError> {
        let answer: Result<_, StorageError> = async {
            let query = [
                ("popreceipt", pop_receipt.to_string()),
                ("visibilitytimeout", visibility.as_secs().to_string()),
            ];
            let path = format!("messages/{message_id}");
            let a = self
                .resource
                .send(Method::PUT, &path, &query, None, true)
                .await?
                .expect(&[204])?;
            a.header("x-ms-popreceipt").map(str::to_string)
        }
        .await;
        answer.map_err(|e| self.resource.during("queue", "Update Message", e))
    }
}
