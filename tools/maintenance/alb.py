"""gc and retention on aws: writes frozen at the load balancer, garbage-collect as an ECS task.

Why the ALB and not the edges: every request of every task crosses the one HTTPS listener, and a
listener rule is a single object. Creating the rule freezes every task at once, tasks that
autoscaling starts during the freeze included; deleting it is one call. The edges run in N tasks
on read-only root filesystems, which nothing outside a task can reach.

What an ALB cannot do, and what we do instead:
- A fixed response has a status, a content type and a body, but no headers, so there is no
  `Retry-After`. Clients get 503 with distribution's `UNAVAILABLE` code, and CI retries the push.
- It cannot say when the requests it already forwarded have finished. So the drain is a fixed
  wait after the rule is seen to answer. What must drain is a manifest PUT that was already
  forwarded (at most 4 MiB, distribution's limit), not a blob upload: a blob that lands after
  the mark is swept, and the manifest that needs it is refused (frozen) or fails with
  MANIFEST_BLOB_UNKNOWN. It is never acknowledged.

A rule allows at most 3 values per condition and 5 per rule (ELB guide, "Listener rules"), so
the four write methods take two rules. Both carry a tag naming their owner: this tool's host and
pid (with an expiry), or the scheduled state machine's execution (components/aws/maintenance.py).
The watchdog lifts a freeze whose owner died; the next run lifts a freeze whose owner is gone (a
dead process of this host, an execution no longer running) or whose expiry has passed.
"""

from __future__ import annotations

import datetime
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from components.renderers.gc import (
    ALB_DRAIN_SECONDS,
    FREEZE_PRIORITIES,
    FREEZE_TAG,
    FROZEN_BODY,
    GC_CONTAINER,
    GC_DRY_RUN_ENV,
    GC_TIMEOUT_SECONDS,
    WRITE_METHODS,
    freeze_rule,
    gc_log_stream,
)
from tools.maintenance.cache import flush_cache, run_task
from tools.maintenance.freeze import Freeze, alive
from tools.maintenance.target import MaintenanceError, tls_context

FROZEN_PROBES = 5  # consecutive 503s, each on a new connection (the ALB has a node per zone)
PROBE_TIMEOUT_SECONDS = 120.0

Probe = Callable[[], tuple[int, str]]  # one unauthenticated write: (status, body)


def owner_token(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}"


