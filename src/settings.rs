//! Every setting the function reads from its environment, in one table: name, default, bounds
//! and meaning. [`crate::Config`] reads through it, and tests check that `template.yaml`'s
//! parameters and the configuration table of docs/configuration.md say the same.

/// What a setting holds, with its default and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number from `min` to `max`.
    Number {
        /// Used when the variable is unset or blank.
        default: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// `true` or `false` (also `1`/`0`, `yes`/`no`).
    Flag {
        /// Used when the variable is unset or blank.
        default: bool,
    },
    /// Comma-separated values; empty means no restriction.
    List,
    /// A string with its own rules, `default` when unset (None: required or off).
    Text {
        /// Used when the variable is unset or blank.
        default: Option<&'static str>,
    },
}

/// One environment variable the function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The variable's name.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// What it means, in one line.
    pub doc: &'static str,
}

/// A string setting without a default (required where it is used, or a feature left off).
const fn text(name: &'static str, doc: &'static str) -> Setting {
    Setting {
        name,
        kind: Kind::Text { default: None },
        doc,
    }
}

const fn list(name: &'static str, doc: &'static str) -> Setting {
    Setting {
        name,
        kind: Kind::List,
        doc,
    }
}

const fn number(
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
    doc: &'static str,
) -> Setting {
    Setting {
        name,
        kind: Kind::Number { default, min, max },
        doc,
    }
}

/// Where notices go (required unless notices are off at a terminal).
pub const SNS_TOPIC_ARN: Setting = text("SNS_TOPIC_ARN", "the SNS topic notices are published to");
/// Also notify clean successes.
pub const NOTIFY_ON_SUCCESS: Setting = Setting {
    name: "NOTIFY_ON_SUCCESS",
    kind: Kind::Flag { default: false },
    doc: "also notify clean successes (with the S3 URIs)",
};
/// Notify each report of a reports run on its own too.
pub const REPORT_ITEM_NOTICES: Setting = Setting {
    name: "REPORT_ITEM_NOTICES",
    kind: Kind::Flag { default: false },
    doc: "also notify each report of a reports run on its own (a run is told by its summary)",
};
/// The shortest `waitSeconds`.
pub const MIN_WAIT_SECONDS: Setting =
    number("MIN_WAIT_SECONDS", 5, 1, 86_400, "the shortest waitSeconds");
/// The longest `waitSeconds`.
pub const MAX_WAIT_SECONDS: Setting =
    number("MAX_WAIT_SECONDS", 60, 1, 86_400, "the longest waitSeconds");
/// `waitSeconds` as a percentage of the job's age.
pub const WAIT_AGE_PERCENT: Setting = number(
    "WAIT_AGE_PERCENT",
    20,
    0,
    1_000,
    "waitSeconds as a percentage of the job's age",
);
/// The age after which an unfinished job is TIMED_OUT.
pub const JOB_DEADLINE_SECONDS: Setting = number(
    "JOB_DEADLINE_SECONDS",
    3_600,
    1,
    7 * 86_400,
    "age after which an unfinished job is TIMED_OUT",
);
/// Polls of a just-started job that may answer not-found.
pub const NOT_FOUND_GRACE_POLLS: Setting = number(
    "NOT_FOUND_GRACE_POLLS",
    2,
    0,
    100,
    "polls of a just-started job that may answer not-found",
);
/// Attempts per AWS call.
pub const SDK_MAX_ATTEMPTS: Setting = number("SDK_MAX_ATTEMPTS", 3, 1, 10, "attempts per AWS call");
/// One HTTP attempt, in milliseconds.
pub const SDK_ATTEMPT_TIMEOUT_MS: Setting = number(
    "SDK_ATTEMPT_TIMEOUT_MS",
    3_000,
    100,
    900_000,
    "one HTTP attempt",
);
/// One call with its retries, in milliseconds.
pub const SDK_OPERATION_TIMEOUT_MS: Setting = number(
    "SDK_OPERATION_TIMEOUT_MS",
    10_000,
    100,
    900_000,
    "one call, retries included",
);
/// QuickSight calls per second one batch makes.
pub const BATCH_RATE_PER_SECOND: Setting = number(
    "BATCH_RATE_PER_SECOND",
    8,
    1,
    1_000,
    "QuickSight calls per second of a batch",
);
/// Jobs of a batch polled at once.
pub const BATCH_CONCURRENCY: Setting = number(
    "BATCH_CONCURRENCY",
    4,
    1,
    64,
    "jobs of a batch polled at once",
);
/// The largest batch; its default follows `MAX_OUTPUT_BYTES` (÷ 2,000).
pub const BATCH_MAX_JOBS: Setting = number(
    "BATCH_MAX_JOBS",
    100,
    1,
    100_000,
    "the largest batch (default MAX_OUTPUT_BYTES / 2000)",
);
/// Rounds in a row a batch job's poll may fail before it is FAILED.
pub const BATCH_MAX_ERROR_ROUNDS: Setting = number(
    "BATCH_MAX_ERROR_ROUNDS",
    5,
    1,
    1_000,
    "rounds in a row a batch job's poll may fail before it is FAILED and notified",
);
/// The largest answer, in bytes.
pub const MAX_OUTPUT_BYTES: Setting = number(
    "MAX_OUTPUT_BYTES",
    200_000,
    10_000,
    6_000_000,
    "the largest answer; a larger one fails as OutputTooLarge",
);
/// The largest event read, in bytes.
pub const MAX_EVENT_BYTES: Setting = number(
    "MAX_EVENT_BYTES",
    1 << 20,
    1_024,
    6 << 20,
    "a larger event is refused before it is parsed",
);
/// The life of a notice's download links, in seconds (0: none).
pub const PRESIGN_SECONDS: Setting = number(
    "PRESIGN_SECONDS",
    0,
    0,
    604_800,
    "life of the download links in a notice (0: none)",
);
/// Accounts the function may describe.
pub const ALLOWED_ACCOUNT_IDS: Setting = list(
    "ALLOWED_ACCOUNT_IDS",
    "account ids the function may describe",
);
/// Regions the function may describe.
pub const ALLOWED_REGIONS: Setting = list("ALLOWED_REGIONS", "regions the function may describe");
/// The roots TLS trusts.
pub const TRUST_STORE: Setting = Setting {
    name: "TRUST_STORE",
    kind: Kind::Text {
        default: Some("system"),
    },
    doc: "roots TLS trusts: system or amazon",
};

