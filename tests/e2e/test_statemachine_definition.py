"""Static checks of statemachine/poller.asl.json that neither asl-validator nor cfn-lint make:
every transition names an existing state, every state is reachable, and the Choice/Wait/Retry/
Catch fields are what the poller's contract needs. Runs with the standard library (+ PyYAML
for the template check, skipped when absent); no AWS, no Rust build.

The checkers are plain functions, and the tests at the bottom feed them broken definitions to
prove that they can fail."""

from __future__ import annotations

import copy
import json
import re

import pytest

from harness.env import ASL_PATH, ROOT

TEMPLATE_PATH = ROOT / "template.yaml"
ERROR_TYPES_JSON = ROOT / "statemachine" / "error-types.json"

LAMBDA_SERVICE_ERRORS = {  # Step Functions best practice for Lambda tasks
    "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
POLLER_RETRYABLE = {"QuickSightThrottled", "QuickSightUnavailable", "NotificationFailed"}
POLLER_NON_RETRYABLE = {"InvalidJobReference"}
SUBSTITUTIONS = {"Partition", "PollerFunctionArn", "FailureTopicArn", "StartCapacityWaitMinutes",
                 "LedgerTableName"}
LEDGER_PUT = "arn:aws:states:::dynamodb:putItem"
TOLD_BEFORE = "DynamoDB.ConditionalCheckFailedException"
START_RESOURCE = "arn:aws:states:::aws-sdk:quicksight:startDashboardSnapshotJob"


@pytest.fixture(scope="module")
def asl() -> dict:
    """The definition as SAM deploys it in the aws partition (the other substitutions stay
    placeholders, which the checks below compare as such)."""
    return json.loads(ASL_PATH.read_text().replace("${Partition}", "aws"))


# --------------------------------------------------------------------------------------------
# checkers
# --------------------------------------------------------------------------------------------
def transitions(state: dict) -> list[tuple[str, str]]:
    """(where, target) of every transition out of a state."""
    out = []
    if "Next" in state:
        out.append(("Next", state["Next"]))
    if "Default" in state:
        out.append(("Default", state["Default"]))
    for i, rule in enumerate(state.get("Choices", [])):
        out.append((f"Choices[{i}].Next", rule.get("Next")))
    for i, catcher in enumerate(state.get("Catch", [])):
        out.append((f"Catch[{i}].Next", catcher.get("Next")))
    return out


def dangling_targets(definition: dict) -> list[str]:
    states = definition["States"]
    start = definition.get("StartAt")
    problems = [] if start in states else [f"StartAt -> {start!r}"]
    for name, state in states.items():
        for where, target in transitions(state):
            if target not in states:
                problems.append(f"{name}.{where} -> {target!r}")
    return problems


def reachable(definition: dict, start: str | None = None) -> set[str]:
    states = definition["States"]
    seen, todo = set(), [start or definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo.extend(target for _, target in transitions(states[name]))
    return seen


def unreachable_states(definition: dict) -> set[str]:
    return set(definition["States"]) - reachable(definition)


def states_without_exit(definition: dict) -> list[str]:
    """Non-terminal states that have neither Next nor End (a Choice needs a way out too)."""
    bad = []
    for name, state in definition["States"].items():
        kind = state.get("Type")
        if kind in ("Succeed", "Fail"):
            continue
        if kind == "Choice":
            if not state.get("Choices"):
                bad.append(name)
        elif "Next" not in state and state.get("End") is not True:
            bad.append(name)
    return bad


def told_before(state: dict, where: str) -> bool:
    """Whether leaving `state` by `where` means the notice ledger found this end told already:
    the catcher of a ledger claim's ConditionalCheckFailed."""
    if state.get("Resource") != LEDGER_PUT or not where.startswith("Catch["):
        return False
    catcher = state["Catch"][int(where[len("Catch["):].split("]")[0])]
    return catcher["ErrorEquals"] == [TOLD_BEFORE]


def paths_to_fail_without_notice(definition: dict, start: str) -> list[list[str]]:
    """Paths from `start` to a Fail state that do not pass an sns:publish Task (or leave a
    ledger claim because the end was told before)."""
    states = definition["States"]
    bad, todo = [], [[start]]
    while todo:
        path = todo.pop()
        state = states[path[-1]]
        if state.get("Type") == "Task" and state.get("Resource", "").endswith(":sns:publish"):
            continue
        if state.get("Type") == "Fail":
            bad.append(path)
            continue
        for where, target in transitions(state):
            if target in states and target not in path and not told_before(state, where):
                todo.append(path + [target])
    return bad


def is_ledger_record(state: dict) -> bool:
    """A ledger Task, or a Map whose every state is one (or its end)."""
    if state.get("Resource", "").startswith("arn:aws:states:::dynamodb:"):
        return True
    processor = state.get("ItemProcessor")
    return state.get("Type") == "Map" and processor is not None and all(
        s["Type"] == "Succeed" or is_ledger_record(s) for s in processor["States"].values())


def past_ledger_marks(states: dict, name: str) -> str:
    """The state after the ledger records that lead from `name`: their Tasks, and a Choice
    whose every branch is such a record ending where its Default goes."""
    state = states[name]
    if is_ledger_record(state):
        return past_ledger_marks(states, state["Next"])
    if state.get("Type") == "Choice":
        ends = {past_ledger_marks(states, t) for _, t in transitions(state)}
        if len(ends) == 1 and all(is_ledger_record(states[r["Next"]])
                                  for r in state["Choices"]):
            return ends.pop()
    return name


def choice_targets(choice: dict, status: str) -> set[str]:
    """Targets of the Choice rules that can match `$.status == status`."""
    found = set()
    for rule in choice["Choices"]:
        if _rule_mentions_status(rule, status):
            found.add(rule["Next"])
    return found


def _rule_mentions_status(rule: dict, status: str) -> bool:
    if rule.get("Variable") == "$.status" and rule.get("StringEquals") == status:
        return True
    return any(_rule_mentions_status(sub, status)
               for sub in rule.get("And", []) + rule.get("Or", []))


def _rule_conditions(rule: dict) -> list[dict]:
    out = [rule]
    for sub in rule.get("And", []) + rule.get("Or", []):
        out += _rule_conditions(sub)
    return out


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))


