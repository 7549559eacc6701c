//! Download links for a success notice: SigV4 query-signed HTTPS GETs of the job's `s3://`
//! results, valid `PRESIGN_SECONDS`. They are bearer credentials for the file: they go into the
//! notice only, never into the output (kept in Step Functions' history) or a log line.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use crate::contract::PollOutput;

/// SigV4 caps a presigned URL's `X-Amz-Expires` at seven days.
pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 86_400);

/// Signs links with the function's own credentials.
#[derive(Clone)]
pub struct Presigner {
    credentials: SharedCredentialsProvider,
    expires: Duration,
}

impl Presigner {
    /// Signs with `credentials`; links live for `expires`.
    pub fn new(credentials: SharedCredentialsProvider, expires: Duration) -> Self {
        Presigner {
            credentials,
            expires: expires.min(MAX_PRESIGN),
        }
    }

    /// [`Presigner::links`] within `budget` (a second at most), or none: links are a courtesy,
    /// and what carries them goes without them rather than late. None when no result is in S3.
    pub async fn links_within(&self, output: &PollOutput, budget: Duration) -> Vec<Option<String>> {
        if output.results.iter().all(|file| file.s3_uri.is_none()) {
            return Vec::new();
        }
        let budget = budget.min(Duration::from_secs(1));
        tokio::time::timeout(budget, self.links(output))
            .await
            .unwrap_or_else(|_| {
                tracing::warn!("download links not signed in time: they are left out");
                Vec::new()
            })
    }

    /// One link per result of `output`, in order: a presigned URL for an `s3://` URI, an HTTPS
    /// URI as QuickSight gave it, none for a file that failed. Credentials that cannot be had
    /// give no links rather than no notice.
    pub async fn links(&self, output: &PollOutput) -> Vec<Option<String>> {
        let credentials = match self.credentials.provide_credentials().await {
            Ok(credentials) => credentials,
            Err(err) => {
                tracing::warn!(error = %err, "no credentials to sign download links; the notice goes without them");
                return vec![None; output.results.len()];
            }
        };
        let now = SystemTime::now();
        output
            .results
            .iter()
            .map(|file| {
                let uri = file.s3_uri.as_deref()?;
                if uri.starts_with("https://") {
                    return Some(uri.to_owned());
                }
                let region = file.bucket_region.as_deref().unwrap_or(&output.job.region);
                presign(
                    uri,
                    region,
                    &output.job.partition,
                    &credentials,
                    now,
                    self.expires,
                )
            })
            .collect()
    }
}

impl Presigner {
    /// A download link of one `s3://` object in `region` (its partition the region's), within a
    /// second; none when credentials or time are lacking.
    pub async fn link(&self, s3_uri: &str, region: &str) -> Option<String> {
        let credentials = tokio::time::timeout(
            Duration::from_secs(1),
            self.credentials.provide_credentials(),
        )
        .await
        .ok()?
        .ok()?;
        let partition = crate::arn::partition_for_region(region);
        presign(
            s3_uri,
            region,
            partition,
            &credentials,
            SystemTime::now(),
            self.expires,
        )
    }
}

/// S3's general-purpose bucket naming rules: 3-63 lowercase letters, digits, '.' and '-',
/// starting and ending with a letter or digit, no '..', not an IP address, and none of the
/// reserved prefixes and suffixes.
pub(crate) fn is_bucket_name(bucket: &str) -> bool {
    let bytes = bucket.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && edge(bytes.first())
        && edge(bytes.last())
        && !bucket.contains("..")
        && bucket.parse::<std::net::Ipv4Addr>().is_err()
        && !["xn--", "sthree-", "amzn-s3-demo-"]
            .iter()
            .any(|p| bucket.starts_with(p))
        && !["-s3alias", "--ol-s3", ".mrap", "--x-s3"]
            .iter()
            .any(|s| bucket.ends_with(s))
}

