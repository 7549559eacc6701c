"""Makespan of a reports run, simulated (issue 26's benchmark, the part moto cannot run at size).

A discrete-event model of statemachine/reports.asl.json's item loop against the account's 12
running snapshot jobs: each of a run's MaxConcurrency slots takes the next item, starts its job
(StartJob; on LimitExceeded an item's capacity wait: 10 s, then 5-25 s jittered, where the
poller's single start waits 60 s, then 30-90 s), polls it
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
             max_wait: int, age_percent: int, seed: int, first_wait: float = 10,
             later_waits: tuple[float, float] = (5, 25)) -> tuple[float, int, int]:
    """Makespan of `runs` runs started together, the starts refused for capacity, the polls."""
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
    polls = 0
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
                wait = first_wait if waits == 0 else rng.uniform(*later_waits)
                push(now + wait + 3 * STATE_OVERHEAD, "start", run, waits + 1)
        elif kind == "job-ends":
            running_jobs -= 1
        elif kind == "poll":
            polls += 1
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
    return end, refused, polls


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=240)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()

    # (runs, concurrency per run, MIN_WAIT_SECONDS, capacity waits: first, later range)
    item, poller = (10, (5, 25)), (60, (30, 90))
    scenarios = [
        (1, 10, 5, item), (1, 12, 5, item), (1, 12, 1, item), (2, 10, 5, poller),
        (2, 10, 5, item), (2, 6, 5, item), (2, 6, 1, item),
    ]
    print(f"\n### Reports run makespan, simulated: {args.reports} reports of {args.seconds:g} s "
          f"per run, {SLOTS} job slots, median of {args.seeds} seeds\n")
    print("| runs | ReportsMaxConcurrency | MIN_WAIT_SECONDS | capacity waits s | makespan s "
          "| physical limit s | ratio | starts refused (LimitExceeded) | polls per report |")
    print("|---|---|---|---|---|---|---|---|---|")
    for runs, concurrency, min_wait, (first, later) in scenarios:
        results = [simulate(runs, args.reports, args.seconds, concurrency, min_wait, 60, 20,
                            seed, first, later) for seed in range(args.seeds)]
        makespan = statistics.median(r[0] for r in results)
        refused = statistics.median(r[1] for r in results)
        polls = statistics.median(r[2] for r in results) / (runs * args.reports)
        limit = math.ceil(runs * args.reports / SLOTS) * args.seconds
        print(f"| {runs} | {concurrency} | {min_wait} | {first}, then {later[0]}-{later[1]} "
              f"| {makespan:.0f} | {limit:.0f} | {makespan / limit:.2f}x | {refused:.0f} "
              f"| {polls:.1f} |")

if __name__ == "__main__":
    main()
