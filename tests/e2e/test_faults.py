"""Fault injection and a soak, end to end: the real poller binary in moto's Step Functions wait
loop (statemachine/poller.asl.json), with the QuickSight emulator's faults (slow, dropped,
garbled and unknown answers, throttling), SNS faults injected by the Lambda front (slow, throttled,
lost answers), a FIFO topic, and the runtime emulator restarted mid-run. Every scenario checks the
execution's end, the polls the emulator counted, the output and the SNS messages read back from
the SQS subscription.

The poller runs with MIN/MAX_WAIT_SECONDS=1 and SDK_MAX_ATTEMPTS=1 (see DEFAULT_POLLER_ENV in
harness/stack.py: one HTTP attempt per AWS call, so every injected fault fails exactly one
invocation); a test that needs other settings restarts the function side with them
(`poller_env`), which is a cold start.
Tests with more than two Step Functions retries use a copy of the definition whose retry waits
are cut to a second (`fast_retry_machine`); the others run the real definition.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.definition import JOB_FAILED_STATES, fast_retry_definition, job_reference
from harness.env import ACCOUNT, ROOT
from harness.stack import FUNCTION_TIMEOUT

SOAK_REPORT = Path(ROOT / ".e2e" / "soak.json")
FAILED_INFO = {"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "lost access"}


def calls_of(stack, job_id: str) -> dict:
    """The emulator's count of one job's calls: {"describe": n, "result": n}."""
    [job] = [j for j in stack.emulator("GET", "calls")["jobs"] if j["snapshotJobId"] == job_id]
    return {"describe": job["describe"], "result": job["result"]}


def errors_of(ex) -> list[str]:
    return [error for error, _ in ex.task_failures()]


def longest_retry_run(ex) -> int:
    """The most task failures in a row (retries of one Poll) in an execution's history."""
    longest = run = 0
    for event in ex.history:
        if event["type"] == "TaskFailed":
            run += 1
            longest = max(longest, run)
        elif event["type"] == "TaskSucceeded":
            run = 0
    return longest


@pytest.fixture(scope="module")
def fast_retry_machine(poller_stack) -> str:
    """The real definition with every Retry wait cut to at most 1 s (nothing else changed)."""
    return poller_stack.create_state_machine("quicksight-snapshot-poller-fast-retry-faults",
                                             fast_retry_definition(poller_stack.definition()))


@pytest.fixture(scope="module")
def fifo_tap(poller_stack) -> tuple[str, str]:
    """(topic ARN, queue URL) of a FIFO topic with a FIFO queue subscribed."""
    return poller_stack.create_fifo_tap("quicksight-snapshot-failures")


# --------------------------------------------------------------------------------------------
# QuickSight faults
# --------------------------------------------------------------------------------------------
def test_quicksight_slower_than_the_attempt_timeout_is_retried_then_succeeds(
        stack, poller_env):
    poller_env(SDK_ATTEMPT_TIMEOUT_MS="300", SDK_OPERATION_TIMEOUT_MS="1000")
    # Born COMPLETED: whether the emulator counts a describe whose caller hung up as an answered
    # poll (it moves the timeline) depends on when hyper notices the hang-up, so a timeline that
    # can move would make the outputs depend on timing.
    stack.add_job("slow", queuedPolls=0, runningPolls=0, outcome="COMPLETED", faults=[
        {"operation": "describe", "kind": "delay", "delayMs": 1500, "count": 2},
        {"operation": "result", "kind": "delay", "delayMs": 1500, "count": 1},
    ])
    ex = stack.start_execution("slow", job_reference("slow"))

    assert ex.status == "SUCCEEDED", ex.summary()
    # two describes, then the result call, each answered after the 300 ms attempt timeout
    assert ex.task_failures() == [
        ("QuickSightUnavailable", json.dumps({
            "errorType": "QuickSightUnavailable",
            "errorMessage": f"QuickSight {operation} unavailable: the call timed out"},
            separators=(",", ":")))
        for operation in ("DescribeDashboardSnapshotJob", "DescribeDashboardSnapshotJob",
                          "DescribeDashboardSnapshotJobResult")]
    [output] = ex.lambda_outputs()
    assert (output["status"], output["jobStatus"], output["attempt"]) == (
        "SUCCEEDED", "COMPLETED", 1)
    assert output == ex.output
    assert output["error"] is None and output["notification"] is None
    assert output["results"] and all(r["s3Uri"] for r in output["results"])
    # 2 timed out + COMPLETED (its result timed out) + COMPLETED again
    assert calls_of(stack, "slow") == {"describe": 4, "result": 2}
    invocations = stack.lambda_invocations()
    assert [i["errorType"] for i in invocations] == ["QuickSightUnavailable"] * 3 + [None]
    # every invocation answered, well before the Lambda deadline (the front's 30 s)
    assert all(i["status"] == 200 and i["ms"] < FUNCTION_TIMEOUT * 1000
               for i in invocations), invocations
    assert stack.sns_messages() == []