/// The presigned HTTPS GET of `s3://bucket/key` in `region`, signed at `now`.
pub fn presign(
    s3_uri: &str,
    region: &str,
    partition: &str,
    credentials: &Credentials,
    now: SystemTime,
    expires: Duration,
) -> Option<String> {
    let (bucket, key) = s3_uri.strip_prefix("s3://")?.split_once('/')?;
    // The bucket becomes the link's host: anything S3 would not accept as a bucket name (an
    // `@`, a `:`, another domain) could send the signed link elsewhere, so it gets none.
    if !is_bucket_name(bucket) || key.is_empty() {
        return None;
    }
    // The partitions whose S3 domain is known here; another gets no link rather than a
    // wrong one.
    let suffix = match partition {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        _ => return None,
    };
    let key = encode(key, false);
    // A bucket name with dots breaks the wildcard TLS certificate of virtual-hosted names.
    let url = if bucket.contains('.') {
        format!("https://s3.{region}.{suffix}/{bucket}/{key}")
    } else {
        format!("https://{bucket}.s3.{region}.{suffix}/{key}")
    };
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    // S3 signs the path as sent: encoded once, never normalized.
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let request = SignableRequest::new(
        "GET",
        &url,
        std::iter::empty(),
        SignableBody::UnsignedPayload,
    )
    .ok()?;
    let (instructions, _) = sign(request, &params).ok()?.into_parts();
    let query: Vec<String> = instructions
        .params()
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value, true)))
        .collect();
    Some(format!("{url}?{}", query.join("&")))
}

/// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, `/` kept in a path.
fn encode(text: &str, query: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b'/' if !query => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("token/+=".into()),
            None,
            "test",
        )
    }

    const NOW: u64 = 1_800_000_000;

    fn link(uri: &str, region: &str, partition: &str) -> Option<String> {
        presign(
            uri,
            region,
            partition,
            &credentials(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
            Duration::from_secs(3600),
        )
    }

    #[test]
    fn a_link_is_a_virtual_hosted_https_get_signed_in_the_query() {
        let url = link("s3://reports/daily/a b+c.pdf", "eu-west-1", "aws").expect("a link");
        assert!(
            url.starts_with("https://reports.s3.eu-west-1.amazonaws.com/daily/a%20b%2Bc.pdf?"),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20270115%2Feu-west-1%2Fs3%2Faws4_request",
            "X-Amz-Date=20270115T080000Z",
            "X-Amz-Expires=3600",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Security-Token=token%2F%2B%3D",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
    }

    #[test]
    fn dotted_buckets_use_path_style_and_china_its_own_domain() {
        let url = link("s3://my.reports/x.pdf", "us-east-1", "aws").expect("a link");
        assert!(
            url.starts_with("https://s3.us-east-1.amazonaws.com/my.reports/x.pdf?"),
            "{url}"
        );
        let url = link("s3://rpt/x.pdf", "cn-north-1", "aws-cn").expect("a link");
        assert!(
            url.starts_with("https://rpt.s3.cn-north-1.amazonaws.com.cn/x.pdf?"),
            "{url}"
        );
    }

    #[test]
    fn a_bucket_s3_would_refuse_gets_no_link_so_no_host_is_taken_from_it() {
        for bad in [
            "s3://evil.com@reports/k",
            "s3://reports:443/k",
            "s3://Reports/k",
            "s3://ab/k",
            "s3://a..b/k",
            "s3://192.168.1.10/k",
            "s3://-reports/k",
            "s3://reports-/k",
            "s3://xn--reports/k",
            "s3://reports-s3alias/k",
            "s3://reports%2eevil/k",
        ] {
            assert_eq!(link(bad, "us-east-1", "aws"), None, "{bad}");
        }
        assert!(link("s3://my-reports.2026/k", "us-east-1", "aws").is_some());
    }

    #[test]
    fn what_is_not_an_s3_object_gets_no_link() {
        assert_eq!(link("s3://bucket-only", "us-east-1", "aws"), None);
        assert_eq!(link("s3:///key", "us-east-1", "aws"), None);
        assert_eq!(link("ftp://x/y", "us-east-1", "aws"), None);
        assert_eq!(
            link("s3://b/k", "us-iso-east-1", "aws-iso"),
            None,
            "unknown S3 domain"
        );
    }
}
