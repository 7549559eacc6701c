#!/usr/bin/env bash
# Checks a deployed stack without touching a real job, and says in one line what is wrong:
#   1. the stack exists and its last operation completed;
#   2. the state machine is ACTIVE;
#   3. the function answers (a setting it refuses fails its cold start: InvalidConfiguration)
#      and can reach QuickSight over TLS as its own role: it is asked for a job id that cannot
#      exist, in the just-started shape, so QuickSight's not-found is "not visible yet" and
#      nothing is notified; an AccessDenied (the role) or any errorType is named;
#   4. the failure topic exists, its KMS key (if a customer key) is enabled, and someone is
#      subscribed to it.
# Usage: scripts/smoke.sh STACK        (region: the AWS CLI's, or AWS_REGION)
# Env:   AWS (default: aws on PATH, else the pinned .venv-awscli/bin/aws); the AWS CLI's own
#        variables (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_*).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stack=${1:-}
if [[ -z $stack || $stack == -h || $stack == --help ]]; then
  sed -n '2,13p' "${BASH_SOURCE[0]}"
  exit 2
fi
if [[ -z ${AWS:-} ]]; then
  AWS=$(command -v aws || echo "$ROOT/.venv-awscli/bin/aws")
fi
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

fail() { echo "smoke: $stack: $*"; exit 1; }
aws_() { "$AWS" --output text "$@" 2>"$work/err"; }
why() { tr '\n' ' ' <"$work/err" | sed 's/  */ /g; s/^ //; s/ $//'; }

status=$(aws_ cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].StackStatus') || fail "no such stack ($(why))"
case $status in
  *ROLLBACK* | *FAILED* | *IN_PROGRESS*) fail "the stack is $status" ;;
esac
output() {
  aws_ cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]"
}
function_arn=$(output PollerFunctionArn) || fail "cannot read its outputs ($(why))"
state_machine=$(output PollerStateMachineArn)
topic=$(output FailureTopicArn)
for name in function_arn state_machine topic; do
  [[ -n ${!name} && ${!name} != None ]] || fail "the stack has no output for $name"
done

sm_status=$(aws_ stepfunctions describe-state-machine --state-machine-arn "$state_machine" \
  --query status) || fail "the state machine $state_machine cannot be read ($(why))"
[[ $sm_status == ACTIVE ]] || fail "the state machine is $sm_status"

# The function's own account and region: a job there that cannot exist.
IFS=: read -r _ partition _ region account _ _ <<<"$function_arn"
job="qsp-smoke-$(date -u +%Y%m%d%H%M%S)-$$"
arn="arn:$partition:quicksight:$region:$account:dashboard/qsp-smoke/snapshot-job/$job"
printf '{"Arn":"%s","SnapshotJobId":"%s","RequestId":"smoke","Status":202}' "$arn" "$job" \
  >"$work/event.json"
aws_ lambda invoke --function-name "$function_arn" --payload "fileb://$work/event.json" \
  "$work/answer.json" >"$work/invoke.txt" || fail "the function cannot be invoked ($(why))"
answer=$(python3 - "$work/answer.json" <<'EOF'
import json, sys
try:
    answer = json.load(open(sys.argv[1]))
except ValueError:
    print("its answer is not JSON")
    sys.exit()
if "errorType" in answer:
    print(f"the function failed: {answer['errorType']}: {answer.get('errorMessage', '')[:300]}")
elif answer.get("status") == "IN_PROGRESS" and answer.get("jobStatus") is None:
    print("ok")
else:
    error = answer.get("error") or {}
    print(f"QuickSight answered the function with {error.get('type', answer.get('status'))}: "
          f"{error.get('message', '')[:300]}")
EOF
)
[[ $answer == ok ]] || fail "$answer"

key=$(aws_ sns get-topic-attributes --topic-arn "$topic" \
  --query 'Attributes.KmsMasterKeyId') || fail "the topic $topic cannot be read ($(why))"
if [[ -n $key && $key != None && $key != alias/aws/sns ]]; then
  state=$(aws_ kms describe-key --key-id "$key" --query KeyMetadata.KeyState) ||
    fail "the topic's KMS key $key cannot be read ($(why))"
  [[ $state == Enabled ]] || fail "the topic's KMS key $key is $state: no notice can be published"
fi
subscribers=$(aws_ sns list-subscriptions-by-topic --topic-arn "$topic" \
  --query 'length(Subscriptions)') || fail "the topic's subscriptions cannot be read ($(why))"
[[ $subscribers -gt 0 ]] || fail "nobody is subscribed to $topic: notices reach no one"

echo "smoke: $stack: ok (the function reached QuickSight as its role; $subscribers subscription(s) on the topic)"
