"""template.yaml as data, so the harness builds what the stack deploys from the stack's own
text (the notice ledger's key schema and index) instead of a copy kept equal by hand."""

from __future__ import annotations

import functools

import yaml

from harness.env import ROOT


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


@functools.cache
def template() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


def ledger_table_request(name: str) -> dict:
    """CreateTable's request for the template's NoticeLedger, named `name`."""
    props = template()["Resources"]["NoticeLedger"]["Properties"]
    return {
        "TableName": name,
        "BillingMode": props["BillingMode"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"],
    }


def ledger_ttl_attribute() -> str:
    return template()["Resources"]["NoticeLedger"]["Properties"][
        "TimeToLiveSpecification"]["AttributeName"]
