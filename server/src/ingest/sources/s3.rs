//! Trail log files in S3: `trailkeeper ingest s3://BUCKET/PREFIX` and `TRAILKEEPER_S3_TRAILS`.
//!
//! CloudTrail writes `AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz`, so
//! within one account and region the keys sort in delivery order. Each such prefix is its
//! own stream with its own checkpoint (the last key stored), and a poll lists from there
//! with `StartAfter`: a restart neither re-reads the bucket nor skips a file, and a region
//! that delivers late is not passed over because another region's keys sort after it.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use futures::StreamExt;
use sqlx::PgPool;

use super::{EventSource, Report, SourceError};
use crate::db::claims::Claims;
use crate::ingest::checkpoints::{self, Checkpoint};
use crate::ingest::formats::{self, Contents};
use crate::ingest::load::{Group, Totals, Unit, prepare, store_together_or_quarantine};

/// An `s3://bucket/prefix` URL, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    pub fn parse(url: &str) -> Result<Self, SourceError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| SourceError::Url(format!("{url:?} is not an s3://BUCKET/PREFIX URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(SourceError::Url(format!("{url:?} names no bucket")));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    fn key_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// Objects fetched and typed ahead of the one being stored.
const FETCH_AHEAD: usize = 2;

pub struct S3Trail {
    client: Client,
    url: S3Url,
    max_file_bytes: u64,
    claims: Claims,
}

impl S3Trail {
    pub fn new(client: Client, url: S3Url) -> Self {
        S3Trail {
            client,
            url,
            max_file_bytes: formats::DEFAULT_MAX_FILE_BYTES,
            claims: Claims::unshared(),
        }
    }

    /// Reads only the streams no other server is reading: each account × region prefix is
    /// claimed for the length of its read.
    pub fn with_claims(self, claims: Claims) -> Self {
        S3Trail { claims, ..self }
    }

    /// Reads no object's content past `max_file_bytes` (see [`formats::read`]).
    pub fn with_max_file_bytes(self, max_file_bytes: u64) -> Self {
        S3Trail {
            max_file_bytes,
            ..self
        }
    }

    /// The account × region prefixes under the URL, each read as one stream. A URL inside
    /// one region's folder is one stream; a bucket laid out some other way is one stream.
    async fn streams(&self) -> Result<Vec<String>, SourceError> {
        let mut streams = Vec::new();
        let mut pending = vec![self.url.prefix.clone()];
        while let Some(prefix) = pending.pop() {
            if within_region(&prefix) {
                streams.push(prefix);
                continue;
            }
            let children = self.folders(&prefix).await?;
            let trail_folders: Vec<String> = children
                .into_iter()
                .filter(|child| leads_to_logs(&prefix, child))
                .collect();
            if trail_folders.is_empty() {
                streams.push(prefix);
            } else {
                pending.extend(trail_folders);
            }
        }
        streams.sort();
        Ok(streams)
    }

    /// The "folders" directly under `prefix`.
    async fn folders(&self, prefix: &str) -> Result<Vec<String>, SourceError> {
        let mut folders = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.url.bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| SourceError::aws("S3", "ListObjectsV2", &error))?;
            folders.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|common| common.prefix().map(str::to_string)),
            );
        }
        Ok(folders)
    }

    async fn read_stream(
        &self,
        pool: &PgPool,
        source: &str,
        stream: &str,
        report: Report<'_>,
    ) -> Result<Totals, SourceError> {
        let after = checkpoints::position(pool, source).await?;
        let mut totals = Totals::default();
        let mut store = async |group: Vec<(Unit, Checkpoint)>| {
            for summary in store_together_or_quarantine(pool, group).await? {
                totals.add(&summary);
                report(&summary);
            }
            Ok::<_, SourceError>(())
        };
        // Consecutive objects are stored together, up to a batch of events a transaction;
        // what was read before an object that cannot be listed or fetched is still stored.
        let mut group = Group::default();
        let read = async {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.url.bucket)
                .prefix(stream)
                .set_start_after(after)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| SourceError::aws("S3", "ListObjectsV2", &error))?;
                let keys: Vec<String> = page
                    .contents()
                    .iter()
                    .filter_map(|object| object.key())
                    .filter(|key| is_log_file(key))
                    .map(str::to_string)
                    .collect();
                // The next objects are fetched and typed (in tasks of their own) while these
                // are stored; storing stays in key order, as the checkpoint needs.
                let mut ready = futures::stream::iter(keys)
                    .map(|key| {
                        let (client, url) = (self.client.clone(), self.url.clone());
                        let max_file_bytes = self.max_file_bytes;
                        tokio::spawn(async move {
                            let contents =
                                fetch(&client, &url.bucket, &key, max_file_bytes).await?;
                            let origin = url.key_url(&key);
                            let unit =
                                tokio::task::spawn_blocking(move || prepare(&origin, contents))
                                    .await
                                    .expect("typing records does not panic");
                            Ok::<_, SourceError>((key, unit))
                        })
                    })
                    .buffered(FETCH_AHEAD + 1);
                while let Some(fetched) = ready.next().await {
                    let (key, unit) = fetched.expect("fetching an object does not panic")?;
                    let events = unit.events();
                    let checkpoint = Checkpoint {
                        source: source.to_string(),
                        position: key,
                        newest_event_time: None,
                    };
                    if let Some(full) = group.add((unit, checkpoint), events) {
                        store(full).await?;
                    }
                }
            }
            Ok::<_, SourceError>(())
        }
        .await;
        store(group.finish()).await?;
        read?;
        Ok(totals)
    }
}

