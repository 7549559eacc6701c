"""Every file in events/ through the real CLI: `cargo lambda invoke --data-file FILE` against the
harness's `cargo lambda watch` (its --invoke-port is Stack.runtime_port; the poller binary serves
that function through the front's Runtime API). Valid events answer with a status for the sample
job, which the QuickSight emulator holds (with every other job a batch event names);
events/invalid/* fail with InvalidJobReference."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from harness.env import ROOT, VENV_BIN, base_env
from harness.stack import FUNCTION_NAME

EVENTS = ROOT / "events"
INVALID_DIR = EVENTS / "invalid"
VALID = sorted(p for p in EVENTS.rglob("*.json") if INVALID_DIR not in p.parents)
INVALID = sorted(INVALID_DIR.rglob("*.json"))
SAMPLE = {"awsAccountId": "123456789012", "dashboardId": "sales-dashboard",
          "snapshotJobId": "daily-export-2026-11-28"}
STATUSES = {"IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT"}
CLI_ERROR = re.compile(r"^Error: (?P<error_type>\w+)\s*$", re.M)  # how the CLI reports errorType


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(EVENTS)) for p in paths]


def cargo_lambda_invoke(stack, event: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "cargo-lambda"), "lambda", "invoke",
         "--invoke-address", "127.0.0.1", "--invoke-port", str(stack.runtime_port),
         "--data-file", str(event), "--output-format", "json", FUNCTION_NAME],
        env=base_env(), cwd=ROOT, capture_output=True, text=True, timeout=60)


def referenced_jobs(event) -> list[dict]:
    """{awsAccountId, dashboardId, snapshotJobId} of every job reference in an event (any input
    shape of README's table, a batch's "jobs", an EventBridge "detail")."""
    if isinstance(event, list):
        return [job for item in event for job in referenced_jobs(item)]
    if not isinstance(event, dict):
        return []
    found = []
    if isinstance(event.get("job"), dict):  # the poller's previous output
        found.append({k: event["job"][k] for k in SAMPLE})
    elif isinstance(event.get("Arn"), str) and "/snapshot-job/" in event["Arn"]:
        arn = event["Arn"].split(":")
        _, dashboard, _, job_id = arn[5].split("/")
        found.append({"awsAccountId": arn[4], "dashboardId": dashboard, "snapshotJobId": job_id})
    else:
        ids_ = {k: event.get(k) or event.get(k[0].upper() + k[1:]) for k in SAMPLE}
        if all(isinstance(v, str) for v in ids_.values()):
            found.append(ids_)
    for key in ("jobs", "detail"):
        found += referenced_jobs(event.get(key))
    return found


@pytest.fixture
def sample_job(stack, request):
    """The sample job of events/ and any other job the event names, running for good (every
    poll answers IN_PROGRESS)."""
    path = request.getfixturevalue("event")
    named = [] if path in INVALID else referenced_jobs(json.loads(path.read_text()))
    jobs = {tuple(j.values()): j for j in [SAMPLE] + named}
    for job in jobs.values():
        stack.emulator("POST", "jobs", {**job, "queuedPolls": 0, "runningPolls": 1000})
    return stack


def test_events_has_valid_and_invalid_samples():
    assert len(VALID) >= 6 and len(INVALID) >= 6, (ids(VALID), ids(INVALID))


@pytest.mark.parametrize("event", VALID, ids=ids(VALID))
def test_a_valid_event_answers_with_a_status_for_the_sample_job(sample_job, event):
    run = cargo_lambda_invoke(sample_job, event)

    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)
    assert output["status"] in STATUSES
    jobs = output["jobs"] if "jobs" in output else [output]  # a batch answers per job
    assert SAMPLE in [{k: o["job"][k] for k in SAMPLE} for o in jobs], output
    assert [{k: o["job"][k] for k in SAMPLE} for o in jobs] == referenced_jobs(
        json.loads(event.read_text()))
    assert {(o["status"], o["jobStatus"]) for o in jobs} == {("IN_PROGRESS", "RUNNING")}
    sample = next(o for o in jobs if o["job"]["snapshotJobId"] == SAMPLE["snapshotJobId"])
    assert sample["job"]["arn"].endswith(
        ":dashboard/sales-dashboard/snapshot-job/daily-export-2026-11-28")
    if event.name == "previous-output.json":  # attempt counts on from the previous output
        assert sample["attempt"] == json.loads(event.read_text())["attempt"] + 1
    [job] = [j for j in sample_job.emulator("GET", "calls")["jobs"]
             if j["snapshotJobId"] == SAMPLE["snapshotJobId"]]
    assert job["describe"] == 1 and job["result"] == 0
    assert sample_job.sns_messages() == []


@pytest.mark.parametrize("event", INVALID, ids=ids(INVALID))
def test_an_invalid_event_fails_with_invalid_job_reference_before_any_call(sample_job, event):
    run = cargo_lambda_invoke(sample_job, event)

    assert run.returncode != 0, run.stdout
    match = CLI_ERROR.search(run.stderr)
    assert match and match.group("error_type") == "InvalidJobReference", run.stderr
    assert sample_job.emulator("GET", "calls")["total"] == 0
    assert sample_job.sns_messages() == []
