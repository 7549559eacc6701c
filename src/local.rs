//! Running the binary outside Lambda, for a person at a terminal: one job reference from an ARN
//! argument, a file or stdin, one poll, the output JSON on stdout.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;

use crate::app::App;
use crate::error::Error;

/// How long a local poll may take, standing in for the Lambda deadline.
const LOCAL_TIME_LIMIT: Duration = Duration::from_secs(60);

/// What `--help` prints.
pub const USAGE: &str = "\
Polls one Amazon QuickSight dashboard snapshot job and prints the poller's output JSON.
Inside AWS Lambda (AWS_LAMBDA_RUNTIME_API set) it serves the Lambda Runtime API instead.

Usage: quicksight-snapshot-poller [--no-notify] [JOB_ARN | EVENT_FILE | -]
       quicksight-snapshot-poller --history [COUNT]

Arguments:
  JOB_ARN      a snapshot job's ARN,
               arn:aws:quicksight:REGION:ACCOUNT:dashboard/DASHBOARD/snapshot-job/JOB
  EVENT_FILE   a JSON event, any input shape the function accepts (see events/)
  -            read the event from stdin (also when no argument is given)

Options:
  --no-notify  poll and print, but never publish to SNS; SNS_TOPIC_ARN is then not required
  --print-metrics
               print the CloudWatch metrics it writes (namespace, dimension, names) as JSON
  --print-settings
               print every setting (environment variable, default, bounds) as JSON
  --history [COUNT]
               print the latest COUNT (default 20, at most 1000) finished jobs of the notice
               ledger (LEDGER_TABLE_NAME), newest first, as JSON: status, times, dashboard,
               job, file count, the notice's message id, what started it
  -h, --help   print this help
  -V, --version
               print the version

Environment: AWS credentials and AWS_REGION as for the AWS CLI (AWS_PROFILE works),
SNS_TOPIC_ARN unless --no-notify (or --history), LEDGER_TABLE_NAME for --history and to tell
each failure once, and the settings in docs/configuration.md.

Exit status: 0 the output was printed, whatever the job's status; 1 the poll failed with an
errorType, printed as {\"errorType\",\"errorMessage\"}; 2 usage or configuration error.
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `--help`: print the usage.
    Help,
    /// `-V`/`--version`: print the version.
    Version,
    /// `--print-metrics`: what the EMF lines hold, for alarms to be checked against.
    PrintMetrics,
    /// `--print-settings`: every environment variable read, its default and bounds.
    PrintSettings,
    /// `--history [COUNT]`: the latest finished jobs in the notice ledger, newest first.
    History {
        /// How many, at most.
        count: usize,
    },
    /// Poll once and print the answer.
    Poll(PollArgs),
}

/// `--history` without a count.
const HISTORY_DEFAULT: usize = 20;
/// The most `--history` lists: a query page or two.
const HISTORY_MAX: usize = 1_000;

/// One local poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollArgs {
    /// False with `--no-notify`: nothing is published.
    pub notify: bool,
    /// Where the event comes from.
    pub event: EventSource,
}

/// Where the job reference comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSource {
    /// Standard input.
    Stdin,
    /// A file, or the job ARN given as the argument.
    File(std::path::PathBuf),
    /// A job named by its ARN on the command line.
    JobArn(String),
}

impl EventSource {
    fn read(&self, max_bytes: usize) -> Result<Value, Error> {
        let bytes = match self {
            // A named job, as `{"Arn": ...}` with no RequestId: not-found is a failure at once.
            EventSource::JobArn(arn) => return Ok(serde_json::json!({ "Arn": arn })),
            EventSource::Stdin => read_bounded(std::io::stdin(), max_bytes)
                .map_err(|e| Error::invalid(format!("could not read the event from stdin: {e}")))?,
            EventSource::File(path) => std::fs::File::open(path)
                .and_then(|file| read_bounded(file, max_bytes))
                .map_err(|e| {
                    Error::invalid(format!(
                        "could not read the event file {}: {e}",
                        crate::text::quote(&path.to_string_lossy())
                    ))
                })?,
        };
        crate::event::parse_bytes(&bytes, max_bytes)
    }
}

