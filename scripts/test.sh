#!/usr/bin/env bash
# The whole test suite, from a fresh clone: pinned tools, one build, Rust tests, lint, end to end.
# Usage: scripts/test.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quicksight-snapshot-poller/target}
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "tools (pinned: requirements/*.txt, package-lock.json)"
scripts/tools.sh

step "cargo fmt --check"
cargo fmt --all -- --check

# One debug build serves the unit tests, the integration tests and the e2e binaries.
step "cargo build (workspace, all targets)"
cargo build --workspace --all-targets --locked

step "cargo test"
cargo test --workspace --locked

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny (licenses, bans, sources)"
scripts/deny.sh

step "template and state machine lint"
scripts/lint.sh

step "end to end (emulator + moto + cargo-lambda + Step Functions)"
E2E_REQUIRE_BINARIES=1 .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider
