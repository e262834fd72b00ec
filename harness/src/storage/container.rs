//! A blob container (docs/protocol.md §3): list with prefix and paging, get, head, put (tests and the
//! simulation write backups). Reads retry by themselves; put does not (a backup written twice is
//! harmless, but the caller decides).

use reqwest::Method;

use super::client::{Resource, StorageError};
use cvnotify_wire::xml::{self, ListedBlob};

/// A container.
#[derive(Clone, Debug)]
pub struct Container {
    resource: Resource,
}

impl Container {
    /// The container at `resource`.
    pub fn new(resource: Resource) -> Self {
        Self { resource }
    }

    /// The resource (URL, credentials).
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Creates the container (nothing happens when it exists).
    pub async fn create(&self) -> Result<(), StorageError> {
        let answer: Result<_, StorageError> = async {
            let a = self
                .resource
                .send(
                    Method::PUT,
                    "",
                    &[("restype", "container".into())],
                    None,
                    true,
                )
                .await?;
            a.expect(&[201, 409]).map(drop)
        }
        .await;
        answer.map_err(|e| self.resource.during("container", "Create Container", e))
    }

    /// Every blob whose name starts with `prefix`, following `NextMarker` page by page.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ListedBlob>, StorageError> {
        self.list_paged(prefix, None).await
    }

    /// Every blob's name and size: what a session observes of a container.
    pub async fn listing(&self) -> Result<Vec<(String, Option<u64>)>, StorageError> {
        let listed = self.list("").await?;
        Ok(listed.into_iter().map(|b| (b.name, b.size)).collect())
    }

    /// [`Container::list`] asking for pages of at most `page_size` blobs (`maxresults`).
    pub async fn list_paged(
        &self,
        prefix: &str,
        page_size: Option<u32>,
    ) -> Result<Vec<ListedBlob>, StorageError> {
        let answer: Result<_, StorageError> = async {
            let mut all = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let mut query = vec![
                    ("restype", "container".to_string()),
                    ("comp", "list".to_string()),
                ];
                if !prefix.is_empty() {
                    query.push(("prefix", prefix.to_string()));
                }
                if let Some(m) = &marker {
                    query.push(("marker", m.clone()));
                }
                if let Some(n) = page_size {
                    query.push(("maxresults", n.max(1).to_string()));
                }
                let a = self
                    .resource
                    .send(Method::GET, "", &query, None, true)
                    .await?;
                let a = a.expect(&[200])?;
                let (page, next) = xml::read_blob_page(&a.body).map_err(StorageError::Body)?;
                all.extend(page);
                match next {
                    Some(n) => marker = Some(n),
                    None => return Ok(all),
                }
            }
        }
        .await;
        answer.map_err(|e| self.resource.during("container", "List Blobs", e))
    }

    /// Put Blob (a block blob) named `name` (not percent-encoded) with `body`.
    pub async fn put(&self, name: &str, body: String) -> Result<(), StorageError> {
        let answer: Result<_, StorageError> = async {
            let a = self
                .resource
                .send_blob(Method::PUT, name, Some(body))
                .await?;
            a.expect(&[201]).map(drop)
        }
        .await;
        answer.map_err(|e| self.resource.during("container", "Put Blob", e))
    }

    /// Whether a blob exists (Get Blob Properties), with its size.
    pub async fn head(&self, name: &str) -> Result<Option<u64>, StorageError> {
        let answer: Result<_, StorageError> = async {
            let a = self.resource.send_blob(Method::HEAD, name, None).await?;
            match a.status.as_u16() {
                404 => Ok(None),
                _ => {
                    let a = a.expect(&[200])?;
                    Ok(a.header("content-length").ok().and_then(|v| v.parse().ok()))
                }
            }
        }
        .await;
        answer.map_err(|e| self.resource.during("container", "Get Blob Properties", e))
    }

    /// Get Blob: the content as text.
    pub async fn get(&self, name: &str) -> Result<String, StorageError> {
        let answer: Result<_, StorageError> = async {
            let a = self.resource.send_blob(Method::GET, name, None).await?;
            a.expect(&[200]).map(|a| a.body)
        }
        .await;
        answer.map_err(|e| self.resource.during("container", "Get Blob", e))
    }
}