/// Every setting as JSON (`quicksight-snapshot-poller --print-settings`): name, kind,
/// default, bounds and meaning.
pub fn catalogue() -> serde_json::Value {
    let settings: Vec<serde_json::Value> = ALL
        .iter()
        .map(|setting| {
            let mut entry = serde_json::json!({ "name": setting.name, "doc": setting.doc });
            let fields = match setting.kind {
                Kind::Number { default, min, max } => {
                    serde_json::json!({"kind": "number", "default": default, "min": min, "max": max})
                }
                Kind::Flag { default } => serde_json::json!({"kind": "flag", "default": default}),
                Kind::List => serde_json::json!({"kind": "list", "default": ""}),
                Kind::Text { default } => serde_json::json!({"kind": "text", "default": default}),
            };
            if let (Some(entry), serde_json::Value::Object(fields)) = (entry.as_object_mut(), fields) {
                entry.extend(fields);
            }
            entry
        })
        .collect();
    settings.into()
}

/// Roles a job may ask to be polled as.
pub const ALLOWED_ROLE_ARNS: Setting = list(
    "ALLOWED_ROLE_ARNS",
    "roles a job's roleArn may name (empty: polling as another role is off)",
);
/// QuickSight namespaces whose users a reference may name.
pub const ALLOWED_USER_NAMESPACES: Setting = list(
    "ALLOWED_USER_NAMESPACES",
    "QuickSight namespaces whose users a reference may name (userArn, userName, email; empty: any)",
);
/// The external id each allowed role needs.
pub const ROLE_EXTERNAL_IDS: Setting = list(
    "ROLE_EXTERNAL_IDS",
    "ROLE_ARN=EXTERNAL_ID pairs: the sts:ExternalId a role needs (outputs never carry one)",
);
/// The group of a poll chain's one-time schedules.
pub const SCHEDULE_GROUP_NAME: Setting = text(
    "SCHEDULE_GROUP_NAME",
    "EventBridge Scheduler group of a poll chain's schedules (chains off without it)",
);
/// The role Scheduler assumes to invoke the function.
pub const SCHEDULE_ROLE_ARN: Setting = text(
    "SCHEDULE_ROLE_ARN",
    "role EventBridge Scheduler assumes to invoke the function (chains off without it)",
);
/// The function a chain's schedules invoke.
pub const SCHEDULE_TARGET_ARN: Setting = text(
    "SCHEDULE_TARGET_ARN",
    "function a chain's schedules invoke (default: the invoked function, unqualified)",
);
/// Where Scheduler puts a chain tick it could not deliver.
pub const SCHEDULE_DEAD_LETTER_ARN: Setting = text(
    "SCHEDULE_DEAD_LETTER_ARN",
    "SQS queue a chain's schedules send undeliverable ticks to (default: none)",
);
/// The notice ledger's table.
pub const LEDGER_TABLE_NAME: Setting = text(
    "LEDGER_TABLE_NAME",
    "DynamoDB table that claims each notice before it is published, and keeps the run history (default: none, notices at least once)",
);
/// How long the ledger keeps an item.
pub const LEDGER_RETENTION_DAYS: Setting = number(
    "LEDGER_RETENTION_DAYS",
    90,
    1,
    3_650,
    "days a ledger item is kept (its expiresAt, the table's TTL)",
);
/// The bus each finished job's event goes to.
pub const EVENT_BUS_NAME: Setting = text(
    "EVENT_BUS_NAME",
    "EventBridge bus that gets one \"Snapshot Job Finished\" event per finished job (default: none, no events)",
);
/// The `source` of a job's event when `EVENT_SOURCE` is not set.
pub const DEFAULT_EVENT_SOURCE: &str = "quicksight-snapshot-poller";
/// The `source` of a job's event.
pub const EVENT_SOURCE: Setting = Setting {
    name: "EVENT_SOURCE",
    kind: Kind::Text {
        default: Some(DEFAULT_EVENT_SOURCE),
    },
    doc: "the source of a job's event (never aws.*)",
};
/// Where reports runs' results files go.
pub const RUN_RESULTS: Setting = text(
    "RUN_RESULTS",
    "s3://<bucket>/<prefix> a reports run's results file is written under (<prefix><run key>.json; default: none, summaries name no file)",
);
/// The most reports one reports run may have.
pub const REPORT_MAX_ITEMS: Setting = number(
    "REPORT_MAX_ITEMS",
    10_000,
    1,
    1_000_000,
    "the most reports one reports run may have: a larger manifest fails the run (InvalidManifest) before any job starts",
);

