//! Running the binary outside Lambda: one event from a file or stdin, one poll, JSON on stdout.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;

use crate::app::App;
use crate::error::Error;

/// How long a local poll may take, standing in for the Lambda deadline.
const LOCAL_TIME_LIMIT: Duration = Duration::from_secs(60);

/// Polls once for the event in `path` (stdin when absent or `-`). Prints the output and returns
/// exit code 0, or prints `{"errorType","errorMessage"}` as Lambda would and returns 1.
pub async fn run_once(app: &App, path: Option<&str>) -> i32 {
    let result = match read_event(path) {
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
                "errorMessage": err.to_string(),
            });
            println!("{body}");
            eprintln!("{}: {err}", err.error_type());
            1
        }
    }
}

fn read_event(path: Option<&str>) -> Result<Value, Error> {
    let text = match path {
        None | Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::invalid(format!("could not read the event from stdin: {e}")))?;
            text
        }
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(format!("could not read the event file {path}: {e}")))?,
    };
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid(format!("the event is not valid JSON: {e}")))
}
