"""EventBridge PutEvents calls that pass the front (a poller whose AWS_ENDPOINT_URL_EVENTBRIDGE is
the front): forwarded to moto, whose rules deliver the events to their targets, unless a fault of
operation `put-events` armed through `POST /_lambda_front/faults` is due (harness/faults.py):

* `partial-failure`: answered 200 with `FailedEntryCount` 1 and the entry's `InternalFailure`, as
  EventBridge answers an entry it did not take; nothing reaches moto;
* an error (`InternalError`, `Throttling`): the JSON protocol's error answer;
* `delay`: held `delayMs`, then forwarded;
* `lost-answer`: forwarded (moto delivers the event), then answered 500.
"""

from __future__ import annotations

import json
import sys
import time

JSON = [("Content-Type", "application/x-amz-json-1.1")]
ERROR_REPLIES = {
    "InternalError": (500, {"__type": "InternalException",
                            "message": "lambda front: injected EventBridge outage"}),
    "Throttling": (400, {"__type": "ThrottlingException", "message": "Rate exceeded"}),
}


def is_put_events(method: str, headers) -> bool:
    """EventBridge's PutEvents (JSON protocol, X-Amz-Target: AWSEvents.PutEvents)."""
    return method == "POST" and (headers.get("X-Amz-Target") or "") == "AWSEvents.PutEvents"


def partial_failure(body: bytes) -> dict:
    """PutEvents' answer when no entry was taken: one failed result per entry."""
    try:
        entries = json.loads(body or b"{}").get("Entries") or [{}]
    except (ValueError, AttributeError):
        entries = [{}]
    return {"FailedEntryCount": len(entries),
            "Entries": [{"ErrorCode": "InternalFailure",
                         "ErrorMessage": "lambda front: injected entry failure"}
                        for _ in entries]}


def put_events(h, body: bytes):
    """One PutEvents through handler `h`: faulted when a fault is due, else forwarded."""
    front = h.server
    with front.publishes.lock:
        faults = front.publishes.faults
    fault = faults.take("put-events")
    if fault:
        sys.stderr.write(f"lambda_front: EventBridge PutEvents fault {fault.effect}\n")
    if fault and fault.effect == "partial-failure":
        return h.reply(200, json.dumps(partial_failure(body)).encode(), JSON)
    if fault and fault.is_error:
        status, doc = ERROR_REPLIES[fault.effect]
        return h.reply(status, json.dumps(doc).encode(), JSON)
    if fault and fault.effect == "delay":
        time.sleep(fault.delay_ms / 1000)
        if h.caller_gone():
            return None
    if fault and fault.effect == "lost-answer":
        h.proxy_quietly(front.moto, body)
        status, doc = ERROR_REPLIES["InternalError"]
        return h.reply(status, json.dumps(doc).encode(), JSON)
    return h.proxy(front.moto, body, "moto")
