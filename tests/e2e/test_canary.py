"""Nothing secret leaves the function, on any path: one test plants canary strings (an identity
token, an external id, a row-level-security tag value in a start request), drives every path
(a single poll, a batch, the state machine succeeding, failing on the job and failing to start,
a reports run with a tag value in each request, a poll chain including a tick that fails all
its retries, the execution monitor, the terminal)
and then searches every sink: outputs, execution histories, SNS messages, the operators'
dead-letter queue, schedule inputs, the function's log and metric lines, the terminal's output,
the notice ledger's items, the jobs' EventBridge events, the reports run's results file.

The only place a canary may be is the caller's own stored input: verbatim copies of an
execution's input (or of its start request, or of a reports run's requests) and the request
StartJob sends to QuickSight for it are taken out of a history before it is searched. Anything
else holding a canary fails."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.env import ACCOUNT, POLLER_BIN, REGION, base_env
from harness.stack import EVENT_BUS

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "execution-ended.asl.json"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/canary-exporter"
TOKEN = "canary-identity-token-5e1f"
EXTERNAL = "canary-external-id-5e1f"
TAG = "canary-rls-tag-5e1f"
CANARIES = (TOKEN, EXTERNAL, TAG)
CALLER = {"roleArn": ROLE, "identityContext": TOKEN, "externalId": EXTERNAL}


def reference(job_id: str, dashboard: str = "dash-1") -> dict:
    return {"AwsAccountId": ACCOUNT, "DashboardId": dashboard, "SnapshotJobId": job_id}


def start_request() -> dict:
    """A start without SnapshotJobId: the state machine derives it from the execution."""
    return {
        "AwsAccountId": ACCOUNT, "DashboardId": "dash-1",
        "SnapshotConfiguration": {"FileGroups": [{"Files": [{
            "FormatType": "CSV",
            "SheetSelections": [{"SheetId": "sheet-1", "SelectionScope": "ALL_VISUALS"}]}]}]},
        "UserConfiguration": {"AnonymousUsers": [{"RowLevelPermissionTags": [
            {"Key": "tenant", "Value": TAG}]}]},
    }


def found(value: Any) -> list[str]:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return [canary for canary in CANARIES if canary in text]


def without_stored_input(value: Any, stored: list[Any]) -> Any:
    """`value` with every verbatim copy of a stored input taken out (JSON strings parsed)."""
    if any(value == s for s in stored):
        return None
    if isinstance(value, dict):
        return {k: without_stored_input(v, stored) for k, v in value.items()}
    if isinstance(value, list):
        return [without_stored_input(v, stored) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return without_stored_input(json.loads(value), stored)
        except ValueError:
            return value
    return value


def history_beyond_stored_input(ex) -> list[dict]:
    [started] = ex.events("ExecutionStarted")
    given = json.loads(started["executionStartedEventDetails"]["input"])
    # A reports run's requests are the caller's input too, however the Map state holds them.
    stored = [given, given.get("start"), given.get("reports")]
    sent = "startDashboardSnapshotJob"  # the request itself, sent on the caller's behalf
    rest = [e for e in ex.history if e["type"] != "ExecutionStarted" and
            sent not in e.get("taskScheduledEventDetails", {}).get("resource", "")]
    return without_stored_input(rest, [s for s in stored if s is not None])


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack(poller_env={"ALLOWED_ROLE_ARNS": ROLE,
                                   "ROLE_EXTERNAL_IDS": f"{ROLE}={EXTERNAL}"})
    stack.client("iam").create_role(RoleName="canary-exporter", AssumeRolePolicyDocument="{}")
    stack.reset()
    return stack


def run_terminal(stack, tmp_path: Path, event: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    env = base_env()
    env.update({
        "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "AKIDTERMINAL", "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_ENDPOINT_URL_QUICKSIGHT": stack.emulator_url,
        "AWS_ENDPOINT_URL_STS": stack.emulator_url,
        "AWS_ENDPOINT_URL_SNS": stack.front_url,
        "SNS_TOPIC_ARN": stack.topic_arn,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": stack.front_url,
        "EVENT_BUS_NAME": EVENT_BUS,
        "ALLOWED_ROLE_ARNS": ROLE,
        "SDK_MAX_ATTEMPTS": "1",
    })
    return subprocess.run([str(POLLER_BIN), str(path)], capture_output=True, text=True,
                          env=env, timeout=60)


def test_no_canary_reaches_any_sink_on_any_path(stack, tmp_path):
    sinks: dict[str, Any] = {}
    running = {"queuedPolls": 0, "runningPolls": 50, "outcome": "COMPLETED"}
    done = {"queuedPolls": 0, "runningPolls": 0}

    # A single poll and a batch, as direct invocations.
    stack.add_job("c-single", **running)
    sinks["single"] = stack.invoke({**reference("c-single"), **CALLER})
    assert sinks["single"]["status"] == "IN_PROGRESS", sinks["single"]
    stack.add_job("c-batch-ok", **done, outcome="COMPLETED")
    stack.add_job("c-batch-failed", **done, outcome="FAILED")
    sinks["batch"] = stack.invoke({"jobs": [{**reference("c-batch-ok"), **CALLER},
                                            {**reference("c-batch-failed"), **CALLER}]})
    assert sinks["batch"]["status"] == "FAILED", sinks["batch"]

    # The state machine: success, the job failing, the start failing, a start that runs.
    stack.add_job("c-sm-ok", **done, outcome="COMPLETED")
    stack.add_job("c-sm-failed", **done, outcome="FAILED")
    executions = {
        "sm-ok": stack.start_execution("c-sm-ok", {**reference("c-sm-ok"), **CALLER}),
        "sm-failed": stack.start_execution("c-sm-failed", {**reference("c-sm-failed"), **CALLER}),
    }
    stack.emulator_faults([{"operation": "start", "error": "AccessDeniedException",
                            "count": 1}])
    executions["sm-start-failed"] = stack.start_execution(
        "c-sm-start-failed", {"start": start_request()})
    stack.emulator_faults([])
    stack.emulator("POST", "defaults", {"queuedPolls": 0, "runningPolls": 1,
                                        "outcome": "COMPLETED"})
    executions["sm-started"] = stack.start_execution(
        "c-sm-started", {"start": start_request()})
    assert [ex.status for ex in executions.values()] == [
        "SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED"], [ex.summary() for ex in executions.values()]

    # A reports run (statemachine/reports.asl.json): a tag value in each request, one job
    # failing. Its jobs are told by the run's one summary, not each by a notice of its own, and
    # written in its results file.
    stack.emulator("POST", "defaults", {"queuedPolls": 0, "runningPolls": 0,
                                        "outcome": "COMPLETED"})
    reports = stack.create_state_machine("canary-reports", stack.reports_definition())
    items = [start_request(), {**start_request(), "DashboardId": "c-run-will-fail"}]
    executions["reports-run"] = stack.start_execution(
        "c-reports-run", {"reports": items, "runId": "canary"}, state_machine_arn=reports)
    assert executions["reports-run"].error == "ReportsFailed", executions["reports-run"].summary()

    # A poll chain: its external id from ROLE_EXTERNAL_IDS on later ticks; a tick that fails
    # all its retries ends in the operators' queue. A raw token in a chain is refused.
    stack.add_job("c-chain", **running)
    sinks["chain-first"] = stack.invoke({**reference("c-chain"), "roleArn": ROLE,
                                         "externalId": EXTERNAL, "loop": "scheduler"})
    [schedule] = stack.schedules()
    sinks["schedule-input"] = schedule["Target"]
    stack.emulator_faults([{"operation": "describe", "error": "InternalFailureException",
                            "count": 3}])
    sinks["chain-failed-tick"] = stack.fire_async(schedule)
    stack.emulator_faults([])
    assert [a.get("errorType") for a in sinks["chain-failed-tick"]] == [
        "QuickSightUnavailable"] * 3
    sinks["dead-letters"] = stack.dead_letters()
    assert len(sinks["dead-letters"]) == 1
    sinks["chain-raw-token"] = stack.invoke({**reference("c-chain"), **CALLER,
                                             "loop": "scheduler"})
    assert sinks["chain-raw-token"]["errorType"] == "InvalidJobReference"

    # The execution monitor, on the status-change event of an execution stopped mid-loop
    # (EventBridge's event carries the execution's input; the notice must not).
    stack.add_job("c-aborted", **running)
    arn = stack.begin_execution("c-aborted", {**reference("c-aborted"), **CALLER})
    executions["aborted"] = stack.abort_when_waiting(arn)
    monitor = stack.create_monitor("canary-execution-ended")
    event = {"version": "0", "source": "aws.states",
             "detail-type": "Step Functions Execution Status Change",
             "detail": {"executionArn": arn, "stateMachineArn": stack.state_machine_arn,
                        "name": "c-aborted", "status": "ABORTED",
                        "input": json.dumps({**reference("c-aborted"), **CALLER})}}
    told = stack.start_execution("c-monitor", event, state_machine_arn=monitor)
    assert told.status == "SUCCEEDED", told.summary()

    # The terminal, notices on.
    stack.add_job("c-terminal", **done, outcome="FAILED")
    terminal = run_terminal(stack, tmp_path, {**reference("c-terminal"), **CALLER})
    assert terminal.returncode != 0 or "FAILED" in terminal.stdout, terminal.stderr
    sinks["terminal"] = {"stdout": terminal.stdout, "stderr": terminal.stderr}

    sinks["sns"] = stack.sns_messages()
    # The failed batch job, the failed execution's job, the refused start, the reports run's
    # summary, the monitor's notice of the aborted execution, the terminal's failed job.
    assert len(sinks["sns"]) == 6, sinks["sns"]
    for name, ex in executions.items():
        sinks[f"history {name}"] = history_beyond_stored_input(ex)
        sinks[f"output {name}"] = ex.output
    sinks["function log"] = stack.function.log_path.read_text(errors="replace")
    assert '"_aws"' in sinks["function log"], "the metric lines are in the log searched"
    sinks["job events"] = stack.job_events()
    # The batch's two jobs, the three executions' jobs that ended (the refused start has none),
    # the reports run's two jobs, the terminal's job: each puts its event, with its caller.
    assert len(sinks["job events"]) == 8, sinks["job events"]
    assert sum(e["detail"]["caller"] is not None for e in sinks["job events"]) == 5
    sinks["notice ledger"] = stack.ledger_items()
    assert len(sinks["notice ledger"]) >= 2, "the ledger searched holds the notified jobs"
    assert sum(str(i.get("kind", "")).startswith("run/") for i in sinks["notice ledger"]) == 2, (
        "and the reports run's records")
    sinks["results files"] = stack.results_files()
    [results] = sinks["results files"].values()
    assert len(results["reports"]) == 2, "the reports run's results file is searched"

    leaks = {name: found(value) for name, value in sinks.items() if found(value)}
    assert leaks == {}, json.dumps(leaks)
    # The canaries were there to be found: the stored inputs hold them.
    assert found(executions["sm-ok"].events("ExecutionStarted")) == [TOKEN, EXTERNAL]
    assert found(executions["sm-started"].events("ExecutionStarted")) == [TAG]
    assert found(executions["reports-run"].events("ExecutionStarted")) == [TAG]
