"""`registry:maintenance`: when the self-hosted targets run retention and garbage collection.

One schedule for both targets: a five-field crontab expression in UTC (minute hour day-of-month
month day-of-week, numbers only). Local prints the crontab line that runs `make retention gc`;
aws turns it into an EventBridge Scheduler expression (components/aws/maintenance.py).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from components.config.base import Model, RuleViolation

# (name, lowest, highest) of each crontab field, crontab(5)
CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_ITEM = re.compile(r"^(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?$")


def cron_values(field: str, lowest: int, highest: int) -> set[int]:
    """The values one crontab field matches; ValueError naming the field's bounds."""
    values: set[int] = set()
    for item in field.split(","):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(f"{item!r} is not a number, a range a-b, * or a step like */15")
        start, end = (lowest, highest) if match[1] == "*" else (int(match[2]), int(match[3] or match[2]))
        step = int(match[4] or 1)
        if not lowest <= start <= end <= highest or step < 1:
            raise ValueError(f"{item!r} is outside {lowest}-{highest}")
        values.update(range(start, end + 1, step))
    return values


class Maintenance(Model):
    """Scheduled Day 2 work on local and aws; nothing runs unless it is configured."""

    schedule: str = Field(description="crontab expression in UTC, e.g. '0 3 * * 0' (Sundays 03:00)")
    retention: bool = Field(False, description="apply registry:retention")
    gc: bool = Field(False, description="garbage-collect with writes frozen (tools.maintenance gc)")

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, schedule: str) -> str:
        fields = schedule.split()
        if len(fields) != 5:
            raise ValueError(
                f"{schedule!r} has {len(fields)} fields; give five: minute hour day-of-month month day-of-week, "
                "for example '0 3 * * 0'"
            )
        for text, (name, lowest, highest) in zip(fields, CRON_FIELDS, strict=True):
            try:
                cron_values(text, lowest, highest)
            except ValueError as err:
                raise ValueError(f"the {name} field: {err}") from None
        if fields[2] != "*" and fields[4] != "*":
            raise ValueError(
                "restricts both day of month and day of week, which crontab ORs and EventBridge refuses; "
                "set one of them to *"
            )
        return " ".join(fields)

    @model_validator(mode="after")
    def _runs_something(self) -> Maintenance:
        if not (self.retention or self.gc):
            raise RuleViolation(
                "maintenance", "schedules nothing; set maintenance.retention and/or maintenance.gc to true"
            )
        return self
