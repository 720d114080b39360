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
