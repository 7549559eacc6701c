"""The fault matrix: every path a job's end reaches people and programs by, through every fault
that used to tell it twice, counting the notices people receive (the messages on the failure
topic) and the events programs receive (the "Snapshot Job Finished" events a rule delivers).

Paths: a single job and a batch under the state machine, a poll chain of one job and of a batch,
a scheduled report's tick, a reports run (its one summary), the execution monitor, the
terminal. Faults: a publish whose answer is lost, the whole invocation retried after its
notices, the same event delivered twice (at once), a chain's or a report's tick delivered
twice, a schedule created whose answer was lost (the chain split), an answer over
MAX_OUTPUT_BYTES after its notices, an event EventBridge did not take (PutEvents'
FailedEntryCount).

Every cell expects exactly one notice per job outcome (and one per execution that ended
abnormally without one) and one event per finished job, except where docs/notifications.md
names the window: a publish whose answer is lost is published again on a standard topic. A
pair that cannot happen on a path is in NOT_APPLICABLE with the reason, and a test keeps the
matrix whole."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from harness.env import ACCOUNT, POLLER_BIN, REGION, base_env
from harness.stack import EVENT_BUS, LEDGER_TABLE

PATHS = ("sm-single", "sm-batch", "chain-single", "chain-batch", "scheduled-report", "reports-run",
         "monitor", "terminal")
FAULTS = ("publish-answer-lost", "invocation-retried", "event-twice", "tick-twice",
          "schedule-answer-lost", "oversized-answer", "events-partial-failure")
NOT_APPLICABLE = {
    ("sm-single", "tick-twice"): "no tick: the state machine's Wait loops",
    ("sm-batch", "tick-twice"): "no tick: the state machine's Wait loops",
    ("sm-single", "schedule-answer-lost"): "creates no schedule",
    ("sm-batch", "schedule-answer-lost"): "creates no schedule",
    ("scheduled-report", "schedule-answer-lost"): "its schedule is the stack's, not created "
                                                  "at run time",
    ("sm-single", "oversized-answer"): "one job's answer is a few KB, far under the limit",
    ("chain-single", "oversized-answer"): "one job's answer is a few KB, far under the limit",
    ("scheduled-report", "oversized-answer"): "one job's answer is a few KB",
    ("scheduled-report", "event-twice"): "a report's event is its tick: tick-twice",
    ("reports-run", "tick-twice"): "a scheduled run's tick is its input (the same runId) "
                                   "delivered again: event-twice",
    ("reports-run", "schedule-answer-lost"): "creates no schedule",
    ("reports-run", "oversized-answer"): "its answers are one job's, or a summary that lists at "
                                         "most 20 failed reports",
    ("monitor", "publish-answer-lost"): "moto's executor cannot read the front's injected 500 "
                                        "(it has no RequestId); the SNS task's Retry "
                                        "republishes, at least once as documented",
    ("monitor", "invocation-retried"): "EventBridge retries by delivering again: event-twice",
    ("monitor", "tick-twice"): "no tick",
    ("monitor", "schedule-answer-lost"): "creates no schedule",
    ("monitor", "oversized-answer"): "answers nothing",
    ("monitor", "events-partial-failure"): "puts no event: it tells an execution's end, not a "
                                           "job's",
    ("terminal", "invocation-retried"): "a person retries by running it again: event-twice",
    ("terminal", "tick-twice"): "no tick",
    ("terminal", "schedule-answer-lost"): "creates no schedule",
    ("terminal", "oversized-answer"): "one job's answer is a few KB",
}
FAILED_INFO = {"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "access lost"}
START = {"AwsAccountId": ACCOUNT, "DashboardId": "will-fail-report",
         "SnapshotConfiguration": {"FileGroups": [{"Files": [{
             "FormatType": "CSV",
             "SheetSelections": [{"SheetId": "sheet-1", "SelectionScope": "ALL_VISUALS"}]}]}]},
         "UserConfiguration": {"AnonymousUsers": [{}]}}


def reference(job_id: str, **extra) -> dict:
    return {"AwsAccountId": ACCOUNT, "DashboardId": "dash-1", "SnapshotJobId": job_id, **extra}


@dataclass
class Cell:
    """One path, arranged: `start()` delivers its event once and answers a function that waits
    for that delivery's end (so two deliveries can overlap); `notices` is what a clean run tells."""

    start: Callable[[], Callable[[], object]]
    # The event the function got, for a retry of the whole invocation (None: the Payload of the
    # execution's first Poll).
    event: object = None
    notices: int = 1
    events: int = 1  # job events: one per finished job

    def deliver(self):
        return self.start()()


POOL = ThreadPoolExecutor(4)


def in_thread(run: Callable[[], object]) -> Callable[[], Callable[[], object]]:
    """A delivery that blocks (a synchronous invoke), started on a thread."""
    return lambda: POOL.submit(run).result


