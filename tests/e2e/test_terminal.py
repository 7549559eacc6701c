"""The binary at a terminal (run-once mode, no Lambda runtime): what a person typing the command
gets. The real binary, against the QuickSight emulator over HTTP; SNS is never reachable here, so
a test that expects no notice also proves none was attempted."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from harness.env import ACCOUNT, EMULATOR_BIN, POLLER_BIN, REGION, base_env
from harness.services import http_json
from harness.stack import start_emulator

from conftest import require_binaries

JOB_ARN = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dashboard/dash-cli/snapshot-job/{{job}}"


@pytest.fixture(scope="module")
def emulator(log_dir):
    require_binaries(POLLER_BIN, EMULATOR_BIN)
    service, url = start_emulator(log_dir)
    yield url
    service.stop()


def add_job(emulator: str, job_id: str, **spec):
    http_json("POST", emulator + "/_emulator/jobs", {
        "awsAccountId": ACCOUNT, "dashboardId": "dash-cli", "snapshotJobId": job_id, **spec})


def run(emulator: str | None, *args: str, stdin: str = "", drop: tuple[str, ...] = (),
        **env_overrides: str) -> subprocess.CompletedProcess:
    env = base_env()
    env.update({
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:9",  # nothing listens: a publish would fail
        "SDK_MAX_ATTEMPTS": "1",
        **env_overrides,
    })
    if emulator:
        env["AWS_ENDPOINT_URL_QUICKSIGHT"] = emulator
    for name in drop:
        env.pop(name, None)
    return subprocess.run([str(POLLER_BIN), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60)


def calls(emulator: str) -> int:
    return http_json("GET", emulator + "/_emulator/calls")["total"]


def test_help_prints_usage_and_exits_zero_without_any_configuration():
    require_binaries(POLLER_BIN)
    done = run(None, "--help", drop=("AWS_REGION", "AWS_DEFAULT_REGION"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Polls one Amazon QuickSight dashboard snapshot job")
    for word in ("--no-notify", "JOB_ARN", "EVENT_FILE", "--version", "Exit status"):
        assert word in done.stdout, word


def test_version_prints_the_package_version():
    require_binaries(POLLER_BIN)
    done = run(None, "-V")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("quicksight-snapshot-poller 0."), done.stdout


def test_an_unknown_option_is_a_usage_error_with_exit_code_two():
    require_binaries(POLLER_BIN)
    done = run(None, "--notfy")
    assert done.returncode == 2
    assert "--notfy" in done.stderr and "--help" in done.stderr, done.stderr
    assert done.stdout == ""


def test_no_notify_polls_a_failed_job_named_by_its_arn_without_a_topic(emulator):
    add_job(emulator, "cli-failed", queuedPolls=0, runningPolls=0, outcome="FAILED",
            errorInfo={"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "lost access"})
    before = calls(emulator)
    done = run(emulator, "--no-notify", JOB_ARN.format(job="cli-failed"),
               drop=("SNS_TOPIC_ARN",))
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["status"] == "FAILED" and output["error"]["type"] == "DASHBOARD_ACCESS_DENIED"
    assert output["job"]["snapshotJobId"] == "cli-failed"
    assert output["notification"] is None
    assert "notices are off" in done.stderr, done.stderr
    assert calls(emulator) - before == 2  # describe + result, nothing else


def test_without_no_notify_a_topic_is_required_before_any_call(emulator):
    before = calls(emulator)
    done = run(emulator, JOB_ARN.format(job="cli-failed"), drop=("SNS_TOPIC_ARN",))
    assert done.returncode == 2
    assert done.stderr.startswith("InvalidConfiguration: ") and "--no-notify" in done.stderr
    assert calls(emulator) == before


def test_rejected_credentials_are_named_as_such_and_never_a_failed_job(emulator):
    add_job(emulator, "cli-expired", queuedPolls=0, runningPolls=3,
            faults=[{"operation": "describe", "error": "ExpiredTokenException"}])
    done = run(emulator, "--no-notify", JOB_ARN.format(job="cli-expired"))
    assert done.returncode == 1
    answer = json.loads(done.stdout)
    assert answer["errorType"] == "CredentialsError", answer
    assert answer["errorMessage"].startswith("AWS credentials rejected"), answer
    assert "ExpiredTokenException" in answer["errorMessage"]


def test_missing_credentials_say_how_to_provide_them(emulator, tmp_path):
    done = run(emulator, "--no-notify", JOB_ARN.format(job="cli-any"),
               drop=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
               HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    assert done.returncode == 1, done.stderr
    answer = json.loads(done.stdout)
    assert answer["errorType"] == "CredentialsError", answer
    assert answer["errorMessage"].startswith("AWS credentials missing"), answer
    assert "AWS_PROFILE" in answer["errorMessage"]
    assert "dispatch failure" not in answer["errorMessage"]


def test_a_batch_writes_one_metrics_line_whose_latency_leaves_out_the_pacing(emulator):
    jobs = [f"cli-batch-{i}" for i in range(4)]
    for job in jobs:
        add_job(emulator, job, queuedPolls=0, runningPolls=5)
    event = {"jobs": [{"AwsAccountId": ACCOUNT, "DashboardId": "dash-cli", "SnapshotJobId": job}
                      for job in jobs]}
    started = time.monotonic()
    done = run(emulator, "--no-notify", stdin=json.dumps(event), BATCH_RATE_PER_SECOND="2")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["IN_PROGRESS"] == 4
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith('{"_aws"')]
    assert len(lines) == 1, done.stderr  # one line per invocation, not per job
    [metrics] = lines
    assert metrics["Polls"] == 4 and metrics["Outcome"] == "IN_PROGRESS"
    latencies = metrics["QuickSightLatency"]
    assert len(latencies) == 4
    # Four describes at 2 calls/s take 1.5 s of pacing; the calls themselves take milliseconds.
    assert elapsed >= 1.4, elapsed
    assert max(latencies) < 400, latencies
