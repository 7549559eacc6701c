"""The front's server: the state its parts share, the dispatch of each request to the part that
takes it (harness/front/__init__.py), and the command line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import urllib.parse
from http.server import ThreadingHTTPServer

from harness.front import __doc__ as FRONT_DOC
from harness.front.control import control
from harness.front.events import is_put_events, put_events
from harness.front.invoke import INVOKE_PATH, Invocations, invoke
from harness.front.proxy import QUICKSIGHT_SNAPSHOT_PATH, ProxyHandler
from harness.front.publish import Publishes, is_sns_publish, publish
from harness.front.runtime_api import runtime_api


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
        self.invocations = Invocations()
        self.publishes = Publishes()


class Handler(ProxyHandler):
    server: Front

    def dispatch(self):
        body = self.read_body()
        path = urllib.parse.urlsplit(self.path)
        if path.path.startswith("/_lambda_front/"):
            return control(self, path.path, body)
        if path.path.startswith("/.rt/"):
            return runtime_api(self, path.path, body)
        match = INVOKE_PATH.match(path.path)
        if self.command == "POST" and match:
            return invoke(self, match.group("name"), path.query, body)
        if self.server.quicksight and QUICKSIGHT_SNAPSHOT_PATH.match(path.path):
            return self.proxy(self.server.quicksight, body, "QuickSight emulator")
        if is_sns_publish(self.command, self.headers, body):
            return publish(self, body)
        if is_put_events(self.command, self.headers):
            return put_events(self, body)
        return self.proxy(self.server.moto, body, "moto")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = dispatch


def host_port(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    text = text.removeprefix("http://").rstrip("/")
    host, _, port = text.rpartition(":")
    return (host or default_host, int(port))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.front",
                                 description=FRONT_DOC.split("\n\n")[0])
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
                    help="seconds from hand-out to the deadline given to the function "
                         "(template: 30)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    server = Front((args.host, args.port), host_port(args.moto), host_port(args.runtime),
                   args.binary, args.timeout, args.verbose, args.function_timeout,
                   host_port(args.quicksight) if args.quicksight else None)
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
