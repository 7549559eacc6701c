"""The wait loop end to end: moto's Step Functions runs statemachine/poller.asl.json, which
invokes the real poller binary (through the Lambda front and cargo-lambda's runtime emulator);
the poller asks the QuickSight emulator and publishes to moto's SNS, read back via SQS.

Needs the debug binaries quicksight-snapshot-poller and quicksight-emulator in
$CARGO_TARGET_DIR/debug (skipped without them, failed with E2E_REQUIRE_BINARIES=1).
The poller runs with MIN/MAX_WAIT_SECONDS=1 and SDK_MAX_ATTEMPTS=1 (see harness/stack.py)."""

from __future__ import annotations

import hashlib
import json

import pytest

from harness.definition import (
    FAILURE_NOTICE_STATES,
    JOB_FAILED_STATES,
    fast_capacity_definition,
    fast_retry_definition,
    job_reference,
)
from harness.env import ACCOUNT
from harness.stack import LEDGER_TABLE

START_REQUEST = {  # the input's "start": a StartDashboardSnapshotJob request
    "AwsAccountId": ACCOUNT,
    "DashboardId": "dash-1",
    "SnapshotConfiguration": {"FileGroups": [{"Files": [{
        "FormatType": "CSV",
        "SheetSelections": [{"SheetId": "sheet-1", "SelectionScope": "ALL_VISUALS"}],
    }]}]},
    "UserConfiguration": {"AnonymousUsers": [{}]},
}
BORN_COMPLETED = {"queuedPolls": 0, "runningPolls": 0, "outcome": "COMPLETED"}  # emulator defaults


def start_request(job_id: str) -> dict:
    """The state machine's input asking to start START_REQUEST as job `job_id`."""
    return {"start": {**START_REQUEST, "SnapshotJobId": job_id}}


def calls_of(stack, job_id: str, *keys: str) -> dict:
    """The emulator's per-job call counts: {"describe": n, "result": n, "status": ...}, only
    `keys` when given."""
    [job] = [j for j in stack.emulator("GET", "calls")["jobs"] if j["snapshotJobId"] == job_id]
    return {k: job[k] for k in keys} if keys else job


@pytest.fixture(scope="module")
def fast_retry_machine(poller_stack) -> str:
    """A second state machine: the real definition with every Retry wait cut to at most 1 s
    (fast_retry_definition, harness/definition.py), so exhausting the retries takes seconds, not
    minutes."""
    real = poller_stack.definition()
    fast = fast_retry_definition(real)

    def without_waits(text):
        definition = json.loads(text)

        def strip(states: dict):
            for state in states.values():
                for retrier in state.get("Retry", []):
                    retrier.pop("IntervalSeconds", None)
                    retrier.pop("MaxDelaySeconds", None)
                if "ItemProcessor" in state:  # a Map's own states
                    strip(state["ItemProcessor"]["States"])

        strip(definition["States"])
        return definition

    assert fast != real and without_waits(fast) == without_waits(real)  # only the waits differ
    return poller_stack.create_state_machine("quicksight-snapshot-poller-fast-retry", fast)


def test_completes_after_several_polls(stack):
    arn = stack.add_job("completes", queuedPolls=1, runningPolls=2, outcome="COMPLETED")
    ex = stack.start_execution("completes", job_reference("completes"))

    assert ex.status == "SUCCEEDED", ex.summary()
    outputs = ex.lambda_outputs()
    assert [o["status"] for o in outputs][-1] == "SUCCEEDED"
    assert all(o["status"] == "IN_PROGRESS" for o in outputs[:-1]) and len(outputs) >= 3
    assert [o["attempt"] for o in outputs] == list(range(1, len(outputs) + 1))
    assert all(isinstance(o["waitSeconds"], (int, float)) for o in outputs)
    final = ex.output
    assert final["done"] is True and final["jobStatus"] == "COMPLETED"
    assert final["job"]["arn"] == arn
    assert final["results"] and all(r["s3Uri"] for r in final["results"])
    assert ex.states_entered().count("Wait") == len(outputs) - 1
    assert stack.sns_messages() == []  # NOTIFY_ON_SUCCESS=false


