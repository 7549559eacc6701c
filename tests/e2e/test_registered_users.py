"""Polling as the job's starter, end to end: a registered user's job started (without
UserConfiguration) in a session of a role carrying the user's identity context, which the
QuickSight emulator then answers only to that user. The poller is told only the role and the
user's name: it fetches the user's context from the emulator's GetIdentityContext and assumes
the role through the emulator's STS front (moto's STS behind it), so no token travels."""

from __future__ import annotations

import json

import boto3
import pytest

from harness.env import ACCOUNT, REGION

ROLE = f"arn:aws:iam::{ACCOUNT}:role/quicksight-exporter"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
PROVIDER = "arn:aws:iam::aws:contextProvider/QuickSight"
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
    for name in ("ana", "bob"):
        roles_stack.emulator("POST", "users", {"account": ACCOUNT, "userName": name,
                                               "email": f"{name}@example.com"})
    return roles_stack


def context_of(stack, user: str) -> str:
    """The user's identity token, as GetIdentityContext gives it."""
    quicksight = boto3.client("quicksight", region_name=REGION, endpoint_url=stack.emulator_url,
                              aws_access_key_id="AKIDSTARTER", aws_secret_access_key="x")
    return quicksight.get_identity_context(
        AwsAccountId=ACCOUNT, UserIdentifier={"UserName": user}, Namespace="default")["Context"]


def start_as_registered_user(stack, job_id: str, user: str = "ana") -> dict:
    """Starts a job the way a registered user's is started: in a session of ROLE carrying the
    user's identity context, without UserConfiguration. Answers StartDashboardSnapshotJob's
    answer."""
    sts = boto3.client("sts", region_name=REGION, endpoint_url=stack.emulator_url,
                       aws_access_key_id="AKIDSTARTER", aws_secret_access_key="x")
    issued = sts.assume_role(
        RoleArn=ROLE, RoleSessionName="starter",
        ProvidedContexts=[{"ProviderArn": PROVIDER,
                           "ContextAssertion": context_of(stack, user)}])["Credentials"]
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


def test_a_named_user_is_polled_to_completion_with_no_token_in_the_input(stack):
    started = start_as_registered_user(stack, "registered-ok")

    ex = stack.start_execution("registered-ok", {**started, "roleArn": ROLE,
                                                 "userName": "ana"})

    assert ex.status == "SUCCEEDED", ex.summary()
    outputs = ex.lambda_outputs()
    assert [o["jobStatus"] for o in outputs] == ["RUNNING", "RUNNING", "COMPLETED"]
    assert all(o["caller"]["roleArn"] == ROLE for o in outputs)
    assert all(o["caller"]["userName"] == "ana" for o in outputs)
    history = json.dumps(ex.history, default=str)
    assert "qsctx." not in history, "no identity token anywhere in the execution"
    assert stack.sns_messages() == []


def test_a_chain_polls_a_named_users_job_to_completion(stack):
    started = start_as_registered_user(stack, "registered-chain")

    outputs = [stack.invoke({**started, "roleArn": ROLE, "email": "ana@example.com",
                             "loop": "scheduler"})]
    while stack.schedules():
        [schedule] = stack.schedules()
        assert "qsctx." not in schedule["Target"]["Input"]
        outputs.append(stack.fire(schedule))

    assert [o["status"] for o in outputs] == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    assert stack.sns_messages() == []


def test_another_user_is_denied_as_the_service_would(stack):
    started = start_as_registered_user(stack, "registered-bob")

    ex = stack.start_execution("registered-bob", {**started, "roleArn": ROLE,
                                                  "userName": "bob"})

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "AccessDeniedException"
    [notice] = stack.sns_messages()
    assert "different user" in notice["message"]["error"]["message"]


def test_the_functions_own_role_is_denied_as_the_service_would(stack):
    started = start_as_registered_user(stack, "registered-denied")

    ex = stack.start_execution("registered-denied", started)

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "AccessDeniedException"
    [notice] = stack.sns_messages()
    assert notice["attributes"]["errorType"] == "AccessDeniedException"
    assert "different user" in notice["message"]["error"]["message"]


def test_an_unknown_user_fails_as_identity_refused_before_any_describe(stack):
    started = start_as_registered_user(stack, "registered-unknown")

    ex = stack.start_execution("registered-unknown", {**started, "roleArn": ROLE,
                                                      "userName": "carol"})

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "IdentityRefused"
    assert describes(stack, "registered-unknown") == 0
    [notice] = stack.sns_messages()
    assert notice["message"]["error"] == "IdentityRefused"


def test_a_role_outside_the_allow_list_is_refused_before_any_call(stack):
    started = start_as_registered_user(stack, "registered-other")

    ex = stack.start_execution("registered-other", {**started, "roleArn": OTHER_ROLE,
                                                    "userName": "ana"})

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "InvalidJobReference"
    assert describes(stack, "registered-other") == 0


def test_a_raw_token_serves_one_poll_and_the_next_says_to_name_the_user(stack):
    started = start_as_registered_user(stack, "registered-raw")
    token = context_of(stack, "ana")

    ex = stack.start_execution("registered-raw", {**started, "roleArn": ROLE,
                                                  "identityContext": token,
                                                  "identityProvider": "QuickSight"})

    assert ex.status == "FAILED", ex.summary()
    assert ex.error == "InvalidJobReference"
    [first] = ex.lambda_outputs()
    assert first["jobStatus"] == "RUNNING", "the token served its own poll"
    assert first["caller"]["withheld"] == ["identityContext"]
    [notice] = stack.sns_messages()
    assert "name the user" in notice["message"]["cause"]
    assert token not in json.dumps(notice)


def test_credentials_refused_mid_loop_are_renewed(stack):
    started = start_as_registered_user(stack, "registered-renewed")
    first = stack.invoke({**started, "roleArn": ROLE, "userName": "ana"})
    assert first["status"] == "IN_PROGRESS", first
    # The session's credentials stop working on the next describe (as an expiry would).
    stack.emulator_faults([{"operation": "describe", "error": "ExpiredTokenException",
                            "count": 1}])

    ex = stack.start_execution("registered-renewed", first)

    assert ex.status == "SUCCEEDED", ex.summary()
    assert [error for error, _ in ex.task_failures()] == ["CredentialsError"]
    assert ex.output["jobStatus"] == "COMPLETED"
