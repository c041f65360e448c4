"""flush-cache: empty the blob-descriptor cache (Redis DB 0). distribution's cache answers for a
blob from Redis without looking at storage, so whenever stored objects vanish behind its back
(a restored, wiped or replaced object store or volume, a garbage collection, objects deleted by
hand) HEAD still says 200, pushes "succeed" by skipping the layer and pulls then fail with
`manifest unknown`. Flushing is always safe: the cache refills from storage.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from components.renderers.gc import FLUSH_TIMEOUT_SECONDS
from components.renderers.redis import redis_cli_script
from tools.maintenance.target import MaintenanceError
from tools.redis_client import redis_command


def flush_cache(
    target: Mapping[str, Any], *, run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run, ecs: Any = None
) -> str:
    """Flush the cache `target` describes; a line saying what was done. Raises MaintenanceError."""
    kind = target["target"]
    if kind == "sandbox":
        return _flush_sandbox(str(target["redis"]))
    if kind == "local":
        return _flush_local(target, run)
    return _flush_aws(target, ecs)


def _flush_sandbox(url: str) -> str:
    parts = urlsplit(url)
    if redis_command(f"{parts.hostname}:{parts.port}", parts.password or "", "FLUSHDB") != "OK":
        raise MaintenanceError(f"Redis at {parts.hostname}:{parts.port} did not flush")
    return f"flushed the blob-descriptor cache at {parts.hostname}:{parts.port}"


def _flush_local(target: Mapping[str, Any], run: Callable[..., subprocess.CompletedProcess[str]]) -> str:
    container = target.get("cacheContainer")
    if not container:
        return "this stack has no cache (registry:cache.enabled is false): nothing to flush"
    script = redis_cli_script(str(target["cacheConfig"]), "FLUSHDB")
    command = ["docker", "exec", str(container), "sh", "-c", script]
    done = run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or done.stdout.strip() != "OK":
        raise MaintenanceError(
            f"`{shlex.join(command[:3])} ...` failed (status {done.returncode}): {(done.stderr or done.stdout).strip()}"
        )
    return f"flushed the blob-descriptor cache in container {container}"


def _flush_aws(target: Mapping[str, Any], ecs: Any) -> str:
    task_definition = target.get("cacheFlushTask")
    if not task_definition:
        return "this stack has no cache (registry:cache.enabled is false): nothing to flush"
    if ecs is None:
        import boto3  # only this path needs AWS credentials and the SDK

        ecs = boto3.client("ecs", region_name=target["region"])
    arn = run_task(ecs, target, str(task_definition), container="flush", timeout=FLUSH_TIMEOUT_SECONDS)
    return f"flushed the blob-descriptor cache (ECS task {arn})"


def run_task(
    ecs: Any, target: Mapping[str, Any], task_definition: str, *, container: str, timeout: float, **extra: Any
) -> str:
    """Run one of the stack's one-off tasks to the end; its ARN, or MaintenanceError unless
    `container` exited 0. Its log stream is <prefix>/<container>/<task id> in the stack's logGroup."""
    started = ecs.run_task(**run_task_request(target, task_definition), **extra)
    if started.get("failures") or not started.get("tasks"):
        raise MaintenanceError(f"ECS did not start task {task_definition}: {started.get('failures')}")
    arn = str(started["tasks"][0]["taskArn"])
    task = _wait_stopped(ecs, str(target["cluster"]), arn, timeout)
    done: dict[str, Any] = next((c for c in task.get("containers", []) if c.get("name") == container), {})
    if done.get("exitCode") != 0:
        reason = done.get("reason") or task.get("stoppedReason") or f"exit code {done.get('exitCode')}"
        raise MaintenanceError(f"ECS task {arn} failed: {reason}; its log is in the stack's logGroup")
    return arn


def run_task_request(target: Mapping[str, Any], task_definition: str) -> dict[str, Any]:
    """ECS RunTask for one of the stack's tasks: its private subnets, the tasks' security group."""
    return {
        "cluster": target["cluster"],
        "taskDefinition": task_definition,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": "tools.maintenance",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(target["subnets"]),
                "securityGroups": list(target["securityGroups"]),
                "assignPublicIp": "DISABLED",
            }
        },
    }


def _wait_stopped(ecs: Any, cluster: str, arn: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [task] = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
        if task.get("lastStatus") == "STOPPED":
            return dict(task)
        time.sleep(5)
    raise MaintenanceError(f"ECS task {arn} did not stop within {timeout:.0f}s")
