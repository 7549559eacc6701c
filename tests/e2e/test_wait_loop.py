"""The wait loop end to end: moto's Step Functions runs statemachine/poller.asl.json, which
invokes the real poller binary (through the Lambda front and cargo-lambda's runtime emulator);
the poller asks the QuickSight emulator and publishes to moto's SNS, read back via SQS.

Needs the debug binaries quicksight-snapshot-poller and quicksight-emulator in
$CARGO_TARGET_DIR/debug (skipped without them, failed with E2E_REQUIRE_BINARIES=1).
The poller runs with MIN/MAX_WAIT_SECONDS=1 and SDK_MAX_ATTEMPTS=1 (see conftest)."""

from __future__ import annotations

import pytest

from conftest import ACCOUNT, job_reference


def add_job(stack, job_id: str, **spec) -> str:
    """Scripts a job in the QuickSight emulator; returns its ARN."""
    body = {"awsAccountId": ACCOUNT, "dashboardId": "dash-1", "snapshotJobId": job_id, **spec}
    return stack.emulator("POST", "jobs", body)["arn"]


def test_completes_after_several_polls(stack):
    arn = add_job(stack, "completes", queuedPolls=1, runningPolls=2, outcome="COMPLETED")
    ex = stack.start_execution("completes", job_reference("completes"))

    assert ex.status == "SUCCEEDED", ex.summary()
    outputs = ex.lambda_outputs()
    assert [o["status"] for o in outputs][-1] == "SUCCEEDED"
    assert all(o["status"] == "IN_PROGRESS" for o in outputs[:-1]) and len(outputs) >= 3
    assert [o["attempt"] for o in outputs] == list(range(1, len(outputs) + 1))
    assert all(isinstance(o["waitSeconds"], (int, float)) for o in outputs)
    final = ex.output
    assert final["done"] is True and final["jobStatus"] == "COMPLETED"
    assert final["job"]["arn"] == arn
    assert final["results"] and all(r["s3Uri"] for r in final["results"])
    assert ex.states_entered().count("Wait") == len(outputs) - 1
    assert stack.sns_messages() == []  # NOTIFY_ON_SUCCESS=false


def test_failed_job_notifies_once(stack):
    add_job(stack, "fails", runningPolls=1, outcome="FAILED",
            errorInfo={"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "lost access"})
    ex = stack.start_execution("fails", job_reference("fails"))

    assert ex.status == "FAILED", ex.summary()
    final = ex.lambda_outputs()[-1]
    assert final["status"] == "FAILED"
    assert (ex.error, ex.cause) == (final["error"]["type"], final["error"]["message"])
    assert final["notification"]["messageId"]
    assert "NotifyFailure" not in ex.states_entered()  # the Lambda notified, not the state machine
    [message] = stack.sns_messages()
    assert message["envelope"]["MessageId"] == final["notification"]["messageId"]


def test_throttling_beyond_the_sdk_retries_is_retried_by_the_state_machine(stack):
    add_job(stack, "throttled", runningPolls=0, outcome="COMPLETED",
            faults=[{"operation": "describe", "error": "ThrottlingException", "count": 2}])
    ex = stack.start_execution("throttled", job_reference("throttled"))

    assert ex.status == "SUCCEEDED", ex.summary()
    assert [error for error, _ in ex.task_failures()] == ["QuickSightThrottled"] * 2
    assert stack.sns_messages() == []


def test_invalid_job_reference_is_notified_by_the_state_machine(stack):
    ex = stack.start_execution("bad-reference", {"DashboardId": "dash-1"})

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "InvalidJobReference"
    assert len(ex.task_failures()) == 1  # not retried
    [message] = stack.sns_messages()
    assert message["attributes"]["source"] == "state-machine"
    assert message["message"]["error"] == "InvalidJobReference"


def test_unknown_job_fails_on_the_first_poll_and_notifies_once(stack):
    ex = stack.start_execution("unknown", job_reference("never-started"))

    assert ex.status == "FAILED", ex.summary()
    [output] = ex.lambda_outputs()
    assert output["status"] == "FAILED"
    assert output["error"]["type"] == "ResourceNotFoundException"
    assert len(stack.sns_messages()) == 1


def test_job_past_its_deadline_times_out_and_notifies_once(stack):
    add_job(stack, "stuck", outcome="NEVER", ageSeconds=7200)  # JOB_DEADLINE_SECONDS=3600
    ex = stack.start_execution("stuck", job_reference("stuck"))

    assert ex.status == "FAILED", ex.summary()
    [output] = ex.lambda_outputs()
    assert output["status"] == "TIMED_OUT"
    assert ex.error == output["error"]["type"] == "JobDeadlineExceeded"
    assert len(stack.sns_messages()) == 1


@pytest.mark.skip(reason="TODO(lead): QuickSight 5xx beyond SDK retries -> QuickSightUnavailable, "
                         "retried, then exhausted into NotifyFailure (~2 min with the real backoff)")
def test_quicksight_outage_longer_than_the_retries_is_notified_by_the_state_machine(stack):
    pass
