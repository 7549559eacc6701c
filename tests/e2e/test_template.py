"""Static checks of template.yaml that cfn-lint and checkov do not make: least privilege."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


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


def test_function_may_only_describe_snapshot_jobs_and_publish_to_its_topic():
    function = template()["Resources"]["PollerFunction"]["Properties"]
    granted = set()
    for statement in statements(function["Policies"]):
        actions = statement["Action"]
        granted.update(actions if isinstance(actions, list) else [actions])
    assert granted == {
        "quicksight:DescribeDashboardSnapshotJob",
        "quicksight:DescribeDashboardSnapshotJobResult",
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
