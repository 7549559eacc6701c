//! Command-line options.

use std::path::PathBuf;

pub const USAGE: &str =
    "usage: quicksight-emulator [--host 127.0.0.1] [--port 0] [--region us-east-1] [--jobs FILE] \
     [--identity-endpoint http://HOST:PORT] [--tls-cert CHAIN.pem --tls-key KEY.pem]";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub region: String,
    pub jobs: Option<PathBuf>,
    /// An STS (moto) that names the principal of each signing key (GetCallerIdentity).
    pub identity_endpoint: Option<String>,
    /// Serve HTTPS with this PEM chain (leaf first) and `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert`'s leaf, PEM.
    pub tls_key: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            host: "127.0.0.1".to_owned(),
            port: 0,
            region: "us-east-1".to_owned(),
            jobs: None,
            identity_endpoint: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve(Options),
    Help,
}

/// Parses `--name value` and `--name=value`.
pub fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut options = Options::default();
    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        if argument == "--help" || argument == "-h" {
            return Ok(Command::Help);
        }
        let (name, inline_value) = match argument.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (argument, None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| arguments.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--host" => options.host = value()?,
            "--port" => {
                let port = value()?;
                options.port = port
                    .parse()
                    .map_err(|_| format!("--port {port:?} is not a port number"))?;
            }
            "--region" => options.region = value()?,
            "--jobs" => options.jobs = Some(PathBuf::from(value()?)),
            "--identity-endpoint" => options.identity_endpoint = Some(value()?),
            "--tls-cert" => options.tls_cert = Some(PathBuf::from(value()?)),
            "--tls-key" => options.tls_key = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if options.tls_cert.is_some() != options.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".to_owned());
    }
    Ok(Command::Serve(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> Result<Command, String> {
        parse(words.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn no_options_means_loopback_on_a_free_port_in_us_east_1() {
        assert_eq!(parse_words(""), Ok(Command::Serve(Options::default())));
    }

    #[test]
    fn every_option_can_be_given_spaced_or_with_an_equals_sign() {
        let expected = Options {
            host: "0.0.0.0".to_owned(),
            port: 4566,
            region: "eu-west-1".to_owned(),
            jobs: Some(PathBuf::from("jobs.json")),
            identity_endpoint: Some("http://127.0.0.1:5000".to_owned()),
            ..Options::default()
        };
        assert_eq!(
            parse_words(
                "--host 0.0.0.0 --port 4566 --region eu-west-1 --jobs jobs.json \
                 --identity-endpoint http://127.0.0.1:5000"
            ),
            Ok(Command::Serve(expected.clone()))
        );
        assert_eq!(
            parse_words(
                "--host=0.0.0.0 --port=4566 --region=eu-west-1 --jobs=jobs.json \
                 --identity-endpoint=http://127.0.0.1:5000"
            ),
            Ok(Command::Serve(expected))
        );
    }

    #[test]
    fn bad_options_are_reported() {
        assert!(parse_words("--port").is_err());
        assert!(parse_words("--port 70000").is_err());
        assert!(parse_words("--verbose").is_err());
        assert_eq!(parse_words("--port 1 --help"), Ok(Command::Help));
    }
}
