"""Where maintenance acts: a stack's `maintenance` output, or the sandbox's JSON line."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class MaintenanceError(RuntimeError):
    """The operation could not run; the message says what to fix."""


def load_target(*, stack: str | None, outputs: Path | None, sandbox: Path | None) -> dict[str, Any]:
    """The `maintenance` description of the stack (or the sandbox) to act on."""
    if sandbox is not None:
        line = json.loads(read_input(sandbox))
        return dict(line["maintenance"])
    data = json.loads(read_input(outputs)) if outputs is not None else stack_outputs(str(stack))
    target = data.get("maintenance", data)
    if not isinstance(target, dict) or target.get("target") not in ("local", "aws"):
        raise MaintenanceError("no `maintenance` output found: deploy the stack with this version first (pulumi up)")
    return target


def stack_outputs(stack: str, *, show_secrets: bool = False) -> dict[str, Any]:
    """`pulumi stack output --json` of a deployed stack."""
    if shutil.which("pulumi") is None:
        raise MaintenanceError("the Pulumi CLI is not on PATH; save `pulumi stack output --json` and pass --outputs")
    command = ["pulumi", "stack", "output", "--json", "--stack", stack, *(["--show-secrets"] if show_secrets else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise MaintenanceError(f"pulumi stack output --stack {stack} failed: {done.stderr.strip()}")
    outputs: dict[str, Any] = json.loads(done.stdout)
    return outputs


def tls_context(target: Mapping[str, Any]) -> ssl.SSLContext:
    """Trust for the registry's URL: the stack's own CA when it made one, else the system's (acm)."""
    ca = target.get("caCertificate")
    return ssl.create_default_context(cadata=str(ca)) if ca else ssl.create_default_context()


def read_input(path: Path) -> str:
    return sys.stdin.read() if str(path) == "-" else path.read_text()
