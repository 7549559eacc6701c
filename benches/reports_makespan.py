"""Makespan of a reports run, simulated (issue 26's benchmark, the part moto cannot run at size).

A discrete-event model of statemachine/reports.asl.json's item loop against the account's 12
running snapshot jobs: each of a run's MaxConcurrency slots takes the next item, starts its job
(StartJob; on LimitExceeded the poller's capacity wait: 60 s, then 30-90 s jittered), polls it
at once and then after each `waitSeconds` (src/wait.rs: MIN_WAIT_SECONDS up to
MAX_WAIT_SECONDS, WAIT_AGE_PERCENT of the job's age), and frees its slot when a poll finds the
job finished. A job holds one of the 12 slots for its run time whoever polls it (the emulator's
wall-clock mode behaves the same). Step Functions' own transitions are counted as a fixed
overhead per state. Runs start together and share the slots.

    python3 benches/reports_makespan.py [--reports 240] [--seconds 10] [--seeds 5]

Prints, per scenario, the makespan (median over seeds) against the physical limit
ceil(runs x reports / 12) x seconds. Figures, not a test.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics

SLOTS = 12  # running snapshot jobs per account
STATE_OVERHEAD = 0.05  # seconds per state transition (Step Functions, Lambda warm invoke)
POLL_STATES = 3  # Poll, Done?, Wait
START_STATES = 6  # Start?, NewJobId, JobIdGiven?, NameJob, StartJob, AlreadyStarted or Poll


def next_wait(age: float, min_wait: int, max_wait: int, age_percent: int) -> int:
    """src/wait.rs's WaitPolicy::next_wait without a deadline."""
    return max(1, min(max_wait, max(min_wait, int(age) * age_percent // 100)))


def simulate(runs: int, reports: int, seconds: float, concurrency: int, min_wait: int,
             max_wait: int, age_percent: int, seed: int) -> tuple[float, int]:
    """Makespan of `runs` runs started together, and the starts refused for capacity."""
    rng = random.Random(seed)
    events: list[tuple[float, int, str, tuple]] = []  # (time, tie, kind, data)
    tie = 0

    def push(at: float, kind: str, *data):
        nonlocal tie
        tie += 1
        heapq.heappush(events, (at, tie, kind, data))

    pending = [reports] * runs
    running_jobs = 0
    refused = 0
    for run in range(runs):
        for _ in range(min(concurrency, reports)):
            pending[run] -= 1
            push(START_STATES * STATE_OVERHEAD, "start", run, 0)
    end = 0.0
    while events:
        now, _, kind, data = heapq.heappop(events)
        if kind == "start":
            run, waits = data
            if running_jobs < SLOTS:
                running_jobs += 1
                push(now + seconds, "job-ends")
                push(now + POLL_STATES * STATE_OVERHEAD, "poll", run, now)
            else:
                refused += 1
                wait = 60 if waits == 0 else rng.uniform(30, 90)
                push(now + wait + 3 * STATE_OVERHEAD, "start", run, waits + 1)
        elif kind == "job-ends":
            running_jobs -= 1
        elif kind == "poll":
            run, started = data
            age = now - started
            if age >= seconds:
                end = max(end, now)
                if pending[run]:
                    pending[run] -= 1
                    push(now + START_STATES * STATE_OVERHEAD, "start", run, 0)
            else:
                wait = next_wait(age, min_wait, max_wait, age_percent)
                push(now + wait + POLL_STATES * STATE_OVERHEAD, "poll", run, started)
    return end, refused


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=240)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()

    scenarios = [  # (runs, concurrency per run, MIN_WAIT_SECONDS)
        (1, 10, 5), (1, 12, 5), (1, 12, 1), (2, 10, 5), (2, 6, 5), (2, 6, 1),
    ]
    print(f"\n### Reports run makespan, simulated: {args.reports} reports of {args.seconds:g} s "
          f"per run, {SLOTS} job slots, median of {args.seeds} seeds\n")
    print("| runs | ReportsMaxConcurrency | MIN_WAIT_SECONDS | makespan s | physical limit s "
          "| ratio | starts refused (LimitExceeded) |")
    print("|---|---|---|---|---|---|---|")
    for runs, concurrency, min_wait in scenarios:
        results = [simulate(runs, args.reports, args.seconds, concurrency, min_wait, 60, 20,
                            seed) for seed in range(args.seeds)]
        makespan = statistics.median(r[0] for r in results)
        refused = statistics.median(r[1] for r in results)
        limit = math.ceil(runs * args.reports / SLOTS) * args.seconds
        print(f"| {runs} | {concurrency} | {min_wait} | {makespan:.0f} | {limit:.0f} "
              f"| {makespan / limit:.2f}x | {refused:.0f} |")


if __name__ == "__main__":
    main()
