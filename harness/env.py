"""Where things are and what every child process of the harness gets in its environment."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
ASL_PATH = ROOT / "statemachine" / "poller.asl.json"

CARGO_TARGET_DIR = Path(
    os.environ.get("CARGO_TARGET_DIR")
    or Path.home() / ".cache" / "quicksight-snapshot-poller" / "target"
)
POLLER_BIN = CARGO_TARGET_DIR / "debug" / "quicksight-snapshot-poller"
EMULATOR_BIN = CARGO_TARGET_DIR / "debug" / "quicksight-emulator"

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def base_env() -> dict[str, str]:
    """The environment of every child: ours, minus anything that points AWS clients elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "MOTO_")) and k not in ("HTTP_PROXY", "HTTPS_PROXY",
                                                                "http_proxy", "https_proxy")}
    env.update(DUMMY_CREDENTIALS)
    env["AWS_DEFAULT_REGION"] = REGION
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["CARGO_TARGET_DIR"] = str(CARGO_TARGET_DIR)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # cargo-lambda finds zig here
    return env
