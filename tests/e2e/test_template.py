"""Static checks of template.yaml that cfn-lint and checkov do not make: least privilege, both
as written and as deployed (after the SAM transform, which may add roles and policies)."""

import functools
import json
import re
import subprocess

import pytest
import yaml

from harness.env import POLLER_BIN, ROOT

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, ...) as plain {tag: value} nodes."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CfnLoader.add_multi_constructor("!", _tag)


def template():
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


def statements(node):
    """Every IAM statement anywhere in the template (inside !If branches too)."""
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def test_no_statement_grants_a_wildcard_action():
    found = list(statements(template()["Resources"]))
    assert len(found) >= 5, found
    for statement in found:
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        for action in actions:
            assert "*" not in action, statement
            assert statement["Effect"] == "Allow"


def test_no_statement_grants_every_resource():
    for statement in statements(template()["Resources"]):
        resources = statement.get("Resource")
        resources = resources if isinstance(resources, list) else [resources]
        assert "*" not in resources, statement


def test_function_may_only_describe_snapshot_jobs_publish_and_write_its_logs():
    role = template()["Resources"]["PollerRole"]["Properties"]
    function = template()["Resources"]["PollerFunction"]["Properties"]
    assert function["Role"] == {"GetAtt": "PollerRole.Arn"}
    assert "Policies" not in function, "SAM would add its own role next to PollerRole"
    granted = set()
    for statement in statements(role["Policies"]):
        actions = statement["Action"]
        granted.update(actions if isinstance(actions, list) else [actions])
    assert granted == {
        "quicksight:DescribeDashboardSnapshotJob",
        "quicksight:DescribeDashboardSnapshotJobResult",
        "sns:Publish",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "s3:GetObject",
        "sts:AssumeRole",
        "sts:SetContext",
    }
    # Roles only the deployer listed, and only when listed (the If's condition).
    [assume] = [st for st in statements(role["Policies"]) if "sts:AssumeRole" in st["Action"]]
    assert assume["Action"] == ["sts:AssumeRole", "sts:SetContext"]
    assert assume["Resource"] == {"Split": [",", {"Ref": "AllowedRoleArns"}]}
    conditional = [p for p in role["Policies"][0]["PolicyDocument"]["Statement"]
                   if "If" in p and p["If"][1] is assume]
    assert conditional and conditional[0]["If"][0] == "HasAllowedRoles"
    [read] = [st for st in statements(role["Policies"]) if st["Action"] == "s3:GetObject"]
    assert read["Resource"] == {
        "Sub": "arn:${AWS::Partition}:s3:::${ReportBucket}/${ReportPrefix}*"}


def test_download_links_are_granted_only_when_a_report_bucket_is_named():
    role = deployed()["Resources"]["PollerRole"]["Properties"]
    wrapped = [p for p in role["Policies"][0]["PolicyDocument"]["Statement"]
               if "Fn::If" in p and p["Fn::If"][0] == "HasReportBucket"]
    assert len(wrapped) == 1 and wrapped[0]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    function = deployed()["Resources"]["PollerFunction"]["Properties"]
    assert function["Environment"]["Variables"]["PRESIGN_SECONDS"] == {"Ref": "PresignSeconds"}
    assert template()["Parameters"]["PresignSeconds"]["Default"] == 0, "off by default"


