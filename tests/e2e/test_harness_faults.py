"""The harness's fault dialect (harness/faults.py) on its own: the same rules as the QuickSight
emulator's (emulator/src/faults.rs), which the Lambda front speaks too."""

from __future__ import annotations

import pytest

from harness.faults import EMULATOR, FRONT, FaultError, FaultList, checked, parse_faults


def test_faults_are_consumed_in_order_one_use_per_matching_call():
    faults = FaultList(parse_faults([
        {"operation": "describe", "error": "ThrottlingException", "count": 2},
        {"operation": "describe", "kind": "drop", "count": 1},
    ], EMULATOR))

    taken = [faults.take("describe") for _ in range(4)]

    assert [fault and fault.effect for fault in taken] == [
        "ThrottlingException", "ThrottlingException", "drop", None]
    assert faults.state()["injected"] == 3


def test_a_fault_only_hits_its_own_operation_unless_it_says_any():
    faults = FaultList(parse_faults([
        {"operation": "result", "error": "AccessDeniedException", "count": 1},
        {"operation": "any", "kind": "malformed", "count": 1},
    ], EMULATOR))

    assert faults.take("describe").effect == "malformed"
    assert faults.take("result").effect == "AccessDeniedException"
    assert faults.take("start") is None


def test_a_fault_without_a_count_never_runs_out():
    faults = FaultList(parse_faults([{"operation": "publish", "error": "InternalError"}], FRONT))
    assert all(faults.take("publish").effect == "InternalError" for _ in range(100))
    assert faults.state() == {
        "faults": [{"operation": "publish", "error": "InternalError"}], "injected": 100}


def test_a_delay_fault_carries_its_duration_and_the_state_its_count_left():
    faults = FaultList(parse_faults(
        [{"operation": "publish", "kind": "delay", "delayMs": 250, "count": 2}], FRONT))
    assert faults.take("publish").delay_ms == 250
    assert faults.state()["faults"] == [
        {"operation": "publish", "kind": "delay", "delayMs": 250, "count": 1}]


def test_checked_specs_read_as_written_with_the_operation_spelled_out():
    specs = [{"error": "ThrottlingException", "count": 2},
             {"operation": "result", "kind": "delay", "delayMs": 1500}]
    assert checked(specs, EMULATOR) == [
        {"operation": "any", "error": "ThrottlingException", "count": 2},
        {"operation": "result", "kind": "delay", "delayMs": 1500}]


@pytest.mark.parametrize(("spec", "target", "reason"), [
    ({"operation": "list", "error": "ThrottlingException"}, EMULATOR, "unknown fault operation"),
    ({"operation": "describe", "kind": "explode"}, EMULATOR, "unknown fault kind"),
    ({"operation": "describe", "kind": "delay"}, EMULATOR, 'needs "delayMs"'),
    ({"operation": "describe"}, EMULATOR, 'needs an "error" name or a "kind"'),
    ({"error": "ThrottlingException", "kind": "drop"}, EMULATOR, "not both"),
    ({"error": "ThrottlingException", "count": -1}, EMULATOR, "count must be"),
    ({"error": "ThrottlingException", "times": 1}, EMULATOR, "unknown field(s) ['times']"),
    ({"operation": "publish", "error": "ThrottlingException"}, FRONT, "unknown fault error"),
    ({"operation": "publish", "kind": "drop"}, FRONT, "unknown fault kind"),
    ({"operation": "describe", "error": "InternalError"}, FRONT, "unknown fault operation"),
])
def test_nonsense_faults_are_refused_with_a_reason(spec, target, reason):
    with pytest.raises(FaultError) as info:
        parse_faults([spec], target)
    assert str(info.value).startswith("faults[0]: ") and reason in str(info.value)
