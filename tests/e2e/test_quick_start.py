"""The README's quick start, followed as a newcomer would, with moto where AWS would be.

Each command of the README's quick-start block runs as written, through the pinned AWS CLI and
the real scripts, against moto (behind the Lambda front, which runs the real function), except:
- `scripts/package.sh` (the ~12-minute release build) is not run: the stack's function is the
  debug build of the same source that the whole suite uses;
- `sam deploy` is what CloudFormation does with it: the template after the SAM transform
  (scripts/sam_transform.py, with the command's own parameter overrides read by SAM CLI's
  parser), created in moto's CloudFormation. moto reads no DefinitionS3Location and keeps
  stack-made state machines where its executor does not look, so the wait loop is created
  through the API under the stack's name, with the stack's resolved substitutions.
The execution the last command starts must then poll the job of events/api-casing.json to the
end, through the stack's own state machine and function."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import zipfile

import pytest

from harness.aws import subscribe_queue
from harness.env import ACCOUNT, DUMMY_CREDENTIALS, REGION, ROOT

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
AWS_BIN = ROOT / ".venv-awscli" / "bin"
DEFINITIONS = {"PollerStateMachine": "statemachine/poller.asl.json",
               "ReportsStateMachine": "statemachine/reports.asl.json",
               "ExecutionEndedNotifier": "statemachine/execution-ended.asl.json"}


def quick_start(title: str = "Quick start") -> list[str]:
    """The commands of the README section `title`'s shell block."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def overrides(words: list[str]) -> dict[str, str]:
    start = words.index("--parameter-overrides") + 1
    end = next((i for i in range(start, len(words)) if words[i].startswith("--")), len(words))
    script = ("import json,sys\nfrom samcli.cli.types import CfnParameterOverridesType\n"
              "print(json.dumps(CfnParameterOverridesType().convert("
              "tuple(json.loads(sys.argv[1])), None, None)))")
    return json.loads(subprocess.run([str(SAM_PYTHON), "-c", script, json.dumps(words[start:end])],
                                     capture_output=True, text=True, check=True).stdout)