def test_kms_grants_hold_only_through_sns_and_take_a_key_arn():
    kms = [s for s in statements(template()["Resources"]) if "kms:Decrypt" in s["Action"]]
    assert len(kms) == 3, kms  # the function's, the wait loop's and the execution monitor's
    for statement in kms:
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": {"Sub": "sns.${AWS::Region}.amazonaws.com"}}}
    pattern = template()["Parameters"]["TopicKmsKeyId"]["AllowedPattern"]
    assert re.match(pattern, "alias/aws/sns")
    assert re.match(pattern,
                    "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert not re.match(pattern, "alias/my-key"), "an alias matches no IAM resource"


def test_start_job_is_granted_on_snapshot_jobs_only():
    start = [s for s in statements(template()["Resources"])
             if s["Action"] == "quicksight:StartDashboardSnapshotJob"]
    assert len(start) == 1
    assert start[0]["Resource"]["Sub"].endswith(":dashboard/${DashboardIdPattern}/snapshot-job/*")


@functools.cache
def deployed(*overrides: str) -> dict:
    """template.yaml after the SAM transform (scripts/sam_transform.py, aws-sam-translator)."""
    if not SAM_PYTHON.exists():
        pytest.fail("missing .venv-sam: run scripts/tools.sh first")
    done = subprocess.run([str(SAM_PYTHON), str(ROOT / "scripts" / "sam_transform.py"), *overrides],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("overrides", [
    (),
    ("TopicKmsKeyId=arn:aws:kms:us-east-1:123456789012:key/k", "AllowStartSnapshotJob=true",
     "ReportScheduleExpression=cron(0 6 * * ? *)", 'ReportStartRequest={"AwsAccountId": "1"}'),
])
def test_deployed_roles_carry_no_managed_policy_and_no_wildcard(overrides):
    resources = deployed(*overrides)["Resources"]
    roles = {name: r["Properties"] for name, r in resources.items()
             if r["Type"] == "AWS::IAM::Role"}
    assert {"PollerRole", "PollerStateMachineRole"} <= set(roles), roles.keys()
    for name, role in roles.items():
        assert not role.get("ManagedPolicyArns"), f"{name}: {role.get('ManagedPolicyArns')}"
        for statement in statements(role.get("Policies", [])):
            resources_ = statement["Resource"]
            resources_ = resources_ if isinstance(resources_, list) else [resources_]
            assert "*" not in resources_, (name, statement)
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                assert "*" not in action, (name, statement)


def test_deployed_function_logs_only_to_its_own_log_group():
    resources = deployed()["Resources"]
    function = resources["PollerFunction"]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": ["PollerRole", "Arn"]}
    logs = [s for s in statements(resources["PollerRole"]["Properties"]["Policies"])
            if any(a.startswith("logs:") for a in s["Action"])]
    assert logs and all(s["Resource"] == {"Fn::GetAtt": ["PollerLogGroup", "Arn"]} for s in logs)
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "PollerLogGroup"}


def test_executions_that_end_timed_out_or_aborted_reach_the_execution_monitor():
    resources = template()["Resources"]
    monitor = resources["ExecutionEndedNotifier"]["Properties"]
    assert monitor["DefinitionUri"] == "statemachine/execution-ended.asl.json"
    ended, uncaught = monitor["Events"].values()
    for rule in (ended, uncaught):
        assert rule["Type"] == "EventBridgeRule"
        pattern = rule["Properties"]["Pattern"]
        assert pattern["source"] == ["aws.states"]
        assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
        assert pattern["detail"]["stateMachineArn"] == [{"Ref": "PollerStateMachine"}]
    assert ended["Properties"]["Pattern"]["detail"]["status"] == ["TIMED_OUT", "ABORTED"]
    # FAILED only with the errors no Catch handles: the others were notified by NotifyFailure.
    failed = uncaught["Properties"]["Pattern"]["detail"]
    assert failed["status"] == ["FAILED"]
    assert failed["error"] == ["States.Runtime", "States.DataLimitExceeded"]
    # ...and a wait loop that never ends by itself times out: beyond the longest job deadline.
    asl = json.loads((ROOT / "statemachine" / "poller.asl.json").read_text())
    assert asl["TimeoutSeconds"] > template()["Parameters"]["JobDeadlineSeconds"]["MaxValue"]


def test_a_fifo_topic_cannot_be_combined_with_a_poll_chain():
    parameters = template()["Parameters"]
    assert parameters["FifoTopic"]["Default"] == "false"
    rule = template()["Rules"]["FifoTopicWithoutPollChain"]
    assert rule["RuleCondition"] == {"Equals": [{"Ref": "FifoTopic"}, "true"]}
    assert rule["Assertions"][0]["Assert"] == {"Equals": [{"Ref": "PollChain"}, "false"]}


def test_the_function_schedules_only_in_its_group_passing_only_the_chain_role():
    resources = template()["Resources"]
    policy = resources["PollerChainPolicy"]
    assert policy["Condition"] == "HasPollChain"
    assert policy["Properties"]["Roles"] == [{"Ref": "PollerRole"}]
    create, pass_role = policy["Properties"]["PolicyDocument"]["Statement"]
    assert create["Action"] == "scheduler:CreateSchedule"
    assert create["Resource"] == {"Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:"
                                             "${AWS::AccountId}:schedule/${PollChainGroup}/*"}
    assert pass_role["Action"] == "iam:PassRole"
    assert pass_role["Resource"] == {"GetAtt": "PollChainRole.Arn"}
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    # No other statement of the template may create schedules or pass roles.
    others = [st for name, r in resources.items() if name != "PollerChainPolicy"
              for st in statements(r)]
    assert not [st for st in others if st["Action"] in ("scheduler:CreateSchedule", "iam:PassRole")]


def test_the_chain_role_may_only_invoke_this_function():
    resources = template()["Resources"]
    trust = resources["PollChainRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [t["Principal"] for t in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert "Policies" not in resources["PollChainRole"]["Properties"]
    invoke = resources["PollChainInvokePolicy"]["Properties"]
    assert invoke["Roles"] == [{"Ref": "PollChainRole"}]
    assert invoke["PolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": "lambda:InvokeFunction",
        "Resource": {"GetAtt": "PollerFunction.Arn"}}]
    variables = resources["PollerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SCHEDULE_GROUP_NAME"]["If"][:2] == ["HasPollChain", {"Ref": "PollChainGroup"}]
    assert variables["SCHEDULE_ROLE_ARN"]["If"][:2] == [
        "HasPollChain", {"GetAtt": "PollChainRole.Arn"}]
    # Schedules live in the stack's group: deleting the stack deletes the group and them.
    assert resources["PollChainGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"


def test_a_scheduled_report_starts_the_state_machine_with_its_scheduled_time():
    resources = template()["Resources"]
    schedule = resources["ReportSchedule"]["Properties"]
    assert schedule["Target"]["Arn"] == {"Ref": "PollerStateMachine"}
    tick = '"scheduledTime": "<aws.scheduler.scheduled-time>"'
    assert schedule["Target"]["Input"] == {"Sub": '{"start": ${ReportStartRequest}, ' + tick + "}"}
    role = resources["ReportScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert role["Statement"] == [{"Effect": "Allow", "Action": "states:StartExecution",
                                  "Resource": {"Ref": "PollerStateMachine"}}]
    rule = template()["Rules"]["ReportsStartJobs"]
    assert rule["Assertions"][0]["Assert"] == {"Equals": [{"Ref": "AllowStartSnapshotJob"}, "true"]}


def test_failed_asynchronous_invocations_reach_the_topic_unless_it_is_fifo():
    # SAM drops a DestinationConfig written as an If inside a function's EventInvokeConfig:
    # read the deployed template, where the destination must survive.
    resources = deployed()["Resources"]
    configs = [r["Properties"] for r in resources.values()
               if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert len(configs) == 1, "one invoke config, as deployed"
    [config] = configs
    assert config["MaximumRetryAttempts"] == 2 and config["MaximumEventAgeInSeconds"] == 300
    destination = config["DestinationConfig"]
    # The If stays in the deployed template; CloudFormation resolves it with IsFifoTopic.
    assert destination["Fn::If"][0] == "IsFifoTopic"
    assert destination["Fn::If"][1] == {"Ref": "AWS::NoValue"}
    assert destination["Fn::If"][2] == {"OnFailure": {"Destination": {"Ref": "FailureTopic"}}}


def written_metrics() -> dict:
    """What the binary says its EMF lines hold (`--print-metrics`)."""
    if not POLLER_BIN.exists():
        pytest.fail(f"missing {POLLER_BIN}: cargo build --workspace first")
    done = subprocess.run([str(POLLER_BIN), "--print-metrics"], capture_output=True, text=True,
                          timeout=30, check=True, env={"PATH": "/usr/bin:/bin"})
    return json.loads(done.stdout)


def test_alarms_watch_the_metrics_the_function_writes_under_outcomes_it_can_write():
    catalogue = written_metrics()
    dimensions_of = {m["name"]: m["dimensions"] for m in catalogue["metrics"]}
    resources = deployed()["Resources"]
    alarms = {n: r["Properties"] for n, r in resources.items()
              if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"JobsFailedAlarm", "JobsTimedOutAlarm", "ThrottlingAlarm", "NotificationFailedAlarm",
            "FunctionErrorsAlarm", "ExecutionsFailedAlarm", "ExecutionsTimedOutAlarm",
            "ExecutionsAbortedAlarm"} == set(alarms)
    watched = []
    for name, alarm in alarms.items():
        metrics = [alarm] + [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", [])
                             if "MetricStat" in m]
        for metric in metrics:
            if "MetricName" not in metric:
                continue
            if metric["Namespace"] == catalogue["namespace"]:
                assert metric["MetricName"] in dimensions_of, (name, metric["MetricName"])
                given = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
                # Exactly the dimensions the line writes for that metric, this stack's function.
                assert sorted(given) == sorted(dimensions_of[metric["MetricName"]]), (name, given)
                assert given["Function"] == {"Ref": "PollerFunction"}, name
                if "Outcome" in given:
                    assert given["Outcome"] in catalogue["outcomes"], (name, given["Outcome"])
                watched.append((metric["MetricName"], given.get("Outcome")))
            elif metric["Namespace"] == "AWS/States":
                assert metric["Dimensions"] == [
                    {"Name": "StateMachineArn", "Value": {"Ref": "PollerStateMachine"}}]
            else:
                assert metric["Namespace"] == "AWS/Lambda", name
                assert metric["Dimensions"] == [
                    {"Name": "FunctionName", "Value": {"Ref": "PollerFunction"}}]
        assert alarm["AlarmActions"] == [{"Fn::If": ["CreatesAlarmTopic", {"Ref": "AlarmTopic"},
                                                     {"Ref": "AlarmTopicArn"}]}], name
        assert alarm["TreatMissingData"] == "notBreaching", name
    for expected in [("JobsFailed", None), ("JobsTimedOut", None),
                     ("Throttles", "QuickSightThrottled"), ("Polls", "NotificationFailed"),
                     ("Polls", "NotificationRejected")]:
        assert expected in watched, expected


def test_the_dashboard_plots_metrics_the_function_writes():
    catalogue = written_metrics()
    names = {m["name"] for m in catalogue["metrics"]}
    body = template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Sub"]
    dimensions = "{QuickSightSnapshotPoller,Function,Outcome} Function="
    assert body.count(dimensions) == 4, "this stack only"
    searched = set(re.findall(r'MetricName=\\"(\w+)\\"', body))
    assert searched and searched <= names, searched
    listed = set(re.findall(r'\["QuickSightSnapshotPoller", "(\w+)"', body))
    assert listed and listed <= names, listed
    substituted = (body.replace("${AWS::Region}", "us-east-1")
                   .replace("${PollerStateMachine}", "arn").replace("${PollerFunction}", "poller"))
    assert len(json.loads(substituted)["widgets"]) == 4, "the body is JSON once substituted"
