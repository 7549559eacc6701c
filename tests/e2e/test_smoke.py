"""scripts/smoke.sh against moto: a stack (in moto's CloudFormation, its outputs naming the
harness's function, state machine and topic) whose function answers through the Lambda front,
with the pinned AWS CLI. Each check's failure is one line that names what is wrong."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from harness.env import DUMMY_CREDENTIALS, REGION, ROOT
from harness.stack import FUNCTION_ARN

AWS = ROOT / ".venv-awscli" / "bin" / "aws"


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack()
    stack.client("cloudformation").create_stack(StackName="qs-poller", TemplateBody=json.dumps({
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "PollerFunctionArn": {"Value": FUNCTION_ARN},
            "PollerStateMachineArn": {"Value": stack.state_machine_arn},
            "FailureTopicArn": {"Value": stack.topic_arn},
        }}))
    return stack


@pytest.fixture
def fresh(stack):
    stack.reset()
    stack.emulator_faults([])
    return stack


def smoke(stack, name: str = "qs-poller") -> subprocess.CompletedProcess:
    if not AWS.exists():
        pytest.fail("the pinned AWS CLI is missing: run scripts/tools.sh")
    env = {**os.environ, **DUMMY_CREDENTIALS, "AWS": str(AWS), "AWS_REGION": REGION,
           "AWS_DEFAULT_REGION": REGION,
           # The front answers Lambda Invoke and passes everything else to moto.
           "AWS_ENDPOINT_URL": stack.front_url}
    return subprocess.run([str(ROOT / "scripts" / "smoke.sh"), name], capture_output=True,
                          text=True, env=env, timeout=120)


def test_a_healthy_stack_passes_and_nothing_is_notified(fresh):
    fresh.client("sns").subscribe(TopicArn=fresh.topic_arn, Protocol="email",
                                  Endpoint="ops@example.com")
    done = smoke(fresh)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("smoke: qs-poller: ok"), done.stdout
    assert fresh.sns_messages() == [], "a check touches no real job and tells no one"
    assert fresh.emulator("GET", "calls")["byOperation"]["describe"] == 1


def test_a_function_quicksight_refuses_is_named_in_one_line(fresh):
    fresh.emulator_faults([{"operation": "describe", "error": "AccessDeniedException",
                            "count": 1}])
    done = smoke(fresh)

    assert done.returncode == 1
    assert done.stdout.count("\n") == 1, done.stdout
    assert "AccessDeniedException" in done.stdout, done.stdout


def test_a_function_that_fails_is_named_with_its_error_type(fresh):
    fresh.emulator_faults([{"operation": "describe", "error": "InternalFailureException",
                            "count": 10}])
    done = smoke(fresh)

    assert done.returncode == 1
    assert "the function failed: QuickSightUnavailable" in done.stdout, done.stdout


def test_an_unknown_stack_is_named(fresh):
    done = smoke(fresh, "no-such-stack")

    assert done.returncode == 1
    assert done.stdout.startswith("smoke: no-such-stack: no such stack"), done.stdout


# Last: it unsubscribes the harness's own tap from the topic.
def test_a_topic_nobody_reads_fails_the_check(fresh):
    for subscription in fresh.client("sns").list_subscriptions_by_topic(
            TopicArn=fresh.topic_arn)["Subscriptions"]:
        fresh.client("sns").unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    done = smoke(fresh)

    assert done.returncode == 1
    assert done.stdout.strip() == (f"smoke: qs-poller: nobody is subscribed to {fresh.topic_arn}:"
                                   " notices reach no one"), done.stdout
