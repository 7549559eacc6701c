"""pytest fixtures of the end-to-end suite. The stack itself (processes, clients, helpers) lives
in the harness package (harness/, at the repository's root, on sys.path through pyproject.toml's
pytest `pythonpath`), which scripts/run.py uses too.

Env: CARGO_TARGET_DIR (default ~/.cache/quicksight-snapshot-poller/target),
     E2E_REQUIRE_BINARIES=1 (fail instead of skip when the Rust binaries are missing; CI),
     E2E_LAMBDA_MODE=prebuilt|watch, E2E_LOG_DIR (default .e2e/logs).
Logs of every process are kept in E2E_LOG_DIR/<module>/ for a failed run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from harness.env import CARGO_TARGET_DIR, EMULATOR_BIN, POLLER_BIN, ROOT, VENV_BIN
from harness.stack import Stack


def require_binaries(*paths: Path):
    missing = [str(p) for p in paths if not p.is_file()]
    if not missing:
        return
    message = ("Rust binaries not built: " + ", ".join(missing) +
               " (cargo build --workspace; CARGO_TARGET_DIR=" + str(CARGO_TARGET_DIR) + ")")
    if os.environ.get("E2E_REQUIRE_BINARIES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_tools():
    missing = [p for p in (VENV_BIN / "moto_server", VENV_BIN / "cargo-lambda") if not p.exists()]
    if missing:
        pytest.fail(f"missing {missing}: run scripts/tools.sh first")
    if shutil.which("cargo") is None:
        pytest.fail("cargo is not on PATH (cargo lambda watch runs `cargo metadata`)")


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def log_dir(request) -> Path:
    base = Path(os.environ.get("E2E_LOG_DIR") or ROOT / ".e2e" / "logs")
    path = base / request.module.__name__.rsplit(".", 1)[-1]
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="module")
def make_stack(log_dir):
    """Factory: make_stack(poller_env=None, function=None, with_emulator=True) -> a started Stack.
    Everything it started is stopped at module teardown."""
    require_tools()
    stacks: list[Stack] = []

    def make(**kwargs) -> Stack:
        stack = Stack(log_dir=log_dir)
        stacks.append(stack)
        try:
            stack.start(**kwargs)
        except Exception:
            sys.stderr.write(stack.diagnostics() + "\n")
            raise
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture(scope="module")
def poller_stack(make_stack) -> Stack:
    """The real thing: poller binary + QuickSight emulator + moto + front."""
    require_binaries(POLLER_BIN, EMULATOR_BIN)
    return make_stack()


@pytest.fixture
def stack(poller_stack, request) -> Stack:
    """poller_stack, reset for one test; process logs are printed when the test fails."""
    poller_stack.reset()
    yield poller_stack
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        sys.stderr.write(poller_stack.diagnostics() + "\n")


@pytest.fixture
def poller_env(stack):
    """poller_env(NAME=value, ...) restarts the function side (cargo lambda watch + poller) with
    those settings over the defaults; the defaults come back after the test."""
    changed = []

    def apply(**env: str):
        stack.restart_function(env)
        changed.append(env)

    yield apply
    if changed:
        stack.restart_function()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)

