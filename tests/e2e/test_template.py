"""Static checks of template.yaml that cfn-lint and checkov do not make: least privilege, both
as written and as deployed (after the SAM transform, which may add roles and policies)."""

import functools
import json
import re
import subprocess

import pytest

from harness.env import POLLER_BIN, ROOT
from harness.template import template

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"




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


# CloudWatch Logs' vended-log delivery, which Step Functions logging needs: these actions take no
# resource (Step Functions developer guide, "IAM policies for logging to CloudWatch Logs").
LOG_DELIVERY = {"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"}


def test_no_statement_grants_every_resource_but_log_delivery():
    for statement in statements(template()["Resources"]):
        resources = statement.get("Resource")
        resources = resources if isinstance(resources, list) else [resources]
        if "*" in resources:
            assert set(statement["Action"]) == LOG_DELIVERY, statement


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
        "s3:PutObject",
        "sts:AssumeRole",
        "sts:SetContext",
        "sqs:SendMessage",
        "quicksight:GetIdentityContext",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "events:PutEvents",
    }
    # Lambda sends a failed asynchronous invocation's record with this role: to that queue only.
    [send] = [st for st in statements(role["Policies"]) if st["Action"] == "sqs:SendMessage"]
    assert send["Resource"] == {"GetAtt": "OperatorDeadLetterQueue.Arn"}
    [publish] = [st for st in statements(role["Policies"]) if st["Action"] == "sns:Publish"]
    assert publish["Resource"] == {"Ref": "FailureTopic"}
    # Roles only the deployer listed, and only when listed (the If's condition).
    [assume] = [st for st in statements(role["Policies"]) if "sts:AssumeRole" in st["Action"]]
    assert assume["Action"] == ["sts:AssumeRole", "sts:SetContext"]
    assert assume["Resource"] == {"Split": [",", {"Ref": "AllowedRoleArns"}]}
    conditional = [p for p in role["Policies"][0]["PolicyDocument"]["Statement"]
                   if "If" in p and p["If"][1] is assume]
    assert conditional and conditional[0]["If"][0] == "HasAllowedRoles"
    # Objects of ReportBucket only, each grant under its own prefix: the snapshot files (links),
    # a reports run's manifests and results.
    reads = [st["Resource"] for st in statements(role["Policies"]) if "s3:GetObject" in (
        st["Action"] if isinstance(st["Action"], list) else [st["Action"]])]
    assert reads == [{"Sub": f"arn:${{AWS::Partition}}:s3:::${{ReportBucket}}/${{{prefix}}}*"}
                     for prefix in ("ReportPrefix", "ReportResultsPrefix", "ReportManifestPrefix")]


