"""The write freeze: writes answered 503 + Retry-After at the edge while reads keep working.

Why at the edge: every write of every instance passes it (on local and in the sandbox the
registries have no other published port), so one flag file stops them all at once, and nginx
can say when the writes that were already under way have finished: after the flag exists a
SIGHUP starts new workers (which refuse writes) and lets the old ones finish their requests and
exit. When no old worker is left, no write that started before the freeze is still running, so
garbage collection's mark phase sees every manifest a push was told was stored (the race of
distribution#3045 cannot happen).

A freeze must never outlive its owner: a detached watchdog lifts it when the process that set
it dies (even by SIGKILL), and the next `gc` lifts a freeze whose owner is gone.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

from tools.maintenance.target import MaintenanceError

DRAIN_TIMEOUT_SECONDS = 300.0  # a pull of a large layer holds an old worker this long at most


class Edge(Protocol):
    """What the freeze needs of an edge (tools/maintenance/site.py Site): commands beside nginx."""

    @property
    def freeze_flag(self) -> str: ...

    def edge(self, script: str) -> str: ...
    def edge_workers(self) -> set[int]: ...
    def reload_edge(self) -> None: ...
    def lift_owned(self, owner: int) -> bool: ...


class Freeze:
    """`with <Freeze>(site, target):` writes are refused inside, and in-flight ones have drained.

    The shape every target shares: a watchdog first, then the freeze, then the drain; on the way
    out (also on error or signal) the freeze this process set is lifted and the watchdog stopped.
    Subclasses say how a target refuses writes (`_set`), how it drains (`_drain`) and how a
    freeze is lifted (`lift_owned`)."""

    def __init__(self, site: Any, target: Mapping[str, Any], drain_timeout: float):
        self.site, self.target, self.drain_timeout = site, target, drain_timeout
        self.seconds = 0.0  # how long writes were refused
        self.drain_seconds = 0.0
        self._started = 0.0
        self._watchdog: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Freeze:
        self._prepare()
        self._started = time.monotonic()
        # the watchdog first: killed right after setting the freeze, we still leave a guard behind
        self._watchdog = start_watchdog(self.target, os.getpid())
        try:
            self._set(os.getpid())
            self._drain()
            self.drain_seconds = time.monotonic() - self._started
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.site.lift_owned(os.getpid())
        self.seconds = time.monotonic() - self._started
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait(timeout=10)

    def _prepare(self) -> None:
        """What must be read before writes stop."""

    def _set(self, owner: int) -> None:
        raise NotImplementedError

    def _drain(self) -> None:
        raise NotImplementedError


class WriteFreeze(Freeze):
    """The edge's flag file (local, sandbox), drained by nginx's own graceful reload."""

    site: Edge

    def __init__(self, site: Edge, target: Mapping[str, Any], drain_timeout: float = DRAIN_TIMEOUT_SECONDS):
        super().__init__(site, target, drain_timeout)
        self._old_workers: set[int] = set()

    def _prepare(self) -> None:
        self._old_workers = self.site.edge_workers()

    def _set(self, owner: int) -> None:
        flag = shlex.quote(self.site.freeze_flag)
        self.site.edge(f'mkdir -p "$(dirname {flag})" && echo {owner} > {flag}')
        self.site.reload_edge()

    def _drain(self) -> None:
        deadline = time.monotonic() + self.drain_timeout
        while self._old_workers & self.site.edge_workers():
            if time.monotonic() > deadline:
                raise MaintenanceError(
                    f"requests that started before the freeze still run after {self.drain_timeout:.0f}s "
                    "(a long pull or push); writes are open again, nothing was collected: retry later "
                    "or raise --drain-timeout"
                )
            time.sleep(0.1)


def lift(site: Edge, *, owner: int | None = None) -> bool:
    """Remove the flag (only `owner`'s, when given); True when a freeze was lifted."""
    flag = shlex.quote(site.freeze_flag)
    check = f'[ "$(cat {flag})" = "{owner}" ] && ' if owner is not None else ""
    return site.edge(f"if [ -f {flag} ]; then {check}rm -f {flag} && echo lifted; fi; true").strip() == "lifted"


def stale_owner(site: Edge) -> int | None:
    """The pid recorded in a freeze flag whose process no longer runs on this host, if any."""
    flag = shlex.quote(site.freeze_flag)
    text = site.edge(f"cat {flag} 2>/dev/null; true").strip()
    if not text:
        return None
    owner = int(text) if text.isdigit() else -1
    return None if owner > 0 and alive(owner) else owner


def start_watchdog(target: Mapping[str, Any], owner: int) -> subprocess.Popen[bytes]:
    """A process in its own session (a signal to our process group does not reach it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tools.maintenance.watchdog", json.dumps(dict(target)), str(owner)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed, not yet reaped by its parent) has exited too
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
