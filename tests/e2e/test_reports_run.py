"""The reports run (issue 26, statemachine/reports.asl.json): every StartDashboardSnapshotJob
request of a manifest run through the poller state machine's own start-and-poll loop on moto's
Distributed Map, with the real function, against the emulator's 12 job slots (wall-clock mode).
These tests see the run through the jobs the emulator holds, the records the function keeps
under the run in the ledger, the run's results file in S3, its one summary notice and the
execution's end."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from harness.definition import fast_capacity_definition
from harness.env import ROOT
from harness.reports import csv_manifest, report
from harness.stack import RESULTS_BUCKET, RESULTS_PREFIX
from harness.template import template

WALL_CLOCK = {"runSeconds": 2, "outcome": "COMPLETED"}  # every started job runs 2 s


def results_file(stack, key: str) -> dict:
    """Run `key`'s results file (and fails unless it is the only one written)."""
    files = stack.results_files()
    assert list(files) == [f"{RESULTS_PREFIX}{key}.json"], list(files)
    return files[f"{RESULTS_PREFIX}{key}.json"]


def run_key(run_id: str) -> str:
    """The key of a run whose input gives `run_id` (reports.frame.json's GivenRunId)."""
    return hashlib.sha256(run_id.encode()).hexdigest()


def job_id(key: str, index: int) -> str:
    """The job id of item `index` of run `key` (reports.frame.json's ItemSelector)."""
    return f"run-{key}-{index}"


def run_records(stack, key: str) -> dict[int, dict]:
    """The function's records of run `key`'s jobs (the ledger's run/<key>/<index> items)."""
    return {int(item["item"]): item for item in stack.ledger_items()
            if item.get("kind") == f"run/{key}"}


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


def summaries(stack) -> list[dict]:
    """The runs' summary notices on the topic (and fails on any other notice)."""
    notices = stack.sns_messages()
    assert all(n["message"].get("source") == "reports-run" for n in notices), notices
    return [n["message"]["summary"] for n in notices]


def run(stack, machine: str, name: str, input: dict, timeout: float = 240.0):
    return stack.start_execution(name, input, timeout=timeout, state_machine_arn=machine)


