"""Peak memory of the poller for huge events, as Lambda delivers them (through a minimal Runtime
API): the answer, the errorType and the peak RSS (VmHWM) for each event size. Prints a table;
nothing here is a test. The events are refused before any QuickSight call, so no emulator runs.

Usage: .venv/bin/python benches/event_memory.py [--binary PATH] [--max-event-bytes N]
       (default binary: the debug build in CARGO_TARGET_DIR; benches/run.sh builds a release one)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ACCOUNT, RuntimeApi, Subject, peak_rss_kb  # noqa: E402

TARGET = Path(os.environ.get("CARGO_TARGET_DIR")
              or Path.home() / ".cache/quicksight-snapshot-poller/target")
MB = 1_000_000


def events() -> list[tuple[str, dict]]:
    reference = {"AwsAccountId": ACCOUNT, "DashboardId": "d", "SnapshotJobId": "j"}
    small = dict(reference, DashboardId="d" * 600)  # refused by validation, a few bytes
    arn = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:dashboard/" + "x" * (6 * MB - 200)
    within = {"Arn": arn[: 900_000]}  # under the default MAX_EVENT_BYTES, parsed and refused
    batch = {"jobs": [dict(reference, SnapshotJobId=f"job-{i}-" + "y" * 60)
                      for i in range(6 * MB // 130)]}
    return [
        ("1 KB reference, bad id", small),
        ("0.9 MB Arn (parsed, refused)", within),
        ("6 MB Arn", {"Arn": arn}),
        ("6 MB batch of ~46,000 entries", batch),
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(TARGET / "debug" / "quicksight-snapshot-poller"))
    parser.add_argument("--max-event-bytes", default=None)
    args = parser.parse_args()
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "SNS_TOPIC_ARN": f"arn:aws:sns:us-east-1:{ACCOUNT}:bench",
           "AWS_ENDPOINT_URL_QUICKSIGHT": "http://127.0.0.1:9",
           "AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:9",
           "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}
    if args.max_event_bytes:
        env["MAX_EVENT_BYTES"] = args.max_event_bytes
    print(f"binary: {args.binary}")
    print("| event | bytes | answer | peak RSS MB |")
    print("|---|---|---|---|")
    for name, event in events():
        api = RuntimeApi()
        proc = Subject("poller", [args.binary], env).start(api)
        try:
            body = json.dumps(event)
            request_id = api.push(event)
            _, code, data = api.wait(request_id, timeout=120)
            time.sleep(0.05)
            rss = peak_rss_kb(proc.pid) / 1000
            answer = json.loads(data or b"null")
            kind = answer.get("errorType") if code else answer.get("status")
            message = (answer.get("errorMessage") or "")[:60] if code else ""
            print(f"| {name} | {len(body):,} | {kind} {message!r} ({len(data)} B) | {rss:.1f} |")
        finally:
            proc.kill()
            proc.wait()
            api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
