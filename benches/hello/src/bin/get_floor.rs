//! The warm-latency floor of benches/run.sh: a lambda_runtime function whose every invocation is
//! one plain HTTP GET of `FLOOR_GET_URL` over a kept-alive connection (hyper, the client the SDK
//! itself sits on), with no SDK, signing or parsing. The poller's describe is measured against it
//! through the same Runtime API, so the ratio is what the SDK and the poller add to one request.

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
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let (client, url) = (&client, &url);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let response = client.get(url.clone()).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        // An error answer would be timed as the floor: fail the invocation instead.
        if !status.is_success() {
            return Err(format!("GET {url} answered {status}").into());
        }
        Ok::<_, Error>(json!({"status": status.as_u16(), "bytes": body.len()}))
    }))
    .await
}
