//! Output shapes of the three operations, built from a job as the service model spells them.

use serde_json::{json, Map, Value};

use crate::jobs::{Job, JobStatus};
use crate::wire::RequestId;

pub const DEFAULT_BUCKET: &str = "emulator-snapshots";
const DEFAULT_PREFIX: &str = "snapshots";

pub fn start_body(arn: &str, job_id: &str, request_id: &RequestId) -> Value {
    json!({
        "Arn": arn,
        "SnapshotJobId": job_id,
        "RequestId": request_id.as_str(),
        "Status": 202,
    })
}

/// DescribeDashboardSnapshotJob. `Status` is a body member here (a model quirk), unlike the other two.
pub fn describe_body(job: &Job, request_id: &RequestId) -> Value {
    let mut body = Map::new();
    body.insert("Arn".into(), json!(job.arn));
    body.insert("AwsAccountId".into(), json!(job.key.account));
    body.insert("CreatedTime".into(), json!(job.created_time));
    body.insert("DashboardId".into(), json!(job.key.dashboard));
    body.insert("JobStatus".into(), json!(job.status().as_str()));
    body.insert("LastUpdatedTime".into(), json!(job.last_updated()));
    body.insert("RequestId".into(), json!(request_id.as_str()));
    body.insert(
        "SnapshotConfiguration".into(),
        job.snapshot_configuration.clone(),
    );
    body.insert("SnapshotJobId".into(), json!(job.key.job_id));
    body.insert("Status".into(), json!(200));
    if let Some(users) = redacted_user_configuration(job.user_configuration.as_ref()) {
        body.insert("UserConfiguration".into(), users);
    }
    Value::Object(body)
}

/// DescribeDashboardSnapshotJobResult, whatever the job's state; the caller decides whether a
/// non-terminal job may be answered at all.
pub fn result_body(job: &Job, region: &str, request_id: &RequestId) -> Value {
    let mut body = Map::new();
    body.insert("Arn".into(), json!(job.arn));
    body.insert("CreatedTime".into(), json!(job.created_time));
    body.insert("JobStatus".into(), json!(job.status().as_str()));
    body.insert("LastUpdatedTime".into(), json!(job.last_updated()));
    body.insert("RequestId".into(), json!(request_id.as_str()));
    body.insert("Status".into(), json!(200));
    match job.status() {
        JobStatus::Completed => {
            let result = job
                .result
                .clone()
                .unwrap_or_else(|| generated_result(job, region));
            body.insert("Result".into(), result);
            // "The request succeeds but the response contains an error code" (the Result
            // operation's documentation): CAPABILITY_RESTRICTED, RLS_CHANGED, CLS_CHANGED,
            // DATASET_DELETED. A scripted COMPLETED job with errorInfo answers so.
            if let Some(error_info) = &job.error_info {
                body.insert("ErrorInfo".into(), error_info.clone());
            }
        }
        JobStatus::Failed => {
            let error_info = job.error_info.clone().unwrap_or_else(default_error_info);
            body.insert("ErrorInfo".into(), error_info);
            if let Some(result) = &job.result {
                body.insert("Result".into(), result.clone());
            }
        }
        JobStatus::Queued | JobStatus::Running => {}
    }
    Value::Object(body)
}

pub fn default_error_info() -> Value {
    json!({
        "ErrorType": "INTERNAL_FAILURE",
        "ErrorMessage": "The snapshot job failed (emulated failure).",
    })
}

/// The configuration of jobs made through the control API: one PDF of one sheet.
pub fn default_snapshot_configuration() -> Value {
    json!({
        "FileGroups": [{
            "Files": [{
                "FormatType": "PDF",
                "SheetSelections": [{ "SheetId": "sheet-1", "SelectionScope": "ALL_VISUALS" }],
            }],
        }],
    })
}

pub fn default_user_configuration() -> Value {
    json!({ "AnonymousUsers": [{}] })
}

