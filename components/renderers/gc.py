"""What garbage collection on aws shares between the program (components/aws) and
tools.maintenance: the listener rules that freeze writes, the gc task's names, the timeouts.

Pure data and builders, so tools.maintenance uses them without loading a Pulumi provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.renderers.access import DELETE_METHODS, PUSH_METHODS

FREEZE_TAG = "registry-maintenance"
FREEZE_PRIORITIES = (1, 2)  # before every other rule: none of the stack's own may take 1 or 2
# a rule allows 3 values per condition and 5 per rule (ELB guide, "Listener rules"): two rules
WRITE_METHODS = (PUSH_METHODS, DELETE_METHODS)
FROZEN_BODY = (
    '{"errors":[{"code":"UNAVAILABLE",'
    '"message":"writes are paused for maintenance (garbage collection, backup or restore)",'
    '"detail":"reads keep working; retry the push in a minute"}]}'
)
ALB_DRAIN_SECONDS = 60  # manifest PUTs the ALB forwarded before its rule answered
GC_TIMEOUT_SECONDS = 6 * 3600  # mark and sweep of a large store; the freeze lasts as long
FLUSH_TIMEOUT_SECONDS = 600  # an ECS task: image pulls and the Fargate start dominate
GC_CONTAINER = "gc"  # the gc task's one container
GC_LOG_PREFIX = "gc"  # its awslogs stream: <prefix>/<container>/<task id>, where tools.maintenance reads the report
GC_DRY_RUN_ENV = "GC_DRY_RUN"  # set (RunTask containerOverrides) for `garbage-collect --dry-run`


def gc_log_stream(task_id: str) -> str:
    return f"{GC_LOG_PREFIX}/{GC_CONTAINER}/{task_id}"


def freeze_rule(priority: int, methods: Sequence[str], tags: list[dict[str, str]]) -> dict[str, Any]:
    """A CreateRule request (less the listener) that answers `methods` under /v2/ with 503."""
    return {
        "Priority": priority,
        "Conditions": [
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v2/*"]}},
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": list(methods)}},
        ],
        "Actions": [
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "503",
                    "ContentType": "application/json",
                    "MessageBody": FROZEN_BODY,
                },
            }
        ],
        "Tags": [{"Key": FREEZE_TAG, "Value": "write-freeze"}, *tags],
    }
