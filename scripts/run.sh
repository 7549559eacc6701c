#!/usr/bin/env bash
# The main job, from a fresh clone: the poll loop against the bundled QuickSight emulator, with
# no AWS account. Installs the pinned tools (scripts/tools.sh e2e), builds once when the binaries
# are missing or stale (the same cargo command as scripts/test.sh, so neither rebuilds for the
# other), then scripts/run.py starts the emulator, moto, the Lambda front and the function, runs a
# state-machine execution for a job that completes and one that fails, prints each poll, the SNS
# messages and the final outputs, and stops everything (also on Ctrl-C).
# Usage: scripts/run.sh [--notify-on-success] [--timeout SECONDS]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quicksight-snapshot-poller/target}
export CARGO_TERM_COLOR=never

step() { printf '==> %s\n' "$*"; }

step "tools (pinned: requirements/e2e.txt)"
scripts/tools.sh e2e

# A no-op in a second or two when nothing changed; minutes only on a first build.
step "cargo build (workspace, all targets) into $CARGO_TARGET_DIR"
cargo build --workspace --all-targets --locked

step "the wait loop"
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/run.py" "$@"
