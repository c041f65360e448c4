"""Day-2 operations on a deployed registry, beside Pulumi.

    python -m tools.maintenance flush-cache (--stack NAME | --outputs FILE | --sandbox FILE)

flush-cache empties the blob-descriptor cache (Redis DB 0). distribution's cache answers for a
blob from Redis without looking at storage, so whenever stored objects vanish behind its back
(a restored, wiped or replaced object store or volume, a garbage collection, objects deleted by
hand) HEAD still says 200, pushes "succeed" by skipping the layer and pulls then fail with
`manifest unknown`. Flushing is always safe: the cache refills from storage.

Where to: `--stack` reads the stack's `maintenance` output with the Pulumi CLI, `--outputs` the
saved JSON of `pulumi stack output --json`, `--sandbox` the JSON line `python -m tools.sandbox`
printed. Exit status 0 when flushed (or when the stack has no cache), 1 when the flush failed,
2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from components.renderers.redis import redis_cli_script
from tools.redis_client import redis_command

FLUSH_TIMEOUT_SECONDS = 600.0  # an ECS task: image pulls and the Fargate start dominate


class MaintenanceError(RuntimeError):
    """The operation could not run; the message says what to fix."""


def load_target(*, stack: str | None, outputs: Path | None, sandbox: Path | None) -> dict[str, Any]:
    """The `maintenance` description of the stack (or the sandbox) to act on."""
    if sandbox is not None:
        line = json.loads(_read(sandbox))
        return {"target": "sandbox", "redis": line["redis"]}
    if outputs is not None:
        data = json.loads(_read(outputs))
    else:
        if shutil.which("pulumi") is None:
            raise MaintenanceError(
                "the Pulumi CLI is not on PATH; save `pulumi stack output --json` and pass --outputs"
            )
        done = subprocess.run(
            ["pulumi", "stack", "output", "--json", "--stack", str(stack)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise MaintenanceError(f"pulumi stack output --stack {stack} failed: {done.stderr.strip()}")
        data = json.loads(done.stdout)
    target = data.get("maintenance", data)
    if not isinstance(target, dict) or target.get("target") not in ("local", "aws"):
        raise MaintenanceError("no `maintenance` output found: deploy the stack with this version first (pulumi up)")
    return target


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
    started = ecs.run_task(**run_task_request(target))
    if started.get("failures") or not started.get("tasks"):
        raise MaintenanceError(f"ECS did not start the cache-flush task: {started.get('failures')}")
    arn = started["tasks"][0]["taskArn"]
    task = _wait_stopped(ecs, str(target["cluster"]), arn)
    flush: dict[str, Any] = next((c for c in task.get("containers", []) if c.get("name") == "flush"), {})
    if flush.get("exitCode") != 0:
        reason = flush.get("reason") or task.get("stoppedReason") or "no exit code"
        raise MaintenanceError(f"the cache-flush task {arn} failed: {reason}; see the stack's logGroup (cache-flush/)")
    return f"flushed the blob-descriptor cache (ECS task {arn})"


def run_task_request(target: Mapping[str, Any]) -> dict[str, Any]:
    """ECS RunTask for the stack's cache-flush task: its private subnets, the tasks' security group."""
    return {
        "cluster": target["cluster"],
        "taskDefinition": target["cacheFlushTask"],
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


def _wait_stopped(ecs: Any, cluster: str, arn: str, timeout: float = FLUSH_TIMEOUT_SECONDS) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [task] = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
        if task.get("lastStatus") == "STOPPED":
            return dict(task)
        time.sleep(5)
    raise MaintenanceError(f"the cache-flush task {arn} did not stop within {timeout:.0f}s")


def _read(path: Path) -> str:
    return sys.stdin.read() if str(path) == "-" else path.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.maintenance", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    flush = commands.add_parser("flush-cache", help="empty the blob-descriptor cache (after objects were lost)")
    where = flush.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed stack (reads its outputs with the Pulumi CLI)")
    where.add_argument("--outputs", type=Path, help="saved `pulumi stack output --json` (- for stdin)")
    where.add_argument("--sandbox", type=Path, help="the JSON line tools.sandbox printed (- for stdin)")
    args = parser.parse_args(argv)
    try:
        target = load_target(stack=args.stack, outputs=args.outputs, sandbox=args.sandbox)
    except (MaintenanceError, OSError, ValueError, KeyError) as err:
        print(f"maintenance: cannot find what to flush: {err}", file=sys.stderr)
        return 2
    try:
        print(flush_cache(target))
    except MaintenanceError as err:
        print(f"maintenance: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
