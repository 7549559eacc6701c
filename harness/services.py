"""Child processes of the harness: spawning one with its log, readiness, ports, stopping a whole
process tree (psutil), and the JSON control calls every service of the stack answers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from harness.env import ROOT


def free_port() -> int:
    """A free loopback port (there is a small race until the caller binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of pid (process groups can be left, parents cannot)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid).children(recursive=True)
    return []


def signal_group(pgid: int, signum: int) -> bool:
    """Sends signum to process group pgid; False when the group has no member left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class Service:
    """A child process in its own process group, its output in LOG_DIR/NAME.log."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None,
                 cwd: Path = ROOT, first_line: bool = False):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab", buffering=0)  # closed by stop()
        self._log.write(("$ " + " ".join(argv) + "\n").encode())
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if first_line else self._log, stderr=self._log,
            start_new_session=True,  # own process group: stop() kills the whole tree
        )
        self._pump: threading.Thread | None = None

    def read_first_line(self, timeout: float) -> str:
        """Reads the first stdout line, then keeps copying stdout to the log (a full pipe would
        block the child)."""
        stdout = self.proc.stdout
        assert stdout is not None
        box: list[bytes] = []
        reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            raise RuntimeError(f"{self.name} printed no first line within {timeout}s "
                               f"(exit={self.proc.poll()}); see {self.log_path}:\n{self.tail()}")
        line = box[0].decode().strip()
        self._log.write((line + "\n").encode())

        def pump():
            for chunk in iter(lambda: stdout.read1(65536), b""):
                self._log.write(chunk)

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        return line

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                               f"see {self.log_path}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 5.0):
        """SIGTERM to its process group, SIGKILL after `grace` seconds to the group and to every
        descendant that moved to a group of its own."""
        pid = self.proc.pid
        tree = descendants(pid) if self.alive() else []
        if self.proc.returncode is not None and not signal_group(pid, 0):
            # Already reaped and its group is empty: its id may belong to someone else now.
            self._close()
            return
        signal_group(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace)
        signal_group(pid, signal.SIGKILL)
        for child in tree:  # psutil checks that each is still the process it found
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                child.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._close()

    def _close(self):
        if self._pump:
            self._pump.join(2)
        self._log.close()


def wait_for_tcp(port: int, timeout: float, service: Service | None = None):
    """Plain TCP readiness (an HTTP request to cargo-lambda would invoke the function)."""
    deadline = time.monotonic() + timeout
    while True:
        if service:
            service.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
        time.sleep(0.05)


def http_json(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    """One JSON call to a control API; an HTTP error fails with its status and body."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {url} -> {exc.code}: {exc.read().decode()}") from None
    return json.loads(text) if text.strip() else None