def failed_jobs(stack, name: str, count: int, running_polls: int = 0, message: str = "") -> list:
    info = {**FAILED_INFO, "ErrorMessage": message or FAILED_INFO["ErrorMessage"]}
    jobs = [f"{name}-{i}" for i in range(count)]
    for job in jobs:
        stack.add_job(job, queuedPolls=0, runningPolls=running_polls, outcome="FAILED",
                      errorInfo=info)
    return jobs


def executions(stack, name: str, input: object, machine: str | None = None):
    """Starts for each call an execution of `input` under a new name."""
    counter = iter(range(100))

    def start():
        arn = stack.begin_execution(f"{name}-{next(counter)}", input, machine)
        return lambda: stack.wait_execution(arn)
    return start


def poll_payload(execution) -> object:
    """The Payload the execution's first Poll sent the function (what a Retry sends again)."""
    for event in execution.events("TaskScheduled"):
        details = event["taskScheduledEventDetails"]
        if details["resourceType"] == "lambda":
            return json.loads(details["parameters"])["Payload"]
    raise AssertionError(execution.summary())


def terminal(stack, job_arn: str) -> subprocess.CompletedProcess:
    env = base_env()
    env.update({"AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ACCESS_KEY_ID": "AKIDTERMINAL", "AWS_SECRET_ACCESS_KEY": "x",
                "AWS_ENDPOINT_URL_QUICKSIGHT": stack.emulator_url,
                "AWS_ENDPOINT_URL_SNS": stack.front_url, "SNS_TOPIC_ARN": stack.topic_arn,
                "AWS_ENDPOINT_URL_DYNAMODB": stack.moto_url, "LEDGER_TABLE_NAME": LEDGER_TABLE,
                "AWS_ENDPOINT_URL_EVENTBRIDGE": stack.front_url, "EVENT_BUS_NAME": EVENT_BUS,
                "SDK_MAX_ATTEMPTS": "1"})
    return subprocess.run([str(POLLER_BIN), job_arn], capture_output=True, text=True, env=env,
                          timeout=60)


def path(stack, kind: str, name: str, running_polls: int = 0, message: str = "") -> Cell:
    """Arranges `kind`'s failing job(s) and answers how to deliver its event."""
    if kind in ("sm-single", "chain-single", "terminal"):
        [job] = failed_jobs(stack, name, 1, running_polls)
        if kind == "sm-single":
            return Cell(executions(stack, name, reference(job)))
        if kind == "chain-single":
            event = reference(job, loop="scheduler")
            return Cell(in_thread(lambda: stack.invoke_async(event)), event)
        arn = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dashboard/dash-1/snapshot-job/{job}"
        return Cell(in_thread(lambda: terminal(stack, arn)))
    if kind in ("sm-batch", "chain-batch"):
        jobs = failed_jobs(stack, name, 8 if message else 2, running_polls, message)
        stack.add_job(f"{name}-ok", queuedPolls=0, runningPolls=0, outcome="COMPLETED")
        batch = {"jobs": [reference(j) for j in [*jobs, f"{name}-ok"]]}
        # The job that succeeds puts an event too, without a notice.
        if kind == "sm-batch":
            return Cell(executions(stack, name, batch), notices=len(jobs), events=len(jobs) + 1)
        event = {**batch, "loop": "scheduler"}
        return Cell(in_thread(lambda: stack.invoke_async(event)), event, notices=len(jobs),
                    events=len(jobs) + 1)
    if kind == "scheduled-report":
        tick = {"start": START, "scheduledTime": f"2026-12-02T06:00:00Z-{name}"}
        return Cell(executions(stack, name, tick))
    if kind == "reports-run":
        # One report that fails: the run tells it in its one summary, the job puts its event.
        key = hashlib.sha256(name.encode()).hexdigest()
        job = reference(f"run-{key}-0", DashboardId=START["DashboardId"])
        machine = stack.create_state_machine(f"{name}-reports", stack.reports_definition())
        return Cell(executions(stack, name, {"reports": [START], "runId": name}, machine), job)
    assert kind == "monitor"
    stack.add_job(name, queuedPolls=0, runningPolls=10_000, outcome="COMPLETED")
    aborted = stack.abort_when_waiting(stack.begin_execution(name, reference(name)))
    ended = aborted.status_change_event()
    # The aborted execution's job never finished: no event.
    return Cell(executions(stack, f"ended-{name}", ended, stack.create_monitor()), events=0)


def finish_chains(stack, ticks: int = 5):
    """Fires what schedules are left until none is: a duplicate that met a claim held elsewhere
    polls its batch job once more, and then finds the outcome told."""
    for _ in range(ticks):
        schedules = stack.schedules()
        if not schedules:
            return
        for schedule in schedules:
            stack.fire_async(schedule)
    raise AssertionError(f"chains still scheduled after {ticks} ticks: {stack.schedules()}")


def both_at_once(cell: Cell) -> list:
    waits = [cell.start(), cell.start()]
    return [wait() for wait in waits]


