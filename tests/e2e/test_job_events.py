"""Job events: each finished job puts one "Snapshot Job Finished" event on the bus (moto's
EventBridge, through the front), told once through the notice ledger, valid against
docs/job-event.schema.json, and routed by the rule docs/notifications.md shows to a queue."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from harness.env import ACCOUNT, REGION, ROOT
from harness.stack import EVENT_DETAIL_TYPE, EVENT_SOURCE

SCHEMA = json.loads((ROOT / "docs" / "job-event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
FAILED_INFO = {"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "access lost"}
OUTCOMES = {  # the emulator's scripts of a job that ends in each status at the first poll
    "FAILED": {"queuedPolls": 0, "runningPolls": 0, "outcome": "FAILED",
               "errorInfo": FAILED_INFO},
    "SUCCEEDED": {"queuedPolls": 0, "runningPolls": 0, "outcome": "COMPLETED"},
    "TIMED_OUT": {"outcome": "NEVER", "ageSeconds": 7200},  # JOB_DEADLINE_SECONDS=1800
}


def reference(job_id: str, **extra) -> dict:
    return {"AwsAccountId": ACCOUNT, "DashboardId": "dash-1", "SnapshotJobId": job_id, **extra}


def job_arn(job_id: str) -> str:
    return f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dashboard/dash-1/snapshot-job/{job_id}"


def valid(events: list[dict]) -> list[dict]:
    """The events, each checked against the published schema."""
    for event in events:
        VALIDATOR.validate(event)
    return events


def ended(events: list[dict]) -> list[tuple[str, str]]:
    return sorted((e["detail"]["job"]["snapshotJobId"], e["detail"]["status"]) for e in events)


def documented_blocks() -> list[dict]:
    """The JSON blocks of docs/notifications.md's subscribing section: the rule's pattern, then
    the event its queue receives."""
    text = (ROOT / "docs" / "notifications.md").read_text()
    section = text.split("### Subscribing: failures to a queue")[1].split("\n## ")[0]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]


def test_the_documented_event_is_valid_and_the_documented_rule_matches_this_stack():
    pattern, example = documented_blocks()
    VALIDATOR.validate(example)
    assert pattern["source"] == [EVENT_SOURCE]
    assert pattern["detail-type"] == [EVENT_DETAIL_TYPE] == [example["detail-type"]]
    assert example["detail"]["status"] in pattern["detail"]["status"]


def test_the_documented_rule_sends_each_failed_and_timed_out_job_to_its_queue_once(stack):
    pattern, _ = documented_blocks()
    failures = stack.event_rule("snapshot-failures", pattern)
    outputs = {}
    for status, script in OUTCOMES.items():
        job = f"ev-{status.lower()}"
        stack.add_job(job, **script)
        ex = stack.start_execution(job, reference(job, label=f"tenant {status}"))
        outputs[job] = ex.lambda_outputs()[-1]
        assert outputs[job]["status"] == status, ex.summary()

    routed = valid(stack.job_events(failures))
    assert ended(routed) == [("ev-failed", "FAILED"), ("ev-timed_out", "TIMED_OUT")]
    every = valid(stack.job_events())
    assert ended(every) == [("ev-failed", "FAILED"), ("ev-succeeded", "SUCCEEDED"),
                            ("ev-timed_out", "TIMED_OUT")]
    for event in every:
        job = event["detail"]["job"]["snapshotJobId"]
        assert event["source"] == EVENT_SOURCE
        assert event["detail-type"] == EVENT_DETAIL_TYPE
        assert event["resources"] == [job_arn(job)]
        assert event["detail"]["label"] == f"tenant {event['detail']['status']}"
        # The output names the event it put; the notice, when there was one, is in the event.
        assert outputs[job]["event"] == {"eventId": event["id"], "eventBus": "default"}
        assert event["detail"]["notification"] == outputs[job]["notification"]
    succeeded = next(e for e in every if e["detail"]["status"] == "SUCCEEDED")
    assert succeeded["detail"]["counts"]["written"] == len(succeeded["detail"]["files"]) >= 1
    assert all(f["s3Uri"].startswith("s3://") for f in succeeded["detail"]["files"])
    assert len(stack.sns_messages()) == 2, "a notice for the failure and the timeout only"


@pytest.mark.parametrize("status", list(OUTCOMES))
def test_a_retried_invocation_puts_no_second_event(stack, status):
    job = f"retried-{status.lower()}"
    stack.add_job(job, **OUTCOMES[status])

    first = stack.invoke(reference(job))
    again = stack.invoke(reference(job))

    assert first["status"] == again["status"] == status, (first, again)
    assert again["event"] == first["event"] is not None
    [event] = valid(stack.job_events())
    assert event["id"] == first["event"]["eventId"]


def test_a_batch_puts_one_event_per_finished_job_across_its_rounds(stack):
    stack.add_job("b-failed", **OUTCOMES["FAILED"])
    stack.add_job("b-ok", **OUTCOMES["SUCCEEDED"])
    stack.add_job("b-later", queuedPolls=0, runningPolls=1, outcome="COMPLETED")
    batch = {"jobs": [reference(job) for job in ("b-failed", "b-ok", "b-later")]}

    first = stack.invoke(batch)
    assert [j["status"] for j in first["jobs"]] == ["FAILED", "SUCCEEDED", "IN_PROGRESS"]
    assert first["jobs"][2]["event"] is None
    assert ended(valid(stack.job_events())) == [("b-failed", "FAILED"), ("b-ok", "SUCCEEDED")]

    second = stack.invoke(first)
    again = stack.invoke(first)  # the round retried whole
    assert [j["status"] for j in second["jobs"]] == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert again["jobs"][2]["event"] == second["jobs"][2]["event"] is not None
    assert ended(valid(stack.job_events())) == [("b-later", "SUCCEEDED")]


def test_an_event_eventbridge_did_not_take_fails_the_poll_and_its_retry_tells_nothing_twice(stack):
    stack.add_job("partial", **OUTCOMES["FAILED"])
    stack.front_faults([{"operation": "put-events", "kind": "partial-failure", "count": 1}])

    failed = stack.invoke(reference("partial"))
    assert failed["errorType"] == "NotificationFailed", failed
    assert "InternalFailure" in failed["errorMessage"], failed
    assert stack.job_events() == []
    retried = stack.invoke(reference("partial"))

    assert retried["status"] == "FAILED" and retried["event"], retried
    [event] = valid(stack.job_events())
    assert event["id"] == retried["event"]["eventId"]
    assert len(stack.sns_messages()) == 1, "the notice went out on the first poll, once"
    items = {item["pk"]: item for item in stack.ledger_items()}
    told = items[f"event/{job_arn('partial')}/FAILED"]
    assert (told["notice"], told["messageId"], told["eventBus"]) == ("told", event["id"], "default")


def test_download_links_ride_in_the_event_when_links_are_on(stack, poller_env):
    poller_env(PRESIGN_SECONDS="600")
    stack.add_job("linked", **OUTCOMES["SUCCEEDED"])

    output = stack.invoke(reference("linked", label="tenant-7"))

    [event] = valid(stack.job_events())
    [file] = event["detail"]["files"]
    assert file["downloadUrl"].startswith("https://") and "X-Amz-Signature=" in file["downloadUrl"]
    assert event["detail"]["label"] == output["label"] == "tenant-7"


def test_an_empty_bus_name_puts_no_event(stack, poller_env):
    poller_env(EVENT_BUS_NAME="")
    stack.add_job("quiet", **OUTCOMES["FAILED"])

    output = stack.invoke(reference("quiet"))

    assert output["status"] == "FAILED" and output["event"] is None, output
    assert stack.job_events() == []
    assert len(stack.sns_messages()) == 1