def freeze_rules(owner: str, expires: datetime.datetime) -> list[dict[str, Any]]:
    """CreateRule requests (less the listener) that refuse every write under /v2/: the state
    machine's rules (components/aws/maintenance.py), owned by this process until `expires`."""
    tags = [
        {"Key": "owner", "Value": owner},
        {"Key": "expires", "Value": expires.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    ]
    return [freeze_rule(p, m, tags) for p, m in zip(FREEZE_PRIORITIES, WRITE_METHODS, strict=True)]


class AwsSite:
    """The aws target's maintenance: its listener, its gc and cache-flush tasks, its bucket."""

    def __init__(
        self, target: Mapping[str, Any], *, clients: Mapping[str, Any] | None = None, probe: Probe | None = None
    ):
        self.target = target
        self._clients = dict(clients or {})
        self._probe = probe

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3  # only the aws target needs AWS credentials

            self._clients[service] = boto3.client(service, region_name=self.target["region"])
        return self._clients[service]

    def storage(self) -> dict[str, Any]:
        """The S3 settings tools.maintenance reads the bucket with (the caller's own credentials)."""
        return {
            "bucket": self.target["bucket"],
            "region": self.target["region"],
            "rootdirectory": self.target["rootDirectory"],
        }

    def garbage_collect(self, *, dry_run: bool) -> str:
        """Run the gc task to the end; its log (what garbage-collect printed)."""
        dry = {"name": GC_CONTAINER, "environment": [{"name": GC_DRY_RUN_ENV, "value": "1"}]}
        arn = run_task(
            self.client("ecs"),
            self.target,
            str(self.target["gcTask"]),
            container=GC_CONTAINER,
            timeout=GC_TIMEOUT_SECONDS,
            **({"overrides": {"containerOverrides": [dry]}} if dry_run else {}),
        )
        return self._log(gc_log_stream(arn.rsplit("/", 1)[-1]))

    def flush(self, target: Mapping[str, Any]) -> str:
        return flush_cache(target, ecs=self.client("ecs"))

    def write_freeze(self, target: Mapping[str, Any], drain_timeout: float | None) -> AlbFreeze:
        return AlbFreeze(self, target, ALB_DRAIN_SECONDS if drain_timeout is None else drain_timeout)

    # ---- the freeze rules
    def freeze(self, owner: int) -> None:
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=GC_TIMEOUT_SECONDS + 3600)
        elbv2 = self.client("elbv2")
        for request in freeze_rules(owner_token(owner), expires):
            try:
                elbv2.create_rule(ListenerArn=self.target["listener"], **request)
            except elbv2.exceptions.PriorityInUseException:
                raise MaintenanceError(
                    f"listener rule priority {request['Priority']} is taken by a rule that is not a freeze: "
                    f"the write freeze needs priorities {FREEZE_PRIORITIES}; move that rule"
                ) from None

    def frozen_rules(self) -> dict[str, dict[str, str]]:
        """Our freeze rules on the listener: rule ARN -> its tags."""
        elbv2 = self.client("elbv2")
        arns = [
            r["RuleArn"]
            for r in elbv2.describe_rules(ListenerArn=self.target["listener"])["Rules"]
            if not r["IsDefault"]
        ]
        found = {}
        for i in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
            for description in elbv2.describe_tags(ResourceArns=arns[i : i + 20])["TagDescriptions"]:
                tags = {t["Key"]: t["Value"] for t in description.get("Tags", [])}
                if tags.get(FREEZE_TAG) == "write-freeze":
                    found[description["ResourceArn"]] = tags
        return found

    def lift_owned(self, owner: int) -> bool:
        token = owner_token(owner)
        return self._delete([arn for arn, tags in self.frozen_rules().items() if tags.get("owner") == token])

    def lift_stale(self) -> bool:
        """Lift freezes past their expiry or left by a dead process of this host; refuse to run
        beside a live one (another gc is under way)."""
        rules = self.frozen_rules()
        now = datetime.datetime.now(datetime.UTC)
        stale: list[tuple[str, dict[str, str]]] = []
        live: list[tuple[str, dict[str, str]]] = []
        for arn, tags in rules.items():
            owner = tags.get("owner", "")
            if owner.startswith("arn:aws:states:"):
                running = self.client("stepfunctions").describe_execution(executionArn=owner)["status"] == "RUNNING"
                (live if running else stale).append((arn, tags))
                continue
            host, _, pid = owner.rpartition(":")
            expires = _parse_time(tags.get("expires", ""))
            dead = host == socket.gethostname() and not (pid.isdigit() and alive(int(pid)))
            (stale if dead or expires is None or expires < now else live).append((arn, tags))
        if live:
            _, tags = live[0]
            until = f", until {tags['expires']}" if "expires" in tags else ""
            raise MaintenanceError(
                f"writes are frozen by another gc ({tags.get('owner')}{until}): wait for it; "
                f"if it died, delete the listener rules tagged {FREEZE_TAG} (aws elbv2 delete-rule)"
            )
        return self._delete([arn for arn, _ in stale])

    def wait_until_refused(self, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        """Until the ALB answers FROZEN_PROBES writes in a row with the freeze's 503."""
        probe = self._probe or self._probe_write
        deadline, seen = time.monotonic() + timeout, 0
        while seen < FROZEN_PROBES:
            status, body = probe()
            seen = seen + 1 if status == 503 and body.strip() == FROZEN_BODY else 0
            if seen < FROZEN_PROBES:
                if time.monotonic() > deadline:
                    raise MaintenanceError(
                        f"the load balancer still forwards writes {timeout:.0f}s after the freeze rules were "
                        f"created (last answer {status}); nothing was collected"
                    )
                time.sleep(0.5)

    def _probe_write(self) -> tuple[int, str]:
        import httpx

        url = f"{self.target['registryUrl']}/v2/maintenance-probe/blobs/uploads/"
        try:
            answer = httpx.post(url, verify=tls_context(self.target), timeout=10.0)  # a new connection each time
        except httpx.HTTPError as err:
            return 0, str(err)
        return answer.status_code, answer.text

    def _delete(self, arns: list[str]) -> bool:
        for arn in arns:
            self.client("elbv2").delete_rule(RuleArn=arn)
        return bool(arns)

    def _log(self, stream: str) -> str:
        logs, token, lines = self.client("logs"), None, []
        while True:
            page = logs.get_log_events(
                logGroupName=self.target["logGroup"],
                logStreamName=stream,
                startFromHead=True,
                **({"nextToken": token} if token else {}),
            )
            lines += [event["message"] for event in page["events"]]
            if not page["events"] or page.get("nextForwardToken") == token:
                return "\n".join(lines)
            token = page["nextForwardToken"]


class AlbFreeze(Freeze):
    """Two listener rules, seen to answer, then a fixed wait for writes already forwarded."""

    site: AwsSite

    def _set(self, owner: int) -> None:
        self.site.freeze(owner)
        self.site.wait_until_refused()

    def _drain(self) -> None:
        time.sleep(self.drain_timeout)


def _parse_time(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return None
