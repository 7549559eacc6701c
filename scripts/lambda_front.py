#!/usr/bin/env python3
"""Lambda front for moto's Step Functions executor (stdlib only).

moto's Step Functions executor calls Lambda Invoke (and sns:Publish, ...) at
http://localhost:$MOTO_PORT, i.e. moto itself, whose Lambda needs Docker. Start moto on another
port with MOTO_PORT set to this front's port, and this front:

* routes ``POST /2015-03-31/functions/{name-or-arn}/invocations`` to cargo-lambda's runtime
  emulator (``cargo lambda watch``), mapping any function name or ARN (with or without a
  qualifier) to the binary name;
* translates the emulator's error reply (HTTP 500 + ``{"errorType","errorMessage"}``, no
  ``X-Amz-Function-Error``) into the real Invoke API's reply: HTTP 200 +
  ``X-Amz-Function-Error: Unhandled`` + the same body. moto's executor
  (moto/stepfunctions/parser/asl/component/state/exec/state_task/lambda_eval_utils.py) raises
  LambdaFunctionErrorException only when the response has ``FunctionError`` (botocore reads it
  from that header); state_task_service_lambda.py then takes the error name from the payload's
  ``errorType``, so Retry/Catch match the function's own errorType. Without the translation
  botocore raises a ClientError and the state sees ``Lambda.500``;
* sets ``X-Amz-Executed-Version`` (the emulator's value, else ``$LATEST``);
* with ``--quicksight HOST:PORT``, proxies QuickSight snapshot-job calls
  (``/accounts/{id}/dashboards/{id}/snapshot-jobs[/...]``, which moto does not implement) verbatim
  to that QuickSight emulator: moto's executor runs ``arn:aws:states:::aws-sdk:quicksight:*``
  tasks through boto3 at $MOTO_PORT like every other integration
  (moto/stepfunctions/parser/asl/utils/boto_client.py);
* proxies every other request verbatim to moto.

It also serves the Runtime API side (``/.rt/...``, the path prefix of cargo-lambda's runtime
emulator) for a function process started outside cargo-lambda (``cargo lambda watch
--only-lambda-apis``; point its AWS_LAMBDA_RUNTIME_API at ``http://FRONT/.rt/{binary}``): requests
pass through verbatim, except that the ``Lambda-Runtime-Deadline-Ms`` of each invocation handed
out by ``.../runtime/invocation/next`` becomes now + ``--function-timeout``. cargo-lambda 1.9.2
sends the constant 600000 there (milliseconds since 1970, i.e. long past), where AWS sends the
absolute deadline, and a function that budgets its calls by the deadline gives up at once.

When the runtime emulator cannot be reached the front answers like a Lambda service error with
code ``LambdaFrontRuntimeUnreachable`` (state error ``Lambda.LambdaFrontRuntimeUnreachable``),
which the poller's Retry does not match, so a broken harness fails fast and says why. A test that
takes the runtime down on purpose says so first: ``POST /_lambda_front/runtime {"down": true}``;
until ``{"down": false}`` or a reset, an Invoke that cannot reach the runtime (refused, or cut
mid-request) is answered as the real Invoke API answers a fault of the Lambda service: HTTP 500,
``X-Amzn-ErrorType: ServiceException``, an ``X-Amzn-RequestId`` (moto's executor quotes it in
the failure cause, and fails with a KeyError without one), body ``{"Type": "Service", "message":
...}``. moto's executor, like AWS Step Functions, names it ``Lambda.ServiceException``, which the
definition's first Retry matches. Invokes that do reach the runtime pass as always.

Control endpoints (for tests): ``GET /_lambda_front/invocations`` lists the invocations seen
(function, status, functionError, errorType, ms; ``runtimeDown: true`` on those answered
ServiceException); ``GET /_lambda_front/publishes`` lists the SNS ``Publish`` requests seen
in arrival order (topicArn, groupId, dedupId, fault, forwarded, status, ms; status and ms stay
null until it is answered, e.g. while a delay fault holds it); ``POST /_lambda_front/reset`` clears
both, switches faults off and forgets ``runtime down``.

Fault switch for the SNS ``Publish`` requests that pass the front (a poller whose
AWS_ENDPOINT_URL_SNS is the front, or moto's executor): ``POST /_lambda_front/faults`` with any of
  ``snsPublishErrors: N``      the next N fail with HTTP 500 ``InternalError``, never reaching moto;
  ``snsPublishThrottles: N``   the next N fail with HTTP 400 ``Throttling`` (SNS's awsQuery error
                               body), never reaching moto;
  ``snsPublishDelays: N`` + ``snsPublishDelayMs: M``   the next N are held M ms before they are
                               forwarded; one whose caller hung up meanwhile (an SDK attempt
                               timeout) is not forwarded: SNS never accepted it;
  ``snsPublishLostAnswers: N`` the next N are forwarded to moto (so published and delivered), then
                               answered HTTP 500 ``InternalError``: the answer is lost.
A POST replaces the whole switch (kinds left out are off). When several kinds are armed, a Publish
takes the first armed one in the order above. ``GET /_lambda_front/faults`` answers
``{"snsPublishErrors": left, "snsPublishFailed": 500s injected}``, plus each other kind's count
left (and ``snsPublishDelayMs``) while it is armed.

Prints ``listening on http://HOST:PORT`` as its first stdout line (``--port 0`` picks a port).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
# QuickSight's StartDashboardSnapshotJob, DescribeDashboardSnapshotJob(Result) (restJson1 paths).
QUICKSIGHT_SNAPSHOT_PATH = re.compile(
    r"^/accounts/[^/]+/dashboards/[^/]+/snapshot-jobs(/[^/]+(/result)?)?$")
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
# The kinds of the Publish fault switch, in the order a Publish takes them.
SNS_FAULT_KINDS = (("snsPublishErrors", "error"), ("snsPublishThrottles", "throttle"),
                   ("snsPublishDelays", "delay"), ("snsPublishLostAnswers", "lost-answer"))
# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; Host and Content-Length are rewritten.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
}
# Request headers of the Invoke API that mean something to the runtime emulator.
INVOKE_REQUEST_HEADERS = {
    "content-type", "x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context",
    "x-amzn-trace-id",
}


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


class Front(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, moto: tuple[str, int], runtime: tuple[str, int], binary: str,
                 timeout: float, verbose: bool, function_timeout: float = 30.0,
                 quicksight: tuple[str, int] | None = None):
        super().__init__(addr, Handler)
        self.moto = moto
        self.quicksight = quicksight
        self.runtime = runtime
        self.binary = binary
        self.upstream_timeout = timeout
        self.function_timeout = function_timeout
        self.verbose = verbose
        self.lock = threading.Lock()
        self.invocations: list[dict] = []
        self.sns_faults = {key: 0 for key, _ in SNS_FAULT_KINDS}  # left to inject, per kind
        self.sns_publish_delay_ms = 0
        self.sns_publish_failed = 0  # HTTP 500s of snsPublishErrors injected so far
        self.publishes: list[dict] = []
        self.runtime_down = False  # announced by a test: unreachable runtime = ServiceException


class Handler(BaseHTTPRequestHandler):
    server: Front
    protocol_version = "HTTP/1.1"  # keep-alive for botocore's pool; every reply has a length

    # --- plumbing ---------------------------------------------------------------------------
    def log_message(self, fmt, *args):  # quiet by default; errors still go to stderr
        if self.server.verbose:
            sys.stderr.write("lambda_front: " + (fmt % args) + "\n")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _upstream(self, target: tuple[str, int], method: str, path: str, body: bytes,
                  headers: dict[str, str]):
        conn = http.client.HTTPConnection(*target, timeout=self.server.upstream_timeout)
        try:
            conn.request(method, path, body=body if body or method in ("POST", "PUT", "PATCH") else None,
                         headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    # --- dispatch ---------------------------------------------------------------------------
    def _handle(self):
        body = self._read_body()
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path.startswith("/_lambda_front/"):
            return self._control(parsed.path, body)
        if parsed.path.startswith("/.rt/"):
            return self._runtime_api(parsed.path, body)
        match = INVOKE_PATH.match(parsed.path)
        if self.command == "POST" and match:
            return self._invoke(match.group("name"), parsed.query, body)
        if self.server.quicksight and QUICKSIGHT_SNAPSHOT_PATH.match(parsed.path):
            return self._proxy(self.server.quicksight, body, "QuickSight emulator")
        if _is_sns_publish(self.command, self.headers, body):
            return self._publish(body)
        return self._proxy(self.server.moto, body, "moto")

    def _take_sns_fault(self) -> str | None:
        """The fault kind this Publish gets, if one is armed; it loses one use."""
        with self.server.lock:
            for key, kind in SNS_FAULT_KINDS:
                if self.server.sns_faults[key] > 0:
                    self.server.sns_faults[key] -= 1
                    if kind == "error":
                        self.server.sns_publish_failed += 1
                    return kind
        return None

    def _publish(self, body: bytes):
        """An SNS Publish: recorded, and faulted when the switch says so."""
        started = time.monotonic()
        params = _publish_params(self.headers, body)
        fault = self._take_sns_fault()
        record = {"topicArn": params.get("TopicArn"), "groupId": params.get("MessageGroupId"),
                  "dedupId": params.get("MessageDeduplicationId"), "fault": fault,
                  "forwarded": False, "status": None, "ms": None}
        with self.server.lock:  # listed on arrival; status and ms are set when it is answered
            self.server.publishes.append(record)
        if fault:
            sys.stderr.write(f"lambda_front: SNS Publish fault {fault}\n")
        if fault == "delay":
            time.sleep(self.server.sns_publish_delay_ms / 1000)
            if self._caller_gone():
                return self._record_publish(record, started, "caller-gone")
        if fault == "error":
            self._record_publish(record, started, 500)
            return self._reply(500, SNS_PUBLISH_ERROR, [("Content-Type", "text/xml")])
        if fault == "throttle":
            self._record_publish(record, started, 400)
            return self._reply(400, SNS_THROTTLING_ERROR, [("Content-Type", "text/xml")])
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = self.headers.get("Host") or "%s:%d" % self.server.moto
        try:
            status, resp_headers, data = self._upstream(self.server.moto, "POST", self.path,
                                                        body, headers)
        except OSError as exc:
            self._record_publish(record, started, 502)
            msg = json.dumps({"message": f"lambda front: moto unreachable: {exc}"}).encode()
            return self._reply(502, msg, [("Content-Type", "application/json")])
        if fault == "lost-answer":  # moto published it; the caller hears of a failure
            self._record_publish(record, started, 500, forwarded=True)
            return self._reply(500, SNS_PUBLISH_ERROR, [("Content-Type", "text/xml")])
        self._record_publish(record, started, status, forwarded=True)
        self._reply(status, data, resp_headers)

    def _record_publish(self, record: dict, started: float, status, forwarded: bool = False):
        """Completes a Publish's record, listed since its arrival."""
        with self.server.lock:
            record.update(status=status, forwarded=forwarded,
                          ms=round((time.monotonic() - started) * 1000))

    def _caller_gone(self) -> bool:
        """Whether the caller has closed its connection (EOF or reset), without blocking."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # connected, nothing more sent
        except OSError:
            return True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    def _control(self, path: str, body: bytes):
        if path == "/_lambda_front/invocations" and self.command == "GET":
            with self.server.lock:
                data = json.dumps(self.server.invocations).encode()
            return self._reply(200, data, [("Content-Type", "application/json")])
        if path == "/_lambda_front/publishes" and self.command == "GET":
            with self.server.lock:
                data = json.dumps(self.server.publishes).encode()
            return self._reply(200, data, [("Content-Type", "application/json")])
        if path == "/_lambda_front/reset" and self.command == "POST":
            with self.server.lock:
                self.server.invocations.clear()
                self.server.publishes.clear()
                self.server.sns_faults = {key: 0 for key, _ in SNS_FAULT_KINDS}
                self.server.sns_publish_delay_ms = self.server.sns_publish_failed = 0
                self.server.runtime_down = False
            return self._reply(204, b"", [])
        if path == "/_lambda_front/runtime" and self.command == "POST":
            try:
                spec = json.loads(body or b"{}")
                if set(spec) != {"down"} or not isinstance(spec["down"], bool):
                    raise ValueError
            except (ValueError, AttributeError, TypeError):
                return self._reply(400, b'{"message":"expected {\\"down\\": true|false}"}',
                                   [("Content-Type", "application/json")])
            with self.server.lock:
                self.server.runtime_down = spec["down"]
            return self._reply(200, json.dumps(spec).encode(), [("Content-Type", "application/json")])
        if path == "/_lambda_front/faults" and self.command in ("GET", "POST"):
            if self.command == "POST":
                try:
                    spec = json.loads(body or b"{}")
                    known = {key for key, _ in SNS_FAULT_KINDS} | {"snsPublishDelayMs"}
                    if not isinstance(spec, dict) or set(spec) - known or not all(
                            isinstance(v, int) and not isinstance(v, bool) and v >= 0
                            for v in spec.values()):
                        raise ValueError
                    if spec.get("snsPublishDelays") and not spec.get("snsPublishDelayMs"):
                        raise ValueError
                except (ValueError, AttributeError):
                    message = {"message": "expected counts N >= 0 of " + ", ".join(
                        key for key, _ in SNS_FAULT_KINDS) + " (snsPublishDelays with "
                        "snsPublishDelayMs > 0)"}
                    return self._reply(400, json.dumps(message).encode(),
                                       [("Content-Type", "application/json")])
                with self.server.lock:
                    self.server.sns_faults = {key: spec.get(key, 0) for key, _ in SNS_FAULT_KINDS}
                    self.server.sns_publish_delay_ms = spec.get("snsPublishDelayMs", 0)
            with self.server.lock:
                state = {"snsPublishErrors": self.server.sns_faults["snsPublishErrors"],
                         "snsPublishFailed": self.server.sns_publish_failed}
                for key, kind in SNS_FAULT_KINDS[1:]:
                    if self.server.sns_faults[key]:
                        state[key] = self.server.sns_faults[key]
                        if kind == "delay":
                            state["snsPublishDelayMs"] = self.server.sns_publish_delay_ms
                data = json.dumps(state).encode()
            return self._reply(200, data, [("Content-Type", "application/json")])
        return self._reply(404, b'{"message":"unknown control path"}',
                           [("Content-Type", "application/json")])

    def _proxy(self, target: tuple[str, int], body: bytes, what: str):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = self.headers.get("Host") or "%s:%d" % target
        try:
            status, resp_headers, data = self._upstream(target, self.command, self.path,
                                                        body, headers)
        except OSError as exc:
            msg = json.dumps({"message": f"lambda front: {what} unreachable: {exc}"}).encode()
            return self._reply(502, msg, [("Content-Type", "application/json")])
        self._reply(status, data, resp_headers)

    def _runtime_api(self, path: str, body: bytes):
        """The function's side: /next long-polls without a timeout; deadlines made real."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        is_next = self.command == "GET" and path.endswith("/runtime/invocation/next")
        conn = http.client.HTTPConnection(*self.server.runtime,
                                          timeout=None if is_next else self.server.upstream_timeout)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            status, resp_headers, data = resp.status, resp.getheaders(), resp.read()
        except OSError as exc:
            msg = json.dumps({"errorMessage": f"lambda front: runtime API unreachable: {exc}"})
            return self._reply(502, msg.encode(), [("Content-Type", "application/json")])
        finally:
            conn.close()
        if is_next and status == 200:
            deadline = str(int((time.time() + self.server.function_timeout) * 1000))
            resp_headers = [(k, deadline if k.lower() == "lambda-runtime-deadline-ms" else v)
                            for k, v in resp_headers]
        self._reply(status, data, resp_headers)

    def _invoke(self, raw_name: str, query: str, body: bytes):
        started = time.monotonic()
        function = function_name_from(raw_name)
        path = f"/2015-03-31/functions/{self.server.binary}/invocations"
        if query:
            path += "?" + query
        headers = {k: v for k, v in self.headers.items() if k.lower() in INVOKE_REQUEST_HEADERS}
        headers.setdefault("Content-Type", "application/json")
        record = {"function": function, "status": None, "functionError": None, "errorType": None}
        try:
            status, resp_headers, data = self._upstream(self.server.runtime, "POST", path, body,
                                                        headers)
        except OSError as exc:
            with self.server.lock:
                down = self.server.runtime_down
            if down:  # announced: answer as the Lambda service does for a fault of its own
                record.update(status=500, errorType="ServiceException", runtimeDown=True)
                self._record(record, started)
                msg = json.dumps({
                    "Type": "Service",
                    "message": "lambda front: the runtime is down (announced by the test): "
                               f"{exc.__class__.__name__}",
                }).encode()
                return self._reply(500, msg, [("Content-Type", "application/json"),
                                              ("X-Amzn-ErrorType", "ServiceException"),
                                              ("X-Amzn-RequestId", str(uuid.uuid4()))])
            record.update(status=502, errorType="LambdaFrontRuntimeUnreachable")
            self._record(record, started)
            msg = json.dumps({
                "Type": "Service",
                "message": f"lambda front: runtime emulator at {self.server.runtime[0]}:"
                           f"{self.server.runtime[1]} unreachable: {exc}",
            }).encode()
            return self._reply(502, msg, [("Content-Type", "application/json"),
                                          ("X-Amzn-ErrorType", "LambdaFrontRuntimeUnreachable"),
                                          ("X-Amzn-RequestId", str(uuid.uuid4()))])

        lower = {k.lower(): v for k, v in resp_headers}
        out_headers = [("Content-Type", lower.get("content-type", "application/json")),
                       ("X-Amz-Executed-Version", lower.get("x-amz-executed-version", "$LATEST"))]
        if "x-amzn-requestid" in lower:
            out_headers.append(("X-Amzn-RequestId", lower["x-amzn-requestid"]))
        function_error = lower.get("x-amz-function-error")
        error_type = _error_type(data)
        if function_error is None and status >= 400 and error_type is not None:
            # cargo-lambda's handler/runtime error reply -> the real Invoke API's reply
            status, function_error = 200, "Unhandled"
        if function_error is not None:
            out_headers.append(("X-Amz-Function-Error", function_error))
        else:
            error_type = None
        record.update(status=status, functionError=function_error, errorType=error_type)
        self._record(record, started)
        # Anything else (404 "Missing function", 202 for Event invocations, ...) passes verbatim.
        self._reply(status, data, out_headers)

    def _record(self, record: dict, started: float):
        record["ms"] = round((time.monotonic() - started) * 1000)
        with self.server.lock:
            self.server.invocations.append(record)
        if self.server.verbose or record["functionError"] or record["status"] != 200:
            sys.stderr.write("lambda_front: invoke %s\n" % json.dumps(record))