/// Every setting, in the order docs/configuration.md lists them.
pub const ALL: &[Setting] = &[
    SNS_TOPIC_ARN,
    NOTIFY_ON_SUCCESS,
    MIN_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    WAIT_AGE_PERCENT,
    JOB_DEADLINE_SECONDS,
    NOT_FOUND_GRACE_POLLS,
    SDK_MAX_ATTEMPTS,
    SDK_ATTEMPT_TIMEOUT_MS,
    SDK_OPERATION_TIMEOUT_MS,
    BATCH_RATE_PER_SECOND,
    BATCH_CONCURRENCY,
    BATCH_MAX_JOBS,
    BATCH_MAX_ERROR_ROUNDS,
    MAX_OUTPUT_BYTES,
    PRESIGN_SECONDS,
    MAX_EVENT_BYTES,
    ALLOWED_ACCOUNT_IDS,
    ALLOWED_REGIONS,
    ALLOWED_ROLE_ARNS,
    ALLOWED_USER_NAMESPACES,
    ROLE_EXTERNAL_IDS,
    TRUST_STORE,
    SCHEDULE_GROUP_NAME,
    SCHEDULE_ROLE_ARN,
    SCHEDULE_TARGET_ARN,
    SCHEDULE_DEAD_LETTER_ARN,
    LEDGER_TABLE_NAME,
    LEDGER_RETENTION_DAYS,
    EVENT_BUS_NAME,
    EVENT_SOURCE,
    REPORT_ITEM_NOTICES,
    RUN_RESULTS,
    REPORT_MAX_ITEMS,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn read(file: &str) -> String {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn setting(name: &str) -> Option<&'static Setting> {
        ALL.iter().find(|s| s.name == name)
    }

    /// `key: value` lines of a template parameter (4-space indent under `  Name:`).
    fn parameter(template: &str, name: &str) -> Vec<(String, String)> {
        let header = format!("  {name}:");
        let mut lines = template.lines().skip_while(|l| *l != header).skip(1);
        let mut fields = Vec::new();
        while let Some(line) = lines.next().filter(|l| l.starts_with("    ")) {
            if let Some((key, value)) = line.trim().split_once(": ") {
                fields.push((key.to_owned(), value.trim_matches('"').to_owned()));
            }
        }
        assert!(!fields.is_empty(), "template.yaml has no parameter {name}");
        fields
    }

    #[test]
    fn catalogue_lists_each_setting_with_its_bounds() {
        let catalogue = catalogue();
        let entries = catalogue.as_array().expect("a list");
        let names: Vec<&str> = entries.iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(names, ALL.iter().map(|s| s.name).collect::<Vec<_>>());
        let min_wait = &entries[2];
        assert_eq!(min_wait["name"], "MIN_WAIT_SECONDS");
        assert_eq!(
            (&min_wait["default"], &min_wait["min"], &min_wait["max"]),
            (&5.into(), &1.into(), &86_400.into())
        );
        assert_eq!(
            entries[0]["default"],
            serde_json::Value::Null,
            "SNS_TOPIC_ARN: required"
        );
    }

    #[test]
    fn template_parameters_match_the_settings_they_set() {
        let template = read("template.yaml");
        let variables: Vec<(&str, &str)> = template
            .lines()
            .skip_while(|l| l.trim() != "Variables:")
            .skip(1)
            .take_while(|l| l.starts_with("          "))
            .filter_map(|l| l.trim().split_once(": !Ref "))
            .collect();
        assert!(variables.len() >= 5, "{variables:?}");
        let mut checked = 0;
        for (name, parameter_name) in variables {
            let setting = setting(name).unwrap_or_else(|| panic!("{name} is not a setting"));
            if parameter_name.starts_with("AWS::")
                || ["FailureTopic", "NoticeLedger"].contains(&parameter_name)
                // The template puts events on the account's default bus unless told otherwise;
                // the function, unset or blank, puts none (how the parameter's "" turns it off).
                || (name, parameter_name) == ("EVENT_BUS_NAME", "EventBusName")
            {
                continue;
            }
            let fields = parameter(&template, parameter_name);
            let field = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or_else(|| panic!("{parameter_name} has no {key}"))
            };
            match setting.kind {
                Kind::Number { default, min, max } => {
                    assert_eq!(field("Default"), default.to_string(), "{parameter_name}");
                    assert_eq!(field("MinValue"), min.to_string(), "{parameter_name}");
                    assert_eq!(field("MaxValue"), max.to_string(), "{parameter_name}");
                }
                Kind::Flag { default } => {
                    assert_eq!(field("Default"), default.to_string(), "{parameter_name}");
                }
                Kind::Text { default } => {
                    assert_eq!(Some(field("Default")), default, "{parameter_name}");
                }
                Kind::List => {}
            }
            checked += 1;
        }
        assert!(checked >= 7, "only {checked} parameters checked");
    }

    /// The `AWS_*` variables the source reads itself, outside tests.
    fn aws_variables_read() -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for call in ["get(\"", "var(\"", "var_os(\""] {
                for piece in code.split(call).skip(1) {
                    let name: String = piece.chars().take_while(|c| *c != '"').collect();
                    if name.starts_with("AWS_") && !found.contains(&name) {
                        found.push(name);
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_configuration_doc_lists_every_aws_variable_the_function_reads_itself() {
        let table = read("docs/configuration.md");
        let read = aws_variables_read();
        assert!(read.len() >= 5, "{read:?}");
        for name in read {
            assert!(
                table.contains(&format!("| `{name}`"))
                    || table.contains(&format!("/ `{name}`"))
                    || table.contains(&format!("(else `{name}`)")),
                "docs/configuration.md does not list {name}, which src/ reads"
            );
        }
    }

    #[test]
    fn the_configuration_doc_lists_every_setting_with_its_default() {
        let readme = read("docs/configuration.md");
        let table = readme
            .split("\n## Configuration\n")
            .nth(1)
            .expect("docs/configuration.md has a Configuration section");
        let mut listed = Vec::new();
        for row in table.lines().take_while(|l| !l.starts_with("## ")) {
            let cells: Vec<&str> = row.split(" | ").collect();
            if !row.starts_with("| `") || cells.len() < 4 {
                continue;
            }
            let names = cells[0].trim_start_matches("| ").split(" / ");
            let defaults: Vec<&str> = cells[1].split(" / ").collect();
            for (index, name) in names.enumerate() {
                let name = name.trim().trim_matches('`');
                let Some(setting) = setting(name) else {
                    // The runtime's and the SDK's own variables, documented beside ours.
                    assert!(
                        name.starts_with("AWS_"),
                        "docs/configuration.md lists {name}, no setting"
                    );
                    continue;
                };
                let default = defaults.get(index).copied().unwrap_or(cells[1]);
                let expected = match setting.kind {
                    Kind::Number { default, .. } => Some(default.to_string()),
                    Kind::Flag { default } => Some(default.to_string()),
                    Kind::Text { default } => default.map(str::to_owned),
                    Kind::List => None,
                };
                if let Some(expected) = expected {
                    assert!(
                        default.contains(&format!("`{expected}`"))
                            || default.contains(&format!("({expected})")),
                        "docs/configuration.md gives {name} the default {default:?}, the table {expected}"
                    );
                }
                listed.push(name);
            }
        }
        for setting in ALL {
            assert!(
                listed.contains(&setting.name),
                "docs/configuration.md does not list {}",
                setting.name
            );
        }
    }
}
