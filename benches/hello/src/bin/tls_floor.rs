//! The TLS floor of benches/tls_cold.py: a lambda_runtime function whose every invocation is one
//! HTTPS GET of `FLOOR_GET_URL` (hyper + rustls on ring, the cheapest TLS stack the SDK offers,
//! roots from the platform store, which honours `SSL_CERT_FILE`), with no SDK, signing or
//! parsing. Its first invocation is what any function pays to make one TLS call.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let url: hyper::Uri = std::env::var("FLOOR_GET_URL")
        .map_err(|_| "FLOOR_GET_URL is not set")?
        .parse()?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)?
        .https_only()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    let (client, url) = (&client, &url);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let response = client.get(url.clone()).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!("GET {url} answered {status}").into());
        }
        Ok::<_, Error>(json!({"status": status.as_u16(), "bytes": body.len()}))
    }))
    .await
}
