use lambda_runtime::{service_fn, LambdaEvent};
use quicksight_snapshot_poller::local::{self, Command};
use quicksight_snapshot_poller::Notices;
use quicksight_snapshot_poller::Sink;
use quicksight_snapshot_poller::{setup, Config};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Outside Lambda the same binary polls once for a person at a terminal; stdout then carries
    // only the JSON answer.
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let local = if in_lambda {
        None
    } else {
        Some(terminal_command().await)
    };
    if in_lambda {
        lambda_runtime::tracing::init_default_subscriber();
    } else {
        lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    }

    let notices = match &local {
        Some(args) if !args.notify => Notices::Off,
        _ => Notices::On,
    };
    let config = match Config::from_env_with(notices) {
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

    if let Some(args) = local {
        std::process::exit(local::run_once(&app, &args.event).await);
    }

    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move { app.handle(event).await },
    ))
    .await
}

/// At a terminal: answers the commands that need no poll and exits; a poll's arguments are
/// returned.
async fn terminal_command() -> local::PollArgs {
    // `args_os`, not `args`, which panics on an argument that is not UTF-8.
    let printed = match local::parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Poll(args)) => return args,
        Ok(Command::Help) => local::USAGE.trim_end().to_owned(),
        Ok(Command::Version) => local::version(),
        Ok(Command::PrintMetrics) => quicksight_snapshot_poller::metrics_catalogue().to_string(),
        Ok(Command::PrintSettings) => quicksight_snapshot_poller::settings_catalogue().to_string(),
        Ok(Command::History { count }) => std::process::exit(history(count).await),
        Err(usage) => {
            eprintln!("quicksight-snapshot-poller: {usage}");
            std::process::exit(2);
        }
    };
    println!("{printed}");
    std::process::exit(0);
}

/// `--history`: the notice ledger's latest finished jobs; needs no topic.
async fn history(count: usize) -> i32 {
    lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
    let config = match Config::from_env_with(Notices::Off) {
        Ok(config) => config,
        Err(err) => exit_at_cold_start(&err),
    };
    let sdk = match setup::sdk_config(&config).await {
        Ok(sdk) => sdk,
        Err(err) => exit_at_cold_start(&err),
    };
    local::print_history(&sdk, config.ledger, count).await
}

/// A function that is not set up must not answer events: exiting before the runtime loop makes
/// Lambda report a failed init to the invoker instead, with this line in the log.
fn exit_at_cold_start(err: &quicksight_snapshot_poller::Error) -> ! {
    eprintln!("{}: {}", err.error_type(), err.message());
    std::process::exit(2);
}
