//! An Azure Storage queue (protocol.md 2): put, receive, peek, delete, update visibility,
//! create. Which calls retry by themselves: the ones whose repetition cannot change the outcome
//! (receive and peek read; delete and update name one pop receipt; create is idempotent).
//! Put does not: a put retried after a lost answer would post the message twice.

use std::time::Duration;

use reqwest::Method;

use super::client::{Resource, StorageError, failure};
use super::xml::{self, ListedMessage};

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
        let a = self.resource.send(Method::PUT, "", &[], None, true).await?;
        match a.status.as_u16() {
            201 | 204 => Ok(()),
            409 => Ok(()),
            _ => Err(failure(&a)),
        }
    }

    /// Get Queue Metadata's `x-ms-approximate-messages-count`: every message, hidden ones too.
    pub async fn approximate_count(&self) -> Result<u64, StorageError> {
        let a = self
            .resource
            .send(
                Method::GET,
                "",
                &[("comp", "metadata".to_string())],
                None,
                true,
            )
            .await?;
        if a.status.as_u16() != 200 {
            return Err(failure(&a));
        }
        a.headers
            .get("x-ms-approximate-messages-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                StorageError::Body(xml::XmlError("no x-ms-approximate-messages-count".into()))
            })
    }

    /// Put Message. `visibility` delays it; `ttl` of `None` keeps the service default (7 days).
    pub async fn put(
        &self,
        text: &str,
        visibility: Duration,
        ttl: Option<i64>,
    ) -> Result<ListedMessage, StorageError> {
        let mut query = vec![("visibilitytimeout", visibility.as_secs().to_string())];
        if let Some(ttl) = ttl {
            query.push(("messagettl", ttl.to_string()));
        }
        let body = xml::message_body(text).map_err(StorageError::Body)?;
        let a = self
            .resource
            .send(Method::POST, "messages", &query, Some(body), false)
            .await?;
        if a.status.as_u16() != 201 {
            return Err(failure(&a));
        }
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

    /// Get Messages: up to `count` (1..=32) messages, hidden for `visibility`.
    pub async fn receive(
        &self,
        count: u8,
        visibility: Duration,
    ) -> Result<Vec<ListedMessage>, StorageError> {
        let query = [
            ("numofmessages", count.clamp(1, 32).to_string()),
            ("visibilitytimeout", visibility.as_secs().max(1).to_string()),
        ];
        let a = self
            .resource
            .send(Method::GET, "messages", &query, None, true)
            .await?;
        if a.status.as_u16() != 200 {
            return Err(failure(&a));
        }
        xml::read_messages(&a.body).map_err(StorageError::Body)
    }

    /// Peek Messages: up to `count` (1..=32) messages, without hiding them.
    pub async fn peek(&self, count: u8) -> Result<Vec<ListedMessage>, StorageError> {
        let query = [
            ("peekonly", "true".to_string()),
            ("numofmessages", count.clamp(1, 32).to_string()),
        ];
        let a = self
            .resource
            .send(Method::GET, "messages", &query, None, true)
            .await?;
        if a.status.as_u16() != 200 {
            return Err(failure(&a));
        }
        xml::read_messages(&a.body).map_err(StorageError::Body)
    }

    /// Delete Message with its pop receipt.
    pub async fn delete(&self, message_id: &str, pop_receipt: &str) -> Result<(), StorageError> {
        let query = [("popreceipt", pop_receipt.to_string())];
        let a = self
            .resource
            .send(
                Method::DELETE,
                &format!("messages/{message_id}"),
                &query,
                None,
                true,
            )
            .await?;
        match a.status.as_u16() {
            204 => Ok(()),
            _ => Err(failure(&a)),
        }
    }

    /// Update Message: hides it for `visibility` more; returns the new pop receipt.
    pub async fn update_visibility(
        &self,
        message_id: &str,
        pop_receipt: &str,
        visibility: Duration,
    ) -> Result<String, StorageError> {
        let query = [
            ("popreceipt", pop_receipt.to_string()),
            ("visibilitytimeout", visibility.as_secs().to_string()),
        ];
        let a = self
            .resource
            .send(
                Method::PUT,
                &format!("messages/{message_id}"),
                &query,
                None,
                true,
            )
            .await?;
        if a.status.as_u16() != 204 {
            return Err(failure(&a));
        }
        a.headers
            .get("x-ms-popreceipt")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                StorageError::Body(xml::XmlError(
                    "Update Message answered without x-ms-popreceipt".into(),
                ))
            })
    }
}
