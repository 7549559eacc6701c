"""Writes statemachine/reports.asl.json, the reports run, from the poller's own definition.

A reports run (issue 26) runs every report of a manifest through a Distributed Map. Each item
runs the poller state machine's start-and-poll loop: its states are defined once, in
statemachine/poller.asl.json, and copied from there by this script with the few changes a map
iteration needs (ITEM_REWRITES below says each, and why). The run's own states are in
statemachine/reports.frame.json, with three kinds of placeholder:
  - an "ItemProcessor" of "@item-loop" becomes a copy of the item loop ("@item-loop SUFFIX": a
    copy whose state names end in " SUFFIX", since state names are unique across all of a state
    machine's Map states); an ItemProcessor {"@item-loop": SUFFIX, "StartAt", "States"} is
    that copy after states of its own (a CSV row's, which make the row a request);
  - a state that is "@poller" is the poller's state of that name, as it is (the failure notice
    a run that cannot run ends with);
  - a "Retry" of "@poll-retry" is the poller's Poll state's retry policy.

    python3 scripts/reports_asl.py          # writes the definition
    python3 scripts/reports_asl.py --check  # exits 1 when the committed one is not what it writes

tests/e2e/test_statemachine_definition.py runs --check, so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLLER = ROOT / "statemachine" / "poller.asl.json"
FRAME = ROOT / "statemachine" / "reports.frame.json"
OUT = ROOT / "statemachine" / "reports.asl.json"
PLACEHOLDER = "@item-loop"

# The poller's states an item runs, from the start request to the job's end.
LOOP = ["Start?", "NewJobId", "JobIdGiven?", "GivenJobId", "NameJob", "StartJob",
        "AlreadyStarted", "CapacityLeft?", "WaitForCapacity", "CountCapacityWait",
        "StartFailed", "CapacityExhausted", "InvalidStartRequest", "Poll", "Done?", "Wait",
        "ContractViolation"]
# Where the poller's loop leaves for states an item does not run, and where an item goes
# instead: the job's end (the poller told it; the run's summary reads it), or the item's own
# failure (a start refused, bad input, retries spent). An item ends its iteration either way:
# one item's failure is an outcome of the run, not its failure.
EXITS = {
    "ScheduledTick?": "NewJobId",    # an item is never a scheduled tick
    "RunOnSuccess?": "ItemDone",
    "MarkToldByPoller": "ItemDone",
    "NotifyFailure": "ItemFailed",
}
ITEM_ENDS = {
    "ItemDone": {
        "Type": "Pass",
        "Comment": "The job ended (SUCCEEDED, FAILED or TIMED_OUT) and the function recorded it "
                   "under the run. The iteration answers nothing more: the Map keeps only how "
                   "many items ran.",
        "Result": {},
        "End": True,
    },
    "ItemFailed": {
        "Type": "Pass",
        "Comment": "The item could not be run to a job's end: a start request without the "
                   "fields StartJob reads (InvalidStartRequest), a start QuickSight refused, "
                   "no capacity in time, or the poll's retries spent. Its history keeps why; "
                   "the run's summary counts it (no record) and the other items go on.",
        "Result": {},
        "End": True,
    },
}


def _retarget(state: dict) -> None:
    """Points every transition that leaves the loop at the item's own end (EXITS)."""
    def target(name: str) -> str:
        if name in LOOP:
            return name
        if name not in EXITS:
            raise SystemExit(f"the poller's loop now leaves for {name!r}: say in EXITS "
                             "where an item goes instead")
        return EXITS[name]

    for key in ("Next", "Default"):
        if key in state:
            state[key] = target(state[key])
    for rule in state.get("Choices", []) + state.get("Catch", []):
        rule["Next"] = target(rule["Next"])


