"""registry:maintenance.schedule (a validated five-field crontab expression, UTC) as each target
runs it: a crontab line on the host of a local stack, EventBridge Scheduler's cron() on aws."""

from __future__ import annotations

import shlex

from components.config.maintenance import CRON_FIELDS, Maintenance, cron_values


def crontab_line(maintenance: Maintenance, *, project_dir: str, stack: str) -> str:
    """What to add with `crontab -e` on the machine that ran `make up`; retention first, so that
    the collection frees the blobs of the manifests it deleted."""
    targets = [name for name, on in (("retention", maintenance.retention), ("gc", maintenance.gc)) if on]
    return (
        f"{maintenance.schedule} cd {shlex.quote(project_dir)} && make {' '.join(targets)} "
        f"STACK={shlex.quote(stack)} >> maintenance.log 2>&1"
    )


def eventbridge_cron(schedule: str) -> str:
    """A validated five-field crontab expression as EventBridge Scheduler's cron(): six fields, `?`
    for the unrestricted day field, days of week 1-7 from Sunday (crontab: 0-7, 0 and 7 Sunday)."""
    minute, hour, day, month, weekday = schedule.split()
    if weekday == "*":
        weekday = "?"
    else:
        _, lowest, highest = CRON_FIELDS[4]
        weekday = ",".join(str(d + 1) for d in sorted({v % 7 for v in cron_values(weekday, lowest, highest)}))
        day = "?"
    return f"cron({minute} {hour} {day} {month} {weekday} *)"
