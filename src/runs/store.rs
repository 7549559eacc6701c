//! A reports run's objects in S3: the manifest the function reads (each report's label, the
//! number of reports) and the results file it writes at the run's end (`RUN_RESULTS`). One S3
//! client, built at the first use: most invocations are polls and never need it.

use std::sync::OnceLock;

use aws_sdk_s3::primitives::ByteStream;

use crate::config::Env;
use crate::contract::RunResults;
use crate::error::Error;
use crate::sdk_error::{
    credentials_error, credentials_problem, delivery_error, describe_sdk_error,
};
use crate::settings;
use crate::text::quote;

/// PutObject errors the same request meets again: the bucket gone or not the function's to
/// write, or a key policy that forbids it.
const PERMANENT_PUT_ERRORS: &[&str] = &["NoSuchBucket", "AccessDenied", "KMS.DisabledException"];

/// A place in S3: a bucket and a key prefix (empty, or ending in `/` or not, as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Place {
    /// The bucket.
    pub bucket: String,
    /// The key prefix.
    pub prefix: String,
}

impl S3Place {
    /// Reads `s3://bucket/prefix`.
    pub fn parse(uri: &str) -> Option<S3Place> {
        let rest = uri.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (crate::presign::is_bucket_name(bucket) && prefix.len() <= 512).then(|| S3Place {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// `RUN_RESULTS`: where results files go; None: nowhere.
    pub fn read_results(env: &Env) -> Result<Option<S3Place>, Error> {
        let Some(uri) = env.text(&settings::RUN_RESULTS) else {
            return Ok(None);
        };
        S3Place::parse(&uri).map(Some).ok_or_else(|| {
            Error::InvalidConfiguration(format!(
                "RUN_RESULTS must be s3://<bucket>/<prefix>, got {}",
                quote(&uri)
            ))
        })
    }
}

/// Reads manifests and writes results files.
pub struct RunStore {
    config: aws_sdk_s3::Config,
    client: OnceLock<aws_sdk_s3::Client>,
    results: Option<S3Place>,
}

impl RunStore {
    /// A store calling S3 with `config`, writing results files under `results`.
    pub fn new(config: aws_sdk_s3::Config, results: Option<S3Place>) -> Self {
        RunStore {
            config,
            client: OnceLock::new(),
            results,
        }
    }

    fn client(&self) -> &aws_sdk_s3::Client {
        self.client
            .get_or_init(|| aws_sdk_s3::Client::from_conf(self.config.clone()))
    }

    /// The manifest `s3://bucket/key`, at most `max_bytes`. One that is not there, not the
    /// function's to read or too large is refused as `InvalidManifest`: the run fails with one
    /// notice, and the same manifest would be refused again.
    pub async fn manifest(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, Error> {
        let uri = format!("s3://{bucket}/{key}");
        let object = self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| match credentials_problem(&err) {
                Some(problem) => credentials_error("S3", "GetObject", problem, &err),
                None => Error::InvalidManifest(format!(
                    "the manifest {uri} could not be read: {}",
                    describe_sdk_error(&err)
                )),
            })?;
        let size = object.content_length().unwrap_or(0).max(0) as u64;
        if size > max_bytes {
            return Err(Error::InvalidManifest(format!(
                "the manifest {uri} is {size} bytes, more than the {max_bytes} a run reads"
            )));
        }
        let bytes = object.body.collect().await.map_err(|err| {
            Error::InvalidManifest(format!("the manifest {uri} could not be read: {err}"))
        })?;
        Ok(bytes.to_vec())
    }

    /// Writes `results` as `<RUN_RESULTS><run key>.json` and answers its `s3://` URI; None when
    /// the function has nowhere to write. A write that fails fails the summary, which is
    /// retried: the run's answer is not given without its results.
    pub async fn write(&self, results: &RunResults) -> Result<Option<String>, Error> {
        let Some(place) = &self.results else {
            return Ok(None);
        };
        let key = format!("{}{}.json", place.prefix, results.run_key);
        let uri = format!("s3://{}/{key}", place.bucket);
        let body = serde_json::to_vec(results).map_err(|err| Error::NotificationFailed {
            destination: format!("results file {uri}"),
            message: err.to_string(),
        })?;
        self.client()
            .put_object()
            .bucket(&place.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| {
                delivery_error(
                    "S3",
                    "PutObject",
                    format!("results file {uri}"),
                    PERMANENT_PUT_ERRORS,
                    &err,
                )
            })?;
        Ok(Some(uri))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_results_place_is_a_bucket_and_a_prefix() {
        assert_eq!(
            S3Place::parse("s3://reports-bucket/results/"),
            Some(S3Place {
                bucket: "reports-bucket".into(),
                prefix: "results/".into()
            })
        );
        assert_eq!(
            S3Place::parse("s3://reports-bucket").map(|p| p.prefix),
            Some(String::new())
        );
        for bad in [
            "reports-bucket/results/",
            "s3://",
            "s3://Upper/x",
            "s3://a/x",
        ] {
            assert_eq!(S3Place::parse(bad), None, "{bad}");
        }
    }
}
