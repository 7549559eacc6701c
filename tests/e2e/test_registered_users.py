"""Polling as the job's starter, end to end: a registered user's job started (without
UserConfiguration) in a session of a role, which the QuickSight emulator then answers only for
that role (it asks moto's STS whose key signed each call); the poller assumes the role through
moto's STS when the reference names it and ALLOWED_ROLE_ARNS allows it."""

from __future__ import annotations

import boto3
import pytest

from harness.env import ACCOUNT, REGION

ROLE = f"arn:aws:iam::{ACCOUNT}:role/quicksight-exporter"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
CONTEXT = "identity-token-of-a-registered-user"
SNAPSHOT = {"FileGroups": [{"Files": [{
    "FormatType": "CSV",
    "SheetSelections": [{"SheetId": "sheet-1", "SelectionScope": "ALL_VISUALS"}]}]}]}


@pytest.fixture(scope="module")
def roles_stack(make_stack):
    stack = make_stack(poller_env={"ALLOWED_ROLE_ARNS": ROLE})
    iam = stack.client("iam")
    for name in ("quicksight-exporter", "someone-else"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    return stack


@pytest.fixture
def stack(roles_stack):
    roles_stack.reset()
    roles_stack.emulator("POST", "defaults",
                         {"queuedPolls": 0, "runningPolls": 2, "outcome": "COMPLETED"})
    return roles_stack


def start_as_registered_user(stack, job_id: str) -> dict:
    """Starts a job the way a registered user's is started: in a session of ROLE (with the
    identity context, which moto's STS accepts and keeps no record of), without
    UserConfiguration. Answers StartDashboardSnapshotJob's answer."""
    issued = stack.client("sts").assume_role(
        RoleArn=ROLE, RoleSessionName="starter",
        ProvidedContexts=[{"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter",
                           "ContextAssertion": CONTEXT}])["Credentials"]
    quicksight = boto3.client(
        "quicksight", region_name=REGION, endpoint_url=stack.emulator_url,
        aws_access_key_id=issued["AccessKeyId"],
        aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"])
    answer = quicksight.start_dashboard_snapshot_job(
        AwsAccountId=ACCOUNT, DashboardId="dash-1", SnapshotJobId=job_id,
        SnapshotConfiguration=SNAPSHOT)
    return {"Arn": answer["Arn"], "SnapshotJobId": answer["SnapshotJobId"],
            "RequestId": answer["RequestId"], "Status": answer["Status"]}


def describes(stack, job_id: str) -> int:
    [job] = [j for j in stack.emulator("GET", "calls")["jobs"] if j["snapshotJobId"] == job_id]
    return job["describe"]


def test_the_jobs_own_role_polls_it_to_completion(stack):
    started = start_as_registered_user(stack, "registered-ok")

    ex = stack.start_execution("registered-ok", {**started, "roleArn": ROLE,
                                                 "identityContext": CONTEXT})

    assert ex.status == "SUCCEEDED", ex.summary()
    outputs = ex.lambda_outputs()
    assert [o["jobStatus"] for o in outputs] == ["RUNNING", "RUNNING", "COMPLETED"]
    assert all(o["caller"]["roleArn"] == ROLE for o in outputs)
    assert stack.sns_messages() == []


def test_the_functions_own_role_is_denied_as_the_service_would(stack):
    started = start_as_registered_user(stack, "registered-denied")

    ex = stack.start_execution("registered-denied", started)

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "AccessDeniedException"
    [notice] = stack.sns_messages()
    assert notice["attributes"]["errorType"] == "AccessDeniedException"
    assert "different user" in notice["message"]["error"]["message"]


def test_a_role_outside_the_allow_list_is_refused_before_any_call(stack):
    started = start_as_registered_user(stack, "registered-other")

    ex = stack.start_execution("registered-other", {**started, "roleArn": OTHER_ROLE})

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "InvalidJobReference"
    assert describes(stack, "registered-other") == 0


def test_credentials_refused_mid_loop_are_renewed(stack):
    started = start_as_registered_user(stack, "registered-renewed")
    first = stack.invoke({**started, "roleArn": ROLE, "identityContext": CONTEXT})
    assert first["status"] == "IN_PROGRESS", first
    # The session's credentials stop working on the next describe (as an expiry would).
    stack.emulator_faults([{"operation": "describe", "error": "ExpiredTokenException",
                            "count": 1}])

    ex = stack.start_execution("registered-renewed", first)

    assert ex.status == "SUCCEEDED", ex.summary()
    assert [error for error, _ in ex.task_failures()] == ["CredentialsError"]
    # Only a new session of the role can have read the job after that: the function's own
    # credentials are denied (previous test), the refused session was dropped.
    assert ex.output["jobStatus"] == "COMPLETED"
