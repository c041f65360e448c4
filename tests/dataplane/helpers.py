"""Clients and addresses of a running sandbox, shared by the data-plane tests."""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Mapping

import httpx
import pytest

from testbench.sandbox import Sandbox, SandboxUser, local_settings
from tests.conftest import ROOT

MAINTENANCE_TIMEOUT_SECONDS = 600
DEFAULT_VERSION = local_settings().version  # what the local stack renders
# in a module's `pytestmark`: its tests run on the default version and again on distribution 2.8
both_versions = pytest.mark.parametrize(
    "registry_version", sorted({DEFAULT_VERSION, "2"}, reverse=True), indirect=True, scope="session"
)


def edge_client(sandbox: Sandbox, user: SandboxUser | None) -> httpx.Client:
    """A client of the edge that verifies its certificate against the sandbox CA."""
    auth = (user.name, user.password) if user else None
    return httpx.Client(
        base_url=sandbox.url, verify=ssl.create_default_context(cafile=sandbox.ca_file), auth=auth, timeout=60
    )


def registry_client(sandbox: Sandbox, index: int) -> httpx.Client:
    """A client of one registry instance directly (plain HTTP, no auth)."""
    return httpx.Client(base_url=sandbox.registry_urls[index], timeout=60)


def edge_host(sandbox: Sandbox) -> str:
    return sandbox.url.removeprefix("https://")


def registry_host(sandbox: Sandbox, index: int) -> str:
    return sandbox.registry_urls[index].removeprefix("http://")


def maintenance_command(*args: str) -> list[str]:
    """`python -m tools.maintenance ARGS`, as a user runs it."""
    return [sys.executable, "-m", "tools.maintenance", *args]


def maintenance(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = MAINTENANCE_TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run tools.maintenance from the project root; its status and output, whatever they are."""
    return subprocess.run(
        maintenance_command(*args),
        cwd=ROOT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