def test_dropped_or_garbled_answers_are_retried_as_unavailable_and_notify_once(
        stack, fast_retry_machine):
    stack.add_job("garbled", queuedPolls=0, runningPolls=1, outcome="FAILED",
            errorInfo=FAILED_INFO, faults=[
                {"operation": "describe", "kind": "drop", "count": 1},
                {"operation": "describe", "kind": "malformed", "count": 1},  # JSON cut in half
                {"operation": "describe", "kind": "missing-fields", "count": 1},  # no JobStatus
                {"operation": "result", "kind": "malformed", "count": 1},
                {"operation": "result", "kind": "drop", "count": 1},
            ])
    ex = stack.start_execution("garbled", job_reference("garbled"),
                               state_machine_arn=fast_retry_machine)

    assert ex.status == "FAILED", ex.summary()
    assert (ex.error, ex.cause) == ("DASHBOARD_ACCESS_DENIED", "lost access")
    failures = ex.task_failures()
    assert [error for error, _ in failures] == ["QuickSightUnavailable"] * 5
    messages = [json.loads(cause)["errorMessage"] for _, cause in failures]
    describe, result = ("QuickSight DescribeDashboardSnapshotJob unavailable: ",
                        "QuickSight DescribeDashboardSnapshotJobResult unavailable: ")
    assert messages[0].startswith(describe + "could not send the request"), messages
    # the SDK could not parse the body: said so, with the status and the parser's reason
    assert messages[1].startswith(describe + "unrecognized answer (HTTP 200): "), messages
    assert messages[2] == describe + "the response has no JobStatus"
    assert messages[3].startswith(result + "unrecognized answer (HTTP 200): "), messages
    assert messages[4].startswith(result + "could not send the request"), messages
    outputs = ex.lambda_outputs()
    assert [(o["status"], o["jobStatus"]) for o in outputs] == [("IN_PROGRESS", "RUNNING"),
                                                                ("FAILED", "FAILED")]
    assert ex.states_entered().count("NotifyFailure") == 0
    # 3 faulted + RUNNING + FAILED three times (result garbled, result dropped, result read)
    assert calls_of(stack, "garbled") == {"describe": 7, "result": 3}
    [message] = stack.sns_messages()
    assert message["envelope"]["MessageId"] == outputs[-1]["notification"]["messageId"]
    assert message["attributes"]["errorType"] == "DASHBOARD_ACCESS_DENIED"


def test_an_unknown_job_status_keeps_the_loop_polling_until_the_job_completes(stack):
    stack.add_job("cancelling", queuedPolls=0, runningPolls=1, outcome="COMPLETED", faults=[
        {"operation": "describe", "kind": "unknown-status", "count": 2}])  # JobStatus CANCELLING
    ex = stack.start_execution("cancelling", job_reference("cancelling"))

    assert ex.status == "SUCCEEDED", ex.summary()
    assert ex.task_failures() == []
    outputs = ex.lambda_outputs()
    assert [(o["status"], o["jobStatus"], o["done"]) for o in outputs] == [
        ("IN_PROGRESS", "CANCELLING", False), ("IN_PROGRESS", "CANCELLING", False),
        ("IN_PROGRESS", "RUNNING", False), ("SUCCEEDED", "COMPLETED", True)]
    assert all(o["error"] is None and o["waitSeconds"] == 1 for o in outputs[:-1])
    assert ex.states_entered().count("Wait") == 3
    assert calls_of(stack, "cancelling") == {"describe": 4, "result": 1}
    assert stack.sns_messages() == []


