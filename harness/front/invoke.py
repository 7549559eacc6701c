"""Lambda Invoke, as the real API answers it, from cargo-lambda's runtime emulator.

`POST /2015-03-31/functions/{name-or-arn}/invocations` goes to the runtime emulator (`cargo
lambda watch`), any function name or ARN (with or without a qualifier) mapped to the binary
name. The emulator's error reply (HTTP 500 + `{"errorType","errorMessage"}`, no
`X-Amz-Function-Error`) becomes the real Invoke API's reply: HTTP 200 +
`X-Amz-Function-Error: Unhandled` + the same body. moto's executor
(moto/stepfunctions/parser/asl/component/state/exec/state_task/lambda_eval_utils.py) raises
LambdaFunctionErrorException only when the response has `FunctionError` (botocore reads it from
that header); state_task_service_lambda.py then takes the error name from the payload's
`errorType`, so Retry/Catch match the function's own errorType. Without the translation botocore
raises a ClientError and the state sees `Lambda.500`. `X-Amz-Executed-Version` is the emulator's
value, else `$LATEST`.

When the runtime emulator cannot be reached the front answers like a Lambda service error with
code `LambdaFrontRuntimeUnreachable` (state error `Lambda.LambdaFrontRuntimeUnreachable`), which
the poller's Retry does not match, so a broken harness fails fast and says why. A test that takes
the runtime down on purpose says so first (`POST /_lambda_front/runtime {"down": true}`); until
`{"down": false}` or a reset, an Invoke that cannot reach the runtime (refused, or cut
mid-request) is answered as the real Invoke API answers a fault of the Lambda service: HTTP 500,
`X-Amzn-ErrorType: ServiceException`, an `X-Amzn-RequestId` (moto's executor quotes it in the
failure cause, and fails with a KeyError without one), body `{"Type": "Service", "message":
...}`. moto's executor, like AWS Step Functions, names it `Lambda.ServiceException`, which the
definition's first Retry matches. Invokes that do reach the runtime pass as always.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import urllib.parse
import uuid

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
# Request headers of the Invoke API that mean something to the runtime emulator.
INVOKE_REQUEST_HEADERS = {
    "content-type", "x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context",
    "x-amzn-trace-id",
}


class Invocations:
    """The Invokes the front answered, and whether a test announced the runtime down."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.runtime_down = False

    def add(self, record: dict):
        with self.lock:
            self.records.append(record)

    def listed(self) -> list[dict]:
        with self.lock:
            return list(self.records)

    def reset(self):
        with self.lock:
            self.records.clear()
            self.runtime_down = False


def function_name_from(path_name: str) -> str:
    """`my-fn`, `my-fn:alias`, `arn:aws:lambda:r:acct:function:my-fn[:qualifier]` -> `my-fn`."""
    name = urllib.parse.unquote(path_name)
    if name.startswith("arn:"):
        parts = name.split(":")
        # arn:partition:lambda:region:account:function:name[:qualifier]
        return parts[6] if len(parts) >= 7 else name
    # partial ARN `account:function:name` or `name:qualifier`
    if ":function:" in name:
        return name.split(":function:", 1)[1].split(":", 1)[0]
    return name.split(":", 1)[0]


def error_type(data: bytes) -> str | None:
    """The `errorType` of a function error's JSON body, if it has one."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    value = doc.get("errorType") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else None


def invoke(h, raw_name: str, query: str, body: bytes):
    """Answers one Invoke through handler `h` (harness/front/server.py)."""
    front = h.server
    started = time.monotonic()
    path = f"/2015-03-31/functions/{front.binary}/invocations"
    if query:
        path += "?" + query
    headers = {k: v for k, v in h.headers.items() if k.lower() in INVOKE_REQUEST_HEADERS}
    headers.setdefault("Content-Type", "application/json")
    record = {"function": function_name_from(raw_name), "status": None, "functionError": None,
              "errorType": None}
    try:
        status, resp_headers, data = h.upstream(front.runtime, "POST", path, body, headers)
    except OSError as exc:
        return _runtime_unreachable(h, record, started, exc)

    lower = {k.lower(): v for k, v in resp_headers}
    out_headers = [("Content-Type", lower.get("content-type", "application/json")),
                   ("X-Amz-Executed-Version", lower.get("x-amz-executed-version", "$LATEST"))]
    if "x-amzn-requestid" in lower:
        out_headers.append(("X-Amzn-RequestId", lower["x-amzn-requestid"]))
    function_error = lower.get("x-amz-function-error")
    error = error_type(data)
    if function_error is None and status >= 400 and error is not None:
        # cargo-lambda's handler/runtime error reply -> the real Invoke API's reply
        status, function_error = 200, "Unhandled"
    if function_error is not None:
        out_headers.append(("X-Amz-Function-Error", function_error))
    else:
        error = None
    record.update(status=status, functionError=function_error, errorType=error)
    _record(front, record, started)
    # Anything else (404 "Missing function", 202 for Event invocations, ...) passes verbatim.
    h.reply(status, data, out_headers)


def _runtime_unreachable(h, record: dict, started: float, exc: OSError):
    front = h.server
    with front.invocations.lock:
        down = front.invocations.runtime_down
    if down:  # announced: answer as the Lambda service does for a fault of its own
        record.update(status=500, errorType="ServiceException", runtimeDown=True)
        _record(front, record, started)
        message = ("lambda front: the runtime is down (announced by the test): "
                   f"{exc.__class__.__name__}")
        return h.reply_json(500, {"Type": "Service", "message": message},
                            [("X-Amzn-ErrorType", "ServiceException"),
                             ("X-Amzn-RequestId", str(uuid.uuid4()))])
    record.update(status=502, errorType="LambdaFrontRuntimeUnreachable")
    _record(front, record, started)
    host, port = front.runtime
    message = f"lambda front: runtime emulator at {host}:{port} unreachable: {exc}"
    return h.reply_json(502, {"Type": "Service", "message": message},
                        [("X-Amzn-ErrorType", "LambdaFrontRuntimeUnreachable"),
                         ("X-Amzn-RequestId", str(uuid.uuid4()))])


def _record(front, record: dict, started: float):
    record["ms"] = round((time.monotonic() - started) * 1000)
    front.invocations.add(record)
    if front.verbose or record["functionError"] or record["status"] != 200:
        sys.stderr.write(f"lambda_front: invoke {json.dumps(record)}\n")
