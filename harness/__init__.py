"""The Python side of the end-to-end tests and of `scripts/run.sh`: the local stand-ins for AWS
around the poller binary, importable from the repository's root (tests/e2e/conftest.py through
pytest's `pythonpath`, scripts/run.py by putting the root on sys.path).

  env.py            where things are (binaries, venv, definition) and every child's environment
  services.py       child processes: spawn with a log, readiness, ports, stop a process tree
  aws.py            boto3 against moto: clients, paginated histories, SNS read back via SQS
  definition.py     the state machine definition with its substitutions, fast-wait copies
  faults.py         the one fault dialect of the QuickSight emulator and the Lambda front
  stack.py          the stack: QuickSight emulator, moto, Lambda front, cargo lambda watch, poller
  front/            the Lambda front (`python -m harness.front`), one module per job
  fake_function.py  a scripted stand-in for the poller binary
"""
