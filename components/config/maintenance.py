"""`registry:maintenance`: when the self-hosted targets run retention and garbage collection.

One schedule for both targets: a five-field crontab expression in UTC (minute hour day-of-month
month day-of-week, numbers only). Local prints the crontab line that runs `make retention gc`;
aws turns it into an EventBridge Scheduler expression (components/aws/maintenance.py).
"""

from __future__ import annotations

import itertools
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


DAYS_IN_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
MIN_INTERVAL_MINUTES = 15  # more often than this is warned about


def fires(fields: list[str]) -> bool:
    """Does some month of the schedule have one of its days of month (day of week set: always)?"""
    days = cron_values(fields[2], 1, 31)
    return any(day <= DAYS_IN_MONTH[month] for month in cron_values(fields[3], 1, 12) for day in days)


def shortest_gap_minutes(fields: list[str]) -> int:
    """The shortest time between two runs on a day the schedule fires (the day's last run to the
    next day's first counted too)."""
    times = sorted(h * 60 + m for h in cron_values(fields[1], 0, 23) for m in cron_values(fields[0], 0, 59))
    gaps = [b - a for a, b in itertools.pairwise(times)] + [times[0] + 24 * 60 - times[-1]]
    return min(gaps)


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
        if not fires(fields):
            raise ValueError(
                f"never fires: no month among {fields[3]!r} has a day {fields[2]!r} (February has at most 29); "
                "pick a day one of the chosen months has"
            )
        return " ".join(fields)

    @property
    def warnings(self) -> list[str]:
        gap = shortest_gap_minutes(self.schedule.split())
        if gap >= MIN_INTERVAL_MINUTES:
            return []
        return [
            f"registry:maintenance.schedule ({self.schedule}) runs every {gap} minute(s) at times; each run lists "
            f"the whole store, so more often than every {MIN_INTERVAL_MINUTES} minutes mostly repeats the last run: "
            "spread it out (e.g. '0 3 * * *')"
        ]

    @model_validator(mode="after")
    def _runs_something(self) -> Maintenance:
        if not (self.retention or self.gc):
            raise RuleViolation(
                "maintenance", "schedules nothing; set maintenance.retention and/or maintenance.gc to true"
            )
        return self
