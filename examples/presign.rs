//! Prints the download link the poller would sign for one `s3://` URI at a given time, so an
//! independent SigV4 implementation (botocore's presigner, in `tests/e2e/test_presign.py`) can
//! check it byte for byte.
//!
//! Usage: presign S3_URI REGION PARTITION EPOCH_SECONDS EXPIRES_SECONDS
//! with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and (optionally) AWS_SESSION_TOKEN set.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use quicksight_snapshot_poller::presign;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [uri, region, partition, epoch, expires] = args.as_slice() else {
        eprintln!("usage: presign S3_URI REGION PARTITION EPOCH_SECONDS EXPIRES_SECONDS");
        std::process::exit(2);
    };
    let number = |text: &str| {
        text.parse::<u64>().unwrap_or_else(|_| {
            eprintln!("not a whole number: {text}");
            std::process::exit(2)
        })
    };
    let var = |name: &str| std::env::var(name).ok();
    let credentials = Credentials::new(
        var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
        var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
        var("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(number(epoch));
    match presign(
        uri,
        region,
        partition,
        &credentials,
        at,
        Duration::from_secs(number(expires)),
    ) {
        Some(url) => println!("{url}"),
        None => {
            eprintln!("not an s3://bucket/key URI: {uri}");
            std::process::exit(1);
        }
    }
}
