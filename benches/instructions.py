"""Instructions (valgrind --tool=callgrind) of builds of the poller side by side: init plus the
first poll, and each warm poll, over TLS against the QuickSight emulator, as benches/tls_cold.py
measures them for the floor. For a change that must not cost anything (a restructuring): build the
poller before and after it (release), and give both here. Counts do not move with the machine's
load; each build is measured `--runs` times to show what little they do move.

    .venv/bin/python benches/instructions.py --emulator-bin EMULATOR \
        --poller before=PATH --poller after=PATH [--runs 3] [--warm-runs 50]

The emulator may be a debug build: only the poller's process is counted. Figures, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench import Subject
from tls_cold import RUNNING, instructions, lambda_env, make_chain, start_tls_emulator


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator-bin", required=True)
    parser.add_argument("--poller", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=50)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="instructions-"))
    bundle, _, chain, key = make_chain(workdir)
    emulator, https = start_tls_emulator(args.emulator_bin, chain, key, workdir, RUNNING)
    env = lambda_env(https, bundle, workdir)
    try:
        rows = []
        for spec in args.poller:
            name, _, path = spec.partition("=")
            subject = Subject(name, [path], env)
            cold, warm = [], []
            for _ in range(args.runs):
                first, per_poll = instructions(subject, RUNNING, workdir, args.warm_runs)
                cold.append(first)
                warm.append(per_poll * 1000)
            rows.append((name, path, cold, warm))
    finally:
        emulator.kill()
    print(f"\n### Instructions (callgrind), {args.runs} runs each, warm polls from "
          f"{args.warm_runs}\n")
    print("| build | init + first poll (M), median | range | per warm poll (k), median "
          "| range |")
    print("|---|---|---|---|---|")
    for name, _, cold, warm in rows:
        print(f"| {name} | {statistics.median(cold):.3f} | {min(cold):.3f}-{max(cold):.3f} "
              f"| {statistics.median(warm):.1f} | {min(warm):.1f}-{max(warm):.1f} |")


if __name__ == "__main__":
    main()