def poll_name(definition: dict) -> str:
    """The one Task that invokes the poller."""
    [name] = [n for n, s in definition["States"].items()
              if s.get("Resource") == "arn:aws:states:::lambda:invoke"]
    return name


def paths_read(state: dict) -> set[str]:
    """Reference paths a state's Parameters read (`"key.$": "$.a.b"`, or the execution's input
    `$$.Execution.Input.a.b`; intrinsics left out)."""
    found = set()

    def visit(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith(".$") and isinstance(item, str) and (
                        item.startswith("$.") or item.startswith("$$.Execution.Input.")):
                    found.add(item)
                else:
                    visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(state.get("Parameters", {}))
    return found


def _sets_a_fixed_cause(state: dict) -> bool:
    """A state that writes $.failure as an error name and a fixed Cause, reading no Cause and
    no whole caught error (`$.startFailure`, `$.failure`) on the way."""
    params = state.get("Parameters")
    if "InputPath" in state or not isinstance(params, dict):
        return False
    if not isinstance(params.get("Cause"), str) or "Cause.$" in params:
        return False
    read = []

    def visit(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith(".$") and isinstance(item, str):
                    read.append(item)
                else:
                    visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(params)
    return not any("Cause" in path or re.search(r"\$\.(startFailure|failure)(?!\.Error\b)", path)
                   for path in read)


def start_failure_causes(definition: dict) -> list[str]:
    """Where a failed start could carry QuickSight's message into the notice: each path from a
    Catch of the start Task to NotifyFailure must pass a state that sets $.failure to the error
    name and a fixed Cause (the message can quote the request, whose UserConfiguration holds
    row-level-security tag values). Paths that poll (the job exists) or start again (the
    capacity wait) end there. Returns the paths that do not."""
    states = definition["States"]
    [start_job] = [n for n, s in states.items() if s.get("Resource") == START_RESOURCE]
    notify, poll = "NotifyFailure", poll_name(definition)
    problems = set()
    # (path, whether $.failure may hold a caught error's own Cause at this point)
    todo = [([c["Next"]], c.get("ResultPath") == "$.failure")
            for c in states[start_job].get("Catch", [])]
    while todo:
        path, raw = todo.pop()
        name = path[-1]
        if name in (poll, start_job) or name not in states:
            continue
        if name == notify:
            if raw:
                problems.add(" -> ".join([start_job, *path]))
            continue
        state = states[name]
        if state.get("ResultPath") == "$.failure":
            raw = not _sets_a_fixed_cause(state)
        catchers = state.get("Catch", [])
        for where, target in transitions(state):
            if target in path:
                continue
            caught = raw
            if where.startswith("Catch["):
                index = int(where[len("Catch["):where.index("]")])
                caught = raw or catchers[index].get("ResultPath") == "$.failure"
            todo.append((path + [target], caught))
    return sorted(problems)


def unguarded_start_fields(definition: dict) -> list[str]:
    """Fields of $.start the start branch reads that the Choice rule entering it does not check
    with IsPresent (a missing path there is States.Runtime: no Catch, no notice)."""
    states = definition["States"]
    choice = states[definition["StartAt"]]
    problems = []
    for rule in choice["Choices"]:
        branch = reachable(definition, rule["Next"]) - reachable(definition, poll_name(definition))
        needed = set()
        for name in branch:
            # SnapshotJobId is optional: read only behind its own IsPresent (JobIdGiven?)
            needed |= {p for p in paths_read(states[name])
                       if p.startswith("$.start.") and p != "$.start.SnapshotJobId"}
        for name in branch:  # $.start.X read through a merged copy ($.request.X) counts too
            for p in paths_read(states[name]):
                if p.startswith("$.request.") and p != "$.request.SnapshotJobId":
                    needed.add("$.start." + p.removeprefix("$.request."))
                if p.startswith("$$.Execution.Input.start."):  # the input Start? sees
                    needed.add("$" + p.removeprefix("$$.Execution.Input"))
        present = {c["Variable"] for c in _rule_conditions(rule) if c.get("IsPresent") is True}
        problems += [f"{rule['Next']}: {field}" for field in sorted(needed - present)]
    return problems


# --------------------------------------------------------------------------------------------
# the definition
# --------------------------------------------------------------------------------------------
def test_every_next_default_and_catch_target_names_an_existing_state(asl):
    assert dangling_targets(asl) == []


def test_every_state_is_reachable_from_start_at(asl):
    assert unreachable_states(asl) == set()


def test_every_non_terminal_state_has_a_way_out(asl):
    assert states_without_exit(asl) == []


def test_poll_invokes_the_function_with_the_whole_state_keeping_the_payload(asl):
    poll = asl["States"][poll_name(asl)]
    assert poll["Type"] == "Task"
    assert poll["Resource"] == "arn:aws:states:::lambda:invoke"
    assert poll["Parameters"] == {"FunctionName": "${PollerFunctionArn}", "Payload.$": "$"}
    assert poll["OutputPath"] == "$.Payload"
    assert asl["States"][poll["Next"]]["Type"] == "Choice"


def test_poll_retries_lambda_service_errors_and_retryable_errors_with_backoff(asl):
    poll = asl["States"][poll_name(asl)]
    retried = {}
    for retrier in poll["Retry"]:
        for name in retrier["ErrorEquals"]:
            assert name not in retried, f"{name} appears in two retriers: the second never runs"
            retried[name] = retrier
    assert LAMBDA_SERVICE_ERRORS | POLLER_RETRYABLE <= set(retried)
    for name in LAMBDA_SERVICE_ERRORS | POLLER_RETRYABLE:
        r = retried[name]
        assert r.get("IntervalSeconds", 1) >= 1 and r.get("BackoffRate", 2.0) >= 1.5, name
        assert r.get("MaxAttempts", 3) >= 3, name
    for name in LAMBDA_SERVICE_ERRORS:
        assert retried[name].get("JitterStrategy") == "FULL", name
    assert not (POLLER_NON_RETRYABLE | {"States.ALL", "States.TaskFailed"}) & set(retried), \
        "non-retryable errors (or a catch-all) must not be retried"


def test_poll_catches_everything_into_the_notifying_failure_path_keeping_its_input(asl):
    states = asl["States"]
    poll = states[poll_name(asl)]
    catchers = poll["Catch"]
    assert catchers[-1]["ErrorEquals"] == ["States.ALL"], "States.ALL must be the last catcher"
    caught = {name for c in catchers for name in c["ErrorEquals"]}
    assert POLLER_NON_RETRYABLE <= caught
    for c in catchers:
        assert c["ResultPath"] == "$.failure", "the failure path reads $.failure and the input"
        assert paths_to_fail_without_notice(asl, c["Next"]) == []
        publishes = [n for n in reachable(asl, c["Next"])
                     if states[n].get("Resource") == "arn:aws:states:::sns:publish"]
        assert publishes, f"catcher {c['ErrorEquals']} reaches no sns:publish"


def test_the_failure_notice_goes_to_the_topic_and_survives_a_missing_path(asl):
    states = asl["States"]
    notify = {n: s for n, s in states.items()
              if s.get("Resource") == "arn:aws:states:::sns:publish"}
    assert set(notify) == {"PublishFailure", "PublishFailureFifo"}
    # The Pass before them gives the caught error a Cause (only Error is certain in a caught
    # error, and a missing path is States.Runtime, which no Catch handles: the notice lost).
    default = states["NotifyFailure"]
    assert default["Type"] == "Pass" and default["Result"] == {"Cause": ""}
    prepare = states[default["Next"]]
    assert prepare["Type"] == "Pass"
    assert prepare["ResultPath"] == default["ResultPath"] == "$.notice"
    assert prepare["Parameters"]["failure.$"] == "States.JsonMerge($.notice, $.failure, false)"
    for task in notify.values():
        params = task["Parameters"]
        assert params["TopicArn"] == "${FailureTopicArn}"
        paths = re.findall(r'"[^"]+\.\$": "(\$[^"]*)"', json.dumps(params))
        allowed = ("$.notice.failure.Error", "$.notice.failure.Cause")
        assert paths and all(p in allowed or p.startswith("$$.") for p in paths), paths
        # Redacted: the state (a start request's UserConfiguration, S3 URIs) is never sent.
        assert "$" not in paths and set(params["Message"]) == {
            "source", "execution.$", "executionName.$", "stateMachine.$", "error.$", "cause.$"}
        assert task["ResultPath"] not in ("$", None) and task["ResultPath"] != "$.failure"
        for c in task.get("Catch", []):
            # An SNS outage gives the ledger claim back (the execution monitor then tells the
            # end) and still ends the execution.
            release = states[c["Next"]]
            assert release["Resource"] == "arn:aws:states:::dynamodb:deleteItem"
            assert states[past_ledger_marks(states, c["Next"])]["Type"] == "Fail"
        assert states[past_ledger_marks(states, task["Next"])]["Type"] == "Fail"
    fifo_ids = {"MessageGroupId.$", "MessageDeduplicationId.$"}
    assert fifo_ids <= set(notify["PublishFailureFifo"]["Parameters"])
    assert not fifo_ids & set(notify["PublishFailure"]["Parameters"])
    # One notice per execution: the ledger claim comes first; told before, it ends there.
    claim = states[prepare["Next"]]
    assert claim["Resource"] == LEDGER_PUT
    assert claim["Parameters"]["ConditionExpression"] == "attribute_not_exists(pk)"
    assert claim["Parameters"]["Item"]["pk"] == {
        "S.$": "States.Format('execution/{}', $$.Execution.Id)"}
    [told, down] = claim["Catch"]
    assert told["ErrorEquals"] == [TOLD_BEFORE] and states[told["Next"]]["Type"] == "Fail"
    assert down["ErrorEquals"] == ["States.ALL"] and down["Next"] == claim["Next"]
    [rule] = states[claim["Next"]]["Choices"]
    assert rule == {"Variable": "$.notice.topic", "StringMatches": "*.fifo",
                    "Next": "PublishFailureFifo"}


def test_choice_routes_each_status_of_the_contract(asl):
    states = asl["States"]
    choice = states[states[poll_name(asl)]["Next"]]
    assert choice["Type"] == "Choice"
    [succeed] = choice_targets(choice, "SUCCEEDED")
    assert states[past_ledger_marks(states, succeed)]["Type"] == "Succeed"
    for status in ("FAILED", "TIMED_OUT"):
        [mark] = choice_targets(choice, status)
        # The poller told it: the ledger marks the execution told, so the monitor stays silent.
        assert states[mark]["Resource"] == LEDGER_PUT, status
        assert [c["Next"] for c in states[mark]["Catch"]] == [states[mark]["Next"]]
        target = past_ledger_marks(states, mark)
        assert states[target]["Type"] == "Fail", status
        assert states[target].get("ErrorPath") == "$.error.type"
        assert states[target].get("CausePath") == "$.error.message"
    [wait] = choice_targets(choice, "IN_PROGRESS")
    assert states[wait]["Type"] == "Wait"
    # (Directly a Fail state: the Lambda already notified for FAILED/TIMED_OUT, so those
    # paths must not pass the state machine's own sns:publish.)


def test_choice_guards_the_fields_later_states_read(asl):
    """A Wait whose SecondsPath is missing, or a Fail whose ErrorPath is missing, fails with
    States.Runtime, which no Catch handles: the rules must check those fields first."""
    states = asl["States"]
    choice = states[states[poll_name(asl)]["Next"]]
    for rule in choice["Choices"]:
        target = states[past_ledger_marks(states, rule["Next"])]
        conditions = _rule_conditions(rule)
        if target["Type"] == "Wait":
            assert {"Variable": "$.waitSeconds", "IsNumeric": True} in conditions
        if target["Type"] == "Fail":
            for path in (target.get("ErrorPath"), target.get("CausePath")):
                if path and path.startswith("$."):
                    assert any(c.get("Variable") == path and c.get("IsString") is True
                               for c in conditions), path
    default = choice.get("Default")
    assert default, "an unexpected status needs a Default"
    assert states[default]["Type"] != "Wait", "an unknown status must not loop"
    assert paths_to_fail_without_notice(asl, default) == []


def test_wait_reads_wait_seconds_and_polls_again(asl):
    states = asl["States"]
    waits = [(n, s) for n, s in states.items()
             if s["Type"] == "Wait" and "waitSeconds" in json.dumps(s)]
    assert len(waits) == 1
    name, wait = waits[0]
    assert wait == {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": poll_name(asl)}


def test_the_definition_names_no_partition_of_its_own():
    """aws-cn and aws-us-gov deployments get their own service-integration ARNs."""
    text = ASL_PATH.read_text()
    assert "arn:aws" not in text
    resources = [s["Resource"] for s in json.loads(text)["States"].values() if "Resource" in s]
    assert resources and all(r.startswith("arn:${Partition}:states:::") for r in resources)


def test_the_definition_uses_exactly_the_substitutions_the_template_provides(asl):
    assert placeholders(ASL_PATH.read_text()) == SUBSTITUTIONS
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load(TEMPLATE_PATH.read_text(), Loader=Loader)
    machines = {r["Properties"]["DefinitionUri"]: r["Properties"]
                for r in template["Resources"].values()
                if r["Type"] == "AWS::Serverless::StateMachine"}
    assert set(machines) == {"statemachine/poller.asl.json",
                             "statemachine/execution-ended.asl.json",
                             "statemachine/reports.asl.json"}
    reports = ROOT / "statemachine" / "reports.asl.json"
    assert placeholders(reports.read_text()) == set(
        machines["statemachine/reports.asl.json"]["DefinitionSubstitutions"])
    assert set(machines["statemachine/poller.asl.json"]["DefinitionSubstitutions"]) == SUBSTITUTIONS
    ended = ROOT / "statemachine" / "execution-ended.asl.json"
    assert placeholders(ended.read_text()) == set(
        machines["statemachine/execution-ended.asl.json"]["DefinitionSubstitutions"])


def test_retry_and_catch_names_match_the_pollers_error_types():
    """Every errorType the poller can raise (statemachine/error-types.json, which a Rust unit
    test keeps equal to src/error.rs) is either retried or caught explicitly, and the retryable
    ones are exactly those retried."""
    listed = json.loads(ERROR_TYPES_JSON.read_text())["errorTypes"]
    names = {e["errorType"] for e in listed}
    retryable = {e["errorType"] for e in listed if e["retryable"]}
    assert len(names) == len(listed) >= 8
    asl = json.loads(ASL_PATH.read_text().replace("${Partition}", "aws"))
    poll = asl["States"][poll_name(asl)]
    retried = {n for r in poll["Retry"] for n in r["ErrorEquals"]}
    assert retryable == retried & names
    # A cold-start error (InvalidConfiguration) has no invocation, so it never reaches a Catch.
    invocation_errors = {e["errorType"] for e in listed if e["raisedAt"] == "invocation"}
    assert invocation_errors - retryable <= {n for c in poll["Catch"] for n in c["ErrorEquals"]}


def test_an_input_without_start_goes_straight_to_poll(asl):
    states = asl["States"]
    first = states[asl["StartAt"]]
    assert first["Type"] == "Choice"
    assert first["Default"] == poll_name(asl)
    for rule in first["Choices"]:  # every rule is about $.start: a job reference never matches
        assert all(c["Variable"] == "$.start" or c["Variable"].startswith("$.start.")
                   for c in _rule_conditions(rule) if "Variable" in c), rule


def test_a_start_request_starts_the_job_with_a_fresh_id_unless_it_names_one(asl):
    states = asl["States"]
    [start_job] = [n for n, s in states.items() if s.get("Resource") == START_RESOURCE]
    entry = [r["Next"] for r in states[asl["StartAt"]]["Choices"]
             if start_job in reachable(asl, r["Next"])]
    assert len(entry) == 1
    # the states before StartJob: an id derived from the execution (stable when it is redriven)
    # under whatever $.start says
    before = [n for n in reachable(asl, entry[0])
              if start_job in reachable(asl, n) and n != start_job]
    text = json.dumps([states[n] for n in before])
    assert '"SnapshotJobId.$": "States.Hash($$.Execution.Id, \'SHA-256\')"' in text
    # the input's SnapshotJobId wins
    assert '"SnapshotJobId.$": "$.start.SnapshotJobId"' in text
    task = states[start_job]
    assert {k.removesuffix(".$") for k in task["Parameters"]} == {
        "AwsAccountId", "DashboardId", "SnapshotJobId", "SnapshotConfiguration",
        "UserConfiguration"}
    assert paths_read(task) == {
        "$.request.AwsAccountId", "$.request.DashboardId", "$.request.SnapshotJobId",
        "$$.Execution.Input.start.SnapshotConfiguration",
        "$$.Execution.Input.start.UserConfiguration"}


def test_no_state_data_carries_the_start_requests_configurations(asl):
    """UserConfiguration can hold row-level-security tag values: StartJob reads both
    configurations from the execution's own input, so the state data that every later history
    event records names the job and nothing else of the request."""
    states = asl["States"]
    [start_job] = [n for n, s in states.items() if s.get("Resource") == START_RESOURCE]
    feeding = [n for n in states if start_job in reachable(asl, n) and n != start_job]
    for name in feeding:
        text = json.dumps(states[name])
        assert "JsonMerge" not in text or "$.start" not in text, name
        parameters = states[name].get("Parameters", {})
        assert "start" not in parameters and "start.$" not in parameters, name
    name_job = [n for n in feeding
                if {"request", "capacity"} <= set(states[n].get("Parameters", {}))]
    assert name_job, "a state sets $.request and $.capacity, replacing the state data"
    for name in name_job:
        assert states[name].get("ResultPath", "$") == "$", name
        assert set(states[name]["Parameters"]["request"]) == {
            "AwsAccountId.$", "DashboardId.$", "SnapshotJobId.$"}


def test_start_output_goes_unchanged_to_poll_and_its_failures_are_notified(asl):
    states = asl["States"]
    [start_job] = [n for n, s in states.items() if s.get("Resource") == START_RESOURCE]
    task = states[start_job]
    assert task["Next"] == poll_name(asl)
    # {Arn, SnapshotJobId, RequestId, Status} is a poller input shape: nothing may reshape it
    assert not {"ResultPath", "ResultSelector", "OutputPath"} & set(task)
    assert task["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
    assert task["Catch"][-1]["ResultPath"] == "$.startFailure"
    caught = {c["ErrorEquals"][0]: c["Next"] for c in task["Catch"]}
    assert paths_to_fail_without_notice(asl, caught["States.ALL"]) == []
    # No slot left after the capacity wait: notified like any other failed start.
    gave_up = states[caught["QuickSight.LimitExceededException"]]
    assert gave_up["Type"] == "Choice"
    assert paths_to_fail_without_notice(asl, gave_up["Default"]) == []
    # An existing job (a retried or redriven start) is polled; LimitExceeded waits for a slot.
    assert poll_name(asl) in reachable(asl, caught["QuickSight.ResourceExistsException"])
    capacity = reachable(asl, caught["QuickSight.LimitExceededException"])
    assert start_job in capacity and any(states[n]["Type"] == "Wait" for n in capacity)
    # Retried with the same SnapshotJobId: throttling and internal failures only.
    retried = [[e for e in r["ErrorEquals"] if e.startswith("QuickSight.")] for r in task["Retry"]]
    assert retried == [["QuickSight.ThrottlingException", "QuickSight.InternalFailureException"]]


def test_a_failed_start_is_notified_with_its_error_name_and_a_fixed_cause_never_quicksights(asl):
    """QuickSight's message about a refused start can quote the request (row-level-security tag
    values of UserConfiguration): no path from the start's Catches into the notice carries it."""
    assert start_failure_causes(asl) == []
    states = asl["States"]
    [start_job] = [n for n, s in states.items() if s.get("Resource") == START_RESOURCE]
    caught = {c["ErrorEquals"][0]: c for c in states[start_job]["Catch"]}
    # Both ways a start fails for good pass a Pass state that names the error only.
    for name in (caught["States.ALL"]["Next"], states[caught["QuickSight.LimitExceededException"]
                                                       ["Next"]]["Default"]):
        fixed = states[name]
        assert fixed["Type"] == "Pass" and fixed["ResultPath"] == "$.failure", name
        assert fixed["Parameters"]["Error.$"] == "$.startFailure.Error", name
        assert "QuickSight's message is not forwarded" in fixed["Parameters"]["Cause"], name
        assert fixed["Next"] == "NotifyFailure", name
    assert "$.startFailure.Cause" not in json.dumps(asl)
    assert all(c["ResultPath"] == "$.startFailure" for c in caught.values())


def test_a_start_request_missing_a_field_start_job_reads_is_notified(asl):
    states = asl["States"]
    assert unguarded_start_fields(asl) == []
    choice = states[asl["StartAt"]]
    fallback = [r for r in choice["Choices"]
                if r.get("Variable") == "$.start" and r.get("IsPresent") is True]
    assert len(fallback) == 1 and fallback[0] is choice["Choices"][-1]
    assert poll_name(asl) not in reachable(asl, fallback[0]["Next"])
    assert paths_to_fail_without_notice(asl, fallback[0]["Next"]) == []


# --------------------------------------------------------------------------------------------
# the checkers can fail
# --------------------------------------------------------------------------------------------
def test_checkers_report_a_dangling_target_an_unreachable_state_and_a_silent_failure(asl):
    broken = copy.deepcopy(asl)
    broken["States"]["Wait"]["Next"] = "Pol"
    assert dangling_targets(broken) == ["Wait.Next -> 'Pol'"]

    broken = copy.deepcopy(asl)
    broken["States"]["Orphan"] = {"Type": "Pass", "End": True}
    assert unreachable_states(broken) == {"Orphan"}

    broken = copy.deepcopy(asl)
    broken["States"]["Stuck"] = {"Type": "Pass"}
    assert states_without_exit(broken) == ["Stuck"]

    broken = copy.deepcopy(asl)
    broken["States"]["Poll"]["Catch"][-1]["Next"] = "Failed"
    assert paths_to_fail_without_notice(broken, "Failed") == [["Failed"]]

    broken = copy.deepcopy(asl)
    broken["States"]["Done?"]["Choices"][0]["And"][1]["StringEquals"] = "COMPLETED"
    assert choice_targets(broken["States"]["Done?"], "SUCCEEDED") == set()

    broken = copy.deepcopy(asl)
    broken["States"][broken["StartAt"]]["Choices"][0]["And"].pop()  # UserConfiguration unchecked
    assert unguarded_start_fields(broken) == ["ScheduledTick?: $.start.UserConfiguration"]


def test_checkers_report_a_start_failure_whose_own_cause_reaches_the_notice(asl):
    broken = copy.deepcopy(asl)  # the caught error straight into the notice
    broken["States"]["StartJob"]["Catch"][-1].update(ResultPath="$.failure", Next="NotifyFailure")
    assert start_failure_causes(broken) == ["StartJob -> NotifyFailure"]

    broken = copy.deepcopy(asl)  # the caught error copied whole
    del broken["States"]["CapacityExhausted"]["Parameters"]
    broken["States"]["CapacityExhausted"]["InputPath"] = "$.startFailure"
    assert start_failure_causes(broken) == [
        "StartJob -> CapacityLeft? -> CapacityExhausted -> NotifyFailure"]

    broken = copy.deepcopy(asl)  # its Cause read into the fixed one's place
    params = broken["States"]["StartFailed"]["Parameters"]
    del params["Cause"]
    params["Cause.$"] = "$.startFailure.Cause"
    assert start_failure_causes(broken) == ["StartJob -> StartFailed -> NotifyFailure"]

    broken = copy.deepcopy(asl)  # ... or through an intrinsic
    params = broken["States"]["StartFailed"]["Parameters"]
    params["Detail.$"] = "States.JsonToString($.startFailure)"
    assert start_failure_causes(broken) == ["StartJob -> StartFailed -> NotifyFailure"]