def test_the_ledger_grant_is_the_calls_the_function_makes_on_its_own_table_only():
    role = template()["Resources"]["PollerRole"]["Properties"]
    ledger = [st for st in statements(role["Policies"])
              if str(st["Action"]).startswith(("dynamodb:", "['dynamodb:"))]
    [items] = [st for st in ledger if st["Resource"] == {"GetAtt": "NoticeLedger.Arn"}]
    source = "".join(p.read_text() for p in sorted((ROOT / "src" / "ledger").glob("*.rs")))
    called = {"dynamodb:" + "".join(w.title() for w in name.split("_"))
              for name in re.findall(r"\.client\(\)\s*\.(\w+)\(\)", source)}
    # Query reads the history index only: a reports run's records for its summary (and
    # `--history`, at a terminal with the person's own credentials).
    [query] = [st for st in ledger if st is not items]
    assert query == {"Sid": "ReadRunRecords", "Effect": "Allow", "Action": "dynamodb:Query",
                     "Resource": {"Sub": "${NoticeLedger.Arn}/index/history"}}
    assert called == set(items["Action"]) | {"dynamodb:Query"}
    table = template()["Resources"]["NoticeLedger"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_events_are_granted_only_on_the_named_bus_for_the_functions_own_source_and_type():
    role = deployed()["Resources"]["PollerRole"]["Properties"]
    [wrapped] = [p for p in role["Policies"][0]["PolicyDocument"]["Statement"]
                 if "Fn::If" in p and p["Fn::If"][1].get("Action") == "events:PutEvents"]
    condition, statement, otherwise = wrapped["Fn::If"]
    assert (condition, otherwise) == ("HasEventBus", {"Ref": "AWS::NoValue"})
    assert template()["Conditions"]["HasEventBus"] == {
        "Not": [{"Equals": [{"Ref": "EventBusName"}, ""]}]}
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:"
                                                "${AWS::AccountId}:event-bus/${EventBusName}"}
    # The grant is the call the function makes, with the type it puts.
    source = "".join(p.read_text() for p in sorted((ROOT / "src" / "job_event").glob("*.rs")))
    called = {"events:" + "".join(w.title() for w in name.split("_"))
              for name in re.findall(r"\.client\(\)\s*\.(\w+)\(\)", source)}
    assert called == {"events:PutEvents"}
    [detail_type] = re.findall(r'pub const DETAIL_TYPE: &str = "([^"]+)";', source)
    assert statement["Condition"] == {"StringEquals": {
        "events:source": {"Ref": "EventSource"}, "events:detail-type": detail_type}}
    variables = deployed()["Resources"]["PollerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["EVENT_BUS_NAME"] == {"Ref": "EventBusName"}
    assert variables["EVENT_SOURCE"] == {"Ref": "EventSource"}
    parameters = template()["Parameters"]
    assert parameters["EventBusName"]["Default"] == "default"
    assert re.fullmatch(parameters["EventBusName"]["AllowedPattern"], ""), "empty turns it off"


def test_an_aws_event_source_is_refused_at_deploy():
    [assertion] = template()["Rules"]["EventSourceIsNotAws"]["Assertions"]
    # !Select [0, !Split ["aws.", source]] is "" exactly when the source begins with "aws.".
    split = assertion["Assert"]["Not"][0]["Equals"][0]["Select"]
    assert split == [0, {"Split": ["aws.", {"Ref": "EventSource"}]}]
    for source, refused in (("aws.quicksight", True), ("acme.aws.reports", False),
                            ("quicksight-snapshot-poller", False)):
        assert (source.split("aws.")[0] == "") == refused, source


def test_download_links_are_granted_only_when_a_report_bucket_is_named_and_links_are_on():
    role = deployed()["Resources"]["PollerRole"]["Properties"]
    wrapped = [p for p in role["Policies"][0]["PolicyDocument"]["Statement"]
               if "Fn::If" in p and p["Fn::If"][1].get("Sid") == "ReadSnapshotFilesForLinks"]
    assert len(wrapped) == 1 and wrapped[0]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert wrapped[0]["Fn::If"][0] == "LinksOn"
    assert wrapped[0]["Fn::If"][1]["Action"] == "s3:GetObject"
    # A reports run's objects: its results file (written, and read by its link's holder) and
    # its manifests, each only under its own prefix of a named bucket.
    s3 = {p["Fn::If"][1]["Sid"]: (p["Fn::If"][0], p["Fn::If"][1]["Action"],
                                  p["Fn::If"][1]["Resource"])
          for p in role["Policies"][0]["PolicyDocument"]["Statement"]
          if "Fn::If" in p and p["Fn::If"][1].get("Sid") in ("WriteRunResults", "ReadRunManifests")}
    assert s3 == {
        "WriteRunResults": ("HasReportBucket", ["s3:PutObject", "s3:GetObject"], {"Fn::Sub": (
            "arn:${AWS::Partition}:s3:::${ReportBucket}/${ReportResultsPrefix}*")}),
        "ReadRunManifests": ("ReadsManifests", "s3:GetObject", {"Fn::Sub": (
            "arn:${AWS::Partition}:s3:::${ReportBucket}/${ReportManifestPrefix}*")})}
    # LinksOn: a bucket is named and PresignSeconds is not 0 (0 turns the links off).
    assert template()["Conditions"]["LinksOn"] == {"And": [
        {"Condition": "HasReportBucket"}, {"Not": [{"Equals": [{"Ref": "PresignSeconds"}, "0"]}]}]}
    assert template()["Conditions"]["HasReportBucket"] == {
        "Not": [{"Equals": [{"Ref": "ReportBucket"}, ""]}]}
    function = deployed()["Resources"]["PollerFunction"]["Properties"]
    assert function["Environment"]["Variables"]["PRESIGN_SECONDS"] == {"Ref": "PresignSeconds"}
    assert template()["Parameters"]["PresignSeconds"]["Default"] == 0, "off by default"


def test_kms_grants_hold_only_through_sns_and_take_a_key_arn():
    kms = [s for s in statements(template()["Resources"]) if "kms:Decrypt" in s["Action"]]
    assert len(kms) == 4, kms  # the function's, the wait loop's, the reports run's, the monitor's
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
    # The poller's StartJob, and each item's of a reports run.
    assert len(start) == 2
    for statement in start:
        assert statement["Resource"]["Sub"].endswith(
            ":dashboard/${DashboardIdPattern}/snapshot-job/*")


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
    ("AllowedRoleArns=arn:aws:iam::123456789012:role/viewer", "AllowedUserNamespaces=a,b",
     "ReportBucket=reports", "PresignSeconds=3600", "FifoTopic=true"),
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
            if "*" in resources_:
                assert set(statement["Action"]) == LOG_DELIVERY, (name, statement)
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


def test_every_abnormal_end_of_an_execution_reaches_the_execution_monitor():
    resources = template()["Resources"]
    monitor = resources["ExecutionEndedNotifier"]["Properties"]
    assert monitor["DefinitionUri"] == "statemachine/execution-ended.asl.json"
    [ended] = monitor["Events"].values()
    assert ended["Type"] == "EventBridgeRule"
    pattern = ended["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"] == {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": {
        "If": ["GrantsStartSnapshotJob",
               [{"Ref": "PollerStateMachine"}, {"Ref": "ReportsStateMachine"}],
               [{"Ref": "PollerStateMachine"}]]}}
    # The monitor logs its own failures (without the event) and an alarm watches them.
    assert monitor["Logging"]["Level"] == "ERROR"
    assert monitor["Logging"]["IncludeExecutionData"] is False
    alarm = resources["ExecutionEndedNotifierFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn",
                                    "Value": {"Ref": "ExecutionEndedNotifier"}}]
    # Every machine reaches the ledger through the same table.
    for name in ("PollerStateMachine", "ReportsStateMachine", "ExecutionEndedNotifier"):
        machine = resources[name]["Properties"]
        assert machine["DefinitionSubstitutions"]["LedgerTableName"] == {"Ref": "NoticeLedger"}
        [ledger] = [st for st in statements(machine["Policies"])
                    if any(a.startswith("dynamodb:") for a in st["Action"])]
        assert ledger["Resource"] == {"GetAtt": "NoticeLedger.Arn"}
    # ...and a wait loop that never ends by itself times out: beyond the longest job deadline.
    asl = json.loads((ROOT / "statemachine" / "poller.asl.json").read_text())
    assert asl["TimeoutSeconds"] > template()["Parameters"]["JobDeadlineSeconds"]["MaxValue"]


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


