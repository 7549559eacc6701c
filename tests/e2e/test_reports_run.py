"""The reports run (issue 26, statemachine/reports.asl.json): every StartDashboardSnapshotJob
request of a manifest run through the poller state machine's own start-and-poll loop on moto's
Distributed Map, with the real function, against the emulator's 12 job slots (wall-clock mode).
Run-level results and the summary are not built yet: these tests see the run through the jobs
the emulator holds, the function's notices and the execution's end."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from harness.definition import fast_capacity_definition
from harness.env import ACCOUNT, ROOT

WALL_CLOCK = {"runSeconds": 2, "outcome": "COMPLETED"}  # every started job runs 2 s


def report(index: int, dashboard: str = "dash-1", **extra) -> dict:
    """One manifest item: a StartDashboardSnapshotJob request without SnapshotJobId."""
    return {
        "AwsAccountId": ACCOUNT, "DashboardId": dashboard,
        "SnapshotConfiguration": {"FileGroups": [{"Files": [{
            "FormatType": "PDF",
            "SheetSelections": [{"SheetId": "sheet-1", "SelectionScope": "ALL_VISUALS"}]}]}]},
        "UserConfiguration": {"AnonymousUsers": [{"RowLevelPermissionTags": [
            {"Key": "tenant", "Value": f"tenant-{index}"}]}]},
        "label": f"tenant-{index}",
        **extra,
    }


def job_id(run_id: str, index: int) -> str:
    """The id the run derives for item `index` (reports.frame.json's ItemSelector)."""
    return hashlib.sha256(f"{run_id}|{index}".encode()).hexdigest()


def emulator_jobs(stack) -> dict[str, str]:
    """{snapshot job id: status} of every job the emulator holds."""
    return {j["snapshotJobId"]: j["status"] for j in stack.emulator("GET", "calls")["jobs"]}


def start_calls(stack) -> int:
    return stack.emulator("GET", "calls")["byOperation"]["start"]


@pytest.fixture(scope="module")
def reports_machine(poller_stack) -> str:
    """The run as deployed, its capacity waits cut to a second (30 of them at most)."""
    return poller_stack.create_state_machine(
        "quicksight-snapshot-reports",
        fast_capacity_definition(poller_stack.reports_definition(max_concurrency=10), 30))


def renamed(state: dict, suffix: str) -> dict:
    """A state of a suffixed copy of the loop with its transitions' suffix taken off."""
    state = json.loads(json.dumps(state))
    for holder in [state, *state.get("Choices", []), *state.get("Catch", [])]:
        for key in ("Next", "Default"):
            if key in holder:
                holder[key] = holder[key].removesuffix(suffix)
    return state


def run(stack, machine: str, name: str, input: dict, timeout: float = 240.0):
    return stack.start_execution(name, input, timeout=timeout, state_machine_arn=machine)


def test_the_committed_definition_is_what_the_generator_writes_from_the_pollers_loop():
    checked = subprocess.run([sys.executable, str(ROOT / "scripts" / "reports_asl.py"),
                              "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    poller = json.loads((ROOT / "statemachine" / "poller.asl.json").read_text())["States"]
    reports = json.loads((ROOT / "statemachine" / "reports.asl.json").read_text())["States"]
    for map_state, suffix in (("RunManifest", ""), ("RunInline", " (inline)")):
        item = {name.removesuffix(suffix): state for name, state
                in reports[map_state]["ItemProcessor"]["States"].items()}
        # The states the generator leaves alone are the poller's, byte for byte; those that
        # leave the loop differ only in where they go.
        for name in ("JobIdGiven?", "GivenJobId", "AlreadyStarted", "CapacityLeft?",
                     "WaitForCapacity", "Wait"):
            assert renamed(item[name], suffix) == poller[name], name
        for name in ("StartFailed", "CapacityExhausted", "InvalidStartRequest"):
            assert renamed(item[name], suffix) == {**poller[name], "Next": "ItemFailed"}, name
        assert item["Poll"]["Parameters"] == poller["Poll"]["Parameters"]
        assert item["Poll"]["Retry"] == poller["Poll"]["Retry"]
        assert "$$.Execution" not in json.dumps(item), "an item reads the run's own input"


def test_a_run_of_25_reports_ends_every_item_and_an_invalid_one_alone(stack, reports_machine):
    stack.emulator("POST", "defaults", WALL_CLOCK)
    items = [report(i) for i in range(25)]
    items[7] = report(7, dashboard="will-fail-7")
    items[19] = report(19, dashboard="will-fail-19")
    del items[12]["SnapshotConfiguration"]  # InvalidStartRequest: this item alone

    execution = run(stack, reports_machine, "run-25", {"reports": items})

    assert execution.status == "SUCCEEDED", execution.summary()
    run_id = execution.output["runId"]
    jobs = emulator_jobs(stack)
    assert set(jobs) == {job_id(run_id, i) for i in range(25) if i != 12}
    failed = {job_id(run_id, 7), job_id(run_id, 19)}
    assert {j for j, status in jobs.items() if status == "FAILED"} == failed
    assert all(status == "COMPLETED" for j, status in jobs.items() if j not in failed)
    assert start_calls(stack) == 24, "10 at once never meet the 12 slots: one start each"
    # Per-item notices are still the poller's (a parameter turns them off: next slice).
    notices = stack.sns_messages()
    assert sorted(n["message"]["job"]["snapshotJobId"] for n in notices) == sorted(failed)


def test_two_runs_at_once_share_the_twelve_slots_and_every_item_finishes(stack, reports_machine):
    stack.emulator("POST", "defaults", WALL_CLOCK)
    arns = [stack.begin_execution(f"run-{name}", {"reports": [report(i) for i in range(12)],
                                                   "runId": f"nightly-{name}"},
                                  state_machine_arn=reports_machine) for name in "ab"]
    executions = [stack.wait_execution(arn, timeout=240) for arn in arns]

    assert [e.status for e in executions] == ["SUCCEEDED", "SUCCEEDED"]
    jobs = emulator_jobs(stack)
    assert set(jobs) == {job_id(f"nightly-{n}", i) for n in "ab" for i in range(12)}
    assert set(jobs.values()) == {"COMPLETED"}
    assert start_calls(stack) > 24, "20 items at once met LimitExceeded and waited for a slot"
    assert stack.sns_messages() == []


def test_a_repeated_run_starts_no_second_export(stack, reports_machine):
    stack.emulator("POST", "defaults", WALL_CLOCK)
    input = {"reports": [report(i) for i in range(5)], "runId": "repeated"}
    first = run(stack, reports_machine, "repeated-1", input)
    jobs = emulator_jobs(stack)
    second = run(stack, reports_machine, "repeated-2", input)

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert emulator_jobs(stack) == jobs
    assert set(jobs) == {job_id("repeated", i) for i in range(5)}
    assert start_calls(stack) == 10, "the second run's starts met ResourceExists: polled"


def test_a_manifest_in_s3_runs_like_an_inline_one(stack, reports_machine):
    stack.emulator("POST", "defaults", WALL_CLOCK)
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="report-manifests")
    items = [report(i) for i in range(4)]
    s3.put_object(Bucket="report-manifests", Key="nightly.json", Body=json.dumps(items))

    execution = run(stack, reports_machine, "from-s3", {
        "reports": {"bucket": "report-manifests", "key": "nightly.json"}, "runId": "s3-run"})

    assert execution.status == "SUCCEEDED", execution.summary()
    assert emulator_jobs(stack) == {job_id("s3-run", i): "COMPLETED" for i in range(4)}


@pytest.mark.parametrize("reports", [None, [], {"bucket": "b"}, "nightly.json"])
def test_a_run_without_a_usable_manifest_fails_as_invalid_manifest(stack, reports_machine,
                                                                   reports):
    input = {} if reports is None else {"reports": reports}
    name = "no-manifest-" + hashlib.sha256(json.dumps(reports).encode()).hexdigest()[:8]
    execution = run(stack, reports_machine, name, input, timeout=30)

    assert execution.status == "FAILED"
    assert execution.error == "InvalidManifest"
    assert start_calls(stack) == 0
