#!/usr/bin/env python3
"""Prints template.yaml as CloudFormation deploys it: the SAM transform applied offline, as
`sam deploy` would after `sam package` (local CodeUri/DefinitionUri become S3 locations).
Runs with .venv-sam's Python (aws-sam-translator); the e2e suite reads its output to check the
IAM that is really deployed, including what SAM adds on its own.

Usage: .venv-sam/bin/python scripts/sam_transform.py [Name=Value ...]   (parameter overrides)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
          "AWS::StackName": "poller", "AWS::StackId": "stack-id", "AWS::URLSuffix": "amazonaws.com",
          "AWS::NotificationARNs": []}


class OfflinePolicies(ManagedPolicyLoader):
    """The managed policies SAM may attach, without asking IAM (no network here)."""

    def __init__(self):
        pass

    def load(self):
        return {name: f"arn:aws:iam::aws:policy/service-role/{name}"
                for name in ("AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess",
                             "AWSLambdaRole", "AWSLambdaVPCAccessExecutionRole")}


def main() -> int:
    # The translator asks boto for the region of its pseudo parameters.
    os.environ.setdefault("AWS_DEFAULT_REGION", PSEUDO["AWS::Region"])
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://sam-artifacts/poller.zip"
        if resource["Type"] == "AWS::Serverless::StateMachine":
            props["DefinitionUri"] = "s3://sam-artifacts/poller.asl.json"
    parameters = dict(PSEUDO)
    for name, spec in template.get("Parameters", {}).items():
        if "Default" in spec:
            parameters[name] = spec["Default"]
    for override in sys.argv[1:]:
        name, _, value = override.partition("=")
        parameters[name] = value
    print(json.dumps(transform(template, parameters, OfflinePolicies()), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