def test_the_committed_definition_is_what_the_generator_writes_from_the_pollers_loop():
    checked = subprocess.run([sys.executable, str(ROOT / "scripts" / "reports_asl.py"),
                              "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    poller = json.loads((ROOT / "statemachine" / "poller.asl.json").read_text())["States"]
    reports = json.loads((ROOT / "statemachine" / "reports.asl.json").read_text())["States"]
    for map_state, suffix in (("RunManifest", ""), ("RunInline", " (inline)"),
                              ("RunManifestCsv", " (csv)")):
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
        # Competing runs: an item waits for a slot 10 s, then 5-25 s, four times as often.
        capacity = item["NameJob"]["Parameters"]["capacity"]
        assert capacity["wait"] == 10 and capacity["max.$"].count("StartCapacityWaitMinutes") == 4
        assert item["CountCapacityWait"]["Parameters"]["capacity"]["wait.$"] == (
            "States.MathRandom(5, 25)")


def test_a_run_of_25_reports_ends_every_item_and_an_invalid_one_alone(stack, reports_machine):
    stack.emulator("POST", "defaults", WALL_CLOCK)
    items = [report(i) for i in range(25)]
    items[7] = report(7, dashboard="will-fail-7")
    items[19] = report(19, dashboard="will-fail-19")
    del items[12]["SnapshotConfiguration"]  # InvalidStartRequest: this item alone

    execution = run(stack, reports_machine, "run-25", {"reports": items})

    assert execution.status == "FAILED", execution.summary()
    assert execution.error == "ReportsFailed"
    assert execution.cause.endswith(": 3 of 25 did not succeed"), execution.cause
    [summary] = summaries(stack)
    key = summary["runKey"]
    jobs = emulator_jobs(stack)
    assert set(jobs) == {job_id(key, i) for i in range(25) if i != 12}
    failed = {job_id(key, 7), job_id(key, 19)}
    assert {j for j, status in jobs.items() if status == "FAILED"} == failed
    assert all(status == "COMPLETED" for j, status in jobs.items() if j not in failed)
    assert start_calls(stack) == 24, "10 at once never meet the 12 slots: one start each"
    records = run_records(stack, key)
    assert sorted(records) == [i for i in range(25) if i != 12]
    assert {i for i, r in records.items() if r["status"] == "FAILED"} == {7, 19}
    assert all(r["jobArn"].endswith(job_id(key, i)) for i, r in records.items())
    # The run's one notice: its summary, each failed report by label and reason.
    assert (summary["status"], summary["reports"]) == ("FAILED", 25)
    assert (summary["counts"]["SUCCEEDED"], summary["counts"]["FAILED"]) == (22, 3)
    assert [(f["index"], f["label"], f["error"]) for f in summary["failed"]] == [
        (7, "tenant-7", "INTERNAL_FAILURE"),
        (12, "tenant-12", "InvalidStartRequest: SnapshotConfiguration is missing"),
        (19, "tenant-19", "INTERNAL_FAILURE"),
    ]
    assert summary["failed"][0]["jobArn"].endswith(job_id(key, 7))
    # Every report in the results file: label, job ARN, status, S3 URIs, reason.
    assert summary["results"] == f"s3://{RESULTS_BUCKET}/{RESULTS_PREFIX}{key}.json"
    results = results_file(stack, key)
    assert (results["runKey"], results["status"], len(results["reports"])) == (key, "FAILED", 25)
    by_index = {r["index"]: r for r in results["reports"]}
    assert by_index[3]["label"] == "tenant-3" and by_index[3]["status"] == "SUCCEEDED"
    assert by_index[3]["jobArn"].endswith(job_id(key, 3))
    assert by_index[3]["files"] and all(f.startswith("s3://") for f in by_index[3]["files"])
    assert (by_index[7]["status"], by_index[7]["error"], by_index[7]["files"]) == (
        "FAILED", "INTERNAL_FAILURE", [])
    assert by_index[12]["jobArn"] is None
    assert by_index[12]["error"] == "InvalidStartRequest: SnapshotConfiguration is missing"
    # The run's end was told: the execution monitor stays silent.
    stack.tell_monitor(execution)
    assert stack.sns_messages() == []


def test_report_item_notices_tell_each_failed_item_on_its_own(stack, reports_machine,
                                                              poller_env):
    poller_env(REPORT_ITEM_NOTICES="true")
    stack.emulator("POST", "defaults", WALL_CLOCK)
    items = [report(0), report(1, dashboard="will-fail-1"), report(2)]

    execution = run(stack, reports_machine, "item-notices", {"reports": items,
                                                              "runId": "noticed"})

    assert execution.error == "ReportsFailed", execution.summary()
    notices = stack.sns_messages()
    [item] = [n["message"] for n in notices if n["message"].get("source") != "reports-run"]
    assert item["job"]["snapshotJobId"] == job_id(run_key("noticed"), 1)
    [summary] = [n["message"]["summary"] for n in notices
                 if n["message"].get("source") == "reports-run"]
    assert [f["index"] for f in summary["failed"]] == [1]
    assert len(run_records(stack, run_key("noticed"))) == 3


def test_two_runs_at_once_share_the_twelve_slots_and_every_item_finishes(stack, reports_machine):
    stack.emulator("POST", "defaults", WALL_CLOCK)
    arns = [stack.begin_execution(f"run-{name}", {"reports": [report(i) for i in range(12)],
                                                   "runId": f"nightly-{name}"},
                                  state_machine_arn=reports_machine) for name in "ab"]
    executions = [stack.wait_execution(arn, timeout=240) for arn in arns]

    assert [e.status for e in executions] == ["SUCCEEDED", "SUCCEEDED"]
    jobs = emulator_jobs(stack)
    assert set(jobs) == {job_id(run_key(f"nightly-{n}"), i) for n in "ab" for i in range(12)}
    assert set(jobs.values()) == {"COMPLETED"}
    assert start_calls(stack) > 24, "20 items at once met LimitExceeded and waited for a slot"
    told = summaries(stack)
    assert sorted(t["runKey"] for t in told) == sorted(run_key(f"nightly-{n}") for n in "ab")
    assert all(t["status"] == "SUCCEEDED" and t["failed"] == [] for t in told), told


def test_a_repeated_run_starts_no_second_export(stack, reports_machine):
    stack.emulator("POST", "defaults", WALL_CLOCK)
    input = {"reports": [report(i) for i in range(5)], "runId": "repeated"}
    first = run(stack, reports_machine, "repeated-1", input)
    jobs = emulator_jobs(stack)
    second = run(stack, reports_machine, "repeated-2", input)

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert emulator_jobs(stack) == jobs
    assert set(jobs) == {job_id(run_key("repeated"), i) for i in range(5)}
    assert len(run_records(stack, run_key("repeated"))) == 5, "the same records again"
    [summary] = summaries(stack)
    assert summary["counts"]["SUCCEEDED"] == 5, "one summary per run, however often it runs"
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
    assert emulator_jobs(stack) == {job_id(run_key("s3-run"), i): "COMPLETED" for i in range(4)}
    [summary] = summaries(stack)
    assert (summary["status"], summary["reports"]) == ("SUCCEEDED", 4)
    results = results_file(stack, run_key("s3-run"))
    assert [r["label"] for r in results["reports"]] == [f"tenant-{i}" for i in range(4)]


def test_a_csv_manifest_in_s3_runs_each_row_and_a_row_without_a_field_alone(stack,
                                                                           reports_machine):
    stack.emulator("POST", "defaults", WALL_CLOCK)
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="report-manifests")
    items = [report(i) for i in range(4)]
    items[2]["label"] = "north, \"east\""  # quoted in CSV
    items[3]["DashboardId"] = ""  # this row alone fails
    s3.put_object(Bucket="report-manifests", Key="nightly.csv", Body=csv_manifest(items))

    execution = run(stack, reports_machine, "from-csv", {
        "reports": {"bucket": "report-manifests", "key": "nightly.csv"}, "runId": "csv-run"})

    assert execution.error == "ReportsFailed", execution.summary()
    key = run_key("csv-run")
    assert emulator_jobs(stack) == {job_id(key, i): "COMPLETED" for i in range(3)}
    [summary] = summaries(stack)
    assert (summary["counts"]["SUCCEEDED"], summary["counts"]["FAILED"]) == (3, 1)
    assert [(f["index"], f["label"], f["error"]) for f in summary["failed"]] == [
        (3, "tenant-3", "InvalidStartRequest: DashboardId is missing")]
    results = results_file(stack, key)
    assert results["reports"][2]["label"] == 'north, "east"'
    assert all(r["files"] for r in results["reports"][:3])


@pytest.mark.parametrize("manifest, says", [
    (json.dumps([report(i) for i in range(4)]), "more than REPORT_MAX_ITEMS (3)"),
    ("AwsAccountId,DashboardId,SnapshotConfiguration,UserConfiguration\n1,d,{x,{}\n",
     "SnapshotConfiguration is not a JSON object"),
])
def test_a_manifest_over_the_cap_or_malformed_fails_before_any_job_with_one_notice(
        stack, reports_machine, poller_env, manifest, says):
    poller_env(REPORT_MAX_ITEMS="3")
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="report-manifests")
    s3.put_object(Bucket="report-manifests", Key="big", Body=manifest)

    execution = run(stack, reports_machine, "refused-" + hashlib.sha256(
        manifest.encode()).hexdigest()[:8], {"reports": {"bucket": "report-manifests",
                                                          "key": "big"}}, timeout=60)

    assert (execution.status, execution.error) == ("FAILED", "InvalidManifest")
    assert says in execution.cause, execution.cause
    assert start_calls(stack) == 0
    [notice] = stack.sns_messages()
    assert notice["message"]["error"] == "InvalidManifest"
    assert stack.results_files() == {}


