"""boto3 against moto: clients, an execution's history (through boto3's paginator), the SNS
messages read back through an SQS subscription, and what a finished execution looks like."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from harness.env import REGION

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def client(service: str, endpoint_url: str):
    """A boto3 client for `service` at `endpoint_url`, with moto's dummy credentials."""
    import boto3  # lazily: test_statemachine_definition.py needs no boto3

    return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def execution_history(sfn, arn: str) -> list[dict]:
    """Every event of an execution so far, all pages."""
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=arn, PaginationConfig={"PageSize": 1000})
    return [event for page in pages for event in page["events"]]


def drain_sns_queue(sqs, queue_url: str) -> list[dict]:
    """Receives and deletes every message of a queue subscribed to a topic (enveloped delivery).
    Each item: subject, message (parsed JSON when it is JSON), attributes {name: value}, and the
    raw SNS envelope."""
    out = []
    while True:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        msgs = resp.get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            envelope = json.loads(m["Body"])
            message = envelope.get("Message")
            with contextlib.suppress(TypeError, ValueError):
                message = json.loads(message)
            out.append({
                "subject": envelope.get("Subject"),
                "message": message,
                "attributes": {k: v.get("Value") for k, v in
                               (envelope.get("MessageAttributes") or {}).items()},
                "envelope": envelope,
            })
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def subscribe_queue(sns, sqs, topic_arn: str, queue_url: str):
    """Subscribes a queue to a topic with enveloped delivery (RawMessageDelivery false), so
    Subject and MessageAttributes arrive."""
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "false"})


@dataclass
class Execution:
    """describe_execution + history of one finished execution."""

    describe: dict
    history: list[dict]

    @property
    def status(self) -> str:
        return self.describe["status"]

    @property
    def output(self) -> Any:
        raw = self.describe.get("output")
        return json.loads(raw) if raw else None

    @property
    def error(self) -> str | None:
        return self.describe.get("error")

    @property
    def cause(self) -> str | None:
        return self.describe.get("cause")

    @property
    def duration(self) -> float:
        return (self.describe["stopDate"] - self.describe["startDate"]).total_seconds()

    def events(self, *types: str) -> list[dict]:
        return [e for e in self.history if not types or e["type"] in types]

    def states_entered(self) -> list[str]:
        """Names of the states in the order they were entered."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.history
                if "stateEnteredEventDetails" in e]

    def task_failures(self, resource_type: str | None = "lambda") -> list[tuple[str, str]]:
        """(error, cause) of every failed attempt of a task of `resource_type` (default the
        poller's, `lambda`; None: every task, the ledger's too), retried ones included."""
        return [(e["taskFailedEventDetails"].get("error"), e["taskFailedEventDetails"].get("cause"))
                for e in self.history if e["type"] == "TaskFailed"
                and resource_type in (None, e["taskFailedEventDetails"].get("resourceType"))]

    def lambda_outputs(self) -> list[Any]:
        """The poller's Payload of every successful Poll, in order."""
        outs = []
        for e in self.history:
            details = e.get("taskSucceededEventDetails")
            if e["type"] == "TaskSucceeded" and details["resourceType"] == "lambda":
                outs.append(json.loads(details["output"]).get("Payload"))
        return outs

    def status_change_event(self) -> dict:
        """The event EventBridge sends for this execution's end ("Step Functions Execution
        Status Change"), as template.yaml's rule delivers it to the execution monitor."""
        d = self.describe
        return {"version": "0", "source": "aws.states",
                "detail-type": "Step Functions Execution Status Change",
                "detail": {"executionArn": d["executionArn"],
                           "stateMachineArn": d["stateMachineArn"], "name": d["name"],
                           "status": d["status"], "input": d.get("input"),
                           "error": d.get("error"), "cause": d.get("cause")}}

    def summary(self) -> str:
        lines = [f"status={self.status} error={self.error} cause={self.cause}"]
        for e in self.history:
            detail = next((v for k, v in e.items() if k.endswith("EventDetails")), "")
            lines.append(f"  {e['id']:>3} {e['type']} {json.dumps(detail, default=str)[:300]}")
        return "\n".join(lines)
