"""A poll chain on EventBridge Scheduler, end to end: the real function (through the Lambda
front), the QuickSight emulator, and moto's Scheduler, which stores schedules but never fires
them. The test fires each one as Scheduler would: invoke the target with its input, delete it."""

from __future__ import annotations

import json

from harness.stack import FUNCTION_ARN, SCHEDULE_GROUP, SCHEDULE_ROLE_ARN

FAILED_INFO = {"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "access lost"}


def reference(job_id: str) -> dict:
    return {"AwsAccountId": "123456789012", "DashboardId": "dash-1", "SnapshotJobId": job_id,
            "loop": "scheduler"}


def run_chain(stack, first: dict, max_ticks: int = 10) -> list[dict]:
    """Invokes `first`, then fires the one schedule each tick leaves until none is left;
    answers every tick's payload."""
    outputs = [stack.invoke(first)]
    while len(outputs) <= max_ticks:
        schedules = stack.schedules()
        if not schedules:
            return outputs
        [schedule] = schedules  # never more than one next poll
        assert schedule["Name"] == outputs[-1]["nextPoll"]["scheduleName"]
        outputs.append(stack.fire(schedule))
    raise AssertionError(f"the chain did not end in {max_ticks} ticks: {outputs[-1]}")


def test_a_chain_polls_a_job_to_completion_and_leaves_no_schedule(stack):
    stack.add_job("chain-ok", queuedPolls=1, runningPolls=2, outcome="COMPLETED")

    outputs = run_chain(stack, reference("chain-ok"))

    assert [o["status"] for o in outputs] == ["IN_PROGRESS"] * 3 + ["SUCCEEDED"]
    assert [o["attempt"] for o in outputs] == [1, 2, 3, 4]
    assert all(o["loop"] == "scheduler" for o in outputs)
    assert outputs[-1]["nextPoll"] is None and stack.schedules() == []
    assert stack.sns_messages() == [], "a success is not notified by default"


def test_a_failed_job_ends_the_chain_with_one_notice(stack):
    stack.add_job("chain-failed", queuedPolls=0, runningPolls=1, outcome="FAILED",
                  errorInfo=FAILED_INFO)

    outputs = run_chain(stack, reference("chain-failed"))

    assert [o["status"] for o in outputs] == ["IN_PROGRESS", "FAILED"]
    [notice] = stack.sns_messages()
    assert notice["attributes"]["errorType"] == "DASHBOARD_ACCESS_DENIED"
    assert notice["message"]["loop"] == "scheduler"
    assert stack.schedules() == []


def test_each_schedule_is_one_time_utc_and_invokes_the_function_as_its_role(stack):
    stack.add_job("chain-shape", queuedPolls=0, runningPolls=3, outcome="COMPLETED")

    first = stack.invoke(reference("chain-shape"))

    [schedule] = stack.schedules()
    assert schedule["GroupName"] == SCHEDULE_GROUP
    assert schedule["ScheduleExpression"] == f"at({first['nextPoll']['at'].removesuffix('Z')})"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1}
    assert schedule["Target"]["RoleArn"] == SCHEDULE_ROLE_ARN
    assert schedule["Target"]["Arn"] == FUNCTION_ARN, "the invoked function's own ARN"
    carried = json.loads(schedule["Target"]["Input"])
    assert carried == {**first, "nextPoll": None}, "the next tick gets this poll's output"


def test_a_tick_delivered_twice_makes_one_next_schedule(stack):
    stack.add_job("chain-twice", queuedPolls=0, runningPolls=5, outcome="COMPLETED")
    stack.invoke(reference("chain-twice"))
    [schedule] = stack.schedules()
    stack.client("scheduler").delete_schedule(GroupName=SCHEDULE_GROUP, Name=schedule["Name"])

    # Scheduler is at-least-once: the same input arrives twice.
    first = stack.invoke(schedule["Target"]["Input"])
    second = stack.invoke(schedule["Target"]["Input"])

    assert first["attempt"] == second["attempt"] == 2
    assert first["nextPoll"]["scheduleName"] == second["nextPoll"]["scheduleName"]
    assert [s["Name"] for s in stack.schedules()] == [first["nextPoll"]["scheduleName"]]


def test_a_schedule_that_cannot_be_created_fails_the_tick_to_be_retried(stack):
    stack.add_job("chain-down", queuedPolls=0, runningPolls=3, outcome="COMPLETED")
    stack.restart_function({"AWS_ENDPOINT_URL_SCHEDULER": "http://127.0.0.1:9"})
    try:
        answer = stack.invoke(reference("chain-down"))
    finally:
        stack.restart_function()

    assert answer["errorType"] == "SchedulingFailed", answer
    assert "could not schedule the next poll" in answer["errorMessage"]
    assert stack.schedules() == []
