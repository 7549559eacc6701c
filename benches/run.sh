#!/usr/bin/env bash
# Benchmarks (figures, not tests): release poller vs a hello-world lambda_runtime binary vs a
# Python/boto3 poller, against the local QuickSight emulator. Prints markdown tables.
# Usage: benches/run.sh [--cold-runs N] [--warm-runs N] [--batches 100,1000]
# Env:   COMPARE_POLLER=PATH  another build of the poller for the TLS tables (e.g. one on aws-lc)
# The TLS tables (benches/tls_cold.py) set CPU quotas through cgroup v1, which needs root; as
# another user they show full CPU only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quicksight-snapshot-poller/target}

# Release builds are slow (LTO, one codegen unit): kept out of the test suite, built here.
# Only binaries, no examples or tests: those would pull dev-dependency features into the build.
cargo build --release --locked -p quicksight-snapshot-poller --bin quicksight-snapshot-poller --bin sdk-floor
cargo build --release --locked -p hello-lambda --bin hello-lambda --bin get-floor --bin tls-floor
# The emulator stands in for QuickSight: built optimized too, so its own parsing of the SDK's
# longer requests does not pad the poller's figures against the floor's plain GET.
cargo build --release --locked -p quicksight-emulator

venv=.venv-bench
stamp=$( { cat requirements/bench.txt; python3 -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || ! -f $venv/.stamp || $(<"$venv/.stamp") != "$stamp" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements/bench.txt
  echo "$stamp" >"$venv/.stamp"
fi

log=$(mktemp)
"$CARGO_TARGET_DIR/release/quicksight-emulator" --port 0 >"$log" 2>/dev/null &
emulator_pid=$!
trap 'kill $emulator_pid 2>/dev/null; wait $emulator_pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
url=$(awk '/listening on/ {print $3; exit}' "$log")

"$venv/bin/python" benches/bench.py --emulator "$url" \
  --poller "$CARGO_TARGET_DIR/release/quicksight-snapshot-poller" \
  --hello "$CARGO_TARGET_DIR/release/hello-lambda" \
  --get-floor "$CARGO_TARGET_DIR/release/get-floor" \
  --sdk-floor "$CARGO_TARGET_DIR/release/sdk-floor" \
  --python "$ROOT/$venv/bin/python" "$@"

# Over TLS, as Lambda runs it: a certificate chain, one CA bundle file, the 128 MB CPU share.
scripts/tools.sh e2e >&2  # its venv has the `cryptography` that makes the chain
.venv/bin/python benches/tls_cold.py --emulator-bin "$CARGO_TARGET_DIR/release/quicksight-emulator" \
  --poller "$CARGO_TARGET_DIR/release/quicksight-snapshot-poller" \
  --sdk-floor "$CARGO_TARGET_DIR/release/sdk-floor" \
  --tls-floor "$CARGO_TARGET_DIR/release/tls-floor" \
  --hello "$CARGO_TARGET_DIR/release/hello-lambda" \
  ${COMPARE_POLLER:+--compare-poller "$COMPARE_POLLER"}
