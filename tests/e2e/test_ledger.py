"""The notice ledger (template.yaml's NoticeLedger, LEDGER_TABLE_NAME) on moto's DynamoDB with
the real binary: one notice per job outcome, whatever is retried or delivered twice. The item it
leaves is the job's run history."""

from __future__ import annotations

import json
import subprocess
import time

from harness.definition import fast_retry_definition
from harness.env import ACCOUNT, DUMMY_CREDENTIALS, POLLER_BIN, REGION, ROOT, base_env
from harness.stack import LEDGER_TABLE

FAILED_INFO = {"ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "access lost"}


def reference(job_id: str, **extra) -> dict:
    return {"AwsAccountId": ACCOUNT, "DashboardId": "dash-1", "SnapshotJobId": job_id, **extra}


def job_arn(job_id: str) -> str:
    return f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dashboard/dash-1/snapshot-job/{job_id}"


def failed_job(stack, job_id: str, running_polls: int = 0):
    stack.add_job(job_id, queuedPolls=0, runningPolls=running_polls, outcome="FAILED",
                  errorInfo=FAILED_INFO)


def item_of(stack, job_id: str, status: str = "FAILED") -> dict:
    [item] = [i for i in stack.ledger_items() if i["pk"] == f"job/{job_arn(job_id)}/{status}"]
    return item


def test_a_retried_invocation_after_its_notice_publishes_nothing_more(stack):
    failed_job(stack, "ledger-retry")

    first = stack.invoke(reference("ledger-retry"))
    again = stack.invoke(reference("ledger-retry"))

    [notice] = stack.sns_messages()
    assert notice["envelope"]["MessageId"] == first["notification"]["messageId"]
    assert again["status"] == "FAILED" and again["notification"] == first["notification"]
    item = item_of(stack, "ledger-retry")
    assert (item["notice"], item["messageId"]) == ("told", first["notification"]["messageId"])
    assert "claimedUntil" not in item


def test_the_ledger_item_is_the_jobs_run_history(stack):
    failed_job(stack, "ledger-history")

    output = stack.invoke(reference("ledger-history"))

    item = item_of(stack, "ledger-history")
    assert {k: item[k] for k in ("kind", "jobArn", "awsAccountId", "region", "dashboardId",
                                 "snapshotJobId", "status", "jobStatus", "errorType", "files")} == {
        "kind": "job", "jobArn": job_arn("ledger-history"), "awsAccountId": ACCOUNT,
        "region": REGION, "dashboardId": "dash-1", "snapshotJobId": "ledger-history",
        "status": "FAILED", "jobStatus": "FAILED", "errorType": "DASHBOARD_ACCESS_DENIED",
        "files": "0"}
    assert item["topicArn"] == output["notification"]["topicArn"] == stack.topic_arn
    now = time.time()
    assert now - 60 < int(item["endedAt"]) <= now + 1
    # LEDGER_RETENTION_DAYS defaults to 90: the table's TTL attribute says when it goes.
    assert abs(int(item["expiresAt"]) - (int(item["endedAt"]) + 90 * 86400)) <= 2


def test_a_batch_retried_whole_tells_each_failed_job_once(stack):
    failed_job(stack, "ledger-batch-a")
    failed_job(stack, "ledger-batch-b")
    stack.add_job("ledger-batch-ok", queuedPolls=0, runningPolls=0, outcome="COMPLETED")
    batch = {"jobs": [reference("ledger-batch-a"), reference("ledger-batch-b"),
                      reference("ledger-batch-ok")]}

    first = stack.invoke(batch)
    again = stack.invoke(batch)

    notices = stack.sns_messages()
    assert sorted(n["message"]["job"]["snapshotJobId"] for n in notices) == [
        "ledger-batch-a", "ledger-batch-b"]
    ids = {o["job"]["snapshotJobId"]: (o["notification"] or {}).get("messageId")
           for answer in (first, again) for o in answer["jobs"]}
    assert ids["ledger-batch-a"] and ids["ledger-batch-b"]
    assert sorted(ids[j] for j in ("ledger-batch-a", "ledger-batch-b")) == sorted(
        n["envelope"]["MessageId"] for n in notices)


def test_a_chain_tick_delivered_twice_at_the_end_notifies_once(stack):
    failed_job(stack, "ledger-tick", running_polls=1)
    first = stack.invoke(reference("ledger-tick", loop="scheduler"))
    assert first["status"] == "IN_PROGRESS"
    [schedule] = stack.schedules()
    tick = schedule["Target"]["Input"]

    # Scheduler delivers at least once: the last tick arrives twice.
    attempts = stack.fire_async(schedule) + stack.invoke_async(tick)

    assert [a["status"] for a in attempts] == ["FAILED", "FAILED"]
    [notice] = stack.sns_messages()
    assert attempts[0]["notification"] == attempts[1]["notification"]
    assert notice["envelope"]["MessageId"] == attempts[0]["notification"]["messageId"]
    assert stack.schedules() == [] and stack.dead_letters() == []


def test_a_publish_that_failed_gives_its_claim_back_and_the_retry_tells_it(stack):
    failed_job(stack, "ledger-publish-down")
    stack.front_faults([{"operation": "publish", "error": "InternalError", "count": 1}])

    failed = stack.invoke(reference("ledger-publish-down"))
    assert failed["errorType"] == "NotificationFailed"
    assert [i for i in stack.ledger_items() if "ledger-publish-down" in i["pk"]] == []
    retried = stack.invoke(reference("ledger-publish-down"))

    [notice] = stack.sns_messages()
    assert notice["envelope"]["MessageId"] == retried["notification"]["messageId"]
    assert item_of(stack, "ledger-publish-down")["notice"] == "told"


def test_a_claim_another_invocation_holds_is_not_published_over(stack):
    failed_job(stack, "ledger-held")
    claim = {"pk": f"job/{job_arn('ledger-held')}/FAILED", "notice": "claimed",
             "claim": "someone-else", "claimedUntil": int(time.time()) + 600}
    put_item(stack, claim)

    answer = stack.invoke(reference("ledger-held"))

    assert answer["errorType"] == "NotificationFailed"
    assert "another invocation is publishing" in answer["errorMessage"]
    assert stack.sns_messages() == []


def test_a_claim_abandoned_past_its_deadline_is_taken_over(stack):
    """The crash window: an invocation claimed the notice and died before it recorded it. Once
    its deadline (and the grace) has passed, the next poll tells the outcome."""
    failed_job(stack, "ledger-abandoned")
    put_item(stack, {"pk": f"job/{job_arn('ledger-abandoned')}/FAILED", "notice": "claimed",
                     "claim": "crashed", "claimedUntil": int(time.time()) - 1})

    answer = stack.invoke(reference("ledger-abandoned"))

    [notice] = stack.sns_messages()
    assert notice["envelope"]["MessageId"] == answer["notification"]["messageId"]
    item = item_of(stack, "ledger-abandoned")
    assert item["claim"] != "crashed" and item["notice"] == "told"


def test_without_a_ledger_table_a_retry_notifies_again(stack, poller_env):
    """LEDGER_TABLE_NAME unset: notices are at least once, as docs/notifications.md says."""
    poller_env(LEDGER_TABLE_NAME="")
    failed_job(stack, "ledger-off")

    stack.invoke(reference("ledger-off"))
    stack.invoke(reference("ledger-off"))

    assert len(stack.sns_messages()) == 2
    assert stack.ledger_items() == []


def put_item(stack, item: dict):
    def value(v):
        return {"N": str(v)} if isinstance(v, int) else {"S": v}
    stack.client("dynamodb").put_item(TableName=LEDGER_TABLE,
                                      Item={k: value(v) for k, v in item.items()})


def test_a_notified_success_keeps_its_file_count_and_no_s3_uri(stack, poller_env):
    poller_env(NOTIFY_ON_SUCCESS="true")
    stack.add_job("ledger-files", queuedPolls=0, runningPolls=0, outcome="COMPLETED")

    output = stack.invoke(reference("ledger-files"))

    assert output["status"] == "SUCCEEDED" and output["results"], output
    item = item_of(stack, "ledger-files", "SUCCEEDED")
    assert int(item["files"]) == len(output["results"])
    assert "s3://" not in json.dumps(item)


# --------------------------------------------------------------------------------------------
# the state machine and the execution monitor: one notice per execution that ended abnormally
# --------------------------------------------------------------------------------------------
def execution_item(stack, execution) -> dict:
    arn = execution.describe["executionArn"]
    [item] = [i for i in stack.ledger_items() if i["pk"] == f"execution/{arn}"]
    return item


def test_a_job_failure_the_poller_told_is_not_told_again_by_the_monitor(stack):
    failed_job(stack, "sm-job-failed")
    ex = stack.start_execution("sm-job-failed", reference("sm-job-failed"))
    assert ex.status == "FAILED" and ex.error == "DASHBOARD_ACCESS_DENIED", ex.summary()

    monitor = stack.tell_monitor(ex, times=2)

    assert [m.states_entered()[-1] for m in monitor] == ["ToldBefore", "ToldBefore"]
    [notice] = stack.sns_messages()
    assert notice["message"]["job"]["snapshotJobId"] == "sm-job-failed"
    assert execution_item(stack, ex)["source"] == "poller"


def test_an_execution_that_told_its_own_failure_is_not_told_again_by_the_monitor(stack):
    ex = stack.start_execution("sm-invalid", {"AwsAccountId": "12"})
    assert ex.status == "FAILED" and "ClaimExecutionNotice" in ex.states_entered()

    monitor = stack.tell_monitor(ex, times=2)

    assert [m.states_entered()[-1] for m in monitor] == ["ToldBefore", "ToldBefore"]
    [notice] = stack.sns_messages()
    assert notice["attributes"]["source"] == "state-machine"
    item = execution_item(stack, ex)
    assert (item["source"], item["notice"]) == ("state-machine", "told")
    assert item["messageId"] == notice["envelope"]["MessageId"]


def test_an_aborted_execution_is_told_once_however_often_its_end_is_delivered(stack):
    stack.add_job("sm-aborted", queuedPolls=0, runningPolls=10_000, outcome="COMPLETED")
    ex = stack.abort_when_waiting(stack.begin_execution("sm-aborted", reference("sm-aborted")))
    assert ex.status == "ABORTED", ex.summary()

    monitor = stack.tell_monitor(ex, times=3)

    assert [m.states_entered()[-1] for m in monitor] == ["Told", "ToldBefore", "ToldBefore"]
    [notice] = stack.sns_messages()
    assert notice["attributes"] == {"source": "execution-monitor", "errorType": "ExecutionABORTED"}
    assert execution_item(stack, ex)["messageId"] == notice["envelope"]["MessageId"]


def test_a_failure_notice_sns_refused_is_told_by_the_monitor_instead(stack):
    """SNS down through the state machine's retries: its claim is given back, so the end is
    still told, once, by the monitor."""
    machine = stack.create_state_machine("ledger-fast-retry", fast_retry_definition(
        stack.definition()))
    # Throttling: the fault whose answer carries a RequestId, which moto's executor quotes.
    stack.front_faults([{"operation": "publish", "error": "Throttling", "count": 4}])
    ex = stack.start_execution("sm-sns-down", {"AwsAccountId": "12"}, state_machine_arn=machine)
    assert ex.status == "FAILED" and "ReleaseExecutionNotice" in ex.states_entered()
    assert stack.sns_messages() == []
    assert [i for i in stack.ledger_items() if i["pk"].startswith("execution/")] == []

    monitor = stack.tell_monitor(ex, times=2)

    assert [m.states_entered()[-1] for m in monitor] == ["Told", "ToldBefore"]
    [notice] = stack.sns_messages()
    assert notice["attributes"] == {"source": "execution-monitor", "errorType": "ExecutionFAILED"}


# --------------------------------------------------------------------------------------------
# the run history
# --------------------------------------------------------------------------------------------
def history(stack, *args: str) -> subprocess.CompletedProcess:
    env = base_env()
    env.update({"AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ACCESS_KEY_ID": "AKIDTERMINAL", "AWS_SECRET_ACCESS_KEY": "x",
                "AWS_ENDPOINT_URL_DYNAMODB": stack.moto_url, "LEDGER_TABLE_NAME": LEDGER_TABLE})
    return subprocess.run([str(POLLER_BIN), "--history", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_history_lists_the_latest_finished_jobs_newest_first(stack):
    failed_job(stack, "history-failed")
    stack.add_job("history-ok", queuedPolls=0, runningPolls=0, outcome="COMPLETED")
    stack.add_job("history-running", queuedPolls=0, runningPolls=100, outcome="COMPLETED")
    failed = stack.invoke(reference("history-failed"))
    # The index orders by end second: the next end is a second later.
    time.sleep(1.1)
    succeeded = stack.invoke(reference("history-ok", loop="scheduler"))
    stack.invoke(reference("history-running"))  # not finished: not in the history

    listed = history(stack)

    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert [j["snapshotJobId"] for j in jobs] == ["history-ok", "history-failed"]
    newest, oldest = jobs
    assert (newest["status"], newest["notice"], newest["messageId"]) == (
        "SUCCEEDED", "none", None)
    assert newest["startedBy"] == "chain" and newest["files"] == len(succeeded["results"])
    assert (oldest["status"], oldest["errorType"], oldest["startedBy"]) == (
        "FAILED", "DASHBOARD_ACCESS_DENIED", "invocation")
    assert oldest["messageId"] == failed["notification"]["messageId"]
    assert newest["endedAt"] > oldest["endedAt"] and newest["endedAt"].endswith("Z")
    assert [j["snapshotJobId"] for j in json.loads(history(stack, "1").stdout)] == ["history-ok"]


def test_history_without_a_ledger_table_says_which_setting_is_missing(stack):
    env = base_env()
    env.update({"AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"})
    listed = subprocess.run([str(POLLER_BIN), "--history"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert listed.returncode == 2 and "LEDGER_TABLE_NAME" in listed.stderr
    assert listed.stdout == ""


def test_the_readmes_history_query_lists_what_history_lists(stack):
    readme = (ROOT / "README.md").read_text()
    [query] = [line for line in readme.splitlines() if line.startswith("aws dynamodb query ")]
    failed_job(stack, "readme-history-a")
    stack.invoke(reference("readme-history-a"))
    time.sleep(1.1)
    failed_job(stack, "readme-history-b")
    stack.invoke(reference("readme-history-b"))
    env = {**base_env(), **DUMMY_CREDENTIALS, "AWS_REGION": REGION, "TABLE": LEDGER_TABLE,
           "AWS_ENDPOINT_URL": stack.moto_url,
           "PATH": f"{ROOT / '.venv-awscli' / 'bin'}:{base_env()['PATH']}"}

    done = subprocess.run(["bash", "-c", query], env=env, capture_output=True, text=True,
                          timeout=60)

    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert [row[3] for row in rows] == ["readme-history-b", "readme-history-a"]
    assert [row[3] for row in rows] == [
        j["snapshotJobId"] for j in json.loads(history(stack).stdout)]


def test_a_state_machine_run_names_its_execution_in_the_history(stack):
    failed_job(stack, "history-sm")
    stack.add_job("history-sm-ok", queuedPolls=0, runningPolls=0, outcome="COMPLETED")
    failed = stack.start_execution("history-sm", reference("history-sm"))
    succeeded = stack.start_execution("history-sm-ok", reference("history-sm-ok"))
    assert (failed.status, succeeded.status) == ("FAILED", "SUCCEEDED")

    for ex, job, status in ((failed, "history-sm", "FAILED"),
                            (succeeded, "history-sm-ok", "SUCCEEDED")):
        item = item_of(stack, job, status)
        assert (item["startedBy"], item["execution"]) == ("execution",
                                                           ex.describe["executionArn"])
    listed = {j["snapshotJobId"]: j for j in json.loads(history(stack).stdout)}
    assert listed["history-sm"]["execution"] == failed.describe["executionArn"]
    assert listed["history-sm-ok"]["startedBy"] == "execution"


def test_each_job_of_a_batch_names_the_execution_that_ran_it(stack):
    failed_job(stack, "history-batch-a")
    stack.add_job("history-batch-b", queuedPolls=0, runningPolls=1, outcome="COMPLETED")
    ex = stack.start_execution("history-batch", {"jobs": [reference("history-batch-a"),
                                                          reference("history-batch-b")]})
    assert ex.status == "FAILED" and "RecordBatchRunOnFailure" in ex.states_entered()

    for job, status in (("history-batch-a", "FAILED"), ("history-batch-b", "SUCCEEDED")):
        item = item_of(stack, job, status)
        assert (item["startedBy"], item["execution"]) == ("execution",
                                                           ex.describe["executionArn"])