# --------------------------------------------------------------------------------------------
# SNS faults
# --------------------------------------------------------------------------------------------
def test_sns_slower_than_the_attempt_timeout_is_retried_and_notifies_once(
        stack, poller_env):
    poller_env(SDK_ATTEMPT_TIMEOUT_MS="500", SDK_OPERATION_TIMEOUT_MS="1500")
    stack.add_job("sns-slow", queuedPolls=0, runningPolls=0, outcome="FAILED",
            errorInfo=FAILED_INFO)
    # Held 2 s: the poller gives up after 500 ms and hangs up; the front then drops the request.
    stack.front_faults([{"operation": "publish", "kind": "delay", "delayMs": 2000, "count": 2}])
    ex = stack.start_execution("sns-slow", job_reference("sns-slow"))

    assert ex.status == "FAILED", ex.summary()
    assert (ex.error, ex.cause) == ("DASHBOARD_ACCESS_DENIED", "lost access")
    failures = ex.task_failures()
    assert [error for error, _ in failures] == ["NotificationFailed"] * 2
    assert all(json.loads(cause)["errorMessage"].endswith(": the call timed out")
               for _, cause in failures), failures
    assert ex.states_entered() == ["Start?", "Poll", *JOB_FAILED_STATES]
    [output] = ex.lambda_outputs()
    assert output["status"] == "FAILED" and output["attempt"] == 1
    publishes = stack.front_publishes()  # waits for the second held one to be let go
    assert [(p["fault"], p["forwarded"], p["status"]) for p in publishes] == [
        ("delay", False, "caller-gone"), ("delay", False, "caller-gone"), (None, True, 200)]
    assert calls_of(stack, "sns-slow") == {"describe": 3, "result": 3}  # each retry polls again
    assert all(i["ms"] < FUNCTION_TIMEOUT * 1000 for i in stack.lambda_invocations())
    [message] = stack.sns_messages()
    assert message["envelope"]["MessageId"] == output["notification"]["messageId"]


def test_sns_throttling_is_retried_and_each_failed_job_is_notified_once(stack):
    jobs = ["throttled-a", "throttled-b", "throttled-c"]
    for job in jobs:
        stack.add_job(job, queuedPolls=0, runningPolls=0, outcome="FAILED", errorInfo=FAILED_INFO)
    # HTTP 400 Throttling, whichever jobs get them
    stack.front_faults([{"operation": "publish", "error": "Throttling", "count": 3}])
    arns = {job: stack.begin_execution(job, job_reference(job)) for job in jobs}
    executions = {job: stack.wait_execution(arn, job) for job, arn in arns.items()}

    throttled = 0
    for job, ex in executions.items():
        assert ex.status == "FAILED", ex.summary()
        assert (ex.error, ex.cause) == ("DASHBOARD_ACCESS_DENIED", "lost access")
        failures = ex.task_failures()
        assert all(error == "NotificationFailed" for error, _ in failures), failures
        for _, cause in failures:  # code and message only, never the raw awsQuery body
            assert json.loads(cause)["errorMessage"].endswith(": Throttling: Rate exceeded"), cause
            assert "<RequestId>" not in cause
        throttled += len(failures)
        assert calls_of(stack, job) == {"describe": 1 + len(failures), "result": 1 + len(failures)}
        assert ex.states_entered() == ["Start?", "Poll", *JOB_FAILED_STATES]
    assert throttled == 3
    publishes = stack.front_publishes()
    assert Counter((p["fault"], p["status"]) for p in publishes) == {("Throttling", 400): 3,
                                                                     (None, 200): 3}
    messages = stack.sns_messages()
    by_job = Counter(m["message"]["job"]["snapshotJobId"] for m in messages)
    assert by_job == {job: 1 for job in jobs}
    for message in messages:
        ex = executions[message["message"]["job"]["snapshotJobId"]]
        last = ex.lambda_outputs()[-1]
        assert message["envelope"]["MessageId"] == last["notification"]["messageId"]