/// Describe never echoes session tag values, only their keys.
fn redacted_user_configuration(users: Option<&Value>) -> Option<Value> {
    let anonymous = users?.get("AnonymousUsers")?.as_array()?;
    let redacted: Vec<Value> = anonymous
        .iter()
        .map(|user| {
            let keys: Vec<Value> = user
                .get("RowLevelPermissionTags")
                .and_then(Value::as_array)
                .map(|tags| {
                    tags.iter()
                        .filter_map(|tag| tag.get("Key").cloned())
                        .collect()
                })
                .unwrap_or_default();
            if keys.is_empty() {
                json!({})
            } else {
                json!({ "RowLevelPermissionTagKeys": keys })
            }
        })
        .collect();
    Some(json!({ "AnonymousUsers": redacted }))
}

/// One S3 result per requested file group, under the requested (or default) bucket. Jobs started
/// without anonymous users ran for the calling registered user, so their files are listed there.
fn generated_result(job: &Job, region: &str) -> Value {
    let bucket_configuration = job
        .snapshot_configuration
        .pointer("/DestinationConfiguration/S3Destinations/0/BucketConfiguration")
        .filter(|configuration| configuration.is_object())
        .cloned()
        .unwrap_or_else(|| {
            json!({
                "BucketName": DEFAULT_BUCKET,
                "BucketPrefix": DEFAULT_PREFIX,
                "BucketRegion": region,
            })
        });
    let bucket = bucket_configuration
        .get("BucketName")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_BUCKET);
    let prefix = bucket_configuration
        .get("BucketPrefix")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_matches('/');
    let folder = if prefix.is_empty() {
        format!("s3://{bucket}/{}", job.key.job_id)
    } else {
        format!("s3://{bucket}/{prefix}/{}", job.key.job_id)
    };

    let requested = job
        .snapshot_configuration
        .get("FileGroups")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let file_groups: Vec<Value> = requested
        .iter()
        .zip(1..)
        .map(|(group, number)| {
            let files = group.get("Files").cloned().unwrap_or_else(|| json!([]));
            let format = files.pointer("/0/FormatType").and_then(Value::as_str);
            json!({
                "Files": files,
                "S3Results": [{
                    "S3Uri": format!("{folder}/{number}.{}", extension(format)),
                    "S3DestinationConfiguration": { "BucketConfiguration": bucket_configuration },
                }],
            })
        })
        .collect();

    let anonymous_users = job
        .user_configuration
        .as_ref()
        .and_then(|users| users.get("AnonymousUsers"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if anonymous_users == 0 {
        json!({ "RegisteredUsers": [{ "FileGroups": file_groups }] })
    } else {
        let per_user = vec![json!({ "FileGroups": file_groups }); anonymous_users];
        json!({ "AnonymousUsers": per_user })
    }
}

fn extension(format: Option<&str>) -> &'static str {
    match format {
        Some("CSV") => "csv",
        Some("EXCEL") => "xlsx",
        _ => "pdf",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultList;
    use crate::jobs::{JobKey, NewJob, Outcome, Timeline};

    fn finished_job(outcome: Outcome, configuration: Value, users: Option<Value>) -> Job {
        let spec = NewJob {
            key: JobKey {
                account: "123456789012".into(),
                dashboard: "d1".into(),
                job_id: "j1".into(),
            },
            timeline: Timeline {
                queued_polls: 0,
                running_polls: 0,
                outcome,
                run_seconds: None,
            },
            age_seconds: 0.0,
            snapshot_configuration: configuration,
            user_configuration: users,
            error_info: None,
            result: None,
            faults: FaultList::default(),
        };
        Job::new(spec, "us-east-1", 1_764_330_000.123)
    }

    #[test]
    fn a_completed_job_lists_one_s3_uri_per_file_group_in_the_requested_bucket() {
        let configuration = json!({
            "FileGroups": [
                { "Files": [{ "FormatType": "PDF", "SheetSelections": [] }] },
                { "Files": [{ "FormatType": "CSV", "SheetSelections": [] }] },
                { "Files": [{ "FormatType": "EXCEL", "SheetSelections": [] }] },
            ],
            "DestinationConfiguration": { "S3Destinations": [{ "BucketConfiguration": {
                "BucketName": "reports", "BucketPrefix": "daily/", "BucketRegion": "eu-west-1",
            }}]},
        });
        let job = finished_job(
            Outcome::Completed,
            configuration,
            Some(default_user_configuration()),
        );
        let body = result_body(&job, "us-east-1", &RequestId::fresh());

        let groups = &body["Result"]["AnonymousUsers"][0]["FileGroups"];
        let uris: Vec<&str> = (0..3)
            .filter_map(|n| groups[n]["S3Results"][0]["S3Uri"].as_str())
            .collect();
        assert_eq!(
            uris,
            [
                "s3://reports/daily/j1/1.pdf",
                "s3://reports/daily/j1/2.csv",
                "s3://reports/daily/j1/3.xlsx"
            ]
        );
        assert_eq!(
            groups[0]["S3Results"][0]["S3DestinationConfiguration"]["BucketConfiguration"]
                ["BucketRegion"],
            "eu-west-1"
        );
        assert_eq!(groups[1]["Files"][0]["FormatType"], "CSV");
        assert_eq!(body["JobStatus"], "COMPLETED");
        assert!(body.get("ErrorInfo").is_none());
    }

    #[test]
    fn registered_users_files_go_to_the_default_bucket() {
        let job = finished_job(Outcome::Completed, default_snapshot_configuration(), None);
        let body = result_body(&job, "ap-south-1", &RequestId::fresh());

        let result = &body["Result"];
        assert!(result.get("AnonymousUsers").is_none());
        let s3 = &result["RegisteredUsers"][0]["FileGroups"][0]["S3Results"][0];
        assert_eq!(s3["S3Uri"], "s3://emulator-snapshots/snapshots/j1/1.pdf");
        assert_eq!(
            s3["S3DestinationConfiguration"]["BucketConfiguration"]["BucketRegion"],
            "ap-south-1"
        );
    }

    #[test]
    fn a_failed_job_reports_its_error_info_and_no_files() {
        let job = finished_job(Outcome::Failed, default_snapshot_configuration(), None);
        let body = result_body(&job, "us-east-1", &RequestId::fresh());
        assert_eq!(body["JobStatus"], "FAILED");
        assert_eq!(body["ErrorInfo"], default_error_info());
        assert!(body.get("Result").is_none());
    }

    #[test]
    fn a_completed_job_with_error_info_answers_both_as_the_service_documents() {
        let mut job = finished_job(Outcome::Completed, default_snapshot_configuration(), None);
        let info = json!({"ErrorType": "RLS_CHANGED", "ErrorMessage": "re-run the job"});
        job.error_info = Some(info.clone());
        let body = result_body(&job, "us-east-1", &RequestId::fresh());
        assert_eq!(body["JobStatus"], "COMPLETED");
        assert_eq!(body["ErrorInfo"], info);
        assert!(body["Result"].is_object());
    }

    #[test]
    fn describe_redacts_session_tag_values_down_to_their_keys() {
        let users = json!({ "AnonymousUsers": [{ "RowLevelPermissionTags": [
            { "Key": "region", "Value": "EMEA" },
            { "Key": "team", "Value": "sales" },
        ]}]});
        let job = finished_job(
            Outcome::Completed,
            default_snapshot_configuration(),
            Some(users),
        );
        let body = describe_body(&job, &RequestId::fresh());

        assert_eq!(
            body["UserConfiguration"],
            json!({ "AnonymousUsers": [{ "RowLevelPermissionTagKeys": ["region", "team"] }] })
        );
        assert!(!body.to_string().contains("EMEA"));
        assert_eq!(body["Status"], 200);
        assert_eq!(body["CreatedTime"], json!(1_764_330_000.123));
    }
}