def test_failed_job_notifies_once(stack):
    stack.add_job("fails", runningPolls=1, outcome="FAILED",
            errorInfo={"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "lost access"})
    ex = stack.start_execution("fails", job_reference("fails"))

    assert ex.status == "FAILED", ex.summary()
    final = ex.lambda_outputs()[-1]
    assert final["status"] == "FAILED"
    assert (ex.error, ex.cause) == (final["error"]["type"], final["error"]["message"])
    assert final["notification"]["messageId"]
    assert "NotifyFailure" not in ex.states_entered()  # the Lambda notified, not the state machine
    [message] = stack.sns_messages()
    assert message["envelope"]["MessageId"] == final["notification"]["messageId"]


def test_throttling_beyond_the_sdk_retries_is_retried_by_the_state_machine(stack):
    stack.add_job("throttled", runningPolls=0, outcome="COMPLETED",
            faults=[{"operation": "describe", "error": "ThrottlingException", "count": 2}])
    ex = stack.start_execution("throttled", job_reference("throttled"))

    assert ex.status == "SUCCEEDED", ex.summary()
    assert [error for error, _ in ex.task_failures()] == ["QuickSightThrottled"] * 2
    assert stack.sns_messages() == []


def test_invalid_job_reference_is_notified_by_the_state_machine(stack):
    ex = stack.start_execution("bad-reference", {"DashboardId": "dash-1"})

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "InvalidJobReference"
    assert len(ex.task_failures()) == 1  # not retried
    [message] = stack.sns_messages()
    assert message["attributes"]["source"] == "state-machine"
    assert message["message"]["error"] == "InvalidJobReference"


def test_unknown_job_fails_on_the_first_poll_and_notifies_once(stack):
    ex = stack.start_execution("unknown", job_reference("never-started"))

    assert ex.status == "FAILED", ex.summary()
    [output] = ex.lambda_outputs()
    assert output["status"] == "FAILED"
    assert output["error"]["type"] == "ResourceNotFoundException"
    assert len(stack.sns_messages()) == 1


def test_job_past_its_deadline_times_out_and_notifies_once(stack):
    stack.add_job("stuck", outcome="NEVER", ageSeconds=7200)  # JOB_DEADLINE_SECONDS=1800
    ex = stack.start_execution("stuck", job_reference("stuck"))

    assert ex.status == "FAILED", ex.summary()
    [output] = ex.lambda_outputs()
    assert output["status"] == "TIMED_OUT"
    assert ex.error == output["error"]["type"] == "JobDeadlineExceeded"
    assert len(stack.sns_messages()) == 1


def test_access_denied_on_describe_fails_the_job_and_notifies_its_error_type(stack):
    stack.add_job("denied", faults=[{"operation": "describe", "error": "AccessDeniedException"}])
    ex = stack.start_execution("denied", job_reference("denied"))

    assert ex.status == "FAILED", ex.summary()
    # the poller's FAILED path
    assert ex.states_entered() == ["Start?", "Poll", *JOB_FAILED_STATES]
    [output] = ex.lambda_outputs()
    assert output["status"] == "FAILED" and output["jobStatus"] is None
    assert output["error"]["type"] == ex.error == "AccessDeniedException"
    assert ex.task_failures() == []  # a refusal for good is an answer, not an error to retry
    assert calls_of(stack, "denied", "describe", "result") == {"describe": 1, "result": 0}
    [message] = stack.sns_messages()
    assert message["attributes"]["errorType"] == "AccessDeniedException"
    assert message["attributes"]["status"] == "FAILED"
    assert message["envelope"]["MessageId"] == output["notification"]["messageId"]
    assert message["message"]["error"]["type"] == "AccessDeniedException"


def test_sns_unavailable_for_two_publishes_is_retried_and_notifies_exactly_once(stack):
    stack.add_job("sns-down", queuedPolls=0, runningPolls=0, outcome="FAILED",
            errorInfo={"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "lost access"})
    # the poller's Publish: HTTP 500 twice
    stack.front_faults([{"operation": "publish", "error": "InternalError", "count": 2}])
    ex = stack.start_execution("sns-down", job_reference("sns-down"))

    assert ex.status == "FAILED", ex.summary()
    assert [error for error, _ in ex.task_failures()] == ["NotificationFailed"] * 2
    assert stack.front_faults() == {"faults": [
        {"operation": "publish", "error": "InternalError", "count": 0}], "injected": 2}
    [output] = ex.lambda_outputs()  # only the third poll answered
    assert output["status"] == "FAILED" and output["attempt"] == 1
    assert (ex.error, ex.cause) == ("DASHBOARD_ACCESS_DENIED", "lost access")
    # no NotifyFailure
    assert ex.states_entered() == ["Start?", "Poll", *JOB_FAILED_STATES]
    # each retry polls the job again: three describes and three results
    assert calls_of(stack, "sns-down", "describe", "result") == {"describe": 3, "result": 3}
    [message] = stack.sns_messages()
    assert message["envelope"]["MessageId"] == output["notification"]["messageId"]
    assert message["attributes"]["errorType"] == "DASHBOARD_ACCESS_DENIED"


def test_quicksight_outage_longer_than_the_retries_is_notified_by_the_state_machine(
        stack, fast_retry_machine):
    stack.add_job("outage", faults=[{"operation": "describe", "error": "InternalFailureException"}])
    ex = stack.start_execution("outage", job_reference("outage"),
                               state_machine_arn=fast_retry_machine)

    assert ex.status == "FAILED", ex.summary()
    # 1 attempt + MaxAttempts 6 of the poller's retryable errors, then caught
    assert [error for error, _ in ex.task_failures()] == ["QuickSightUnavailable"] * 7
    assert ex.states_entered() == ["Start?", "Poll", *FAILURE_NOTICE_STATES]
    assert ex.lambda_outputs() == []
    assert ex.error == "QuickSightUnavailable"
    assert calls_of(stack, "outage")["describe"] == 7  # SDK_MAX_ATTEMPTS=1: one call per poll
    [message] = stack.sns_messages()
    assert message["attributes"] == {"source": "state-machine",
                                     "errorType": "QuickSightUnavailable"}
    notice = message["message"]
    assert notice["error"] == "QuickSightUnavailable" and notice["executionName"] == "outage"
    assert "QuickSightUnavailable" in notice["cause"] and notice["execution"].endswith(":outage")
    assert "state" not in notice  # redacted: the execution's state is not sent


def test_a_start_without_a_job_id_names_the_job_after_the_execution(stack):
    stack.emulator("POST", "defaults",
                   {"queuedPolls": 1, "runningPolls": 1, "outcome": "COMPLETED"})
    ex = stack.start_execution("start-completes", {"start": START_REQUEST})

    assert ex.status == "SUCCEEDED", ex.summary()
    entered = ex.states_entered()
    assert entered[:7] == ["Start?", "ScheduledTick?", "NewJobId", "JobIdGiven?", "NameJob",
                           "StartJob", "Poll"]
    calls = stack.emulator("GET", "calls")
    [job] = calls["jobs"]
    # SHA-256 of the execution's ARN: a redriven execution asks for the same job again.
    execution_arn = ex.describe["executionArn"]
    assert job["snapshotJobId"] == hashlib.sha256(execution_arn.encode()).hexdigest(), job
    assert (job["dashboardId"], job["status"]) == ("dash-1", "COMPLETED")
    outputs = ex.lambda_outputs()
    assert [o["jobStatus"] for o in outputs] == ["QUEUED", "RUNNING", "COMPLETED"]
    assert calls["byOperation"] == {"start": 1, "describe": 3, "result": 1}
    assert ex.output["status"] == "SUCCEEDED"
    assert ex.output["job"]["snapshotJobId"] == job["snapshotJobId"]
    assert ex.output["results"][0]["format"] == "CSV"
    assert stack.sns_messages() == []  # NOTIFY_ON_SUCCESS=false


def test_a_scheduled_tick_delivered_twice_runs_once(stack):
    """A scheduled report's input: the start request and the tick's scheduled time; Scheduler
    may deliver the tick twice, and the second execution ends at its ledger claim."""
    stack.emulator("POST", "defaults",
                   {"queuedPolls": 0, "runningPolls": 1, "outcome": "COMPLETED"})
    tick = {"start": START_REQUEST, "scheduledTime": "2026-11-30T06:00:00Z"}
    first = stack.start_execution("report-tick", tick)
    again = stack.start_execution("report-tick-again", tick)

    assert first.status == again.status == "SUCCEEDED", (first.summary(), again.summary())
    assert first.states_entered()[:4] == [
        "Start?", "ScheduledTick?", "ClaimTick", "NewJobIdFromSchedule"]
    assert again.states_entered() == ["Start?", "ScheduledTick?", "ClaimTick", "DuplicateTick"]
    assert len(stack.emulator("GET", "calls")["jobs"]) == 1
    next_tick = {**tick, "scheduledTime": "2026-12-01T06:00:00Z"}
    assert stack.start_execution("report-next", next_tick).status == "SUCCEEDED"
    assert len(stack.emulator("GET", "calls")["jobs"]) == 2, "the next tick is a new job"


def test_a_tick_delivered_twice_while_the_ledger_cannot_answer_polls_one_job(stack):
    """The ledger gone (a table that does not exist): both deliveries run, and the job id
    derived from the scheduled time makes the second poll the job the first started."""
    machine = stack.create_state_machine("report-no-ledger", stack.definition().replace(
        f'"{LEDGER_TABLE}"', '"no-such-table"'))
    stack.emulator("POST", "defaults",
                   {"queuedPolls": 0, "runningPolls": 1, "outcome": "COMPLETED"})
    tick = {"start": START_REQUEST, "scheduledTime": "2026-11-30T07:00:00Z"}
    first = stack.start_execution("report-tick-nl", tick, state_machine_arn=machine)
    again = stack.start_execution("report-tick-nl-again", tick, state_machine_arn=machine)

    assert first.status == again.status == "SUCCEEDED", (first.summary(), again.summary())
    assert "AlreadyStarted" in again.states_entered()
    [job] = stack.emulator("GET", "calls")["jobs"]
    key = f"{START_REQUEST['AwsAccountId']}|{START_REQUEST['DashboardId']}|{tick['scheduledTime']}"
    assert job["snapshotJobId"] == hashlib.sha256(key.encode()).hexdigest()
    assert first.output["job"]["snapshotJobId"] == again.output["job"]["snapshotJobId"]


@pytest.fixture(scope="module")
def capacity_machines(poller_stack) -> dict[int, str]:
    """The real definition whose capacity wait is cut to one-second waits, for 1 and 3 tries."""
    return {minutes: poller_stack.create_state_machine(
                f"quicksight-snapshot-poller-capacity-{minutes}",
                fast_capacity_definition(poller_stack.definition(), minutes))
            for minutes in (1, 3)}


def test_a_start_waits_for_capacity_while_limit_exceeded_then_polls_the_job(
        stack, capacity_machines):
    stack.emulator("POST", "defaults", BORN_COMPLETED)
    stack.emulator_faults([
        {"operation": "start", "error": "LimitExceededException", "count": 2}])
    ex = stack.start_execution("start-waits", start_request("waits"),
                               state_machine_arn=capacity_machines[3])

    assert ex.status == "SUCCEEDED", ex.summary()
    entered = ex.states_entered()
    assert entered.count("StartJob") == 3 and entered.count("WaitForCapacity") == 2
    assert stack.emulator("GET", "calls")["byOperation"]["start"] == 3
    assert stack.sns_messages() == []  # nothing failed: waiting for a slot is not news


def test_a_start_refused_with_limit_exceeded_past_the_capacity_wait_is_notified(
        stack, capacity_machines):
    stack.emulator_faults([
        {"operation": "start", "error": "LimitExceededException", "count": 5}])
    secret = {"RowLevelPermissionTags": [{"Key": "region", "Value": "EMEA-secret-tag"}]}
    request = {**START_REQUEST, "SnapshotJobId": "mine",
               "UserConfiguration": {"AnonymousUsers": [secret]}}
    ex = stack.start_execution("start-limit", {"start": request},
                               state_machine_arn=capacity_machines[1])

    assert ex.status == "FAILED", ex.summary()
    # AWS names it QuickSight.LimitExceededException; moto 5.2.5 keeps the service name's case
    assert ex.error.lower() == "quicksight.limitexceededexception"
    assert ex.states_entered() == [
        "Start?", "ScheduledTick?", "NewJobId", "JobIdGiven?", "GivenJobId", "NameJob",
        "StartJob", "CapacityLeft?", "WaitForCapacity",
        "CountCapacityWait", "StartJob", "CapacityLeft?", "CapacityExhausted",
        *FAILURE_NOTICE_STATES]
    scheduled = [json.loads(e["taskScheduledEventDetails"]["parameters"])
                 for e in ex.events("TaskScheduled")
                 if e["taskScheduledEventDetails"]["resourceType"] == "aws-sdk:quicksight"]
    assert [p["SnapshotJobId"] for p in scheduled] == ["mine", "mine"]  # the input's id wins
    calls = stack.emulator("GET", "calls")
    assert calls["byOperation"] == {"start": 2, "describe": 0, "result": 0} and calls["jobs"] == []
    assert stack.lambda_invocations() == []
    [message] = stack.sns_messages()
    assert message["attributes"] == {"source": "state-machine", "errorType": ex.error}
    assert "EMEA-secret-tag" not in json.dumps(message), "row-level permission values never leave"


def test_a_start_answered_internal_failure_is_retried_with_the_same_job_id(stack):
    stack.emulator("POST", "defaults", BORN_COMPLETED)
    stack.emulator_faults([
        {"operation": "start", "error": "InternalFailureException", "count": 1}])
    ex = stack.start_execution("start-retried", start_request("again"))

    assert ex.status == "SUCCEEDED", ex.summary()
    scheduled = [json.loads(e["taskScheduledEventDetails"]["parameters"])["SnapshotJobId"]
                 for e in ex.events("TaskScheduled")
                 if e["taskScheduledEventDetails"]["resourceType"] == "aws-sdk:quicksight"]
    assert scheduled == ["again", "again"]
    assert stack.sns_messages() == []


def test_a_start_whose_job_exists_already_polls_that_job(stack):
    stack.add_job("exists", queuedPolls=0, runningPolls=1, outcome="COMPLETED")
    ex = stack.start_execution("start-exists", start_request("exists"))

    assert ex.status == "SUCCEEDED", ex.summary()
    assert ex.states_entered()[:8] == [
        "Start?", "ScheduledTick?", "NewJobId", "JobIdGiven?", "GivenJobId", "NameJob",
        "StartJob", "AlreadyStarted"]
    assert ex.output["job"]["snapshotJobId"] == "exists"
    assert stack.sns_messages() == []


def test_the_state_machines_notice_works_on_a_fifo_topic(stack):
    topic_arn, queue_url = stack.create_fifo_tap("sm-notices")
    machine = stack.create_state_machine("quicksight-snapshot-poller-fifo",
                                         stack.definition_for(topic_arn))
    ex = stack.start_execution("fifo-invalid", {"AwsAccountId": "12"}, state_machine_arn=machine)

    assert ex.status == "FAILED", ex.summary()
    assert "PublishFailureFifo" in ex.states_entered()
    [message] = stack.sns_messages(queue_url)
    assert message["message"]["error"] == "InvalidJobReference"
    assert message["message"]["executionName"] == "fifo-invalid"


def test_a_start_request_missing_a_field_is_notified_without_calling_quicksight(stack):
    ex = stack.start_execution("start-invalid", {"start": {"DashboardId": "dash-1"}})

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "InvalidStartRequest"
    assert ex.states_entered() == ["Start?", "InvalidStartRequest", *FAILURE_NOTICE_STATES]
    assert stack.emulator("GET", "calls")["total"] == 0
    [message] = stack.sns_messages()
    assert message["attributes"] == {"source": "state-machine", "errorType": "InvalidStartRequest"}


def test_a_started_job_not_yet_visible_on_its_first_poll_is_polled_again(stack):
    stack.emulator("POST", "defaults", BORN_COMPLETED)
    stack.emulator_faults([
        {"operation": "describe", "error": "ResourceNotFoundException", "count": 1}])
    ex = stack.start_execution("start-not-visible", {"start": START_REQUEST})

    assert ex.status == "SUCCEEDED", ex.summary()
    first, last = ex.lambda_outputs()
    assert (first["status"], first["jobStatus"], first["error"]) == ("IN_PROGRESS", None, None)
    assert (last["status"], last["jobStatus"]) == ("SUCCEEDED", "COMPLETED")
    assert stack.emulator("GET", "calls")["byOperation"] == {"start": 1, "describe": 2, "result": 1}
    assert stack.sns_messages() == []


def test_completed_job_whose_result_has_an_error_and_no_file_fails_and_notifies_once(stack):
    stack.add_job("rls-changed", queuedPolls=0, runningPolls=1, outcome="COMPLETED",
            errorInfo={"ErrorType": "RLS_CHANGED", "ErrorMessage": "Re-run the job."},
            result={"AnonymousUsers": [{"FileGroups": [{"Files": [], "S3Results": [{}]}]}]})
    ex = stack.start_execution("rls-changed", job_reference("rls-changed"))

    assert ex.status == "FAILED", ex.summary()
    output = ex.lambda_outputs()[-1]
    assert output["status"] == "FAILED" and output["jobStatus"] == "COMPLETED"
    assert output["error"]["type"] == ex.error == "RLS_CHANGED"
    assert output["rerunnable"] is True
    [message] = stack.sns_messages()
    assert message["attributes"]["errorType"] == "RLS_CHANGED"


def test_completed_job_with_an_error_and_some_files_succeeds_with_a_notice(stack):
    stack.add_job("restricted", queuedPolls=0, runningPolls=0, outcome="COMPLETED",
            errorInfo={"ErrorType": "CAPABILITY_RESTRICTED", "ErrorMessage": "CSV is restricted."})
    ex = stack.start_execution("restricted", job_reference("restricted"))

    assert ex.status == "SUCCEEDED", ex.summary()
    [output] = ex.lambda_outputs()
    assert output["status"] == "SUCCEEDED" and output["results"][0]["s3Uri"]
    assert output["error"]["type"] == "CAPABILITY_RESTRICTED" and output["rerunnable"] is False
    [message] = stack.sns_messages()  # NOTIFY_ON_SUCCESS is off: the error alone is told
    assert message["attributes"]["errorType"] == "CAPABILITY_RESTRICTED"


def test_a_result_that_lags_its_terminal_status_is_polled_again_not_failed(stack):
    stack.add_job("lagging", queuedPolls=0, runningPolls=0, outcome="COMPLETED",
            faults=[{"operation": "result", "error": "InvalidParameterValueException", "count": 1},
                    {"operation": "result", "error": "ResourceNotFoundException", "count": 1}])
    ex = stack.start_execution("lagging", job_reference("lagging"))

    assert ex.status == "SUCCEEDED", ex.summary()
    outputs = ex.lambda_outputs()
    assert [o["status"] for o in outputs] == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    assert [o["error"]["type"] for o in outputs[:2]] == ["ResultNotReady"] * 2
    assert all(o["requestId"] for o in outputs)
    assert ex.task_failures() == []
    assert stack.sns_messages() == []


def batch_of(*job_ids: str) -> dict:
    return {"jobs": [job_reference(job) for job in job_ids]}


def test_a_batch_that_succeeds_ends_in_succeeded_without_a_notice(stack):
    for job in ("batch-ok-1", "batch-ok-2"):
        stack.add_job(job, queuedPolls=0, runningPolls=1, outcome="COMPLETED")
    ex = stack.start_execution("batch-ok", batch_of("batch-ok-1", "batch-ok-2"))

    assert ex.status == "SUCCEEDED", ex.summary()
    assert ex.output["status"] == "SUCCEEDED" and ex.output["error"] is None
    assert ex.output["counts"]["SUCCEEDED"] == 2
    assert "NotifyFailure" not in ex.states_entered()
    assert stack.sns_messages() == []


def test_a_batch_with_failed_jobs_ends_in_job_failed_with_one_notice_per_failed_job(stack):
    stack.add_job("batch-fine", queuedPolls=0, runningPolls=1, outcome="COMPLETED")
    for job in ("batch-bad-1", "batch-bad-2"):
        stack.add_job(job, queuedPolls=0, runningPolls=0, outcome="FAILED",
                errorInfo={"ErrorType": "DATASET_DELETED", "ErrorMessage": "gone"})
    ex = stack.start_execution("batch-bad", batch_of("batch-fine", "batch-bad-1", "batch-bad-2"))

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "JobsFailed"
    assert ex.cause.startswith("2 of 3 jobs failed: dash-1/batch-bad-1 (DATASET_DELETED)"), ex.cause
    entered = ex.states_entered()
    assert entered[-1] == "JobFailed" and "NotifyFailure" not in entered
    messages = stack.sns_messages()
    notified = sorted(m["message"]["job"]["snapshotJobId"] for m in messages)
    assert notified == ["batch-bad-1", "batch-bad-2"]
    assert all(m["attributes"].get("source") != "state-machine" for m in messages)


def test_an_execution_ending_where_it_cannot_notify_is_told_by_the_monitor(stack):
    """template.yaml's EventBridge rule sends these two ends of the wait loop to
    statemachine/execution-ended.asl.json; here moto runs that definition on such events."""
    monitor = stack.create_monitor()
    loop = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:quicksight-snapshot-poller"
    for status in ("TIMED_OUT", "ABORTED", "FAILED"):  # FAILED: with States.Runtime, say
        name = f"job-{status.lower()}"
        event = {
            "version": "0", "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "detail": {"executionArn": f"{loop.replace(':stateMachine:', ':execution:')}:{name}",
                       "stateMachineArn": loop, "name": name, "status": status,
                       "input": json.dumps({"start": START_REQUEST}), "output": None},
        }
        ex = stack.start_execution(f"ended-{status.lower()}", event, state_machine_arn=monitor)
        assert ex.status == "SUCCEEDED", ex.summary()
        [message] = stack.sns_messages()
        assert message["subject"] == f"QuickSight snapshot poller: execution {status}"
        assert message["attributes"] == {"source": "execution-monitor",
                                         "errorType": f"Execution{status}"}
        assert message["message"] == {"source": "execution-monitor", "status": status,
                                       "execution": event["detail"]["executionArn"],
                                       "executionName": name, "stateMachine": loop}