def deploy(stack, words: list[str]):
    """What CloudFormation does with `sam deploy`'s upload."""
    name = option(words, "--stack-name")
    parameters = overrides(words)
    transformed = json.loads(subprocess.run(
        [str(SAM_PYTHON), str(ROOT / "scripts" / "sam_transform.py"),
         *(f"{k}={v}" for k, v in parameters.items())],
        capture_output=True, text=True, check=True).stdout)
    for logical, resource in transformed["Resources"].items():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            props = resource["Properties"]
            props.pop("DefinitionS3Location")
            substitutions = props.pop("DefinitionSubstitutions", {})
            text = (ROOT / DEFINITIONS[logical]).read_text()
            props["DefinitionString"] = {"Fn::Sub": [text, substitutions]}
    # SAM's upload of the package (sam_transform.py names s3://sam-artifacts/poller.zip): a
    # stand-in archive, since the function that answers is the suite's debug build.
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="sam-artifacts")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("bootstrap", "#!/bin/sh\n")
    s3.put_object(Bucket="sam-artifacts", Key="poller.zip", Body=archive.getvalue())
    cloudformation = stack.client("cloudformation")
    cloudformation.create_stack(
        StackName=name, TemplateBody=json.dumps(transformed), Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE", status
    # moto's CloudFormation keeps state machines where its executing Step Functions does not
    # look: the wait loop is created through the API, with the name and substitutions the stack
    # resolved (its outputs, its parameters' values).
    outputs = {o["OutputKey"]: o["OutputValue"] for o in
               cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
    defaults = {k: str(v.get("Default", "")) for k, v in transformed["Parameters"].items()}
    values = {"Partition": "aws", "PollerFunctionArn": outputs["PollerFunctionArn"],
              "FailureTopicArn": outputs["FailureTopicArn"],
              "LedgerTableName": outputs["NoticeLedgerName"],
              **{key: parameters.get(key, defaults[key])
                 for key in ("StartCapacityWaitMinutes", "ReportsMaxConcurrency")}}
    for logical in ("PollerStateMachine", "ReportsStateMachine"):
        if f"{logical}Arn" not in outputs:
            continue
        text = (ROOT / DEFINITIONS[logical]).read_text()
        for key, value in values.items():
            text = text.replace("${" + key + "}", value)
        assert "${" not in text
        arn = stack.client("stepfunctions").create_state_machine(
            name=outputs[f"{logical}Arn"].rsplit(":", 1)[1], definition=text,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-state-machine")["stateMachineArn"]
        assert arn == outputs[f"{logical}Arn"]
    return outputs


def follow(stack, commands: list[str], deployed=None) -> str:
    """Runs a README block as a newcomer would: the release build stood in for, `sam deploy` as
    CloudFormation does it (then `deployed(outputs)`), every other command through the pinned
    AWS CLI against moto. Answers the ARN of the execution the block starts."""
    if not (SAM_PYTHON.exists() and (AWS_BIN / "aws").exists()):
        pytest.fail("the SAM CLI or the AWS CLI venv is missing: run scripts/tools.sh")
    env = {**os.environ, **DUMMY_CREDENTIALS, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
           "AWS_ENDPOINT_URL": stack.front_url, "PATH": f"{AWS_BIN}:{os.environ['PATH']}"}
    started = None
    for line in commands:
        words = shlex.split(line, comments=True)
        if words[0] == "scripts/package.sh":
            continue  # the release build: the suite's debug build of the same source stands in
        if words[0].endswith("sam") and words[1] == "deploy":
            outputs = deploy(stack, words)
            if deployed:
                deployed(outputs)
            continue
        done = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        if "start-execution" in line:
            started = json.loads(done.stdout)["executionArn"]
    assert started, "the block starts an execution"
    return started


def test_the_quick_start_deploys_a_stack_that_polls_a_job(make_stack):
    if not (SAM_PYTHON.exists() and (AWS_BIN / "aws").exists()):
        pytest.fail("the SAM CLI or the AWS CLI venv is missing: run scripts/tools.sh")
    stack = make_stack()
    example = json.loads((ROOT / "events" / "api-casing.json").read_text())
    stack.add_job(example["SnapshotJobId"], example["DashboardId"], queuedPolls=0,
                  runningPolls=1, outcome="COMPLETED")
    commands = quick_start()
    assert 4 <= len(commands) <= 6, commands
    started = follow(stack, commands)

    execution = stack.wait_execution(started, "first-poll")

    assert execution.status == "SUCCEEDED", execution.summary()
    assert execution.output["status"] == "SUCCEEDED"
    assert execution.output["job"]["snapshotJobId"] == example["SnapshotJobId"]
    topic = next(o["OutputValue"] for o in stack.client("cloudformation").describe_stacks(
        StackName="qs-poller")["Stacks"][0]["Outputs"] if o["OutputKey"] == "FailureTopicArn")
    [subscription] = stack.client("sns").list_subscriptions_by_topic(
        TopicArn=topic)["Subscriptions"]
    assert subscription["Endpoint"] == "you@example.com"


def test_the_reports_quick_start_runs_a_manifest_to_one_summary_in_five_commands(make_stack):
    """The README's five commands of a reports run: package (stood in for), deploy, subscribe,
    upload events/reports/nightly.csv, start; then one summary reaches the topic, and the
    results file is in the bucket the deploy named."""
    commands = quick_start("A reports run in five commands")
    assert len(commands) == 5, commands
    stack = make_stack()
    stack.emulator("POST", "defaults", {"runSeconds": 2, "outcome": "COMPLETED"})
    bucket = shlex.split(commands[1])[-1].removeprefix("ReportBucket=")
    stack.client("s3").create_bucket(Bucket=bucket)  # your exports' bucket, there already
    sqs = stack.client("sqs")
    inbox = sqs.create_queue(QueueName="reports-inbox")["QueueUrl"]

    def deployed(outputs: dict):
        # The function answers with the deployed stack's settings of a run.
        variables = stack.client("lambda").get_function_configuration(
            FunctionName=outputs["PollerFunctionArn"])["Environment"]["Variables"]
        stack.restart_function({k: str(variables[k]) for k in (
            "SNS_TOPIC_ARN", "LEDGER_TABLE_NAME", "RUN_RESULTS", "REPORT_MAX_ITEMS")})
        # A stand-in for the inbox the next command subscribes.
        subscribe_queue(stack.client("sns"), sqs, outputs["FailureTopicArn"], inbox)

    started = follow(stack, commands, deployed)

    execution = stack.wait_execution(started, "nightly-1", timeout=180)

    assert execution.status == "SUCCEEDED", execution.summary()
    [notice] = [json.loads(json.loads(m["Body"])["Message"]) for m in sqs.receive_message(
        QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])]
    summary = notice["summary"]
    assert (summary["reports"], summary["counts"]["SUCCEEDED"]) == (3, 3), summary
    key = summary["runKey"]
    assert summary["results"] == f"s3://{bucket}/results/{key}.json"
    results = json.loads(stack.client("s3").get_object(
        Bucket=bucket, Key=f"results/{key}.json")["Body"].read())
    assert [r["label"] for r in results["reports"]] == ["acme", "globex", "initech"]
    assert all(r["status"] == "SUCCEEDED" and r["files"] for r in results["reports"])