def _rewrite(name: str, state: dict) -> None:
    """ITEM_REWRITES: the item's start request rides in its state, not in the execution's
    input. A map iteration has no execution input of its own in every engine (moto's shares
    the run's), so where the poller reads `$$.Execution.Input.start` an item reads `$.start`,
    and the states between its first state and StartJob keep it. StartJob's answer replaces the
    state, so the request (row-level-security tag values included) reaches no state after it,
    as in the poller. An item's job id is the run's (ItemSelector: a hash of the run id and the
    item's index), not the execution's, so a repeated run asks for the same jobs."""
    params = state.get("Parameters", {})
    if name == "NewJobId":
        params["SnapshotJobId.$"] = "$.jobId"
        state["Comment"] = ("The SnapshotJobId unless the item names one: the run's ItemSelector "
                            "derived it from the run id and the item's index, so a repeated or "
                            "redriven run asks for the same job, and ResourceExists then means "
                            "'already started: poll it'.")
    if name in ("NameJob", "CountCapacityWait"):
        params["start.$"] = "$.start"
    # A run's items meet LimitExceeded whenever runs compete for the 12 slots, not rarely as a
    # single start does: they wait 10 s, then 5-25 s (jittered), four times as often, so a slot
    # freed is taken within seconds and the wait still ends after StartCapacityWaitMinutes.
    # benches/reports_makespan.py: two runs of 10 at once, 1.24x the physical limit with the
    # poller's 60 s / 30-90 s waits, 1.08x with these.
    if name == "NameJob":
        minutes = "States.StringToJson('${StartCapacityWaitMinutes}')"
        twice = f"States.MathAdd({minutes}, {minutes})"
        params["capacity"]["max.$"] = f"States.MathAdd({twice}, {twice})"
        params["capacity"]["wait"] = 10
        state["Comment"] += (" A run's item waits 10 s, then 5-25 s, up to four times "
                             "StartCapacityWaitMinutes waits.")
    if name == "CountCapacityWait":
        params["capacity"]["wait.$"] = "States.MathRandom(5, 25)"
        state["Comment"] = "One more wait counted; the next one 5-25 s (jitter)."
    if name == "StartJob":
        for key, value in params.items():
            if isinstance(value, str) and value.startswith("$$.Execution.Input.start."):
                params[key] = "$." + value.removeprefix("$$.Execution.Input.")


def item_loop(poller: dict) -> dict:
    """The ItemProcessor's StartAt and States: the poller's loop, rewritten for an item."""
    states = {}
    for name in LOOP:
        state = copy.deepcopy(poller["States"][name])
        _retarget(state)
        _rewrite(name, state)
        states[name] = state
    states.update(copy.deepcopy(ITEM_ENDS))
    leftover = [v for s in states.values() for v in json.dumps(s).split('"')
                if v.startswith("$$.Execution.")]
    if leftover:
        raise SystemExit(f"an item state still reads the execution's own data: {leftover}")
    return {"StartAt": "Start?", "States": states}


def renamed(loop: dict, suffix: str) -> dict:
    """A copy of the loop whose every state name ends in " SUFFIX", transitions included."""
    if not suffix:
        return copy.deepcopy(loop)
    name = lambda state: f"{state} {suffix}"  # noqa: E731
    states = {}
    for state_name, state in copy.deepcopy(loop["States"]).items():
        for key in ("Next", "Default"):
            if key in state:
                state[key] = name(state[key])
        for rule in state.get("Choices", []) + state.get("Catch", []):
            rule["Next"] = name(rule["Next"])
        states[name(state_name)] = state
    return {"StartAt": name(loop["StartAt"]), "States": states}


def preceded(loop: dict, frame: dict) -> dict:
    """The loop renamed with the frame's suffix, after the frame's own first states, which must
    lead only to states there are."""
    copied = renamed(loop, frame[PLACEHOLDER])
    states = {**copy.deepcopy(frame["States"]), **copied["States"]}
    for name, state in frame["States"].items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [rule["Next"] for rule in state.get("Choices", []) + state.get("Catch", [])]
        missing = [t for t in targets if t is not None and t not in states]
        if missing:
            raise SystemExit(f"{name} leads to {missing}, which the item does not have")
    return {"StartAt": frame["StartAt"], "States": states}


def generate() -> str:
    poller = json.loads(POLLER.read_text())
    frame = json.loads(FRAME.read_text())
    loop = item_loop(poller)

    def fill(node):
        if isinstance(node, dict):
            placeholder = node.get("ItemProcessor")
            if isinstance(placeholder, str) and placeholder.startswith(PLACEHOLDER):
                suffix = placeholder.removeprefix(PLACEHOLDER).strip()
                node["ItemProcessor"] = {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                             "ExecutionType": "STANDARD"},
                                         **renamed(loop, suffix)}
            elif isinstance(placeholder, dict) and PLACEHOLDER in placeholder:
                node["ItemProcessor"] = {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                             "ExecutionType": "STANDARD"},
                                         **preceded(loop, placeholder)}
            for value in node.values():
                fill(value)
        elif isinstance(node, list):
            for value in node:
                fill(value)

    fill(frame)
    for name, state in frame["States"].items():
        if state == "@poller":
            frame["States"][name] = copy.deepcopy(poller["States"][name])
        elif state.get("Retry") == "@poll-retry":
            state["Retry"] = copy.deepcopy(poller["States"]["Poll"]["Retry"])
    frame["Comment"] = frame["Comment"].strip()
    return json.dumps(frame, indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is not what scripts/reports_asl.py writes from "
                  f"{POLLER.relative_to(ROOT)}: run it", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
