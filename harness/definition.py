"""The state machine's definition as the tests run it: SAM's substitutions applied, and copies
whose waits are cut to seconds; and the input that names a job."""

from __future__ import annotations

import json

from harness.env import ACCOUNT, ASL_PATH

MONITOR_PATH = ASL_PATH.parent / "execution-ended.asl.json"
REPORTS_PATH = ASL_PATH.parent / "reports.asl.json"
# The states a single job's execution passes from its last poll to its end: failed (the poller
# told it), or succeeded; both record the execution in the job's run history.
JOB_FAILED_STATES = ["Done?", "MarkToldByPoller", "RunOnFailure?", "RecordRunOnFailure",
                     "JobFailed"]
JOB_SUCCEEDED_STATES = ["Done?", "RunOnSuccess?", "RecordRunOnSuccess", "Succeeded"]
# The states an execution passes from NotifyFailure to its end when SNS takes the notice.
FAILURE_NOTICE_STATES = ["NotifyFailure", "NoticeFacts", "ClaimExecutionNotice", "FifoTopic?",
                         "PublishFailure", "RecordExecutionNotice", "Failed"]


def load_definition(path=ASL_PATH, **substitutions: str) -> str:
    """A definition (default statemachine/poller.asl.json) with SAM-style ${Name}
    DefinitionSubstitutions applied."""
    text = path.read_text()
    for name, value in substitutions.items():
        text = text.replace(f"${{{name}}}", value)
    leftover = [part.split("}")[0] for part in text.split("${")[1:]]
    assert not leftover, f"unsubstituted placeholders in the definition: {leftover}"
    return text


def fast_retry_definition(text: str) -> str:
    """A copy of a definition whose Retry waits are at most a second: every retrier keeps its
    ErrorEquals, MaxAttempts, BackoffRate and JitterStrategy, and only IntervalSeconds and
    MaxDelaySeconds become 1. Lets a test exhaust the real retry policy in seconds."""
    definition = json.loads(text)

    def visit(states: dict):
        for state in states.values():
            for retrier in state.get("Retry", []):
                retrier["IntervalSeconds"] = 1
                retrier["MaxDelaySeconds"] = 1
            for branch in state.get("Branches", []):
                visit(branch["States"])
            if "Iterator" in state or "ItemProcessor" in state:
                visit((state.get("ItemProcessor") or state["Iterator"])["States"])

    visit(definition["States"])
    return json.dumps(definition, indent=2)


def fast_capacity_definition(text: str, minutes: int) -> str:
    """A copy of a definition whose start waits StartCapacityWaitMinutes=`minutes` slots of one
    second each instead of about a minute: the capacity loop as deployed, in seconds. Every copy
    of the loop is changed: the poller's, and each Map's item loop of a reports run."""
    definition = json.loads(text)

    def visit(states: dict):
        # A reports run's copies of the loop may suffix their state names (" (inline)").
        for name, state in states.items():
            if name.split(" ")[0] == "NameJob":
                state["Parameters"]["capacity"]["max.$"] = f"States.StringToJson('{minutes}')"
                state["Parameters"]["capacity"]["wait"] = 1
            if name.split(" ")[0] == "CountCapacityWait":
                state["Parameters"]["capacity"]["wait.$"] = "States.MathRandom(1, 2)"
            if "ItemProcessor" in state:
                visit(state["ItemProcessor"]["States"])

    visit(definition["States"])
    return json.dumps(definition, indent=2)


def job_reference(job_id: str, dashboard_id: str = "dash-1", account: str = ACCOUNT) -> dict:
    """The state machine's input: a job reference in the API's PascalCase."""
    return {"AwsAccountId": account, "DashboardId": dashboard_id, "SnapshotJobId": job_id}
