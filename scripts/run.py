#!/usr/bin/env python3
"""The main job, locally: the wait loop against the bundled QuickSight emulator, no AWS account.
Started by scripts/run.sh (which installs the tools and builds first); runs with .venv's Python.

Starts the end-to-end stack of harness/stack.py (QuickSight emulator, moto with SNS/SQS/Step
Functions, the Lambda front, `cargo lambda watch` and the poller binary), scripts two sample jobs
in the emulator, one that completes and one that fails, runs one state-machine execution for each
(statemachine/poller.asl.json, as deployed) and prints every poll as it happens, the SNS messages
as they reach the queue subscribed to the topic, each job's "Snapshot Job Finished" event as a
rule on moto's EventBridge delivers it, the final outputs, and the run history the
notice ledger (moto's DynamoDB) kept (`--history`). Then stops everything,
also on Ctrl-C or SIGTERM. Exit status 0 when both executions end as expected.

Usage: scripts/run.sh [--notify-on-success] [--timeout SECONDS]
Env:   CARGO_TARGET_DIR (where the binaries are), E2E_LOG_DIR (default .e2e/logs; logs in run/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

# The harness package sits at the repository's root, which a script's sys.path lacks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.aws import TERMINAL  # noqa: E402  (after the path set-up)
from harness.env import ACCOUNT, EMULATOR_BIN, POLLER_BIN, ROOT, VENV_BIN  # noqa: E402
from harness.stack import Stack  # noqa: E402

JOBS = {  # execution name -> the sample job and how the emulator plays it
    "completes": {"dashboardId": "sales-dashboard", "snapshotJobId": "daily-export-2026-11-28",
                  "queuedPolls": 1, "runningPolls": 2, "outcome": "COMPLETED"},
    "fails": {"dashboardId": "finance-dashboard", "snapshotJobId": "monthly-close-2026-11",
              "queuedPolls": 1, "runningPolls": 1, "outcome": "FAILED",
              "errorInfo": {"ErrorType": "DASHBOARD_ACCESS_DENIED",
                            "ErrorMessage": "The snapshot user lost access to the dashboard."}},
}
EXPECTED = {"completes": "SUCCEEDED", "fails": "FAILED"}


class Stop(BaseException):
    """SIGINT/SIGTERM/SIGHUP: stop everything and exit (a BaseException, like KeyboardInterrupt,
    so no `except Exception` takes it for a failure)."""


def on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def say(text: str = ""):
    print(text, flush=True)


def describe_poll(payload: dict) -> str:
    line = (f"status={payload.get('status')} jobStatus={payload.get('jobStatus')} "
            f"waitSeconds={payload.get('waitSeconds')}")
    if payload.get("error"):
        line += f" error={payload['error'].get('type')}"
    if payload.get("notification"):
        line += f" notified={payload['notification'].get('messageId')}"
    return line


def show_events(name: str, events: list[dict], last_poll: dict):
    """One line per poll (and per retried or caught error) of an execution, as it happens;
    last_poll[name] keeps the poller's latest output."""
    for event in events:
        kind = event["type"]
        if kind == "TaskSucceeded":
            details = event["taskSucceededEventDetails"]
            output = json.loads(details["output"])
            if details["resourceType"] == "lambda":
                payload = output.get("Payload") or {}
                last_poll[name] = payload
                say(f"[{name}] poll {payload.get('attempt')}: {describe_poll(payload)}")
            else:
                say(f"[{name}] {details['resourceType']}:{details['resource']} -> "
                    f"{json.dumps(output)[:160]}")
        elif kind == "TaskFailed":
            details = event["taskFailedEventDetails"]
            say(f"[{name}] {details['resourceType']}:{details['resource']} failed: "
                f"{details.get('error')}")
        elif kind in ("WaitStateEntered", "FailStateEntered", "SucceedStateEntered"):
            say(f"[{name}] -> {event['stateEnteredEventDetails']['name']}")
        elif (kind.endswith("StateEntered")
              and event["stateEnteredEventDetails"]["name"] == "NotifyFailure"):
            say(f"[{name}] -> NotifyFailure (the state machine publishes)")


def show_sns(messages: list[dict]):
    for m in messages:
        body = m["message"]
        status = body.get("status") if isinstance(body, dict) else None
        say(f"[sns] {m['subject']!r} attributes={json.dumps(m['attributes'], sort_keys=True)}"
            + (f" status={status}" if status else ""))


def show_job_events(events: list[dict]) -> int:
    for event in events:
        detail = event["detail"]
        job = detail["job"]
        say(f"[events] {event['detail-type']!r} source={event['source']} "
            f"{job['dashboardId']}/{job['snapshotJobId']} status={detail['status']} "
            f"files={detail['counts']['files']}")
    return len(events)