/// Reads at most one byte more than `max_bytes`: enough for the size check to refuse a larger
/// event without holding all of it (`yes |`, `/dev/zero`).
fn read_bounded(source: impl Read, max_bytes: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    source.take(max_bytes as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads the arguments after the program name. The error is a one-line usage message.
pub fn parse_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, String> {
    let mut notify = true;
    let mut positional = Vec::new();
    let mut options_done = false;
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|first| first == "--history") {
        args.next();
        return history_count(args.collect());
    }
    for arg in args {
        // Paths need not be UTF-8; options and ARNs are, and are read as text.
        let text = arg.to_string_lossy().into_owned();
        match text.as_str() {
            _ if options_done => positional.push(arg),
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--print-metrics" => return Ok(Command::PrintMetrics),
            "--print-settings" => return Ok(Command::PrintSettings),
            "--no-notify" => notify = false,
            "--" => options_done = true,
            "-" => positional.push(arg),
            option if option.starts_with('-') => {
                return Err(format!(
                    "unknown option {} (try --help)",
                    crate::text::quote(option)
                ))
            }
            _ => positional.push(arg),
        }
    }
    let event = match positional.as_slice() {
        [] => EventSource::Stdin,
        [one] if one == "-" => EventSource::Stdin,
        [one] if one.to_string_lossy().starts_with("arn:") => {
            EventSource::JobArn(one.to_string_lossy().into_owned())
        }
        [one] => EventSource::File(one.into()),
        [_, extra, ..] => {
            return Err(format!(
                "one job at a time: unexpected argument {} (try --help)",
                crate::text::quote(&extra.to_string_lossy())
            ))
        }
    };
    Ok(Command::Poll(PollArgs { notify, event }))
}

/// `--history`'s one optional argument.
fn history_count(rest: Vec<std::ffi::OsString>) -> Result<Command, String> {
    let count = match rest.as_slice() {
        [] => HISTORY_DEFAULT,
        [count] => count
            .to_str()
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|c| (1..=HISTORY_MAX).contains(c))
            .ok_or_else(|| {
                format!(
                    "--history takes a count from 1 to {HISTORY_MAX}, got {}",
                    crate::text::quote(&count.to_string_lossy())
                )
            })?,
        [_, extra, ..] => {
            return Err(format!(
                "--history takes one count: unexpected argument {}",
                crate::text::quote(&extra.to_string_lossy())
            ))
        }
    };
    Ok(Command::History { count })
}

/// Prints the latest `count` finished jobs of the ledger `settings` name; the exit code.
pub async fn print_history(
    sdk: &aws_config::SdkConfig,
    settings: Option<crate::ledger::LedgerSettings>,
    count: usize,
) -> i32 {
    let Some(settings) = settings else {
        eprintln!("quicksight-snapshot-poller: --history reads the notice ledger: set LEDGER_TABLE_NAME (the stack's NoticeLedger)");
        return 2;
    };
    let ledger = crate::ledger::Ledger::new(
        aws_sdk_dynamodb::config::Builder::from(sdk).build(),
        settings,
    );
    match ledger.history(count).await {
        Ok(jobs) => {
            println!("{}", Value::Array(jobs));
            0
        }
        Err(err) => {
            eprintln!("{}: {}", err.error_type(), err.message());
            1
        }
    }
}

/// The `--version` line.
pub fn version() -> String {
    format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}