def test_the_chain_role_may_only_invoke_this_function_and_dead_letter_its_ticks():
    resources = template()["Resources"]
    trust = resources["PollChainRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [t["Principal"] for t in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert "Policies" not in resources["PollChainRole"]["Properties"]
    invoke = resources["PollChainInvokePolicy"]["Properties"]
    assert invoke["Roles"] == [{"Ref": "PollChainRole"}]
    assert invoke["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction",
         "Resource": [{"GetAtt": "PollerFunction.Arn"}, {"Sub": "${PollerFunction.Arn}:*"}]},
        {"Effect": "Allow", "Action": "sqs:SendMessage",
         "Resource": {"GetAtt": "OperatorDeadLetterQueue.Arn"}}]
    variables = resources["PollerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SCHEDULE_GROUP_NAME"]["If"][:2] == ["HasPollChain", {"Ref": "PollChainGroup"}]
    assert variables["SCHEDULE_ROLE_ARN"]["If"][:2] == [
        "HasPollChain", {"GetAtt": "PollChainRole.Arn"}]
    # Schedules live in the stack's group: deleting the stack deletes the group and them.
    assert resources["PollChainGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"


def test_a_scheduled_report_starts_the_state_machine_with_its_scheduled_time():
    resources = template()["Resources"]
    schedule = resources["ReportSchedule"]["Properties"]
    either = ["SchedulesRuns", {"Ref": "ReportsStateMachine"}, {"Ref": "PollerStateMachine"}]
    assert schedule["Target"]["Arn"] == {"If": either}
    tick = '"scheduledTime": "<aws.scheduler.scheduled-time>"'
    condition, run, report = schedule["Target"]["Input"]["If"]
    assert condition == "SchedulesRuns"
    assert report == {"Sub": '{"start": ${ReportStartRequest}, ' + tick + "}"}
    # A run's id is the manifest's key and the tick's time: a retried tick is the same run.
    assert json.loads(run["Sub"]) == {
        "reports": {"bucket": "${ReportBucket}", "key": "${ReportScheduleManifest}"},
        "runId": "${ReportScheduleManifest}@<aws.scheduler.scheduled-time>"}
    role = resources["ReportScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert role["Statement"] == [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"If": either}},
        {"Effect": "Allow", "Action": "sqs:SendMessage",
         "Resource": {"GetAtt": "OperatorDeadLetterQueue.Arn"}}]
    rule = template()["Rules"]["ReportsStartJobs"]
    assert rule["Assertions"][0]["Assert"] == {"Equals": [{"Ref": "AllowStartSnapshotJob"}, "true"]}
    # Ticks start runs only where the run is deployed, and a manifest needs its bucket.
    assert {"Condition": "GrantsStartSnapshotJob"} in template()["Conditions"]["SchedulesRuns"][
        "And"]
    [one, bucket] = template()["Rules"]["OneScheduledReportKind"]["Assertions"]
    assert one["Assert"] == {"Equals": [{"Ref": "ReportStartRequest"}, ""]}
    assert bucket["Assert"] == {"Not": [{"Equals": [{"Ref": "ReportBucket"}, ""]}]}


def test_a_scheduled_reports_run_deploys_with_its_manifest():
    resources = deployed("AllowStartSnapshotJob=true", "ReportBucket=reports",
                         "ReportScheduleExpression=cron(0 6 * * ? *)",
                         "ReportScheduleManifest=manifests/nightly.csv")["Resources"]
    assert {"ReportSchedule", "ReportScheduleRole", "ReportsStateMachine"} <= set(resources)
    target = resources["ReportSchedule"]["Properties"]["Target"]
    assert target["Arn"]["Fn::If"][0] == "SchedulesRuns"


@pytest.mark.parametrize("overrides", [(), ("FifoTopic=true", "PollChain=true")])
def test_failed_asynchronous_invocations_reach_the_operators_dead_letter_queue_never_the_topic(
        overrides):
    # Read the deployed template, where the destination must survive SAM. Lambda's record holds
    # the event (a job reference), which is for the people who run the stack, not the topic's
    # subscribers; and a queue takes a FIFO topic's stack too.
    resources = deployed(*overrides)["Resources"]
    configs = [r["Properties"] for r in resources.values()
               if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert len(configs) == 1, "one invoke config, as deployed"
    [config] = configs
    assert config["MaximumRetryAttempts"] == 2 and config["MaximumEventAgeInSeconds"] == 300
    assert config["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["OperatorDeadLetterQueue", "Arn"]}}}
    assert "FailureTopic" not in json.dumps(config)
    # The rule that refused a poll chain on a FIFO topic existed for the topic destination only.
    assert "FifoTopicWithoutPollChain" not in template().get("Rules", {})
    assert "PollChain" not in json.dumps(template()["Parameters"]["FifoTopic"])


NO_VALUE = object()
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::StackName": "poller"}


def resolve(node, parameters: dict):
    """A template() node as CloudFormation would resolve it under `parameters` (the template's
    defaults and the pseudo parameters fill the rest): Ref, Sub, Select, Split, Join, If and the
    condition functions, enough for the IAM statements checked here."""
    template_ = template()
    given = {name: str(spec.get("Default", "")) for name, spec in
             template_["Parameters"].items()} | PSEUDO | parameters

    def holds(condition) -> bool:
        [(kind, value)] = condition.items()
        if kind == "Condition":
            return holds(template_["Conditions"][value])
        if kind == "Equals":
            return value_of(value[0]) == value_of(value[1])
        if kind == "Not":
            return not holds(value[0])
        if kind in ("And", "Or"):
            return (all if kind == "And" else any)(holds(c) for c in value)
        raise AssertionError(f"not a condition function: {kind}")

    def value_of(node):
        if isinstance(node, list):
            return [v for v in map(value_of, node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(kind, value)] = node.items()
            if kind == "Ref":
                return NO_VALUE if value == "AWS::NoValue" else given[value]
            if kind == "Sub":
                text, names = (value, {}) if isinstance(value, str) else value
                names = {k: value_of(v) for k, v in names.items()}
                return re.sub(r"\$\{([\w:.]+)\}",
                              lambda m: names.get(m[1], given.get(m[1], m[0])), text)
            if kind == "Select":
                return value_of(value[1])[int(value[0])]
            if kind == "Split":
                return value_of(value[1]).split(value[0])
            if kind == "Join":
                return value[0].join(value_of(value[1]))
            if kind == "If":
                return value_of(value[1] if holds({"Condition": value[0]}) else value[2])
        return {k: value_of(v) for k, v in node.items()}

    return value_of(node)


def test_the_operators_dead_letter_queue_keeps_records_14_days_encrypted():
    resources = template()["Resources"]
    queue = resources["OperatorDeadLetterQueue"]
    assert queue["Type"] == "AWS::SQS::Queue" and "Condition" not in queue
    properties = queue["Properties"]
    assert properties["SqsManagedSseEnabled"] is True
    assert properties["MessageRetentionPeriod"] == 1209600  # 14 days, SQS's longest
    # Lambda and EventBridge Scheduler send to standard queues only.
    assert "FifoQueue" not in properties
    outputs = template()["Outputs"]
    assert outputs["OperatorDeadLetterQueueUrl"]["Value"] == {"Ref": "OperatorDeadLetterQueue"}
    assert outputs["OperatorDeadLetterQueueArn"]["Value"] == {
        "GetAtt": "OperatorDeadLetterQueue.Arn"}
    # Only its three senders are granted anything on it: sqs:SendMessage, on it alone.
    senders = [st for st in statements(resources) if "sqs:SendMessage" in st["Action"]
               or "OperatorDeadLetterQueue" in json.dumps(st)]
    assert len(senders) == 3, senders  # the function's role, the chain role, the report role
    assert all(st["Action"] == "sqs:SendMessage" for st in senders)
    assert all(st["Resource"] == {"GetAtt": "OperatorDeadLetterQueue.Arn"} for st in senders)


def test_an_alarm_fires_on_any_record_in_the_dead_letter_queue():
    resources = template()["Resources"]
    alarm = resources["DeadLetterQueueAlarm"]
    assert alarm["Condition"] == "HasAlarms"
    properties = alarm["Properties"]
    assert properties["Namespace"] == "AWS/SQS"
    assert properties["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"GetAtt": "OperatorDeadLetterQueue.QueueName"}}]
    assert (properties["Statistic"], properties["Period"], properties["EvaluationPeriods"]) == (
        "Maximum", 300, 1)
    assert (properties["ComparisonOperator"], properties["Threshold"]) == (
        "GreaterThanThreshold", 0)
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == resources["JobsFailedAlarm"]["Properties"]["AlarmActions"]


def test_each_scheduler_target_has_a_dead_letter_queue_and_a_retry_policy():
    resources = template()["Resources"]
    report = resources["ReportSchedule"]["Properties"]
    assert report["Name"] == {"Sub": "${AWS::StackName}-reports"}
    assert report["Target"]["DeadLetterConfig"] == {
        "Arn": {"GetAtt": "OperatorDeadLetterQueue.Arn"}}
    assert report["Target"]["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
    # A chain's schedules are the function's: it puts this queue in each one's DeadLetterConfig
    # (with its own RetryPolicy), and only when chains are on.
    variables = resources["PollerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SCHEDULE_DEAD_LETTER_ARN"] == {"If": [
        "HasPollChain", {"GetAtt": "OperatorDeadLetterQueue.Arn"}, {"Ref": "AWS::NoValue"}]}


def test_both_scheduler_roles_trust_only_schedules_of_this_account_and_their_group():
    resources = template()["Resources"]
    prefix = "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:"
    [report] = resources["ReportScheduleRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"]
    [chain] = resources["PollChainRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    for trust in (report, chain):
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        assert trust["Action"] == "sts:AssumeRole"
        assert trust["Condition"]["StringEquals"] == {
            "aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # Scheduler's guide names the schedule group's ARN as aws:SourceArn; its earlier text named
    # the schedule's. Either way: the report's own schedule (in the default group) ...
    assert report["Condition"]["ArnEquals"] == {"aws:SourceArn": [
        {"Sub": prefix + "schedule-group/default"},
        {"Sub": prefix + "schedule/default/${AWS::StackName}-reports"}]}
    assert report["Condition"]["ArnEquals"]["aws:SourceArn"][1]["Sub"].endswith(
        ":schedule/default/" + resources["ReportSchedule"]["Properties"]["Name"]["Sub"])
    assert "GroupName" not in resources["ReportSchedule"]["Properties"], "the default group"
    # ... and the chain's group, the one the function may create schedules in.
    assert chain["Condition"]["ArnLike"] == {"aws:SourceArn": [
        {"Sub": prefix + "schedule-group/${PollChainGroup}"},
        {"Sub": prefix + "schedule/${PollChainGroup}/*"}]}
    [create] = [st for st in statements(resources["PollerChainPolicy"])
                if st["Action"] == "scheduler:CreateSchedule"]
    assert create["Resource"] == chain["Condition"]["ArnLike"]["aws:SourceArn"][1]


def test_the_chain_role_may_invoke_the_functions_qualified_arns_too():
    """A schedule whose target is an alias or a version ARN must not fail every tick."""
    invoke = [st for st in statements(template()["Resources"]["PollChainInvokePolicy"])
              if st["Action"] == "lambda:InvokeFunction"]
    assert [st["Resource"] for st in invoke] == [
        [{"GetAtt": "PollerFunction.Arn"}, {"Sub": "${PollerFunction.Arn}:*"}]]
    arn = "arn:aws:lambda:us-east-1:123456789012:function:poller-poller"
    assert resolve(invoke[0]["Resource"][1], {"PollerFunction.Arn": arn}) == arn + ":*"


def test_the_report_request_and_the_external_ids_are_no_echo():
    parameters = template()["Parameters"]
    for name in ("ReportStartRequest", "RoleExternalIds"):
        assert parameters[name]["NoEcho"] is True, name
        assert parameters[name]["Type"] == "String" and parameters[name]["Default"] == "", name
    # No output carries them.
    assert "ReportStartRequest" not in json.dumps(template()["Outputs"])
    assert "RoleExternalIds" not in json.dumps(template()["Outputs"])


def test_external_ids_and_user_namespaces_reach_the_function_as_plain_refs():
    # A Rust test (src/settings.rs) reads the Variables block line by line as `NAME: !Ref Param`.
    text = (ROOT / "template.yaml").read_text()
    assert "          ROLE_EXTERNAL_IDS: !Ref RoleExternalIds\n" in text
    assert "          ALLOWED_USER_NAMESPACES: !Ref AllowedUserNamespaces\n" in text
    parameters = template()["Parameters"]
    assert parameters["AllowedUserNamespaces"]["Default"] == "default"
    pattern = parameters["AllowedUserNamespaces"]["AllowedPattern"]
    for good in ("default", "default,tenant-a", "a,b,c,d,e", "ns_1.x"):
        assert re.match(pattern, good), good
    for bad in ("", "*", "default,*", "a b", "a,,b", "a,b,c,d,e,f", "user/x"):
        assert not re.match(pattern, bad), bad
    rule = template()["Rules"]["UserNamespacesNeedAllowedRoles"]
    assert rule["RuleCondition"] == {"Not": [{"Equals": [{"Ref": "AllowedUserNamespaces"},
                                                         "default"]}]}
    assert rule["Assertions"][0]["Assert"] == {"Not": [{"Equals": [{"Ref": "AllowedRoleArns"},
                                                                   ""]}]}


@pytest.mark.parametrize("namespaces", ["default", "default,tenant-a", "a,b.c,d_e,f-g,h"])
def test_user_identity_context_is_granted_only_with_allowed_roles_on_users_of_those_namespaces(
        namespaces):
    statements_ = template()["Resources"]["PollerRole"]["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"]
    wrapped = [st for st in statements_
               if "If" in st and st["If"][1].get("Action") == "quicksight:GetIdentityContext"]
    assert len(wrapped) == 1
    [[condition, statement, otherwise]] = [w["If"] for w in wrapped]
    assert condition == "HasAllowedRoles" and otherwise == {"Ref": "AWS::NoValue"}
    granted = [st for st in statements(template()["Resources"])
               if "quicksight:GetIdentityContext" in st["Action"]]
    assert granted == [statement] and statement["Action"] == "quicksight:GetIdentityContext"
    roles = "arn:aws:iam::123456789012:role/viewer"
    assert resolve(wrapped[0], {"AllowedRoleArns": ""}) is NO_VALUE
    resolved = resolve(wrapped[0], {"AllowedRoleArns": roles, "AllowedUserNamespaces": namespaces})
    # One ARN per namespace: its users, in any region (the identity region may differ).
    assert resolved["Resource"] == [f"arn:aws:quicksight:*:123456789012:user/{ns}/*"
                                    for ns in namespaces.split(",")]


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
            "ExecutionsAbortedAlarm", "DeadLetterQueueAlarm",
            "ExecutionEndedNotifierFailedAlarm"} == set(alarms)
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
                machine = ("ExecutionEndedNotifier" if name == "ExecutionEndedNotifierFailedAlarm"
                           else "PollerStateMachine")
                assert metric["Dimensions"] == [
                    {"Name": "StateMachineArn", "Value": {"Ref": machine}}]
            elif metric["Namespace"] == "AWS/SQS":
                assert metric["Dimensions"] == [{"Name": "QueueName", "Value": {
                    "Fn::GetAtt": ["OperatorDeadLetterQueue", "QueueName"]}}]
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


def test_a_report_request_startjob_could_not_send_is_refused_at_deploy():
    pattern = template()["Parameters"]["ReportStartRequest"]["AllowedPattern"]
    good = ('{"AwsAccountId":"123456789012","DashboardId":"sales",'
            '"SnapshotConfiguration":{"FileGroups":[]},"UserConfiguration":{"AnonymousUsers":[{}]}}')
    assert re.fullmatch(pattern, good)
    assert re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, good.replace('"UserConfiguration"', '"Users"'))
    assert not re.fullmatch(pattern, good.replace("{", '{"SnapshotJobId":"x",', 1))
    assert not re.fullmatch(pattern, "cron(0 6 * * ? *)")


def test_a_reports_run_exists_only_where_jobs_may_start_and_reads_only_its_manifests():
    resources = template()["Resources"]
    run = resources["ReportsStateMachine"]
    assert run["Condition"] == "GrantsStartSnapshotJob"
    properties = run["Properties"]
    assert properties["DefinitionUri"] == "statemachine/reports.asl.json"
    asl = (ROOT / "statemachine" / "reports.asl.json").read_text()
    named = set(re.findall(r"\$\{(\w+)\}", asl))
    assert named == set(properties["DefinitionSubstitutions"]), named
    granted = {st["Sid"]: st for st in statements(properties["Policies"])}
    assert granted["InvokePoller"]["Resource"] == {"GetAtt": "PollerFunction.Arn"}
    assert granted["ReadManifests"]["Resource"] == {
        "Sub": "arn:${AWS::Partition}:s3:::${ReportBucket}/${ReportManifestPrefix}*"}
    # Child executions of this state machine only.
    assert granted["RunItemsAsChildExecutions"]["Resource"]["Sub"].endswith(
        ":stateMachine:${AWS::StackName}-reports")
    assert granted["WatchChildExecutions"]["Resource"]["Sub"].endswith(
        ":execution:${AWS::StackName}-reports/*")
    assert properties["Name"] == {"Sub": "${AWS::StackName}-reports"}
    limit = template()["Parameters"]["ReportsMaxConcurrency"]
    assert limit["Default"] == "10"
    assert all(re.fullmatch(limit["AllowedPattern"], str(n)) for n in range(1, 13))
    assert not any(re.fullmatch(limit["AllowedPattern"], n) for n in ("0", "13", "010", ""))
