"""The Lambda front (harness/front/) on its own: a fake runtime emulator that answers like
`cargo lambda watch`, a fake moto, and boto3's Lambda client as the caller (moto's executor uses
the same client, so what boto3 reports here is what a Retry/Catch sees)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.services import Service, free_port, http_json
from harness.stack import front_argv


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replies):
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.replies = list(replies)  # (status, headers, body) to answer, in order
        self.requests: list[dict] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class RecordingHandler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args):
        pass

    def _any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append({"method": self.command, "path": self.path,
                                     "headers": dict(self.headers), "body": body})
        status, headers, reply = (self.server.replies.pop(0) if self.server.replies
                                  else (200, {}, b"{}"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = _any


@pytest.fixture
def front(tmp_path):
    """start(runtime_replies, moto_replies, runtime_address=None, quicksight=None)
    -> (front_url, runtime, moto); `quicksight` is a Recorder passed as --quicksight."""
    started: list = []

    def start(runtime_replies=(), moto_replies=(), runtime_address=None, quicksight=None):
        runtime, moto = Recorder(runtime_replies), Recorder(moto_replies)
        for srv in (runtime, moto) + ((quicksight,) if quicksight else ()):
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            started.append(srv)
        extra = ["--quicksight", quicksight.address] if quicksight else []
        argv = front_argv(moto.address, runtime_address or runtime.address, *extra)
        svc = Service("front", argv, tmp_path, first_line=True)
        started.append(svc)
        url = svc.read_first_line(10).removeprefix("listening on ")
        return url, runtime, moto

    yield start
    for item in reversed(started):
        if isinstance(item, Service):
            item.stop()
        else:
            item.shutdown()
            item.server_close()


def lambda_client(url):
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="ak", aws_secret_access_key="sk",
                        config=Config(retries={"total_max_attempts": 1}))


def test_a_handler_error_becomes_200_with_x_amz_function_error_and_the_same_body(front):
    error = json.dumps({"errorType": "QuickSightThrottled",
                        "errorMessage": "Rate exceeded"}).encode()
    url, runtime, _ = front(runtime_replies=[(500, {"Content-Type": "application/json"}, error)])
    resp = lambda_client(url).invoke(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:my-poller:live",
        Payload=b'{"SnapshotJobId":"j1"}')
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == {"errorType": "QuickSightThrottled",
                                                  "errorMessage": "Rate exceeded"}
    assert resp["ExecutedVersion"] == "$LATEST"
    # any name/ARN reaches the runtime emulator as the binary name, body untouched
    [sent] = runtime.requests
    assert sent["path"] == "/2015-03-31/functions/quicksight-snapshot-poller/invocations"
    assert sent["body"] == b'{"SnapshotJobId":"j1"}'


def test_a_success_passes_through_with_an_executed_version(front):
    url, _, _ = front(runtime_replies=[(200, {"Content-Type": "application/json"},
                                        b'{"status":"SUCCEEDED"}')])
    resp = lambda_client(url).invoke(FunctionName="quicksight-snapshot-poller", Payload=b"{}")
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"
    assert json.loads(resp["Payload"].read()) == {"status": "SUCCEEDED"}
    assert http_json("GET", url + "/_lambda_front/invocations")[0]["functionError"] is None


def test_an_error_reply_without_error_type_is_not_disguised_as_a_function_error(front):
    from botocore.exceptions import ClientError

    url, _, _ = front(runtime_replies=[(404, {"Content-Type": "application/json"},
                                        b'{"title":"Missing function"}')])
    with pytest.raises(ClientError) as info:
        lambda_client(url).invoke(FunctionName="x", Payload=b"{}")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_an_unreachable_runtime_is_a_named_service_error_that_retry_does_not_match(front):
    from botocore.exceptions import ClientError

    url, _, _ = front(runtime_address=f"127.0.0.1:{free_port()}")
    with pytest.raises(ClientError) as info:
        lambda_client(url).invoke(FunctionName="x", Payload=b"{}")
    # moto's executor names this Lambda.LambdaFrontRuntimeUnreachable
    assert info.value.response["Error"]["Code"] == "LambdaFrontRuntimeUnreachable"


def test_everything_else_is_proxied_verbatim_to_moto(front):
    url, runtime, moto = front(moto_replies=[
        (200, {"Content-Type": "text/xml", "x-amzn-requestid": "r1"}, b"<PublishResponse/>")])
    import urllib.request

    req = urllib.request.Request(url + "/?Action=Publish", data=b"TopicArn=t&Message=m",
                                 method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["x-amzn-requestid"] == "r1"
        assert resp.read() == b"<PublishResponse/>"
    [sent] = moto.requests
    assert (sent["method"], sent["path"], sent["body"]) == ("POST", "/?Action=Publish",
                                                            b"TopicArn=t&Message=m")
    assert runtime.requests == []


PUBLISHED = (200, {"Content-Type": "text/xml"}, b"<PublishResponse/>")  # moto's answer


def post_form(url: str, form: str):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url + "/", data=form.encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_snapshot_job_paths_go_to_the_quicksight_emulator_and_other_paths_to_moto(front):
    quicksight = Recorder([(202, {"Content-Type": "application/json"}, b'{"Status":202}')] * 3)
    url, runtime, moto = front(quicksight=quicksight)
    import urllib.request

    paths = ["/accounts/123456789012/dashboards/d1/snapshot-jobs",
             "/accounts/123456789012/dashboards/d1/snapshot-jobs/j1",
             "/accounts/123456789012/dashboards/d1/snapshot-jobs/j1/result",
             "/accounts/123456789012/dashboards/d1"]  # not a snapshot-job call: moto's
    for path in paths:
        method = "POST" if path.endswith("snapshot-jobs") else "GET"
        req = urllib.request.Request(url + path, method=method,
                                     data=b"{}" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()
    assert [(r["method"], r["path"]) for r in quicksight.requests] == [
        ("POST", paths[0]), ("GET", paths[1]), ("GET", paths[2])]
    assert [r["path"] for r in moto.requests] == [paths[3]]
    assert runtime.requests == []


def test_publish_faults_fail_exactly_n_publishes_then_proxy_again(front):
    url, _, moto = front(moto_replies=[PUBLISHED] * 2)
    armed = {"operation": "publish", "error": "InternalError", "count": 2}
    assert http_json("POST", url + "/_lambda_front/faults", {"faults": [armed]}) == {
        "faults": [armed], "injected": 0}

    other = post_form(url, "Action=ListTopics")  # not a Publish: untouched
    first = post_form(url, "Action=Publish&TopicArn=t&Message=m")
    second = post_form(url, "Action=Publish&TopicArn=t&Message=m")
    third = post_form(url, "Action=Publish&TopicArn=t&Message=m")

    assert other[0] == 200
    assert first[0] == second[0] == 500 and b"<Code>InternalError</Code>" in first[1]
    assert third == (200, b"<PublishResponse/>")
    assert [r["body"] for r in moto.requests] == [b"Action=ListTopics",
                                                  b"Action=Publish&TopicArn=t&Message=m"]
    assert http_json("GET", url + "/_lambda_front/faults") == {
        "faults": [{**armed, "count": 0}], "injected": 2}
    http_json("POST", url + "/_lambda_front/reset")
    assert http_json("GET", url + "/_lambda_front/faults") == {"faults": [], "injected": 0}


def test_publish_faults_are_consumed_in_the_order_given(front):
    url, _, moto = front(moto_replies=[PUBLISHED])
    http_json("POST", url + "/_lambda_front/faults", {"faults": [
        {"operation": "publish", "error": "Throttling", "count": 1},
        {"error": "InternalError", "count": 1},  # operation "any"
        {"operation": "publish", "kind": "lost-answer", "count": 1}]})

    answers = [post_form(url, f"Action=Publish&TopicArn=t&Message=m{n}") for n in range(4)]

    assert [status for status, _ in answers] == [400, 500, 500, 200]
    assert b"<Code>Throttling</Code>" in answers[0][1]
    assert all(b"<Code>InternalError</Code>" in body for _, body in answers[1:3])
    publishes = http_json("GET", url + "/_lambda_front/publishes")
    assert [(p["fault"], p["forwarded"], p["status"]) for p in publishes] == [
        ("Throttling", False, 400), ("InternalError", False, 500), ("lost-answer", True, 500),
        (None, True, 200)]
    assert [r["body"] for r in moto.requests] == [b"Action=Publish&TopicArn=t&Message=m2",
                                                  b"Action=Publish&TopicArn=t&Message=m3"]
    assert http_json("GET", url + "/_lambda_front/faults")["injected"] == 3


@pytest.mark.parametrize(("body", "reason"), [
    ({"faults": [{"operation": "describe", "error": "InternalError"}]},
     "faults[0]: unknown fault operation 'describe'"),
    ({"faults": [{"operation": "publish", "kind": "drop"}]}, "faults[0]: unknown fault kind"),
    ({"faults": [{"error": "Throttling"}, {"kind": "delay"}]}, 'faults[1]: a "delay" fault needs'),
    ({"snsPublishErrors": 2}, 'expected {"faults": [fault, ...]}'),
])
def test_a_fault_the_front_cannot_inject_is_refused_with_the_reason(front, body, reason):
    url, _, _ = front()
    with pytest.raises(AssertionError, match="-> 400: ") as info:
        http_json("POST", url + "/_lambda_front/faults", body)
    assert reason in json.loads(str(info.value).split("-> 400: ", 1)[1])["message"]
    assert http_json("GET", url + "/_lambda_front/faults") == {"faults": [], "injected": 0}
