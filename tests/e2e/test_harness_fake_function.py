"""The whole chain without the Rust build: moto's Step Functions executor -> the Lambda front ->
`cargo lambda watch --only-lambda-apis` -> harness/fake_function.py. Proves that Retry and
Catch match the function's own errorType, that the Choice/Wait loop, ErrorPath/CausePath and
the sns:publish failure path work in moto, and that the harness starts and stops cleanly."""

from __future__ import annotations

import json

import pytest

from harness import fake_function
from harness.definition import (
    FAILURE_NOTICE_STATES,
    JOB_FAILED_STATES,
    JOB_SUCCEEDED_STATES,
    job_reference,
)


@pytest.fixture(scope="module")
def fake(make_stack, log_dir):
    script = log_dir / "fake-script.json"
    script.write_text("{}")
    stack = make_stack(function=fake_function.starter(script), with_emulator=False)

    def run(name: str, steps: list[dict], timeout: float = 60):
        stack.reset()
        script.write_text(json.dumps({name: steps}))
        return stack.start_execution(name, job_reference(name), timeout=timeout)

    stack.run = run
    return stack


def test_retry_matches_the_functions_error_type_and_the_loop_waits_then_succeeds(fake):
    ex = fake.run("throttled-twice", [
        {"errorType": "QuickSightThrottled", "errorMessage": "Rate exceeded"},
        {"errorType": "QuickSightThrottled", "errorMessage": "Rate exceeded"},
        {"status": "IN_PROGRESS", "waitSeconds": 1},
        {"status": "SUCCEEDED", "done": True, "jobStatus": "COMPLETED", "waitSeconds": 0},
    ])
    assert ex.status == "SUCCEEDED", ex.summary()
    assert [e for e, _ in ex.task_failures()] == ["QuickSightThrottled", "QuickSightThrottled"]
    assert ex.states_entered() == ["Start?", "Poll", "Done?", "Wait", "Poll", *JOB_SUCCEEDED_STATES]
    assert ex.output["status"] == "SUCCEEDED" and ex.output["attempt"] == 4
    invocations = fake.lambda_invocations()
    assert [i["functionError"] for i in invocations] == ["Unhandled", "Unhandled", None, None]
    assert fake.sns_messages() == []
    print(f"\nexecution with 2 retries + 1 wait took {ex.duration:.1f}s; timings {fake.timings}")


def test_non_retryable_error_is_caught_notified_once_and_fails_with_that_error(fake):
    ex = fake.run("bad-ref", [{"errorType": "InvalidJobReference", "errorMessage": "no such job"}])
    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "InvalidJobReference"
    assert len(ex.task_failures()) == 1  # no retry
    assert ex.states_entered() == ["Start?", "Poll", *FAILURE_NOTICE_STATES]
    cause = json.loads(ex.cause)
    assert cause["Error"] == "InvalidJobReference"
    assert json.loads(cause["Cause"])["errorMessage"] == "no such job"
    [msg] = fake.sns_messages()
    assert msg["attributes"] == {"source": "state-machine", "errorType": "InvalidJobReference"}
    assert msg["message"]["error"] == "InvalidJobReference"
    assert "state" not in msg["message"]  # redacted: the execution's state stays in its history
    assert json.loads(msg["message"]["cause"])["errorMessage"] == "no such job"
    assert msg["message"]["execution"].endswith(":bad-ref")


def test_failed_job_fails_the_execution_with_the_jobs_error_without_a_second_notice(fake):
    ex = fake.run("job-failed", [{
        "status": "FAILED", "done": True, "jobStatus": "FAILED", "waitSeconds": 0,
        "error": {"type": "DASHBOARD_ACCESS_DENIED", "message": "lost access"},
        "notification": {"messageId": "m-1", "topicArn": "t"},
    }])
    assert ex.status == "FAILED", ex.summary()
    assert (ex.error, ex.cause) == ("DASHBOARD_ACCESS_DENIED", "lost access")  # ErrorPath/CausePath
    assert ex.states_entered() == ["Start?", "Poll", *JOB_FAILED_STATES]
    assert fake.sns_messages() == []  # the Lambda notifies for FAILED, not the state machine


def test_an_answer_outside_the_contract_is_notified_instead_of_looping(fake):
    ex = fake.run("odd-status", [{"status": "PAUSED"}])
    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "PollerContractViolation"
    assert ex.states_entered() == [
        "Start?", "Poll", "Done?", "ContractViolation", *FAILURE_NOTICE_STATES]
    [msg] = fake.sns_messages()
    assert msg["attributes"]["errorType"] == "PollerContractViolation"


def test_in_progress_without_numeric_wait_seconds_is_a_contract_violation(fake):
    ex = fake.run("no-wait", [{"status": "IN_PROGRESS", "waitSeconds": None}])
    assert ex.error == "PollerContractViolation", ex.summary()
