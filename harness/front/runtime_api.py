"""The Runtime API side (`/.rt/...`, the path prefix of cargo-lambda's runtime emulator), for a
function process started outside cargo-lambda (`cargo lambda watch --only-lambda-apis`; point
its AWS_LAMBDA_RUNTIME_API at `http://FRONT/.rt/{binary}`).

Requests pass through verbatim, except that the `Lambda-Runtime-Deadline-Ms` of each invocation
handed out by `.../runtime/invocation/next` becomes now + `--function-timeout`. cargo-lambda
1.9.2 sends the constant 600000 there (milliseconds since 1970, i.e. long past), where AWS sends
the absolute deadline, and a function that budgets its calls by the deadline gives up at once.
Its `Lambda-Runtime-Invoked-Function-Arn` ("function-arn" from cargo-lambda) becomes the
function's ARN, as AWS sends it, so a poll chain schedules the function it runs in.
"""

from __future__ import annotations

import http.client
import time

from harness.env import ACCOUNT, REGION
from harness.front.proxy import HOP_BY_HOP


def runtime_api(h, path: str, body: bytes):
    """Passes one Runtime API call through handler `h`: /next long-polls without a timeout;
    deadlines made real."""
    front = h.server
    headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
    is_next = h.command == "GET" and path.endswith("/runtime/invocation/next")
    conn = http.client.HTTPConnection(*front.runtime,
                                      timeout=None if is_next else front.upstream_timeout)
    try:
        conn.request(h.command, h.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        status, resp_headers, data = resp.status, resp.getheaders(), resp.read()
    except OSError as exc:
        return h.reply_json(502, {"errorMessage": f"lambda front: runtime API unreachable: {exc}"})
    finally:
        conn.close()
    if is_next and status == 200:
        real = {
            "lambda-runtime-deadline-ms": str(int((time.time() + front.function_timeout) * 1000)),
            "lambda-runtime-invoked-function-arn":
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{front.binary}",
        }
        resp_headers = [(k, real.get(k.lower(), v)) for k, v in resp_headers]
    h.reply(status, data, resp_headers)
