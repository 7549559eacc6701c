#!/usr/bin/env bash
# Packages the function exactly as template.yaml deploys it: `sam build` (BuildMethod
# rust-cargolambda -> `cargo lambda build --release`) with the pinned SAM CLI, cargo-lambda and
# zig, then checks the artefact: .aws-sam/build/PollerFunction/bootstrap, an ELF executable of
# the chosen architecture, and (x86_64 on an x86_64 machine) that it runs and prints its version.
# The release build (fat LTO, one codegen unit) takes about 12 minutes on 2 cores the first time,
# so it is kept out of scripts/test.sh. Deploy afterwards with `sam deploy` (README, Deploy).
#
# Usage: scripts/package.sh [x86_64|arm64]    (default: the template's arm64)
#        arm64 needs `rustup target add aarch64-unknown-linux-gnu`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARCH=${1:-arm64}
case $ARCH in
  x86_64) TRIPLE=x86_64-unknown-linux-gnu; ELF_ARCH=x86-64 ;;
  arm64) TRIPLE=aarch64-unknown-linux-gnu; ELF_ARCH=aarch64 ;;
  -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "package: unknown architecture $ARCH (x86_64 or arm64)" >&2; exit 2 ;;
esac
if ! rustup target list --installed 2>/dev/null | grep -qx "$TRIPLE"; then
  if [[ $ARCH == arm64 ]]; then
    echo "package: the Rust target $TRIPLE is not installed: rustup target add $TRIPLE" >&2
    echo "         (or package for x86_64: scripts/package.sh x86_64, and deploy with" >&2
    echo "          --parameter-overrides Architecture=x86_64)" >&2
    exit 2
  fi
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quicksight-snapshot-poller/target}
export CARGO_TERM_COLOR=never
step() { printf '==> %s\n' "$*"; }

step "tools (pinned: requirements/e2e.txt for cargo-lambda and zig, requirements/sam.txt)"
scripts/tools.sh e2e sam
# cargo-lambda finds the PyPI zig only when the venv's python3 comes first on PATH.
export PATH="$ROOT/.venv/bin:$PATH"
# No telemetry call home from a build machine that cannot reach it anyway.
export SAM_CLI_TELEMETRY=0
# SAM CLI still calls the rust-cargolambda build method a beta feature and would ask, which an
# unattended run cannot answer.
export SAM_CLI_BETA_RUST_CARGO_LAMBDA=1

step "sam build (Architecture=$ARCH, release profile of Cargo.toml)"
start=$SECONDS
"$ROOT/.venv-sam/bin/sam" build --beta-features --parameter-overrides "Architecture=$ARCH"
echo "sam build took $((SECONDS - start)) s"

step "the artefact"
BOOTSTRAP=$ROOT/.aws-sam/build/PollerFunction/bootstrap
[[ -x $BOOTSTRAP ]] || { echo "package: $BOOTSTRAP is missing" >&2; exit 1; }
description=$(file -b "$BOOTSTRAP" 2>/dev/null || true)
echo "$BOOTSTRAP: $description"
if [[ -n $description && $description != *"$ELF_ARCH"* ]]; then
  echo "package: expected an ELF for $ELF_ARCH" >&2
  exit 1
fi
"$ROOT/.venv/bin/python" - "$BOOTSTRAP" <<'PY'
import io, os, sys, zipfile
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    archive.write(sys.argv[1], "bootstrap")
print(f"bootstrap: {os.path.getsize(sys.argv[1]) / 1e6:.2f} MB; "
      f"deployment zip (deflate -9): {len(buffer.getvalue()) / 1e6:.2f} MB")
PY
if [[ $ARCH == x86_64 && $(uname -m) == x86_64 ]]; then
  version=$(env -u AWS_LAMBDA_RUNTIME_API "$BOOTSTRAP" --version)
  echo "runs: $version"
fi
