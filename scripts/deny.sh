#!/usr/bin/env bash
# cargo-deny over Cargo.lock with deny.toml: licenses, bans, sources. Installs the pinned
# cargo-deny from crates.io when missing (a few minutes, once per machine).
# Advisories need the RustSec database from GitHub, which these machines cannot reach: that
# check runs only when DENY_ADVISORIES=1 (and the database can be fetched).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VERSION=0.20.2

if [[ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $VERSION" ]]; then
  echo "deny: installing cargo-deny $VERSION" >&2
  # Its own target dir: a shared one would hold the project's build lock for minutes.
  cargo install --locked --quiet cargo-deny --version "$VERSION" \
    --target-dir "${CARGO_HOME:-$HOME/.cargo}/cargo-deny-build"
fi

# cargo-deny reads the metadata of every platform's crates (windows-sys, ...), which a build on
# this platform never downloads: fetch them all first, then check offline.
cargo fetch --locked --quiet

checks=(licenses bans sources)
[[ ${DENY_ADVISORIES:-0} == 1 ]] && checks+=(advisories)
cargo deny --offline --all-features check "${checks[@]}"
