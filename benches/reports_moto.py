"""A reports run measured on moto (issue 26's benchmark at the size moto can run).

Starts the test harness's stack (moto with its Step Functions engine, the emulator in wall-clock
mode with its 12 slots, the real function's debug build behind the Lambda front), runs
statemachine/reports.asl.json as the template deploys it over REPORTS reports of SECONDS each,
and prints what one report costs as counted there: QuickSight calls (the emulator's counts),
state transitions (StateEntered events of the run's history, its map iterations included),
function invocations (the run's Lambda task events), and the makespan against the physical
limit ceil(REPORTS / 12) x SECONDS. The function runs with the template's wait defaults
(MIN_WAIT_SECONDS 5, MAX_WAIT_SECONDS 60, WAIT_AGE_PERCENT 20), not the suite's 1 s waits.
moto keeps a map iteration's events out of the run's history, so an item's transitions are
counted from the definition's path: Start?, NewJobId, JobIdGiven?, NameJob, StartJob, then
Poll and Done? per poll, Wait between polls, ItemDone (5 + 3 x polls). moto's engine adds its
own per-state time, so the makespan is an upper bound of what the definition costs;
benches/reports_makespan.py models the 240-report case.

    .venv/bin/python benches/reports_moto.py [--reports 24] [--seconds 4] [--concurrency 12]

Needs the suite's debug build (cargo build --workspace) and the pinned tools (scripts/tools.sh).
Figures, not a test.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.reports import report  # noqa: E402
from harness.stack import Stack  # noqa: E402

# us-east-1 list prices (December 2026): Step Functions Standard per state transition, Lambda
# per GB-second (x86) and per request, S3 Standard PUT and GET per request.
TRANSITION_USD = 0.025 / 1000
GB_SECOND_USD = 0.0000166667
REQUEST_USD = 0.20 / 1_000_000
S3_PUT_USD = 0.005 / 1000
S3_GET_USD = 0.0004 / 1000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--billed-ms", type=float, default=100,
                        help="billed ms per invocation: QuickSight's answer, ~100 ms")
    args = parser.parse_args(argv)

    stack = Stack(log_dir=Path(tempfile.mkdtemp(prefix="reports-moto-")))
    try:
        stack.start(poller_env={"MIN_WAIT_SECONDS": "5", "MAX_WAIT_SECONDS": "60",
                                "WAIT_AGE_PERCENT": "20"})
        machine = stack.create_state_machine(
            "bench-reports", stack.reports_definition(max_concurrency=args.concurrency))
        stack.emulator("POST", "defaults", {"runSeconds": args.seconds, "outcome": "COMPLETED"})
        started = time.monotonic()
        execution = stack.start_execution(
            "bench", {"reports": [report(i) for i in range(args.reports)], "runId": "bench"},
            timeout=60 + 20 * args.reports, state_machine_arn=machine)
        makespan = time.monotonic() - started
        calls = stack.emulator("GET", "calls")["byOperation"]
    finally:
        stack.stop()
    if execution.status != "SUCCEEDED":
        print(execution.summary(), file=sys.stderr)
        return 1
    run_transitions = len(execution.states_entered())
    polls = calls["describe"] / args.reports
    transitions = run_transitions + args.reports * (5 + 3 * polls)
    lambdas = sum(1 for e in execution.events("TaskScheduled", "LambdaFunctionScheduled")
                  if e.get("taskScheduledEventDetails", {}).get("resourceType", "lambda")
                  == "lambda")
    limit = math.ceil(args.reports / 12) * args.seconds
    n = args.reports
    per = {
        "QuickSight calls": sum(calls.values()) / n,
        "  StartDashboardSnapshotJob": calls["start"] / n,
        "  DescribeDashboardSnapshotJob": calls["describe"] / n,
        "  DescribeDashboardSnapshotJobResult": calls["result"] / n,
        "state transitions (run's own + item path)": transitions / n,
        "function invocations (polls + survey, summary)": (calls["describe"] + lambdas) / n,
    }
    print(f"{n} reports of {args.seconds:g} s, MaxConcurrency {args.concurrency}, on moto")
    print(f"makespan {makespan:.1f} s, limit {limit:g} s, ratio {makespan / limit:.2f}x")
    for name, value in per.items():
        print(f"per report: {name:40s} {value:6.2f}")
    # The function runs for every poll (one describe each) plus the survey and the summary;
    # S3: the results file's PUT, the manifest's two GETs (an inline manifest has none).
    invocations = (calls["describe"] + lambdas) / n
    per_invocation = 0.125 * args.billed_ms / 1000 * GB_SECOND_USD + REQUEST_USD
    costs = {"transitions": transitions / n * TRANSITION_USD,
             "Lambda": invocations * per_invocation,
             "S3": (S3_PUT_USD + 2 * S3_GET_USD) / n}
    parts = ", ".join(f"{k} ${v * 1000:.4f}" for k, v in costs.items())
    print(f"cost per 1,000 reports: ${sum(costs.values()) * 1000:.3f} ({parts})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