def test_a_lost_publish_answer_on_a_fifo_topic_is_deduplicated_to_one_message(
        stack, poller_env, fifo_tap):
    topic_arn, queue_url = fifo_tap
    poller_env(SNS_TOPIC_ARN=topic_arn)
    stack.add_job("fifo-lost", queuedPolls=0, runningPolls=0, outcome="FAILED",
            errorInfo=FAILED_INFO)
    # moto publishes the first notice, the poller hears HTTP 500: NotificationFailed, retried
    stack.front_faults([{"operation": "publish", "kind": "lost-answer", "count": 1}])
    ex = stack.start_execution("fifo-lost", job_reference("fifo-lost"))

    assert ex.status == "FAILED", ex.summary()
    assert errors_of(ex) == ["NotificationFailed"]
    [output] = ex.lambda_outputs()
    assert output["notification"]["topicArn"] == topic_arn
    first, second = stack.front_publishes()
    assert (first["fault"], first["forwarded"], first["status"]) == ("lost-answer", True, 500)
    assert (second["fault"], second["forwarded"], second["status"]) == (None, True, 200)
    assert first["topicArn"] == second["topicArn"] == topic_arn
    assert first["groupId"] == second["groupId"] == f"{ACCOUNT}:dash-1:fifo-lost"
    assert first["dedupId"] and first["dedupId"] == second["dedupId"]  # stable across polls
    assert calls_of(stack, "fifo-lost") == {"describe": 2, "result": 2}
    # (moto's SQS deduplicates against messages still queued, so the queue is read only now)
    [message] = stack.sns_messages(queue_url)  # the second publish was dropped as a duplicate
    assert message["message"]["job"]["snapshotJobId"] == "fifo-lost"
    assert message["attributes"]["errorType"] == "DASHBOARD_ACCESS_DENIED"
    # What arrives is the first publish; the poller reports the MessageId moto gave the second,
    # deduplicated one, which is never delivered.
    assert message["envelope"]["MessageId"] != output["notification"]["messageId"]
    assert stack.sns_messages() == []  # nothing on the standard topic


def test_a_lost_publish_answer_on_a_standard_topic_delivers_the_notice_twice(stack):
    stack.add_job("standard-lost", queuedPolls=0, runningPolls=0, outcome="FAILED",
            errorInfo=FAILED_INFO)
    stack.front_faults([{"operation": "publish", "kind": "lost-answer", "count": 1}])
    ex = stack.start_execution("standard-lost", job_reference("standard-lost"))

    assert ex.status == "FAILED", ex.summary()
    assert errors_of(ex) == ["NotificationFailed"]
    [output] = ex.lambda_outputs()
    publishes = stack.front_publishes()
    assert [(p["fault"], p["forwarded"], p["groupId"], p["dedupId"]) for p in publishes] == [
        ("lost-answer", True, None, None), (None, True, None, None)]
    assert calls_of(stack, "standard-lost") == {"describe": 2, "result": 2}
    # Standard topics are at-least-once (README, "SNS notice"): both publishes are delivered.
    first, second = stack.sns_messages()
    assert first["subject"] == second["subject"] and first["attributes"] == second["attributes"]
    assert first["message"]["job"] == second["message"]["job"]
    assert first["message"]["error"] == second["message"]["error"]
    assert first["envelope"]["MessageId"] != second["envelope"]["MessageId"]
    assert second["envelope"]["MessageId"] == output["notification"]["messageId"]


