//! The job event's settings, read where the events are built.

use crate::config::Env;
use crate::error::Error;
use crate::settings;
use crate::text::quote;

/// `EVENT_BUS_NAME` and `EVENT_SOURCE` (docs/configuration.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSettings {
    /// The bus: a name, or an event bus ARN.
    pub bus: String,
    /// The event's `source`.
    pub source: String,
}

impl EventSettings {
    /// None without a bus: no event is put.
    pub fn read(env: &Env) -> Result<Option<Self>, Error> {
        let Some(bus) = env.text(&settings::EVENT_BUS_NAME) else {
            return Ok(None);
        };
        if !is_bus_name(&bus) && !is_bus_arn(&bus) {
            return Err(Error::InvalidConfiguration(format!(
                "EVENT_BUS_NAME must be an event bus name (1-256 letters, digits, '.', '-', '_' \
                 or '/') or an event bus ARN, got {}",
                quote(&bus)
            )));
        }
        let source = env
            .text(&settings::EVENT_SOURCE)
            .unwrap_or_else(|| settings::DEFAULT_EVENT_SOURCE.to_owned());
        if !is_source(&source) {
            return Err(Error::InvalidConfiguration(format!(
                "EVENT_SOURCE must be 1-256 letters, digits, '.', '-', '_' or '/', not \
                 beginning with 'aws.' (EventBridge keeps those for AWS), got {}",
                quote(&source)
            )));
        }
        Ok(Some(EventSettings { bus, source }))
    }
}

fn is_bus_name(bus: &str) -> bool {
    (1..=256).contains(&bus.len())
        && bus
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
}

fn is_bus_arn(bus: &str) -> bool {
    bus.len() <= 1600
        && bus.starts_with("arn:")
        && bus.contains(":events:")
        && bus
            .split_once(":event-bus/")
            .is_some_and(|(_, name)| is_bus_name(name))
}

fn is_source(source: &str) -> bool {
    is_bus_name(source) && !source.starts_with("aws.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<EventSettings>, Error> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        };
        EventSettings::read(&Env::new(&lookup))
    }

    #[test]
    fn no_bus_puts_no_event() {
        assert_eq!(read(&[("EVENT_SOURCE", "mine")]).unwrap(), None);
    }

    #[test]
    fn a_bus_by_name_or_arn_with_the_default_source() {
        let named = read(&[("EVENT_BUS_NAME", "default")]).unwrap().unwrap();
        assert_eq!(named.source, "quicksight-snapshot-poller");
        let arn = "arn:aws:events:eu-west-1:123456789012:event-bus/reports";
        let by_arn = read(&[("EVENT_BUS_NAME", arn)]).unwrap().unwrap();
        assert_eq!(by_arn.bus, arn);
    }

    #[test]
    fn an_aws_source_or_a_malformed_bus_is_refused_by_name() {
        let aws = read(&[
            ("EVENT_BUS_NAME", "default"),
            ("EVENT_SOURCE", "aws.quicksight"),
        ])
        .unwrap_err();
        assert_eq!(aws.error_type(), "InvalidConfiguration");
        assert!(aws.to_string().contains("EVENT_SOURCE"), "{aws}");
        let bus = read(&[("EVENT_BUS_NAME", "my bus")]).unwrap_err();
        assert!(bus.to_string().contains("EVENT_BUS_NAME"), "{bus}");
    }
}
