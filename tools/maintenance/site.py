"""Running commands beside the edge and beside a registry, wherever a target has them.

The sandbox runs its processes on this host; the local stack runs them in containers, reached
with `docker exec`. Both edges are an nginx master whose workers read the freeze flag, and both
registries carry the `garbage-collect` command of the image (or Debian package) they serve from.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from components.renderers.gc import GC_TIMEOUT_SECONDS
from tools.maintenance.cache import flush_cache
from tools.maintenance.freeze import DRAIN_TIMEOUT_SECONDS, WriteFreeze, lift, stale_owner
from tools.maintenance.target import MaintenanceError

Run = Callable[..., subprocess.CompletedProcess[str]]
COMMAND_TIMEOUT_SECONDS = 60.0

# the nginx worker processes of one master: /proc/<pid>/stat's 4th field is the parent pid
# (proc(5)); the master's own name is "(nginx)", without spaces, so the fields split cleanly
_WORKERS = (
    'for d in /proc/[0-9]*; do {{ read -r line < "$d/stat"; }} 2>/dev/null || continue; '
    'set -- $line; [ "$4" = "{master}" ] && echo "${{d#/proc/}}"; done; true'
)


class MaintenanceSite(Protocol):
    """What gc and retention need of a target: its storage, its collector, its freeze and its cache."""

    def storage(self) -> dict[str, Any]: ...
    def garbage_collect(self, *, dry_run: bool) -> str: ...
    def write_freeze(self, target: Mapping[str, Any], drain_timeout: float | None) -> Any: ...
    def lift_owned(self, owner: int) -> bool: ...
    def lift_stale(self) -> bool: ...
    def flush(self, target: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class Site:
    """One target's edge and one of its registries (all share the storage GC reads)."""

    edge_prefix: tuple[str, ...]  # () on this host, ("docker", "exec", NAME) for a container
    registry_prefix: tuple[str, ...]
    edge_master_pid: int  # 1 in the edge container: the image execs nginx as PID 1
    freeze_flag: str
    registry_binary: str  # `registry` in the image, Debian's `docker-registry` on the sandbox
    registry_config: str
    object_store_endpoint: str | None = None  # where this host reaches the S3 API, if not the config's
    run: Run = field(default=subprocess.run, compare=False)

    def edge(self, script: str) -> str:
        """Run a shell script beside the edge; its standard output."""
        return self._check([*self.edge_prefix, "sh", "-c", script], COMMAND_TIMEOUT_SECONDS).stdout

    def edge_workers(self) -> set[int]:
        return {int(pid) for pid in self.edge(_WORKERS.format(master=self.edge_master_pid)).split()}

    def reload_edge(self) -> None:
        """SIGHUP: nginx starts new workers; the old ones finish their requests, then exit."""
        self.edge(f"kill -HUP {self.edge_master_pid}")

    def storage(self) -> dict[str, Any]:
        """The registry's `storage.s3` settings, as its rendered config has them."""
        text = self._check([*self.registry_prefix, "cat", self.registry_config], COMMAND_TIMEOUT_SECONDS).stdout
        s3 = dict((yaml.safe_load(text).get("storage") or {}).get("s3") or {})
        if not s3:
            raise MaintenanceError(f"{self.registry_config} has no storage.s3 section: GC accounting needs S3")
        if self.object_store_endpoint:
            s3["regionendpoint"] = self.object_store_endpoint
        return s3

    def garbage_collect(self, *, dry_run: bool) -> str:
        """distribution's mark and sweep with the registry's own config. Never --delete-untagged:
        on 2.8 it deletes the children of tagged multi-arch indexes (distribution#3178);
        untagged manifests are `retention`'s to delete, by age. Flags as registry/root.go (GCCmd)
        defines them in 2.8 and 3.x."""
        command = [*self.registry_prefix, self.registry_binary, "garbage-collect", self.registry_config]
        done = self._check([*command, *(["--dry-run"] if dry_run else [])], GC_TIMEOUT_SECONDS)
        return done.stdout + done.stderr

    def write_freeze(self, target: Mapping[str, Any], drain_timeout: float | None) -> Any:
        return WriteFreeze(self, target, DRAIN_TIMEOUT_SECONDS if drain_timeout is None else drain_timeout)

    def lift_owned(self, owner: int) -> bool:
        return lift(self, owner=owner)

    def lift_stale(self) -> bool:
        """Lift a freeze whose owner died; True if there was one."""
        return stale_owner(self) is not None and lift(self)

    def flush(self, target: Mapping[str, Any]) -> str:
        return flush_cache(target, run=self.run)

    def _check(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        done = self.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-2000:]  # the end: GC logs every blob before failing
            raise MaintenanceError(f"`{shlex.join(command)[:200]}` failed (status {done.returncode}): {output}")
        return done


def site_of(target: Mapping[str, Any], run: Run = subprocess.run) -> MaintenanceSite:
    """Where a `maintenance` description's target acts: its edge, or on aws its load balancer (alb.py)."""
    if target["target"] == "aws":
        from tools.maintenance.alb import AwsSite  # boto3 and the ALB rules only for aws: no cycle

        return AwsSite(target)
    return edge_site(target, run)


def edge_site(target: Mapping[str, Any], run: Run = subprocess.run) -> Site:
    """The edge and first registry of the sandbox or a local stack."""
    kind = target["target"]
    if kind == "sandbox":
        return Site(
            edge_prefix=(),
            registry_prefix=(),
            edge_master_pid=int(target["edgePid"]),
            freeze_flag=str(target["freezeFlag"]),
            registry_binary=str(target["registryBinary"]),
            registry_config=str(target["registryConfig"]),
            run=run,
        )
    if kind == "local":
        return Site(
            edge_prefix=("docker", "exec", str(target["edgeContainer"])),
            registry_prefix=("docker", "exec", str(target["registryContainer"])),
            edge_master_pid=1,
            freeze_flag=str(target["freezeFlag"]),
            registry_binary="registry",
            registry_config=str(target["registryConfig"]),
            object_store_endpoint=str(target["objectStoreEndpoint"]),
            run=run,
        )
    raise MaintenanceError(f"gc and retention do not run on target {kind}: it is not a self-hosted registry")
