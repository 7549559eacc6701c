"""The end-to-end stack, importable without pytest (tests/e2e/conftest.py and scripts/run.py use
it): moto (SNS, SQS, Step Functions) + the Lambda front + cargo-lambda's runtime emulator + the
poller binary + the QuickSight emulator, all on 127.0.0.1 with ports picked at run time.

    Step Functions (moto) --Invoke--> Lambda front --> cargo lambda watch --> poller binary
           |  sns:Publish, ...  ------> Lambda front --> moto                   |   |
           |  aws-sdk:quicksight -----> Lambda front --> QuickSight emulator <--+   |
           |                                  ^                                     |
           +-- MOTO_PORT = the front's port   +------- SNS Publish (AWS_ENDPOINT_URL_SNS) <--+

moto's executor sends every AWS call to http://localhost:$MOTO_PORT, so moto runs on its own port
with MOTO_PORT naming the front's. See harness/front/ for why the front exists. The poller's SNS
calls go through the front as well, whose faults can fail them (front_faults).

How the poller runs (E2E_LAMBDA_MODE):
  prebuilt (default)  `cargo lambda watch --only-lambda-apis` serves the Runtime API and this
                      harness starts $CARGO_TARGET_DIR/debug/quicksight-snapshot-poller against
                      it. Nothing is ever compiled: whichever `cargo build` made the binary
                      (e.g. `cargo build --workspace --all-targets`) is used as is.
  watch               `cargo lambda watch` starts the function itself through `cargo run --bin`,
                      which rebuilds when the binary was built with other features (a
                      `--workspace --all-targets` build unifies dev-dependency features, so it
                      usually does: minutes with aws-sdk-quicksight). The function then also
                      gets cargo-lambda's constant Lambda-Runtime-Deadline-Ms (600000, i.e.
                      1970), which prebuilt mode corrects through the front.

Env: CARGO_TARGET_DIR (default ~/.cache/quicksight-snapshot-poller/target),
     E2E_LAMBDA_MODE=prebuilt|watch.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import faults
from harness.aws import (
    TERMINAL,
    Execution,
    client,
    drain_sns_queue,
    execution_history,
    subscribe_queue,
)
from harness.definition import MONITOR_PATH, REPORTS_PATH, load_definition
from harness.env import (
    ACCOUNT,
    DUMMY_CREDENTIALS,
    EMULATOR_BIN,
    POLLER_BIN,
    REGION,
    VENV_BIN,
    base_env,
)
from harness.services import Service, free_port, http_json, wait_for_tcp
from harness.template import ledger_table_request, ledger_ttl_attribute

FUNCTION_NAME = "quicksight-snapshot-poller"  # the binary name, which cargo-lambda serves
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
TOPIC_NAME = "quicksight-snapshot-failures"
QUEUE_NAME = "quicksight-snapshot-failures-tap"
# template.yaml's OperatorDeadLetterQueue: Lambda's on-failure records and Scheduler's DLQ.
DEAD_LETTER_QUEUE_NAME = "quicksight-snapshot-operators-dlq"
# Lambda retries a failed asynchronous invocation twice (template: MaximumRetryAttempts 2).
ASYNC_RETRIES = 2
# Lambda waits a minute, then two, before those retries; a second stands in for them here.
ASYNC_RETRY_DELAY = 1.0
STATE_MACHINE_NAME = "quicksight-snapshot-poller"
# The jobs' events (template.yaml: EventBusName `default`, EventSource), and the tap every test
# reads them from: a rule on the default bus that sends each to a queue.
EVENT_BUS = "default"
EVENT_SOURCE = "quicksight-snapshot-poller"
EVENT_DETAIL_TYPE = "Snapshot Job Finished"
EVENTS_QUEUE_NAME = "quicksight-snapshot-job-events-tap"
EVENTS_RULE_NAME = "all-job-events"
# template.yaml's NoticeLedger, created from the template's own key schema (harness/template.py).
LEDGER_TABLE = "quicksight-snapshot-notices"
# Where reports runs' results files go (template.yaml: ReportBucket, ReportResultsPrefix).
RESULTS_BUCKET = "quicksight-snapshot-results"
RESULTS_PREFIX = "results/"
# A poll chain's schedules (template.yaml: PollChainGroup, PollChainRole); moto keeps them.
SCHEDULE_GROUP = "poll-chains"
SCHEDULE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/poll-chain"
# Settings of the poller under test: short waits keep a loop to seconds.
DEFAULT_POLLER_ENV = {
    "NOTIFY_ON_SUCCESS": "false",
    "MIN_WAIT_SECONDS": "1",
    "MAX_WAIT_SECONDS": "1",
    # 1 s waits: a deadline whose worst case (1,800 polls) fits one execution history.
    "JOB_DEADLINE_SECONDS": "1800",
    "NOT_FOUND_GRACE_POLLS": "2",
    "SDK_MAX_ATTEMPTS": "1",
}
FUNCTION_TIMEOUT = 30  # seconds, as template.yaml's FunctionTimeout default

FunctionStarter = Callable[["Stack", dict[str, str]], Service]


def front_argv(moto: str, runtime: str, *extra: str) -> list[str]:
    """The command line of the Lambda front (run from the repository's root)."""
    return [sys.executable, "-m", "harness.front", "--moto", moto, "--runtime", runtime, *extra]


@dataclass
class Stack:
    log_dir: Path
    services: list[Service] = field(default_factory=list)
    moto_url: str = ""
    front_url: str = ""
    runtime_port: int = 0
    emulator_url: str | None = None
    topic_arn: str = ""
    queue_url: str = ""
    dead_letter_url: str = ""
    dead_letter_arn: str = ""
    state_machine_arn: str = ""
    function: Service | None = None
    watch: Service | None = None  # cargo lambda watch, the Runtime API (the runtime emulator)
    function_starter: FunctionStarter | None = None
    poller_env: dict[str, str] = field(default_factory=dict)  # start()'s overrides
    timings: dict[str, float] = field(default_factory=dict)
    monitors: dict[str, str] = field(default_factory=dict)  # create_monitor's, by name
    events_queue_url: str = ""
    event_rules: list[str] = field(default_factory=list)  # event_rule's, deleted by reset

    # --- clients ------------------------------------------------------------------------------
    def client(self, service: str):
        return client(service, self.moto_url)

    # --- startup ------------------------------------------------------------------------------
    def start(self, poller_env: dict[str, str] | None = None,
              function: FunctionStarter | None = None,
              with_emulator: bool = True, definition: str | None = None):
        """Starts everything. `function(stack, env)` starts the process that serves the Runtime
        API for FUNCTION_NAME (default: the prebuilt poller binary)."""
        t0 = time.monotonic()
        moto_port, self.runtime_port = free_port(), free_port()
        if with_emulator:
            # It asks moto's STS whose key signed a call (the registered-user rule).
            self._start_emulator(identity_endpoint=f"http://127.0.0.1:{moto_port}")
        argv = front_argv(f"127.0.0.1:{moto_port}", f"127.0.0.1:{self.runtime_port}",
                          "--port", "0", "--binary", FUNCTION_NAME,
                          "--function-timeout", str(FUNCTION_TIMEOUT))
        if self.emulator_url:  # moto's aws-sdk:quicksight tasks reach the emulator through it
            argv += ["--quicksight", self.emulator_url.removeprefix("http://")]
        front = self.spawn("lambda-front", argv, first_line=True)
        self.front_url = front.read_first_line(10).removeprefix("listening on ")
        front_port = int(self.front_url.rsplit(":", 1)[1])
        t1 = time.monotonic()
        self._start_moto(moto_port, front_port)
        self.timings["moto_start_s"] = round(time.monotonic() - t1, 2)
        self._create_aws_resources(definition)

        self.poller_env = dict(poller_env or {})
        self.function_starter = function
        self.start_function_side()
        self.timings["stack_start_s"] = round(time.monotonic() - t0, 2)

    # --- the function side: cargo lambda watch + the function process -------------------------
    def start_function_side(self, poller_env: dict[str, str] | None = None):
        """Starts cargo lambda watch on runtime_port and the function (the prebuilt poller, or
        start()'s `function`) with start()'s overrides, then `poller_env` over them."""
        env = self.function_env({**self.poller_env, **(poller_env or {})})
        mode = os.environ.get("E2E_LAMBDA_MODE", "prebuilt")
        if self.function_starter is None and mode == "watch":
            self._start_cargo_lambda_watch(env, only_apis=False)
        else:
            self._start_cargo_lambda_watch(env, only_apis=True)
            starter = self.function_starter or start_prebuilt_poller
            self.function = starter(self, env)

    def stop_function_side(self, runtime_first: bool = False, grace: float = 5.0) -> int | None:
        """Stops the function process and cargo lambda watch. By default the function goes first,
        so no Runtime API /next it left open can take an event. runtime_first stops the runtime
        emulator under an idle function, as a crash of the runtime would: the function's next
        /next fails and lambda_runtime exits; answers that exit code (None: it had to be
        killed). `grace`: seconds between SIGTERM and SIGKILL. Either way both are stopped and
        forgotten when this returns."""
        exit_code = None
        if runtime_first and self.watch is not None:
            self._stop_service(self.watch, grace)
            self.watch = None
            if self.function is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    exit_code = self.function.proc.wait(10)
        if self.function is not None:
            self._stop_service(self.function, grace)
            self.function = None
        if self.watch is not None:
            self._stop_service(self.watch, grace)
            self.watch = None
        return exit_code

    def restart_function(self, poller_env: dict[str, str] | None = None):
        """A cold start with other settings: stops the function side and starts it again with
        start()'s overrides plus `poller_env` (None: start()'s settings again)."""
        self.stop_function_side()
        self.start_function_side(poller_env)

    def _stop_service(self, svc: Service, grace: float = 5.0):
        svc.stop(grace)
        with contextlib.suppress(ValueError):
            self.services.remove(svc)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              first_line: bool = False) -> Service:
        """Starts a process that stop() stops (default environment: base_env())."""
        svc = Service(name, argv, self.log_dir, env=env if env is not None else base_env(),
                      first_line=first_line)
        self.services.append(svc)
        return svc

    def _start_emulator(self, identity_endpoint: str):
        argv = [*emulator_argv(), "--identity-endpoint", identity_endpoint]
        emu = self.spawn("quicksight-emulator", argv, first_line=True)
        line = emu.read_first_line(15)
        if not line.startswith("listening on http://"):
            raise RuntimeError(f"unexpected first line from the QuickSight emulator: {line!r}")
        self.emulator_url = line.removeprefix("listening on ")

    def _start_moto(self, moto_port: int, front_port: int):
        env = base_env()
        env["MOTO_PORT"] = str(front_port)  # where moto's own executor sends AWS calls
        moto = self.spawn("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1",
                                    "-p", str(moto_port)], env=env)
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        wait_for_tcp(moto_port, 30, moto)
        # Must precede create_state_machine: state machines then really execute.
        http_json("POST", f"{self.moto_url}/moto-api/config",
                  {"stepfunctions": {"execute_state_machine": True}})

    def _create_aws_resources(self, definition: str | None):
        sns, sqs = self.client("sns"), self.client("sqs")
        self.topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        subscribe_queue(sns, sqs, self.topic_arn, self.queue_url)
        self.dead_letter_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE_NAME)["QueueUrl"]
        self.dead_letter_arn = sqs.get_queue_attributes(
            QueueUrl=self.dead_letter_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.state_machine_arn = self.create_state_machine(STATE_MACHINE_NAME, definition)
        self.client("scheduler").create_schedule_group(Name=SCHEDULE_GROUP)
        self._create_ledger()
        self.client("s3").create_bucket(Bucket=RESULTS_BUCKET)
        self.events_queue_url = self._rule_to_queue(
            EVENTS_RULE_NAME, {"source": [EVENT_SOURCE], "detail-type": [EVENT_DETAIL_TYPE]},
            EVENTS_QUEUE_NAME)

    def _rule_to_queue(self, name: str, pattern: dict, queue_name: str) -> str:
        """A rule on the jobs' bus whose target is a new queue; answers the queue's URL."""
        sqs, events = self.client("sqs"), self.client("events")
        url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventBusName=EVENT_BUS, EventPattern=json.dumps(pattern),
                        State="ENABLED")
        events.put_targets(Rule=name, EventBusName=EVENT_BUS,
                           Targets=[{"Id": "queue", "Arn": arn}])
        return url

    def event_rule(self, name: str, pattern: dict) -> str:
        """A rule of a test's own on the jobs' bus (as a person would write it), targeting a
        queue of its own; answers the queue's URL (read it with job_events). reset() deletes
        the rule."""
        self.event_rules.append(name)
        return self._rule_to_queue(name, pattern, f"{name}-tap")

    def job_events(self, queue_url: str | None = None) -> list[dict]:
        """Drains the queue of every job event (or a rule's, event_rule): the events as
        EventBridge delivered them, each a dict with source, detail-type, resources, detail."""
        sqs, out = self.client("sqs"), []
        url = queue_url or self.events_queue_url
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def results_files(self) -> dict[str, dict]:
        """Drains the results bucket: {key: the results file's JSON} of every reports run
        written since the last call."""
        s3, out = self.client("s3"), {}
        for item in s3.list_objects_v2(Bucket=RESULTS_BUCKET).get("Contents", []):
            body = s3.get_object(Bucket=RESULTS_BUCKET, Key=item["Key"])["Body"].read()
            out[item["Key"]] = json.loads(body)
            s3.delete_object(Bucket=RESULTS_BUCKET, Key=item["Key"])
        return out

    def _create_ledger(self):
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(**ledger_table_request(LEDGER_TABLE))
        dynamodb.update_time_to_live(TableName=LEDGER_TABLE, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": ledger_ttl_attribute()})

    def ledger_items(self) -> list[dict]:
        """Every item of the notice ledger, as plain {name: value} dicts."""
        dynamodb = self.client("dynamodb")
        pages = dynamodb.get_paginator("scan").paginate(TableName=LEDGER_TABLE,
                                                        ConsistentRead=True)
        return [{name: next(iter(value.values())) for name, value in item.items()}
                for page in pages for item in page["Items"]]

    def clear_ledger(self):
        dynamodb = self.client("dynamodb")
        for item in self.ledger_items():
            dynamodb.delete_item(TableName=LEDGER_TABLE, Key={"pk": {"S": item["pk"]}})

    def create_state_machine(self, name: str, definition: str | None = None) -> str:
        """Creates a state machine (default definition: statemachine/poller.asl.json with this
        stack's function and topic) and returns its ARN."""
        text = definition if definition is not None else self.definition()
        return self.client("stepfunctions").create_state_machine(
            name=name, definition=text, roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-sfn",
        )["stateMachineArn"]

    def definition(self) -> str:
        """The real definition with this stack's DefinitionSubstitutions."""
        return self.definition_for(self.topic_arn)

    def definition_for(self, topic_arn: str) -> str:
        """The real definition, publishing to `topic_arn`."""
        return load_definition(Partition="aws", PollerFunctionArn=FUNCTION_ARN,
                               FailureTopicArn=topic_arn, StartCapacityWaitMinutes="30",
                               LedgerTableName=LEDGER_TABLE)

    def reports_definition(self, max_concurrency: int = 10) -> str:
        """The reports run (statemachine/reports.asl.json) with this stack's function, as
        template.yaml's ReportsStateMachine."""
        return load_definition(REPORTS_PATH, Partition="aws", PollerFunctionArn=FUNCTION_ARN,
                               FailureTopicArn=self.topic_arn, StartCapacityWaitMinutes="30",
                               ReportsMaxConcurrency=str(max_concurrency),
                               LedgerTableName=LEDGER_TABLE)

    def create_monitor(self, name: str = "quicksight-snapshot-poller-execution-ended") -> str:
        """The execution monitor (statemachine/execution-ended.asl.json) with this stack's topic
        and ledger, as template.yaml's ExecutionEndedNotifier; answers its ARN. moto's
        EventBridge does not start it: tests start it with the event the rule would send."""
        if name not in self.monitors:
            self.monitors[name] = self.create_state_machine(name, load_definition(
                MONITOR_PATH, Partition="aws", FailureTopicArn=self.topic_arn,
                LedgerTableName=LEDGER_TABLE))
        return self.monitors[name]

    def tell_monitor(self, execution: Execution, times: int = 1) -> list[Execution]:
        """Delivers `execution`'s end to the execution monitor `times` times (EventBridge
        delivers at least once); answers the monitor's executions."""
        monitor = self.create_monitor()
        name = execution.describe["name"]
        return [self.start_execution(f"ended-{name}-{i}", execution.status_change_event(),
                                     state_machine_arn=monitor) for i in range(times)]

    def function_env(self, overrides: dict[str, str] | None) -> dict[str, str]:
        """The poller's environment, as the template would set it plus local endpoints."""
        env = {
            **DUMMY_CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            # Through the front, which proxies to moto and can fail Publish on request
            # (front_faults); moto's own executor publishes through the front too.
            "AWS_ENDPOINT_URL_SNS": self.front_url,
            "SNS_TOPIC_ARN": self.topic_arn,
            # Poll chains: Scheduler is moto's own (it stores schedules; tests fire them).
            "AWS_ENDPOINT_URL_SCHEDULER": self.moto_url,
            # Roles a job names (roleArn) are assumed through moto's STS.
            "AWS_ENDPOINT_URL_STS": self.moto_url,
            "SCHEDULE_GROUP_NAME": SCHEDULE_GROUP,
            "SCHEDULE_ROLE_ARN": SCHEDULE_ROLE_ARN,
            "SCHEDULE_DEAD_LETTER_ARN": self.dead_letter_arn,
            # The notice ledger on moto's DynamoDB, as the template names NoticeLedger.
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url,
            "LEDGER_TABLE_NAME": LEDGER_TABLE,
            # Reports runs: manifests and results files on moto's S3.
            "AWS_ENDPOINT_URL_S3": self.moto_url,
            "RUN_RESULTS": f"s3://{RESULTS_BUCKET}/{RESULTS_PREFIX}",
            # The jobs' events: through the front (put-events faults), to moto's EventBridge.
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.front_url,
            "EVENT_BUS_NAME": EVENT_BUS,
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
            **DEFAULT_POLLER_ENV,
        }
        if self.emulator_url:
            env["AWS_ENDPOINT_URL_QUICKSIGHT"] = self.emulator_url
            # moto's STS keeps no record of ProvidedContexts: the emulator's STS front checks a
            # QuickSight context, remembers whose session it is, and passes the call to moto.
            env["AWS_ENDPOINT_URL_STS"] = self.emulator_url
        env.update(overrides or {})
        return env

    def _start_cargo_lambda_watch(self, function_env: dict[str, str], only_apis: bool):
        argv = [str(VENV_BIN / "cargo-lambda"), "lambda", "watch",
                "--invoke-address", "127.0.0.1", "--invoke-port", str(self.runtime_port),
                "--ignore-changes", "--timeout", "120"]
        env = base_env()
        if only_apis:
            argv.append("--only-lambda-apis")
        else:
            env_file = self.log_dir / "function.env"
            env_file.write_text("".join(f"{k}={v}\n" for k, v in function_env.items()))
            argv += ["--env-file", str(env_file), "--package", FUNCTION_NAME,
                     "--bin", FUNCTION_NAME]
        watch = self.spawn("cargo-lambda-watch", argv, env=env)
        self.watch = watch
        wait_for_tcp(self.runtime_port, 60, watch)

    @property
    def runtime_api(self) -> str:
        """AWS_LAMBDA_RUNTIME_API for a function process served by `--only-lambda-apis`: via the
        front, which turns cargo-lambda's constant deadline (600000 ms after 1970) into
        now + FUNCTION_TIMEOUT, as AWS does."""
        return f"{self.front_url}/.rt/{FUNCTION_NAME}"

    def stop(self):
        for svc in reversed(self.services):
            svc.stop()

    # --- per-test helpers ---------------------------------------------------------------------
    def reset(self):
        """Fresh per-test state: no queued SNS messages, no poll-chain schedules, emulator and
        front counters and faults cleared."""
        self.sns_messages()
        self.dead_letters()
        self.job_events()
        events = self.client("events")
        for rule in self.event_rules:
            events.remove_targets(Rule=rule, EventBusName=EVENT_BUS, Ids=["queue"])
            events.delete_rule(Name=rule, EventBusName=EVENT_BUS)
        self.event_rules.clear()
        self.clear_ledger()
        self.results_files()
        for schedule in self.schedules():
            self.client("scheduler").delete_schedule(GroupName=SCHEDULE_GROUP,
                                                     Name=schedule["Name"])
        if self.emulator_url:
            self.emulator("POST", "reset")
        http_json("POST", f"{self.front_url}/_lambda_front/reset")

    def start_execution(self, name: str, input: Any, timeout: float = 120.0,
                        state_machine_arn: str | None = None) -> Execution:
        """Starts an execution (a name is required: moto names unnamed ones "None"), waits for its
        end and returns describe_execution + the full history."""
        arn = self.begin_execution(name, input, state_machine_arn)
        return self.wait_execution(arn, name, timeout)

    def begin_execution(self, name: str, input: Any, state_machine_arn: str | None = None) -> str:
        """Starts an execution and returns its ARN without waiting."""
        return self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn or self.state_machine_arn, name=name,
            input=json.dumps(input))["executionArn"]

    def abort_when_waiting(self, arn: str, timeout: float = 30.0) -> Execution:
        """Stops an execution once it waits between polls (someone's StopExecution), and
        answers it ended. Stopped sooner, moto's executor can fail it with States.Runtime."""
        deadline = time.monotonic() + timeout
        while not any(e["type"] == "WaitStateEntered" for e in self.history(arn)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{arn} never waited")
            time.sleep(0.05)
        self.client("stepfunctions").stop_execution(executionArn=arn)
        return self.wait_execution(arn)

    def wait_execution(self, arn: str, name: str = "", timeout: float = 120.0) -> Execution:
        """Waits for an execution's end; returns describe_execution + the full history."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            describe = sfn.describe_execution(executionArn=arn)
            if describe["status"] in TERMINAL:
                break
            if time.monotonic() > deadline:
                history = execution_history(sfn, arn)
                with contextlib.suppress(Exception):
                    sfn.stop_execution(executionArn=arn, error="E2ETimeout")
                raise AssertionError(f"execution {name} still {describe['status']} after "
                                     f"{timeout}s\n{Execution(describe, history).summary()}\n"
                                     f"{self.diagnostics()}")
            if self.function is not None:
                self.function.check_alive()
            time.sleep(0.1)
        return Execution(describe, execution_history(sfn, arn))

    def history(self, arn: str) -> list[dict]:
        """The whole history of an execution so far."""
        return execution_history(self.client("stepfunctions"), arn)

    def sns_messages(self, queue_url: str | None = None) -> list[dict]:
        """Drains the queue subscribed to the topic (or another tap, e.g. create_fifo_tap's).
        Each item: subject, message (parsed JSON when it is JSON), attributes {name: value}, and
        the raw SNS envelope."""
        return drain_sns_queue(self.client("sqs"), queue_url or self.queue_url)

    def lambda_invocations(self) -> list[dict]:
        """What the front saw: [{function, status, functionError, errorType, ms}, ...]."""
        return http_json("GET", f"{self.front_url}/_lambda_front/invocations")

    def front_faults(self, specs: list[dict] | None = None) -> dict:
        """The front's faults (harness/faults.py), e.g. [{"operation": "publish", "error":
        "InternalError", "count": 2}]: the next two SNS Publish calls through the front fail
        with HTTP 500. The list replaces the one armed; it is checked here first. Answers, as
        without `specs` (which only reads them), {"faults": [each with the count it has left],
        "injected": Publish calls faulted}."""
        url = f"{self.front_url}/_lambda_front/faults"
        if specs is None:
            return http_json("GET", url)
        return http_json("POST", url, {"faults": faults.checked(specs, faults.FRONT)})

    def emulator_faults(self, specs: Sequence[dict] = (), **settings: Any) -> dict:
        """Replaces the QuickSight emulator's global faults: `specs` in the harness's dialect
        (checked here first) and its other settings, e.g. throttleRps=10 (left out: off)."""
        body = {**settings, "faults": faults.checked(specs, faults.EMULATOR)}
        return self.emulator("POST", "faults", body)

    def add_job(self, job_id: str, dashboard_id: str = "dash-1", **spec: Any) -> str:
        """Scripts a job in the QuickSight emulator (its `faults` checked first); returns its
        ARN."""
        if "faults" in spec:
            spec["faults"] = faults.checked(spec["faults"], faults.EMULATOR)
        body = {"awsAccountId": ACCOUNT, "dashboardId": dashboard_id, "snapshotJobId": job_id,
                **spec}
        return self.emulator("POST", "jobs", body)["arn"]

    def front_publishes(self, settle: float = 10.0) -> list[dict]:
        """The SNS Publish requests the front saw, in arrival order: [{topicArn, groupId,
        dedupId, fault, forwarded, status, ms}, ...] (status "caller-gone" for a held one not
        forwarded). Waits up to `settle` seconds for those still held (status null) to end: a
        caller that gave up can have its answer, and a retry, before the front lets go."""
        deadline = time.monotonic() + settle
        while True:
            publishes = http_json("GET", f"{self.front_url}/_lambda_front/publishes")
            if all(p["status"] is not None for p in publishes) or time.monotonic() > deadline:
                return publishes
            time.sleep(0.05)

    def front_runtime_down(self, down: bool):
        """Announces (or ends) a deliberate runtime outage: while announced, an Invoke that cannot
        reach the runtime is answered 500 ServiceException, as Lambda answers a service fault."""
        http_json("POST", f"{self.front_url}/_lambda_front/runtime", {"down": down})

    def create_fifo_tap(self, name: str) -> tuple[str, str]:
        """A FIFO topic `name`.fifo (no content-based deduplication: publishers give a
        MessageDeduplicationId) and a FIFO queue subscribed to it (enveloped delivery); answers
        (topic ARN, queue URL). Read it back with sns_messages(queue_url)."""
        sns, sqs = self.client("sns"), self.client("sqs")
        topic_arn = sns.create_topic(Name=f"{name}.fifo", Attributes={
            "FifoTopic": "true", "ContentBasedDeduplication": "false"})["TopicArn"]
        queue_url = sqs.create_queue(QueueName=f"{name}-tap.fifo", Attributes={
            "FifoQueue": "true", "ContentBasedDeduplication": "false"})["QueueUrl"]
        subscribe_queue(sns, sqs, topic_arn, queue_url)
        return topic_arn, queue_url

    def schedules(self) -> list[dict]:
        """Every schedule in the poll-chain group, in full (GetSchedule), through the paginator."""
        scheduler = self.client("scheduler")
        pages = scheduler.get_paginator("list_schedules").paginate(GroupName=SCHEDULE_GROUP)
        return [scheduler.get_schedule(GroupName=SCHEDULE_GROUP, Name=summary["Name"])
                for page in pages for summary in page["Schedules"]]

    def fire(self, schedule: dict) -> dict:
        """Does what EventBridge Scheduler does when a one-time schedule comes due: invokes its
        target with its input, then deletes it (ActionAfterCompletion DELETE). Answers the
        function's payload (its output, or {errorType, errorMessage})."""
        assert schedule["ActionAfterCompletion"] == "DELETE", schedule
        self.client("scheduler").delete_schedule(GroupName=SCHEDULE_GROUP, Name=schedule["Name"])
        return self.invoke(schedule["Target"]["Input"])

    def fire_async(self, schedule: dict) -> list[dict]:
        """fire(), but the way Scheduler really invokes Lambda: asynchronously (invoke_async)."""
        assert schedule["ActionAfterCompletion"] == "DELETE", schedule
        self.client("scheduler").delete_schedule(GroupName=SCHEDULE_GROUP, Name=schedule["Name"])
        return self.invoke_async(schedule["Target"]["Input"])

    def invoke_async(self, payload: Any) -> list[dict]:
        """Does what Lambda does with an asynchronous invocation: runs it, retries a failed one
        ASYNC_RETRIES times, and when every attempt failed sends the invocation record to the
        on-failure destination (the operators' queue). Answers every attempt's payload."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        attempts = []
        for attempt in range(1 + ASYNC_RETRIES):
            if attempt:
                time.sleep(ASYNC_RETRY_DELAY)
            attempts.append(self.invoke(text))
            if "errorType" not in attempts[-1]:
                return attempts
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {"requestId": f"async-{time.monotonic_ns()}",
                               "functionArn": f"{FUNCTION_ARN}:$LATEST",
                               "condition": "RetriesExhausted",
                               "approximateInvokeCount": len(attempts)},
            "requestPayload": json.loads(text),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                "functionError": "Unhandled"},
            "responsePayload": attempts[-1],
        }
        self.client("sqs").send_message(QueueUrl=self.dead_letter_url,
                                        MessageBody=json.dumps(record))
        return attempts

    def dead_letters(self) -> list[dict]:
        """Receives and deletes every record in the operators' queue."""
        sqs, out = self.client("sqs"), []
        while True:
            messages = sqs.receive_message(QueueUrl=self.dead_letter_url,
                                           MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.dead_letter_url,
                                   ReceiptHandle=message["ReceiptHandle"])

    def invoke(self, payload: Any) -> dict:
        """Invokes the function through the front's Lambda API, as Scheduler and Step Functions
        do; answers the payload."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        answer = client("lambda", self.front_url).invoke(FunctionName=FUNCTION_NAME,
                                                         Payload=text.encode())
        return json.loads(answer["Payload"].read())

    def emulator(self, method: str, path: str, body: Any = None) -> Any:
        """The QuickSight emulator's control API: jobs, faults, defaults, calls, reset."""
        assert self.emulator_url, "this stack runs without the QuickSight emulator"
        return http_json(method, f"{self.emulator_url}/_emulator/{path}", body)

    def diagnostics(self) -> str:
        return "\n".join(f"--- {s.name} ({s.log_path}, exit={s.proc.poll()})\n{s.tail(15)}"
                         for s in self.services)


def start_prebuilt_poller(stack: Stack, env: dict[str, str]) -> Service:
    """Runs the already-built poller binary against cargo-lambda's Runtime API."""
    proc_env = base_env()
    proc_env.update(env)
    proc_env.update({
        "AWS_LAMBDA_RUNTIME_API": stack.runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    })
    svc = stack.spawn("poller", [str(POLLER_BIN)], env=proc_env)
    time.sleep(0.3)
    svc.check_alive()  # e.g. InvalidConfiguration exits at cold start
    return svc


def emulator_argv() -> list[str]:
    """The QuickSight emulator on a free loopback port (it prints `listening on URL`)."""
    return [str(EMULATOR_BIN), "--host", "127.0.0.1", "--port", "0", "--region", REGION]


def start_emulator(log_dir: Path) -> tuple[Service, str]:
    """The QuickSight emulator alone on a free loopback port: (its service, its base URL)."""
    service = Service("quicksight-emulator", emulator_argv(), log_dir, env=base_env(),
                      first_line=True)
    line = service.read_first_line(15)
    assert line.startswith("listening on http://"), line
    return service, line.removeprefix("listening on ")