/// One object, read as CloudTrail records, or why its contents are not CloudTrail (then it is
/// quarantined and passed). An object that cannot be fetched is an error: the caller stops
/// there and tries again on its next poll. An object larger than `max_file_bytes` is not
/// read at all.
pub async fn fetch(
    client: &Client,
    bucket: &str,
    key: &str,
    max_file_bytes: u64,
) -> Result<Result<Contents, String>, SourceError> {
    let object = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|error| SourceError::aws("S3", "GetObject", &error))?;
    let length = object
        .content_length()
        .and_then(|length| u64::try_from(length).ok());
    if length.is_some_and(|length| length > max_file_bytes) {
        return Ok(Err(formats::over_limit(max_file_bytes)));
    }
    let body = object
        .body
        .collect()
        .await
        .map_err(|error| SourceError::Aws {
            service: "S3",
            operation: "GetObject",
            code: None,
            message: format!("reading s3://{bucket}/{key} failed: {error}"),
        })?;
    let bytes = body.into_bytes();
    Ok(tokio::task::spawn_blocking(move || {
        formats::read(&bytes, max_file_bytes).map_err(|error| error.to_string())
    })
    .await
    .expect("reading records does not panic"))
}

#[async_trait]
impl EventSource for S3Trail {
    fn name(&self) -> String {
        self.url.key_url(&self.url.prefix)
    }

    async fn poll(&self, pool: &PgPool, report: Report<'_>) -> Result<Totals, SourceError> {
        let mut totals = Totals::default();
        for stream in self.streams().await? {
            let source = self.url.key_url(&stream);
            let read = self.read_stream(pool, &source, &stream, report);
            let claimed = self.claims.run(&source, read).await?;
            totals.merge(claimed.unwrap_or_else(Totals::held_elsewhere));
        }
        Ok(totals)
    }
}

/// Whether `prefix` is at or below one account's region folder
/// (`…AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/`).
fn within_region(prefix: &str) -> bool {
    let segments: Vec<&str> = prefix.split('/').collect();
    segments
        .iter()
        .position(|segment| *segment == "CloudTrail")
        .is_some_and(|at| {
            segments
                .get(at + 1)
                .is_some_and(|region| !region.is_empty())
        })
}

/// Whether `child`, a folder directly under `parent`, is a step of CloudTrail's layout.
fn leads_to_logs(parent: &str, child: &str) -> bool {
    let name = child
        .strip_prefix(parent)
        .unwrap_or(child)
        .trim_end_matches('/');
    let parent_name = parent
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    name == "AWSLogs"
        || name == "CloudTrail"
        || parent_name == "CloudTrail"
        || (name.starts_with("o-") && parent_name == "AWSLogs")
        || (name.len() == 12 && name.bytes().all(|byte| byte.is_ascii_digit()))
}

/// CloudTrail's log files, not its digest files or anything else kept beside them.
fn is_log_file(key: &str) -> bool {
    (key.ends_with(".json.gz") || key.ends_with(".json")) && !key.contains("/CloudTrail-Digest/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_an_optional_prefix() {
        assert_eq!(
            S3Url::parse("s3://trails/AWSLogs/").unwrap(),
            S3Url {
                bucket: "trails".into(),
                prefix: "AWSLogs/".into()
            }
        );
        assert_eq!(S3Url::parse("s3://trails").unwrap().prefix, "");
        assert!(S3Url::parse("https://trails").is_err());
        assert!(S3Url::parse("s3:///AWSLogs").is_err());
    }

    #[test]
    fn the_layout_is_followed_down_to_each_region() {
        assert!(within_region("AWSLogs/111122223333/CloudTrail/us-east-1/"));
        assert!(within_region(
            "x/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2026/"
        ));
        assert!(!within_region("AWSLogs/111122223333/CloudTrail/"));
        assert!(leads_to_logs("", "AWSLogs/"));
        assert!(leads_to_logs("AWSLogs/", "AWSLogs/o-abc123/"));
        assert!(leads_to_logs("AWSLogs/", "AWSLogs/111122223333/"));
        assert!(leads_to_logs(
            "AWSLogs/111122223333/",
            "AWSLogs/111122223333/CloudTrail/"
        ));
        assert!(leads_to_logs(
            "AWSLogs/111122223333/CloudTrail/",
            "AWSLogs/111122223333/CloudTrail/eu-west-1/"
        ));
        assert!(!leads_to_logs(
            "AWSLogs/111122223333/",
            "AWSLogs/111122223333/CloudTrail-Digest/"
        ));
        assert!(!leads_to_logs("", "exports/"));
    }

    #[test]
    fn digests_are_not_log_files() {
        assert!(is_log_file(
            "AWSLogs/1/CloudTrail/us-east-1/2026/10/03/1_CloudTrail_us-east-1_x.json.gz"
        ));
        assert!(!is_log_file(
            "AWSLogs/1/CloudTrail-Digest/us-east-1/2026/10/03/1_CloudTrail-Digest_x.json.gz"
        ));
        assert!(!is_log_file("AWSLogs/1/CloudTrail/us-east-1/README.txt"));
    }
}