/// Polls once for `event`. Prints the output and returns exit code 0, or prints
/// `{"errorType","errorMessage"}` as Lambda would and returns 1.
pub async fn run_once(app: &App, event: &EventSource) -> i32 {
    let result = match event.read(app.max_event_bytes()) {
        Ok(event) => app.invoke(&event, LOCAL_TIME_LIMIT).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(output) => match serde_json::to_string_pretty(&output) {
            Ok(json) => {
                println!("{json}");
                0
            }
            Err(err) => {
                eprintln!("could not serialize the output: {err}");
                1
            }
        },
        Err(err) => {
            let body = serde_json::json!({
                "errorType": err.error_type(),
                "errorMessage": err.message(),
            });
            println!("{body}");
            eprintln!("{}: {}", err.error_type(), err.message());
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(std::ffi::OsString::from))
    }

    fn poll(notify: bool, event: EventSource) -> Result<Command, String> {
        Ok(Command::Poll(PollArgs { notify, event }))
    }

    #[test]
    fn history_takes_an_optional_count_within_bounds() {
        assert_eq!(parse(&["--history"]), Ok(Command::History { count: 20 }));
        assert_eq!(
            parse(&["--history", "5"]),
            Ok(Command::History { count: 5 })
        );
        for bad in ["0", "1001", "many", "-3"] {
            let err = parse(&["--history", bad]).unwrap_err();
            assert!(err.contains("from 1 to 1000"), "{err}");
        }
        assert!(parse(&["--history", "5", "6"])
            .unwrap_err()
            .contains("one count"));
    }

    #[test]
    fn no_argument_reads_stdin_and_notifies() {
        assert_eq!(parse(&[]), poll(true, EventSource::Stdin));
        assert_eq!(parse(&["-"]), poll(true, EventSource::Stdin));
    }

    #[test]
    fn help_and_version_win_over_everything_else() {
        assert_eq!(parse(&["--no-notify", "--help"]), Ok(Command::Help));
        assert_eq!(parse(&["-h", "x", "y"]), Ok(Command::Help));
        assert_eq!(parse(&["-V"]), Ok(Command::Version));
        assert_eq!(parse(&["--version"]), Ok(Command::Version));
        assert_eq!(parse(&["--print-metrics"]), Ok(Command::PrintMetrics));
        assert_eq!(
            parse(&["--print-settings", "x"]),
            Ok(Command::PrintSettings)
        );
        assert_eq!(
            version(),
            format!("quicksight-snapshot-poller {}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn an_arn_argument_names_the_job_and_anything_else_is_a_file() {
        let arn = "arn:aws:quicksight:us-east-1:123456789012:dashboard/d/snapshot-job/j";
        assert_eq!(
            parse(&["--no-notify", arn]),
            poll(false, EventSource::JobArn(arn.into()))
        );
        assert_eq!(
            parse(&["events/api-casing.json"]),
            poll(true, EventSource::File("events/api-casing.json".into()))
        );
        assert_eq!(
            parse(&["--", "--odd-name.json"]),
            poll(true, EventSource::File("--odd-name.json".into()))
        );
    }

    #[test]
    fn an_event_read_from_a_stream_stops_one_byte_past_the_limit() {
        let endless = std::io::repeat(b'x');
        let bytes = read_bounded(endless, 1_000).expect("read");
        assert_eq!(bytes.len(), 1_001, "enough for the size check to refuse it");
        let err = crate::event::parse_bytes(&bytes, 1_000).unwrap_err();
        assert!(err.to_string().contains("MAX_EVENT_BYTES"), "{err}");
        // Cut through a multi-byte character: still refused for its size, not its encoding.
        let accents = "é".repeat(1_000);
        let cut = read_bounded(accents.as_bytes(), 1_000).expect("read");
        let err = crate::event::parse_bytes(&cut, 1_000).unwrap_err();
        assert!(err.to_string().contains("MAX_EVENT_BYTES"), "{err}");
    }

    #[test]
    fn unknown_options_and_extra_arguments_are_usage_errors() {
        let err = parse(&["--notify-never"]).unwrap_err();
        assert!(
            err.contains("--notify-never") && err.contains("--help"),
            "{err}"
        );
        let err = parse(&["a.json", "b.json"]).unwrap_err();
        assert!(err.contains("b.json"), "{err}");
    }

    #[test]
    fn a_job_arn_becomes_a_named_reference() {
        let arn = "arn:aws:quicksight:eu-west-1:123456789012:dashboard/d/snapshot-job/j";
        let event = EventSource::JobArn(arn.into())
            .read(1024)
            .expect("an event");
        let request = crate::reference::parse_event(&event, None).expect("a reference");
        assert_eq!(request.job.region, "eu-west-1");
        assert_eq!(request.job.dashboard, "d");
        assert!(
            !request.not_found_is_pending(2),
            "a job named on the command line gets no not-found grace"
        );
    }
}
