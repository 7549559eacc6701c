"""Reports runs' manifests as tests and benches write them (statemachine/reports.asl.json)."""

from __future__ import annotations

import csv
import io
import json

from harness.env import ACCOUNT


def report(index: int, dashboard: str = "dash-1", **extra) -> dict:
    """One manifest item: a StartDashboardSnapshotJob request without SnapshotJobId."""
    return {
        "AwsAccountId": ACCOUNT, "DashboardId": dashboard,
        "SnapshotConfiguration": {"FileGroups": [{"Files": [{
            "FormatType": "PDF",
            "SheetSelections": [{"SheetId": "sheet-1", "SelectionScope": "ALL_VISUALS"}]}]}]},
        "UserConfiguration": {"AnonymousUsers": [{"RowLevelPermissionTags": [
            {"Key": "tenant", "Value": f"tenant-{index}"}]}]},
        "label": f"tenant-{index}",
        **extra,
    }


def csv_manifest(items: list[dict]) -> str:
    """The items as a CSV manifest: a header row, a column per field, nested fields as JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    fields = ["label", "AwsAccountId", "DashboardId", "SnapshotConfiguration",
              "UserConfiguration"]
    writer.writerow(fields)
    for item in items:
        writer.writerow([item.get(f, "") if isinstance(item.get(f, ""), str)
                         else json.dumps(item[f]) for f in fields])
    return buffer.getvalue()
