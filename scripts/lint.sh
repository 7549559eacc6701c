#!/usr/bin/env bash
# Lints the deployment artefacts, offline and without AWS credentials:
#   1. cfn-lint template.yaml
#   2. sam validate --lint (aws-sam-cli's own venv)
#   3. asl-validator statemachine/*.asl.json (the poller, the execution monitor, the reports run)
#   4. cfn-lint's E3601 on the ASL file inlined into a plain AWS::StepFunctions::StateMachine
#      (cfn-lint does not open a SAM DefinitionUri)
#   5. tests/e2e/test_statemachine_definition.py (transitions, reachability, contract fields)
#   6. ruff check over the Python code: scripts/, tests/, harness/ (settings: pyproject.toml)
# Runs every step, then fails if any failed. Installs missing tools first (scripts/tools.sh).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/tools.sh" >&2 || exit 1

export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_UPDATE_CHECK=1 AWS_EC2_METADATA_DISABLED=true
# No credentials are needed; make sure none from the caller are used.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

failed=()
step() { # step NAME COMMAND...
  local name=$1 start=$SECONDS
  shift
  printf '== %s\n' "$name"
  if "$@"; then
    printf '   ok (%d s)\n' $((SECONDS - start))
  else
    printf '   FAILED: %s\n' "$name"
    failed+=("$name")
  fi
}

# The definition names its partition through a DefinitionSubstitution (${Partition}), which
# asl-validator cannot read in a Resource ARN: validate it as SAM substitutes it, per partition.
validate_asl() {
  local partition out rc=0
  local definition
  for definition in statemachine/poller.asl.json statemachine/execution-ended.asl.json \
    statemachine/reports.asl.json; do
    for partition in aws aws-cn aws-us-gov; do
      out=$(mktemp --suffix=.json)
      sed "s/\${Partition}/$partition/g" "$definition" >"$out"
      echo "$definition ($partition):"
      "$ROOT/node_modules/.bin/asl-validator" --json-path "$out" || rc=1
      rm -f "$out"
    done
  done
  return $rc
}

inline_asl_template() {
  local out
  out=$(mktemp --suffix=.json)
  "$ROOT/.venv/bin/python" - "$out" <<'EOF'
import json, sys
# cfn-lint checks a Resource ARN before substitution: give it the aws partition's.
def definition(path):
    return json.loads(open(path).read().replace("${Partition}", "aws"))
substitutions = {
    "PollerFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:lint",
    "FailureTopicArn": "arn:aws:sns:us-east-1:123456789012:lint",
    "StartCapacityWaitMinutes": "30",
    "ReportsMaxConcurrency": "10",
}
def machine(path, names):
    return {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "RoleArn": "arn:aws:iam::123456789012:role/lint",
        "Definition": definition(path),
        "DefinitionSubstitutions": {k: v for k, v in substitutions.items() if k in names},
    }}
template = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "PollerStateMachine": machine("statemachine/poller.asl.json", substitutions),
        "ExecutionEndedNotifier": machine("statemachine/execution-ended.asl.json", {"FailureTopicArn"}),
        "ReportsStateMachine": machine("statemachine/reports.asl.json", {
            "PollerFunctionArn", "FailureTopicArn", "StartCapacityWaitMinutes",
            "ReportsMaxConcurrency"}),
    },
}
json.dump(template, open(sys.argv[1], "w"), indent=1)
EOF
  "$ROOT/.venv/bin/cfn-lint" "$out"
  local rc=$?
  rm -f "$out"
  return $rc
}

step "cfn-lint template.yaml" "$ROOT/.venv/bin/cfn-lint" template.yaml
# --skip-download: checkov otherwise asks Prisma Cloud for guideline links, off this network.
step "checkov (0 failed checks; skips justified in template.yaml)" "$ROOT/.venv-checkov/bin/checkov" \
  --quiet --compact --skip-download --framework cloudformation -f template.yaml
step "sam validate --lint" "$ROOT/.venv-sam/bin/sam" validate --lint --template-file template.yaml
step "asl-validator, every definition as deployed in aws, aws-cn, aws-us-gov" validate_asl
step "cfn-lint E3601 on the inlined definitions" inline_asl_template
step "pytest test_statemachine_definition.py" "$ROOT/.venv/bin/python" -m pytest -q \
  -p no:cacheprovider tests/e2e/test_statemachine_definition.py
step "ruff check scripts tests harness" "$ROOT/.venv/bin/ruff" check --no-cache scripts tests harness

if ((${#failed[@]})); then
  printf 'lint: %d step(s) failed: %s\n' "${#failed[@]}" "$(IFS=,; echo "${failed[*]}")"
  exit 1
fi
echo "lint: all steps passed"
