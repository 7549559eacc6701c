"""SNS Publish calls that pass the front (a poller whose AWS_ENDPOINT_URL_SNS is the front, or
moto's executor): each is recorded in arrival order, and failed when a fault armed through
`POST /_lambda_front/faults` is due (the dialect and the front's faults: harness/faults.py).

A record: topicArn, groupId, dedupId, fault (the error name or kind it got, else null),
forwarded (whether moto got it), status and ms (null until it is answered, e.g. while a delay
holds it; status "caller-gone" for a held one whose caller hung up, never forwarded).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse

from harness.faults import FRONT, Fault, FaultList

# SNS's error body, without its <RequestId> element: the poller quotes the raw body in its
# errorMessage, which becomes a TaskFailed cause, and moto 5.2.5 runs a greedy
# re.sub(r"(?<=<RequestId>).*(?=</RequestId>)") over every response (moto/core/responses.py,
# _enrich_response), so a GetExecutionHistory reply holding two such causes loses every event
# between them.
SNS_PUBLISH_ERROR = (b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
                     b'<Type>Receiver</Type><Code>InternalError</Code><Message>lambda front: '
                     b'injected SNS outage</Message></Error></ErrorResponse>')
# SNS's throttling answer as AWS sends it, RequestId included: the poller quotes only the code
# and message of a service error (src/error.rs describe_sdk_error), which tests check.
SNS_THROTTLING_ERROR = (b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
                        b'<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded'
                        b'</Message></Error><RequestId>a5f2e3c4-0d1b-4e6f-9a8b-7c6d5e4f3a2b'
                        b'</RequestId></ErrorResponse>')
# The answer of each error a fault can name.
ERROR_REPLIES = {"InternalError": (500, SNS_PUBLISH_ERROR),
                 "Throttling": (400, SNS_THROTTLING_ERROR)}
assert set(ERROR_REPLIES) == set(FRONT.errors or ())
XML = [("Content-Type", "text/xml")]


class Publishes:
    """The Publish calls seen, and the faults armed for the next ones."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.faults = FaultList()

    def arm(self, faults: list[Fault]):
        """Replaces the faults armed (and their count of calls faulted)."""
        with self.lock:
            self.faults = FaultList(faults)

    def fault_state(self) -> dict:
        with self.lock:
            return self.faults.state()

    def arrive(self, params: dict[str, str], fault: Fault | None) -> dict:
        """Lists a Publish on arrival; its status and ms are set when it is answered."""
        record = {"topicArn": params.get("TopicArn"), "groupId": params.get("MessageGroupId"),
                  "dedupId": params.get("MessageDeduplicationId"),
                  "fault": fault.effect if fault else None,
                  "forwarded": False, "status": None, "ms": None}
        with self.lock:
            self.records.append(record)
        return record

    def answered(self, record: dict, started: float, status, forwarded: bool = False):
        """Completes a Publish's record, listed since its arrival."""
        with self.lock:
            record.update(status=status, forwarded=forwarded,
                          ms=round((time.monotonic() - started) * 1000))

    def listed(self) -> list[dict]:
        with self.lock:
            return [dict(record) for record in self.records]

    def reset(self):
        with self.lock:
            self.records.clear()
            self.faults = FaultList()


def is_sns_publish(method: str, headers, body: bytes) -> bool:
    """An SNS Publish in the query protocol (form body Action=Publish) or the JSON protocol
    (X-Amz-Target: AmazonSimpleNotificationService.Publish)."""
    if method != "POST":
        return False
    target = headers.get("X-Amz-Target") or ""
    if target.startswith("AmazonSimpleNotificationService."):
        return target.rsplit(".", 1)[1] == "Publish"
    if "x-www-form-urlencoded" not in (headers.get("Content-Type") or ""):
        return False
    try:
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return False
    return form.get("Action") == ["Publish"]


def publish_params(headers, body: bytes) -> dict[str, str]:
    """TopicArn, MessageGroupId, MessageDeduplicationId, ... of a Publish in either protocol."""
    if (headers.get("X-Amz-Target") or "").startswith("AmazonSimpleNotificationService."):
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return {}
        return {k: v for k, v in doc.items() if isinstance(v, str)} if isinstance(doc, dict) else {}
    try:
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {k: v[0] for k, v in form.items() if v}


def publish(h, body: bytes):
    """One SNS Publish through handler `h`: recorded, and faulted when a fault is due."""
    front, publishes = h.server, h.server.publishes
    started = time.monotonic()
    with publishes.lock:
        faults = publishes.faults
    fault = faults.take("publish")
    record = publishes.arrive(publish_params(h.headers, body), fault)
    if fault:
        sys.stderr.write(f"lambda_front: SNS Publish fault {fault.effect}\n")
    if fault and fault.effect == "delay":
        time.sleep(fault.delay_ms / 1000)
        if h.caller_gone():
            return publishes.answered(record, started, "caller-gone")
    if fault and fault.is_error:
        status, answer = ERROR_REPLIES[fault.effect]
        publishes.answered(record, started, status)
        return h.reply(status, answer, XML)
    try:
        status, resp_headers, data = h.upstream(front.moto, "POST", h.path, body,
                                                h.forwarded_headers(front.moto))
    except OSError as exc:
        publishes.answered(record, started, 502)
        return h.reply_json(502, {"message": f"lambda front: moto unreachable: {exc}"})
    if fault and fault.effect == "lost-answer":  # moto published it; the caller hears of a failure
        publishes.answered(record, started, 500, forwarded=True)
        return h.reply(*ERROR_REPLIES["InternalError"], XML)
    publishes.answered(record, started, status, forwarded=True)
    h.reply(status, data, resp_headers)
