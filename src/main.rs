use lambda_runtime::{service_fn, LambdaEvent};
use quicksight_snapshot_poller::metrics::Sink;
use quicksight_snapshot_poller::{local, setup, Config};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Outside Lambda the same binary polls once; stdout then carries only the JSON answer.
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    if in_lambda {
        lambda_runtime::tracing::init_default_subscriber();
    } else {
        lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    }

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => exit_at_cold_start(&err),
    };
    let sdk = match setup::sdk_config(&config).await {
        Ok(sdk) => sdk,
        Err(err) => exit_at_cold_start(&err),
    };
    let sink = if in_lambda {
        Sink::Stdout
    } else {
        Sink::Stderr
    };
    let app = setup::app(config, &sdk).with_metrics(sink);

    if !in_lambda {
        let path = std::env::args().nth(1);
        std::process::exit(local::run_once(&app, path.as_deref()).await);
    }

    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        app.handle(event).await
    }))
    .await
}

/// A function that is not set up must not answer events: exiting before the runtime loop makes
/// Lambda report a failed init to the invoker instead, with this line in the log.
fn exit_at_cold_start(err: &quicksight_snapshot_poller::Error) -> ! {
    eprintln!("{}: {err}", err.error_type());
    std::process::exit(2);
}
