"""The pinned tool locks install on every Python the README allows, down to Debian 12's own
3.11.2: pip resolves each lock for that interpreter version from PyPI's metadata (a dry run,
binary wheels only, nothing installed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = sorted((ROOT / "requirements").glob("*.txt"))


@pytest.mark.parametrize("lock", LOCKS, ids=[p.name for p in LOCKS])
def test_every_lock_resolves_for_debian_12s_python(lock, tmp_path):
    # The newest 3.11 is what the locks were made with and what the suite itself runs on.
    python = "3.11.2"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--disable-pip-version-check", "--python-version", python, "--only-binary=:all:",
         "--target", str(tmp_path), "-r", str(lock)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
