"""The end-to-end stack, importable without pytest (tests/e2e/conftest.py and scripts/run.sh use
it): moto (SNS, SQS, Step Functions) + the Lambda front + cargo-lambda's runtime emulator + the
poller binary + the QuickSight emulator, all on 127.0.0.1 with ports picked at run time.

    Step Functions (moto) --Invoke--> lambda_front --> cargo lambda watch --> poller binary
           |  sns:Publish, ...  ------> lambda_front --> moto                   |   |
           |  aws-sdk:quicksight -----> lambda_front --> QuickSight emulator <--+   |
           |                                  ^                                     |
           +-- MOTO_PORT = the front's port   +------- SNS Publish (AWS_ENDPOINT_URL_SNS) <--+

moto's executor sends every AWS call to http://localhost:$MOTO_PORT, so moto runs on its own port
with MOTO_PORT naming the front's. See scripts/lambda_front.py for why the front exists. The
poller's SNS calls go through the front as well, whose fault switch can fail them (front_faults).

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
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
ASL_PATH = ROOT / "statemachine" / "poller.asl.json"
FRONT_SCRIPT = ROOT / "scripts" / "lambda_front.py"

CARGO_TARGET_DIR = Path(
    os.environ.get("CARGO_TARGET_DIR")
    or Path.home() / ".cache" / "quicksight-snapshot-poller" / "target"
)
POLLER_BIN = CARGO_TARGET_DIR / "debug" / "quicksight-snapshot-poller"
EMULATOR_BIN = CARGO_TARGET_DIR / "debug" / "quicksight-emulator"

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
FUNCTION_NAME = "quicksight-snapshot-poller"  # the binary name, which cargo-lambda serves
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
TOPIC_NAME = "quicksight-snapshot-failures"
QUEUE_NAME = "quicksight-snapshot-failures-tap"
STATE_MACHINE_NAME = "quicksight-snapshot-poller"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
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
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------
def free_port() -> int:
    """A free loopback port (there is a small race until the caller binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_table() -> list[tuple[int, int, int]]:
    """(pid, ppid, pgid) of every live process, read from /proc."""
    table = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
            # The command name may hold spaces and parentheses: fields start after the last ")".
            fields = stat.rsplit(")", 1)[1].split()
            table.append((int(entry), int(fields[1]), int(fields[2])))
        except (OSError, IndexError, ValueError):
            continue
    return table


def _children_of(pid: int) -> list[int]:
    """Every live descendant of pid, found through /proc (process groups can be left)."""
    parents: dict[int, list[int]] = {}
    for child, ppid, _ in _proc_table():
        parents.setdefault(ppid, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _group_members(pgid: int) -> list[int]:
    """Live processes of process group pgid, found through /proc."""
    return [member for member, _, group in _proc_table() if group == pgid]


class Service:
    """A child process in its own process group, its output in LOG_DIR/NAME.log."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None,
                 cwd: Path = ROOT, first_line: bool = False):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab", buffering=0)
        self._log.write(("$ " + " ".join(argv) + "\n").encode())
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if first_line else self._log, stderr=self._log,
            start_new_session=True,  # own process group: stop() kills the whole tree
        )
        self._pump: threading.Thread | None = None

    def read_first_line(self, timeout: float) -> str:
        """Reads the first stdout line, then keeps copying stdout to the log (a full pipe would
        block the child)."""
        assert self.proc.stdout is not None
        box: list[bytes] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            raise RuntimeError(f"{self.name} printed no first line within {timeout}s "
                               f"(exit={self.proc.poll()}); see {self.log_path}:\n{self.tail()}")
        line = box[0].decode().strip()
        self._log.write((line + "\n").encode())

        def pump():
            for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
                self._log.write(chunk)

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        return line

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                               f"see {self.log_path}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 5.0):
        pid = self.proc.pid
        tree = _children_of(pid) if self.alive() else []
        if self.proc.returncode is not None and not _group_members(pid):
            # Already reaped and its group is empty: its id may belong to someone else now.
            self._close()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for child in tree:  # children that moved to a process group of their own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._close()

    def _close(self):
        if self._pump:
            self._pump.join(2)
        self._log.close()


def wait_for_tcp(port: int, timeout: float, service: Service | None = None):
    """Plain TCP readiness (an HTTP request to cargo-lambda would invoke the function)."""
    deadline = time.monotonic() + timeout
    while True:
        if service:
            service.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
        time.sleep(0.05)


def http_json(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {url} -> {exc.code}: {exc.read().decode()}") from None
    return json.loads(text) if text.strip() else None


# --------------------------------------------------------------------------------------------
# the stack
# --------------------------------------------------------------------------------------------
@dataclass
class Execution:
    """describe_execution + history of one finished execution."""
    describe: dict
    history: list[dict]

    @property
    def status(self) -> str:
        return self.describe["status"]

    @property
    def output(self) -> Any:
        raw = self.describe.get("output")
        return json.loads(raw) if raw else None

    @property
    def error(self) -> str | None:
        return self.describe.get("error")

    @property
    def cause(self) -> str | None:
        return self.describe.get("cause")

    @property
    def duration(self) -> float:
        return (self.describe["stopDate"] - self.describe["startDate"]).total_seconds()

    def events(self, *types: str) -> list[dict]:
        return [e for e in self.history if not types or e["type"] in types]

    def states_entered(self) -> list[str]:
        """Names of the states in the order they were entered."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.history
                if "stateEnteredEventDetails" in e]

    def task_failures(self) -> list[tuple[str, str]]:
        """(error, cause) of every failed task attempt, retried ones included."""
        return [(e["taskFailedEventDetails"].get("error"), e["taskFailedEventDetails"].get("cause"))
                for e in self.history if e["type"] == "TaskFailed"]

    def lambda_outputs(self) -> list[Any]:
        """The poller's Payload of every successful Poll, in order."""
        outs = []
        for e in self.history:
            if e["type"] == "TaskSucceeded" and e["taskSucceededEventDetails"]["resourceType"] == "lambda":
                outs.append(json.loads(e["taskSucceededEventDetails"]["output"]).get("Payload"))
        return outs

    def summary(self) -> str:
        lines = [f"status={self.status} error={self.error} cause={self.cause}"]
        for e in self.history:
            detail = next((v for k, v in e.items() if k.endswith("EventDetails")), "")
            lines.append(f"  {e['id']:>3} {e['type']} {json.dumps(detail, default=str)[:300]}")
        return "\n".join(lines)


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
    state_machine_arn: str = ""
    function: Service | None = None
    watch: Service | None = None  # cargo lambda watch, the Runtime API (the runtime emulator)
    function_starter: Callable[["Stack", dict[str, str]], Service] | None = None
    poller_env: dict[str, str] = field(default_factory=dict)  # start()'s overrides
    timings: dict[str, float] = field(default_factory=dict)

    # --- clients ------------------------------------------------------------------------------
    def client(self, service: str):
        import boto3  # lazily: test_statemachine_definition.py needs no boto3

        return boto3.client(service, region_name=REGION, endpoint_url=self.moto_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    # --- startup ------------------------------------------------------------------------------
    def start(self, poller_env: dict[str, str] | None = None,
              function: Callable[["Stack", dict[str, str]], Service] | None = None,
              with_emulator: bool = True, definition: str | None = None):
        """Starts everything. `function(stack, env)` starts the process that serves the Runtime
        API for FUNCTION_NAME (default: the prebuilt poller binary)."""
        t0 = time.monotonic()
        if with_emulator:
            self._start_emulator()
        moto_port, self.runtime_port = free_port(), free_port()
        front_argv = [
            sys.executable, str(FRONT_SCRIPT), "--port", "0",
            "--moto", f"127.0.0.1:{moto_port}", "--runtime", f"127.0.0.1:{self.runtime_port}",
            "--binary", FUNCTION_NAME, "--function-timeout", str(FUNCTION_TIMEOUT),
        ]
        if self.emulator_url:  # moto's aws-sdk:quicksight tasks reach the emulator through it
            front_argv += ["--quicksight", self.emulator_url.removeprefix("http://")]
        front = self._spawn("lambda-front", front_argv, first_line=True)
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

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None,
               first_line: bool = False) -> Service:
        svc = Service(name, argv, self.log_dir, env=env if env is not None else base_env(),
                      first_line=first_line)
        self.services.append(svc)
        return svc

    def _start_emulator(self):
        emu = self._spawn("quicksight-emulator", [str(EMULATOR_BIN), "--host", "127.0.0.1",
                                                   "--port", "0", "--region", REGION],
                          first_line=True)
        line = emu.read_first_line(15)
        if not line.startswith("listening on http://"):
            raise RuntimeError(f"unexpected first line from the QuickSight emulator: {line!r}")
        self.emulator_url = line.removeprefix("listening on ")

    def _start_moto(self, moto_port: int, front_port: int):
        env = base_env()
        env["MOTO_PORT"] = str(front_port)  # where moto's own executor sends AWS calls
        moto = self._spawn("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1",
                                    "-p", str(moto_port)], env=env)
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        wait_for_tcp(moto_port, 30, moto)
        # Must precede create_state_machine: state machines then really execute.
        http_json("POST", f"{self.moto_url}/moto-api/config",
                  {"stepfunctions": {"execute_state_machine": True}})

    def _create_aws_resources(self, definition: str | None):
        sns, sqs, sfn = self.client("sns"), self.client("sqs"), self.client("stepfunctions")
        self.topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        # Enveloped delivery (RawMessageDelivery false): Subject and MessageAttributes arrive.
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "false"})
        self.state_machine_arn = self.create_state_machine(STATE_MACHINE_NAME, definition)

    def create_state_machine(self, name: str, definition: str | None = None) -> str:
        """Creates a state machine (default definition: statemachine/poller.asl.json with this
        stack's function and topic) and returns its ARN."""
        text = definition if definition is not None else self.definition()
        return self.client("stepfunctions").create_state_machine(
            name=name, definition=text, roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-sfn",
        )["stateMachineArn"]

    def definition(self) -> str:
        """The real definition with this stack's DefinitionSubstitutions."""
        return load_definition(Partition="aws", PollerFunctionArn=FUNCTION_ARN,
                               FailureTopicArn=self.topic_arn, StartCapacityWaitMinutes="30")

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
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
            **DEFAULT_POLLER_ENV,
        }
        if self.emulator_url:
            env["AWS_ENDPOINT_URL_QUICKSIGHT"] = self.emulator_url
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
        watch = self._spawn("cargo-lambda-watch", argv, env=env)
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
        """Fresh per-test state: no queued SNS messages, emulator and front counters and faults
        cleared."""
        self.sns_messages()
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

    def wait_execution(self, arn: str, name: str = "", timeout: float = 120.0) -> Execution:
        """Waits for an execution's end; returns describe_execution + the full history."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            describe = sfn.describe_execution(executionArn=arn)
            if describe["status"] in TERMINAL:
                break
            if time.monotonic() > deadline:
                history = self._history(sfn, arn)
                with contextlib.suppress(Exception):
                    sfn.stop_execution(executionArn=arn, error="E2ETimeout")
                raise AssertionError(f"execution {name} still {describe['status']} after "
                                     f"{timeout}s\n{Execution(describe, history).summary()}\n"
                                     f"{self.diagnostics()}")
            if self.function is not None:
                self.function.check_alive()
            time.sleep(0.1)
        return Execution(describe, self._history(sfn, arn))

    def history(self, arn: str) -> list[dict]:
        """The whole history of an execution so far."""
        return self._history(self.client("stepfunctions"), arn)

    @staticmethod
    def _history(sfn, arn: str) -> list[dict]:
        events, token = [], None
        while True:
            kwargs = {"executionArn": arn, "maxResults": 1000}
            if token:
                kwargs["nextToken"] = token
            page = sfn.get_execution_history(**kwargs)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def sns_messages(self, queue_url: str | None = None) -> list[dict]:
        """Drains the queue subscribed to the topic (or another tap, e.g. create_fifo_tap's).
        Each item: subject, message (parsed JSON when it is JSON), attributes {name: value}, and
        the raw SNS envelope."""
        sqs = self.client("sqs")
        out = []
        while True:
            resp = sqs.receive_message(QueueUrl=queue_url or self.queue_url,
                                       MaxNumberOfMessages=10, WaitTimeSeconds=0)
            msgs = resp.get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                envelope = json.loads(m["Body"])
                message = envelope.get("Message")
                with contextlib.suppress(TypeError, ValueError):
                    message = json.loads(message)
                out.append({
                    "subject": envelope.get("Subject"),
                    "message": message,
                    "attributes": {k: v.get("Value") for k, v in
                                   (envelope.get("MessageAttributes") or {}).items()},
                    "envelope": envelope,
                })
                sqs.delete_message(QueueUrl=queue_url or self.queue_url,
                                   ReceiptHandle=m["ReceiptHandle"])

    def lambda_invocations(self) -> list[dict]:
        """What the front saw: [{function, status, functionError, errorType, ms}, ...]."""
        return http_json("GET", f"{self.front_url}/_lambda_front/invocations")

    def front_faults(self, body: dict | None = None) -> dict:
        """The front's fault switch: POST {"snsPublishErrors": N} makes the next N SNS Publish
        calls through the front fail with HTTP 500; also snsPublishThrottles (HTTP 400
        Throttling), snsPublishDelays + snsPublishDelayMs (held, then forwarded unless the caller
        hung up), snsPublishLostAnswers (forwarded, then answered 500); see
        scripts/lambda_front.py. Without a body, reads the switch:
        {"snsPublishErrors": left, "snsPublishFailed": injected so far, <other kinds armed>}."""
        if body is None:
            return http_json("GET", f"{self.front_url}/_lambda_front/faults")
        return http_json("POST", f"{self.front_url}/_lambda_front/faults", body)

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
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "false"})
        return topic_arn, queue_url

    def emulator(self, method: str, path: str, body: Any = None) -> Any:
        """The QuickSight emulator's control API: jobs, faults, defaults, calls, reset."""
        assert self.emulator_url, "this stack runs without the QuickSight emulator"
        return http_json(method, f"{self.emulator_url}/_emulator/{path}", body)

    def diagnostics(self) -> str:
        return "\n".join(f"--- {s.name} ({s.log_path}, exit={s.proc.poll()})\n{s.tail(15)}"
                         for s in self.services)


def base_env() -> dict[str, str]:
    """The environment of every child: ours, minus anything that points AWS clients elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "MOTO_")) and k not in ("HTTP_PROXY", "HTTPS_PROXY",
                                                                "http_proxy", "https_proxy")}
    env.update(DUMMY_CREDENTIALS)
    env["AWS_DEFAULT_REGION"] = REGION
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["CARGO_TARGET_DIR"] = str(CARGO_TARGET_DIR)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # cargo-lambda finds zig here
    return env


def fast_retry_definition(text: str) -> str:
    """A copy of a definition whose Retry waits are at most a second: every retrier keeps its
    ErrorEquals, MaxAttempts, BackoffRate and JitterStrategy, and only IntervalSeconds and
    MaxDelaySeconds become 1. Lets a test exhaust the real retry policy in seconds."""
    definition = json.loads(text)

    def visit(states: dict):
        for state in states.values():
            for retrier in state.get("Retry", []):
                retrier["IntervalSeconds"] = 1
                retrier["MaxDelaySeconds"] = 1
            for branch in state.get("Branches", []):
                visit(branch["States"])
            if "Iterator" in state or "ItemProcessor" in state:
                visit((state.get("ItemProcessor") or state["Iterator"])["States"])

    visit(definition["States"])
    return json.dumps(definition, indent=2)


def fast_capacity_definition(text: str, minutes: int) -> str:
    """A copy of a definition whose start waits StartCapacityWaitMinutes=`minutes` slots of one
    second each instead of about a minute: the capacity loop as deployed, in seconds."""
    definition = json.loads(text)
    states = definition["States"]
    states["NameJob"]["Parameters"]["capacity"]["max.$"] = f"States.StringToJson('{minutes}')"
    states["NameJob"]["Parameters"]["capacity"]["wait"] = 1
    states["CountCapacityWait"]["Parameters"]["capacity"]["wait.$"] = "States.MathRandom(1, 2)"
    return json.dumps(definition, indent=2)


def load_definition(**substitutions: str) -> str:
    """statemachine/poller.asl.json with SAM-style ${Name} DefinitionSubstitutions applied."""
    text = ASL_PATH.read_text()
    for name, value in substitutions.items():
        text = text.replace("${%s}" % name, value)
    leftover = [part.split("}")[0] for part in text.split("${")[1:]]
    assert not leftover, f"unsubstituted placeholders in the definition: {leftover}"
    return text


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
    svc = stack._spawn("poller", [str(POLLER_BIN)], env=proc_env)
    time.sleep(0.3)
    svc.check_alive()  # e.g. InvalidConfiguration exits at cold start
    return svc


def start_emulator(log_dir: Path) -> tuple[Service, str]:
    """The QuickSight emulator alone on a free loopback port: (its service, its base URL)."""
    service = Service("quicksight-emulator", [str(EMULATOR_BIN), "--host", "127.0.0.1",
                                              "--port", "0", "--region", REGION],
                      log_dir, env=base_env(), first_line=True)
    line = service.read_first_line(15)
    assert line.startswith("listening on http://"), line
    return service, line.removeprefix("listening on ")


def job_reference(job_id: str, dashboard_id: str = "dash-1", account: str = ACCOUNT) -> dict:
    """The state machine's input: a job reference in the API's PascalCase."""
    return {"AwsAccountId": account, "DashboardId": dashboard_id, "SnapshotJobId": job_id}