def test_a_runs_results_link_is_in_its_notice_only(stack, reports_machine, poller_env):
    poller_env(PRESIGN_SECONDS="3600")
    stack.emulator("POST", "defaults", WALL_CLOCK)

    execution = run(stack, reports_machine, "linked", {"reports": [report(0)],
                                                        "runId": "linked"})

    assert execution.status == "SUCCEEDED", execution.summary()
    [notice] = stack.sns_messages()
    link = notice["message"]["summary"]["resultsUrl"]
    key = run_key("linked")
    assert f"/{RESULTS_PREFIX}{key}.json?" in link and "X-Amz-Signature=" in link, link
    assert "X-Amz-Signature" not in json.dumps(execution.history, default=str), "in history"


def test_a_missing_manifest_fails_the_run_with_one_notice(stack, reports_machine):
    stack.client("s3").create_bucket(Bucket="report-manifests")

    execution = run(stack, reports_machine, "missing-manifest", {
        "reports": {"bucket": "report-manifests", "key": "gone.json"}}, timeout=60)

    assert execution.status == "FAILED", execution.summary()
    [notice] = stack.sns_messages()
    assert notice["message"]["source"] == "state-machine"
    assert notice["message"]["error"] == execution.error
    assert start_calls(stack) == 0
    stack.tell_monitor(execution)
    assert stack.sns_messages() == [], "told once"


