//! The floor for the cold-start benchmark: a lambda_runtime function that does nothing but
//! answer, built with the same profile as the poller (`benches/run.sh`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"status": "IN_PROGRESS"}))
    }))
    .await
}
