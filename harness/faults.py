"""The one fault dialect of the harness, spoken by the QuickSight emulator
(`POST /_emulator/faults`, a job's `faults`; emulator/src/faults.rs) and by the Lambda front
(`POST /_lambda_front/faults`; harness/front/publish.py), e.g.

    [{"operation": "describe", "error": "ThrottlingException", "count": 2},
     {"operation": "publish", "kind": "delay", "delayMs": 2000}]

The dialect is documented in docs/testing.md ("Faults"); its vocabulary, what each service
knows, is emulator/fault-dialect.json, which the emulator reads too.
Here a spec is parsed and checked as the service would (Fault.parse), so the harness helpers
that arm faults refuse a typo with its reason, and the front consumes its faults in order
(FaultList). Stdlib only: the Lambda front imports it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

DIALECT = json.loads(
    (Path(__file__).resolve().parents[1] / "emulator" / "fault-dialect.json").read_text())
FIELDS = tuple(DIALECT["fields"])


@dataclass(frozen=True)
class Target:
    """What one fault-injecting service accepts."""

    name: str
    operations: tuple[str, ...]
    kinds: tuple[str, ...]  # besides "error"
    errors: tuple[str, ...] | None  # None: the service checks error names itself


def _target(key: str) -> Target:
    spec = DIALECT["targets"][key]
    errors = spec["errors"]
    return Target(spec["name"], tuple(spec["operations"]), tuple(spec["kinds"]),
                  tuple(errors) if errors is not None else None)


EMULATOR = _target("emulator")
# `partial-failure` is PutEvents' own (harness/front/events.py): an SNS Publish ignores it.
FRONT = _target("front")


class FaultError(ValueError):
    """A fault spec the target would refuse; the message says which one and why."""


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Fault:
    """One parsed fault: `effect` is the error name or the kind."""

    operation: str
    effect: str
    is_error: bool
    delay_ms: int | None = None
    count: int | None = None  # None never runs out

    @classmethod
    def parse(cls, spec, target: Target) -> Fault:
        """Validates one spec as the target would; raises FaultError with the reason."""
        if not isinstance(spec, dict):
            raise FaultError(f"a fault is a JSON object, not {spec!r}")
        unknown = sorted(set(spec) - set(FIELDS))
        if unknown:
            raise FaultError(f"unknown field(s) {unknown}: expected {', '.join(FIELDS)}")
        operation = spec.get("operation") or "any"
        if operation != "any" and operation not in target.operations:
            raise FaultError(f"unknown fault operation {operation!r} for the {target.name}: "
                             f"expected {', '.join(target.operations)} or any")
        kind, error = spec.get("kind"), spec.get("error")
        delay_ms, count = spec.get("delayMs"), spec.get("count")
        if count is not None and not _is_count(count):
            raise FaultError(f"count must be an integer >= 0, not {count!r}")
        if delay_ms is not None and not _is_count(delay_ms):
            raise FaultError(f"delayMs must be an integer >= 0, not {delay_ms!r}")
        if kind in (None, "error"):
            if error is None:
                raise FaultError('a fault needs an "error" name or a "kind"')
            if not isinstance(error, str):
                raise FaultError(f"an error is named by a string, not {error!r}")
            if target.errors is not None and error not in target.errors:
                raise FaultError(f"unknown fault error {error!r} for the {target.name}: "
                                 f"expected one of {', '.join(target.errors)}")
            return cls(operation, error, True, count=count)
        if error is not None:
            raise FaultError('a fault has either "error" or "kind", not both')
        if kind not in target.kinds:
            raise FaultError(f"unknown fault kind {kind!r} for the {target.name}: expected "
                             f"{', '.join(target.kinds)} or error")
        if kind == "delay" and delay_ms is None:
            raise FaultError('a "delay" fault needs "delayMs"')
        return cls(operation, kind, False, delay_ms if kind == "delay" else None, count)

    def to_json(self, count: int | None = None) -> dict:
        """The spec as the dialect spells it (`count`: another count to show, e.g. what is
        left)."""
        spec: dict = {"operation": self.operation}
        spec["error" if self.is_error else "kind"] = self.effect
        if self.delay_ms is not None:
            spec["delayMs"] = self.delay_ms
        count = self.count if count is None else count
        if count is not None:
            spec["count"] = count
        return spec


def parse_faults(specs, target: Target) -> list[Fault]:
    """A list of specs, each checked; the error names the first bad one as faults[i]."""
    if not isinstance(specs, list):
        raise FaultError(f"faults are a JSON list, not {specs!r}")
    parsed = []
    for index, spec in enumerate(specs):
        try:
            parsed.append(Fault.parse(spec, target))
        except FaultError as why:
            raise FaultError(f"faults[{index}]: {why}") from None
    return parsed


def checked(specs, target: Target) -> list[dict]:
    """The specs as the target reads them, after the same checks (for the harness helpers that
    arm faults: a typo fails in the test, with the reason, not as a 400 from the service)."""
    return [fault.to_json() for fault in parse_faults(list(specs), target)]


class FaultList:
    """Faults armed in a service, consumed in order (thread-safe)."""

    def __init__(self, faults: list[Fault] | None = None):
        self._lock = threading.Lock()
        self._faults = list(faults or [])
        self._left = [fault.count for fault in self._faults]
        self.injected = 0  # calls a fault was applied to

    def take(self, operation: str) -> Fault | None:
        """The fault this call gets, if one is due; it loses one use."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                left = self._left[index]
                if fault.operation in ("any", operation) and left != 0:
                    if left is not None:
                        self._left[index] = left - 1
                    self.injected += 1
                    return fault
        return None

    def state(self) -> dict:
        """{"faults": [each spec with the count it has left], "injected": calls faulted}."""
        with self._lock:
            return {"faults": [fault.to_json(left) for fault, left in
                               zip(self._faults, self._left, strict=True)],
                    "injected": self.injected}
