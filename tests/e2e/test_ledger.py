"""The notice ledger (template.yaml's NoticeLedger, LEDGER_TABLE_NAME) on moto's DynamoDB with
the real binary: one notice per job outcome, whatever is retried or delivered twice. The item it
leaves is the job's run history."""

from __future__ import annotations

import json
import time

from harness.env import ACCOUNT, REGION
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
