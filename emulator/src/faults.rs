//! Fault injection: scripted errors, hang-ups, slow and corrupt replies. Faults are consumed in the
//! order they were given, so a test can say "the next two describes are throttled, then one hangs up"
//! and know exactly which call sees what.

use std::time::Duration;

use serde::Deserialize;

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::wire::{aws_bytes, aws_json, ErrorType, Reply, RequestId};

/// The dialect's vocabulary for this emulator, from the file the harness reads too.
mod dialect {
    use std::sync::OnceLock;

    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Dialect {
        /// Checked against `FaultSpec` by a test; serde itself refuses any other field.
        #[cfg(test)]
        pub fields: Vec<String>,
        pub targets: Targets,
    }

    #[derive(Deserialize)]
    pub struct Targets {
        pub emulator: Target,
    }

    #[derive(Deserialize)]
    pub struct Target {
        pub operations: Vec<String>,
        pub kinds: Vec<String>,
    }

    /// emulator/fault-dialect.json, built in.
    pub fn get() -> &'static Dialect {
        static DIALECT: OnceLock<Dialect> = OnceLock::new();
        DIALECT.get_or_init(|| {
            serde_json::from_str(include_str!("../fault-dialect.json"))
                .expect("emulator/fault-dialect.json is valid (a test reads it)")
        })
    }

    /// "a, b or c" of `names`, with `last` after them.
    pub fn expected(names: &[String], last: &str) -> String {
        let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
        names.push(last);
        let (tail, head) = names.split_last().unwrap_or((&"", &[]));
        format!("{} or {tail}", head.join(", "))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Start,
    Describe,
    Result,
}

impl Operation {
    fn parse(name: &str) -> Result<Option<Operation>, String> {
        match name {
            "any" => Ok(None),
            "start" => Ok(Some(Operation::Start)),
            "describe" => Ok(Some(Operation::Describe)),
            "result" => Ok(Some(Operation::Result)),
            other => Err(format!(
                "unknown fault operation {other:?}: expected {}",
                dialect::expected(&dialect::get().targets.emulator.operations, "any")
            )),
        }
    }
}

/// The ways a fault can corrupt a 2xx reply body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distortion {
    Truncated,
    WithoutVitalField,
    UnknownStatus,
}