def run_fault(stack, kind: str, fault: str, name: str, poller_env) -> tuple[int, int]:
    """Runs one cell; answers the number of notices people should receive, and of events
    programs should."""
    if fault == "publish-answer-lost":
        cell = path(stack, kind, name)
        # SNS takes the first publish, the caller hears HTTP 500.
        stack.front_faults([{"operation": "publish", "kind": "lost-answer", "count": 1}])
        done = cell.deliver()
        finish_chains(stack)  # a batch job waits a round for its notice
        if kind == "terminal":
            assert done.returncode == 1 and "NotificationFailed" in done.stdout, done.stdout
            # Nothing retries a terminal run: the one lost answer was delivered, and the run
            # stopped before its event.
            return 1, 0
        # The retry publishes again: docs/notifications.md's window for a lost answer.
        return cell.notices + 1, cell.events
    if fault == "invocation-retried":
        cell = path(stack, kind, name)
        first = cell.deliver()
        again = stack.invoke(cell.event if cell.event is not None else poll_payload(first))
        outputs = again.get("jobs", [again])
        # A reports run's job is told by the run's summary, not by a notice of its own.
        told = kind != "reports-run"
        assert all(bool(o["notification"]) == told for o in outputs if o["status"] == "FAILED")
        assert all(o["event"] for o in outputs if o["done"]), again
        return cell.notices, cell.events
    if fault == "event-twice":
        cell = path(stack, kind, name)
        both_at_once(cell)
        return cell.notices, cell.events
    if fault == "tick-twice":
        if kind == "scheduled-report":
            cell = path(stack, kind, name)
            both_at_once(cell)
            return cell.notices, cell.events
        cell = path(stack, kind, name, running_polls=1)
        cell.deliver()
        [schedule] = stack.schedules()
        tick = schedule["Target"]["Input"]
        waits = [in_thread(lambda: stack.fire_async(schedule))(),
                 in_thread(lambda: stack.invoke_async(tick))()]
        for wait in waits:
            wait()
        finish_chains(stack)
        return cell.notices, cell.events
    if fault == "schedule-answer-lost":
        # The first tick's CreateSchedule went through but its answer did not: Lambda retries
        # the tick after the jobs ended, which tells them; the orphaned schedule still fires.
        cell = path(stack, kind, name, running_polls=1)
        event = cell.event
        stack.invoke(event)
        [orphan] = stack.schedules()
        retried = stack.invoke(event)  # the retry, a poll later: the jobs have ended
        assert retried["status"] == "FAILED", retried
        stack.fire_async(orphan)
        finish_chains(stack)
        return cell.notices, cell.events
    if fault == "events-partial-failure":
        cell = path(stack, kind, name)
        # EventBridge takes the call and not the event: FailedEntryCount 1.
        stack.front_faults([{"operation": "put-events", "kind": "partial-failure", "count": 1}])
        done = cell.deliver()
        finish_chains(stack)  # a batch job waits a round for its event
        if kind == "terminal":
            assert done.returncode == 1 and "NotificationFailed" in done.stdout, done.stdout
            assert "InternalFailure" in done.stdout, done.stdout
            cell.deliver()  # the person runs it again
        return cell.notices, cell.events
    assert fault == "oversized-answer"
    poller_env(MAX_OUTPUT_BYTES="10000", BATCH_MAX_JOBS="10")
    cell = path(stack, kind, name, message="x" * 900)
    done = cell.deliver()
    if kind == "sm-batch":
        assert done.error == "OutputTooLarge", done.summary()
        return cell.notices + 1, cell.events  # each job once, and the execution's own end once
    assert [a["errorType"] for a in done] == ["OutputTooLarge"] * 3
    assert len(stack.dead_letters()) == 1
    return cell.notices, cell.events


CELLS = [(p, f) for p in PATHS for f in FAULTS if (p, f) not in NOT_APPLICABLE]


def test_the_matrix_is_whole():
    assert set(NOT_APPLICABLE) <= {(p, f) for p in PATHS for f in FAULTS}
    assert len(CELLS) + len(NOT_APPLICABLE) == len(PATHS) * len(FAULTS)


@pytest.mark.parametrize(("kind", "fault"), CELLS, ids=[f"{p}-{f}" for p, f in CELLS])
def test_each_path_tells_each_failure_once_through_each_fault(stack, poller_env, kind, fault):
    name = f"mx-{kind}-{fault}"
    expected, expected_events = run_fault(stack, kind, fault, name, poller_env)

    events = stack.job_events()
    assert len(events) == expected_events, json.dumps(
        [(e["detail"]["job"]["snapshotJobId"], e["detail"]["status"]) for e in events])
    assert len({e["id"] for e in events}) == len(events)
    notices = stack.sns_messages()
    assert len(notices) == expected, json.dumps(
        [n["message"] if not isinstance(n["message"], dict) else
         {k: n["message"].get(k) for k in ("status", "job", "source", "error")}
         for n in notices], default=str)
