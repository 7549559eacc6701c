//! Property tests over event parsing: whatever arrives, no panic; a rejection is always
//! `InvalidJobReference` naming what was wrong; an accepted id can never carry a path character.
//! `PROPTEST_CASES=200000 cargo test --test fuzz_input` runs a longer search locally.

use proptest::prelude::*;
use quicksight_snapshot_poller::Error;
use quicksight_snapshot_poller::{parse_invocation, BatchItem, Invocation, JobReference};
use serde_json::{json, Map, Value};

const FIELDS: [&str; 19] = [
    "AwsAccountId",
    "awsAccountId",
    "DashboardId",
    "dashboardId",
    "SnapshotJobId",
    "snapshotJobId",
    "Arn",
    "arn",
    "Region",
    "region",
    "jobs",
    "job",
    "status",
    "attempt",
    "detail",
    "RequestId",
    "summarize",
    "runKey",
    "count",
];

fn id_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,20}",
        "[0-9]{12}",
        ".{0,30}",
        "(\\.\\./|%2F|/|\\\\){1,4}[a-z]{0,5}",
        Just("arn:aws:quicksight:us-east-1:123456789012:dashboard/d/snapshot-job/j".to_owned()),
        Just("us-east-1".to_owned()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        id_like().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(&FIELDS[..]).prop_map(str::to_owned),
                        "[a-z-]{1,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid reference with one field replaced by something arbitrary.
fn near_miss() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&FIELDS[..6]),
        prop_oneof![id_like().prop_map(Value::String), json_value()],
    )
        .prop_map(|(field, value)| {
            let mut event =
                json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j"});
            event[field] = value;
            event
        })
}

fn safe_id(id: &str) -> bool {
    (1..=512).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_accepted(job: &JobReference) {
    assert!(job.account.len() == 12 && job.account.bytes().all(|b| b.is_ascii_digit()));
    assert!(safe_id(&job.dashboard), "{:?}", job.dashboard);
    assert!(safe_id(&job.job), "{:?}", job.job);
}

fn check(event: &Value) {
    match parse_invocation(event, Some("us-east-1"), 1000) {
        Ok(Invocation::Single(request)) => check_accepted(&request.job),
        Ok(Invocation::Batch(batch)) => {
            for item in &batch.items {
                if let BatchItem::Poll { request, .. } = item {
                    check_accepted(&request.job);
                }
            }
        }
        // A run's summary and survey name no job: they read the function's own records and
        // the run's manifest.
        Ok(Invocation::Summarize(_) | Invocation::Survey(_)) => {}
        Err(err) => check_rejection(&err),
    }
}

fn check_rejection(err: &Error) {
    let message = err.to_string();
    if err.error_type() == "InvalidManifest" {
        // A survey's manifest: the field it names is the run's `reports`.
        assert!(message.contains("reports"), "names no field: {message}");
        return;
    }
    assert_eq!(err.error_type(), "InvalidJobReference", "{err}");
    // The field as the sender spelled it (any casing), or "the event" when it is not an object.
    let named = FIELDS.iter().any(|name| message.contains(name)) || message.contains("the event");
    assert!(named, "names no field: {message}");
    assert!(
        message.len() < 1024,
        "message stays short: {} bytes",
        message.len()
    );
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics_and_rejections_name_a_field(event in json_value()) {
        check(&event);
    }

    #[test]
    fn near_miss_references_are_accepted_only_with_safe_ids(event in near_miss()) {
        check(&event);
    }

    #[test]
    fn arbitrary_events_inside_eventbridge_and_batches_never_panic(inner in json_value(), batch in prop::collection::vec(near_miss(), 0..4)) {
        check(&json!({"detail-type": "x", "source": "y", "detail": inner}));
        check(&json!({"jobs": batch}));
    }
}

/// Strings from a few characters to a few megabytes, shaped like the values that get quoted
/// back: an ARN with a huge resource, a huge region, a huge id, plain noise.
fn huge_string() -> impl Strategy<Value = String> {
    (
        0u32..=22,
        prop::sample::select(&["arn", "region", "id", "noise"][..]),
    )
        .prop_map(|(bits, shape)| {
            let filler = "x/é:".repeat((1usize << bits) / 4 + 1);
            match shape {
                "arn" => format!("arn:aws:quicksight:us-east-1:123456789012:{filler}"),
                "region" => format!("arn:aws:quicksight:{filler}:123456789012:dashboard/d"),
                "id" => filler.replace(['/', ':', 'é'], "a"),
                _ => filler,
            }
        })
}

proptest! {
    // Megabyte strings are slow to build and parse: a few cases reach them all.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn megabyte_strings_in_any_field_give_a_short_rejection(
        value in huge_string(),
        field in prop::sample::select(&FIELDS[..10]),
    ) {
        let mut event =
            json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j"});
        event[field] = Value::String(value.clone());
        check(&event);
        check(&json!({"jobs": [event.clone()]}));
        check(&json!({"detail-type": "x", "source": "y", "detail": event}));
    }
}

#[test]
fn malformed_corpus_is_rejected_naming_the_field() {
    let dir = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let err = match parse_invocation(&event, Some("us-east-1"), 1000) {
            Ok(_) => panic!("{path:?} was accepted"),
            Err(err) => err,
        };
        check_rejection(&err);
        seen += 1;
    }
    assert!(seen >= 20, "corpus has {seen} files");
}

#[test]
fn huge_ids_are_rejected_with_a_short_message() {
    let huge = "x".repeat(1 << 20);
    let err = parse_invocation(
        &json!({"AwsAccountId": "123456789012", "DashboardId": huge, "SnapshotJobId": "j"}),
        Some("us-east-1"),
        1000,
    )
    .expect_err("too long");
    check_rejection(&err);
}

#[test]
fn deeply_nested_input_is_refused_by_the_json_reader_before_parsing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = serde_json::from_str::<Value>(&deep).expect_err("recursion limit");
    assert!(err.to_string().contains("recursion limit"), "{err}");
}
