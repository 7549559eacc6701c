"""The front's control API, for tests (JSON in and out):

  GET  /_lambda_front/invocations  the Invokes answered: function, status, functionError,
                                   errorType, ms (`runtimeDown: true` on those answered
                                   ServiceException)
  GET  /_lambda_front/publishes    the SNS Publish calls seen, in arrival order (publish.py)
  GET  /_lambda_front/faults       {"faults": [each armed, with the count it has left],
                                   "injected": Publish calls faulted so far}
  POST /_lambda_front/faults       {"faults": [fault, ...]} in the harness's fault dialect
                                   (harness/faults.py): replaces the list armed (an empty list
                                   switches faults off); answers as GET does, or 400 with the
                                   reason
  POST /_lambda_front/runtime      {"down": true|false}: a test announces (or ends) a
                                   deliberate runtime outage (invoke.py)
  POST /_lambda_front/reset        clears invocations and publishes, switches faults off and
                                   forgets "runtime down"
"""

from __future__ import annotations

import json

from harness.faults import FRONT, FaultError, parse_faults


def control(h, path: str, body: bytes):
    """Answers one control call through handler `h` (harness/front/server.py)."""
    front = h.server
    route = (h.command, path.removeprefix("/_lambda_front/"))
    if route == ("GET", "invocations"):
        return h.reply_json(200, front.invocations.listed())
    if route == ("GET", "publishes"):
        return h.reply_json(200, front.publishes.listed())
    if route == ("POST", "reset"):
        front.invocations.reset()
        front.publishes.reset()
        return h.reply(204, b"", [])
    if route == ("POST", "runtime"):
        try:
            spec = json.loads(body or b"{}")
            if set(spec) != {"down"} or not isinstance(spec["down"], bool):
                raise ValueError
        except (ValueError, AttributeError, TypeError):
            return h.reply_json(400, {"message": 'expected {"down": true|false}'})
        with front.invocations.lock:
            front.invocations.runtime_down = spec["down"]
        return h.reply_json(200, spec)
    if route == ("POST", "faults"):
        try:
            spec = json.loads(body or b"{}")
            if not isinstance(spec, dict) or set(spec) != {"faults"}:
                raise FaultError('expected {"faults": [fault, ...]}')
            faults = parse_faults(spec["faults"], FRONT)
        except ValueError as why:  # FaultError, or bad JSON
            return h.reply_json(400, {"message": str(why)})
        front.publishes.arm(faults)
    if route in (("GET", "faults"), ("POST", "faults")):
        return h.reply_json(200, front.publishes.fault_state())
    return h.reply_json(404, {"message": "unknown control path"})
