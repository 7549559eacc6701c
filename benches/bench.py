"""Side-by-side figures for README.md: cold start, warm latency, peak RSS, zip size, batches.

Run through benches/run.sh, which builds the release binaries and the Python environment.
Everything talks to the local QuickSight emulator on 127.0.0.1; nothing here is a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ACCOUNT = "123456789012"
ROOT = Path(__file__).resolve().parent.parent


class RuntimeApi:
    """A minimal Lambda Runtime API: hands out queued events, records when each answer arrives."""

    def __init__(self, deadline_seconds: float = 60.0):
        self.deadline_seconds = deadline_seconds
        self.events: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.sent: dict[str, float] = {}
        self.answers: dict[str, tuple[float, int, bytes]] = {}
        # When the function first asked for an event (its init ended), and a hook run then,
        # before the event goes out (benches/tls_cold.py moves the function into a CPU quota).
        self.first_next: float | None = None
        self.on_first_next = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes; without this, Nagle's algorithm
                # and delayed ACKs add ~40 ms to every answer and swamp what is measured.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                with api.cond:
                    if api.first_next is None:
                        api.first_next = time.perf_counter()
                        if api.on_first_next:
                            api.on_first_next()
                    while not api.events:
                        api.cond.wait()
                    request_id, body = api.events.pop(0)
                    api.sent[request_id] = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                deadline_ms = int((time.time() + api.deadline_seconds) * 1000)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bench",
                )
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                parts = self.path.split("/")
                now = time.perf_counter()
                if "invocation" in parts and (self.path.endswith("/response") or self.path.endswith("/error")):
                    request_id = parts[parts.index("invocation") + 1]
                    code = 0 if self.path.endswith("/response") else 1
                    with api.cond:
                        api.answers[request_id] = (now, code, data)
                        api.cond.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a killed function drops its long-poll; that is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def push(self, event: dict) -> str:
        request_id = str(uuid.uuid4())
        with self.cond:
            self.events.append((request_id, json.dumps(event).encode()))
            self.cond.notify_all()
        return request_id

    def wait(self, request_id: str, timeout: float = 600.0) -> tuple[float, int, bytes]:
        end = time.perf_counter() + timeout
        with self.cond:
            while request_id not in self.answers:
                left = end - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(f"no answer for {request_id}")
                self.cond.wait(left)
            return self.answers[request_id]

    def close(self):
        self.server.shutdown()


def control(emulator: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(emulator + path, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def seed(emulator: str, job: str, outcome: str, dashboard: str = "bench-dashboard"):
    control(emulator, "/_emulator/jobs", {
        "awsAccountId": ACCOUNT, "dashboardId": dashboard, "snapshotJobId": job,
        "queuedPolls": 0, "runningPolls": 0 if outcome != "NEVER" else 1, "outcome": outcome,
    })
    return {"AwsAccountId": ACCOUNT, "DashboardId": dashboard, "SnapshotJobId": job}


def peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Subject:
    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        self.name, self.argv, self.env = name, argv, env

    def start(self, api: RuntimeApi, preexec=None, wrapper=None) -> subprocess.Popen:
        env = dict(self.env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.port}")
        return subprocess.Popen([*(wrapper or []), *self.argv], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=preexec)


def cold_start(subject: Subject, event: dict, runs: int) -> tuple[list[float], int]:
    times, rss = [], 0
    for _ in range(runs):
        api = RuntimeApi()
        request_id = api.push(event)
        start = time.perf_counter()
        proc = subject.start(api)
        answered, code, body = api.wait(request_id, timeout=60)
        if code:
            raise RuntimeError(f"{subject.name} failed: {body[:300]!r}")
        times.append((answered - start) * 1000)
        rss = max(rss, peak_rss_kb(proc.pid))
        proc.kill()
        proc.wait()
        api.close()
    return times, rss


def warm(subject: Subject, event: dict, n: int, preexec=None,
         wrapper=None) -> tuple[list[float], int]:
    api = RuntimeApi()
    proc = subject.start(api, preexec, wrapper)
    times = []
    try:
        for i in range(n + 5):
            request_id = api.push(event)
            answered, code, body = api.wait(request_id, timeout=60)
            if code:
                raise RuntimeError(f"{subject.name} failed: {body[:300]!r}")
            if i >= 5:  # the first answers include the cold start and connection set-up
                times.append((answered - api.sent[request_id]) * 1000)
        return times, peak_rss_kb(proc.pid)
    finally:
        # Under a wrapper (valgrind) SIGTERM lets it write its report.
        proc.terminate() if wrapper else proc.kill()
        proc.wait()
        api.close()


def describe_path(job: dict) -> str:
    return f"/accounts/{job['AwsAccountId']}/dashboards/{job['DashboardId']}/snapshot-jobs/{job['SnapshotJobId']}"


def bare_http(emulator: str, event: dict, n: int) -> list[float]:
    host, port = emulator.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    path = describe_path(event)
    times = []
    for i in range(n + 5):
        start = time.perf_counter()
        conn.request("GET", path)
        conn.getresponse().read()
        if i >= 5:
            times.append((time.perf_counter() - start) * 1000)
    conn.close()
    return times


def zip_size(binary: Path) -> int:
    out = Path("/tmp") / f"bench-{os.getpid()}.zip"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, binary.read_bytes())
    size = out.stat().st_size
    out.unlink()
    return size


def batch_round(subject: Subject, emulator: str, n: int) -> dict:
    control(emulator, "/_emulator/reset", {})
    control(emulator, "/_emulator/faults", {"throttleRps": 10})
    jobs = [seed(emulator, f"batch-{n}-{i}", "NEVER", dashboard=f"batch-dash-{i % 50}") for i in range(n)]
    api = RuntimeApi(deadline_seconds=900)
    # A direct invocation may answer up to Lambda's 6 MB: lift the state-machine-sized defaults.
    subject = Subject(subject.name, subject.argv, dict(
        subject.env, BATCH_MAX_JOBS=str(n), MAX_OUTPUT_BYTES="6000000", MAX_EVENT_BYTES="6291456"))
    proc = subject.start(api)
    try:
        request_id = api.push({"jobs": jobs})
        start = time.perf_counter()
        answered, code, body = api.wait(request_id, timeout=900)
        if code:
            raise RuntimeError(f"batch failed: {body[:300]!r}")
        out = json.loads(body)
        calls = control(emulator, "/_emulator/calls")
        return {
            "jobs": n,
            "seconds": answered - start,
            "polled": sum(1 for j in out["jobs"] if not j.get("error")),
            "throttled": calls["throttled"],
            "calls": calls["total"],
            "payload_kb": len(body) / 1024,
            "rss_mb": peak_rss_kb(proc.pid) / 1024,
        }
    finally:
        proc.kill()
        proc.wait()
        api.close()
        control(emulator, "/_emulator/faults", {})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--poller", required=True)
    parser.add_argument("--hello", required=True)
    parser.add_argument("--get-floor", required=True)
    parser.add_argument("--sdk-floor", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--warm-runs", type=int, default=300)
    parser.add_argument("--batches", default="100,1000")
    parser.add_argument(
        "--ssl-cert-file",
        help="load the CA store from this one bundle, as on Lambda's AL2023 (its certs/ directory "
        "holds links to the bundle), instead of also reading every file of /etc/ssl/certs",
    )
    args = parser.parse_args()

    env = {
        "PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_ENDPOINT_URL_QUICKSIGHT": args.emulator,
        "AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:9", "SNS_TOPIC_ARN": f"arn:aws:sns:us-east-1:{ACCOUNT}:bench",
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_EC2_METADATA_DISABLED": "true",
    }
    if args.ssl_cert_file:
        env["SSL_CERT_FILE"] = args.ssl_cert_file
    handler_dir = str(ROOT / "benches" / "python_poller")
    subjects = {
        "rust": Subject("rust poller", [args.poller], env),
        "rust-amazon": Subject("rust poller, TRUST_STORE=amazon", [args.poller],
                               dict(env, TRUST_STORE="amazon")),
        "hello": Subject("hello-world lambda_runtime", [args.hello], env),
        "sdk-floor": Subject("SDK alone: default config, one describe", [args.sdk_floor], env),
        "python": Subject("python + boto3 poller", [args.python, "-m", "awslambdaric", "handler.handler"],
                          dict(env, PYTHONPATH=handler_dir, LAMBDA_TASK_ROOT=handler_dir)),
    }
    control(args.emulator, "/_emulator/reset", {})
    running = seed(args.emulator, "bench-running", "NEVER")
    completed = seed(args.emulator, "bench-completed", "COMPLETED")
    subjects["get-floor"] = Subject("floor: one plain GET per invocation", [args.get_floor],
                                    dict(env, FLOOR_GET_URL=args.emulator + describe_path(running)))

    rows = []
    cold = {}
    for key, subject in subjects.items():
        times, rss = cold_start(subject, running, args.cold_runs)
        cold[key] = statistics.median(times)
        rows.append((subject.name, cold[key], rss))
    print(f"\n### Cold start (process start to first answer, median of {args.cold_runs}; describe of a RUNNING job)\n")
    print("| function | cold start ms | peak RSS MB | vs hello-world | vs one-GET floor | vs python |")
    print("|---|---|---|---|---|---|")
    for name, ms, rss in rows:
        print(f"| {name} | {ms:.1f} | {rss / 1024:.1f} | {ms / cold['hello']:.2f}x | {ms / cold['get-floor']:.2f}x | {ms / cold['python']:.3f}x |")

    print(f"\n### Warm invocation latency (Runtime API next -> response, {args.warm_runs} invocations)\n")
    print("The floor is a lambda_runtime function (benches/hello/src/bin/get_floor.rs) that makes one plain")
    print("GET of the same describe URL per invocation, through the same Runtime API.\n")
    print("| what | p50 ms | p99 ms | p50 vs floor | peak RSS MB |")
    print("|---|---|---|---|---|")
    floor_times, floor_rss = warm(subjects["get-floor"], running, args.warm_runs)
    floor_p50 = statistics.median(floor_times)
    print(f"| **floor**: Runtime API + one plain GET (hyper, kept-alive) | {floor_p50:.2f} | {percentile(floor_times, 99):.2f} | 1.00x | {floor_rss / 1024:.1f} |")
    hello_times, _ = warm(subjects["hello"], running, args.warm_runs)
    hello_p50 = statistics.median(hello_times)
    print(f"| hello-world lambda_runtime: the Runtime API round trip alone, no call | {hello_p50:.2f} | {percentile(hello_times, 99):.2f} | {hello_p50 / floor_p50:.2f}x | - |")
    bare = bare_http(args.emulator, running, args.warm_runs)
    print(f"| the GET alone, from Python's http.client (no Runtime API) | {statistics.median(bare):.2f} | {percentile(bare, 99):.2f} | {statistics.median(bare) / floor_p50:.2f}x | - |")
    sdk_times, sdk_rss = warm(subjects["sdk-floor"], running, args.warm_runs)
    sdk_p50 = statistics.median(sdk_times)
    print(f"| the SDK alone (benches/sdk_floor.rs): describe | {sdk_p50:.2f} | {percentile(sdk_times, 99):.2f} | {sdk_p50 / floor_p50:.2f}x | {sdk_rss / 1024:.1f} |")
    for key in ("rust", "python"):
        for label, event in (("RUNNING job (describe)", running), ("COMPLETED job (describe + result)", completed)):
            times, rss = warm(subjects[key], event, args.warm_runs)
            p50 = statistics.median(times)
            print(f"| {subjects[key].name}: {label} | {p50:.2f} | {percentile(times, 99):.2f} | {p50 / floor_p50:.2f}x | {rss / 1024:.1f} |")

    print(f"\n### Deployment zip (bootstrap, deflate -9)\n")
    print(f"| binary | size MB | zip MB |\n|---|---|---|")
    for path in (args.poller, args.hello, args.get_floor, args.sdk_floor):
        size = Path(path).stat().st_size
        print(f"| {Path(path).name} | {size / 1e6:.2f} | {zip_size(Path(path)) / 1e6:.2f} |")

    if args.batches:
        print("\n### Batch rounds against an emulator throttling above 10 calls/s (all jobs RUNNING)\n")
        print("| jobs | round s | polled | throttled answers | QuickSight calls | output KB | peak RSS MB |")
        print("|---|---|---|---|---|---|---|")
        for n in [int(x) for x in args.batches.split(",") if x]:
            r = batch_round(subjects["rust"], args.emulator, n)
            print(f"| {r['jobs']} | {r['seconds']:.1f} | {r['polled']} | {r['throttled']} | {r['calls']} | {r['payload_kb']:.0f} | {r['rss_mb']:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
