"""What the last scheduled refresh did, kept for operators (`wxcomponent status`): metrics and logs
tell the same in AWS, but an operator's question "did the refresher run, and what failed?" should
not need a log query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RefreshRun:
    started_at: int
    finished_at: int
    # The sweep's report (services.refresher.SweepReport as a dict: due, refreshed, failed by errcode, …).
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> dict[str, int]:
        failed = self.summary.get("failed")
        return {str(k): int(v) for k, v in failed.items()} if isinstance(failed, dict) else {}
