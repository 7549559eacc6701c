#!/usr/bin/env python3
"""A scripted stand-in for the poller binary (stdlib only), speaking the Lambda Runtime API to
`cargo lambda watch --only-lambda-apis`, so the harness can be proven without the Rust build.
`starter(script)` gives Stack.start() the `function` that runs it; the process itself is
`python harness/fake_function.py` with AWS_LAMBDA_RUNTIME_API and FAKE_SCRIPT set.

FAKE_SCRIPT names a JSON file {snapshotJobId: [step, ...]}, re-read on every invocation. The
n-th invocation for a job plays step n (the last step repeats). A step is either
  {"errorType": "QuickSightThrottled", "errorMessage": "..."}   -> a handler error, or
  {"status": "IN_PROGRESS", "waitSeconds": 1, ...}              -> an output (merged into a
                                                                   contract-shaped answer).
An unknown job answers errorType InvalidJobReference, as the poller does for bad input.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections import Counter
from pathlib import Path

calls: Counter = Counter()


def starter(script: Path):
    """Stack.start()'s `function`: runs this file against the stack's Runtime API, playing
    `script`."""

    def start_fake(stack, env: dict[str, str]):
        proc_env = dict(env)
        proc_env.update({"AWS_LAMBDA_RUNTIME_API": stack.runtime_api, "FAKE_SCRIPT": str(script),
                         "PATH": "/usr/bin:/bin"})
        return stack.spawn("fake-function", [sys.executable, __file__], env=proc_env)

    return start_fake


def runtime_api() -> str:
    api = os.environ["AWS_LAMBDA_RUNTIME_API"].rstrip("/")
    return api if api.startswith("http") else "http://" + api


class HandlerError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def handle(event: dict) -> dict:
    job = event.get("job") if isinstance(event.get("job"), dict) else {}
    job_id = event.get("SnapshotJobId") or job.get("snapshotJobId")
    with open(os.environ["FAKE_SCRIPT"]) as fh:
        steps = json.load(fh).get(job_id or "")
    if not steps:
        raise HandlerError("InvalidJobReference", f"no scripted job {job_id!r} in {event!r}")
    n = calls[job_id]
    calls[job_id] += 1
    step = steps[min(n, len(steps) - 1)]
    if "errorType" in step:
        raise HandlerError(step["errorType"], step.get("errorMessage", "scripted error"))
    account = event.get("AwsAccountId") or job.get("awsAccountId") or "123456789012"
    dashboard = event.get("DashboardId") or job.get("dashboardId") or "d"
    out = {
        "status": "IN_PROGRESS", "done": False, "jobStatus": "RUNNING",
        "job": {"arn": f"arn:aws:quicksight:us-east-1:{account}:dashboard/{dashboard}"
                       f"/snapshot-job/{job_id}",
                "partition": "aws", "region": "us-east-1", "awsAccountId": account,
                "dashboardId": dashboard, "snapshotJobId": job_id},
        "attempt": n + 1, "waitSeconds": 1, "createdTime": None, "lastUpdatedTime": None,
        "requestId": f"fake-{n + 1}", "results": [], "error": None, "notification": None,
    }
    out.update(step)
    return out


def post(path: str, body: dict, headers: dict | None = None):
    req = urllib.request.Request(runtime_api() + path, data=json.dumps(body).encode(),
                                 method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def main():
    while True:
        with urllib.request.urlopen(runtime_api() + "/2018-06-01/runtime/invocation/next") as resp:
            request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(resp.read() or b"null")
        try:
            result = handle(event if isinstance(event, dict) else {})
        except HandlerError as err:
            body = {"errorType": err.error_type, "errorMessage": str(err)}
            sys.stderr.write(f"fake_function: {request_id} error {body}\n")
            post(f"/2018-06-01/runtime/invocation/{request_id}/error", body,
                 {"Lambda-Runtime-Function-Error-Type": err.error_type})
            continue
        sys.stderr.write(f"fake_function: {request_id} -> {result['status']}\n")
        post(f"/2018-06-01/runtime/invocation/{request_id}/response", result)


if __name__ == "__main__":
    main()