# --------------------------------------------------------------------------------------------
# the runtime emulator restarted mid-run
# --------------------------------------------------------------------------------------------
def test_a_runtime_restarted_while_an_execution_waits_is_ridden_out_by_retry(
        stack, poller_env):
    poller_env(MIN_WAIT_SECONDS="3", MAX_WAIT_SECONDS="3")  # a Wait long enough to stop it in
    stack.add_job("restart", queuedPolls=1, runningPolls=1, outcome="COMPLETED")
    arn = stack.begin_execution("restart", job_reference("restart"))
    deadline = time.monotonic() + 30
    while not any(e["type"] == "WaitStateEntered" for e in stack.history(arn)):
        assert time.monotonic() < deadline, "no Wait state within 30 s"
        time.sleep(0.05)

    stack.front_runtime_down(True)
    own_process = stack.function is not None  # prebuilt mode; in watch mode cargo-lambda runs it
    exit_code = stack.stop_function_side(runtime_first=True, grace=0.5)
    if own_process:  # its long poll of /next failed with the runtime: it exited on its own
        assert exit_code is not None and exit_code != 0
    deadline = time.monotonic() + 30
    while not any(i.get("runtimeDown") for i in stack.lambda_invocations()):
        assert time.monotonic() < deadline, "no Invoke reached the front while the runtime was down"
        time.sleep(0.05)
    stack.start_function_side({"MIN_WAIT_SECONDS": "3", "MAX_WAIT_SECONDS": "3"})
    ex = stack.wait_execution(arn, "restart")

    assert ex.status == "SUCCEEDED", ex.summary()
    down = [i for i in stack.lambda_invocations() if i.get("runtimeDown")]
    assert down and all((i["status"], i["errorType"]) == (500, "ServiceException") for i in down)
    assert errors_of(ex) == ["Lambda.ServiceException"] * len(down)
    outputs = ex.lambda_outputs()
    assert [o["jobStatus"] for o in outputs] == ["QUEUED", "RUNNING", "COMPLETED"]
    assert ex.output["status"] == "SUCCEEDED"
    # the failed Invokes never reached a poller: one describe per answered poll
    assert calls_of(stack, "restart") == {"describe": 3, "result": 1}
    assert stack.sns_messages() == []


# --------------------------------------------------------------------------------------------
# soak
# --------------------------------------------------------------------------------------------
# 30 executions share the emulator's 10 calls/s. With 40 the longest run of throttled retries of
# one Poll reached 4 or 5 of the definition's 6 (60 reached 5 every time): 30 keeps a margin, so
# the soak does not fail on a slow day. The poller runs with SDK_MAX_ATTEMPTS=1 here, so every
# throttled answer is a Step Functions retry the test can count.
SOAK_JOBS = {"COMPLETED": 12, "FAILED": 9, "NEVER": 9}
SOAK_DEADLINE_SECONDS = 90  # JOB_DEADLINE_SECONDS of the soak's poller: far beyond the soak
SOAK_NEVER_AGE_SECONDS = 85  # NEVER jobs are created this old: TIMED_OUT some 5 s in
SOAK_EXPECTED = {  # outcome -> (execution status, last output status, execution error)
    "COMPLETED": ("SUCCEEDED", "SUCCEEDED", None),
    "FAILED": ("FAILED", "FAILED", "DASHBOARD_ACCESS_DENIED"),
    "NEVER": ("FAILED", "TIMED_OUT", "JobDeadlineExceeded"),
}


