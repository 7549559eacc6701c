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
        // `args_os`, not `args`, which panics on an argument that is not UTF-8.
        match local::parse_args(std::env::args_os().skip(1)) {
            Ok(Command::Help) => {
                print!("{}", local::USAGE);
                return Ok(());
            }
            Ok(Command::Version) => {
                println!("{}", local::version());
                return Ok(());
            }
            Ok(Command::PrintMetrics) => {
                println!("{}", quicksight_snapshot_poller::metrics_catalogue());
                return Ok(());
            }
            Ok(Command::PrintSettings) => {
                println!("{}", quicksight_snapshot_poller::settings_catalogue());
                return Ok(());
            }
            Ok(Command::History { count }) => std::process::exit(history(count).await),
            Ok(Command::Poll(args)) => Some(args),
            Err(usage) => {
                eprintln!("quicksight-snapshot-poller: {usage}");
                std::process::exit(2);
            }
        }
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
