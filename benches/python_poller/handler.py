"""The comparison for benches/run.sh: the QuickSight snapshot poller most users write, in Python
with boto3, making the same calls as the Rust poller (describe, and the result once terminal)."""

import os

import boto3

QUICKSIGHT = boto3.client("quicksight", region_name=os.environ.get("AWS_REGION", "us-east-1"))


def handler(event, _context):
    ref = dict(
        AwsAccountId=event["AwsAccountId"],
        DashboardId=event["DashboardId"],
        SnapshotJobId=event["SnapshotJobId"],
    )
    job = QUICKSIGHT.describe_dashboard_snapshot_job(**ref)
    status = job["JobStatus"]
    out = {"status": "IN_PROGRESS", "jobStatus": status, "results": []}
    if status in ("COMPLETED", "FAILED"):
        result = QUICKSIGHT.describe_dashboard_snapshot_job_result(**ref)
        out["status"] = "SUCCEEDED" if status == "COMPLETED" else "FAILED"
        for kind in ("AnonymousUsers", "RegisteredUsers"):
            for user in result.get("Result", {}).get(kind, []):
                for group in user.get("FileGroups", []):
                    for s3 in group.get("S3Results", []):
                        out["results"].append(s3.get("S3Uri"))
        out["error"] = result.get("ErrorInfo")
    return out