def test_a_soak_of_thirty_throttled_executions_ends_each_as_expected(
        stack, poller_env):
    poller_env(JOB_DEADLINE_SECONDS=str(SOAK_DEADLINE_SECONDS))
    # The rate limit throttles whatever bursts past 10 calls/s; how many do depends on how fast
    # moto's executor runs the executions, so the first 5 describes are throttled regardless:
    # the soak never passes without a throttle to ride out.
    stack.emulator_faults([{"operation": "describe", "error": "ThrottlingException", "count": 5}],
                          throttleRps=10)
    outcomes = {}
    for outcome, count in SOAK_JOBS.items():
        for i in range(count):
            job = f"soak-{outcome.lower()}-{i:02d}"
            outcomes[job] = outcome
            spec = {"outcome": outcome, "queuedPolls": i % 2, "runningPolls": 1 + i % 3}
            if outcome == "FAILED":
                spec["errorInfo"] = FAILED_INFO
            if outcome == "NEVER":
                spec.update(queuedPolls=0, ageSeconds=SOAK_NEVER_AGE_SECONDS)
            stack.add_job(job, dashboard_id=f"dash-{i % 4}", **spec)

    started = time.monotonic()
    arns = {job: stack.begin_execution(job, job_reference(job, f"dash-{int(job[-2:]) % 4}"))
            for job in outcomes}
    executions = {}
    for job, arn in arns.items():  # one bound for the whole soak
        left = 180 - (time.monotonic() - started)
        executions[job] = stack.wait_execution(arn, job, timeout=max(1.0, left))
    duration = time.monotonic() - started

    calls = stack.emulator("GET", "calls")
    invocations = stack.lambda_invocations()
    messages = stack.sns_messages()
    task_failures = Counter(e for ex in executions.values() for e in errors_of(ex))
    ended = Counter((outcomes[job], ex.status) for job, ex in executions.items())
    figures = {
        "executions": len(executions),
        "jobs": SOAK_JOBS,
        "ended": {f"{outcome}->{status}": n for (outcome, status), n in sorted(ended.items())},
        "invocations": len(invocations),
        "invocationErrors": dict(Counter(i["errorType"] for i in invocations if i["errorType"])),
        "describeCalls": calls["byOperation"]["describe"],
        "resultCalls": calls["byOperation"]["result"],
        "quicksightCalls": calls["total"],
        "throttledAnswers": calls["throttled"],
        "stepFunctionsRetries": dict(task_failures),
        "mostRetriesOfOnePoll": max(longest_retry_run(ex) for ex in executions.values()),
        "notifications": len(messages),
        "notificationsByStatus": dict(Counter(m["attributes"].get("status") for m in messages)),
        "stateMachineNotices": sum(m["attributes"].get("source") == "state-machine"
                                   for m in messages),
        "durationSeconds": round(duration, 1),
        "throttleRps": 10,
        "jobDeadlineSeconds": SOAK_DEADLINE_SECONDS,
    }
    SOAK_REPORT.parent.mkdir(parents=True, exist_ok=True)
    SOAK_REPORT.write_text(json.dumps(figures, indent=2) + "\n")
    print("\nsoak:", json.dumps(figures, indent=2))

    for job, ex in executions.items():
        status, last_status, error = SOAK_EXPECTED[outcomes[job]]
        assert ex.status == status, f"{job}: {ex.summary()}"
        outputs = ex.lambda_outputs()
        assert outputs[-1]["status"] == last_status, f"{job}: {ex.summary()}"
        assert ex.error == error, f"{job}: {ex.summary()}"
        assert "NotifyFailure" not in ex.states_entered(), f"{job}: {ex.summary()}"
        assert set(errors_of(ex)) <= {"QuickSightThrottled"}, f"{job}: {ex.summary()}"
        assert longest_retry_run(ex) <= 6  # the definition's MaxAttempts: never exhausted
        # every invocation made one describe (throttled or answered); a result call was made by
        # the last poll of a finished job and by each poll whose result call was throttled
        failures = ex.task_failures()
        throttled_results = sum("DescribeDashboardSnapshotJobResult" in cause
                                for _, cause in failures)
        assert calls_of(stack, job) == {
            "describe": len(outputs) + len(failures),
            "result": throttled_results + (outcomes[job] != "NEVER"),
        }, f"{job}: {ex.summary()}"
    # throttling (the rate limit and the 5 injected) is the only fault: each throttled call
    # failed exactly one poll
    assert calls["throttled"] == task_failures["QuickSightThrottled"] >= 5
    assert calls["byOperation"]["describe"] + calls["byOperation"]["result"] == calls["total"]
    assert sum(len(ex.lambda_outputs()) for ex in executions.values()) + calls["throttled"] == \
        len(invocations)
    # exactly one notice per FAILED / TIMED_OUT job, from the poller; none for completed jobs
    notified = Counter(m["message"]["job"]["snapshotJobId"] for m in messages)
    assert notified == {job: 1 for job, outcome in outcomes.items() if outcome != "COMPLETED"}
    for m in messages:
        job = m["message"]["job"]["snapshotJobId"]
        assert m["attributes"]["status"] == SOAK_EXPECTED[outcomes[job]][1]
        assert m["envelope"]["MessageId"] == \
            executions[job].lambda_outputs()[-1]["notification"]["messageId"]
    assert duration < 180
