"""One screen of what a self-hosted registry is doing.

    python -m tools.status (--stack NAME | --outputs FILE | --sandbox FILE) [--sample SECONDS]

Read as an admin through the edge's metrics listener (registry:metricsPort, local): which
registry instances answer, the edge's requests per second (nginx's counter, sampled twice), the
registries' 5xx share and blob-descriptor cache hit ratio (their Prometheus metrics), webhook
events still queued; from the bucket: blobs, bytes, tags and repositories; and the last gc,
retention, backup and restore that `tools.maintenance` ran, with what each reported. The admin's
password comes from the stack (`pulumi stack output --show-secrets`), the sandbox's JSON line, or
REGISTRY_USERNAME and REGISTRY_PASSWORD.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tools.maintenance.site import site_of
from tools.maintenance.storage import RegistryStore
from tools.maintenance.target import MaintenanceError, load_target, read_input, stack_outputs, tls_context

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$")
STUB_REQUESTS = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s*$", re.M)  # accepts handled requests
OPERATIONS = ("gc", "retention", "backup", "restore")


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format samples: (name, labels, value)."""
    samples = []
    for line in text.splitlines():
        match = SAMPLE.match(line.strip())
        if match and not line.startswith("#"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def total(samples: list[tuple[str, dict[str, str], float]], name: str, **where: str) -> float:
    return sum(
        v for n, labels, v in samples if n == name and all(re.fullmatch(p, labels.get(k, "")) for k, p in where.items())
    )


@dataclass
class Status:
    instances: int
    answering: int
    requests_per_second: float | None
    active_connections: int | None
    requests: float
    server_errors: float
    cache_hits: float
    cache_lookups: float
    pending_events: float
    blobs: int
    blob_bytes: int
    tags: int
    repositories: int
    runs: dict[str, dict[str, Any] | None] = field(default_factory=dict)


def read_status(metrics: httpx.Client, store: RegistryStore, instances: int, sample: float) -> Status:
    """Sample the edge twice `sample` seconds apart; read each registry's metrics and the bucket."""
    first, at = _edge_requests(metrics), time.monotonic()
    samples, answering = [], 0
    for index in range(instances):
        response = metrics.get(f"/metrics/registry/{index}")
        if response.status_code == 200:
            answering += 1
            samples += parse_metrics(response.text)
    time.sleep(max(0.0, sample - (time.monotonic() - at)))
    second = _edge_requests(metrics)
    rate = (second[1] - first[1]) / (time.monotonic() - at) if first and second else None
    tags = store.tag_names()
    sizes = store.blob_sizes()
    return Status(
        instances=instances,
        answering=answering,
        requests_per_second=rate,
        active_connections=second[0] if second else None,
        requests=total(samples, "registry_http_requests_total"),
        server_errors=total(samples, "registry_http_requests_total", code=r"5\d\d"),
        cache_hits=total(samples, "registry_storage_cache_hits_total"),
        cache_lookups=total(samples, "registry_storage_cache_requests_total"),
        pending_events=total(samples, "registry_notifications_pending"),
        blobs=len(sizes),
        blob_bytes=sum(sizes.values()),
        tags=len(tags),
        repositories=len({repository for repository, _ in tags}),
        runs={operation: store.last_run(operation) for operation in OPERATIONS},
    )


def _edge_requests(metrics: httpx.Client) -> tuple[int, int] | None:
    """(active connections, requests handled since nginx started) from stub_status."""
    response = metrics.get("/metrics/edge")
    if response.status_code != 200:
        return None
    active = re.search(r"Active connections:\s*(\d+)", response.text)
    counters = STUB_REQUESTS.search(response.text)
    if not active or not counters:
        return None
    return int(active.group(1)), int(counters.group(3))


def render(status: Status, *, name: str, url: str, now: datetime.datetime) -> str:
    """The screen."""
    rate = "unknown" if status.requests_per_second is None else f"{status.requests_per_second:.1f} requests/s"
    active = "" if status.active_connections is None else f", {status.active_connections} connections open"
    lines = [
        f"registry {name} ({url}) at {now:%Y-%m-%d %H:%M:%S} UTC",
        f"  instances       {status.answering} of {status.instances} registries answer",
        f"  edge            {rate}{active}",
        f"  errors          {_share(status.server_errors, status.requests)} 5xx of {status.requests:,.0f} "
        "registry requests since they started",
        f"  cache           {_share(status.cache_hits, status.cache_lookups)} hits of {status.cache_lookups:,.0f} lookups",
        f"  webhooks        {status.pending_events:,.0f} events queued",
        f"  store           {status.blobs:,} blobs, {_size(status.blob_bytes)}; "
        f"{status.tags:,} tags in {status.repositories:,} repositories",
    ]
    for operation, run in status.runs.items():
        last = "never" if run is None else f"{run['at']}: {(run.get('report') or ['(no report)'])[0]}"
        lines.append(f"  last {operation:<11}{last}"[:160])
    return "\n".join(lines)


def _share(part: float, whole: float) -> str:
    return "n/a" if not whole else f"{100 * part / whole:.1f} %"


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1024
    return f"{count:.1f} GiB"


def admin_login(args: argparse.Namespace) -> tuple[str, str]:
    """An admin's name and password: the environment, the sandbox's line, or the stack's outputs."""
    user, password = os.environ.get("REGISTRY_USERNAME"), os.environ.get("REGISTRY_PASSWORD")
    if user and password:
        return user, password
    data: Mapping[str, Any] = {}
    if args.sandbox is not None:
        line = json.loads(read_input(args.sandbox))
        data = {"users": line["users"], "passwords": {u["name"]: u["password"] for u in line["users"]}}
    elif args.stack is not None:
        data = stack_outputs(args.stack, show_secrets=True)
    admins = [u["name"] for u in data.get("users", []) if u.get("access") == "admin"]
    if not admins or admins[0] not in data.get("passwords", {}):
        raise MaintenanceError("status reads the metrics as an admin: set REGISTRY_USERNAME and REGISTRY_PASSWORD")
    return admins[0], str(data["passwords"][admins[0]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.status", description=(__doc__ or "").split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed local stack (reads its outputs with the Pulumi CLI)")
    where.add_argument("--outputs", type=Path, help="saved `pulumi stack output --json`")
    where.add_argument("--sandbox", type=Path, help="the JSON line testbench.sandbox printed")
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between the edge's two samples")
    args = parser.parse_args(argv)
    try:
        target = load_target(stack=args.stack, outputs=args.outputs, sandbox=args.sandbox)
        if "metricsUrl" not in target:
            raise MaintenanceError(f"target {target['target']} has no metrics listener (local and the sandbox do)")
        store = RegistryStore(site_of(target).storage())
        verify = tls_context(target) if target.get("caCertificate") else _sandbox_trust(args)
        with httpx.Client(base_url=target["metricsUrl"], auth=admin_login(args), verify=verify, timeout=30) as client:
            status = read_status(client, store, int(target.get("instances", 1)), args.sample)
    except (MaintenanceError, httpx.HTTPError, OSError, KeyError) as err:
        print(f"status: {err}", file=sys.stderr)
        return 1
    name = args.stack or ("sandbox" if args.sandbox else "stack")
    print(render(status, name=name, url=str(target.get("registryUrl")), now=datetime.datetime.now(datetime.UTC)))
    return 0


def _sandbox_trust(args: argparse.Namespace) -> Any:
    import ssl

    line = json.loads(read_input(args.sandbox)) if args.sandbox is not None else {}
    return ssl.create_default_context(cafile=line["ca_file"]) if "ca_file" in line else True


if __name__ == "__main__":
    sys.exit(main())
