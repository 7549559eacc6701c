"""Every example in README.md and docs/ is tested: JSON blocks parse, links resolve, the output
example holds exactly the contract's keys, every `--parameter-overrides` shown passes SAM CLI's
own parser and the template's constraints, and every parameter, output, environment variable,
errorType and metric the documents name exists."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.env import POLLER_BIN

from conftest import require_binaries

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
# Upper-case names in the documents that are values, not environment variables: statuses,
# QuickSight's error types, the terminal's placeholders.
NOT_VARIABLES = {"IN_PROGRESS", "TIMED_OUT", "CAPABILITY_RESTRICTED", "CLS_CHANGED",
                 "DASHBOARD_ACCESS_DENIED", "DATASET_DELETED", "RLS_CHANGED", "EVENT_FILE",
                 "JOB_ARN"}
# Read by others than the settings table: the AWS SDK and runtime, the TLS roots loader, the
# build and the test harness.
OTHER_READERS = ("AWS_", "SSL_CERT_", "CARGO_", "E2E_")


class Loader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, ...) as plain values."""


Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)


def blocks(language: str) -> list[tuple[Path, int, str]]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in re.finditer(rf"```{language}\n(.*?)```", text, re.S):
            found.append((path, text[:match.start()].count("\n") + 1, match.group(1)))
    return found


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.*)$", path.read_text(), re.M)}


def test_every_json_block_parses():
    found = blocks("json")
    assert len(found) >= 5, found
    for path, line, text in found:
        try:
            json.loads(text)
        except ValueError as error:
            pytest.fail(f"{path.name}:{line}: {error}")


def test_every_relative_link_reaches_a_file_and_a_heading():
    checked = 0
    for path in DOCS:
        for match in re.finditer(r"\]\(([^)\s]+)\)", path.read_text()):
            target = match.group(1)
            if re.match(r"^[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            assert resolved.exists(), f"{path.name}: {target}"
            if anchor and resolved.suffix == ".md":
                assert anchor in anchors(resolved), f"{path.name}: {target}"
            checked += 1
    assert checked >= 50


def test_the_readme_links_every_document_in_docs():
    readme = (ROOT / "README.md").read_text()
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{doc.name})" in readme, doc.name


def test_every_output_example_has_exactly_the_contracts_keys():
    fixture = json.loads((ROOT / "events" / "previous-output.json").read_text())
    # events/previous-output.json is checked against the Rust contract itself (tests/poll.rs).
    examples = []
    for path, line, text in blocks("json"):
        value = json.loads(text)
        if isinstance(value, dict) and {"status", "done", "job"} <= set(value):
            examples.append((path, line, value))
    assert "README.md" in {path.name for path, _, _ in examples}
    for path, line, example in examples:
        where = f"{path.name}:{line}"
        assert list(example) == list(fixture), where
        assert list(example["job"]) == list(fixture["job"]), where
        for result in example["results"]:
            assert set(result) == {"userType", "userIndex", "fileGroupIndex", "format", "s3Uri",
                                   "errors"}, where


def test_the_readme_lists_every_error_type_and_no_other():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| errorType |")[1].split("\n\n")[0]
    listed = re.findall(r"^\| `(\w+)` \|", table, re.M)
    known = json.loads((ROOT / "statemachine" / "error-types.json").read_text())["errorTypes"]
    assert listed == [e["errorType"] for e in known]
    contract = (ROOT / "docs" / "contract.md").read_text()
    for name in listed:
        assert f"`{name}`" in contract, name


def overrides() -> list[tuple[Path, int, list[str]]]:
    """The words after every `--parameter-overrides` in the shell blocks, as the shell splits
    them (up to the next option)."""
    found = []
    for path, line, text in blocks("sh"):
        command = re.sub(r"\\\n", " ", text)
        for row in command.splitlines():
            if "--parameter-overrides" not in row:
                continue
            words = shlex.split(row.split("#", 1)[0] if " #" in row else row)
            start = words.index("--parameter-overrides") + 1
            end = next((i for i in range(start, len(words)) if words[i].startswith("--")),
                       len(words))
            found.append((path, line, words[start:end]))
    return found


def test_every_parameter_override_shown_passes_sam_clis_parser_and_the_template():
    if not SAM_PYTHON.exists():
        pytest.fail("the SAM CLI venv is missing: run scripts/tools.sh")
    shown = overrides()
    assert len(shown) >= 3, shown
    script = ("import json,sys\nfrom samcli.cli.types import CfnParameterOverridesType\n"
              "print(json.dumps(CfnParameterOverridesType().convert("
              "tuple(json.loads(sys.argv[1])), None, None)))")
    parameters = template()["Parameters"]
    for path, line, words in shown:
        parsed = json.loads(subprocess.run(
            [str(SAM_PYTHON), "-c", script, json.dumps(words)], capture_output=True, text=True,
            check=True).stdout)
        assert len(parsed) == len(words), f"{path.name}:{line}: {words} -> {parsed}"
        for key, value in parsed.items():
            spec = parameters.get(key)
            assert spec, f"{path.name}:{line}: no parameter {key}"
            if "AllowedValues" in spec:
                assert value in [str(v) for v in spec["AllowedValues"]], (key, value)
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), (key, value)
            if "MinValue" in spec:
                assert int(spec["MinValue"]) <= int(value) <= int(spec["MaxValue"]), (key, value)


def test_the_parameters_doc_lists_every_parameter_and_no_other():
    text = (ROOT / "docs" / "parameters.md").read_text()
    listed = set()
    for row in re.findall(r"^\| (`[^|]*`) \|", text, re.M):
        listed |= set(re.findall(r"`(\w+)`", row))
    assert listed == set(template()["Parameters"])


def test_every_stack_output_named_exists():
    outputs = set(template()["Outputs"])
    named = set()
    for path in DOCS:
        text = path.read_text()
        named |= set(re.findall(r"[Oo]utput `(\w+)`", text))
        named |= set(re.findall(r"OutputKey=='(\w+)'", text))
        named |= set(re.findall(r"\boutput (\w+Arn|\w+Name|\w+Url)\b", text))
    assert named, "the documents name the stack's outputs"
    assert named <= outputs, named - outputs


def test_every_environment_variable_and_metric_named_exists():
    require_binaries(POLLER_BIN)
    settings = {s["name"] for s in json.loads(subprocess.run(
        [str(POLLER_BIN), "--print-settings"], capture_output=True, text=True,
        check=True).stdout)}
    metrics_doc = json.loads(subprocess.run(
        [str(POLLER_BIN), "--print-metrics"], capture_output=True, text=True,
        check=True).stdout)
    metric_names = set(re.findall(r'"name": "(\w+)"', json.dumps(metrics_doc)))
    metric_names |= set(re.findall(r"'(\w+)'", str(metrics_doc)))
    for path in DOCS:
        if path.name in ("testing.md", "benchmarks.md", "hardening.md"):
            continue  # developers' notes name build variables too
        for name in set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`", path.read_text())):
            if name in NOT_VARIABLES:
                continue
            assert name in settings or name.startswith(OTHER_READERS), f"{path.name}: {name}"
    metrics = (ROOT / "docs" / "configuration.md").read_text().split("### Metrics")[1]
    for name in re.findall(r"`([A-Z][a-zA-Z]+)`", metrics.split("`--print-metrics`")[0]):
        if name in ("QuickSightSnapshotPoller", "Function", "Outcome"):
            continue  # the namespace and the dimensions
        assert name in metric_names, name
