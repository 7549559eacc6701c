"""The front's HTTP plumbing: reading a request (chunked or not), answering, calling an upstream,
and proxying a request verbatim (QuickSight snapshot-job calls to the QuickSight emulator,
everything no other part of the front takes to moto).

moto does not implement QuickSight's snapshot jobs, and its executor runs
`arn:aws:states:::aws-sdk:quicksight:*` tasks through boto3 at $MOTO_PORT like every other
integration (moto/stepfunctions/parser/asl/utils/boto_client.py): with `--quicksight HOST:PORT`
the front sends StartDashboardSnapshotJob and DescribeDashboardSnapshotJob(Result)
(`/accounts/{id}/dashboards/{id}/snapshot-jobs[/...]`) to that emulator instead.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import sys
from http.server import BaseHTTPRequestHandler
from typing import Any

# QuickSight's StartDashboardSnapshotJob, DescribeDashboardSnapshotJob(Result) (restJson1 paths).
QUICKSIGHT_SNAPSHOT_PATH = re.compile(
    r"^/accounts/[^/]+/dashboards/[^/]+/snapshot-jobs(/[^/]+(/result)?)?$")
# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; Host and Content-Length are rewritten.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
}
JSON = ("Content-Type", "application/json")


class ProxyHandler(BaseHTTPRequestHandler):
    """A request handler with the plumbing every part of the front uses; `self.server` is the
    front (harness/front/server.py)."""

    protocol_version = "HTTP/1.1"  # keep-alive for botocore's pool; every reply has a length

    def log_message(self, format, *args):  # the base class names it `format`
        if self.server.verbose:  # quiet by default; errors still go to stderr
            sys.stderr.write("lambda_front: " + (format % args) + "\n")

    def read_body(self) -> bytes:
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

    def reply(self, status: int, body: bytes, headers: list[tuple[str, str]]):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status: int, doc: Any, headers: list[tuple[str, str]] = ()):
        self.reply(status, json.dumps(doc).encode(), [JSON, *headers])

    def upstream(self, target: tuple[str, int], method: str, path: str, body: bytes,
                 headers: dict[str, str]):
        """One request to an upstream: (status, headers, body); OSError when it fails."""
        conn = http.client.HTTPConnection(*target, timeout=self.server.upstream_timeout)
        try:
            send_body = body if body or method in ("POST", "PUT", "PATCH") else None
            conn.request(method, path, body=send_body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def forwarded_headers(self, target: tuple[str, int]) -> dict[str, str]:
        """This request's end-to-end headers, with a Host."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = self.headers.get("Host") or "{}:{}".format(*target)
        return headers

    def proxy(self, target: tuple[str, int], body: bytes, what: str):
        """This request, verbatim, to `target`; its answer, verbatim, back (502 when it cannot
        be reached)."""
        try:
            status, resp_headers, data = self.upstream(target, self.command, self.path, body,
                                                       self.forwarded_headers(target))
        except OSError as exc:
            return self.reply_json(502, {"message": f"lambda front: {what} unreachable: {exc}"})
        self.reply(status, data, resp_headers)

    def proxy_quietly(self, target: tuple[str, int], body: bytes):
        """This request, verbatim, to `target`, its answer dropped (a lost answer)."""
        try:
            self.upstream(target, self.command, self.path, body, self.forwarded_headers(target))
        except OSError as exc:
            sys.stderr.write(f"lambda front: upstream unreachable: {exc}\n")

    def caller_gone(self) -> bool:
        """Whether the caller has closed its connection (EOF or reset), without blocking."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # connected, nothing more sent
        except OSError:
            return True