@pytest.mark.parametrize("reports", [None, [], {"bucket": "b"}, "nightly.json"])
def test_a_run_without_a_usable_manifest_fails_as_invalid_manifest(stack, reports_machine,
                                                                   reports):
    input = {} if reports is None else {"reports": reports}
    name = "no-manifest-" + hashlib.sha256(json.dumps(reports).encode()).hexdigest()[:8]
    execution = run(stack, reports_machine, name, input, timeout=30)

    assert execution.status == "FAILED"
    assert execution.error == "InvalidManifest"
    assert start_calls(stack) == 0
    [notice] = stack.sns_messages()
    assert notice["message"]["error"] == "InvalidManifest"


def test_a_scheduled_runs_tick_delivered_twice_is_one_run(stack, reports_machine):
    """ReportSchedule's input for a run (template.yaml, ReportScheduleManifest), as Scheduler
    sends it, delivered twice (Scheduler delivers at least once): one run's jobs, one summary."""
    stack.emulator("POST", "defaults", WALL_CLOCK)
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="report-manifests")
    s3.put_object(Bucket="report-manifests", Key="manifests/nightly.csv",
                  Body=csv_manifest([report(i) for i in range(3)]))
    _, for_runs, _ = template()["Resources"]["ReportSchedule"]["Properties"]["Target"][
        "Input"]["If"]
    tick = json.loads(for_runs["Sub"].replace("${ReportBucket}", "report-manifests")
                      .replace("${ReportScheduleManifest}", "manifests/nightly.csv")
                      .replace("<aws.scheduler.scheduled-time>", "2026-12-02T06:00:00Z"))

    first = run(stack, reports_machine, "tick-1", tick)
    second = run(stack, reports_machine, "tick-1-again", tick)

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), first.summary()
    key = run_key("manifests/nightly.csv@2026-12-02T06:00:00Z")
    assert emulator_jobs(stack) == {job_id(key, i): "COMPLETED" for i in range(3)}
    assert start_calls(stack) == 6, "the second delivery's starts met ResourceExists: polled"
    [summary] = summaries(stack)
    assert summary["runKey"] == key and summary["counts"]["SUCCEEDED"] == 3