def check_prerequisites():
    missing = [str(p) for p in (POLLER_BIN, EMULATOR_BIN, VENV_BIN / "moto_server",
                                VENV_BIN / "cargo-lambda") if not p.exists()]
    if shutil.which("cargo") is None:
        missing.append("cargo on PATH")
    if missing:
        sys.exit("run: missing " + ", ".join(missing)
                 + " (scripts/run.sh installs and builds them)")


def run(args) -> int:
    log_dir = Path(os.environ.get("E2E_LOG_DIR") or ROOT / ".e2e" / "logs") / "run"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    stack = Stack(log_dir=log_dir)
    started = time.monotonic()
    try:
        say("starting the QuickSight emulator, moto, the Lambda front, cargo lambda watch and "
            "the poller ...")
        env = {"MIN_WAIT_SECONDS": "1", "MAX_WAIT_SECONDS": "2",
               "NOTIFY_ON_SUCCESS": "true" if args.notify_on_success else "false"}
        stack.start(poller_env=env)
        say(f"  up in {stack.timings['stack_start_s']} s: QuickSight emulator "
            f"{stack.emulator_url}, moto {stack.moto_url}, front {stack.front_url}; "
            f"logs in {log_dir}")
        say(f"  poller settings: {json.dumps(env)} (SNS topic {stack.topic_arn})")

        arns = {}
        for name, job in JOBS.items():
            stack.emulator("POST", "jobs", {"awsAccountId": ACCOUNT, **job})
            reference = {"AwsAccountId": ACCOUNT, "DashboardId": job["dashboardId"],
                         "SnapshotJobId": job["snapshotJobId"]}
            arns[name] = stack.begin_execution(name, reference)
            say(f"[{name}] execution started with {json.dumps(reference)}")

        sfn = stack.client("stepfunctions")
        seen = {name: 0 for name in arns}
        last_poll: dict[str, dict] = {}
        finished: dict[str, dict] = {}
        events = 0
        deadline = time.monotonic() + args.timeout
        while len(finished) < len(arns):
            for name, arn in arns.items():
                if name in finished:
                    continue
                describe = sfn.describe_execution(executionArn=arn)
                history = stack.history(arn)
                show_events(name, history[seen[name]:], last_poll)
                seen[name] = len(history)
                if describe["status"] in TERMINAL:
                    finished[name] = describe
            show_sns(stack.sns_messages())
            events += show_job_events(stack.job_events())
            if time.monotonic() > deadline:
                say(f"run: executions still running after {args.timeout} s")
                return 1
            if stack.function is not None:
                stack.function.check_alive()
            time.sleep(0.2)
        time.sleep(0.3)  # a notice published just before the end
        show_sns(stack.sns_messages())
        events += show_job_events(stack.job_events())

        say()
        ok = True
        for name, describe in finished.items():
            say(f"[{name}] execution {describe['status']} "
                f"(expected {EXPECTED[name]}) in "
                f"{(describe['stopDate'] - describe['startDate']).total_seconds():.1f} s")
            if describe.get("output"):
                say(json.dumps(json.loads(describe["output"]), indent=2))
            else:
                say(f"  error={describe.get('error')} cause={describe.get('cause')}")
                if name in last_poll:
                    say("  the poller's last output:")
                    say(json.dumps(last_poll[name], indent=2))
            ok &= describe["status"] == EXPECTED[name]
        calls = stack.emulator("GET", "calls")
        say(f"QuickSight emulator calls: {json.dumps(calls['byOperation'])}")
        say(f"job events: {events} (one per finished job expected)")
        ok &= events == len(arns)
        ok &= show_history(stack)
        return 0 if ok else 1
    except Exception:
        sys.stderr.write(stack.diagnostics() + "\n")
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping everything ...")
        stack.stop()
        say(f"done in {time.monotonic() - started:.1f} s")


def show_history(stack: Stack) -> bool:
    """The run history as `--history` prints it from the notice ledger (moto's DynamoDB)."""
    env = {**os.environ, **stack.function_env(None)}
    done = subprocess.run([str(POLLER_BIN), "--history", "10"], capture_output=True, text=True,
                          env=env, timeout=60)
    if done.returncode != 0:
        say(f"run history: --history failed: {done.stderr.strip()}")
        return False
    say("run history (quicksight-snapshot-poller --history, from the notice ledger):")
    for job in json.loads(done.stdout):
        say(f"  {job['endedAt']} {job['status']:<9} {job['dashboardId']}/{job['snapshotJobId']}"
            f" notice={job['notice']} startedBy={job['startedBy']}")
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notify-on-success", action="store_true",
                    help="also publish a notice for the completed job (NOTIFY_ON_SUCCESS=true)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds to wait for the executions (default 60)")
    args = ap.parse_args()
    check_prerequisites()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return run(args)
    except Stop as stop:
        say(f"stopped by {stop}")
        return 130


if __name__ == "__main__":
    sys.exit(main())
