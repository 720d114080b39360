//! The AWS API peer as the sources meet it: its configuration, and trail files put in S3.

use std::io::Write;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

/// The SDK's configuration for the peer `make test` starts.
pub async fn peer_config() -> SdkConfig {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("these tests need the AWS API peer: run them with `make test`");
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .load()
        .await
}

/// An S3 client of the peer, with `bucket` created in it.
pub async fn s3_with_bucket(bucket: &str) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::Client::new(&peer_config().await);
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3
}

/// A gzip trail log file holding `records`.
pub fn trail_file(records: &[Value]) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(json!({ "Records": records }).to_string().as_bytes())
        .unwrap();
    gzip.finish().unwrap()
}

pub async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}