impl Distortion {
    /// Applies a body-corrupting fault. `vital` is the member a client cannot do without (`JobStatus`
    /// for the describe calls, `Arn` for Start), so "missing fields" removes exactly what hurts.
    pub fn apply(
        self,
        status: StatusCode,
        mut body: Value,
        vital: &str,
        request_id: &RequestId,
    ) -> Reply {
        match self {
            Distortion::Truncated => {
                let mut text = body.to_string().into_bytes();
                text.truncate(text.len() / 2);
                aws_bytes(status, text, request_id)
            }
            Distortion::WithoutVitalField => {
                if let Some(members) = body.as_object_mut() {
                    members.remove(vital);
                }
                aws_json(status, &body, request_id)
            }
            Distortion::UnknownStatus => {
                if let Some(members) = body.as_object_mut() {
                    if vital == "JobStatus" {
                        members.insert(vital.to_owned(), json!("CANCELLING"));
                    } else {
                        members.remove(vital);
                    }
                }
                aws_json(status, &body, request_id)
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Error(ErrorType),
    HangUp,
    Delay(Duration),
    Distort(Distortion),
}

/// A fault as the control API and the `--jobs` file spell it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    pub operation: Option<String>,
    pub error: Option<String>,
    pub kind: Option<String>,
    pub delay_ms: Option<u64>,
    pub count: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
struct Fault {
    /// `None` matches every operation.
    operation: Option<Operation>,
    effect: Effect,
    /// `None` never runs out.
    remaining: Option<u32>,
}

impl Fault {
    fn parse(spec: FaultSpec) -> Result<Fault, String> {
        let operation = Operation::parse(spec.operation.as_deref().unwrap_or("any"))?;
        let effect = match (spec.kind.as_deref(), spec.error.as_deref()) {
            (None | Some("error"), Some(name)) => {
                Effect::Error(ErrorType::from_shape_name(name).ok_or_else(|| {
                    let known: Vec<&str> = ErrorType::shape_names().collect();
                    format!("unknown fault error {name:?}: expected one of {known:?}")
                })?)
            }
            (None | Some("error"), None) => {
                return Err("a fault needs an \"error\" name or a \"kind\"".to_owned())
            }
            (Some(_), Some(_)) => {
                return Err("a fault has either \"error\" or \"kind\", not both".to_owned())
            }
            (Some("drop"), None) => Effect::HangUp,
            (Some("malformed"), None) => Effect::Distort(Distortion::Truncated),
            (Some("missing-fields"), None) => Effect::Distort(Distortion::WithoutVitalField),
            (Some("unknown-status"), None) => Effect::Distort(Distortion::UnknownStatus),
            (Some("delay"), None) => {
                let millis = spec.delay_ms.ok_or("a \"delay\" fault needs \"delayMs\"")?;
                Effect::Delay(Duration::from_millis(millis))
            }
            (Some(other), None) => {
                return Err(format!(
                    "unknown fault kind {other:?}: expected {}",
                    dialect::expected(&dialect::get().targets.emulator.kinds, "error")
                ))
            }
        };
        Ok(Fault {
            operation,
            effect,
            remaining: spec.count,
        })
    }

    fn applies_to(&self, operation: Operation) -> bool {
        self.operation.is_none_or(|only| only == operation) && self.remaining != Some(0)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultList(Vec<Fault>);

impl FaultList {
    pub fn parse(specs: Vec<FaultSpec>) -> Result<FaultList, String> {
        specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                Fault::parse(spec).map_err(|why| format!("faults[{index}]: {why}"))
            })
            .collect::<Result<_, _>>()
            .map(FaultList)
    }

    /// The effect for this call, if a fault is due; the fault loses one use.
    pub fn take(&mut self, operation: Operation) -> Option<Effect> {
        let fault = self
            .0
            .iter_mut()
            .find(|fault| fault.applies_to(operation))?;
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining -= 1;
        }
        Some(fault.effect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_kind_and_field_of_the_shared_dialect_is_understood_here() {
        let dialect = dialect::get();
        let emulator = &dialect.targets.emulator;
        for operation in &emulator.operations {
            assert!(
                matches!(Operation::parse(operation), Ok(Some(_))),
                "{operation}"
            );
        }
        for kind in &emulator.kinds {
            let parsed = Fault::parse(FaultSpec {
                kind: Some(kind.clone()),
                delay_ms: Some(1),
                ..FaultSpec::default()
            });
            assert!(parsed.is_ok(), "{kind}: {parsed:?}");
        }
        let every_field: serde_json::Map<String, Value> = dialect
            .fields
            .iter()
            .map(|field| (field.clone(), Value::Null))
            .collect();
        serde_json::from_value::<FaultSpec>(Value::Object(every_field))
            .expect("a spec may carry every field of the dialect");
        let other = serde_json::from_value::<FaultSpec>(json!({"kind": "drop", "when": 1}));
        assert!(other.is_err(), "and no other");
        let unknown = Fault::parse(FaultSpec {
            kind: Some("melt".into()),
            ..FaultSpec::default()
        })
        .unwrap_err();
        assert_eq!(
            unknown,
            "unknown fault kind \"melt\": expected drop, malformed, missing-fields, \
             unknown-status, delay or error"
        );
    }

    fn spec(
        operation: &str,
        error: Option<&str>,
        kind: Option<&str>,
        count: Option<u32>,
    ) -> FaultSpec {
        FaultSpec {
            operation: Some(operation.to_owned()),
            error: error.map(str::to_owned),
            kind: kind.map(str::to_owned),
            delay_ms: None,
            count,
        }
    }

    #[test]
    fn faults_are_consumed_in_order_one_use_per_matching_call() {
        let mut faults = FaultList::parse(vec![
            spec("describe", Some("ThrottlingException"), None, Some(2)),
            spec("describe", None, Some("drop"), Some(1)),
        ])
        .expect("valid faults");

        let throttled = Some(Effect::Error(ErrorType::Throttling));
        assert_eq!(faults.take(Operation::Describe), throttled);
        assert_eq!(faults.take(Operation::Describe), throttled);
        assert_eq!(faults.take(Operation::Describe), Some(Effect::HangUp));
        assert_eq!(faults.take(Operation::Describe), None);
    }

    #[test]
    fn a_fault_only_hits_its_own_operation_unless_it_says_any() {
        let mut faults = FaultList::parse(vec![
            spec("result", Some("AccessDeniedException"), None, Some(1)),
            spec("any", None, Some("malformed"), Some(1)),
        ])
        .expect("valid faults");

        assert_eq!(
            faults.take(Operation::Describe),
            Some(Effect::Distort(Distortion::Truncated))
        );
        assert_eq!(
            faults.take(Operation::Result),
            Some(Effect::Error(ErrorType::AccessDenied))
        );
        assert_eq!(faults.take(Operation::Start), None);
    }

    #[test]
    fn a_fault_without_a_count_applies_forever() {
        let mut faults = FaultList::parse(vec![spec(
            "start",
            Some("InternalFailureException"),
            None,
            None,
        )])
        .expect("valid faults");
        for _ in 0..100 {
            assert_eq!(
                faults.take(Operation::Start),
                Some(Effect::Error(ErrorType::InternalFailure))
            );
        }
    }

    #[test]
    fn a_delay_fault_carries_its_duration() {
        let mut delay = spec("describe", None, Some("delay"), Some(1));
        delay.delay_ms = Some(250);
        let mut faults = FaultList::parse(vec![delay]).expect("valid faults");
        assert_eq!(
            faults.take(Operation::Describe),
            Some(Effect::Delay(Duration::from_millis(250)))
        );
    }

    #[test]
    fn nonsense_faults_are_refused_with_a_reason() {
        let cases = [
            spec("describe", Some("NoSuchException"), None, None),
            spec("describe", None, Some("explode"), None),
            spec("describe", None, Some("delay"), None),
            spec("describe", None, None, None),
            spec("list", Some("ThrottlingException"), None, None),
            spec("describe", Some("ThrottlingException"), Some("drop"), None),
        ];
        for case in cases {
            let error = FaultList::parse(vec![case.clone()]).expect_err("must be refused");
            assert!(error.starts_with("faults[0]: "), "{error}");
        }
    }
}