def _is_sns_publish(method: str, headers, body: bytes) -> bool:
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


def _publish_params(headers, body: bytes) -> dict[str, str]:
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


def _error_type(data: bytes) -> str | None:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    value = doc.get("errorType") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else None


def _host_port(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    text = text.removeprefix("http://").rstrip("/")
    host, _, port = text.rpartition(":")
    return (host or default_host, int(port))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    ap.add_argument("--moto", required=True, help="moto server, e.g. 127.0.0.1:5001")
    ap.add_argument("--runtime", default="127.0.0.1:9000",
                    help="cargo lambda watch invoke address (default 127.0.0.1:9000)")
    ap.add_argument("--quicksight", default=None,
                    help="QuickSight emulator for snapshot-job paths, e.g. 127.0.0.1:5002 "
                         "(default: none, everything goes to moto)")
    ap.add_argument("--binary", default="quicksight-snapshot-poller",
                    help="function name the runtime emulator knows (the binary name)")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="upstream read timeout in seconds (a first invoke may wait for a build)")
    ap.add_argument("--function-timeout", type=float, default=30.0,
                    help="seconds from hand-out to the deadline given to the function (template: 30)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    server = Front((args.host, args.port), _host_port(args.moto), _host_port(args.runtime),
                   args.binary, args.timeout, args.verbose, args.function_timeout,
                   _host_port(args.quicksight) if args.quicksight else None)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
